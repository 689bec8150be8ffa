//! A local issuer for the tests: an HTTP server on 127.0.0.1 (port 0) that serves a JWK Set
//! and an OpenID Provider configuration, counts requests, rotates keys, fails and answers
//! slowly on demand. It stops when `stop` is called or the test's runtime ends.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jose_core::jwk::EcCurve;
use jose_core::jwt::{self, Claims, Validation};
use jose_core::{JwsAlgorithm, SoftwareKey};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "https://api.test";

/// What the issuer answers for its JWK Set.
#[derive(Debug, Clone)]
pub enum Mode {
    /// 200 with this body and `Cache-Control` header.
    Serve {
        body: String,
        cache_control: Option<&'static str>,
    },
    /// This status with a short text body.
    Status(u16),
    /// 200 with a body that is not JSON.
    Garbage,
    /// Waits, then serves this body.
    Slow { delay: Duration, body: String },
    /// 200 with a body of this many bytes.
    Huge(usize),
}

struct Shared {
    mode: Mutex<Mode>,
    issuer_in_config: Mutex<Option<String>>,
    jwks_hits: AtomicUsize,
    config_hits: AtomicUsize,
}

pub struct Issuer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Issuer {
    pub async fn start(mode: Mode) -> Issuer {
        let shared = Arc::new(Shared {
            mode: Mutex::new(mode),
            issuer_in_config: Mutex::new(None),
            jwks_hits: AtomicUsize::new(0),
            config_hits: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/jwks.json", get(jwks_handler))
            .route("/.well-known/openid-configuration", get(config))
            .with_state(Arc::clone(&shared));
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Issuer {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.base())
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// The `issuer` member the configuration document names (default: `base()`).
    pub fn set_issuer_in_config(&self, issuer: &str) {
        *self.shared.issuer_in_config.lock().unwrap() = Some(issuer.to_owned());
    }

    pub fn jwks_hits(&self) -> usize {
        self.shared.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn config_hits(&self) -> usize {
        self.shared.config_hits.load(Ordering::SeqCst)
    }

    /// Stops the server: its port refuses connections afterwards.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .expect("the server stops within 5 s")
                .unwrap();
        }
    }
}

async fn jwks_handler(State(shared): State<Arc<Shared>>) -> Response {
    shared.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let mode = shared.mode.lock().unwrap().clone();
    match mode {
        Mode::Serve {
            body,
            cache_control,
        } => {
            let mut r = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
            if let Some(cc) = cache_control {
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, cc.parse().unwrap());
            }
            r
        }
        Mode::Status(code) => (StatusCode::from_u16(code).unwrap(), "failing").into_response(),
        Mode::Garbage => "<html>Service temporarily unavailable</html>".into_response(),
        Mode::Slow { delay, body } => {
            tokio::time::sleep(delay).await;
            body.into_response()
        }
        Mode::Huge(n) => " ".repeat(n).into_response(),
    }
}

async fn config(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> Response {
    shared.config_hits.fetch_add(1, Ordering::SeqCst);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let base = format!("http://{host}");
    let issuer = shared
        .issuer_in_config
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| base.clone());
    axum::Json(serde_json::json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/jwks.json"),
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

/// A port on 127.0.0.1 where nothing listens.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/jwks.json")
}

pub fn es256(kid: &str) -> SoftwareKey {
    SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid(kid)
}

/// The public JWK Set of these keys.
pub fn jwks(keys: &[&SoftwareKey]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| k.jwk().to_public_json().unwrap())
        .collect();
    format!(r#"{{"keys":[{}]}}"#, keys.join(","))
}

pub fn serve(keys: &[&SoftwareKey], cache_control: Option<&'static str>) -> Mode {
    Mode::Serve {
        body: jwks(keys),
        cache_control,
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn claims(issuer: &str, sub: &str) -> Claims {
    Claims::new()
        .issuer(issuer)
        .subject(sub)
        .audience(AUDIENCE)
        .expires_at(now() + 600)
        .with("scope", "read")
}

/// A token for `sub`, signed ES256 by `key`, issued by [`ISSUER`] for [`AUDIENCE`].
pub fn token(key: &SoftwareKey, sub: &str) -> String {
    jwt::sign(&claims(ISSUER, sub), key, JwsAlgorithm::ES256, None).unwrap()
}

pub fn validation() -> Validation {
    Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256])
        .issuer(ISSUER)
        .audience(AUDIENCE)
}

/// Runs a test body with a time limit, so that no test can hang.
pub async fn within<F: std::future::Future<Output = ()>>(secs: u64, body: F) {
    tokio::time::timeout(Duration::from_secs(secs), body)
        .await
        .expect("the test finishes in time");
}
