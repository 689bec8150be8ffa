//! The issuer example (`examples/issuer`) on 127.0.0.1, against SoftHSM: its JWKS and tokens,
//! fetched with a real HTTP client (hyper's HTTP/1 client), verify with jose-core alone; keys
//! rotate without a restart; a burst of concurrent requests is served; an HSM that is saturated
//! answers 503 with Retry-After.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use hsm_jose::jose_core::jwk::EcCurve;
use hsm_jose::jose_core::jwt::Validation;
use hsm_jose::jose_core::{
    ContentEncryption, JwkSet, JwsAlgorithm, KeyManagementAlgorithm, KeySet, SoftwareKey, base64url,
};
use hsm_jose::service::AsyncHsm;
use hsm_jose_issuer::{Config, Issuer, SigningKey, serve};
use hsm_jose_tests::fixture::TokenFixture;
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

const ADMIN: &str = "admin-secret-for-tests";
const ISS: &str = "https://issuer.example";

/// Starts the issuer on 127.0.0.1, port 0, signing with `label`; returns its address.
async fn start(hsm: AsyncHsm, label: &str, alg: JwsAlgorithm) -> (SocketAddr, Arc<Issuer>) {
    let config = Config {
        issuer: ISS.into(),
        default_audience: Some("default-api".into()),
        admin_token: Some(ADMIN.into()),
        ..Config::default()
    };
    let issuer = Issuer::start(hsm, config, SigningKey::new(label, alg))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, Arc::clone(&issuer), std::future::pending()));
    (addr, issuer)
}

/// One HTTP/1.1 request on a fresh connection: status, headers we look at, and the body.
async fn http(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<Value>,
    bearer: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let response = sender
        .send_request(request.body(Full::new(Bytes::from(bytes))).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
    };
    (status, retry_after, value)
}

/// The published keys, as jose-core software keys.
async fn fetch_jwks(addr: SocketAddr) -> KeySet {
    let (status, _, jwks) = http(addr, Method::GET, "/.well-known/jwks.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    KeySet::from_jwk_set(&JwkSet::from_value(&jwks).unwrap()).unwrap()
}

async fn issue(addr: SocketAddr, request: Value) -> Value {
    let (status, _, body) = http(addr, Method::POST, "/token", Some(request), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn header_kid(jws: &str) -> String {
    let header = base64url::decode("header", jws.split('.').next().unwrap()).unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_and_tokens_verify_with_jose_core_alone() {
    let pool = token().pool();
    let (addr, _issuer) = start(
        AsyncHsm::new(&pool).unwrap(),
        "ec-p256",
        JwsAlgorithm::ES256,
    )
    .await;

    let keys = fetch_jwks(addr).await;
    assert_eq!(keys.len(), 1);

    let body = issue(
        addr,
        json!({"sub": "alice", "aud": "api", "claims": {"scope": "read"}}),
    )
    .await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["kid"], "ec-p256");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(header_kid(token), "ec-p256");
    let jwt = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256])
        .issuer(ISS)
        .audience("api")
        .verify_with(token, &keys)
        .unwrap();
    assert_eq!(jwt.claims().sub(), Some("alice"));
    assert_eq!(jwt.claims().get("scope"), Some(&json!("read")));
    assert_eq!(
        jwt.claims().exp().unwrap() - jwt.claims().iat().unwrap(),
        300
    );

    // Encrypted to the client's public key: a nested JWT the client opens with its private key.
    let client = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("client-enc");
    let public = client.jwk().to_public_value().unwrap();
    let body = issue(addr, json!({"sub": "bob", "encrypt_to": public})).await;
    assert_eq!(body["encrypted"], true);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 5, "a compact JWE");
    let mut own = KeySet::new();
    own.push(client).unwrap();
    let jwt = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256])
        .jwe_algorithms(
            &[KeyManagementAlgorithm::EcdhEsA256KW],
            &[ContentEncryption::A256Gcm],
        )
        .issuer(ISS)
        .audience("default-api")
        .decrypt_and_verify_with(token, &own, &keys)
        .unwrap();
    assert_eq!(jwt.claims().sub(), Some("bob"));

    // Malformed requests are 400 invalid_request, without a token call.
    for bad in [
        json!({"aud": "api"}),
        json!({"sub": "eve", "claims": {"iss": "https://evil.example"}}),
        json!({"sub": "eve", "encrypt_to": SoftwareKey::generate_ec(EcCurve::P256).unwrap().jwk().to_private_json().as_str()}),
        json!({"sub": "eve", "encrypt_to": {"kty": "oct", "k": "AAAA"}}),
        json!(["sub"]),
    ] {
        let (status, _, body) = http(addr, Method::POST, "/token", Some(bad.clone()), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_without_a_restart() {
    let pool = token().pool();
    let (addr, issuer) = start(
        AsyncHsm::new(&pool).unwrap(),
        "ec-p256",
        JwsAlgorithm::ES256,
    )
    .await;
    let before = issue(addr, json!({"sub": "alice"})).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotate = json!({"label": "rsa-2048", "kid": "rsa-2026", "alg": "RS256"});
    let (status, _, _) = http(
        addr,
        Method::POST,
        "/admin/rotate",
        Some(rotate.clone()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = http(
        addr,
        Method::POST,
        "/admin/rotate",
        Some(rotate.clone()),
        Some("wrong"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(issuer.current().kid, "ec-p256");

    let (status, _, body) = http(
        addr,
        Method::POST,
        "/admin/rotate",
        Some(rotate),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["current_kid"], "rsa-2026");

    let keys = fetch_jwks(addr).await;
    assert_eq!(
        keys.len(),
        2,
        "the new key and the previous one are published"
    );
    let after = issue(addr, json!({"sub": "alice"})).await;
    let after = after["access_token"].as_str().unwrap();
    assert_eq!(header_kid(after), "rsa-2026");
    let validation = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256, JwsAlgorithm::RS256])
        .issuer(ISS)
        .audience("default-api");
    validation.verify_with(after, &keys).unwrap();
    // A token signed before the rotation still verifies with the new JWKS.
    validation.verify_with(&before, &keys).unwrap();

    // A key the token does not have: refused, and nothing changes.
    let missing = json!({"label": "no-such-key"});
    let (status, _, body) = http(
        addr,
        Method::POST,
        "/admin/rotate",
        Some(missing),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_key");
    // A key that cannot sign with the algorithm asked for: refused too.
    let wrong = json!({"label": "aes-256", "alg": "ES256"});
    let (status, _, _) = http(
        addr,
        Method::POST,
        "/admin/rotate",
        Some(wrong),
        Some(ADMIN),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(issuer.current().kid, "rsa-2026");
    assert_eq!(fetch_jwks(addr).await.len(), 2);

    // Rotating back, and again: at most `keep_previous` (2) retired keys stay published.
    for (label, kid, alg) in [
        ("ec-p384", "ec-384", "ES384"),
        ("ec-p521", "ec-521", "ES512"),
    ] {
        let body = json!({"label": label, "kid": kid, "alg": alg});
        let (status, _, _) =
            http(addr, Method::POST, "/admin/rotate", Some(body), Some(ADMIN)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let keys = fetch_jwks(addr).await;
    assert_eq!(keys.len(), 3);
    let token = issue(addr, json!({"sub": "carol"})).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header_kid(&token), "ec-521");
    Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES512])
        .audience("default-api")
        .verify_with(&token, &keys)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_burst_of_concurrent_requests_is_served() {
    const REQUESTS: usize = 200;
    let pool = token().builder().max_sessions(4).build().unwrap();
    let (addr, issuer) = start(
        AsyncHsm::new(&pool).unwrap(),
        "ec-p256",
        JwsAlgorithm::ES256,
    )
    .await;
    let keys = Arc::new(fetch_jwks(addr).await);

    let mut burst = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let keys = Arc::clone(&keys);
        burst.spawn(async move {
            let body = issue(addr, json!({"sub": format!("user-{i}")})).await;
            let token = body["access_token"].as_str().unwrap();
            let jwt = Validation::new()
                .jws_algorithms(&[JwsAlgorithm::ES256])
                .audience("default-api")
                .verify_with(token, &*keys)
                .unwrap();
            assert_eq!(jwt.claims().sub(), Some(format!("user-{i}").as_str()));
        });
    }
    let mut served = 0;
    while let Some(done) = burst.join_next().await {
        done.unwrap();
        served += 1;
    }
    assert_eq!(served, REQUESTS);

    let (status, _, status_body) = http(addr, Method::GET, "/status", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_body["issued"], REQUESTS as u64);
    assert_eq!(status_body["workers"], 4);
    assert_eq!(status_body["running"], 0);
    assert_eq!(status_body["waiting"], 0);
    assert_eq!(status_body["refused_busy"], 0);
    assert!(status_body["operations_finished"].as_u64().unwrap() >= REQUESTS as u64);
    assert!(pool.open_sessions() <= 4);
    assert_eq!(pool.idle_sessions(), pool.open_sessions());
    drop(issuer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_hsm_answers_503_with_retry_after() {
    let pool = token().pool();
    let hsm = AsyncHsm::builder(&pool)
        .workers(1)
        .max_waiting(0)
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let (addr, _issuer) = start(hsm.clone(), "ec-p256", JwsAlgorithm::ES256).await;

    // Another job holds the only worker for a while.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let holder = hsm.clone();
    let busy = tokio::spawn(async move {
        holder
            .run(move || {
                started_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(500));
            })
            .await
    });
    started_rx.await.unwrap();
    let (status, retry_after, body) = http(
        addr,
        Method::POST,
        "/token",
        Some(json!({"sub": "alice"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(body["error"], "temporarily_unavailable");
    let (_, _, status_body) = http(addr, Method::GET, "/status", None, None).await;
    assert_eq!(status_body["refused_busy"], 1);
    busy.await.unwrap().unwrap();

    // Once the worker is free, tokens are issued again.
    issue(addr, json!({"sub": "alice"})).await;
}
