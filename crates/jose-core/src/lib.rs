//! Pure-Rust JOSE: JSON Web Keys, Signatures, Encryption and Tokens, with every private-key
//! operation behind the [`KeyBackend`] trait so that keys may live in software or in a device.
//!
//! * [`jwk`]: keys and key sets (RFC 7517, 7518, 8037), RFC 7638 thumbprints.
//! * [`jws`]: signatures (RFC 7515, 7797), compact and JSON serializations.
//! * [`jwe`]: encryption (RFC 7516, 7518, 8037), compact and JSON serializations, several
//!   recipients; the recipient's private-key step goes through the backend.
//! * [`jwt`]: tokens (RFC 7519), signed, encrypted or nested, with claim validation.
//! * [`KeyBackend`]: the seam. [`SoftwareKey`] implements it in memory; the `hsm-jose` crate
//!   implements it for PKCS#11 keys.
//!
//! This crate has no PKCS#11 dependency and can be used alone with software keys.
//!
//! ```
//! use jose_core::{jws, JwsAlgorithm, SoftwareKey};
//! # fn main() -> Result<(), jose_core::Error> {
//! let key = SoftwareKey::generate_ed25519()?.with_kid("ed-1");
//! let token = jws::sign_compact(&key, JwsAlgorithm::EdDSA, b"hello", None)?;
//!
//! // The verifier needs only the public JWK, and states which algorithms it accepts.
//! let public_json = key.jwk().to_public_json()?;
//! let verifier_key = SoftwareKey::from_json(&public_json)?;
//! let verified = jws::verify_compact(&token, &verifier_key, &[JwsAlgorithm::EdDSA])?;
//! assert_eq!(verified.payload(), b"hello");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod alg;
mod b64;
pub mod backend;
mod consume;
pub mod error;
mod header;
mod json;
pub mod jwe;
pub mod jwk;
pub mod jws;
pub mod jwt;
mod keys;
pub mod provider;
mod rng;

pub use alg::{Algorithm, ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm};
pub use backend::{KeyBackend, KeyStore, WrappedKey};
pub use error::{Error, Result};
pub use header::Header;
pub use jwk::{Jwk, JwkSet, KeyOp, SecretBytes};
pub use keys::{KeySet, SharedKeySet, SoftwareKey};
pub use provider::Provider;

/// Base64url (unpadded, strict) as used throughout JOSE. These are the constant-time codecs
/// (base64ct), safe for secrets.
pub mod base64url {
    pub use crate::b64::{decode_secret as decode, encode_secret as encode};
}

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
