//! The tower layer in an axum router, with keys from a local issuer on 127.0.0.1.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use axum::{Extension, Router};
use jose_core::error::{AlgorithmError, ClaimsError};
use jose_core::jwt::{self, Claims};
use jose_core::{JwsAlgorithm, SoftwareKey};
use jose_jwks::{JwksClient, JwksError, JwtAuthLayer, Rejection, VerifiedClaims};
use support::*;
use tower::ServiceExt;

#[derive(Debug, serde::Deserialize)]
struct Access {
    sub: String,
    scope: String,
}

#[derive(Debug, serde::Deserialize)]
struct NeedsRoles {
    #[allow(dead_code)]
    roles: Vec<String>,
}

async fn me(Extension(claims): Extension<VerifiedClaims<Access>>) -> String {
    format!("{} may {}", claims.sub, claims.scope)
}

fn app(client: JwksClient) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(JwtAuthLayer::<Access>::new(client, validation()).realm("api"))
}

fn request(authorization: Option<&str>) -> Request<Body> {
    let mut r = Request::get("/me");
    if let Some(a) = authorization {
        r = r.header(header::AUTHORIZATION, a);
    }
    r.body(Body::empty()).unwrap()
}

async fn call(
    app: &Router,
    authorization: Option<&str>,
) -> (StatusCode, Option<String>, Option<Rejection>, String) {
    let response = app.clone().oneshot(request(authorization)).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let rejection = response.extensions().get::<Rejection>().cloned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (
        status,
        challenge,
        rejection,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

const INVALID_TOKEN: &str = "Bearer realm=\"api\", error=\"invalid_token\"";

#[tokio::test]
async fn bearer_tokens_reach_the_handler_as_typed_claims() {
    within(20, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(serve(&[&k1], Some("max-age=600"))).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .build()
            .unwrap();
        let app = app(client);

        let (status, challenge, rejection, body) =
            call(&app, Some(&format!("Bearer {}", token(&k1, "alice")))).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice may read"));
        assert!(challenge.is_none() && rejection.is_none());
        assert_eq!(issuer.jwks_hits(), 1);
    })
    .await;
}

#[tokio::test]
async fn refusals_say_invalid_token_and_nothing_more() {
    within(20, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(serve(&[&k1], Some("max-age=600"))).await;
        let client = JwksClient::builder(issuer.jwks_url()).allow_http(true).build().unwrap();
        let app = app(client);

        // No credentials, or another scheme's: a bare challenge.
        for authorization in [None, Some("Basic dXNlcjpwdw==")] {
            let (status, challenge, rejection, body) = call(&app, authorization).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(challenge.as_deref(), Some("Bearer realm=\"api\""));
            assert!(matches!(rejection, Some(Rejection::Missing)));
            assert!(body.is_empty());
        }

        // A malformed credential.
        let (status, challenge, rejection, _) = call(&app, Some("Bearer not a token")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(challenge.as_deref(), Some("Bearer realm=\"api\", error=\"invalid_request\""));
        assert!(matches!(rejection, Some(Rejection::Malformed)));

        // A forged signature: invalid_token, no description, an opaque error.
        let good = token(&k1, "alice");
        let (head, sig) = good.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let forged = format!("{head}.{flipped}{}", &sig[1..]);
        let (status, challenge, rejection, body) = call(&app, Some(&format!("Bearer {forged}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some(INVALID_TOKEN));
        assert!(matches!(rejection, Some(Rejection::InvalidToken(jose_core::Error::Verification))), "{rejection:?}");
        assert!(body.is_empty());

        // The algorithm comes from the configuration, never from the token: an HS256 token
        // "signed" with the public key's bytes is refused before any key is used.
        let mac = SoftwareKey::generate_oct(32).unwrap().with_kid("k1");
        let hs = jwt::sign(&claims(ISSUER, "mallory"), &mac, JwsAlgorithm::HS256, None).unwrap();
        let (status, challenge, rejection, _) = call(&app, Some(&format!("Bearer {hs}"))).await;
        assert_eq!((status, challenge.as_deref()), (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN)));
        assert!(matches!(
            rejection,
            Some(Rejection::InvalidToken(jose_core::Error::Algorithm(AlgorithmError::NotAllowed(a)))) if a == "HS256"
        ));

        // Claims: expired, and for another audience.
        let expired = Claims::new().issuer(ISSUER).subject("a").audience(AUDIENCE).expires_at(now() - 3600).with("scope", "read");
        let expired = jwt::sign(&expired, &k1, JwsAlgorithm::ES256, None).unwrap();
        let (status, challenge, rejection, _) = call(&app, Some(&format!("Bearer {expired}"))).await;
        assert_eq!((status, challenge.as_deref()), (StatusCode::UNAUTHORIZED, Some(INVALID_TOKEN)));
        assert!(matches!(rejection, Some(Rejection::InvalidToken(jose_core::Error::Claims(ClaimsError::Expired)))));

        let elsewhere = Claims::new().issuer(ISSUER).subject("a").audience("https://other.test").expires_at(now() + 600).with("scope", "read");
        let elsewhere = jwt::sign(&elsewhere, &k1, JwsAlgorithm::ES256, None).unwrap();
        let (_, _, rejection, _) = call(&app, Some(&format!("Bearer {elsewhere}"))).await;
        assert!(matches!(rejection, Some(Rejection::InvalidToken(jose_core::Error::Claims(ClaimsError::Mismatch("aud"))))));

        // Claims that do not fit the handler's type.
        let strict = Router::new().route("/me", get(|| async { "unreachable" })).layer(
            JwtAuthLayer::<NeedsRoles>::new(
                JwksClient::builder(issuer.jwks_url()).allow_http(true).build().unwrap(),
                validation(),
            ),
        );
        let (status, challenge, rejection, _) = call(&strict, Some(&format!("Bearer {good}"))).await;
        assert_eq!((status, challenge.as_deref()), (StatusCode::UNAUTHORIZED, Some("Bearer error=\"invalid_token\"")));
        assert!(matches!(rejection, Some(Rejection::InvalidToken(jose_core::Error::Claims(ClaimsError::Deserialize(_))))), "{rejection:?}");
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_issuer_is_service_unavailable() {
    within(20, async {
        let client = JwksClient::builder(closed_port_url().await)
            .allow_http(true)
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let app = app(client);
        let (status, challenge, rejection, _) = call(
            &app,
            Some(&format!("Bearer {}", token(&es256("k1"), "alice"))),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(challenge.is_none());
        assert!(
            matches!(
                rejection,
                Some(Rejection::KeysUnavailable(JwksError::Connection { .. }))
            ),
            "{rejection:?}"
        );
    })
    .await;
}
