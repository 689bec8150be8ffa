//! The seam between JOSE and key material.
//!
//! JOSE code never touches private key bytes: it asks a [`KeyBackend`] for an operation by
//! algorithm, and the key decides how to do it — in software ([`SoftwareKey`](crate::SoftwareKey))
//! or inside a device (the `hsm-jose` crate implements this trait for PKCS#11 keys). The shape
//! follows rustls' `SigningKey`/`Signer`: the message given to [`KeyBackend::sign`] is the JWS
//! signing input, not a digest; the backend hashes it as the algorithm requires.
//!
//! Every operation is fallible (a device can be unplugged, a session can expire), and a backend
//! is `Send + Sync` so one key can serve many threads. A backend states which algorithms it
//! serves and which operations its `use`/`key_ops` (or device capabilities) permit; JOSE code
//! checks both *before* asking it to do anything, so a misfit is a clear error and no device
//! call is made.
//!
//! # Implementing a backend
//!
//! ```
//! use jose_core::{Algorithm, Error, Jwk, JwsAlgorithm, KeyBackend, KeyOp, SoftwareKey};
//!
//! /// A key that logs every signature and delegates to a software key.
//! #[derive(Debug)]
//! struct Audited(SoftwareKey);
//!
//! impl KeyBackend for Audited {
//!     fn kid(&self) -> Option<&str> { self.0.kid() }
//!     fn public_jwk(&self) -> Option<&Jwk> { self.0.public_jwk() }
//!     fn algorithms(&self) -> &[Algorithm] { self.0.algorithms() }
//!     fn permits(&self, op: KeyOp) -> bool { self.0.permits(op) }
//!     fn describe(&self) -> String { format!("audited {}", self.0.describe()) }
//!     fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>, Error> {
//!         eprintln!("signing {} bytes with {alg}", input.len());
//!         self.0.sign(alg, input)
//!     }
//!     fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<(), Error> {
//!         self.0.verify(alg, input, sig)
//!     }
//! }
//!
//! # fn main() -> Result<(), Error> {
//! let key = Audited(SoftwareKey::generate_ed25519()?);
//! let token = jose_core::jws::sign_compact(&key, JwsAlgorithm::EdDSA, b"hello", None)?;
//! let verified = jose_core::jws::verify_compact(&token, &key, &[JwsAlgorithm::EdDSA])?;
//! assert_eq!(verified.payload(), b"hello");
//! # Ok(()) }
//! ```

use std::fmt;

use serde_json::{Map, Value};

use crate::alg::{Algorithm, ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm};
use crate::error::{AlgorithmError, Error, KeyError, Result};
use crate::header::Header;
use crate::jwk::{Jwk, KeyOp, SecretBytes};

/// A key that can perform JOSE operations without revealing private material.
///
/// Only [`sign`](KeyBackend::sign) and [`verify`](KeyBackend::verify) must be implemented; the
/// JWE operations default to an [`AlgorithmError::Unsupported`] error.
pub trait KeyBackend: Send + Sync + fmt::Debug {
    /// The key ID, used to select the key and put into headers.
    fn kid(&self) -> Option<&str>;

    /// The public key as a JWK (no private members), with `kid`/`use`/`key_ops`/`alg` when
    /// set. `None` for a symmetric key.
    fn public_jwk(&self) -> Option<&Jwk>;

    /// The algorithms this key can serve, given its type, size, curve, `alg` member and (for a
    /// device) the mechanisms the device offers. A public key lists the algorithms it can verify.
    fn algorithms(&self) -> &[Algorithm];

    /// Whether `use`/`key_ops` (or the device's capability flags) permit this operation.
    fn permits(&self, op: KeyOp) -> bool;

    /// A short description for error messages (`RSA 2048`, `EC P-256 in token "prod"`).
    fn describe(&self) -> String;

    /// The error for an algorithm this key does not offer (`alg` is not in
    /// [`algorithms`](KeyBackend::algorithms)). jose-core returns it before any key operation.
    ///
    /// The default says the algorithm does not fit the key
    /// ([`AlgorithmError::KeyMismatch`]). A device backend overrides it to say *why*, for
    /// instance that the key would fit but the device lacks the mechanism
    /// ([`AlgorithmError::NotSupportedByDevice`]).
    fn refusal(&self, alg: Algorithm) -> Error {
        AlgorithmError::KeyMismatch {
            alg: alg.to_string(),
            key: self.describe(),
        }
        .into()
    }

    /// The crypto provider for the software steps around this key: the content encryption of
    /// the JWEs it decrypts and, for a key without private material in software, nothing else.
    /// The default is the process [default provider](crate::provider::default_provider).
    fn provider(&self) -> crate::provider::Provider {
        crate::provider::default_provider()
    }

    /// Signs the JWS signing input (`BASE64URL(header) || '.' || payload`) with `alg`.
    ///
    /// The input is not hashed: the backend hashes it as the algorithm requires. ECDSA
    /// signatures are returned as fixed-length `r || s`, in the low-S form (a backend whose
    /// device may return either form passes them through
    /// [`jws::ecdsa_normalize_s`](crate::jws::ecdsa_normalize_s)).
    fn sign(&self, alg: JwsAlgorithm, signing_input: &[u8]) -> Result<Vec<u8>>;

    /// Verifies a signature over the signing input. Any failure of the check itself is
    /// [`Error::Verification`], with no detail.
    fn verify(&self, alg: JwsAlgorithm, signing_input: &[u8], signature: &[u8]) -> Result<()>;

    /// Recovers the content encryption key from a JWE's `encrypted_key` (RSA-OAEP decryption,
    /// AES key unwrap, AES-GCM key decryption; for `dir`, returns the shared key itself).
    ///
    /// `header` is the JWE's joint header (for `iv`/`tag` of the `*GCMKW` algorithms); `enc`
    /// tells the expected key length. Failures of the unwrap itself are [`Error::Decryption`].
    fn unwrap_key(
        &self,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
        header: &Header,
        enc: ContentEncryption,
    ) -> Result<SecretBytes> {
        let _ = (encrypted_key, header, enc);
        Err(AlgorithmError::Unsupported(alg.to_string()).into())
    }

    /// Encrypts a content encryption key for this key (the sender's side). Symmetric keys (AES
    /// key wrap, AES-GCM key encryption, `dir`) do it here. Asymmetric keys need not implement
    /// it: for RSA-OAEP jose-core asks here first (a key that holds its parsed public key
    /// encrypts with it) and, on [`AlgorithmError::Unsupported`], encrypts to the public JWK;
    /// ECDH-ES always agrees with the public JWK.
    fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> Result<WrappedKey> {
        let _ = cek;
        Err(AlgorithmError::Unsupported(alg.to_string()).into())
    }

    /// Performs the ECDH key agreement of this private key with the ephemeral public key `epk`
    /// and returns the shared secret `Z` (the x coordinate, or the X25519 output). The caller
    /// has already checked that `epk` is on this key's curve.
    fn derive_ecdh(&self, epk: &Jwk) -> Result<SecretBytes> {
        let _ = epk;
        Err(AlgorithmError::Unsupported("ECDH-ES".into()).into())
    }
}

/// An encrypted content key and the header members its algorithm adds (`iv` and `tag` for
/// the `*GCMKW` algorithms).
#[derive(Debug, Clone, Default)]
pub struct WrappedKey {
    /// The JWE `encrypted_key`.
    pub encrypted_key: Vec<u8>,
    /// Members to add to the recipient's header.
    pub header: Map<String, Value>,
}

/// The key operations that may stand for a JWS or JWE step with `alg`.
pub(crate) fn ops_for(alg: Algorithm, producing: bool) -> &'static [KeyOp] {
    use KeyManagementAlgorithm as K;
    match (alg, producing) {
        (Algorithm::Jws(_), true) => &[KeyOp::Sign],
        (Algorithm::Jws(_), false) => &[KeyOp::Verify],
        (Algorithm::Jwe(K::Dir), true) => &[KeyOp::Encrypt],
        (Algorithm::Jwe(K::Dir), false) => &[KeyOp::Decrypt],
        (Algorithm::Jwe(a), _) if a.is_ecdh() => &[KeyOp::DeriveKey, KeyOp::DeriveBits],
        (Algorithm::Jwe(_), true) => &[KeyOp::WrapKey, KeyOp::Encrypt],
        (Algorithm::Jwe(_), false) => &[KeyOp::UnwrapKey, KeyOp::Decrypt],
    }
}

/// Checks, before any key operation, that `key` serves `alg` and may be used for it.
pub fn check_key(key: &dyn KeyBackend, alg: Algorithm, producing: bool) -> Result<()> {
    if !key.algorithms().contains(&alg) {
        return Err(key.refusal(alg));
    }
    let ops = ops_for(alg, producing);
    if !ops.iter().any(|op| key.permits(*op)) {
        let op = ops.first().map_or("use", |op| op.as_str());
        return Err(KeyError::NotPermitted {
            op,
            kid: key.kid().map(str::to_owned),
        }
        .into());
    }
    Ok(())
}

/// Keys looked up by `kid`: a JWK Set, an HSM key set, a rotation ring.
pub trait KeyStore: Send + Sync {
    /// The key with this `kid`.
    fn key_by_kid(&self, kid: &str) -> Option<&dyn KeyBackend>;

    /// Every key, for tokens that name no `kid`.
    fn keys(&self) -> Vec<&dyn KeyBackend>;
}

impl<T: KeyBackend + ?Sized> KeyBackend for std::sync::Arc<T> {
    fn kid(&self) -> Option<&str> {
        (**self).kid()
    }
    fn public_jwk(&self) -> Option<&Jwk> {
        (**self).public_jwk()
    }
    fn algorithms(&self) -> &[Algorithm] {
        (**self).algorithms()
    }
    fn permits(&self, op: KeyOp) -> bool {
        (**self).permits(op)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn refusal(&self, alg: Algorithm) -> Error {
        (**self).refusal(alg)
    }
    fn provider(&self) -> crate::provider::Provider {
        (**self).provider()
    }
    fn sign(&self, alg: JwsAlgorithm, signing_input: &[u8]) -> Result<Vec<u8>> {
        (**self).sign(alg, signing_input)
    }
    fn verify(&self, alg: JwsAlgorithm, signing_input: &[u8], signature: &[u8]) -> Result<()> {
        (**self).verify(alg, signing_input, signature)
    }
    fn unwrap_key(
        &self,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
        header: &Header,
        enc: ContentEncryption,
    ) -> Result<SecretBytes> {
        (**self).unwrap_key(alg, encrypted_key, header, enc)
    }
    fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> Result<WrappedKey> {
        (**self).wrap_key(alg, cek)
    }
    fn derive_ecdh(&self, epk: &Jwk) -> Result<SecretBytes> {
        (**self).derive_ecdh(epk)
    }
}

/// The key of `store` that a token's `kid` names; without a `kid`, the one key able to serve
/// `alg` (several candidates are an error: the token must say which).
pub(crate) fn select_key<'k>(
    store: &'k dyn KeyStore,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<&'k dyn KeyBackend> {
    match kid {
        Some(kid) => store
            .key_by_kid(kid)
            .ok_or_else(|| KeyError::KidNotFound(kid.to_owned()).into()),
        None => {
            let fits: Vec<&dyn KeyBackend> = store
                .keys()
                .into_iter()
                .filter(|k| k.algorithms().contains(&alg))
                .collect();
            match fits.as_slice() {
                [one] => Ok(*one),
                [] => Err(AlgorithmError::KeyMismatch {
                    alg: alg.to_string(),
                    key: "no key in the set".into(),
                }
                .into()),
                many => Err(KeyError::KidRequired(many.len()).into()),
            }
        }
    }
}

/// Both traits stay object safe (jose-core takes them as `&dyn`).
const _: Option<(&dyn KeyBackend, &dyn KeyStore)> = None;

/// Convenience: the error for a private operation on a public-only key.
pub(crate) fn public_only() -> Error {
    KeyError::PublicOnly.into()
}
