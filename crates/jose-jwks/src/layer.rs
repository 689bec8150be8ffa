//! A tower layer for gateways: verifies `Authorization: Bearer <jwt>` with a [`JwksClient`]
//! and hands the typed claims to the handler.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use jose_core::jwt::{Jwt, Validation};
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::client::JwksClient;
use crate::error::VerifyError;

/// The verified claims of the request's bearer token, as the handler's type `T`, with the
/// whole validated JWT beside them. The layer puts it in the request's extensions (with axum:
/// `Extension<VerifiedClaims<T>>`).
pub struct VerifiedClaims<T> {
    claims: Arc<T>,
    jwt: Arc<Jwt>,
}

impl<T> VerifiedClaims<T> {
    /// The claims, as the handler's type.
    pub fn claims(&self) -> &T {
        &self.claims
    }

    /// The validated JWT: every claim and the protected header.
    pub fn jwt(&self) -> &Jwt {
        &self.jwt
    }
}

impl<T> std::ops::Deref for VerifiedClaims<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.claims
    }
}

impl<T> Clone for VerifiedClaims<T> {
    fn clone(&self) -> Self {
        Self {
            claims: Arc::clone(&self.claims),
            jwt: Arc::clone(&self.jwt),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for VerifiedClaims<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedClaims")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// Why the layer refused a request. The client only sees the status and the
/// `WWW-Authenticate` challenge; the refusal response carries this value in its extensions so
/// that an outer layer can log why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization: Bearer` credentials: 401, `WWW-Authenticate: Bearer` without an
    /// error code (RFC 6750 section 3.1).
    Missing,
    /// Several `Authorization` headers, or a bearer token with characters outside RFC 6750's
    /// `b64token`: 400, `error="invalid_request"`.
    Malformed,
    /// The token did not verify or validate, or its claims do not fit the handler's type: 401,
    /// `error="invalid_token"`, with no description (no oracle).
    InvalidToken(jose_core::Error),
    /// No key set could be obtained from the issuer, so nothing can be verified: 503, with
    /// no challenge (the request may be fine).
    KeysUnavailable(crate::JwksError),
}

impl Rejection {
    /// The HTTP status the layer answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::Missing | Rejection::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Rejection::Malformed => StatusCode::BAD_REQUEST,
            Rejection::KeysUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `error` code of the challenge (RFC 6750 section 3.1), if any.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Rejection::Missing | Rejection::KeysUnavailable(_) => None,
            Rejection::Malformed => Some("invalid_request"),
            Rejection::InvalidToken(_) => Some("invalid_token"),
        }
    }

    fn response<B: Default>(self, realm: Option<&str>) -> Response<B> {
        let mut response = Response::new(B::default());
        *response.status_mut() = self.status();
        if !matches!(self, Rejection::KeysUnavailable(_)) {
            let mut challenge = String::from("Bearer");
            let mut params = Vec::new();
            if let Some(realm) = realm {
                params.push(format!("realm=\"{realm}\""));
            }
            if let Some(code) = self.error_code() {
                params.push(format!("error=\"{code}\""));
            }
            if !params.is_empty() {
                challenge.push(' ');
                challenge.push_str(&params.join(", "));
            }
            let value = HeaderValue::from_str(&challenge)
                .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// A tower [`Layer`] that verifies bearer JWTs with a [`JwksClient`] and a
/// [`Validation`], and gives the handler [`VerifiedClaims<T>`].
///
/// The allowed algorithms, issuer and audience come from the `Validation`, never from the
/// token. A request without valid credentials never reaches the inner service.
pub struct JwtAuthLayer<T> {
    client: JwksClient,
    validation: Arc<Validation>,
    realm: Option<Arc<str>>,
    claims: PhantomData<fn() -> T>,
}

impl<T> Clone for JwtAuthLayer<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            validation: Arc::clone(&self.validation),
            realm: self.realm.clone(),
            claims: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for JwtAuthLayer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthLayer")
            .field("client", &self.client)
            .field("validation", &self.validation)
            .field("realm", &self.realm)
            .finish()
    }
}

impl<T> JwtAuthLayer<T> {
    /// A layer verifying with `client`'s keys and checking `validation`.
    pub fn new(client: JwksClient, validation: Validation) -> Self {
        Self {
            client,
            validation: Arc::new(validation),
            realm: None,
            claims: PhantomData,
        }
    }

    /// The `realm` of the `WWW-Authenticate` challenge. Characters that cannot appear in a
    /// quoted header value (`"`, `\`, controls, non-ASCII) are left out.
    pub fn realm(mut self, realm: &str) -> Self {
        let clean: String = realm
            .chars()
            .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
            .collect();
        self.realm = Some(clean.into());
        self
    }
}

impl<T: DeserializeOwned> JwtAuthLayer<T> {
    /// Checks a request's headers as the layer does: the typed claims, or why not.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<VerifiedClaims<T>, Rejection> {
        let token = bearer_token(headers)?;
        let jwt = self
            .client
            .verify(token, &self.validation)
            .await
            .map_err(|e| match e {
                VerifyError::Token(e) => Rejection::InvalidToken(e),
                VerifyError::KeysUnavailable(e) => Rejection::KeysUnavailable(e),
            })?;
        let claims: T = jwt.deserialize().map_err(Rejection::InvalidToken)?;
        Ok(VerifiedClaims {
            claims: Arc::new(claims),
            jwt: Arc::new(jwt),
        })
    }
}

/// The token of the one `Authorization: Bearer` header (RFC 6750 section 2.1).
fn bearer_token(headers: &HeaderMap) -> Result<&str, Rejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            Rejection::Malformed
        } else {
            Rejection::Missing
        });
    };
    let text = value.to_str().map_err(|_| Rejection::Malformed)?;
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("Bearer") {
        // Credentials of another scheme are no bearer credentials.
        return Err(Rejection::Missing);
    }
    let token = rest.trim_start_matches(' ');
    let body = token.trim_end_matches('=');
    let b64token = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if b64token {
        Ok(token)
    } else {
        Err(Rejection::Malformed)
    }
}

impl<S, T> Layer<S> for JwtAuthLayer<T> {
    type Service = JwtAuth<S, T>;
    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`JwtAuthLayer`] wraps around the inner one.
pub struct JwtAuth<S, T> {
    inner: S,
    layer: JwtAuthLayer<T>,
}

impl<S: Clone, T> Clone for JwtAuth<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: std::fmt::Debug, T> std::fmt::Debug for JwtAuth<S, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, T, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuth<S, T>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The instance that was polled ready serves this request; a fresh clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match layer.authenticate(request.headers()).await {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(rejection) => Ok(rejection.response(layer.realm.as_deref())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_credentials() {
        assert!(matches!(
            bearer_token(&headers(&["Bearer abc.def-_~+/.g=="])),
            Ok("abc.def-_~+/.g==")
        ));
        assert!(matches!(
            bearer_token(&headers(&["bearer  x.y.z"])),
            Ok("x.y.z")
        ));
        assert!(matches!(
            bearer_token(&headers(&[])),
            Err(Rejection::Missing)
        ));
        assert!(matches!(
            bearer_token(&headers(&["Basic dXNlcjpwdw=="])),
            Err(Rejection::Missing)
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer"])),
            Err(Rejection::Malformed)
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a b"])),
            Err(Rejection::Malformed)
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a=b"])),
            Err(Rejection::Malformed)
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer ==="])),
            Err(Rejection::Malformed)
        ));
        assert!(matches!(
            bearer_token(&headers(&["Bearer a.b.c", "Bearer d.e.f"])),
            Err(Rejection::Malformed)
        ));
    }

    #[test]
    fn challenges() {
        let r: Response<()> = Rejection::Missing.response(Some("api"));
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
        let r: Response<()> =
            Rejection::InvalidToken(jose_core::Error::Verification).response(None);
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        let r: Response<()> = Rejection::Malformed.response(Some("api"));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            r.headers()[WWW_AUTHENTICATE],
            "Bearer realm=\"api\", error=\"invalid_request\""
        );
        let r: Response<()> =
            Rejection::KeysUnavailable(crate::JwksError::Tls("x".into())).response(None);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().get(WWW_AUTHENTICATE).is_none());
        assert!(matches!(
            r.extensions().get::<Rejection>(),
            Some(Rejection::KeysUnavailable(_))
        ));
    }
}
