//! Keys that need the PIN for every use (`CKA_ALWAYS_AUTHENTICATE`, common on smart cards and
//! some HSM policies): the context-specific login between an operation's init and its data.
//!
//! PKCS#11 wants `C_SignInit` (or `C_DecryptInit`), then `C_Login(CKU_CONTEXT_SPECIFIC, PIN)`,
//! then the data. `cryptoki` 0.12 wraps single-part `C_Sign` and `C_Decrypt` only together
//! with their own init, so the login cannot go between them without unsafe code (which
//! hsm-core forbids); the multi-part calls can carry it: init, login, `C_SignUpdate` /
//! `C_DecryptUpdate`, then `C_SignFinal` / `C_DecryptFinal`. That covers the mechanisms a token
//! runs in parts: on SoftHSM 2.6 signing with `CKM_SHA*_RSA_PKCS`, `CKM_SHA*_RSA_PKCS_PSS` and
//! `CKM_SHA*_HMAC`, and decryption with AES modes. It does not cover `CKM_ECDSA` and
//! `CKM_EDDSA` (SoftHSM signs those in one part only), nor RSA decryption (`CKM_RSA_PKCS_OAEP`:
//! SoftHSM answers `C_DecryptUpdate` with `CKR_FUNCTION_NOT_SUPPORTED`); those need a
//! single-part call after a separate init, which needs a `cryptoki` that exposes it.
//!
//! `CKR_USER_NOT_LOGGED_IN` from such a key's data call is not a lost login: [`PoolKey::run`]
//! asks the key (one `C_GetAttributeValue`, on that error path only) and reports
//! [`Error::ContextLoginRequired`] without a retry.

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::Session;

use super::PoolKey;
use super::recovery::Failed;
use crate::error::{Error, Result};
use crate::key::KeyInfo;
use crate::trace::token_call;

impl PoolKey {
    /// True when the token says the private (or secret) key needs the PIN for every use
    /// (`CKA_ALWAYS_AUTHENTICATE`). One `C_GetAttributeValue`; false for a key without the
    /// attribute.
    pub fn always_authenticate(&self) -> Result<bool> {
        self.run_key(|session, info| {
            always_authenticate(session, info)
                .map_err(|e| Failed::in_closure(Error::from_cryptoki("reading a key", e)))
        })
    }

    /// Signs `data` with a key that needs the PIN for every use: `C_SignInit`,
    /// `C_Login(CKU_CONTEXT_SPECIFIC)` with the pool's PIN, `C_SignUpdate`, `C_SignFinal`.
    /// `mechanism` must be one the token runs in parts: on SoftHSM 2.6 `CKM_SHA*_RSA_PKCS`,
    /// `CKM_SHA*_RSA_PKCS_PSS` and `CKM_SHA*_HMAC`, not `CKM_ECDSA` or `CKM_EDDSA` (`cryptoki`
    /// 0.12 wraps single-part `C_Sign` only with its own init, so the login cannot go
    /// between). A lost session or login is recovered as by [`PoolKey::run`].
    ///
    /// # Errors
    /// [`Error::PinIncorrect`] when the token refuses the PIN (never offered again by this
    /// pool); [`Error::Pkcs11`] for the token's refusal of the mechanism in parts
    /// (`CKR_MECHANISM_INVALID`, `CKR_OPERATION_NOT_INITIALIZED` after the update, ...).
    pub fn sign_authenticated(&self, mechanism: &Mechanism<'_>, data: &[u8]) -> Result<Vec<u8>> {
        self.run_key(|session, info| {
            let key = private(info)?;
            let m = Some(mechanism.mechanism_type());
            token_call(Function::SignInit, m, || session.sign_init(mechanism, key))
                .map_err(|e| Failed::in_closure(Error::from_cryptoki("signing", e)))?;
            self.pool().context_login(session).map_err(unless_lost)?;
            token_call(Function::SignUpdate, m, || session.sign_update(data))
                .and_then(|()| token_call(Function::SignFinal, m, || session.sign_final()))
                .map_err(|e| Failed::in_closure(Error::from_cryptoki("signing", e)))
        })
    }

    /// Decrypts `data` with a key that needs the PIN for every use: `C_DecryptInit`,
    /// `C_Login(CKU_CONTEXT_SPECIFIC)`, `C_DecryptUpdate`, `C_DecryptFinal`. As
    /// [`sign_authenticated`](PoolKey::sign_authenticated); the token must decrypt with
    /// `mechanism` in parts (SoftHSM 2.6: AES modes, not RSA-OAEP).
    pub fn decrypt_authenticated(&self, mechanism: &Mechanism<'_>, data: &[u8]) -> Result<Vec<u8>> {
        self.run_key(|session, info| {
            let key = private(info)?;
            session
                .decrypt_init(mechanism, key)
                .map_err(|e| Failed::in_closure(Error::from_cryptoki("decrypting", e)))?;
            self.pool().context_login(session).map_err(unless_lost)?;
            let mut plain = session
                .decrypt_update(data)
                .map_err(|e| Failed::in_closure(Error::from_cryptoki("decrypting", e)))?;
            plain.extend(
                session
                    .decrypt_final()
                    .map_err(|e| Failed::in_closure(Error::from_cryptoki("decrypting", e)))?,
            );
            Ok(plain)
        })
    }

    /// For an error of [`run`](PoolKey::run)'s closure: [`Error::ContextLoginRequired`] when
    /// it is `CKR_USER_NOT_LOGGED_IN` from a data call and the key needs the PIN for every use.
    pub(super) fn context_login_required(
        &self,
        session: &Session,
        info: &KeyInfo,
        error: &Error,
    ) -> Option<Error> {
        let data_call = matches!(
            error.function(),
            Some(
                Function::Sign
                    | Function::SignUpdate
                    | Function::SignFinal
                    | Function::Decrypt
                    | Function::DecryptUpdate
                    | Function::DecryptFinal
            )
        );
        let refused = data_call && error.rv() == Some(RvError::UserNotLoggedIn);
        match (refused, error.function()) {
            (true, Some(function)) if always_authenticate(session, info).unwrap_or(false) => {
                Some(Error::ContextLoginRequired {
                    what: self.selector().to_string(),
                    function,
                })
            }
            _ => None,
        }
    }
}

/// `CKA_ALWAYS_AUTHENTICATE` of the key's private (or secret) object.
fn always_authenticate(
    session: &Session,
    info: &KeyInfo,
) -> std::result::Result<bool, cryptoki::error::Error> {
    let Some(handle) = info.private_or_secret() else {
        return Ok(false);
    };
    let attributes = token_call(Function::GetAttributeValue, None, || {
        session.get_attributes(handle, &[AttributeType::AlwaysAuthenticate])
    })?;
    Ok(attributes
        .iter()
        .any(|a| matches!(a, Attribute::AlwaysAuthenticate(true))))
}

/// The private (or secret) object, or a final [`Error::KeyNotFound`].
fn private(info: &KeyInfo) -> std::result::Result<cryptoki::object::ObjectHandle, Failed> {
    info.private_or_secret().ok_or_else(|| {
        Failed::unrecoverable(Error::KeyNotFound {
            what: format!("the private or secret half of {:?}", info.label),
        })
    })
}

/// A failed context-specific login: PIN errors are final; a lost session is recovered.
fn unless_lost(error: Error) -> Failed {
    if error.is_pin_error() || matches!(error, Error::Config { .. }) {
        Failed::unrecoverable(error)
    } else {
        Failed::in_closure(error)
    }
}
