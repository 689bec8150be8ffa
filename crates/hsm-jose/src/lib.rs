//! JOSE with private keys that never leave a PKCS#11 HSM.
//!
//! [`HsmJwk`] is a key in a token that implements jose-core's [`KeyBackend`]: pass it wherever
//! jose-core takes a key, and signing, RSA-OAEP decryption, AES key unwrapping and ECDH key
//! agreement happen in the token. [`HsmJwkSet`] holds a service's keys by `kid` and publishes
//! their public JWK Set. Sessions come from hsm-core's [`SessionPool`], shared by every key and
//! every thread. With the `tokio` feature, `service::AsyncHsm` runs the same operations for
//! async code on worker threads of its own, never on the runtime's.
//!
//! A key offers exactly the algorithms its token can run, directly or through a fallback, from
//! the token's mechanism list ([`Capabilities`]); anything else is refused before any token
//! call with an error naming the mechanisms it would need. Everything this crate returns, and
//! every jose-core error from an operation with an HSM key, converts into one [`Error`] whose
//! variants say what happened (`KeyNotFound`, `Pin`, `NotSupported`, `Token`, `Jose`, ...).
//!
//! ```no_run
//! use hsm_jose::jose_core::{jws, JwsAlgorithm, SoftwareKey};
//! use hsm_jose::{HsmJwk, Pin, SessionPool};
//! # fn main() -> Result<(), hsm_jose::Error> {
//! let pool = SessionPool::new("/usr/lib/softhsm/libsofthsm2.so", "my-token", Pin::new("1234"))?;
//! let signer = HsmJwk::from_label(&pool, "ec-p256")?.with_kid("ec-1");
//! let token = jws::sign_compact(&signer, JwsAlgorithm::ES256, b"hello", None)?;
//!
//! // Anyone can verify with the public JWK alone, in pure software.
//! let public = SoftwareKey::from_json(&signer.public_json()?)?;
//! jws::verify_compact(&token, &public, &[JwsAlgorithm::ES256])?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod backend;
mod capabilities;
pub mod cert;
mod error;
pub mod import;
mod key;
mod plan;
mod probe;
mod public;
#[cfg(feature = "tokio")]
pub mod service;
mod set;

pub use capabilities::Capabilities;
pub use error::{Error, PinProblem, Result, hsm_error};
pub use key::HsmJwk;
pub use public::has_roca_fingerprint;
pub use set::{HsmJwkSet, KidSource};

pub use hsm_core;
pub use hsm_core::{KeySelector, Pin, Pkcs11Uri, PoolKey, PoolStats, SessionPool, hsm_session};
pub use jose_core::{self, KeyBackend};

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The guide to key import, certificates and x5c, compiled as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/keys-in-the-world.md")]
struct KeysInTheWorldDoctests;

/// The migration guide from jwcrypto and a Python HSM glue library, compiled as doctests so
/// that its Rust side stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/migration.md")]
struct MigrationDoctests;
