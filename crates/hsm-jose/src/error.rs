//! The one error type of hsm-jose, and how token failures travel through JOSE code.
//!
//! Everything hsm-jose returns is an [`Error`]: building a pool (`?` converts hsm-core's
//! error), loading a key, and every JOSE call made with an [`HsmJwk`](crate::HsmJwk) (`?`
//! converts jose-core's error, lifting a token failure that travelled through JOSE code back
//! into its typed variant). Match on the variants; no downcasting is needed:
//!
//! ```no_run
//! use hsm_jose::jose_core::{jws, JwsAlgorithm};
//! use hsm_jose::{Error, HsmJwk, PinProblem, SessionPool};
//!
//! fn sign(payload: &[u8]) -> Result<String, Error> {
//!     let pool = SessionPool::from_env()?;
//!     let key = HsmJwk::from_label(&pool, "signing-key")?;
//!     Ok(jws::sign_compact(&key, JwsAlgorithm::ES256, payload, None)?)
//! }
//!
//! match sign(b"hello") {
//!     Ok(token) => println!("{token}"),
//!     Err(Error::KeyNotFound { .. }) => eprintln!("no such key on the token"),
//!     Err(Error::Pin { problem: PinProblem::Locked, .. }) => eprintln!("the PIN is locked"),
//!     Err(Error::Pin { .. }) => eprintln!("check the PIN"),
//!     Err(Error::NotSupported { needs, .. }) => eprintln!("this token lacks {needs}"),
//!     Err(Error::Token(e)) => eprintln!("the token failed: {e}"),
//!     Err(e) => eprintln!("{e}"),
//! }
//! ```

use std::fmt;
use std::sync::Arc;

use jose_core::error::{AlgorithmError, BackendError, BackendErrorKind};

/// Everything that can go wrong loading or using HSM keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No key, or more than one distinct key, matched the selector.
    #[error("{source}")]
    KeyNotFound {
        /// hsm-core's error ([`KeyNotFound`](hsm_core::Error::KeyNotFound) or
        /// [`AmbiguousKey`](hsm_core::Error::AmbiguousKey)).
        source: Arc<hsm_core::Error>,
    },
    /// The token refused the user PIN, or it is locked, or one more wrong PIN would lock it.
    #[error("{source}")]
    Pin {
        /// Which of the three.
        problem: PinProblem,
        /// hsm-core's error.
        source: Arc<hsm_core::Error>,
    },
    /// The token cannot run what was asked: it lists none of the mechanisms that could.
    /// Reported before any token call.
    #[error(
        "{}not supported by this token{}: needs {needs}",
        alg_prefix(alg),
        key_suffix(key)
    )]
    NotSupported {
        /// The JOSE algorithm, when the refusal is about one.
        alg: Option<String>,
        /// The key, when the refusal is about one.
        key: Option<String>,
        /// The mechanisms that would do (`CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS`).
        needs: String,
    },
    /// The module, token, session or a PKCS#11 call failed (use
    /// [`rv`](hsm_core::Error::rv) and [`function`](hsm_core::Error::function) for details).
    #[error("{0}")]
    Token(Arc<hsm_core::Error>),
    /// The token answered, but not with a result of the operation it was asked for (a
    /// signature of the wrong length, an ECDSA signature out of range).
    #[error("the token returned an invalid result for {operation}: {reason}")]
    TokenOutput {
        /// The operation (`signing`).
        operation: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// The public key the token holds for a key pair does not belong to its private key: the
    /// self-test at load failed. The key is not used and its public key not published.
    #[error("key `{label}`: the public key does not belong to the private key ({reason})")]
    KeyBinding {
        /// The key's label.
        label: String,
        /// How the mismatch was found.
        reason: &'static str,
    },
    /// A JOSE operation failed (bad token, failed verification, wrong algorithm...).
    #[error(transparent)]
    Jose(jose_core::Error),
    /// A certificate or CSR cannot be made or stored for a key (see [`cert`](crate::cert)).
    #[error("certificate: {reason}")]
    Certificate {
        /// What is wrong.
        reason: &'static str,
    },
    /// A certificate to store for a token key does not carry that key's public key (see
    /// [`cert::store_chain`](crate::cert::store_chain)).
    #[error("the certificate does not carry the public key of key `{label}`")]
    CertificateKeyMismatch {
        /// The token key's label.
        label: String,
    },
    /// A certificate, or a PEM file of certificates, cannot be read (see
    /// [`cert::read_pem_chain`](crate::cert::read_pem_chain)).
    #[error("{}", certificate_parse_message(*position, reason))]
    CertificateParse {
        /// The certificate's position in the file or chain, from 1; `None` when the input as a
        /// whole is wrong (no certificate in it, text that is not PEM).
        position: Option<usize>,
        /// What is wrong.
        reason: &'static str,
    },
    /// A private key to import cannot be read (see [`import`](crate::import)); the reason
    /// never contains key bytes.
    #[error("the private key cannot be imported: {reason}")]
    Import {
        /// What is wrong.
        reason: &'static str,
    },
    /// The key in the token is of a kind JOSE cannot use.
    #[error("key `{label}` cannot be used for JOSE: {reason}")]
    UnsupportedKey {
        /// The key's label.
        label: String,
        /// Why.
        reason: &'static str,
    },
}

/// Which PIN problem an [`Error::Pin`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PinProblem {
    /// The token refused the PIN (not retried).
    Incorrect,
    /// The PIN is locked.
    Locked,
    /// One more wrong PIN locks the token; login was not attempted.
    FinalTry,
}

fn alg_prefix(alg: &Option<String>) -> String {
    alg.as_ref()
        .map(|a| format!("algorithm `{a}` is "))
        .unwrap_or_default()
}

fn key_suffix(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(" for {k}"))
        .unwrap_or_default()
}

impl Error {
    /// hsm-core's error behind this one, for the variants that come from the token.
    pub fn hsm(&self) -> Option<&hsm_core::Error> {
        match self {
            Error::KeyNotFound { source } | Error::Pin { source, .. } | Error::Token(source) => {
                Some(source)
            }
            Error::Jose(e) => hsm_error(e),
            _ => None,
        }
    }

    /// The error from an hsm-core error shared with JOSE code.
    fn from_shared(e: Arc<hsm_core::Error>) -> Self {
        use hsm_core::Error as H;
        let pin = |problem, source| Error::Pin { problem, source };
        match &*e {
            H::KeyNotFound { .. } | H::AmbiguousKey { .. } => Error::KeyNotFound { source: e },
            H::PinIncorrect => pin(PinProblem::Incorrect, e),
            H::PinLocked => pin(PinProblem::Locked, e),
            H::PinFinalTry => pin(PinProblem::FinalTry, e),
            H::MechanismNotSupported { mechanism } => Error::NotSupported {
                alg: None,
                key: None,
                needs: mechanism.clone(),
            },
            _ => Error::Token(e),
        }
    }
}

impl From<hsm_core::Error> for Error {
    fn from(e: hsm_core::Error) -> Self {
        Error::from_shared(Arc::new(e))
    }
}

/// Lifts what an HSM key put into a JOSE error back into its typed variant: a token failure
/// (carried as [`jose_core::Error::Backend`]) becomes [`Error::Token`], [`Error::KeyNotFound`]
/// or [`Error::Pin`]; a refusal for lack of mechanisms becomes [`Error::NotSupported`]. Every
/// other JOSE error is [`Error::Jose`].
impl From<jose_core::Error> for Error {
    fn from(e: jose_core::Error) -> Self {
        match &e {
            jose_core::Error::Backend(b) => {
                if let Some(failure) = b.inner().downcast_ref::<TokenFailure>() {
                    return Error::from_shared(Arc::clone(&failure.0));
                }
                if let Some(output) = b.inner().downcast_ref::<OutputFailure>() {
                    return Error::TokenOutput {
                        operation: output.operation,
                        reason: output.reason,
                    };
                }
                Error::Jose(e)
            }
            jose_core::Error::Algorithm(AlgorithmError::NotSupportedByDevice {
                alg,
                key,
                needs,
            }) => Error::NotSupported {
                alg: Some(alg.clone()),
                key: Some(key.clone()),
                needs: needs.clone(),
            },
            _ => Error::Jose(e),
        }
    }
}

/// The result type of hsm-jose.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A token failure carried through JOSE code (jose-core's `Backend` error holds it).
#[derive(Debug)]
struct TokenFailure(Arc<hsm_core::Error>);

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for TokenFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// An invalid result from the token, carried through JOSE code.
#[derive(Debug)]
struct OutputFailure {
    operation: &'static str,
    reason: &'static str,
}

impl fmt::Display for OutputFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the token returned an invalid result for {}: {}",
            self.operation, self.reason
        )
    }
}

impl std::error::Error for OutputFailure {}

/// Wraps a token failure for JOSE code, keeping the hsm-core error as the source.
pub(crate) fn backend(e: hsm_core::Error) -> jose_core::Error {
    let kind = backend_kind(&e);
    jose_core::Error::Backend(BackendError::new(kind, TokenFailure(Arc::new(e))))
}

/// An invalid token result, for JOSE code.
pub(crate) fn bad_output(operation: &'static str, reason: &'static str) -> jose_core::Error {
    jose_core::Error::Backend(BackendError::new(
        BackendErrorKind::Device,
        OutputFailure { operation, reason },
    ))
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
///
/// Prefer converting the JOSE error into an [`Error`] (`?` does it) and matching its variants;
/// this remains for code that handles jose-core's error type directly.
pub fn hsm_error(e: &jose_core::Error) -> Option<&hsm_core::Error> {
    match e {
        jose_core::Error::Backend(b) => {
            let inner = b.inner();
            match inner.downcast_ref::<TokenFailure>() {
                Some(failure) => Some(&*failure.0),
                // A backend error that another backend built around hsm-core's error.
                None => inner.downcast_ref::<hsm_core::Error>(),
            }
        }
        _ => None,
    }
}

fn certificate_parse_message(position: Option<usize>, reason: &str) -> String {
    match position {
        Some(n) => format!("certificate {n} cannot be read: {reason}"),
        None => format!("the certificates cannot be read: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_failure_inside_a_jose_error_comes_back_typed() {
        let jose = backend(hsm_core::Error::PinLocked);
        assert!(matches!(
            Error::from(jose),
            Error::Pin {
                problem: PinProblem::Locked,
                ..
            }
        ));
        let jose = backend(hsm_core::Error::KeyNotFound { what: "k".into() });
        assert!(matches!(Error::from(jose), Error::KeyNotFound { .. }));
        let jose = backend(hsm_core::Error::PoolTimeout {
            waited: std::time::Duration::from_millis(1),
        });
        let lifted = Error::from(jose);
        assert!(
            matches!(&lifted, Error::Token(e) if matches!(**e, hsm_core::Error::PoolTimeout { .. })),
            "{lifted:?}"
        );
        assert!(matches!(
            lifted.hsm(),
            Some(hsm_core::Error::PoolTimeout { .. })
        ));
    }

    #[test]
    fn a_device_refusal_is_not_supported() {
        let jose: jose_core::Error = AlgorithmError::NotSupportedByDevice {
            alg: "RS256".into(),
            key: "RSA 2048 `k` in the HSM".into(),
            needs: "CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS".into(),
        }
        .into();
        let e = Error::from(jose);
        assert!(matches!(&e, Error::NotSupported { needs, .. } if needs.contains("CKM_RSA_PKCS")));
        assert_eq!(
            e.to_string(),
            "algorithm `RS256` is not supported by this token for RSA 2048 `k` in the HSM: \
             needs CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS"
        );
    }

    #[test]
    fn jose_failures_stay_jose_errors() {
        assert!(matches!(
            Error::from(jose_core::Error::Decryption),
            Error::Jose(jose_core::Error::Decryption)
        ));
        let config = hsm_core::Error::Config {
            reason: "HSM_TOKEN is not set".into(),
        };
        assert!(matches!(Error::from(config), Error::Token(_)));
    }
}
