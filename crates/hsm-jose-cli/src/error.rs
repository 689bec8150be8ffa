//! What a failed command says, and its exit status.
//!
//! | status | meaning |
//! |---|---|
//! | 1 | the input was rejected: a signature, MAC, tag or claim check failed, or the token is not a valid JOSE object, or asks for an algorithm or key that is not allowed |
//! | 2 | usage: the command line is wrong (clap's own errors exit 2 as well) |
//! | 3 | setup: the module, token, PIN, key, a key file or the configuration |
//!
//! Messages say what went wrong and, where there is something to do, what to do. No message
//! contains a PIN: hsm-core's errors never carry one, and this module adds none.

use std::fmt;
use std::process::ExitCode;

use jose_core::error::{AlgorithmError, KeyError};

/// The exit statuses of a failed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 1: a check on the input failed.
    Rejected = 1,
    /// 2: the command line is wrong.
    Usage = 2,
    /// 3: token, PIN, key or configuration.
    Setup = 3,
}

/// A failed command: a message, perhaps a hint, and the exit status.
#[derive(Debug)]
pub(crate) struct CliError {
    exit: Exit,
    message: String,
    hint: Option<String>,
}

pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            hint: None,
        }
    }

    /// A usage error (2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }

    /// A token, PIN, key or configuration error (3).
    pub(crate) fn setup(message: impl Into<String>) -> Self {
        Self::new(Exit::Setup, message)
    }

    /// A rejected input (1).
    pub(crate) fn rejected(message: impl Into<String>) -> Self {
        Self::new(Exit::Rejected, message)
    }

    /// Adds what to do about it.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The same message, as a usage error.
    pub(crate) fn into_usage(mut self) -> Self {
        self.exit = Exit::Usage;
        self
    }

    /// Adds a hint unless one is already there.
    fn or_hint(self, hint: impl Into<String>) -> Self {
        if self.hint.is_some() {
            self
        } else {
            self.hint(hint)
        }
    }

    /// Puts `context` before the message (`cannot read key.jwk: ...`).
    pub(crate) fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    #[cfg(test)]
    pub(crate) fn exit(&self) -> Exit {
        self.exit
    }

    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    #[cfg(test)]
    pub(crate) fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit as u8)
    }

    /// Prints the error to standard error.
    pub(crate) fn report(&self) {
        eprintln!("error: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
    }
}

/// A token failure: always a setup error, with what to do.
pub(crate) fn hsm(e: &hsm_core::Error) -> CliError {
    use hsm_core::Error as E;
    let error = CliError::setup(e.to_string());
    match e {
        E::ModuleLoad { .. } => error.hint(
            "check --module or HSM_MODULE (default: SoftHSM at its usual paths); SoftHSM also \
             reads SOFTHSM2_CONF",
        ),
        // The module reads no token at all: SoftHSM answers so while another process rewrites
        // its token files. A wrong label shows the labels that are there.
        E::TokenNotFound { available, .. } if available.is_empty() => unreadable(e),
        E::TokenNotFound { .. } => error.hint("check --token or HSM_TOKEN"),
        // hsm-core read the token a few times, a pause apart; its message says it may be busy.
        E::TokenBusy { .. } => error.hint(
            "another process may be using the token right now: try again. If it keeps failing, \
             check the module (--module or HSM_MODULE; SoftHSM also reads SOFTHSM2_CONF)",
        ),
        E::PinIncorrect => error.hint(
            "check the PIN given by --pin-source, HSM_PIN or --pin; it was tried once and not \
             retried, as tokens lock after a few failures",
        ),
        E::PinLocked => error.hint(
            "the security officer must unblock or reset the user PIN with the token's own tools",
        ),
        E::PinFinalTry => error.hint(
            "one more wrong PIN locks the token: make sure of the PIN, then log in once with the \
             token's own tools to reset the counter",
        ),
        E::KeyNotFound { .. } => error.hint(
            "`hsm-jose keys list` shows the keys of the token; a key is named by its label, \
             id:HEX or a pkcs11: URI",
        ),
        E::AmbiguousKey { .. } => error.hint(
            "name the key by both label and id: 'pkcs11:object=LABEL;id=%01%02' (see `hsm-jose \
             keys list`)",
        ),
        E::MechanismNotSupported { .. } => {
            error.hint("this token cannot do that; choose another algorithm or key type")
        }
        E::InvalidUri { .. } => CliError::usage(e.to_string()).hint(
            "a key URI looks like 'pkcs11:token=my-token;object=my-key;type=private' (RFC 7512)",
        ),
        E::Session { .. } | E::PoolTimeout { .. } => {
            error.hint("the token stopped answering; check that it is present and try again")
        }
        _ => error,
    }
}

/// A failure to open the token (find it, read its information, log in): what [`hsm`] says,
/// except that a token the module could not read is said to be unreadable and maybe busy, not
/// missing.
pub(crate) fn opening(e: &hsm_core::Error) -> CliError {
    use hsm_core::cryptoki::error::RvError;
    match e.rv() {
        _ if e.is_token_busy() => hsm(e),
        Some(RvError::GeneralError | RvError::TokenNotPresent) => unreadable(e),
        _ => hsm(e),
    }
}

/// The token could not be read: most often it is busy (SoftHSM rereads its files without
/// locking while another process writes them), not missing.
fn unreadable(e: &hsm_core::Error) -> CliError {
    CliError::setup(format!("the token could not be read and may be busy: {e}")).hint(
        "another process may be using the token right now: try again. If it keeps failing, \
         check the module (--module or HSM_MODULE; SoftHSM also reads SOFTHSM2_CONF), then \
         --token or HSM_TOKEN",
    )
}

/// A hsm-jose error while loading an HSM key.
pub(crate) fn hsm_jose(e: hsm_jose::Error) -> CliError {
    if let Some(inner) = e.hsm() {
        return hsm(inner);
    }
    match e {
        hsm_jose::Error::Jose(e) => producing(e),
        other => CliError::setup(other.to_string()),
    }
}

/// A jose-core error while producing (signing, encrypting, building claims): the inputs are
/// the caller's own, so a malformed header or claim is a usage error and a key that cannot do
/// the job is a setup error.
pub(crate) fn producing(e: jose_core::Error) -> CliError {
    use jose_core::Error as J;
    match &e {
        J::Backend(_) => backend(&e),
        J::Key(k) => key(k, e.to_string()),
        J::Algorithm(AlgorithmError::KeyMismatch { .. }) => CliError::setup(e.to_string())
            .hint("choose an algorithm this key serves (`hsm-jose keys list` shows them)"),
        J::Algorithm(
            AlgorithmError::Unsupported(_) | AlgorithmError::NotSupportedByDevice { .. },
        ) => CliError::setup(e.to_string()),
        J::Algorithm(_) | J::Malformed(_) | J::Claims(_) => CliError::usage(e.to_string()),
        J::Verification | J::Decryption => CliError::rejected(e.to_string()),
        _ => CliError::setup(e.to_string()),
    }
}

/// A jose-core error while consuming (verifying, decrypting, validating claims): whatever the
/// token itself causes is a rejection (1); the key or the token device failing is setup (3).
pub(crate) fn consuming(e: jose_core::Error) -> CliError {
    use jose_core::Error as J;
    match &e {
        J::Verification | J::Decryption => CliError::rejected(e.to_string()),
        J::Malformed(_) => CliError::rejected(e.to_string()),
        J::Claims(c) => {
            let error = CliError::rejected(e.to_string());
            match c {
                jose_core::error::ClaimsError::Missing(name) if name == "exp" => error.hint(
                    "a token without `exp` never expires; accept it with --exp-optional only if \
                     that is intended",
                ),
                jose_core::error::ClaimsError::Mismatch("aud") => error.hint(
                    "the token's `aud` must name an audience given with --aud (a token with an \
                     `aud` is refused when none is given)",
                ),
                _ => error,
            }
        }
        J::Backend(_) => backend(&e),
        J::Algorithm(
            AlgorithmError::Unsupported(_) | AlgorithmError::NotSupportedByDevice { .. },
        ) => CliError::setup(e.to_string()),
        J::Algorithm(_) => CliError::rejected(e.to_string()),
        // Keys named or described by the token (kid, epk) are the token's doing.
        J::Key(
            k @ (KeyError::NotPermitted { .. }
            | KeyError::PublicOnly
            | KeyError::NoPublicKey
            | KeyError::DuplicateKid(_)),
        ) => key(k, e.to_string()),
        J::Key(_) => CliError::rejected(e.to_string()),
        _ => CliError::setup(e.to_string()),
    }
}

/// [`consuming`], saying which algorithms were allowed when the token's was not, and which
/// options (`options`, such as `--alg`) allow others.
pub(crate) fn consuming_allowed<A: fmt::Display>(
    e: jose_core::Error,
    allowed: &[A],
    options: &str,
) -> CliError {
    let not_allowed = matches!(
        e,
        jose_core::Error::Algorithm(AlgorithmError::NotAllowed(_))
    );
    let error = consuming(e);
    if !not_allowed {
        return error;
    }
    let names: Vec<String> = allowed.iter().map(ToString::to_string).collect();
    error.hint(format!(
        "allowed here: {}; {options} allow others, if the token is expected to use them",
        names.join(", ")
    ))
}

/// A failure of the key backend (the HSM) during a JOSE operation.
fn backend(e: &jose_core::Error) -> CliError {
    match hsm_jose::hsm_error(e) {
        Some(inner) => hsm(inner).context("the token failed"),
        None => CliError::setup(e.to_string()),
    }
}

/// A key that cannot do what was asked.
fn key(k: &KeyError, message: String) -> CliError {
    let error = CliError::setup(message);
    match k {
        KeyError::PublicOnly => error.or_hint(
            "this JWK holds only a public key; signing and decrypting need the private key \
             (or an HSM key: --key)",
        ),
        KeyError::NotPermitted { .. } => error.or_hint(
            "the key's use/key_ops, or what the token lets it do, forbid this; `hsm-jose keys \
             list` shows a key's capabilities",
        ),
        KeyError::NoPublicKey => {
            error.or_hint("a secret (AES or HMAC) key has no public part to publish or encrypt to")
        }
        _ => error,
    }
}

/// An I/O failure on standard input or output, or a file.
pub(crate) fn io(what: impl fmt::Display, e: &std::io::Error) -> CliError {
    CliError::setup(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            producing(jose_core::Error::Verification).exit(),
            Exit::Rejected
        );
        assert_eq!(
            consuming(jose_core::Error::Decryption).exit(),
            Exit::Rejected
        );
        assert_eq!(
            consuming(AlgorithmError::NotAllowed("HS256".into()).into()).exit(),
            Exit::Rejected
        );
        assert_eq!(
            consuming(KeyError::KidNotFound("x".into()).into()).exit(),
            Exit::Rejected
        );
        assert_eq!(consuming(KeyError::PublicOnly.into()).exit(), Exit::Setup);
        assert_eq!(
            producing(AlgorithmError::Refused("none".into()).into()).exit(),
            Exit::Usage
        );
        assert_eq!(
            producing(
                AlgorithmError::KeyMismatch {
                    alg: "ES256".into(),
                    key: "RSA 2048".into()
                }
                .into()
            )
            .exit(),
            Exit::Setup
        );
        assert_eq!(hsm(&hsm_core::Error::PinIncorrect).exit(), Exit::Setup);
        assert_eq!(unreadable_token_error().exit(), Exit::Setup);
        assert_eq!(
            hsm(&hsm_core::Error::InvalidUri { reason: "x".into() }).exit(),
            Exit::Usage
        );
    }

    fn unreadable_token_error() -> CliError {
        hsm(&hsm_core::Error::TokenNotFound {
            label: "ux".into(),
            available: Vec::new(),
            unreadable: Vec::new(),
        })
    }

    /// A module that reads no token at all: the token may be busy, not misnamed.
    #[test]
    fn a_token_the_module_cannot_read_is_said_to_be_busy() {
        let e = unreadable_token_error();
        assert_eq!(
            e.message(),
            "the token could not be read and may be busy: no token \"ux\" in this module; \
             tokens present: none"
        );
        assert!(
            e.hint_text()
                .is_some_and(|h| h.starts_with("another process may be using the token")),
            "{e:?}"
        );
        // A wrong label, among tokens that were read: check --token.
        let e = hsm(&hsm_core::Error::TokenNotFound {
            label: "ux".into(),
            available: vec!["other".into()],
            unreadable: Vec::new(),
        });
        assert_eq!(e.hint_text(), Some("check --token or HSM_TOKEN"));
    }

    /// hsm-core's own busy error (token information unreadable after a few tries) keeps its
    /// message and gets the try-again hint, not "check --token".
    #[test]
    fn a_busy_token_from_hsm_core_says_try_again() {
        use hsm_core::cryptoki::context::Function;
        use hsm_core::cryptoki::error::RvError;
        let busy = hsm_core::Error::TokenBusy {
            function: Function::GetTokenInfo,
            rv: RvError::GeneralError,
            attempts: 5,
        };
        let e = opening(&busy);
        assert_eq!(e.exit(), Exit::Setup);
        assert!(e.message().contains("the token may be busy"), "{e:?}");
        assert!(
            e.hint_text()
                .is_some_and(|h| h.starts_with("another process may be using the token")),
            "{e:?}"
        );
    }
}
