//! [`Module`]: a PKCS#11 library, loaded and initialised once per process.
//!
//! `C_Initialize` is process-wide state of the library: a second `C_Initialize` returns
//! `CKR_CRYPTOKI_ALREADY_INITIALIZED`, and a `C_Finalize` ends every session of every user in the
//! process. So [`Module::load`] keeps one instance per canonical path in a process-wide registry,
//! and every [`SessionPool`](crate::SessionPool) on that path shares it.
//!
//! Modules are never finalized by this crate: a loaded module stays initialised until the process
//! exits. Finalizing when the last pool goes away would race with a pool being created on
//! another thread, would invalidate every object handle held anywhere in the process, and many
//! modules handle a second `C_Initialize` in one process badly. If the library was already
//! initialised by someone else in the process (`CKR_CRYPTOKI_ALREADY_INITIALIZED`), the instance
//! is *adopted*: used as it is, and certainly not finalized by us.
//!
//! # Fork
//!
//! PKCS#11 state does not survive `fork`: a child process must call `C_Initialize` again and
//! must not use its parent's sessions. Each module remembers the process that initialised it;
//! [`Module::load`] and the session pools call `C_Initialize` again when they find themselves in
//! another process (`CKR_CRYPTOKI_ALREADY_INITIALIZED` there means the library carried its state
//! across the fork, as SoftHSM does, and is accepted too). The pools then drop the parent's
//! sessions without closing them (see [`SessionPool`](crate::SessionPool)).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::slot::Slot;

use crate::error::{Error, Result};

pub mod search;
mod tokens;

pub use search::SOFTHSM_PATHS;
pub use tokens::{READ_ATTEMPTS, TokenScan, TokenSummary, UnreadableSlot};

/// The module file for an RFC 7512 `module-name` (the file name without directory and
/// suffix: `softhsm2`, `opencryptoki`, `p11-kit-client`), looked for in the system's module
/// and library directories ([`search::MODULE_DIRS`]). This is the one search by name; every
/// crate of the workspace uses it (p11-fault through the same file, see [`search`]).
///
/// # Errors
/// [`Error::Config`] for a name with a directory in it, or one found nowhere.
pub fn find_module(name: &str) -> Result<PathBuf> {
    search::module_by_name(name).map_err(|why| Error::Config {
        reason: match why {
            search::NameError::Invalid => format!("invalid module-name {name:?}"),
            search::NameError::NotFound => {
                format!("module-name {name:?} not found in the usual library directories")
            }
        },
    })
}

/// A loaded and initialised PKCS#11 module. Cheap to clone; clones share the instance.
#[derive(Clone)]
pub struct Module {
    inner: Arc<ModuleInner>,
}

struct ModuleInner {
    path: PathBuf,
    pkcs11: Pkcs11,
    adopted: bool,
    /// Serialises token initialisation: SoftHSM offers one free slot at a time.
    admin: Mutex<()>,
    /// The process that last called `C_Initialize` (or adopted the module): another value means
    /// this is a forked child, which must initialise the library again.
    initialized_in: Mutex<u32>,
    /// Sessions opened through pools on this module and not yet closed.
    pool_sessions: Arc<AtomicUsize>,
}

fn registry() -> MutexGuard<'static, HashMap<PathBuf, Module>> {
    static REGISTRY: OnceLock<Mutex<HashMap<PathBuf, Module>>> = OnceLock::new();
    REGISTRY
        .get_or_init(Default::default)
        .lock()
        // A panic while holding the lock cannot leave the map half-updated: insert is the only
        // mutation, and it happens after the module is fully initialised.
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `C_Initialize` with OS locking (the library may be called from several threads), traced.
fn initialize(pkcs11: &Pkcs11) -> std::result::Result<(), cryptoki::error::Error> {
    crate::trace::traced(
        None,
        None,
        cryptoki::context::Function::Initialize,
        None,
        || pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)),
    )
}

impl Module {
    /// Loads and initialises the module at `path`, or returns the instance this process already
    /// has for it (paths are compared after canonicalisation, so a symlink and its target share
    /// one instance).
    ///
    /// `C_Initialize` is called with `CKF_OS_LOCKING_OK`; `CKR_CRYPTOKI_ALREADY_INITIALIZED` is
    /// accepted (see [`is_adopted`](Module::is_adopted)).
    ///
    /// # Errors
    /// [`Error::ModuleLoad`] naming the path when it does not exist, is not a shared library, is
    /// not a PKCS#11 module, or `C_Initialize` fails.
    pub fn load(path: impl AsRef<Path>) -> Result<Module> {
        let given = path.as_ref();
        let load_error = |reason: String| Error::ModuleLoad {
            path: given.to_path_buf(),
            reason,
        };
        let canonical = given
            .canonicalize()
            .map_err(|e| load_error(e.to_string()))?;
        if !canonical.is_file() {
            return Err(load_error("not a regular file".to_owned()));
        }
        let mut modules = registry();
        if let Some(module) = modules.get(&canonical) {
            module.initialize_after_fork()?;
            return Ok(module.clone());
        }
        let pkcs11 = Pkcs11::new(&canonical).map_err(|e| {
            load_error(match e {
                cryptoki::error::Error::MissingSymbol(symbol) => {
                    format!("not a PKCS#11 module (it has no {symbol})")
                }
                cryptoki::error::Error::LibraryLoading(e) => e.to_string(),
                other => other.to_string(),
            })
        })?;
        let adopted = match initialize(&pkcs11) {
            Ok(()) => false,
            Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => true,
            Err(e) => {
                return Err(load_error(format!(
                    "C_Initialize failed: {}",
                    Error::from_cryptoki("initialising the module", e)
                )));
            }
        };
        let module = Module {
            inner: Arc::new(ModuleInner {
                path: canonical.clone(),
                pkcs11,
                adopted,
                admin: Mutex::new(()),
                initialized_in: Mutex::new(std::process::id()),
                pool_sessions: Arc::default(),
            }),
        };
        modules.insert(canonical, module.clone());
        Ok(module)
    }

    /// Calls `C_Initialize` again if this process is not the one that initialised the module
    /// (a child after `fork`); returns whether it did. `CKR_CRYPTOKI_ALREADY_INITIALIZED` is
    /// accepted: some libraries carry their state across a fork.
    pub(crate) fn initialize_after_fork(&self) -> Result<bool> {
        let pid = std::process::id();
        let mut initialized_in = self
            .inner
            .initialized_in
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *initialized_in == pid {
            return Ok(false);
        }
        match initialize(&self.inner.pkcs11) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {
                *initialized_in = pid;
                Ok(true)
            }
            Err(e) => Err(Error::from_cryptoki(
                "initialising the module again after fork",
                e,
            )),
        }
    }

    /// The first SoftHSM module found at the usual install locations ([`SOFTHSM_PATHS`]).
    pub fn default_path() -> Option<PathBuf> {
        search::softhsm_path()
    }

    /// The canonical path the module was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The `cryptoki` context, for anything this crate does not wrap.
    pub fn pkcs11(&self) -> &Pkcs11 {
        &self.inner.pkcs11
    }

    /// True when `C_Initialize` had already been called by someone else in this process; the
    /// module is then used as it is.
    pub fn is_adopted(&self) -> bool {
        self.inner.adopted
    }

    /// True when both values are the same loaded instance.
    pub fn same_instance(&self, other: &Module) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Every slot of the module, with or without a token (`C_GetSlotList`).
    pub fn slots(&self) -> Result<Vec<Slot>> {
        self.pkcs11()
            .get_all_slots()
            .map_err(|e| Error::from_cryptoki("listing slots", e))
    }

    /// The number of sessions this process has open with the token in `slot`
    /// (`ulSessionCount`), or `None` when the token does not say (SoftHSM 2.6 does not: see
    /// [`pool_sessions`](Module::pool_sessions) for this crate's own count).
    pub fn session_count(&self, slot: Slot) -> Result<Option<u64>> {
        Ok(self.token_info(slot)?.session_count())
    }

    /// The number of sessions open through [`SessionPool`](crate::SessionPool)s (and
    /// [`hsm_session`](crate::hsm_session)) on this module, all tokens and pools together.
    ///
    /// This is this crate's own count. Tokens may report theirs in `ulSessionCount`
    /// ([`session_count`](Module::session_count)), but SoftHSM 2.6 does not (it returns
    /// `CK_UNAVAILABLE_INFORMATION`).
    pub fn pool_sessions(&self) -> usize {
        self.inner.pool_sessions.load(Ordering::Acquire)
    }

    /// The counter behind [`pool_sessions`](Module::pool_sessions).
    pub(crate) fn pool_session_counter(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.inner.pool_sessions)
    }

    /// Holds the module's administration lock (token initialisation).
    pub(crate) fn admin_lock(&self) -> MutexGuard<'_, ()> {
        self.inner
            .admin
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Module {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Module")
            .field("path", &self.inner.path)
            .field("adopted", &self.inner.adopted)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_path_names_the_path() {
        let error = Module::load("/nonexistent/libpkcs11-missing.so").unwrap_err();
        assert!(matches!(error, Error::ModuleLoad { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("/nonexistent/libpkcs11-missing.so"),
            "{error}"
        );
    }

    #[test]
    fn directory_is_refused() {
        let error = Module::load("/").unwrap_err();
        assert!(matches!(error, Error::ModuleLoad { .. }), "{error:?}");
    }

    #[test]
    fn module_names_are_names_not_paths() {
        for bad in ["", "../etc/passwd", "/usr/lib/libx.so", "a/b"] {
            assert!(
                matches!(find_module(bad), Err(Error::Config { reason }) if reason.contains("invalid")),
                "{bad:?}"
            );
        }
        assert!(matches!(
            find_module("no-such-pkcs11-module-anywhere"),
            Err(Error::Config { reason }) if reason.contains("not found")
        ));
    }

    #[test]
    fn module_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Module>();
        check::<Error>();
    }
}
