//! [`JwksClient`]: follows an issuer's JWK Set.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use http::Uri;
use jose_core::KeySet;
use jose_core::error::KeyError;
use jose_core::jwt::{Jwt, Validation};
use serde_json::Value;

use crate::error::{JwksError, VerifyError};
use crate::fetch::Fetcher;
use crate::parse::{SkippedKey, parse_jwk_set_limited};

/// Where the client finds the JWK Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The JWK Set's own URL.
    JwksUri(String),
    /// An OpenID Provider's issuer identifier: the set's URL is the `jwks_uri` member of
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` member must be this one.
    Discovery(String),
}

/// How a [`JwksClient`] behaves; every duration and size has a default.
#[derive(Debug)]
pub struct JwksClientBuilder {
    source: Source,
    min_ttl: Duration,
    max_ttl: Duration,
    default_ttl: Duration,
    unknown_kid_interval: Duration,
    retry_after_failure: Duration,
    timeout: Duration,
    max_body: usize,
    max_keys: usize,
    allow_http: bool,
    tls: Option<rustls::ClientConfig>,
}

impl JwksClientBuilder {
    /// The shortest time a fetched set is used before it is fetched again, whatever
    /// `Cache-Control` says (`max-age=0`, `no-store`). Default: 60 seconds.
    pub fn min_ttl(mut self, ttl: Duration) -> Self {
        self.min_ttl = ttl;
        self
    }

    /// The longest time a fetched set is used without fetching it again, whatever
    /// `Cache-Control` says. Default: 24 hours.
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = ttl;
        self
    }

    /// The lifetime of a set whose response has no `max-age` (then bounded by
    /// [`min_ttl`](Self::min_ttl) and [`max_ttl`](Self::max_ttl)). Default: 5 minutes.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// A token whose `kid` is not in the set makes the client fetch the set again, at most
    /// once per this interval (counted from the previous fetch of any kind), however many
    /// such tokens arrive. Default: 30 seconds.
    pub fn unknown_kid_interval(mut self, interval: Duration) -> Self {
        self.unknown_kid_interval = interval;
        self
    }

    /// After a failed fetch, the client waits this long before trying again (and serves the
    /// last good set meanwhile). Default: 10 seconds.
    pub fn retry_after_failure(mut self, interval: Duration) -> Self {
        self.retry_after_failure = interval;
        self
    }

    /// The limit on each request, from connecting to the last byte of the body. Default: 10
    /// seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted, in bytes. Default: 512 KiB.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body = limit;
        self
    }

    /// The most keys a set may hold; a larger set is a failed fetch (the last good set stays
    /// in use). Default: 100.
    pub fn max_keys(mut self, limit: usize) -> Self {
        self.max_keys = limit;
        self
    }

    /// Allows plain `http` URLs (for tests against a local server, or a sidecar on loopback).
    /// Off by default: a JWK Set fetched without TLS can be replaced by anyone on the path.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// The TLS configuration (trusted roots, client certificate); by default the operating
    /// system's trusted roots with rustls' `ring` provider.
    pub fn tls_config(mut self, config: rustls::ClientConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Builds the client. Nothing is fetched yet: the first verification (or
    /// [`JwksClient::refresh`]) fetches the set.
    pub fn build(self) -> Result<JwksClient, JwksError> {
        let fetcher = Fetcher::new(self.tls, self.timeout, self.max_body, self.allow_http)?;
        let source = match self.source {
            Source::JwksUri(url) => Target::Jwks(fetcher.parse_url(&url)?),
            Source::Discovery(issuer) => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                Target::Discovery {
                    config_url: fetcher.parse_url(&url)?,
                    issuer,
                }
            }
        };
        let max_ttl = self.max_ttl.max(self.min_ttl);
        Ok(JwksClient {
            inner: Arc::new(Inner {
                source,
                min_ttl: self.min_ttl,
                max_ttl,
                default_ttl: self.default_ttl,
                unknown_kid_interval: self.unknown_kid_interval,
                retry_after_failure: self.retry_after_failure,
                max_keys: self.max_keys,
                fetcher,
                current: RwLock::new(None),
                status: Mutex::new(StatusState::default()),
                attempts: AtomicU64::new(0),
                refresh: Arc::new(tokio::sync::Mutex::new(RefreshState::default())),
            }),
        })
    }
}

/// Follows an issuer's JWK Set: fetches it, caches it as long as `Cache-Control: max-age`
/// says (within bounds), fetches it again when a token names an unknown `kid` (at most once
/// per interval), and keeps serving the last good set when the issuer is down or answers
/// garbage.
///
/// Cheap to clone: clones share one cache. Concurrent callers that need a fetch share one
/// request; the fetch runs on its own tokio task, so the client needs a tokio runtime with
/// its I/O and time drivers (`#[tokio::main]`, or a runtime built with `enable_all`). Keys that the verifier cannot use (too small, unsupported type, symmetric) are left
/// out and listed in [`status`](Self::status).
///
/// ```no_run
/// use jose_core::{jwt::Validation, JwsAlgorithm};
/// use jose_jwks::JwksClient;
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let client = JwksClient::discover("https://issuer.example").build()?;
/// let validation = Validation::new()
///     .jws_algorithms(&[JwsAlgorithm::RS256, JwsAlgorithm::ES256])
///     .issuer("https://issuer.example")
///     .audience("https://api.example");
/// let jwt = client.verify(token, &validation).await?;
/// println!("hello {:?}", jwt.claims().sub());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct JwksClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Target {
    Jwks(Uri),
    Discovery { config_url: Uri, issuer: String },
}

#[derive(Debug)]
struct Inner {
    source: Target,
    min_ttl: Duration,
    max_ttl: Duration,
    default_ttl: Duration,
    unknown_kid_interval: Duration,
    retry_after_failure: Duration,
    max_keys: usize,
    fetcher: Fetcher,
    /// The last good set; read without waiting, replaced whole.
    current: RwLock<Option<Arc<Snapshot>>>,
    status: Mutex<StatusState>,
    /// Completed fetch attempts: a caller that waited for another caller's fetch sees it moved
    /// and takes that fetch's outcome instead of fetching again.
    attempts: AtomicU64,
    /// Held while fetching: one fetch at a time. The fetch runs on its own task holding it, so
    /// a caller that gives up (a client disconnects) does not cancel the fetch others wait for.
    refresh: Arc<tokio::sync::Mutex<RefreshState>>,
}

#[derive(Debug)]
struct Snapshot {
    keys: Arc<KeySet>,
    skipped: Vec<SkippedKey>,
    fetched_at: SystemTime,
    expires_at: Instant,
}

#[derive(Debug, Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_failure: Option<Instant>,
    last_outcome: Option<Result<Arc<Snapshot>, JwksError>>,
    /// From discovery; forgotten when fetching it fails, so discovery runs again.
    jwks_uri: Option<Uri>,
}

#[derive(Debug, Default)]
struct StatusState {
    jwks_uri: Option<String>,
    last_error: Option<JwksError>,
    consecutive_failures: u64,
    fetches: u64,
}

/// What a [`JwksClient`] holds and how its last fetches went.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwksStatus {
    /// The URL of the set (from discovery, once it has run).
    pub jwks_uri: Option<String>,
    /// The number of usable keys served.
    pub keys: usize,
    /// The keys of the served set that were left out, with index, `kid` and reason.
    pub skipped: Vec<SkippedKey>,
    /// When the served set was fetched.
    pub fetched_at: Option<SystemTime>,
    /// Whether the served set is within its lifetime (if not, the issuer could not be reached
    /// or answered garbage since, and the last good set is being served).
    pub fresh: bool,
    /// The error of the last fetch, if it failed.
    pub last_error: Option<JwksError>,
    /// Fetches failed in a row since the last good one.
    pub consecutive_failures: u64,
    /// Fetch attempts so far (each counts the discovery request and the set's request as one).
    pub fetches: u64,
}

/// Why a fetch is wanted: each reason has its own rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// No set yet, or the set's lifetime is over: not sooner than `retry_after_failure` after
    /// a failed fetch.
    Expired,
    /// A token names a `kid` the set lacks: not sooner than `unknown_kid_interval` after any
    /// fetch.
    UnknownKid,
    /// The caller asks for it.
    Forced,
}

impl JwksClient {
    /// A client for the JWK Set at `url` (`https`, or `http` with
    /// [`allow_http`](JwksClientBuilder::allow_http)).
    pub fn builder(url: impl Into<String>) -> JwksClientBuilder {
        Self::from_source(Source::JwksUri(url.into()))
    }

    /// A client for the JWK Set that an OpenID Provider's discovery document names.
    pub fn discover(issuer: impl Into<String>) -> JwksClientBuilder {
        Self::from_source(Source::Discovery(issuer.into()))
    }

    /// A client for either kind of source.
    pub fn from_source(source: Source) -> JwksClientBuilder {
        JwksClientBuilder {
            source,
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            default_ttl: Duration::from_secs(300),
            unknown_kid_interval: Duration::from_secs(30),
            retry_after_failure: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            max_body: 512 * 1024,
            max_keys: 100,
            allow_http: false,
            tls: None,
        }
    }

    /// Verifies a signed JWT with the issuer's keys: the set is fetched first if there is none
    /// or its lifetime is over, and once more (rate-limited) if the token's `kid` is not in it.
    ///
    /// The algorithms, issuer, audience and other checks come from `validation`, never from
    /// the token.
    pub async fn verify(&self, token: &str, validation: &Validation) -> Result<Jwt, VerifyError> {
        let keys = self.keys().await?;
        match validation.verify_with(token, &*keys) {
            Err(jose_core::Error::Key(KeyError::KidNotFound(kid))) => {
                let newer = match self.refresh_with(Trigger::UnknownKid).await {
                    Some(Ok(snapshot)) => Some(Arc::clone(&snapshot.keys)),
                    // Not refetched (rate limit, or the fetch failed): a set that another
                    // caller fetched since this one read `keys` may still have the kid.
                    Some(Err(_)) | None => self.current().filter(|k| !Arc::ptr_eq(k, &keys)),
                };
                match newer {
                    Some(keys) => Ok(validation.verify_with(token, &*keys)?),
                    None => Err(jose_core::Error::from(KeyError::KidNotFound(kid)).into()),
                }
            }
            other => Ok(other?),
        }
    }

    /// The keys to verify with: the cached set while it is fresh, else a new one; the last good
    /// set when the issuer cannot be reached or answers garbage, and to every caller but the
    /// one fetching while a fetch is under way. An error only when no set was ever obtained.
    pub async fn keys(&self) -> Result<Arc<KeySet>, JwksError> {
        if let Some(snapshot) = self.snapshot() {
            if Instant::now() < snapshot.expires_at {
                return Ok(Arc::clone(&snapshot.keys));
            }
            // Stale, and another caller is fetching: serve the last good set rather than make
            // every request wait for a slow issuer. Only the caller that fetches waits.
            if self.inner.refresh.try_lock().is_err() {
                return Ok(Arc::clone(&snapshot.keys));
            }
        }
        let outcome = self.refresh_with(Trigger::Expired).await;
        match (outcome, self.snapshot()) {
            (Some(Ok(snapshot)), _) => Ok(Arc::clone(&snapshot.keys)),
            (_, Some(last_good)) => Ok(Arc::clone(&last_good.keys)),
            (Some(Err(e)), None) => Err(e),
            (None, None) => {
                Err(self
                    .status()
                    .last_error
                    .unwrap_or_else(|| JwksError::Connection {
                        url: self.describe_source(),
                        reason: "no fetch has completed".into(),
                    }))
            }
        }
    }

    /// Fetches the set now, whatever its lifetime (for instance at startup, so that the first
    /// request does not wait, and a wrong URL shows at once). Shares a fetch already under
    /// way. On failure the last good set, if any, stays in use.
    pub async fn refresh(&self) -> Result<(), JwksError> {
        match self.refresh_with(Trigger::Forced).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(e),
            None => Ok(()),
        }
    }

    /// The keys last fetched, without fetching (`None` before the first good fetch).
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.snapshot().map(|s| Arc::clone(&s.keys))
    }

    /// What the client holds and how its last fetches went.
    pub fn status(&self) -> JwksStatus {
        let snapshot = self.snapshot();
        let state = self
            .inner
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        JwksStatus {
            jwks_uri: state.jwks_uri.clone(),
            keys: snapshot.as_ref().map_or(0, |s| s.keys.len()),
            skipped: snapshot
                .as_ref()
                .map(|s| s.skipped.clone())
                .unwrap_or_default(),
            fetched_at: snapshot.as_ref().map(|s| s.fetched_at),
            fresh: snapshot
                .as_ref()
                .is_some_and(|s| Instant::now() < s.expires_at),
            last_error: state.last_error.clone(),
            consecutive_failures: state.consecutive_failures,
            fetches: state.fetches,
        }
    }

    fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn describe_source(&self) -> String {
        match &self.inner.source {
            Target::Jwks(uri) => uri.to_string(),
            Target::Discovery { config_url, .. } => config_url.to_string(),
        }
    }

    /// Fetches unless the trigger's rate limit says not now (`None`). A caller that waited for
    /// another caller's fetch takes its outcome.
    async fn refresh_with(&self, trigger: Trigger) -> Option<Result<Arc<Snapshot>, JwksError>> {
        let inner = &*self.inner;
        let seen = inner.attempts.load(Ordering::Acquire);
        let state = Arc::clone(&inner.refresh).lock_owned().await;
        if inner.attempts.load(Ordering::Acquire) != seen {
            return state.last_outcome.clone();
        }
        let now = Instant::now();
        let not_now = match trigger {
            Trigger::Expired => state
                .last_failure
                .is_some_and(|at| now.duration_since(at) < inner.retry_after_failure),
            Trigger::UnknownKid => state
                .last_attempt
                .is_some_and(|at| now.duration_since(at) < inner.unknown_kid_interval),
            Trigger::Forced => false,
        };
        if not_now {
            return match trigger {
                // Within the back-off after a failure, that failure is the answer.
                Trigger::Expired => state.last_outcome.clone(),
                Trigger::UnknownKid | Trigger::Forced => None,
            };
        }
        let client = self.clone();
        let fetch = async move {
            let mut state = state;
            client.fetch_and_record(&mut state).await
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => match runtime.spawn(fetch).await {
                Ok(outcome) => Some(outcome),
                // The runtime is shutting down.
                Err(_) => Some(Err(JwksError::Connection {
                    url: self.describe_source(),
                    reason: "the fetch task was cancelled".into(),
                })),
            },
            // Outside a tokio runtime (hyper's client needs one anyway): fetch in place.
            Err(_) => Some(fetch.await),
        }
    }

    /// Fetches, then records the outcome: the served set, the status, the rate limits.
    async fn fetch_and_record(&self, state: &mut RefreshState) -> Result<Arc<Snapshot>, JwksError> {
        let inner = &*self.inner;
        let outcome = self.fetch(state).await;
        let finished = Instant::now();
        state.last_attempt = Some(finished);
        state.last_failure = outcome.is_err().then_some(finished);
        state.last_outcome = Some(outcome.clone());
        {
            let mut status = inner
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            status.fetches += 1;
            status.jwks_uri = state.jwks_uri.as_ref().map(Uri::to_string);
            match &outcome {
                Ok(_) => {
                    status.last_error = None;
                    status.consecutive_failures = 0;
                }
                Err(e) => {
                    status.last_error = Some(e.clone());
                    status.consecutive_failures += 1;
                }
            }
        }
        if let Ok(snapshot) = &outcome {
            *inner
                .current
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(snapshot));
        }
        inner.attempts.fetch_add(1, Ordering::AcqRel);
        outcome
    }

    async fn fetch(&self, state: &mut RefreshState) -> Result<Arc<Snapshot>, JwksError> {
        let inner = &*self.inner;
        let uri = match (&inner.source, &state.jwks_uri) {
            (Target::Jwks(uri), _) | (Target::Discovery { .. }, Some(uri)) => uri.clone(),
            (Target::Discovery { config_url, issuer }, None) => {
                let uri = self.discover_jwks_uri(config_url, issuer).await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let result = self.fetch_set(&uri).await;
        if result.is_err() && matches!(inner.source, Target::Discovery { .. }) {
            state.jwks_uri = None;
        }
        result
    }

    async fn fetch_set(&self, uri: &Uri) -> Result<Arc<Snapshot>, JwksError> {
        let inner = &*self.inner;
        let fetched = inner.fetcher.get(uri).await?;
        let not_a_set = |reason: String| JwksError::Document {
            url: uri.to_string(),
            expected: "a JWK Set",
            reason,
        };
        let parsed =
            parse_jwk_set_limited(&fetched.body, inner.max_keys).map_err(|e| not_a_set(e.0))?;
        if parsed.keys.is_empty() {
            // An issuer that publishes no usable key is more likely broken than rotating every
            // key away: keep verifying with the last good set.
            let mut reason = String::from("no usable key");
            for skipped in &parsed.skipped {
                reason.push_str("; ");
                reason.push_str(&skipped.to_string());
            }
            return Err(not_a_set(reason));
        }
        let ttl = fetched
            .max_age
            .unwrap_or(inner.default_ttl)
            .clamp(inner.min_ttl, inner.max_ttl);
        let now = Instant::now();
        Ok(Arc::new(Snapshot {
            keys: Arc::new(parsed.keys),
            skipped: parsed.skipped,
            fetched_at: SystemTime::now(),
            // A lifetime past what `Instant` can hold: a year is as good as forever here.
            expires_at: now
                .checked_add(ttl)
                .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
                .unwrap_or(now),
        }))
    }

    async fn discover_jwks_uri(&self, config_url: &Uri, issuer: &str) -> Result<Uri, JwksError> {
        let fetcher = &self.inner.fetcher;
        let fetched = fetcher.get(config_url).await?;
        let not_config = |reason: &str| JwksError::Document {
            url: config_url.to_string(),
            expected: "an OpenID Provider configuration",
            reason: reason.to_owned(),
        };
        let value: Value =
            serde_json::from_slice(&fetched.body).map_err(|_| not_config("not JSON"))?;
        let Value::Object(map) = value else {
            return Err(not_config("not a JSON object"));
        };
        match map.get("issuer") {
            Some(Value::String(found)) if found == issuer => {}
            Some(Value::String(found)) => {
                return Err(JwksError::IssuerMismatch {
                    expected: issuer.to_owned(),
                    found: found.clone(),
                });
            }
            _ => return Err(not_config("no `issuer` string")),
        }
        match map.get("jwks_uri") {
            Some(Value::String(uri)) => fetcher.parse_url(uri),
            _ => Err(not_config("no `jwks_uri` string")),
        }
    }
}
