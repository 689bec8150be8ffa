//! The one error type of jose-core.
//!
//! Failures that depend on secret material are deliberately opaque: every JWS signature or MAC
//! check that fails is [`Error::Verification`] and every JWE decryption that fails after parsing
//! (wrong key, bad tag, bad padding, bad key unwrap) is [`Error::Decryption`], so that no error
//! tells an attacker which step rejected a forgery.

use std::fmt;
use std::sync::Arc;

/// Everything that can go wrong in jose-core.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not a well-formed JOSE object.
    #[error("malformed input: {0}")]
    Malformed(#[from] Malformed),
    /// A key is malformed, invalid or may not be used this way.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// An algorithm is unknown, refused, not allowed by the caller or not served by the key.
    #[error("algorithm: {0}")]
    Algorithm(#[from] AlgorithmError),
    /// A signature or MAC did not verify. Deliberately carries no detail.
    #[error("signature verification failed")]
    Verification,
    /// A JWE could not be decrypted. Deliberately carries no detail.
    #[error("decryption failed")]
    Decryption,
    /// JWT claims did not pass validation.
    #[error("JWT claims: {0}")]
    Claims(#[from] ClaimsError),
    /// The key backend (for instance an HSM) failed to perform an operation.
    #[error("key backend: {0}")]
    Backend(#[from] BackendError),
    /// The operating system's random number generator failed.
    #[error("the random number generator failed")]
    Rng,
}

/// Why an input is not a well-formed JOSE object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// A compact serialization with the wrong number of dot-separated parts.
    #[error("a compact {kind} has {expected} parts separated by dots")]
    Parts {
        /// `JWS` or `JWE`.
        kind: &'static str,
        /// How many parts that serialization has.
        expected: usize,
    },
    /// A part that must not be empty is empty.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// A part is not canonical unpadded base64url.
    #[error("the {0} is not valid base64url (unpadded, canonical)")]
    Base64(&'static str),
    /// A part is not the JSON it must be.
    #[error("the {part} is not valid JSON: {detail}")]
    Json {
        /// Which part.
        part: &'static str,
        /// What the JSON parser said.
        detail: String,
    },
    /// A JSON object names the same member twice.
    #[error("the {part} names the member `{name}` twice")]
    DuplicateMember {
        /// Which part.
        part: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A header member is missing, of the wrong type or has a value that is not allowed.
    #[error("header member `{member}`: {reason}")]
    Header {
        /// The member name.
        member: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The `crit` header names an extension this caller does not understand.
    #[error("the critical header parameter `{0}` is not understood")]
    Critical(String),
    /// The same header member appears in more than one header of a JSON serialization.
    #[error("header member `{0}` appears in more than one header")]
    HeaderCollision(String),
    /// A JSON serialization lacks a member or has one of the wrong type.
    #[error("JSON serialization: {0}")]
    Serialization(&'static str),
    /// The input exceeds a size limit.
    #[error("the {what} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A detached-payload JWS was given without its payload, or an attached one with one.
    #[error("{0}")]
    Payload(&'static str),
}

/// Why a key cannot be parsed or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The JWK is not valid JSON or not an object.
    #[error("the JWK is not a JSON object: {0}")]
    Json(String),
    /// A required JWK member is missing.
    #[error("the JWK lacks the member `{0}`")]
    MissingMember(&'static str),
    /// A JWK member has the wrong type or an invalid value.
    #[error("JWK member `{member}`: {reason}")]
    InvalidMember {
        /// The member name.
        member: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key type (`kty`) is not supported.
    #[error("unsupported key type `{0}`")]
    UnsupportedKeyType(String),
    /// The curve (`crv`) is not supported for this key type.
    #[error("unsupported curve `{0}`")]
    UnsupportedCurve(String),
    /// An RSA modulus below 2048 bits.
    #[error("RSA modulus of {0} bits is below the 2048-bit minimum")]
    RsaModulusTooSmall(usize),
    /// An RSA public exponent that is not an odd number greater than 1.
    #[error("RSA public exponent must be odd and greater than 1")]
    RsaExponent,

    /// The RSA modulus has the ROCA fingerprint (CVE-2017-15361): its primes came from the
    /// Infineon RSALib and can be recovered from the public key.
    #[error("the RSA modulus has the ROCA fingerprint (CVE-2017-15361): the key can be factored")]
    RocaFingerprint,

    /// A key set meant for verification holds both symmetric (HMAC) and asymmetric keys: a
    /// verifier given such a set cannot tell which kind a token should use (the HMAC-with-a-
    /// public-key confusion).
    #[error(
        "the key set mixes symmetric and asymmetric keys ({symmetric} and {asymmetric}); \
         a verification key set holds one kind"
    )]
    MixedKeyKinds {
        /// The first symmetric key of the set (its `kid`, or its description).
        symmetric: String,
        /// The first asymmetric key of the set (its `kid`, or its description).
        asymmetric: String,
    },
    /// An elliptic-curve point that is not on the named curve.
    #[error("the public point is not on curve {0}")]
    PointNotOnCurve(&'static str),
    /// Private members that do not belong to the public members.
    #[error("the private key does not match the public key")]
    Inconsistent,
    /// The key's `use`, `key_ops` or `alg`, or the device's capabilities, forbid this operation.
    #[error("the key may not be used to {op}{}", kid_suffix(.kid))]
    NotPermitted {
        /// The refused operation (a `key_ops` name such as `sign`).
        op: &'static str,
        /// The key's `kid`, if any.
        kid: Option<String>,
    },
    /// An operation needs a public key and this key has none (a symmetric key).
    #[error("a symmetric key has no public part")]
    NoPublicKey,
    /// An operation needs the private key and only the public key is held.
    #[error("this is a public key; the operation needs the private key")]
    PublicOnly,
    /// The private key cannot be exported (it lives in a device).
    #[error("private key cannot be exported from {0}")]
    NotExportable(&'static str),
    /// A JWK Set holds two keys with one `kid`.
    #[error("the JWK Set holds more than one key with kid `{0}`")]
    DuplicateKid(String),
    /// No key in the set has this `kid`.
    #[error("no key with kid `{0}`")]
    KidNotFound(String),
    /// The token names no `kid` and the key set holds more than one candidate key.
    #[error("the token names no kid and {0} keys could verify it")]
    KidRequired(usize),
    /// Key generation parameters that are not supported.
    #[error("cannot generate this key: {0}")]
    Generation(&'static str),
}

fn kid_suffix(kid: &Option<String>) -> String {
    kid.as_ref()
        .map(|k| format!(" (kid `{k}`)"))
        .unwrap_or_default()
}

/// Why an algorithm was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlgorithmError {
    /// An algorithm name that jose-core does not know.
    #[error("unknown algorithm `{0}`")]
    Unknown(String),
    /// An algorithm refused on principle (`none`, `RSA1_5`), never available.
    #[error("algorithm `{0}` is refused: it is insecure and cannot be enabled")]
    Refused(String),
    /// The token's header has no `alg` (or `enc`).
    #[error("the header has no `{0}` member")]
    Missing(&'static str),
    /// The caller's policy does not allow this algorithm.
    #[error("algorithm `{0}` is not in the allowed list")]
    NotAllowed(String),
    /// The key cannot serve this algorithm (wrong key type, curve or size).
    #[error("algorithm `{alg}` does not fit this key ({key})")]
    KeyMismatch {
        /// The algorithm.
        alg: String,
        /// A description of the key (`EC P-384`, `RSA 2048`...).
        key: String,
    },
    /// The algorithm needs something this backend or device does not offer.
    #[error("algorithm `{0}` is not supported by this key's backend")]
    Unsupported(String),
    /// The key itself would fit the algorithm, but the device holding it cannot run it: its
    /// mechanism list lacks what the algorithm needs (and every fallback).
    #[error("algorithm `{alg}` is not supported by this token for {key}: needs {needs}")]
    NotSupportedByDevice {
        /// The algorithm.
        alg: String,
        /// A description of the key.
        key: String,
        /// What the device would need to offer (`CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS`).
        needs: String,
    },
}

/// Why JWT claims were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// The payload is not a JSON object.
    #[error("the claims are not a JSON object")]
    NotAnObject,
    /// A claim has the wrong JSON type.
    #[error("claim `{0}` has the wrong type")]
    WrongType(String),
    /// A required claim is absent.
    #[error("claim `{0}` is required")]
    Missing(String),
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not yet valid")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// A claim does not have the expected value (`iss`, `aud`, `sub`).
    #[error("claim `{0}` does not have the expected value")]
    Mismatch(&'static str),
    /// The `typ` header is not the expected one.
    #[error("the token type (`typ`) is not the expected one")]
    Type,
    /// A JWS was presented where a JWE was expected, or the reverse.
    #[error("expected a {expected}, got a {found}")]
    WrongKind {
        /// What the caller expected.
        expected: &'static str,
        /// What the token is.
        found: &'static str,
    },
    /// The claims could not be converted into the caller's type.
    #[error("the claims do not fit the requested type: {0}")]
    Deserialize(String),
}

/// A failure inside a key backend (an HSM, a KMS), kept as the backend's own error.
///
/// Backends must never put secrets (PINs, key bytes) into their errors.
#[derive(Clone)]
pub struct BackendError {
    kind: BackendErrorKind,
    source: Arc<dyn std::error::Error + Send + Sync>,
}

/// Broad classes of backend failure, so callers can react without knowing the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The device, token, session or login failed (retry later, check configuration).
    Device,
    /// The key was not found or cannot do this operation on this device.
    Key,
    /// The device does not offer the mechanism an algorithm needs.
    Unsupported,
    /// Anything else.
    Other,
}

impl BackendError {
    /// Wraps a backend's error.
    pub fn new(
        kind: BackendErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            source: Arc::new(source),
        }
    }

    /// The broad class of the failure.
    pub fn kind(&self) -> BackendErrorKind {
        self.kind
    }

    /// The backend's own error, for downcasting.
    pub fn inner(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.source
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The result type of jose-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_displays_without_panicking() {
        let io = std::io::Error::other("device gone");
        let errors: Vec<Error> = vec![
            Malformed::Parts {
                kind: "JWS",
                expected: 3,
            }
            .into(),
            Malformed::Empty("signature").into(),
            Malformed::Base64("payload").into(),
            Malformed::Json {
                part: "header",
                detail: "eof".into(),
            }
            .into(),
            Malformed::DuplicateMember {
                part: "header",
                name: "alg".into(),
            }
            .into(),
            Malformed::Header {
                member: "b64".into(),
                reason: "must be a boolean",
            }
            .into(),
            Malformed::Critical("exp".into()).into(),
            Malformed::HeaderCollision("kid".into()).into(),
            Malformed::Serialization("signatures must be an array").into(),
            Malformed::TooLarge {
                what: "token",
                limit: 10,
            }
            .into(),
            Malformed::Payload("detached").into(),
            KeyError::Json("eof".into()).into(),
            KeyError::MissingMember("n").into(),
            KeyError::InvalidMember {
                member: "x",
                reason: "wrong length",
            }
            .into(),
            KeyError::UnsupportedKeyType("XYZ".into()).into(),
            KeyError::UnsupportedCurve("P-192".into()).into(),
            KeyError::RsaModulusTooSmall(1024).into(),
            KeyError::RsaExponent.into(),
            KeyError::RocaFingerprint.into(),
            KeyError::MixedKeyKinds {
                symmetric: "kid `a`".into(),
                asymmetric: "kid `b`".into(),
            }
            .into(),
            KeyError::PointNotOnCurve("P-256").into(),
            KeyError::Inconsistent.into(),
            KeyError::NotPermitted {
                op: "sign",
                kid: Some("k1".into()),
            }
            .into(),
            KeyError::NoPublicKey.into(),
            KeyError::PublicOnly.into(),
            KeyError::NotExportable("the HSM").into(),
            KeyError::DuplicateKid("a".into()).into(),
            KeyError::KidNotFound("a".into()).into(),
            KeyError::KidRequired(2).into(),
            KeyError::Generation("bits").into(),
            AlgorithmError::Unknown("XX".into()).into(),
            AlgorithmError::Refused("none".into()).into(),
            AlgorithmError::Missing("alg").into(),
            AlgorithmError::NotAllowed("HS256".into()).into(),
            AlgorithmError::KeyMismatch {
                alg: "ES256".into(),
                key: "EC P-384".into(),
            }
            .into(),
            AlgorithmError::Unsupported("RSA-OAEP-256".into()).into(),
            AlgorithmError::NotSupportedByDevice {
                alg: "RS256".into(),
                key: "RSA 2048 in token \"ock\"".into(),
                needs: "CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS".into(),
            }
            .into(),
            Error::Verification,
            Error::Decryption,
            ClaimsError::NotAnObject.into(),
            ClaimsError::WrongType("exp".into()).into(),
            ClaimsError::Missing("sub".into()).into(),
            ClaimsError::Expired.into(),
            ClaimsError::NotYetValid.into(),
            ClaimsError::IssuedInFuture.into(),
            ClaimsError::Mismatch("iss").into(),
            ClaimsError::Type.into(),
            ClaimsError::WrongKind {
                expected: "JWS",
                found: "JWE",
            }
            .into(),
            ClaimsError::Deserialize("missing field".into()).into(),
            BackendError::new(BackendErrorKind::Device, io).into(),
            Error::Rng,
        ];
        for e in errors {
            let text = e.to_string();
            assert!(!text.is_empty());
            assert!(!format!("{e:?}").is_empty());
        }
    }

    #[test]
    fn opaque_errors_say_nothing_specific() {
        assert_eq!(
            Error::Verification.to_string(),
            "signature verification failed"
        );
        assert_eq!(Error::Decryption.to_string(), "decryption failed");
    }
}
