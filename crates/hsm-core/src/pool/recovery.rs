//! What the pool does about a failed PKCS#11 call: [`recovery`], the one classification of
//! return values, and the one retry loop that follows it.
//!
//! Every decision to open a new session, log in again, find a key again, try once more, read
//! token information again or wait for a session comes from [`recovery`]; `docs/sessions.md`
//! shows its table (a test checks the two agree). [`SessionPool::run`], [`SessionPool::run_rw`]
//! and [`PoolKey::run`](super::PoolKey::run) all go through `SessionPool::run_with`: one
//! operation runs its closure at most twice, whatever fails, and makes at most three
//! recoveries (the second and third only for failures before the closure ran again, such as
//! finding the key after a new login).

use std::sync::atomic::Ordering;

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::session::{Session, SessionState};

use super::checkout::Access;
use super::{PoolInner, SessionPool};
use crate::error::{Error, Result};
use crate::trace::{POOL_TARGET, Scope, traced};

/// What recovers from a PKCS#11 failure. See [`recovery`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Recovery {
    /// The session is gone, and with it every other session of the application on the token
    /// (they share the connection): drop them, open a new session (logging in), run again.
    NewSession,
    /// The login is gone (a `C_Logout` anywhere in the process, or the last session closed):
    /// log in again on a new session, find object handles again, run again. The idle sessions
    /// are kept.
    LoginAgain,
    /// An object handle is stale: tokens renumber private objects after a logout. If the login
    /// was lost, log in again; then find the key again and run again ([`PoolKey`] only; a plain
    /// [`SessionPool::run`] has no key to find and fails).
    ///
    /// [`PoolKey`]: super::PoolKey
    FindKeyAgain,
    /// The token refused for a moment (short of memory when opening a session): try once more
    /// as it is.
    RetryOnce,
    /// Token information could not be read for a moment (SoftHSM rereads its files without
    /// locking): read again, up to [`READ_ATTEMPTS`](crate::module::READ_ATTEMPTS) times with
    /// short pauses, then [`Error::TokenBusy`].
    ReadAgain,
    /// The token has no session left: wait for one of the pool's own (as when the pool is
    /// full), or fail when the pool holds none.
    WaitForSession,
    /// Nothing to recover: the caller gets the error.
    Fail,
}

/// What recovers from `function` returning `rv`: the one classification of PKCS#11 return
/// values that the pool, the module and [`Error`]'s helpers use. [`recovery_table`] prints it.
///
/// | return value | function | recovery |
/// | --- | --- | --- |
/// | `CKR_GENERAL_ERROR`, `CKR_TOKEN_NOT_PRESENT`, `CKR_DEVICE_MEMORY` | `C_GetSlotList`, `C_GetSlotInfo`, `C_GetTokenInfo` | [`ReadAgain`](Recovery::ReadAgain) |
/// | `CKR_SESSION_COUNT` | `C_OpenSession` | [`WaitForSession`](Recovery::WaitForSession) |
/// | `CKR_DEVICE_MEMORY` | `C_OpenSession` | [`RetryOnce`](Recovery::RetryOnce) |
/// | `CKR_SESSION_HANDLE_INVALID`, `CKR_SESSION_CLOSED`, `CKR_DEVICE_REMOVED`, `CKR_TOKEN_NOT_PRESENT` | any other | [`NewSession`](Recovery::NewSession) |
/// | `CKR_USER_NOT_LOGGED_IN` | any other | [`LoginAgain`](Recovery::LoginAgain) |
/// | `CKR_OBJECT_HANDLE_INVALID`, `CKR_KEY_HANDLE_INVALID` | any other | [`FindKeyAgain`](Recovery::FindKeyAgain) |
/// | anything else | any | [`Fail`](Recovery::Fail) |
///
/// Device failures (`CKR_DEVICE_ERROR`, `CKR_GENERAL_ERROR`, `CKR_FUNCTION_FAILED`, and
/// `CKR_DEVICE_MEMORY` from an operation) fail: nothing says they pass, a retry would add load
/// to a token already short of memory, and SoftHSM answers a tampered ciphertext with
/// `CKR_GENERAL_ERROR`, which must reach the caller as one decryption failure, not be tried
/// again. `CKR_DEVICE_MEMORY` from `C_OpenSession` is tried once more: that call is the pool's
/// own, made before any operation starts, so another try changes nothing but the outcome.
pub fn recovery(function: Function, rv: RvError) -> Recovery {
    use Function as F;
    use RvError as R;
    match (function, rv) {
        (
            F::GetSlotList | F::GetSlotInfo | F::GetTokenInfo,
            R::GeneralError | R::TokenNotPresent | R::DeviceMemory,
        ) => Recovery::ReadAgain,
        (F::OpenSession, R::SessionCount) => Recovery::WaitForSession,
        (F::OpenSession, R::DeviceMemory) => Recovery::RetryOnce,
        (_, R::SessionHandleInvalid | R::SessionClosed | R::DeviceRemoved | R::TokenNotPresent) => {
            Recovery::NewSession
        }
        (_, R::UserNotLoggedIn) => Recovery::LoginAgain,
        (_, R::ObjectHandleInvalid | R::KeyHandleInvalid) => Recovery::FindKeyAgain,
        _ => Recovery::Fail,
    }
}

/// The return values [`recovery_table`] shows, in its order.
const TABLE_RVS: &[RvError] = &[
    RvError::SessionHandleInvalid,
    RvError::SessionClosed,
    RvError::DeviceRemoved,
    RvError::TokenNotPresent,
    RvError::UserNotLoggedIn,
    RvError::ObjectHandleInvalid,
    RvError::KeyHandleInvalid,
    RvError::SessionCount,
    RvError::DeviceMemory,
    RvError::GeneralError,
    RvError::DeviceError,
    RvError::FunctionFailed,
    RvError::EncryptedDataInvalid,
    RvError::PinIncorrect,
];

/// The functions [`recovery_table`] distinguishes: those the pool and its users call.
const TABLE_FUNCTIONS: &[Function] = &[
    Function::GetSlotList,
    Function::GetSlotInfo,
    Function::GetTokenInfo,
    Function::OpenSession,
    Function::GetSessionInfo,
    Function::Login,
    Function::FindObjectsInit,
    Function::FindObjects,
    Function::GetAttributeValue,
    Function::SignInit,
    Function::Sign,
    Function::DecryptInit,
    Function::Decrypt,
    Function::UnwrapKey,
    Function::DeriveKey,
    Function::GenerateKeyPair,
    Function::GenerateRandom,
];

/// [`recovery`] as a Markdown table, computed from it: one row per return value the pool
/// treats specially (and a few device failures), naming the functions where the answer
/// depends on the function. `docs/sessions.md` contains this text; a test checks that it still
/// does.
pub fn recovery_table() -> String {
    let mut table = String::from("| return value | recovery |\n| --- | --- |\n");
    for &rv in TABLE_RVS {
        // The recoveries for this value, each with the functions that get it.
        let mut groups: Vec<(Recovery, Vec<&'static str>)> = Vec::new();
        for &function in TABLE_FUNCTIONS {
            let action = recovery(function, rv);
            let name = crate::error::c_name(function);
            match groups.iter_mut().find(|(a, _)| *a == action) {
                Some((_, names)) => names.push(name),
                None => groups.push((action, vec![name])),
            }
        }
        // The largest group is "any other function".
        groups.sort_by_key(|(_, names)| std::cmp::Reverse(names.len()));
        let cell = match groups.as_slice() {
            [(only, _)] => format!("{only:?}"),
            [(most, _), rest @ ..] => {
                let mut parts: Vec<String> = rest
                    .iter()
                    .map(|(action, names)| format!("{action:?} from {}", names.join(", ")))
                    .collect();
                parts.push(format!("{most:?} from any other function"));
                parts.join("; ")
            }
            [] => String::new(),
        };
        table.push_str(&format!("| `{}` | {cell} |\n", crate::error::rv_name(rv)));
    }
    table
}

impl SessionPool {
    /// Runs `f` on a read-only session, recovering once from a lost session or login.
    ///
    /// When `f` fails, [`recovery`] says what to do: on a lost session the session is
    /// discarded (never returned to the pool), with the idle ones, and `f` runs again on a
    /// fresh session, logged in; on a lost login likewise, keeping the idle sessions. `f` runs
    /// at most twice. Object
    /// handles that `f` captured may be stale after a re-login: [`PoolKey::run`] looks them up
    /// again.
    ///
    /// A lost login can also show as `CKR_OBJECT_HANDLE_INVALID` (tokens drop private object
    /// handles at logout, and SoftHSM then reports the handle, not the login): when `f` fails
    /// that way and the session is no longer logged in, the pool recovers the same way.
    ///
    /// [`PoolKey::run`]: super::PoolKey::run
    ///
    /// # Errors
    /// [`Error::Session`] when the retry fails with a lost session too; otherwise the error of
    /// `f`, as [`Error::Pkcs11`] with the function and return value.
    pub fn run<T>(
        &self,
        mut f: impl FnMut(&Session) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T> {
        self.run_with(
            Access::ReadOnly,
            |s| {
                f(s).map_err(|e| {
                    Failed::in_closure(Error::from_cryptoki("running an operation", e))
                })
            },
            None,
        )
    }

    /// [`run`](SessionPool::run) on a read-write session.
    pub fn run_rw<T>(
        &self,
        mut f: impl FnMut(&Session) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T> {
        self.run_with(
            Access::ReadWrite,
            |s| {
                f(s).map_err(|e| {
                    Failed::in_closure(Error::from_cryptoki("running an operation", e))
                })
            },
            None,
        )
    }

    /// The one retry loop. `attempt` says, when it fails, whether the caller's closure ran
    /// (a key lookup before it may fail first). The closure runs at most twice; at most
    /// [`MAX_RECOVERIES`] recoveries are made, so at most four attempts. `forget_handles` is
    /// given for key operations: it makes the next attempt find the key again.
    pub(super) fn run_with<T>(
        &self,
        access: Access,
        mut attempt: impl FnMut(&Session) -> Result<T, Failed>,
        forget_handles: Option<&dyn Fn()>,
    ) -> Result<T> {
        // Token calls made in the closures get the pool's slot and counters.
        let _scope = Scope::enter(self.inner.trace_context());
        let mut session = self.inner.checkout(access, true)?;
        let mut runs = 0u32;
        let mut recoveries = 0u32;
        // Set once the pool replaced a lost session or login for this operation.
        let mut recovered_from: Option<Recovery> = None;
        loop {
            let Failed {
                error,
                closure_ran,
                recoverable,
            } = match attempt(&session) {
                Ok(value) => {
                    if let Some(action) = recovered_from {
                        self.inner.counters.recovered();
                        tracing::info!(target: POOL_TARGET, slot = self.inner.slot.id(),
                            recovery = ?action, "recovered: the operation ran on a new session");
                    }
                    return Ok(value);
                }
                Err(failed) => failed,
            };
            if !recoverable {
                return Err(error);
            }
            runs += u32::from(closure_ran);
            let again = runs < 2 && recoveries < MAX_RECOVERIES;
            session =
                match self
                    .inner
                    .decide(&session, &error, forget_handles.is_some(), closure_ran)
                {
                    action @ (Recovery::NewSession | Recovery::LoginAgain) => {
                        self.inner.lost(action, &error, again);
                        // Never back to the pool: it is dead, or not logged in.
                        session.discard();
                        if !again {
                            return Err(error);
                        }
                        self.inner.recover(action);
                        recovered_from = Some(action);
                        self.inner.checkout(access, false)?
                    }
                    Recovery::FindKeyAgain if again => {
                        tracing::info!(target: POOL_TARGET, slot = self.inner.slot.id(),
                            recovery = ?Recovery::FindKeyAgain,
                            rv = error.rv().map(crate::error::rv_name),
                            "stale key handles: finding the key again");
                        if let Some(forget) = forget_handles {
                            forget();
                        }
                        session
                    }
                    Recovery::RetryOnce if again => session,
                    Recovery::FindKeyAgain
                    | Recovery::RetryOnce
                    | Recovery::ReadAgain
                    | Recovery::WaitForSession
                    | Recovery::Fail => return Err(error),
                };
            recoveries += 1;
        }
    }
}

/// How many recoveries one operation makes at most: one for a failure of the closure, and up to
/// two for failures before the closure ran again (finding the key after a new login, while
/// something else in the process logs out again). The closure still runs at most twice.
pub(super) const MAX_RECOVERIES: u32 = 3;

/// A failed attempt of [`SessionPool::run_with`]: the error, and whether the caller's closure
/// ran (and so counts towards its two runs).
pub(super) struct Failed {
    pub(super) error: Error,
    pub(super) closure_ran: bool,
    /// False when the error is known not to be a lost session or login whatever its return
    /// value says (a key that needs a context-specific login): no recovery.
    pub(super) recoverable: bool,
}

impl Failed {
    /// The closure ran and failed.
    pub(super) fn in_closure(error: Error) -> Self {
        Failed {
            error,
            closure_ran: true,
            recoverable: true,
        }
    }

    /// The closure failed in a way no recovery helps.
    pub(super) fn unrecoverable(error: Error) -> Self {
        Failed {
            error,
            closure_ran: true,
            recoverable: false,
        }
    }

    /// A step before the closure (finding the key again) failed; the closure did not run.
    pub(super) fn before_closure(error: Error) -> Self {
        Failed {
            error,
            closure_ran: false,
            recoverable: true,
        }
    }
}

impl PoolInner {
    /// What to do about `error` from an attempt on `session`: [`recovery`], refined by what
    /// only the session can tell (was the login lost?) and by whether there is a key to find.
    fn decide(
        &self,
        session: &Session,
        error: &Error,
        has_key: bool,
        closure_ran: bool,
    ) -> Recovery {
        match error.recovery() {
            // A stale handle because the login is gone: SoftHSM reports the handle, not the
            // login, after a C_Logout elsewhere in the process.
            Recovery::FindKeyAgain if self.logged_out(session) => Recovery::LoginAgain,
            Recovery::FindKeyAgain if has_key => Recovery::FindKeyAgain,
            Recovery::FindKeyAgain => Recovery::Fail,
            // Finding a known key again missed it, or its private half: private objects are
            // invisible without a login, and the login may have been lost and regained by
            // another thread since the search (so the session state cannot tell). Log in again
            // on a new session and search once more; a key really gone is not found then either.
            Recovery::Fail
                if has_key && !closure_ran && matches!(error, Error::KeyNotFound { .. }) =>
            {
                Recovery::LoginAgain
            }
            // The first search for a key (`PoolKey::find`) missed it because the login is gone.
            Recovery::Fail
                if has_key
                    && matches!(error, Error::KeyNotFound { .. })
                    && self.logged_out(session) =>
            {
                Recovery::LoginAgain
            }
            other => other,
        }
    }

    /// True when the pool should be logged in (it has a PIN) but `session` is not (or cannot
    /// say). A `C_GetSessionInfo`; for error paths.
    pub(super) fn logged_out(&self, session: &Session) -> bool {
        self.pin.is_some()
            && match traced(
                Some(self.slot),
                Some(&self.counters),
                Function::GetSessionInfo,
                None,
                || session.get_session_info(),
            ) {
                Ok(info) => matches!(
                    info.session_state(),
                    SessionState::RoPublic | SessionState::RwPublic
                ),
                Err(_) => true,
            }
    }

    /// Counts and reports a lost session or login; `again`: the pool recovers.
    fn lost(&self, action: Recovery, error: &Error, again: bool) {
        match action {
            Recovery::NewSession => self.counters.session_lost(),
            _ => self.counters.login_lost(),
        }
        let function = error.function().map(crate::error::c_name);
        let rv = error.rv().map(crate::error::rv_name);
        if again {
            tracing::warn!(target: POOL_TARGET, slot = self.slot.id(), recovery = ?action,
                function, rv, "session or login lost: recovering");
        } else {
            tracing::warn!(target: POOL_TARGET, slot = self.slot.id(), recovery = ?action,
                function, rv, "session or login lost again: giving up");
        }
    }

    /// After a lost session or login: object handles may be stale from now on, and when the
    /// session itself died (not just the login), the idle sessions died with it.
    fn recover(&self, action: Recovery) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if action == Recovery::NewSession {
            self.close_idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_sessions_logins_and_handles() {
        assert_eq!(
            recovery(Function::SignInit, RvError::SessionHandleInvalid),
            Recovery::NewSession
        );
        assert_eq!(
            recovery(Function::FindObjectsInit, RvError::SessionClosed),
            Recovery::NewSession
        );
        assert_eq!(
            recovery(Function::DecryptInit, RvError::UserNotLoggedIn),
            Recovery::LoginAgain
        );
        assert_eq!(
            recovery(Function::Sign, RvError::KeyHandleInvalid),
            Recovery::FindKeyAgain
        );
        assert_eq!(
            recovery(Function::OpenSession, RvError::DeviceMemory),
            Recovery::RetryOnce
        );
        assert_eq!(
            recovery(Function::GetTokenInfo, RvError::GeneralError),
            Recovery::ReadAgain
        );
        assert_eq!(
            recovery(Function::GetTokenInfo, RvError::TokenNotPresent),
            Recovery::ReadAgain
        );
        assert_eq!(
            recovery(Function::OpenSession, RvError::SessionCount),
            Recovery::WaitForSession
        );
    }

    #[test]
    fn device_failures_and_bad_data_fail() {
        for (function, rv) in [
            (Function::Decrypt, RvError::GeneralError),
            (Function::Decrypt, RvError::EncryptedDataInvalid),
            (Function::Sign, RvError::DeviceError),
            (Function::GetAttributeValue, RvError::GeneralError),
            (Function::Login, RvError::PinIncorrect),
            (Function::Sign, RvError::FunctionFailed),
            (Function::Sign, RvError::DeviceMemory),
        ] {
            assert_eq!(recovery(function, rv), Recovery::Fail, "{function} {rv:?}");
        }
    }
}
