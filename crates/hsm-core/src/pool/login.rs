//! Logging in: the PIN checks before `C_Login`, one login at a time, and the process's record
//! of the PIN each token was logged in with.
//!
//! PKCS#11 login state belongs to the application and the token: once any pool of this process
//! logged in, `C_Login` answers `CKR_USER_ALREADY_LOGGED_IN` whatever the PIN, and new sessions
//! are logged in already. So a successful `C_Login` records, per (module, slot), an HMAC-SHA256
//! of the PIN under a random key made once per process ([`PinRecord`]); a pool that finds the
//! token logged in compares its own PIN's digest with the record and fails with
//! [`Error::PinIncorrect`] when they differ, without sending its PIN to the token. The PIN itself
//! is never stored beyond the pool's own [`Pin`] (zeroized on drop); the key and the digests
//! stay in this process's memory.
//!
//! When the token is logged in and there is no record (another library in the process logged
//! in, or the module was adopted), the pool cannot tell and accepts, as PKCS#11 does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, MutexGuard, OnceLock};

use cryptoki::error::RvError;
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use cryptoki::context::Function;

use super::{PoolInner, SessionPool};
use crate::error::{Error, Result};
use crate::module::Module;
use crate::pin::Pin;
use crate::trace::{POOL_TARGET, Scope, token_call, traced};

type HmacSha256 = Hmac<Sha256>;

impl SessionPool {
    /// `C_Login(CKU_CONTEXT_SPECIFIC)` with the pool's PIN (see [`PoolInner::context_login`]).
    pub(super) fn context_login(&self, session: &Session) -> Result<()> {
        self.inner.context_login(session)
    }
}

impl PoolInner {
    /// Logs in unless the application is already logged in to the token; when it is, checks
    /// that it was with this pool's PIN.
    pub(super) fn ensure_login(&self, session: &Session) -> Result<()> {
        let Some(pin) = &self.pin else { return Ok(()) };
        let info = traced(
            Some(self.slot),
            Some(&self.counters),
            Function::GetSessionInfo,
            None,
            || session.get_session_info(),
        )
        .map_err(|e| Error::from_cryptoki("reading session state", e))?;
        match info.session_state() {
            SessionState::RoUser | SessionState::RwUser => self.same_pin(pin),
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
                // The C_Login span gets the slot, and the call is counted, at build too.
                let _scope = Scope::enter(self.trace_context());
                // A refusal by C_Login itself is remembered too (it used to return early here):
                // a re-login after a lost login must not offer a refused PIN again.
                match login_user(&self.module, self.slot, session, pin) {
                    Ok(Login::Done) => {
                        self.counters.logged_in();
                        tracing::debug!(target: POOL_TARGET, slot = self.slot.id(),
                            user_type = "CKU_USER", "logged in");
                        Ok(())
                    }
                    Ok(Login::AlreadyLoggedIn) => self.same_pin(pin),
                    Err(error) => Err(error),
                }
                .inspect_err(|error| {
                    if matches!(error, Error::PinIncorrect) {
                        self.pin_refused.store(true, Ordering::Release);
                    }
                    // The kind of refusal only: never the PIN.
                    tracing::warn!(target: POOL_TARGET, slot = self.slot.id(),
                        user_type = "CKU_USER", error = %error, "login refused");
                })
            }
        }
    }

    /// `C_Login(CKU_CONTEXT_SPECIFIC)` with the pool's PIN, after an operation's init on a key
    /// that needs the PIN for every use. A refused PIN is [`Error::PinIncorrect`] (and never
    /// offered again by this pool); no PIN is [`Error::Config`].
    fn context_login(&self, session: &Session) -> Result<()> {
        let Some(pin) = &self.pin else {
            return Err(Error::Config {
                reason: "the key needs the PIN for every use, and the pool has no PIN".to_owned(),
            });
        };
        if self.pin_refused.load(Ordering::Acquire) {
            return Err(Error::PinIncorrect);
        }
        let login = traced(
            Some(self.slot),
            Some(&self.counters),
            Function::Login,
            None,
            || session.login(UserType::ContextSpecific, Some(&pin.to_auth_pin())),
        );
        match login {
            Ok(()) => Ok(()),
            Err(cryptoki::error::Error::Pkcs11(
                RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
                _,
            )) => {
                self.pin_refused.store(true, Ordering::Release);
                Err(Error::PinIncorrect)
            }
            Err(cryptoki::error::Error::Pkcs11(RvError::PinLocked, _)) => Err(Error::PinLocked),
            Err(other) => Err(Error::from_cryptoki("logging in for one operation", other)),
        }
    }

    /// The token is logged in: [`Error::PinIncorrect`] (remembered, never retried) when this
    /// process logged in with another PIN.
    fn same_pin(&self, pin: &Pin) -> Result<()> {
        if self.pin_refused.load(Ordering::Acquire) {
            return Err(Error::PinIncorrect);
        }
        match PinRecord::matches(&self.module, self.slot, pin)? {
            Some(false) => {
                self.pin_refused.store(true, Ordering::Release);
                Err(Error::PinIncorrect)
            }
            Some(true) | None => Ok(()),
        }
    }
}

/// What [`login_user`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Login {
    /// `C_Login` accepted the PIN (and it is recorded).
    Done,
    /// `CKR_USER_ALREADY_LOGGED_IN`: the PIN was not checked by the token.
    AlreadyLoggedIn,
}

/// Logs the user in with `pin` after checking the token's PIN flags: a locked PIN or one on its
/// final try is not attempted. A token whose information does not parse is tried without the
/// flag checks (they cannot be read).
pub(crate) fn login_user(
    module: &Module,
    slot: Slot,
    session: &Session,
    pin: &Pin,
) -> Result<Login> {
    if let Some(info) = module.readable_token_info(slot)? {
        if info.user_pin_locked() {
            return Err(Error::PinLocked);
        }
        if info.user_pin_final_try() {
            return Err(Error::PinFinalTry);
        }
    }
    // In a pool operation (a login again after a lost login), the span gets the pool's slot.
    let login = token_call(Function::Login, None, || {
        session.login(UserType::User, Some(&pin.to_auth_pin()))
    });
    match login {
        Ok(()) => {
            PinRecord::record(module, slot, pin)?;
            Ok(Login::Done)
        }
        Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
            Ok(Login::AlreadyLoggedIn)
        }
        Err(cryptoki::error::Error::Pkcs11(
            RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange,
            _,
        )) => Err(Error::PinIncorrect),
        Err(cryptoki::error::Error::Pkcs11(RvError::PinLocked, _)) => Err(Error::PinLocked),
        Err(other) => Err(Error::from_cryptoki("logging in", other)),
    }
}

/// The process's record of the PIN each token was logged in with: keyed digests only.
struct PinRecord;

type Records = HashMap<(PathBuf, u64), [u8; 32]>;

impl PinRecord {
    fn records() -> MutexGuard<'static, Records> {
        static RECORDS: OnceLock<Mutex<Records>> = OnceLock::new();
        RECORDS
            .get_or_init(Default::default)
            .lock()
            // Insert is the only mutation: a panic elsewhere cannot leave it half-done.
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The per-process HMAC key, made on first use.
    fn key() -> Result<&'static [u8; 32]> {
        static KEY: OnceLock<Option<Zeroizing<[u8; 32]>>> = OnceLock::new();
        KEY.get_or_init(|| {
            let mut key = Zeroizing::new([0u8; 32]);
            getrandom::fill(key.as_mut()).ok().map(|()| key)
        })
        .as_deref()
        .ok_or_else(|| Error::Config {
            reason: "the operating system gave no randomness for the PIN record".to_owned(),
        })
    }

    fn mac(pin: &Pin) -> Result<HmacSha256> {
        let mut mac =
            <HmacSha256 as KeyInit>::new_from_slice(Self::key()?).map_err(|_| Error::Config {
                reason: "the PIN record key was refused".to_owned(),
            })?;
        mac.update(pin.expose_secret().as_bytes());
        Ok(mac)
    }

    /// Records `pin` as the one the process logged in to (module, slot) with.
    fn record(module: &Module, slot: Slot, pin: &Pin) -> Result<()> {
        let digest: [u8; 32] = Self::mac(pin)?.finalize().into_bytes().into();
        Self::records().insert((module.path().to_path_buf(), slot.id()), digest);
        Ok(())
    }

    /// `Some(true)` when `pin` is the recorded one (compared in constant time), `Some(false)`
    /// when it is not, `None` when nothing is recorded.
    fn matches(module: &Module, slot: Slot, pin: &Pin) -> Result<Option<bool>> {
        let recorded = Self::records()
            .get(&(module.path().to_path_buf(), slot.id()))
            .copied();
        match recorded {
            None => Ok(None),
            Some(digest) => Ok(Some(Self::mac(pin)?.verify_slice(&digest).is_ok())),
        }
    }
}
