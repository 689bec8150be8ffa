//! [`AsyncHsm`]: the async face of hsm-jose's keys and JOSE operations.

use std::sync::Arc;
use std::time::Duration;

use hsm_core::{KeySelector, SessionPool};
use jose_core::jwe::Decrypted;
use jose_core::jwt::Claims;
use jose_core::{
    ContentEncryption, Header, Jwk, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, KeyStore,
    SecretBytes, WrappedKey,
};

use super::workers::Workers;
use super::{ServiceError, ServiceStats};
use crate::{HsmJwk, HsmJwkSet, KidSource};

/// The default limit on operations waiting for a session, per session.
pub const DEFAULT_WAITING_PER_SESSION: usize = 64;

/// Runs HSM operations for async code, never on a runtime thread.
///
/// An `AsyncHsm` owns a set of worker threads, one per session of its pool
/// ([`SessionPool::max_sessions`]). Each operation joins a first-come, first-served line that
/// the workers take jobs from (its caller waits as an async task that holds no thread), runs
/// the whole synchronous operation, JOSE included, on a worker, and gets the result back
/// through a channel. Hence:
///
/// * **The runtime never blocks on the token.** A slow token makes operations wait; tasks
///   that do not touch the token go on.
/// * **Back-pressure.** At most `max_sessions` operations run; the next ones wait in line, and
///   beyond [`max_waiting`](AsyncHsmBuilder::max_waiting) of those an operation is refused at
///   once with [`ServiceError::Busy`].
/// * **Deadlines.** Each operation has one (the builder's default, or
///   [`with_deadline`](Self::with_deadline)), counted from the call: waiting past it is
///   [`ServiceError::DeadlineWaiting`] (the token was never called), running past it
///   [`ServiceError::DeadlineRunning`].
/// * **Cancellation safety.** Dropping an operation's future while it waits takes it out of
///   line. Once it runs, it runs to its end on its worker and its session goes back to the pool
///   as in the synchronous API: no session is leaked, none is left with a half-initialised
///   operation, and every other caller's result is delivered through its own channel.
///
/// Deadlines use tokio's timer: the runtime must have time enabled (`#[tokio::main]` and
/// `Builder::enable_all` do). `AsyncHsm` is cheap to clone (clones share the workers); the
/// workers exit when the last clone is dropped and their jobs are done.
///
/// ```no_run
/// use hsm_jose::jose_core::{jws, JwsAlgorithm, SoftwareKey};
/// use hsm_jose::service::{AsyncHsm, ServiceError};
/// use hsm_jose::SessionPool;
/// # async fn demo() -> Result<(), ServiceError> {
/// let pool = SessionPool::from_env()?; // HSM_MODULE, HSM_TOKEN, HSM_PIN
/// let hsm = AsyncHsm::new(&pool)?;
/// let key = hsm.load_label("ec-p256").await?;
/// let token = hsm.sign_compact(&key, JwsAlgorithm::ES256, b"hello".to_vec(), None).await?;
/// let public = SoftwareKey::from_json(&key.public_json()?)?;
/// jws::verify_compact(&token, &public, &[JwsAlgorithm::ES256])?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct AsyncHsm {
    inner: Arc<Inner>,
    deadline: Duration,
}

struct Inner {
    pool: SessionPool,
    workers: Workers,
}

/// Options for an [`AsyncHsm`].
#[derive(Debug, Clone)]
pub struct AsyncHsmBuilder {
    pool: SessionPool,
    workers: Option<usize>,
    max_waiting: Option<usize>,
    deadline: Option<Duration>,
}

impl AsyncHsmBuilder {
    /// The number of worker threads, hence of operations that run at once (default: the
    /// pool's [`max_sessions`](SessionPool::max_sessions); more would only wait for a session
    /// on a thread).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n.max(1));
        self
    }

    /// How many operations may wait for a worker before the next is refused with
    /// [`ServiceError::Busy`] (default: [`DEFAULT_WAITING_PER_SESSION`] per worker).
    pub fn max_waiting(mut self, n: usize) -> Self {
        self.max_waiting = Some(n);
        self
    }

    /// The default deadline of each operation, waiting included (default: the pool's
    /// [`wait_timeout`](SessionPool::wait_timeout)).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Starts the worker threads.
    ///
    /// # Errors
    /// [`ServiceError::Workers`] when a thread cannot be started.
    pub fn build(self) -> Result<AsyncHsm, ServiceError> {
        let size = self
            .workers
            .unwrap_or_else(|| self.pool.max_sessions().max(1));
        let max_waiting = self
            .max_waiting
            .unwrap_or(size.saturating_mul(DEFAULT_WAITING_PER_SESSION));
        let deadline = self.deadline.unwrap_or_else(|| self.pool.wait_timeout());
        let workers = Workers::start("hsm-jose-worker", size, max_waiting)?;
        Ok(AsyncHsm {
            inner: Arc::new(Inner {
                pool: self.pool,
                workers,
            }),
            deadline,
        })
    }
}

impl AsyncHsm {
    /// An `AsyncHsm` on `pool` with the default options (see [`AsyncHsmBuilder`]).
    ///
    /// # Errors
    /// [`ServiceError::Workers`] when a thread cannot be started.
    pub fn new(pool: &SessionPool) -> Result<Self, ServiceError> {
        Self::builder(pool).build()
    }

    /// Options for an `AsyncHsm` on `pool`.
    pub fn builder(pool: &SessionPool) -> AsyncHsmBuilder {
        AsyncHsmBuilder {
            pool: pool.clone(),
            workers: None,
            max_waiting: None,
            deadline: None,
        }
    }

    /// A handle on the same workers whose operations have another deadline.
    pub fn with_deadline(&self, deadline: Duration) -> Self {
        AsyncHsm {
            inner: Arc::clone(&self.inner),
            deadline,
        }
    }

    /// The session pool.
    pub fn pool(&self) -> &SessionPool {
        &self.inner.pool
    }

    /// The deadline of this handle's operations.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The number of worker threads (operations that may run at once).
    pub fn workers(&self) -> usize {
        self.inner.workers.size()
    }

    /// Operations running on a worker now. Equal to [`workers`](Self::workers) means every
    /// session is busy.
    pub fn running(&self) -> usize {
        self.inner.workers.busy()
    }

    /// Operations waiting for a worker now.
    pub fn waiting(&self) -> usize {
        self.inner.workers.waiting()
    }

    /// The limit on [`waiting`](Self::waiting) beyond which operations are refused.
    pub fn max_waiting(&self) -> usize {
        self.inner.workers.max_waiting()
    }

    /// The current readings and running totals, for a metrics exporter: the workers', and the
    /// session pool's in [`ServiceStats::pool`].
    pub fn stats(&self) -> ServiceStats {
        let mut stats = self.inner.workers.stats();
        stats.pool = self.pool().stats();
        stats
    }

    /// Runs any synchronous hsm-jose or hsm-core code on a worker, with this handle's
    /// back-pressure and deadline. Use it for what the other methods do not cover; keep each
    /// closure to one operation (one session at a time), as a worker stands for a session.
    ///
    /// # Errors
    /// The scheduling outcomes of [`ServiceError`]; [`ServiceError::Panicked`] if `f` panics.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.inner.workers.execute(self.deadline, f).await
    }

    /// [`run`](Self::run) for a closure that returns a `Result`, its error lifted into
    /// [`ServiceError::Hsm`].
    async fn run_op<T, E, F>(&self, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        E: Into<ServiceError> + Send + 'static,
        F: FnOnce() -> Result<T, E> + Send + 'static,
    {
        self.run(f).await?.map_err(Into::into)
    }

    // Key loading.

    /// [`HsmJwk::load`] on a worker.
    pub async fn load(&self, selector: KeySelector) -> Result<Arc<HsmJwk>, ServiceError> {
        let pool = self.inner.pool.clone();
        self.run_op(move || HsmJwk::load(&pool, &selector).map(Arc::new))
            .await
    }

    /// [`HsmJwk::from_label`] on a worker.
    pub async fn load_label(&self, label: impl Into<String>) -> Result<Arc<HsmJwk>, ServiceError> {
        let label = label.into();
        let pool = self.inner.pool.clone();
        self.run_op(move || HsmJwk::from_label(&pool, &label).map(Arc::new))
            .await
    }

    /// [`HsmJwkSet::from_token`] on a worker.
    pub async fn load_set(&self, kid_source: KidSource) -> Result<HsmJwkSet, ServiceError> {
        let pool = self.inner.pool.clone();
        self.run_op(move || HsmJwkSet::from_token(&pool, kid_source))
            .await
    }

    // Key operations: the KeyBackend methods, with jose-core's checks.

    /// [`KeyBackend::sign`] on a worker: a raw JWS signature over `signing_input`.
    pub async fn sign<K>(
        &self,
        key: &Arc<K>,
        alg: JwsAlgorithm,
        signing_input: Vec<u8>,
    ) -> Result<Vec<u8>, ServiceError>
    where
        K: KeyBackend + ?Sized + 'static,
    {
        let key = Arc::clone(key);
        self.run_op(move || {
            jose_core::backend::check_key(&key, alg.into(), true)?;
            key.sign(alg, &signing_input)
        })
        .await
    }

    /// [`KeyBackend::unwrap_key`] on a worker: the content key of a JWE recipient.
    pub async fn unwrap_key<K>(
        &self,
        key: &Arc<K>,
        alg: KeyManagementAlgorithm,
        encrypted_key: Vec<u8>,
        header: Header,
        enc: ContentEncryption,
    ) -> Result<SecretBytes, ServiceError>
    where
        K: KeyBackend + ?Sized + 'static,
    {
        let key = Arc::clone(key);
        self.run_op(move || {
            jose_core::backend::check_key(&key, alg.into(), false)?;
            key.unwrap_key(alg, &encrypted_key, &header, enc)
        })
        .await
    }

    /// [`KeyBackend::derive_ecdh`] on a worker: the ECDH shared secret `Z` with `epk`.
    pub async fn derive_ecdh<K>(&self, key: &Arc<K>, epk: Jwk) -> Result<SecretBytes, ServiceError>
    where
        K: KeyBackend + ?Sized + 'static,
    {
        let key = Arc::clone(key);
        self.run_op(move || key.derive_ecdh(&epk)).await
    }

    /// [`KeyBackend::wrap_key`] on a worker: `cek` encrypted under a token secret key.
    pub async fn wrap_key<K>(
        &self,
        key: &Arc<K>,
        alg: KeyManagementAlgorithm,
        cek: SecretBytes,
    ) -> Result<WrappedKey, ServiceError>
    where
        K: KeyBackend + ?Sized + 'static,
    {
        let key = Arc::clone(key);
        self.run_op(move || {
            jose_core::backend::check_key(&key, alg.into(), true)?;
            key.wrap_key(alg, &cek)
        })
        .await
    }

    // Whole JOSE operations, JSON and content encryption included, on a worker.

    /// [`jws::sign_compact`](jose_core::jws::sign_compact) on a worker.
    pub async fn sign_compact<K>(
        &self,
        key: &Arc<K>,
        alg: JwsAlgorithm,
        payload: Vec<u8>,
        header: Option<Header>,
    ) -> Result<String, ServiceError>
    where
        K: KeyBackend + ?Sized + 'static,
    {
        let key = Arc::clone(key);
        self.run_op(move || jose_core::jws::sign_compact(&key, alg, &payload, header.as_ref()))
            .await
    }

    /// [`jwt::sign`](jose_core::jwt::sign) on a worker: a signed JWT.
    pub async fn sign_jwt<K>(
        &self,
        key: &Arc<K>,
        alg: JwsAlgorithm,
        claims: Claims,
        header: Option<Header>,
    ) -> Result<String, ServiceError>
    where
        K: KeyBackend + ?Sized + 'static,
    {
        let key = Arc::clone(key);
        self.run_op(move || jose_core::jwt::sign(&claims, &key, alg, header.as_ref()))
            .await
    }

    /// [`jwe::decrypt_compact`](jose_core::jwe::decrypt_compact) on a worker.
    pub async fn decrypt_compact<K>(
        &self,
        key: &Arc<K>,
        token: String,
        algs: Vec<KeyManagementAlgorithm>,
        encs: Vec<ContentEncryption>,
    ) -> Result<Decrypted, ServiceError>
    where
        K: KeyBackend + ?Sized + 'static,
    {
        let key = Arc::clone(key);
        self.run_op(move || jose_core::jwe::decrypt_compact(&token, &key, &algs, &encs))
            .await
    }

    /// [`Decrypter::decrypt_with`](jose_core::jwe::Decrypter::decrypt_with) on a worker: a
    /// compact or JSON JWE, its key chosen by `kid` from `keys` (an [`HsmJwkSet`]).
    pub async fn decrypt_with<S>(
        &self,
        keys: &Arc<S>,
        token: String,
        algs: Vec<KeyManagementAlgorithm>,
        encs: Vec<ContentEncryption>,
    ) -> Result<Decrypted, ServiceError>
    where
        S: KeyStore + 'static,
    {
        let keys = Arc::clone(keys);
        self.run_op(move || {
            jose_core::jwe::Decrypter::new(&algs, &encs).decrypt_with(&token, &*keys)
        })
        .await
    }
}

impl std::fmt::Debug for AsyncHsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncHsm")
            .field("pool", &self.inner.pool)
            .field("workers", &self.workers())
            .field("running", &self.running())
            .field("waiting", &self.waiting())
            .field("deadline", &self.deadline)
            .finish()
    }
}
