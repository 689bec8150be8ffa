//! PKCS#11 for services: modules loaded once per process, a thread-safe session pool,
//! PKCS#11 URIs (RFC 7512), key lookup and hardened key generation, on [`cryptoki`].
//!
//! # The pieces
//!
//! - [`Module`]: a PKCS#11 library, loaded and `C_Initialize`d once per process per path, shared
//!   by everything that uses it ([`module`]).
//! - [`SessionPool`]: logged-in sessions on one token, checked out per operation; [`run`]
//!   recovers once from a lost session or login, as [`pool::recovery`] (the one
//!   classification of PKCS#11 return values) says; a closure runs at most twice ([`pool`]).
//! - [`module::find_module`]: a module by name in the system directories (one table,
//!   [`module::search`]); [`Module::scan`] lists tokens, unreadable slots included.
//! - [`key`]: [`find_key`] by label and/or id in one search,
//!   [`KeyInfo`] with the key kind, capabilities, protection and JWK-ready public
//!   key; [`generate_key_pair`] and
//!   [`generate_secret_key`] with sensitive, non-extractable
//!   templates. [`PoolKey`] keeps a key's handles valid across re-logins.
//! - [`Pkcs11Uri`]: `pkcs11:token=...;object=...` URIs ([`uri`]).
//! - [`Pin`]: PINs zeroized on drop and never printed ([`pin`]).
//! - [`admin`]: token and PIN initialisation, for provisioning and tests.
//! - [`Error`]: one error type; PKCS#11 failures keep the C function and return value.
//!
//! # Example: sign with an HSM key from many threads
//!
//! ```no_run
//! use hsm_core::cryptoki::mechanism::Mechanism;
//! use hsm_core::key::KeySelector;
//! use hsm_core::{PoolKey, SessionPool};
//!
//! # fn main() -> hsm_core::Result<()> {
//! // HSM_MODULE (optional), HSM_TOKEN and HSM_PIN configure the pool.
//! let pool = SessionPool::from_env()?;
//! let key = PoolKey::find(&pool, KeySelector::label("ec-p256"))?;
//! let threads: Vec<_> = (0..4)
//!     .map(|_| {
//!         let key = key.clone();
//!         std::thread::spawn(move || {
//!             key.run(|session, info| {
//!                 let private = info.private.ok_or(hsm_core::cryptoki::error::Error::InvalidValue)?;
//!                 session.sign(&Mechanism::Ecdsa, private, &[0u8; 32])
//!             })
//!         })
//!     })
//!     .collect();
//! for thread in threads {
//!     let signature = thread.join().expect("no panic")?;
//!     assert_eq!(signature.len(), 64);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! [`run`]: SessionPool::run
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod admin;
pub mod error;
pub mod key;
pub mod module;
pub mod pin;
pub mod pool;
pub mod trace;
pub mod uri;

/// The `cryptoki` version this crate is built on, so callers name the same types.
pub use cryptoki;

pub use error::{Error, Result};
pub use key::{
    Capabilities, EcCurve, EdCurve, KeyClass, KeyInfo, KeyKind, KeySelector, KeySpec, KeyUsage,
    Protection, PublicKeyMaterial, SecretSpec, delete_key, delete_key_by, find_key,
    generate_key_pair, generate_secret_key, list_keys,
};
pub use module::Module;
pub use pin::Pin;
pub use pool::{
    PoolBuilder, PoolKey, PoolStats, PooledSession, Recovery, SessionPool, hsm_session,
};
pub use uri::Pkcs11Uri;

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
