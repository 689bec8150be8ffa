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
//! - [`SessionPool::run`] runs a closure on a pooled session and recovers once from a lost
//!   session or login, as [`recovery`] classifies the failure: a new session (dropping the idle
//!   ones, which died together), a new login, or one more try. The closure runs at most twice.
//! - [`PoolKey`] does the same for key operations, and also finds the key's handles again when
//!   they went stale (tokens renumber private objects after a logout); still at most two runs.
//!
//! # The rooms of this module
//!
//! | file | job |
//! | --- | --- |
//! | `config.rs` | [`PoolBuilder`]: module, token, PIN and limits from code, the environment or a URI; building the pool |
//! | `checkout.rs` | handing sessions out and taking them back ([`PooledSession`]), the limits, waiting |
//! | `login.rs` | logging in, PIN checks, the per-process record of the PIN each token was logged in with |
//! | `recovery.rs` | [`recovery`]: the one classification of PKCS#11 return values, and the one retry loop |
//! | `fork.rs` | starting over in a child process after `fork` |
//! | `key.rs` | [`PoolKey`]: a key whose handles survive a re-login |
//! | `sizing.rs` | [`pool_size`]: the session limit from the request and the token's own limits |
//! | `stats.rs` | [`PoolStats`]: gauges and counters for metrics exporters |
//! | `always_authenticate.rs` | keys that need the PIN for every use: the context-specific login between an operation's init and its data |
//!
//! # Login
//!
//! PKCS#11 login state belongs to the application and the token, not to a session: the pool logs
//! in once, when it is built. A refused PIN is
//! reported as [`Error::PinIncorrect`] and never tried again by this pool; a token that reports
//! its PIN locked, or one attempt left, is not tried at all ([`Error::PinLocked`],
//! [`Error::PinFinalTry`]). The PIN is kept, zeroized on drop, only to log in again after the
//! login was lost (a `C_Logout` anywhere in the process, or every session closed).
//!
//! Because login state is shared, `C_Login` on a token the process is already logged in to
//! answers `CKR_USER_ALREADY_LOGGED_IN` whatever the PIN. So the process remembers, per module
//! and slot, a keyed digest of the PIN it logged in with (HMAC-SHA256 under a random key made
//! once per process; never the PIN itself), and a pool whose PIN has another digest fails with
//! [`Error::PinIncorrect`] without a second `C_Login`. The pool never calls `C_Logout`, which
//! would log out every other user of the token in the process.
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
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cryptoki::mechanism::{MechanismInfo, MechanismType};
use cryptoki::slot::Slot;

use crate::error::{Error, Result};
use crate::module::Module;
use crate::pin::Pin;
use crate::uri::Pkcs11Uri;

mod always_authenticate;
mod checkout;
mod config;
mod fork;
mod key;
mod login;
mod recovery;
mod sizing;
mod stats;

pub use checkout::PooledSession;
use checkout::{Access, State};
pub use config::{
    DEFAULT_WAIT_TIMEOUT, ENV_MODULE, ENV_PIN, ENV_TOKEN, PoolBuilder, default_max_sessions,
};
pub use key::PoolKey;
pub use recovery::{Recovery, recovery, recovery_table};
pub use sizing::{PoolSize, TOKEN_HEADROOM, pool_size};
pub(crate) use stats::PoolCounters;
pub use stats::PoolStats;

/// A pool of logged-in sessions on one token. Cheap to clone (clones share the pool);
/// `Send + Sync`. See the [module documentation](self).
#[derive(Clone)]
pub struct SessionPool {
    inner: Arc<PoolInner>,
}

/// What the rooms share. Each field is used by the room its comment names.
struct PoolInner {
    module: Module,
    slot: Slot,
    token_label: String,
    /// login.rs: the PIN, kept to log in again after the login was lost.
    pin: Option<Pin>,
    /// login.rs: set once the token refused the PIN: it is never offered again.
    pin_refused: AtomicBool,
    /// login.rs: one login at a time.
    login: Mutex<()>,
    /// checkout.rs: the limits.
    max_sessions: usize,
    max_rw_sessions: usize,
    wait_timeout: Duration,
    /// The token's mechanisms with what it says about each, read once at build.
    mechanisms: Vec<MechanismType>,
    mechanism_infos: Vec<(MechanismType, Option<MechanismInfo>)>,
    /// The module's `C_GetInfo` (manufacturer, description, version), read once when the pool
    /// was built; `None` when the module would not answer.
    library_info: Option<cryptoki::context::Info>,
    /// checkout.rs: idle sessions and counts.
    state: Mutex<State>,
    /// recovery.rs: incremented on every recovery: object handles found before may be stale.
    epoch: AtomicU64,
    /// fork.rs: the process whose sessions the pool holds; another value means a forked child.
    pid: AtomicU32,
    /// stats.rs: the counters, shared with the token calls made in the pool's operations.
    counters: Arc<PoolCounters>,
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

    /// The module this pool uses (shared with every other pool on the same path).
    pub fn module(&self) -> &Module {
        &self.inner.module
    }

    /// The slot of the token.
    pub fn slot(&self) -> Slot {
        self.inner.slot
    }

    /// The token label (`slot N` when the token's information could not be parsed and the
    /// token was selected by slot id).
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

    /// What the token says about `mechanism` (`C_GetMechanismInfo`, read once when the pool was
    /// built): the operations it serves it for (`sign()`, `decrypt()`, `derive()`, `wrap()`,
    /// `unwrap()`, `generate()`, `generate_key_pair()`, ...) and the key sizes
    /// (`min_key_size()`, `max_key_size()`, in bits or bytes as the mechanism defines). `None`
    /// when the token does not list the mechanism, or would not describe it.
    pub fn mechanism_info(&self, mechanism: MechanismType) -> Option<&MechanismInfo> {
        self.inner
            .mechanism_infos
            .iter()
            .find(|(m, _)| *m == mechanism)
            .and_then(|(_, info)| info.as_ref())
    }

    /// The module's `C_GetInfo` (`manufacturer_id()`, `library_description()`,
    /// `library_version()`), read once when the pool was built; `None` when the module would
    /// not answer. Lets a caller recognise a module with a known defect.
    pub fn library_info(&self) -> Option<&cryptoki::context::Info> {
        self.inner.library_info.as_ref()
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
    /// What the token calls made for this pool record: its slot, its counters.
    fn trace_context(&self) -> crate::trace::Context {
        crate::trace::Context {
            slot: self.slot,
            counters: Arc::clone(&self.counters),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements: a panic elsewhere cannot corrupt it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One logged-in read-write session on the token labelled `token_label`: a private pool of one
/// session, for scripts and tools.
pub fn hsm_session(
    module_path: impl AsRef<Path>,
    token_label: &str,
    pin: Pin,
) -> Result<PooledSession> {
    SessionPool::builder()
        .module(module_path)
        .token_label(token_label)
        .pin(pin)
        .max_sessions(1)
        .first_access(Access::ReadWrite)
        .build()?
        .session_rw()
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
}
