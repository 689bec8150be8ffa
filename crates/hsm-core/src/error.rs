//! The one error type of this crate, and how PKCS#11 return values map onto it.
//!
//! Every fallible function returns [`Result<T>`](Result). The variants say what went wrong in the
//! terms a caller acts on (the token is not there, the PIN was refused, the key is missing or
//! ambiguous, the pool is exhausted); everything else keeps the PKCS#11 function name and its
//! return value in [`Error::Pkcs11`], as `cryptoki` reports them.
//!
//! No variant ever carries a PIN: messages name paths, labels and return values only.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use cryptoki::context::Function;
use cryptoki::error::RvError;

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to a PKCS#11 token.
///
/// Match on the variants you act on and keep a catch-all arm: the enum is `#[non_exhaustive]`.
/// The classification helpers ([`is_session_invalid`](Error::is_session_invalid),
/// [`is_pin_error`](Error::is_pin_error), [`rv`](Error::rv), ...) answer the common questions
/// without matching.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PKCS#11 module could not be loaded: the path does not exist, is not a shared library,
    /// or the library is not a PKCS#11 module (no `C_GetFunctionList`), or `C_Initialize` failed.
    #[error("cannot load PKCS#11 module {}: {reason}", path.display())]
    ModuleLoad {
        /// The module path as given by the caller.
        path: PathBuf,
        /// Why loading failed.
        reason: String,
    },

    /// No token matched. `available` lists the labels of the tokens present, so a typo shows;
    /// `unreadable` the slots whose token information could not be parsed (select one of those
    /// by slot id).
    #[error(
        "no token {label:?} in this module; tokens present: {}{}",
        list_labels(available),
        list_unreadable(unreadable)
    )]
    TokenNotFound {
        /// What was looked for (a label, or a description of the URI attributes used).
        label: String,
        /// The labels of the initialised tokens present.
        available: Vec<String>,
        /// The slots whose token information could not be read, each with the reason
        /// (`slot 3: token information unparsable (...)`).
        unreadable: Vec<String>,
    },

    /// `C_Login` refused the user PIN (`CKR_PIN_INCORRECT`, `CKR_PIN_INVALID` or
    /// `CKR_PIN_LEN_RANGE`). The PIN is never retried automatically: tokens lock after a few
    /// failures.
    #[error("the token refused the user PIN (not retried)")]
    PinIncorrect,

    /// The token reports the user PIN as locked (`CKF_USER_PIN_LOCKED`, or `CKR_PIN_LOCKED`).
    #[error("the user PIN of this token is locked")]
    PinLocked,

    /// The token reports that one more wrong PIN locks it (`CKF_USER_PIN_FINAL_TRY`). Login was
    /// not attempted: unlock or reset the PIN with the token's own tools first.
    #[error("the token allows one last user PIN attempt; refusing to try it automatically")]
    PinFinalTry,

    /// No key matched the selector. `what` describes what was looked for.
    #[error("no key found: {what}")]
    KeyNotFound {
        /// The selector, in words (label, id, class).
        what: String,
    },

    /// More than one distinct key matched the selector.
    #[error("{count} distinct keys match {what}; select by both label and id")]
    AmbiguousKey {
        /// The selector, in words.
        what: String,
        /// How many distinct keys matched.
        count: usize,
    },

    /// The token does not offer a mechanism the operation needs.
    #[error("the token does not support {mechanism}")]
    MechanismNotSupported {
        /// The mechanism (`CKM_...`), with a hint where one helps.
        mechanism: String,
    },

    /// The session could not be used: it was closed or invalidated, the device was removed, or
    /// the user is not logged in, and the one retry on a fresh session failed too (or no retry
    /// was possible).
    #[error("session unusable: {} returned {}", c_name(*function), rv_name(*rv))]
    Session {
        /// The PKCS#11 function that failed (`C_Sign`, ...); [`c_name`] gives its C name.
        function: Function,
        /// Its return value.
        rv: RvError,
    },

    /// The key needs the PIN for every use (`CKA_ALWAYS_AUTHENTICATE`): the token refused the
    /// operation without a context-specific login (`CKR_USER_NOT_LOGGED_IN` after the
    /// operation's init, which is not a lost login). Use
    /// [`PoolKey::sign_authenticated`](crate::PoolKey::sign_authenticated) or
    /// [`PoolKey::decrypt_authenticated`](crate::PoolKey::decrypt_authenticated).
    #[error(
        "the key {what} needs the PIN for every use (CKA_ALWAYS_AUTHENTICATE): {function_name} \
         returned CKR_USER_NOT_LOGGED_IN without a context-specific login",
        function_name = c_name(*function)
    )]
    ContextLoginRequired {
        /// The key, in words.
        what: String,
        /// The call the token refused.
        function: Function,
    },

    /// Every session of the pool stayed busy for the whole wait.
    #[error("no pooled session became free within {waited:?}")]
    PoolTimeout {
        /// How long the caller waited.
        waited: Duration,
    },

    /// A `pkcs11:` URI (RFC 7512) could not be parsed.
    #[error("invalid PKCS#11 URI: {reason}")]
    InvalidUri {
        /// What is wrong with it. Never contains the `pin-value`.
        reason: String,
    },

    /// The configuration is incomplete or contradictory (a missing environment variable, an
    /// unreadable pin-source, a key usage that a key type cannot have, ...).
    #[error("configuration error: {reason}")]
    Config {
        /// What is wrong.
        reason: String,
    },

    /// Any other PKCS#11 failure: the C function and its return value.
    #[error("{} returned {}", c_name(*function), rv_name(*rv))]
    Pkcs11 {
        /// The PKCS#11 function that failed (`C_Sign`, `C_GenerateKeyPair`, ...); [`c_name`]
        /// gives its C name.
        function: Function,
        /// Its return value (`CKR_...`).
        rv: RvError,
    },

    /// The token's information could not be read: `C_GetSlotList` / `C_GetTokenInfo` kept
    /// failing (`CKR_GENERAL_ERROR`, the token momentarily absent) for every one of a few
    /// attempts, a short pause apart. SoftHSM rereads its token files without locking, so
    /// another process writing the same token makes it fail this way for a moment: the token
    /// is probably busy, not missing. Try again; the token selection is not the problem.
    #[error(
        "could not read the token information ({} returned {} {attempts} times); the token may \
         be busy (another process using it): try again",
        c_name(*function),
        rv_name(*rv)
    )]
    TokenBusy {
        /// The function that kept failing (`C_GetTokenInfo`, `C_GetSlotList`).
        function: Function,
        /// Its last return value.
        rv: RvError,
        /// How many times it was called.
        attempts: u32,
    },

    /// A failure inside the `cryptoki` wrapper that is not a PKCS#11 return value (a missing
    /// function pointer, a value it could not convert).
    #[error("{context}: {source}")]
    Cryptoki {
        /// What this crate was doing.
        context: &'static str,
        /// The wrapper's error.
        #[source]
        source: cryptoki::error::Error,
    },

    // Key objects checked, not trusted (hsm-core `key`).
    /// The public key claimed for a key pair is not proven to be its own: a public-key object
    /// with the pair's label and id carries another key (possibly planted: public objects can
    /// be created without login), and nothing tells which public key is right.
    #[error("the public key of key {key} does not match its private key: {reason}")]
    PublicKeyMismatch {
        /// The key: label and id.
        key: String,
        /// What did not match.
        reason: String,
    },

    /// The token revealed a public key that cannot be read (a malformed `CKA_EC_POINT`, ...),
    /// or reveals none where one is needed.
    #[error("key {key}: unusable public key: {reason}")]
    InvalidPublicKey {
        /// The key: label and id.
        key: String,
        /// What is wrong with the value, or why there is none.
        reason: String,
    },

    /// The token generated a key weaker than asked (extractable, not sensitive, not private,
    /// or with a wider use than asked). The key was deleted unless `deleted` is false.
    #[error(
        "the token generated key {key} weaker than asked ({weaknesses}); {}",
        if *deleted { "it was deleted" } else { "deleting it failed: delete it by hand" }
    )]
    WeakGeneratedKey {
        /// The key: label and id.
        key: String,
        /// What came out weaker, e.g. `extractable, can also decrypt`.
        weaknesses: String,
        /// Whether the key's objects were destroyed.
        deleted: bool,
    },

    /// The token cannot generate this kind of key: the generation mechanism is not in its
    /// mechanism list, or it does not implement the PKCS#11 function.
    #[error("this token cannot generate {what}: {missing}")]
    CannotGenerate {
        /// What was to be generated (`EC keys`, `secret keys`).
        what: String,
        /// What the token lacks (`no CKM_EC_KEY_PAIR_GEN`, `C_GenerateKey is not supported`).
        missing: String,
    },
}

fn list_labels(labels: &[String]) -> String {
    if labels.is_empty() {
        "none".to_owned()
    } else {
        labels
            .iter()
            .map(|l| format!("{l:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn list_unreadable(slots: &[String]) -> String {
    if slots.is_empty() {
        String::new()
    } else {
        format!(
            "; slots whose token information could not be read (select by slot-id): {}",
            slots.join(", ")
        )
    }
}

impl Error {
    /// Wraps a `cryptoki` error, keeping the function name and return value.
    ///
    /// Session-class return values become [`Error::Session`]; `context` names what this crate
    /// was doing for the rare errors that are not PKCS#11 return values.
    pub(crate) fn from_cryptoki(context: &'static str, error: cryptoki::error::Error) -> Self {
        match error {
            cryptoki::error::Error::Pkcs11(rv, function) => {
                if matches!(
                    crate::pool::recovery(function, rv),
                    crate::pool::Recovery::NewSession | crate::pool::Recovery::LoginAgain
                ) {
                    Error::Session { function, rv }
                } else {
                    Error::Pkcs11 { function, rv }
                }
            }
            source => Error::Cryptoki { context, source },
        }
    }

    /// The PKCS#11 return value behind this error, if there is one.
    pub fn rv(&self) -> Option<RvError> {
        match self {
            Error::Pkcs11 { rv, .. } | Error::Session { rv, .. } | Error::TokenBusy { rv, .. } => {
                Some(*rv)
            }
            Error::Cryptoki {
                source: cryptoki::error::Error::Pkcs11(rv, _),
                ..
            } => Some(*rv),
            _ => None,
        }
    }

    /// The PKCS#11 function that failed (`Function::Sign`), if there is one; [`c_name`] gives
    /// its C name (`"C_Sign"`).
    pub fn function(&self) -> Option<Function> {
        match self {
            Error::Pkcs11 { function, .. }
            | Error::Session { function, .. }
            | Error::TokenBusy { function, .. }
            | Error::ContextLoginRequired { function, .. } => Some(*function),
            Error::Cryptoki {
                source: cryptoki::error::Error::Pkcs11(_, function),
                ..
            } => Some(*function),
            _ => None,
        }
    }

    /// What [`SessionPool::run`](crate::SessionPool::run) does about this error: the one
    /// classification of PKCS#11 return values ([`recovery`](crate::pool::recovery)).
    /// [`Recovery::Fail`](crate::pool::Recovery::Fail) for errors that are not PKCS#11 return
    /// values.
    pub fn recovery(&self) -> crate::pool::Recovery {
        match (self.function(), self.rv()) {
            (Some(function), Some(rv)) => crate::pool::recovery(function, rv),
            _ => crate::pool::Recovery::Fail,
        }
    }

    /// True for [`TokenBusy`](Error::TokenBusy): the token's information could not be read
    /// for a while; trying again later may work.
    pub fn is_token_busy(&self) -> bool {
        matches!(self, Error::TokenBusy { .. })
    }

    /// True when the session is unusable (closed, invalid, device removed, not logged in): the
    /// remedy is a fresh session and a new login, which [`SessionPool::run`] already tried.
    ///
    /// [`SessionPool::run`]: crate::SessionPool::run
    pub fn is_session_invalid(&self) -> bool {
        use crate::pool::Recovery;
        match self {
            Error::Session { .. } => true,
            other => matches!(
                other.recovery(),
                Recovery::NewSession | Recovery::LoginAgain
            ),
        }
    }

    /// True for the PIN errors: [`PinIncorrect`](Error::PinIncorrect),
    /// [`PinLocked`](Error::PinLocked) and [`PinFinalTry`](Error::PinFinalTry).
    pub fn is_pin_error(&self) -> bool {
        matches!(
            self,
            Error::PinIncorrect | Error::PinLocked | Error::PinFinalTry
        )
    }

    /// True when a token, key or mechanism was not found
    /// ([`TokenNotFound`](Error::TokenNotFound), [`KeyNotFound`](Error::KeyNotFound),
    /// [`MechanismNotSupported`](Error::MechanismNotSupported), or `CKR_MECHANISM_INVALID`).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::TokenNotFound { .. }
                | Error::KeyNotFound { .. }
                | Error::MechanismNotSupported { .. }
        ) || self.rv() == Some(RvError::MechanismInvalid)
    }

    /// True when an object handle is stale (`CKR_OBJECT_HANDLE_INVALID`,
    /// `CKR_KEY_HANDLE_INVALID`): look the key up again. Tokens invalidate the handles of private
    /// objects when the user logs out.
    pub fn is_handle_invalid(&self) -> bool {
        self.recovery() == crate::pool::Recovery::FindKeyAgain
    }
}

/// Return values after which a session must be dropped and a new one opened (and logged in):
/// those that [`pool::recovery`](crate::pool::recovery) answers with
/// [`NewSession`](crate::pool::Recovery::NewSession) or
/// [`LoginAgain`](crate::pool::Recovery::LoginAgain) for an operation on a session.
///
/// `CKR_USER_NOT_LOGGED_IN` is in the list because a logout by anyone in the process logs out
/// every session of the application (PKCS#11 login state is per application and token).
pub fn rv_is_session_invalid(rv: RvError) -> bool {
    use crate::pool::Recovery;
    matches!(
        crate::pool::recovery(Function::Sign, rv),
        Recovery::NewSession | Recovery::LoginAgain
    )
}

/// Return values that mean an object handle no longer names an object: those that
/// [`pool::recovery`](crate::pool::recovery) answers with
/// [`FindKeyAgain`](crate::pool::Recovery::FindKeyAgain).
pub fn rv_is_handle_invalid(rv: RvError) -> bool {
    crate::pool::recovery(Function::Sign, rv) == crate::pool::Recovery::FindKeyAgain
}

/// The `CKR_...` name of a return value (`CKR_SESSION_HANDLE_INVALID`).
pub fn rv_name(rv: RvError) -> String {
    match rv {
        RvError::VendorDefined(code) => format!("CKR_VENDOR_DEFINED+{:#x}", code),
        RvError::UnknownErrorCode(code) => format!("unknown CK_RV {code:#x}"),
        known => {
            // The variant names are the C names in CamelCase: SessionHandleInvalid.
            let camel = format!("{known:?}");
            let mut name = String::with_capacity(camel.len() + 8);
            name.push_str("CKR");
            for c in camel.chars() {
                if c.is_ascii_uppercase() {
                    name.push('_');
                }
                name.push(c.to_ascii_uppercase());
            }
            name
        }
    }
}

/// A displayable `CKR_...` name, for messages built by callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RvName(pub RvError);

impl fmt::Display for RvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rv_name(self.0))
    }
}

macro_rules! c_names {
    ($function:expr; $($name:ident),* $(,)?) => {
        match $function {
            $(Function::$name => concat!("C_", stringify!($name)),)*
        }
    };
}

/// The C name of a `cryptoki` function (`Function::Sign` -> `"C_Sign"`).
pub fn c_name(function: Function) -> &'static str {
    c_names!(function;
        Initialize, Finalize, GetInfo, GetFunctionList, GetSlotList, GetSlotInfo, GetTokenInfo,
        GetMechanismList, GetMechanismInfo, InitToken, InitPIN, SetPIN, OpenSession, CloseSession,
        CloseAllSessions, GetSessionInfo, GetOperationState, SetOperationState, Login, Logout,
        CreateObject, CopyObject, DestroyObject, GetObjectSize, GetAttributeValue,
        SetAttributeValue, FindObjectsInit, FindObjects, FindObjectsFinal, EncryptInit, Encrypt,
        EncryptUpdate, EncryptFinal, DecryptInit, Decrypt, DecryptUpdate, DecryptFinal,
        DigestInit, Digest, DigestUpdate, DigestKey, DigestFinal, SignInit, Sign, SignUpdate,
        SignFinal, SignRecoverInit, SignRecover, VerifyInit, Verify, VerifyUpdate, VerifyFinal,
        VerifyRecoverInit, VerifyRecover, DigestEncryptUpdate, DecryptDigestUpdate,
        SignEncryptUpdate, DecryptVerifyUpdate, GenerateKey, GenerateKeyPair, WrapKey, UnwrapKey,
        DeriveKey, SeedRandom, GenerateRandom, GetFunctionStatus, CancelFunction,
        WaitForSlotEvent, GetInterfaceList, GetInterface, LoginUser, SessionCancel,
        MessageEncryptInit, EncryptMessage, EncryptMessageBegin, EncryptMessageNext,
        MessageEncryptFinal, MessageDecryptInit, DecryptMessage, DecryptMessageBegin,
        DecryptMessageNext, MessageDecryptFinal, MessageSignInit, SignMessage, SignMessageBegin,
        SignMessageNext, MessageSignFinal, MessageVerifyInit, VerifyMessage, VerifyMessageBegin,
        VerifyMessageNext, MessageVerifyFinal, EncapsulateKey, DecapsulateKey,
        VerifySignatureInit, VerifySignature, VerifySignatureUpdate, VerifySignatureFinal,
        GetSessionValidationFlags, AsyncComplete, AsyncGetID, AsyncJoin, WrapKeyAuthenticated,
        UnwrapKeyAuthenticated,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One value of every variant, for the smoke test and for the "no PIN" check.
    fn every_variant() -> Vec<Error> {
        vec![
            Error::ModuleLoad {
                path: "/nope/libx.so".into(),
                reason: "no such file".into(),
            },
            Error::TokenNotFound {
                label: "missing".into(),
                available: vec!["a".into(), "b".into()],
                unreadable: vec![],
            },
            Error::TokenNotFound {
                label: "missing".into(),
                available: vec![],
                unreadable: vec!["slot 3: token information unparsable (bad time)".into()],
            },
            Error::PinIncorrect,
            Error::PinLocked,
            Error::PinFinalTry,
            Error::KeyNotFound {
                what: "label \"k\"".into(),
            },
            Error::AmbiguousKey {
                what: "label \"k\"".into(),
                count: 2,
            },
            Error::MechanismNotSupported {
                mechanism: "CKM_EDDSA".into(),
            },
            Error::Session {
                function: Function::Sign,
                rv: RvError::SessionHandleInvalid,
            },
            Error::TokenBusy {
                function: Function::GetTokenInfo,
                rv: RvError::GeneralError,
                attempts: 5,
            },
            Error::ContextLoginRequired {
                what: "label \"card\"".into(),
                function: Function::Sign,
            },
            Error::PoolTimeout {
                waited: Duration::from_millis(1500),
            },
            Error::InvalidUri {
                reason: "missing scheme".into(),
            },
            Error::Config {
                reason: "HSM_TOKEN is not set".into(),
            },
            Error::Pkcs11 {
                function: Function::GenerateKeyPair,
                rv: RvError::TemplateInconsistent,
            },
            Error::Cryptoki {
                context: "reading attributes",
                source: cryptoki::error::Error::InvalidValue,
            },
            Error::PublicKeyMismatch {
                key: "label \"k\", id 01".into(),
                reason: "CKA_MODULUS differs".into(),
            },
            Error::InvalidPublicKey {
                key: "label \"k\", id 01".into(),
                reason: "P-521: 7 bytes".into(),
            },
            Error::WeakGeneratedKey {
                key: "label \"k\", id 01".into(),
                weaknesses: "extractable".into(),
                deleted: true,
            },
            Error::CannotGenerate {
                what: "EC keys".into(),
                missing: "no CKM_EC_KEY_PAIR_GEN".into(),
            },
        ]
    }

    /// Fails to compile when a variant is added, so that `every_variant` gets one too.
    fn variant_name(error: &Error) -> &'static str {
        match error {
            Error::ModuleLoad { .. } => "ModuleLoad",
            Error::TokenNotFound { .. } => "TokenNotFound",
            Error::PinIncorrect => "PinIncorrect",
            Error::PinLocked => "PinLocked",
            Error::PinFinalTry => "PinFinalTry",
            Error::KeyNotFound { .. } => "KeyNotFound",
            Error::AmbiguousKey { .. } => "AmbiguousKey",
            Error::MechanismNotSupported { .. } => "MechanismNotSupported",
            Error::Session { .. } => "Session",
            Error::TokenBusy { .. } => "TokenBusy",
            Error::ContextLoginRequired { .. } => "ContextLoginRequired",
            Error::PoolTimeout { .. } => "PoolTimeout",
            Error::InvalidUri { .. } => "InvalidUri",
            Error::Config { .. } => "Config",
            Error::Pkcs11 { .. } => "Pkcs11",
            Error::Cryptoki { .. } => "Cryptoki",
            Error::PublicKeyMismatch { .. } => "PublicKeyMismatch",
            Error::InvalidPublicKey { .. } => "InvalidPublicKey",
            Error::WeakGeneratedKey { .. } => "WeakGeneratedKey",
            Error::CannotGenerate { .. } => "CannotGenerate",
        }
    }

    #[test]
    fn smoke_prints_every_variant() {
        let mut names: Vec<&str> = every_variant().iter().map(variant_name).collect();
        names.dedup();
        assert_eq!(names.len(), 20, "every variant is shown: {names:?}");
        for error in every_variant() {
            let shown = error.to_string();
            println!("{shown}\n    {error:?}");
            assert!(!shown.is_empty());
            assert!(
                !shown.contains("PKCS11 error: This"),
                "long prose leaked into {shown}"
            );
        }
    }

    #[test]
    fn rv_names_are_the_c_names() {
        assert_eq!(
            rv_name(RvError::SessionHandleInvalid),
            "CKR_SESSION_HANDLE_INVALID"
        );
        assert_eq!(rv_name(RvError::PinIncorrect), "CKR_PIN_INCORRECT");
        assert_eq!(
            rv_name(RvError::CryptokiAlreadyInitialized),
            "CKR_CRYPTOKI_ALREADY_INITIALIZED"
        );
        assert_eq!(
            rv_name(RvError::VendorDefined(0x8000_0001)),
            "CKR_VENDOR_DEFINED+0x80000001"
        );
        assert_eq!(
            RvName(RvError::ArgumentsBad).to_string(),
            "CKR_ARGUMENTS_BAD"
        );
    }

    #[test]
    fn function_names_are_the_c_names() {
        assert_eq!(c_name(Function::Sign), "C_Sign");
        assert_eq!(c_name(Function::InitPIN), "C_InitPIN");
        assert_eq!(c_name(Function::CloseAllSessions), "C_CloseAllSessions");
    }

    #[test]
    fn classification() {
        let lost = Error::from_cryptoki(
            "signing",
            cryptoki::error::Error::Pkcs11(RvError::SessionClosed, Function::Sign),
        );
        assert!(matches!(
            lost,
            Error::Session {
                function: Function::Sign,
                ..
            }
        ));
        assert_eq!(
            lost.to_string(),
            "session unusable: C_Sign returned CKR_SESSION_CLOSED"
        );
        assert!(lost.is_session_invalid());
        let other = Error::from_cryptoki(
            "signing",
            cryptoki::error::Error::Pkcs11(RvError::KeyHandleInvalid, Function::SignInit),
        );
        assert!(matches!(
            other,
            Error::Pkcs11 {
                function: Function::SignInit,
                ..
            }
        ));
        assert_eq!(
            other.to_string(),
            "C_SignInit returned CKR_KEY_HANDLE_INVALID"
        );
        assert!(!other.is_session_invalid());
        assert!(other.is_handle_invalid());
        assert!(matches!(other.function(), Some(Function::SignInit)));
        assert!(Error::PinFinalTry.is_pin_error());
        assert!(
            Error::KeyNotFound {
                what: String::new()
            }
            .is_not_found()
        );
        assert_eq!(Error::PinLocked.rv(), None);
    }
}
