//! Token administration: initialising tokens and user PINs (as the security officer).
//!
//! Used by `cargo xtask test-hsm` to provision SoftHSM, and by tests. SoftHSM always offers one
//! free, uninitialised token; [`init_token`] initialises it, after which SoftHSM moves the new
//! token to a slot of its own and offers a new free one.
//!
//! ```no_run
//! use hsm_core::{admin, Module, Pin};
//!
//! # fn main() -> hsm_core::Result<()> {
//! let module = Module::load(Module::default_path().expect("SoftHSM installed"))?;
//! let so_pin = Pin::new("so-secret");
//! let slot = admin::init_token(&module, &so_pin, "signing")?;
//! admin::init_user_pin(&module, slot, &so_pin, &Pin::new("user-secret"))?;
//! # Ok(())
//! # }
//! ```

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::session::UserType;
use cryptoki::slot::Slot;

use crate::error::{Error, Result};
use crate::module::Module;
use crate::pin::Pin;
use crate::trace::traced;

/// Initialises the first free (uninitialised) token with this label and security-officer PIN,
/// and returns the slot the token is in afterwards (SoftHSM renumbers it).
///
/// # Errors
/// [`Error::Config`] when the label is longer than 32 bytes, a token already has the label, or no
/// uninitialised token is present; [`Error::Pkcs11`] when `C_InitToken` fails.
pub fn init_token(module: &Module, so_pin: &Pin, label: &str) -> Result<Slot> {
    if label.is_empty() || label.len() > 32 {
        return Err(Error::Config {
            reason: format!("token labels have 1 to 32 bytes ({label:?})"),
        });
    }
    // SoftHSM has one free slot at a time: two initialisations at once would pick the same.
    let _one_at_a_time = module.admin_lock();
    let tokens = module.tokens()?;
    if tokens.iter().any(|t| t.initialized && t.label == label) {
        return Err(Error::Config {
            reason: format!("a token labelled {label:?} already exists"),
        });
    }
    let free = tokens
        .iter()
        .find(|t| !t.initialized)
        .ok_or_else(|| Error::Config {
            reason: "no uninitialised token is present to initialise".to_owned(),
        })?;
    traced(Some(free.slot), None, Function::InitToken, None, || {
        module
            .pkcs11()
            .init_token(free.slot, &so_pin.to_auth_pin(), label)
    })
    .map_err(|e| Error::from_cryptoki("initialising a token", e))?;
    module.find_token(label)
}

/// Sets the user PIN of the token in `slot`, logging in as the security officer.
///
/// # Errors
/// [`Error::PinIncorrect`] when the security-officer PIN is refused; [`Error::Pkcs11`] otherwise
/// (`CKR_USER_ANOTHER_ALREADY_LOGGED_IN` when the user is logged in to the token in this
/// process).
pub fn init_user_pin(module: &Module, slot: Slot, so_pin: &Pin, user_pin: &Pin) -> Result<()> {
    let session = traced(Some(slot), None, Function::OpenSession, None, || {
        module.pkcs11().open_rw_session(slot)
    })
    .map_err(|e| Error::from_cryptoki("opening a session", e))?;
    let login = traced(Some(slot), None, Function::Login, None, || {
        session.login(UserType::So, Some(&so_pin.to_auth_pin()))
    });
    match login {
        Ok(()) => {}
        Err(cryptoki::error::Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
            return Err(Error::PinIncorrect);
        }
        Err(cryptoki::error::Error::Pkcs11(RvError::PinLocked, _)) => return Err(Error::PinLocked),
        Err(e) => return Err(Error::from_cryptoki("logging in as security officer", e)),
    }
    let result = traced(Some(slot), None, Function::InitPIN, None, || {
        session.init_pin(&user_pin.to_auth_pin())
    })
    .map_err(|e| Error::from_cryptoki("setting the user PIN", e));
    // Closing the session ends the SO login as well; log out explicitly all the same.
    let _ = session.logout();
    result
}
