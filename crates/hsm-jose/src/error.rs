//! Errors of hsm-jose, and how token failures appear to JOSE code.

use jose_core::error::{BackendError, BackendErrorKind};

/// Everything that can go wrong loading or using HSM keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token, session, PIN or key lookup failed.
    #[error(transparent)]
    Hsm(#[from] hsm_core::Error),
    /// A JOSE operation failed (bad token, failed verification, wrong algorithm...).
    #[error(transparent)]
    Jose(#[from] jose_core::Error),
    /// The key in the token is of a kind JOSE cannot use.
    #[error("key `{label}` cannot be used for JOSE: {reason}")]
    UnsupportedKey {
        /// The key's label.
        label: String,
        /// Why.
        reason: &'static str,
    },
}

/// The result type of hsm-jose.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps a token failure for JOSE code, keeping the hsm-core error as the source.
pub(crate) fn backend(e: hsm_core::Error) -> jose_core::Error {
    let kind = backend_kind(&e);
    jose_core::Error::Backend(BackendError::new(kind, e))
}

fn backend_kind(e: &hsm_core::Error) -> BackendErrorKind {
    use hsm_core::Error as E;
    match e {
        E::KeyNotFound { .. } | E::AmbiguousKey { .. } => BackendErrorKind::Key,
        E::MechanismNotSupported { .. } => BackendErrorKind::Unsupported,
        E::Pkcs11 { .. } => BackendErrorKind::Other,
        _ => BackendErrorKind::Device,
    }
}

/// The token error behind a JOSE error, if there is one.
pub fn hsm_error(e: &jose_core::Error) -> Option<&hsm_core::Error> {
    match e {
        jose_core::Error::Backend(b) => b.inner().downcast_ref::<hsm_core::Error>(),
        _ => None,
    }
}
