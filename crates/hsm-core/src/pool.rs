//! [`SessionPool`]: logged-in sessions on one token, shared by every thread of a service.
//!
//! A PKCS#11 session runs one operation at a time, so concurrent work needs one session per
//! operation in flight; opening a session per operation costs a `C_OpenSession`, a
//! `C_CloseSession` and, once the last session closes, a new `C_Login`. The pool keeps sessions
//! open and hands them out:
//!
//! - [`SessionPool::session`] / [`SessionPool::session_rw`] check out a read-only or read-write
//!   session as a [`PooledSession`] guard, which derefs to [`cryptoki::session::Session`] and goes
//!   back to the idle list when dropped. Checkout and return are a mutex-protected pop and push:
//!   no PKCS#11 call on that path. Up to `max_sessions` sessions are open; when all are busy,
//!   callers wait up to `wait_timeout`, then get [`Error::PoolTimeout`].
//! - [`SessionPool::run`] runs a closure on a pooled session and recovers from a lost session:
//!   on `CKR_SESSION_HANDLE_INVALID`, `CKR_SESSION_CLOSED`, `CKR_DEVICE_REMOVED`,
//!   `CKR_TOKEN_NOT_PRESENT` or `CKR_USER_NOT_LOGGED_IN` it drops that session (and, unless the
//!   error was only a logout, every idle one: they died together), opens a fresh session, logs in
//!   again if needed, and retries the closure once.
//! - [`PoolKey`] goes one step further for key operations: tokens renumber private objects after a
//!   logout, so it finds the key's handles again when they went stale.
//!
//! # Login
//!
//! PKCS#11 login state belongs to the application and the token, not to a session: the pool logs
//! in once, when it is built (`CKR_USER_ALREADY_LOGGED_IN` counts as success). A refused PIN is
//! reported as [`Error::PinIncorrect`] and never tried again by this pool; a token that reports
//! its PIN locked, or one attempt left, is not tried at all ([`Error::PinLocked`],
//! [`Error::PinFinalTry`]). The PIN is kept, zeroized on drop, only to log in again after the
//! login was lost (a `C_Logout` anywhere in the process, or every session closed).
//!
//! Because login state is shared, a second pool on an already logged-in token does not check its
//! own PIN: `C_Login` answers `CKR_USER_ALREADY_LOGGED_IN` whatever the PIN. And the pool never
//! calls `C_Logout`, which would log out every other user of the token in the process.
//!
//! # Fork
//!
//! A pool used in a child process after `fork` starts over there: the module is initialised
//! again in the child ([`Module`]'s fork rule), the parent's sessions are dropped *without*
//! `C_CloseSession` (they belong to the parent, and on a token reached over a shared connection
//! closing them would close them for the parent too), the epoch moves on so that [`PoolKey`]s
//! find their handles again, and fresh sessions are opened and logged in. The parent's pool is
//! untouched.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use hsm_core::cryptoki::mechanism::Mechanism;
//! use hsm_core::key::{find_key, KeySelector};
//! use hsm_core::{Pin, SessionPool};
//!
//! # fn main() -> hsm_core::Result<()> {
//! let pool = SessionPool::builder()
//!     .module("/usr/lib/softhsm/libsofthsm2.so")
//!     .token_label("signing")
//!     .pin(Pin::new("1234"))
//!     .max_sessions(8)
//!     .wait_timeout(Duration::from_secs(5))
//!     .build()?;
//! let session = pool.session()?;
//! let key = find_key(&session, &KeySelector::label("ec-p256"))?;
//! drop(session); // back to the pool
//! let private = key.private.expect("a key pair");
//! let digest = [0u8; 32];
//! let signature = pool.run(|session| session.sign(&Mechanism::Ecdsa, private, &digest))?;
//! assert_eq!(signature.len(), 64);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cryptoki::error::RvError;
use cryptoki::mechanism::MechanismType;
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::{Limit, Slot};

use crate::error::{Error, Result};
use crate::key::{KeyInfo, KeySelector, find_key};
use crate::module::{Module, TokenSummary};
use crate::pin::Pin;
use crate::uri::Pkcs11Uri;

/// Environment variable naming the module for [`SessionPool::from_env`] (default: SoftHSM at
/// its usual paths).
pub const ENV_MODULE: &str = "HSM_MODULE";
/// Environment variable naming the token label for [`SessionPool::from_env`] (required).
pub const ENV_TOKEN: &str = "HSM_TOKEN";
/// Environment variable holding the user PIN for [`SessionPool::from_env`] (required).
pub const ENV_PIN: &str = "HSM_PIN";

/// How long [`SessionPool::session`] waits for a free session by default.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default session limit: twice the available parallelism, at least 4.
pub fn default_max_sessions() -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    (2 * cores).max(4)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadOnly,
    ReadWrite,
}

impl Access {
    fn other(self) -> Access {
        match self {
            Access::ReadOnly => Access::ReadWrite,
            Access::ReadWrite => Access::ReadOnly,
        }
    }
}

/// A pool of logged-in sessions on one token. Cheap to clone (clones share the pool);
/// `Send + Sync`. See the [module documentation](self).
#[derive(Clone)]
pub struct SessionPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    module: Module,
    slot: Slot,
    token_label: String,
    pin: Option<Pin>,
    /// Set once the token refused the PIN: it is never offered again.
    pin_refused: AtomicBool,
    max_sessions: usize,
    max_rw_sessions: usize,
    wait_timeout: Duration,
    mechanisms: Vec<MechanismType>,
    state: Mutex<State>,
    freed: Condvar,
    login: Mutex<()>,
    /// Incremented on every recovery: object handles found before may be stale.
    epoch: AtomicU64,
    /// The process whose sessions the pool holds; another value means a forked child.
    pid: AtomicU32,
}

#[derive(Default)]
struct State {
    idle_ro: Vec<Tracked>,
    idle_rw: Vec<Tracked>,
    /// Sessions open (idle, checked out, or being opened/closed), by access.
    open_ro: usize,
    open_rw: usize,
    waiters: usize,
}

impl State {
    fn idle(&mut self, access: Access) -> &mut Vec<Tracked> {
        match access {
            Access::ReadOnly => &mut self.idle_ro,
            Access::ReadWrite => &mut self.idle_rw,
        }
    }

    fn count(&mut self, access: Access) -> &mut usize {
        match access {
            Access::ReadOnly => &mut self.open_ro,
            Access::ReadWrite => &mut self.open_rw,
        }
    }

    fn open(&self) -> usize {
        self.open_ro + self.open_rw
    }
}

/// Which token a [`PoolBuilder`] opens: every criterion given must match.
#[derive(Debug, Clone, Default)]
struct TokenFilter {
    label: Option<String>,
    serial: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    slot_id: Option<u64>,
}

impl TokenFilter {
    fn is_empty(&self) -> bool {
        self.label.is_none()
            && self.serial.is_none()
            && self.manufacturer.is_none()
            && self.model.is_none()
            && self.slot_id.is_none()
    }

    fn matches(&self, token: &TokenSummary) -> bool {
        self.label.as_ref().is_none_or(|l| *l == token.label)
            && self.serial.as_ref().is_none_or(|s| *s == token.serial)
            && self
                .manufacturer
                .as_ref()
                .is_none_or(|m| *m == token.manufacturer)
            && self.model.as_ref().is_none_or(|m| *m == token.model)
            && self.slot_id.is_none_or(|id| id == token.slot.id())
    }

    /// The criteria in words; just the label when that is all there is.
    fn describe(&self) -> String {
        match self {
            TokenFilter {
                label: Some(label),
                serial: None,
                manufacturer: None,
                model: None,
                slot_id: None,
            } => label.clone(),
            _ => {
                let mut parts = Vec::new();
                let mut push = |name: &str, value: &Option<String>| {
                    if let Some(v) = value {
                        parts.push(format!("{name}={v}"));
                    }
                };
                push("token", &self.label);
                push("serial", &self.serial);
                push("manufacturer", &self.manufacturer);
                push("model", &self.model);
                push("slot-id", &self.slot_id.map(|id| id.to_string()));
                parts.join(";")
            }
        }
    }
}

/// Options for a [`SessionPool`]: which module and token, the PIN, and the limits.
///
/// ```no_run
/// use hsm_core::{Pin, SessionPool};
///
/// # fn main() -> hsm_core::Result<()> {
/// let pool = SessionPool::builder()
///     .token_label("signing") // module: SoftHSM at its usual paths
///     .pin(Pin::from_source("file:/run/secrets/hsm-pin")?)
///     .build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    module_path: Option<PathBuf>,
    token: TokenFilter,
    pin: Option<Pin>,
    max_sessions: Option<usize>,
    wait_timeout: Duration,
    first_access: Access,
}

impl Default for PoolBuilder {
    fn default() -> Self {
        PoolBuilder {
            module_path: None,
            token: TokenFilter::default(),
            pin: None,
            max_sessions: None,
            wait_timeout: DEFAULT_WAIT_TIMEOUT,
            first_access: Access::ReadOnly,
        }
    }
}

impl PoolBuilder {
    /// The PKCS#11 module file. Default: [`Module::default_path`].
    pub fn module(mut self, path: impl AsRef<Path>) -> Self {
        self.module_path = Some(path.as_ref().to_path_buf());
        self
    }

    /// Select the token by label (`CKA_LABEL` of the token, trailing blanks removed).
    pub fn token_label(mut self, label: impl Into<String>) -> Self {
        self.token.label = Some(label.into());
        self
    }

    /// Select the token by serial number.
    pub fn token_serial(mut self, serial: impl Into<String>) -> Self {
        self.token.serial = Some(serial.into());
        self
    }

    /// Select the token by slot id.
    pub fn slot_id(mut self, slot_id: u64) -> Self {
        self.token.slot_id = Some(slot_id);
        self
    }

    /// The user PIN. Without one the pool does not log in (public objects only).
    pub fn pin(mut self, pin: Pin) -> Self {
        self.pin = Some(pin);
        self
    }

    /// At most this many sessions open at once (default [`default_max_sessions`]). Lowered to
    /// the token's `ulMaxSessionCount` when the token states one; read-write sessions are also
    /// capped at `ulMaxRwSessionCount`.
    pub fn max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = Some(max);
        self
    }

    /// How long a checkout waits when every session is busy (default 30 s).
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Options from the environment: [`ENV_MODULE`] (optional), [`ENV_TOKEN`] and [`ENV_PIN`].
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](PoolBuilder::from_env), reading variables through `lookup` (for tests,
    /// or another configuration source).
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let missing = |name: &str, what: &str| Error::Config {
            reason: format!("{name} is not set ({what})"),
        };
        let mut builder = PoolBuilder::default();
        if let Some(module) = lookup(ENV_MODULE).filter(|m| !m.is_empty()) {
            builder = builder.module(module);
        }
        let token = lookup(ENV_TOKEN).ok_or_else(|| missing(ENV_TOKEN, "the token label"))?;
        let pin = lookup(ENV_PIN).ok_or_else(|| missing(ENV_PIN, "the user PIN"))?;
        Ok(builder.token_label(token).pin(Pin::new(pin)))
    }

    /// Options from a `pkcs11:` URI: `module-path` (or `module-name`, looked up in the usual
    /// library directories; default SoftHSM), the token attributes (`token`, `serial`,
    /// `manufacturer`, `model`, `slot-id`) and the PIN (`pin-value` or `pin-source`).
    pub fn from_uri(uri: &Pkcs11Uri) -> Result<Self> {
        let mut builder = PoolBuilder::default();
        if let Some(path) = uri.module_path() {
            builder = builder.module(path);
        } else if let Some(name) = uri.module_name() {
            builder = builder.module(find_module_by_name(name)?);
        }
        builder.token = TokenFilter {
            label: uri.token().map(str::to_owned),
            serial: uri.serial().map(str::to_owned),
            manufacturer: uri.manufacturer().map(str::to_owned),
            model: uri.model().map(str::to_owned),
            slot_id: uri.slot_id(),
        };
        builder.pin = uri.pin()?;
        Ok(builder)
    }

    /// Loads the module, finds the token, reads its limits and mechanisms, opens the first
    /// session and logs in.
    ///
    /// # Errors
    /// [`Error::ModuleLoad`], [`Error::TokenNotFound`] (listing the labels present), the PIN
    /// errors, [`Error::Config`] for contradictory options.
    pub fn build(self) -> Result<SessionPool> {
        let path = match self.module_path {
            Some(path) => path,
            None => Module::default_path().ok_or_else(|| Error::Config {
                reason: format!(
                    "no module path given, and SoftHSM is not at its usual paths; set {ENV_MODULE}"
                ),
            })?,
        };
        if self.token.is_empty() {
            return Err(Error::Config {
                reason: "no token selected: give a label, serial or slot id".to_owned(),
            });
        }
        let requested = self.max_sessions.unwrap_or_else(default_max_sessions);
        if requested == 0 {
            return Err(Error::Config {
                reason: "max_sessions must be at least 1".to_owned(),
            });
        }
        let module = Module::load(&path)?;
        let slot = module.find_token_matching(&self.token.describe(), |t| self.token.matches(t))?;
        let info = module.token_info(slot)?;
        let max_sessions = capped(requested, info.max_session_count());
        let max_rw_sessions = capped(max_sessions, info.max_rw_session_count());
        let mechanisms = module.mechanisms(slot)?;
        let pool = SessionPool {
            inner: Arc::new(PoolInner {
                module,
                slot,
                token_label: info.label().to_owned(),
                pin: self.pin,
                pin_refused: AtomicBool::new(false),
                max_sessions,
                max_rw_sessions,
                wait_timeout: self.wait_timeout,
                mechanisms,
                state: Mutex::new(State::default()),
                freed: Condvar::new(),
                login: Mutex::new(()),
                epoch: AtomicU64::new(0),
                pid: AtomicU32::new(std::process::id()),
            }),
        };
        // The first session logs in, and stays idle in the pool: it keeps the login alive.
        drop(pool.inner.checkout(self.first_access, true)?);
        Ok(pool)
    }
}

fn capped(requested: usize, limit: Limit) -> usize {
    match limit {
        Limit::Max(max) if max > 0 => requested.min(usize::try_from(max).unwrap_or(usize::MAX)),
        _ => requested,
    }
}

/// The file for a `module-name` (RFC 7512: the name without directory and suffix).
fn find_module_by_name(name: &str) -> Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name.contains("..") {
        return Err(Error::Config {
            reason: format!("invalid module-name {name:?}"),
        });
    }
    if matches!(name, "softhsm2" | "libsofthsm2")
        && let Some(path) = Module::default_path()
    {
        return Ok(path);
    }
    let dirs = [
        "/usr/lib/x86_64-linux-gnu/pkcs11",
        "/usr/lib/aarch64-linux-gnu/pkcs11",
        "/usr/lib64/pkcs11",
        "/usr/lib/pkcs11",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    let bare = name.trim_start_matches("lib");
    dirs.iter()
        .flat_map(|dir| {
            [
                format!("{dir}/{name}.so"),
                format!("{dir}/lib{bare}.so"),
                format!("{dir}/{name}"),
            ]
        })
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .ok_or_else(|| Error::Config {
            reason: format!("module-name {name:?} not found in the usual library directories"),
        })
}

impl SessionPool {
    /// A pool on the token labelled `token_label` of the module at `module_path`, logged in
    /// with `user_pin`, with default limits. See [`SessionPool::builder`] for the options.
    pub fn new(module_path: impl AsRef<Path>, token_label: &str, user_pin: Pin) -> Result<Self> {
        Self::builder()
            .module(module_path)
            .token_label(token_label)
            .pin(user_pin)
            .build()
    }

    /// Options for a pool.
    pub fn builder() -> PoolBuilder {
        PoolBuilder::default()
    }

    /// A pool configured by [`ENV_MODULE`], [`ENV_TOKEN`] and [`ENV_PIN`]
    /// (`SOFTHSM2_CONF` reaches SoftHSM through the environment as it is).
    pub fn from_env() -> Result<Self> {
        PoolBuilder::from_env()?.build()
    }

    /// A pool on the token a `pkcs11:` URI names (see [`PoolBuilder::from_uri`]).
    pub fn from_uri(uri: &Pkcs11Uri) -> Result<Self> {
        PoolBuilder::from_uri(uri)?.build()
    }

    /// Checks out a read-only session (which can still sign, decrypt, and create session
    /// objects). Waits up to the pool's `wait_timeout` when every session is busy.
    ///
    /// A thread may hold several guards at once (nested calls work while `max_sessions` allows).
    pub fn session(&self) -> Result<PooledSession> {
        self.inner.checkout(Access::ReadOnly, true)
    }

    /// Checks out a read-write session (to create or destroy token objects).
    pub fn session_rw(&self) -> Result<PooledSession> {
        self.inner.checkout(Access::ReadWrite, true)
    }

    /// Runs `f` on a read-only session, recovering once from a lost session or login.
    ///
    /// If `f` fails with a session-class error (`CKR_SESSION_HANDLE_INVALID`,
    /// `CKR_SESSION_CLOSED`, `CKR_DEVICE_REMOVED`, `CKR_TOKEN_NOT_PRESENT`,
    /// `CKR_USER_NOT_LOGGED_IN`), the session is discarded, never returned to the pool; a fresh
    /// session is opened and logged in if needed, and `f` runs once more. Object handles that `f`
    /// captured may be stale after a re-login: [`PoolKey::run`] looks them up again.
    ///
    /// A lost login can also show as `CKR_OBJECT_HANDLE_INVALID` (tokens drop private object
    /// handles at logout, and SoftHSM then reports the handle, not the login): when `f` fails
    /// that way and the session is no longer logged in, the pool recovers the same way.
    ///
    /// # Errors
    /// [`Error::Session`] when the retry fails the same way; otherwise the error of `f`, as
    /// [`Error::Pkcs11`] with the function name and return value.
    pub fn run<T>(
        &self,
        mut f: impl FnMut(&Session) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T> {
        self.run_with(Access::ReadOnly, |s| {
            f(s).map_err(|e| Error::from_cryptoki("running an operation", e))
        })
    }

    /// [`run`](SessionPool::run) on a read-write session.
    pub fn run_rw<T>(
        &self,
        mut f: impl FnMut(&Session) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T> {
        self.run_with(Access::ReadWrite, |s| {
            f(s).map_err(|e| Error::from_cryptoki("running an operation", e))
        })
    }

    fn run_with<T>(&self, access: Access, mut f: impl FnMut(&Session) -> Result<T>) -> Result<T> {
        let session = self.inner.checkout(access, true)?;
        match f(&session) {
            Err(error) if error.is_session_invalid() || self.inner.lost_login(&session, &error) => {
                session.discard();
                self.inner.recover(&error);
                let fresh = self.inner.checkout(access, false)?;
                let result = f(&fresh);
                if matches!(&result, Err(e) if e.is_session_invalid()) {
                    fresh.discard();
                }
                result
            }
            result => result,
        }
    }

    /// The module this pool uses (shared with every other pool on the same path).
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// The slot of the token.
    pub fn slot(&self) -> Slot {
        self.inner.slot
    }

    /// The token label.
    pub fn token_label(&self) -> &str {
        &self.inner.token_label
    }

    /// The effective session limit (after the token's own limit).
    pub fn max_sessions(&self) -> usize {
        self.inner.max_sessions
    }

    /// The checkout wait limit.
    pub fn wait_timeout(&self) -> Duration {
        self.inner.wait_timeout
    }

    /// The token's mechanisms, read once when the pool was built.
    pub fn mechanisms(&self) -> &[MechanismType] {
        &self.inner.mechanisms
    }

    /// True when the token lists `mechanism`.
    pub fn supports(&self, mechanism: MechanismType) -> bool {
        self.inner.mechanisms.contains(&mechanism)
    }

    /// [`Error::MechanismNotSupported`] unless the token lists `mechanism`.
    pub fn require(&self, mechanism: MechanismType) -> Result<()> {
        if self.supports(mechanism) {
            Ok(())
        } else {
            Err(Error::MechanismNotSupported {
                mechanism: mechanism.to_string(),
            })
        }
    }

    /// Sessions this pool has open (idle or checked out).
    pub fn open_sessions(&self) -> usize {
        self.inner.lock_state().open()
    }

    /// Sessions idle in the pool.
    pub fn idle_sessions(&self) -> usize {
        let state = self.inner.lock_state();
        state.idle_ro.len() + state.idle_rw.len()
    }

    /// The token's count of sessions open by this process, all pools and users together
    /// (`ulSessionCount` from `C_GetTokenInfo`), or `None` when the token does not say.
    pub fn token_session_count(&self) -> Result<Option<u64>> {
        self.inner.module.session_count(self.inner.slot)
    }

    /// Closes the idle sessions. Closing the process's last session on a token logs it out;
    /// the next checkout logs in again.
    pub fn close_idle(&self) {
        self.inner.close_idle();
    }

    /// A counter that changes whenever the pool recovered from a lost session or login. Object
    /// handles found under another value may be stale.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }
}

impl fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPool")
            .field("module", &self.inner.module.path())
            .field("token", &self.inner.token_label)
            .field("slot", &self.inner.slot.id())
            .field("max_sessions", &self.inner.max_sessions)
            .field("open_sessions", &self.open_sessions())
            .finish_non_exhaustive()
    }
}

impl PoolInner {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements: a panic elsewhere cannot corrupt it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wake(&self, state: &State) {
        if state.waiters > 0 {
            if self.max_rw_sessions < self.max_sessions {
                // A waiter for the other access may not be able to use what was freed.
                self.freed.notify_all();
            } else {
                self.freed.notify_one();
            }
        }
    }

    /// Hands out a session: an idle one (when `reuse_idle`), else a new one within the limits,
    /// else waits. With `reuse_idle` false a brand-new session is opened, replacing an idle one
    /// if the pool is full.
    fn checkout(self: &Arc<Self>, access: Access, reuse_idle: bool) -> Result<PooledSession> {
        self.start_over_after_fork()?;
        let mut state = self.lock_state();
        let mut deadline = None;
        // Set when the token refused a session (CKR_SESSION_COUNT) while the pool has some of
        // its own: the token's limit is below `max_sessions` (it may not state one, or other
        // applications hold sessions), so this checkout waits for one of ours, as when full.
        let mut token_full = false;
        loop {
            if reuse_idle && let Some(session) = state.idle(access).pop() {
                return Ok(PooledSession {
                    session: Some(session),
                    pool: Arc::clone(self),
                    access,
                });
            }
            let rw_ok = access == Access::ReadOnly || state.open_rw < self.max_rw_sessions;
            let full = state.open() >= self.max_sessions || (token_full && state.open() > 0);
            if rw_ok && !full {
                *state.count(access) += 1;
                drop(state);
                match self.open_counted(access) {
                    Err(error) if error.rv() == Some(RvError::SessionCount) => {
                        state = self.lock_state();
                        if state.open() == 0 {
                            return Err(error); // nothing of ours to wait for
                        }
                        token_full = true;
                        continue;
                    }
                    result => return result,
                }
            }
            // Full: trade an idle session of the other access (or, for a fresh session, of
            // this one) for a new session.
            let victim = rw_ok
                .then(|| {
                    state
                        .idle(access.other())
                        .pop()
                        .map(|s| (s, access.other()))
                })
                .flatten()
                .or_else(|| {
                    (!reuse_idle)
                        .then(|| state.idle(access).pop().map(|s| (s, access)))
                        .flatten()
                });
            if let Some((old, old_access)) = victim {
                *state.count(old_access) -= 1;
                *state.count(access) += 1;
                drop(state);
                drop(old); // C_CloseSession, outside the lock
                return self.open_counted(access);
            }
            let now = Instant::now();
            let deadline = *deadline.get_or_insert(now + self.wait_timeout);
            if now >= deadline {
                return Err(Error::PoolTimeout {
                    waited: self.wait_timeout,
                });
            }
            state.waiters += 1;
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner().0);
            state.waiters -= 1;
        }
    }

    /// Opens a session already counted in the state; uncounts it on failure.
    fn open_counted(self: &Arc<Self>, access: Access) -> Result<PooledSession> {
        match self.open_session(access) {
            Ok(session) => Ok(PooledSession {
                session: Some(session),
                pool: Arc::clone(self),
                access,
            }),
            Err(error) => {
                let mut state = self.lock_state();
                *state.count(access) -= 1;
                self.wake(&state);
                Err(error)
            }
        }
    }

    fn open_session(&self, access: Access) -> Result<Tracked> {
        let pkcs11 = self.module.pkcs11();
        let session = match access {
            Access::ReadOnly => pkcs11.open_ro_session(self.slot),
            Access::ReadWrite => pkcs11.open_rw_session(self.slot),
        }
        .map_err(|e| Error::from_cryptoki("opening a session", e))?;
        let session = Tracked::new(session, &self.module);
        self.ensure_login(session.session())?;
        Ok(session)
    }

    /// Logs in unless the application is already logged in to the token.
    fn ensure_login(&self, session: &Session) -> Result<()> {
        let Some(pin) = &self.pin else { return Ok(()) };
        let info = session
            .get_session_info()
            .map_err(|e| Error::from_cryptoki("reading session state", e))?;
        match info.session_state() {
            SessionState::RoUser | SessionState::RwUser => Ok(()),
            SessionState::RwSecurityOfficer => Err(Error::Config {
                reason: "the security officer is logged in to this token; the user cannot log in"
                    .to_owned(),
            }),
            SessionState::RoPublic | SessionState::RwPublic => {
                let _one_at_a_time = self
                    .login
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if self.pin_refused.load(Ordering::Acquire) {
                    return Err(Error::PinIncorrect);
                }
                let result = login_user(&self.module, self.slot, session, pin);
                if matches!(result, Err(Error::PinIncorrect)) {
                    self.pin_refused.store(true, Ordering::Release);
                }
                result
            }
        }
    }

    /// In a child process after `fork`: initialises the module again, drops the parent's idle
    /// sessions without closing them and forgets every session the parent had open (they are
    /// not this process's to count), and moves the epoch on. A `getpid` per checkout otherwise.
    fn start_over_after_fork(&self) -> Result<()> {
        let pid = std::process::id();
        if self.pid.load(Ordering::Acquire) == pid {
            return Ok(());
        }
        self.module.initialize_after_fork()?;
        let inherited = {
            let mut state = self.lock_state();
            if self.pid.swap(pid, Ordering::AcqRel) == pid {
                return Ok(()); // another thread of this child got here first
            }
            state.open_ro = 0;
            state.open_rw = 0;
            (
                std::mem::take(&mut state.idle_ro),
                std::mem::take(&mut state.idle_rw),
            )
        };
        drop(inherited); // Tracked::drop leaves the parent's sessions open
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn give_back(&self, session: Tracked, access: Access) {
        if session.is_inherited() {
            return; // checked out before a fork: not counted in this process (dropped unclosed)
        }
        let mut state = self.lock_state();
        state.idle(access).push(session);
        self.wake(&state);
    }

    fn forget(&self, session: Tracked, access: Access) {
        if session.is_inherited() {
            return; // as in give_back
        }
        drop(session); // C_CloseSession first, so the pool never exceeds its limit
        let mut state = self.lock_state();
        *state.count(access) -= 1;
        self.wake(&state);
    }

    fn close_idle(&self) {
        let (ro, rw) = {
            let mut state = self.lock_state();
            (
                std::mem::take(&mut state.idle_ro),
                std::mem::take(&mut state.idle_rw),
            )
        };
        let (closed_ro, closed_rw) = (ro.len(), rw.len());
        drop(ro);
        drop(rw);
        let mut state = self.lock_state();
        state.open_ro -= closed_ro;
        state.open_rw -= closed_rw;
        self.wake(&state);
    }

    /// True when `error` is a stale object handle because the login was lost: tokens drop the
    /// handles of private objects at logout, so after a `C_Logout` elsewhere in the process
    /// SoftHSM answers `CKR_OBJECT_HANDLE_INVALID`, not `CKR_USER_NOT_LOGGED_IN`. Costs a
    /// `C_GetSessionInfo`, on this error path only.
    fn lost_login(&self, session: &Session, error: &Error) -> bool {
        error.is_handle_invalid() && self.logged_out(session)
    }

    /// True when the pool should be logged in (it has a PIN) but `session` is not (or cannot
    /// say). A `C_GetSessionInfo`; for error paths.
    fn logged_out(&self, session: &Session) -> bool {
        self.pin.is_some()
            && match session.get_session_info() {
                Ok(info) => matches!(
                    info.session_state(),
                    SessionState::RoPublic | SessionState::RwPublic
                ),
                Err(_) => true,
            }
    }

    /// After a lost session or login: object handles may be stale from now on, and when the
    /// session itself died (not just the login), the idle sessions died with it.
    fn recover(&self, error: &Error) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let session_died = matches!(
            error.rv(),
            Some(
                RvError::SessionHandleInvalid
                    | RvError::SessionClosed
                    | RvError::DeviceRemoved
                    | RvError::TokenNotPresent
            )
        );
        if session_died {
            self.close_idle();
        }
    }
}

/// Logs the user in with `pin` after checking the token's PIN flags: a locked PIN or one on its
/// final try is not attempted. `CKR_USER_ALREADY_LOGGED_IN` is success.
pub(crate) fn login_user(module: &Module, slot: Slot, session: &Session, pin: &Pin) -> Result<()> {
    let info = module.token_info(slot)?;
    if info.user_pin_locked() {
        return Err(Error::PinLocked);
    }
    if info.user_pin_final_try() {
        return Err(Error::PinFinalTry);
    }
    match session.login(UserType::User, Some(&pin.to_auth_pin())) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
        Err(cryptoki::error::Error::Pkcs11(
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
            _,
        )) => Err(Error::PinIncorrect),
        Err(cryptoki::error::Error::Pkcs11(RvError::PinLocked, _)) => Err(Error::PinLocked),
        Err(other) => Err(Error::from_cryptoki("logging in", other)),
    }
}

/// A session opened by a pool, counted in [`Module::pool_sessions`] until it is closed.
struct Tracked {
    /// `Some` until dropped: [`Drop`] closes it, or leaves it open in a forked child.
    session: Option<Session>,
    /// The process that opened the session.
    pid: u32,
    // Dropped after `Drop::drop` has dealt with the session: the count goes down last.
    _count: SessionCount,
}

struct SessionCount(Arc<AtomicUsize>);

impl Tracked {
    fn new(session: Session, module: &Module) -> Self {
        let counter = module.pool_session_counter();
        counter.fetch_add(1, Ordering::AcqRel);
        Tracked {
            session: Some(session),
            pid: std::process::id(),
            _count: SessionCount(counter),
        }
    }

    fn session(&self) -> &Session {
        match &self.session {
            Some(session) => session,
            // Only `Drop::drop` takes the session.
            None => unreachable!("tracked session used while being dropped"),
        }
    }

    /// True in a forked child for a session its parent opened.
    fn is_inherited(&self) -> bool {
        self.pid != std::process::id()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        if self.is_inherited() {
            // The parent's session: C_CloseSession from the child could close it for the
            // parent too (a token reached over an inherited connection). Leave it alone.
            std::mem::forget(session);
        } else {
            drop(session); // C_CloseSession
        }
    }
}

impl Drop for SessionCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session checked out of a [`SessionPool`]. Derefs to [`Session`]; returns to the pool when
/// dropped. Owns what it needs (no lifetime), so it can be moved to another thread or kept next
/// to the pool.
pub struct PooledSession {
    /// `Some` until the guard is dropped or discarded.
    session: Option<Tracked>,
    pool: Arc<PoolInner>,
    access: Access,
}

impl PooledSession {
    /// Closes the session instead of returning it to the pool: use it after a session-class
    /// error ([`Error::is_session_invalid`]) when not going through [`SessionPool::run`].
    pub fn discard(mut self) {
        if let Some(session) = self.session.take() {
            self.pool.forget(session, self.access);
        }
    }

    /// True for a read-write session.
    pub fn is_read_write(&self) -> bool {
        self.access == Access::ReadWrite
    }
}

impl Deref for PooledSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        match &self.session {
            Some(tracked) => tracked.session(),
            // The session is only taken by `discard` and `drop`, which consume the guard.
            None => unreachable!("pooled session used after it was released"),
        }
    }
}

impl Drop for PooledSession {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.give_back(session, self.access);
        }
    }
}

impl fmt::Debug for PooledSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledSession")
            .field(
                "handle",
                &self.session.as_ref().map(|t| t.session().handle()),
            )
            .field("read_write", &self.is_read_write())
            .finish()
    }
}

/// One logged-in read-write session on the token labelled `token_label`: a private pool of one
/// session, for scripts and tools.
pub fn hsm_session(
    module_path: impl AsRef<Path>,
    token_label: &str,
    pin: Pin,
) -> Result<PooledSession> {
    let mut builder = SessionPool::builder()
        .module(module_path)
        .token_label(token_label)
        .pin(pin)
        .max_sessions(1);
    builder.first_access = Access::ReadWrite;
    builder.build()?.session_rw()
}

/// A key found through a pool, whose object handles are looked up again when they go stale.
///
/// Tokens may renumber private objects when the login is lost and regained; [`PoolKey::run`]
/// re-finds the key (with the same [`KeySelector`]) after the pool recovered, or when the token
/// answers `CKR_OBJECT_HANDLE_INVALID` / `CKR_KEY_HANDLE_INVALID`, and retries once. If the key
/// found then is a different key (other kind or public key), it fails rather than use it.
///
/// ```no_run
/// use hsm_core::cryptoki::mechanism::Mechanism;
/// use hsm_core::key::KeySelector;
/// use hsm_core::{PoolKey, SessionPool};
///
/// # fn main() -> hsm_core::Result<()> {
/// let pool = SessionPool::from_env()?;
/// let key = PoolKey::find(&pool, KeySelector::label("ec-p256"))?;
/// let digest = [0u8; 32];
/// let signature = key.run(|session, info| {
///     let private = info.private.ok_or(hsm_core::cryptoki::error::Error::InvalidValue)?;
///     session.sign(&Mechanism::Ecdsa, private, &digest)
/// })?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PoolKey {
    pool: SessionPool,
    selector: KeySelector,
    cache: Arc<Mutex<(u64, Arc<KeyInfo>)>>,
}

impl PoolKey {
    /// Finds the key now (errors surface here, not at first use).
    pub fn find(pool: &SessionPool, selector: KeySelector) -> Result<PoolKey> {
        let epoch = pool.epoch();
        let info = pool.run_with(Access::ReadOnly, |session| find_key(session, &selector))?;
        Ok(PoolKey {
            pool: pool.clone(),
            selector,
            cache: Arc::new(Mutex::new((epoch, Arc::new(info)))),
        })
    }

    /// The key's current description.
    pub fn info(&self) -> Arc<KeyInfo> {
        Arc::clone(&self.lock().1)
    }

    /// The selector the key is found by.
    pub fn selector(&self) -> &KeySelector {
        &self.selector
    }

    /// The pool.
    pub fn pool(&self) -> &SessionPool {
        &self.pool
    }

    /// Runs `f` with a pooled session and the key's current handles, recovering from a lost
    /// session (as [`SessionPool::run`]) and from stale handles (finding the key again).
    pub fn run<T>(
        &self,
        mut f: impl FnMut(&Session, &KeyInfo) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T> {
        let wrap = |e| Error::from_cryptoki("using a key", e);
        self.pool.run_with(Access::ReadOnly, |session| {
            let info = self.current(session)?;
            match f(session, &info).map_err(wrap) {
                // Stale because the login is gone: let the pool log in again and retry (the
                // epoch changes, so the retry finds the handles again).
                Err(error) if self.pool.inner.lost_login(session, &error) => Err(error),
                // Stale for another reason (another pool recovered): find the key again.
                Err(error) if error.is_handle_invalid() => {
                    let info = self.refresh(session, self.pool.epoch())?;
                    f(session, &info).map_err(wrap)
                }
                result => result,
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, (u64, Arc<KeyInfo>)> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn current(&self, session: &Session) -> Result<Arc<KeyInfo>> {
        let epoch = self.pool.epoch();
        {
            let cache = self.lock();
            if cache.0 == epoch {
                return Ok(Arc::clone(&cache.1));
            }
        }
        self.refresh(session, epoch)
    }

    fn refresh(&self, session: &Session, epoch: u64) -> Result<Arc<KeyInfo>> {
        match self.refresh_once(session, epoch) {
            // The search may have run while the login was lost, and another thread logged in
            // again before `logged_out` looked: the private half was missed, yet the session is
            // logged in now. One more search, logged in, tells that race from a changed key.
            Err(Error::KeyNotFound { .. }) => self.refresh_once(session, epoch),
            result => result,
        }
    }

    fn refresh_once(&self, session: &Session, epoch: u64) -> Result<Arc<KeyInfo>> {
        // Private objects are invisible without a login: a search then would find less, or
        // nothing. Let the pool log in again first.
        let login_lost = || Error::Session {
            function: "C_FindObjects",
            rv: RvError::UserNotLoggedIn,
        };
        let found = match find_key(session, &self.selector) {
            Err(Error::KeyNotFound { .. }) if self.pool.inner.logged_out(session) => {
                return Err(login_lost());
            }
            result => result?,
        };
        let mut cache = self.lock();
        let lost_objects = (cache.1.private.is_some() && found.private.is_none())
            || (cache.1.secret.is_some() && found.secret.is_none());
        if lost_objects && self.pool.inner.logged_out(session) {
            return Err(login_lost());
        }
        let known = &cache.1;
        let same_objects = found.private.is_some() == known.private.is_some()
            && found.secret.is_some() == known.secret.is_some();
        if !same_objects
            || found.kind != known.kind
            || (known.public_key.is_some() && found.public_key != known.public_key)
        {
            return Err(Error::KeyNotFound {
                what: format!(
                    "{} (the key found now is not the key found first)",
                    self.selector
                ),
            });
        }
        let found = Arc::new(found);
        *cache = (epoch, Arc::clone(&found));
        Ok(found)
    }
}

impl fmt::Debug for PoolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolKey")
            .field("selector", &self.selector)
            .field("info", &self.info())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_types_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<SessionPool>();
        send_sync::<PoolKey>();
        send::<PooledSession>();
    }

    #[test]
    fn env_configuration() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let builder = PoolBuilder::from_env_with(env(&[
            ("HSM_MODULE", "/m.so"),
            ("HSM_TOKEN", "t"),
            ("HSM_PIN", "p"),
        ]))
        .unwrap();
        assert_eq!(builder.module_path.as_deref(), Some(Path::new("/m.so")));
        assert_eq!(builder.token.label.as_deref(), Some("t"));
        assert_eq!(builder.pin.as_ref().map(Pin::expose_secret), Some("p"));
        assert!(!format!("{builder:?}").contains("\"p\""));
        let no_token = PoolBuilder::from_env_with(env(&[("HSM_PIN", "p")])).unwrap_err();
        assert!(no_token.to_string().contains("HSM_TOKEN"), "{no_token}");
        let no_pin = PoolBuilder::from_env_with(env(&[("HSM_TOKEN", "t")])).unwrap_err();
        assert!(no_pin.to_string().contains("HSM_PIN"), "{no_pin}");
    }

    #[test]
    fn uri_configuration() {
        let uri: Pkcs11Uri = "pkcs11:token=t;serial=s;slot-id=3?module-path=/m.so&pin-value=1234"
            .parse()
            .unwrap();
        let builder = PoolBuilder::from_uri(&uri).unwrap();
        assert_eq!(builder.module_path.as_deref(), Some(Path::new("/m.so")));
        assert_eq!(builder.token.describe(), "token=t;serial=s;slot-id=3");
        assert_eq!(builder.pin.as_ref().map(Pin::expose_secret), Some("1234"));
        assert!(find_module_by_name("../etc/passwd").is_err());
    }

    #[test]
    fn limits() {
        assert_eq!(capped(16, Limit::Max(4)), 4);
        assert_eq!(capped(2, Limit::Max(4)), 2);
        assert_eq!(capped(16, Limit::Max(0)), 16);
        assert_eq!(capped(16, Limit::Infinite), 16);
        assert_eq!(capped(16, Limit::Unavailable), 16);
        assert!(default_max_sessions() >= 4);
    }
}
