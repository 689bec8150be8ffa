//! An OAuth-style token issuer whose signing keys live in a PKCS#11 token: the async face of
//! hsm-jose ([`AsyncHsm`]) in an axum service.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /.well-known/jwks.json` | the public JWK Set: the current signing key and the previous ones still trusted |
//! | `POST /token` | a signed JWT for `{"sub": ..., "aud"?: ..., "claims"?: {...}, "encrypt_to"?: <public JWK>}`; with `encrypt_to`, the signed JWT encrypted to that key (nested JWT) |
//! | `POST /admin/rotate` | signs from now on with another key of the token, `{"label": ..., "kid"?: ..., "alg"?: ...}`; needs `Authorization: Bearer <admin token>`; absent without an admin token |
//! | `GET /status` | the HSM workers' readings and totals (`ServiceStats`), pool sessions, the current `kid` |
//!
//! Every token call runs on the [`AsyncHsm`]'s workers; the handlers never block a runtime
//! thread. A busy or slow token answers `503 Service Unavailable` with `Retry-After`, never a
//! hung request. The key set is an immutable snapshot (an [`HsmJwkSet`] and its JWKS text),
//! replaced as a whole by a rotation: requests in flight finish with the snapshot they started
//! with, and tokens signed by a retired key verify as long as it stays published.
//!
//! This is an example: `POST /token` does not authenticate its clients, which a real issuer
//! must do before it signs anything.
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hsm_jose::jose_core::jwt::Claims;
use hsm_jose::jose_core::{
    ContentEncryption, Header, Jwk, JwsAlgorithm, KeyManagementAlgorithm, SoftwareKey, jwe, jwt,
};
use hsm_jose::service::{AsyncHsm, ServiceError};
use hsm_jose::{HsmJwk, HsmJwkSet};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

/// Requests larger than this are refused (`413`).
pub const MAX_BODY: usize = 16 * 1024;

/// Claims a client may not set: the issuer sets them.
const RESERVED_CLAIMS: &[&str] = &["iss", "sub", "aud", "iat", "nbf", "exp", "jti"];

/// The issuer's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` when the request names none.
    pub default_audience: Option<String>,
    /// Lifetime of a token (`exp - iat`).
    pub ttl: Duration,
    /// The bearer token of `/admin/*`; `None` removes the admin routes.
    pub admin_token: Option<String>,
    /// How many retired signing keys stay in the JWKS after a rotation (tokens they signed
    /// keep verifying until they expire).
    pub keep_previous: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuer: "http://127.0.0.1:8080".into(),
            default_audience: None,
            ttl: Duration::from_secs(300),
            admin_token: None,
            keep_previous: 2,
        }
    }
}

/// A token key to sign with: its label in the token, the `kid` to publish, the algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The key's `CKA_LABEL`.
    pub label: String,
    /// The `kid` published and put in token headers.
    pub kid: String,
    /// The JWS algorithm of the tokens.
    pub alg: JwsAlgorithm,
}

impl SigningKey {
    /// A key named by its label, published under the same `kid`.
    pub fn new(label: impl Into<String>, alg: JwsAlgorithm) -> Self {
        let label = label.into();
        SigningKey {
            kid: label.clone(),
            label,
            alg,
        }
    }
}

/// What requests sign with and publish: replaced whole by a rotation.
struct Snapshot {
    keys: HsmJwkSet,
    current: SigningKey,
    /// Retired keys still published, oldest first.
    previous: VecDeque<SigningKey>,
    jwks: Arc<str>,
}

/// The issuer: an [`AsyncHsm`], its settings and the current key set.
pub struct Issuer {
    hsm: AsyncHsm,
    config: Config,
    snapshot: Mutex<Arc<Snapshot>>,
    /// One rotation at a time.
    rotating: tokio::sync::Mutex<()>,
    issued: AtomicU64,
}

/// Why a token was not issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The request is malformed or asks for something the issuer does not do (`400`).
    #[error("{0}")]
    BadRequest(String),
    /// The HSM did not answer in time or is saturated (`503`).
    #[error(transparent)]
    Service(ServiceError),
}

impl From<ServiceError> for IssueError {
    fn from(e: ServiceError) -> Self {
        IssueError::Service(e)
    }
}

impl Issuer {
    /// Loads the signing key (on the HSM workers) and starts with it.
    ///
    /// # Errors
    /// The key cannot be loaded or does not serve `key.alg`.
    pub async fn start(
        hsm: AsyncHsm,
        config: Config,
        key: SigningKey,
    ) -> Result<Arc<Self>, ServiceError> {
        let snapshot = build_snapshot(&hsm, key, VecDeque::new()).await?;
        Ok(Arc::new(Issuer {
            hsm,
            config,
            snapshot: Mutex::new(Arc::new(snapshot)),
            rotating: tokio::sync::Mutex::new(()),
            issued: AtomicU64::new(0),
        }))
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        Arc::clone(&self.snapshot.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The published JWK Set, as JSON text.
    pub fn jwks_json(&self) -> Arc<str> {
        Arc::clone(&self.snapshot().jwks)
    }

    /// The key tokens are signed with now.
    pub fn current(&self) -> SigningKey {
        self.snapshot().current.clone()
    }

    /// The [`AsyncHsm`] the issuer runs its token calls on.
    pub fn hsm(&self) -> &AsyncHsm {
        &self.hsm
    }

    /// Signs with `key` from now on. The previous key stays published (up to
    /// [`Config::keep_previous`] of them); requests in flight finish with the old set. If the
    /// new key cannot be loaded, or does not serve its algorithm, nothing changes.
    ///
    /// # Errors
    /// The key cannot be loaded (not found, wrong kind) or does not serve `key.alg`.
    pub async fn rotate(&self, key: SigningKey) -> Result<(), ServiceError> {
        let _one = self.rotating.lock().await;
        let old = self.snapshot();
        if old.current == key {
            return Ok(());
        }
        let mut previous: VecDeque<SigningKey> = old
            .previous
            .iter()
            .filter(|k| k.kid != key.kid)
            .cloned()
            .collect();
        previous.push_back(old.current.clone());
        while previous.len() > self.config.keep_previous {
            previous.pop_front();
        }
        let next = build_snapshot(&self.hsm, key, previous).await?;
        *self.snapshot.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    /// Issues a token for a `POST /token` body.
    ///
    /// # Errors
    /// [`IssueError::BadRequest`] for a malformed request; [`IssueError::Service`] when the
    /// HSM is saturated or fails.
    pub async fn issue(&self, request: &Value) -> Result<Value, IssueError> {
        let bad = |m: &str| IssueError::BadRequest(m.to_owned());
        let request = request
            .as_object()
            .ok_or_else(|| bad("the body must be a JSON object"))?;
        let sub = request
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("`sub` (a non-empty string) is required"))?;
        let aud = match request.get("aud") {
            None => self.config.default_audience.clone(),
            Some(Value::String(a)) => Some(a.clone()),
            Some(_) => return Err(bad("`aud` must be a string")),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let ttl = self.config.ttl.as_secs() as i64;
        let serial = self.issued.fetch_add(1, Ordering::Relaxed);
        let mut claims = Claims::new()
            .issuer(self.config.issuer.clone())
            .subject(sub)
            .issued_at(now)
            .expires_at(now + ttl)
            .jwt_id(format!("{now:x}-{serial:x}"));
        if let Some(aud) = aud {
            claims = claims.audience(aud);
        }
        match request.get("claims") {
            None => {}
            Some(Value::Object(extra)) => {
                for (name, value) in extra {
                    if RESERVED_CLAIMS.contains(&name.as_str()) {
                        return Err(IssueError::BadRequest(format!(
                            "claim `{name}` is set by the issuer"
                        )));
                    }
                    claims.set(name.clone(), value.clone());
                }
            }
            Some(_) => return Err(bad("`claims` must be a JSON object")),
        }
        let recipient = match request.get("encrypt_to") {
            None => None,
            Some(jwk) => Some(recipient(jwk)?),
        };

        let snapshot = self.snapshot();
        let kid = snapshot.current.kid.clone();
        let encrypted = recipient.is_some();
        let token = self
            .hsm
            .run(move || -> Result<String, hsm_jose::Error> {
                let key = snapshot
                    .keys
                    .get_key(&snapshot.current.kid)
                    .ok_or_else(jose_core_missing_kid)?;
                let signed = jwt::sign(&claims, key, snapshot.current.alg, None)?;
                match recipient {
                    None => Ok(signed),
                    Some((to, alg)) => Ok(jwe::encrypt_compact(
                        &to,
                        alg,
                        ContentEncryption::A256Gcm,
                        signed.as_bytes(),
                        Some(&Header::new().with("cty", "JWT")),
                    )?),
                }
            })
            .await?
            .map_err(ServiceError::from)?;
        Ok(json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "kid": kid,
            "encrypted": encrypted,
        }))
    }

    /// `GET /status`: what an operator watches.
    pub fn status(&self) -> Value {
        let pool = self.hsm.pool();
        let hsm = self.hsm.stats();
        json!({
            "current_kid": self.snapshot().current.kid,
            "issued": self.issued.load(Ordering::Relaxed),
            "workers": hsm.workers,
            "running": hsm.running,
            "waiting": hsm.waiting,
            "max_waiting": hsm.max_waiting,
            "operations_finished": hsm.finished,
            "operations_abandoned": hsm.abandoned,
            "refused_busy": hsm.busy,
            "deadline_waiting": hsm.deadline_waiting,
            "deadline_running": hsm.deadline_running,
            "waits": hsm.waits,
            "wait_seconds": hsm.wait_time.as_secs_f64(),
            "pool_max_sessions": pool.max_sessions(),
            "pool_open_sessions": pool.open_sessions(),
            "pool_idle_sessions": pool.idle_sessions(),
            "pool_recoveries": pool.epoch(),
        })
    }
}

fn jose_core_missing_kid() -> hsm_jose::Error {
    hsm_jose::jose_core::Error::Key(hsm_jose::jose_core::error::KeyError::MissingMember("kid"))
        .into()
}

/// The software key and key management algorithm to encrypt a token to `jwk`.
fn recipient(jwk: &Value) -> Result<(SoftwareKey, KeyManagementAlgorithm), IssueError> {
    let bad = |m: String| IssueError::BadRequest(m);
    let jwk = Jwk::from_value(jwk).map_err(|e| bad(format!("`encrypt_to`: {e}")))?;
    if jwk.is_private() {
        return Err(bad("`encrypt_to` must be a public key".into()));
    }
    let alg = match jwk.kty() {
        "RSA" => KeyManagementAlgorithm::RsaOaep256,
        "EC" | "OKP" => KeyManagementAlgorithm::EcdhEsA256KW,
        other => {
            return Err(bad(format!(
                "`encrypt_to`: cannot encrypt to a `{other}` key"
            )));
        }
    };
    let key = SoftwareKey::from_jwk(jwk).map_err(|e| bad(format!("`encrypt_to`: {e}")))?;
    Ok((key, alg))
}

/// Loads the current key and the retired ones still published, on the HSM workers.
async fn build_snapshot(
    hsm: &AsyncHsm,
    current: SigningKey,
    previous: VecDeque<SigningKey>,
) -> Result<Snapshot, ServiceError> {
    let pool = hsm.pool().clone();
    let wanted = current.clone();
    let (keys, previous) = hsm
        .run(
            move || -> Result<(HsmJwkSet, VecDeque<SigningKey>), hsm_jose::Error> {
                let mut keys = HsmJwkSet::new();
                let load = |k: &SigningKey| -> Result<HsmJwk, hsm_jose::Error> {
                    Ok(HsmJwk::from_label(&pool, &k.label)?
                        .with_kid(k.kid.clone())
                        .with_use("sig"))
                };
                let key = load(&wanted)?;
                // Refuse a key that cannot sign with the algorithm before it is published.
                hsm_jose::jose_core::backend::check_key(&key, wanted.alg.into(), true)?;
                keys.add_key(key)?;
                let mut kept = VecDeque::new();
                for k in previous {
                    // A retired key that vanished from the token is no longer published.
                    match load(&k) {
                        Ok(key) => {
                            keys.add_key(key)?;
                            kept.push_back(k);
                        }
                        Err(hsm_jose::Error::KeyNotFound { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok((keys, kept))
            },
        )
        .await??;
    let jwks = Arc::from(keys.jwks_json());
    Ok(Snapshot {
        keys,
        current,
        previous,
        jwks,
    })
}

/// Serves `issuer` on `listener` until `shutdown` completes (then finishes the requests in
/// flight).
///
/// # Errors
/// The listener fails.
pub async fn serve(
    listener: tokio::net::TcpListener,
    issuer: Arc<Issuer>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(issuer))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The service's routes on `issuer`.
pub fn router(issuer: Arc<Issuer>) -> Router {
    let mut router = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/token", post(token))
        .route("/status", get(status));
    if issuer.config.admin_token.is_some() {
        router = router.route("/admin/rotate", post(rotate));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(issuer)
}

async fn jwks(State(issuer): State<Arc<Issuer>>) -> Response {
    let mut response = issuer.jwks_json().to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Clients refetch after a rotation; a short cache keeps the load down.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}

async fn token(State(issuer): State<Arc<Issuer>>, Json(request): Json<Value>) -> Response {
    match issuer.issue(&request).await {
        Ok(body) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            Json(body),
        )
            .into_response(),
        Err(IssueError::BadRequest(message)) => {
            error(StatusCode::BAD_REQUEST, "invalid_request", &message)
        }
        Err(IssueError::Service(e)) => service_error(&e),
    }
}

async fn status(State(issuer): State<Arc<Issuer>>) -> Json<Value> {
    Json(issuer.status())
}

async fn rotate(
    State(issuer): State<Arc<Issuer>>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> Response {
    let Some(expected) = issuer.config.admin_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "admin token required",
        );
    }
    let Some(label) = request.get("label").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "`label` is required",
        );
    };
    let kid = request.get("kid").and_then(Value::as_str).unwrap_or(label);
    let alg = match request.get("alg").and_then(Value::as_str) {
        None => issuer.current().alg,
        Some(a) => match a.parse::<JwsAlgorithm>() {
            Ok(alg) => alg,
            Err(_) => return error(StatusCode::BAD_REQUEST, "invalid_request", "unknown `alg`"),
        },
    };
    let key = SigningKey {
        label: label.to_owned(),
        kid: kid.to_owned(),
        alg,
    };
    match issuer.rotate(key).await {
        Ok(()) => Json(json!({ "current_kid": kid, "alg": alg.as_str() })).into_response(),
        Err(e) if e.is_overload() => service_error(&e),
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_key", &e.to_string()),
    }
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

fn service_error(e: &ServiceError) -> Response {
    if e.is_overload() {
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            &e.to_string(),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    // Token failures are for the operator's log, not for the client.
    eprintln!("issuer: token operation failed: {e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "the token operation failed",
    )
}
