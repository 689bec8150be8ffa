//! Crypto providers: which library computes the primitives under the JOSE code.
//!
//! jose-core does the JOSE work itself (parsing, header rules, key validation, signature shape,
//! low-S, low-order points) and asks a [`Provider`] for the primitives: RSA PKCS#1 v1.5, PSS
//! and OAEP, ECDSA on P-256/384/521, EdDSA, ECDH, AES-GCM, AES key wrap, AES-CBC with HMAC,
//! HMAC and randomness. The shape follows rustls' `CryptoProvider`: the providers are values,
//! one module each, and the JOSE code never names a library.
//!
//! * [`Provider::rust_crypto`]: the RustCrypto crates (`rsa`, `p256`/`p384`/`p521`,
//!   `ed25519-dalek`, `ed448-goldilocks`, `x25519-dalek`, `aes-gcm`, `aes-kw`, `cbc`, `hmac`).
//!   Always built.
//! * [`Provider::aws_lc`] (cargo feature `aws-lc-rs`): AWS-LC through `aws-lc-rs`. Algorithms
//!   AWS-LC does not offer, or offers with other semantics, keep the RustCrypto implementation
//!   inside this provider: Ed448 (AWS-LC has none), Ed25519 *verification* (ed25519-dalek's
//!   strict check refuses small-order `R` and keys, which AWS-LC accepts), ECDH (P-curves and
//!   X25519), AES-CBC with HMAC, and RSA keys above 8192 bits (AWS-LC's limit).
//!
//! # Choosing a provider
//!
//! The process default is [`default_provider`]: the one installed with [`install_default`],
//! otherwise aws-lc-rs when the `aws-lc-rs` feature is on, otherwise RustCrypto. A key can use
//! another one ([`SoftwareKey::from_jwk_with`](crate::SoftwareKey::from_jwk_with)); every
//! operation with that key (signing, verification, key unwrap, ECDH) and the content
//! encryption of a JWE it decrypts then use it.
//!
//! ```
//! use jose_core::provider::{self, Provider};
//! use jose_core::{jws, JwsAlgorithm, SoftwareKey};
//! # fn main() -> Result<(), jose_core::Error> {
//! let signer = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)?;
//! let token = jws::sign_compact(&signer, JwsAlgorithm::ES256, b"hi", None)?;
//! // This verifier uses RustCrypto whatever the process default is.
//! let public = signer.jwk().to_public()?;
//! let verifier = SoftwareKey::from_jwk_with(public, Provider::rust_crypto())?;
//! assert_eq!(verifier.provider().name(), "rust-crypto");
//! jws::verify_compact(&token, &verifier, &[JwsAlgorithm::ES256])?;
//! println!("default provider: {}", provider::default_provider().name());
//! # Ok(()) }
//! ```

pub(crate) mod rust_crypto;

#[cfg(feature = "aws-lc-rs")]
pub(crate) mod aws_lc;

use std::fmt;
use std::sync::OnceLock;

use crate::alg::{ContentEncryption, KeyManagementAlgorithm};
use crate::error::Result;
use crate::jwe::alg::aeskw;
use crate::jwe::enc::{Sealed, aes_cbc_hmac};
use crate::jwk::parsed::Parsed;
use crate::jwk::{Jwk, KeyMaterial, SecretBytes};
use crate::jws::alg::Family;

/// A crypto provider: the library that computes the primitives. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Provider {
    imp: &'static dyn Primitives,
}

impl Provider {
    /// The RustCrypto provider (always available).
    pub fn rust_crypto() -> Self {
        Self {
            imp: &rust_crypto::RustCrypto,
        }
    }

    /// The aws-lc-rs provider (cargo feature `aws-lc-rs`).
    #[cfg(feature = "aws-lc-rs")]
    pub fn aws_lc() -> Self {
        Self {
            imp: &aws_lc::AwsLc,
        }
    }

    /// Every provider built into this crate, RustCrypto first.
    pub fn all() -> Vec<Self> {
        #[allow(unused_mut)]
        let mut all = vec![Self::rust_crypto()];
        #[cfg(feature = "aws-lc-rs")]
        all.push(Self::aws_lc());
        all
    }

    /// The provider named `name` (`"rust-crypto"`, `"aws-lc-rs"`), if built in.
    pub fn by_name(name: &str) -> Option<Self> {
        Self::all().into_iter().find(|p| p.name() == name)
    }

    /// The provider's name: `"rust-crypto"` or `"aws-lc-rs"`.
    pub fn name(&self) -> &'static str {
        self.imp.name()
    }

    pub(crate) fn imp(&self) -> &'static dyn Primitives {
        self.imp
    }
}

impl PartialEq for Provider {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Provider {}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Provider").field(&self.name()).finish()
    }
}

static INSTALLED: OnceLock<Provider> = OnceLock::new();

/// Installs the process default provider. Only the first call succeeds, and only before the
/// default is first used (the first key built or token made fixes it); otherwise the provider
/// given is returned. Call it at start-up: a key keeps the provider it was built with.
pub fn install_default(provider: Provider) -> std::result::Result<(), Provider> {
    INSTALLED.set(provider)
}

/// The process default provider: the installed one, otherwise aws-lc-rs when the `aws-lc-rs`
/// feature is on, otherwise RustCrypto.
pub fn default_provider() -> Provider {
    *INSTALLED.get_or_init(built_in_default)
}

#[cfg(feature = "aws-lc-rs")]
fn built_in_default() -> Provider {
    Provider::aws_lc()
}

#[cfg(not(feature = "aws-lc-rs"))]
fn built_in_default() -> Provider {
    Provider::rust_crypto()
}

/// Key material prepared by a provider once, when a key is built (the library's own key
/// objects, so no operation re-parses the key).
pub(crate) enum Prepared {
    RustCrypto(rust_crypto::Prepared),
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(Box<aws_lc::Prepared>),
}

/// A key as the providers see it: the validated RustCrypto parse (jose-core's checks ran on
/// it) and the provider's own preparation.
pub(crate) struct ProviderKey {
    pub(crate) parsed: Parsed,
    pub(crate) prepared: Prepared,
}

/// The primitives a provider offers. Crate-private: the providers are the modules of this
/// crate. A method returning `None` means the key does not fit the operation (a mismatch the
/// caller reports); cryptographic failures are [`Error::Verification`](crate::Error) (as
/// `false`) and [`Error::Decryption`](crate::Error).
pub(crate) trait Primitives: Send + Sync {
    fn name(&self) -> &'static str;

    /// Prepares a validated key (`parsed` is `material` after jose-core's import checks).
    fn prepare(&self, material: &KeyMaterial, parsed: &Parsed) -> Result<Prepared>;

    /// Signs the JWS signing input (hashed here). ECDSA output is `r || s` in either S form;
    /// jose-core normalizes it.
    fn sign(&self, key: &ProviderKey, family: Family, input: &[u8]) -> Option<Result<Vec<u8>>>;

    /// Whether `sig` is a signature of `input`. jose-core has checked the signature's shape.
    fn verify(&self, key: &ProviderKey, family: Family, input: &[u8], sig: &[u8]) -> Option<bool>;

    /// RSAES-OAEP encryption of a content key to the key's public part.
    fn rsa_oaep_encrypt(
        &self,
        key: &ProviderKey,
        alg: KeyManagementAlgorithm,
        cek: &[u8],
    ) -> Option<Result<Vec<u8>>>;

    /// RSAES-OAEP decryption; any failure is `Error::Decryption`.
    fn rsa_oaep_decrypt(
        &self,
        key: &ProviderKey,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
    ) -> Option<Result<SecretBytes>>;

    /// ECDH of the key's private part with a validated peer on the same curve: `Z`.
    fn ecdh(&self, key: &ProviderKey, peer: &Parsed) -> Result<SecretBytes>;

    /// The sender's side of ECDH-ES: a fresh ephemeral key on the (validated) recipient's curve,
    /// agreed with it: `Z` and the ephemeral public key. `None` leaves it to jose-core's
    /// RustCrypto path (the default).
    fn ecdh_ephemeral(&self, recipient: &Parsed) -> Option<Result<(SecretBytes, Jwk)>> {
        let _ = recipient;
        None
    }

    /// AES-GCM (key length selects AES-128/192/256), 96-bit IV, 128-bit tag.
    fn aes_gcm_seal(&self, key: &[u8], iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed>;

    /// AES-GCM decryption; any failure is `Error::Decryption`.
    fn aes_gcm_open(
        &self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<SecretBytes>;

    /// AES-CBC with HMAC-SHA-2 (RFC 7518 section 5.2); RustCrypto's for every provider (faster
    /// than AWS-LC's AES-CBC through aws-lc-rs, measured: `docs/providers.md`).
    fn aes_cbc_hmac_seal(
        &self,
        enc: ContentEncryption,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Sealed> {
        aes_cbc_hmac::encrypt(enc, key, iv, aad, plaintext)
    }

    /// AES-CBC with HMAC-SHA-2 decryption; any failure is `Error::Decryption`.
    fn aes_cbc_hmac_open(
        &self,
        enc: ContentEncryption,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<SecretBytes> {
        aes_cbc_hmac::decrypt(enc, key, iv, aad, ciphertext, tag)
    }

    /// AES key wrap (RFC 3394); by default RustCrypto's (aws-lc-rs brings its own for
    /// 128 and 256-bit keys).
    fn aes_kw_wrap(&self, kek: &[u8], cek: &[u8]) -> Result<Vec<u8>> {
        aeskw::wrap(kek, cek)
    }

    /// AES key unwrap; any failure is `Error::Decryption`.
    fn aes_kw_unwrap(&self, kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes> {
        aeskw::unwrap(kek, wrapped)
    }

    /// Fills `buf` from a cryptographically secure RNG.
    fn fill_random(&self, buf: &mut [u8]) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_fixed_once_used() {
        let used = default_provider();
        for p in Provider::all() {
            assert!(
                matches!(install_default(p), Err(given) if given == p),
                "{} was installed after the default was used",
                p.name()
            );
        }
        assert_eq!(default_provider(), used);
    }

    #[test]
    fn providers_are_found_by_name() {
        for p in Provider::all() {
            assert_eq!(Provider::by_name(p.name()), Some(p));
        }
        assert_eq!(Provider::all().first(), Some(&Provider::rust_crypto()));
        assert_eq!(Provider::by_name("openssl"), None);
    }
}
