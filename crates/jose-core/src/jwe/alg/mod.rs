//! JWE key management algorithms (RFC 7518 section 4), one module per RFC name.
//!
//! The functions here are the software implementations behind
//! [`SoftwareKey`](crate::SoftwareKey)'s [`KeyBackend`](crate::KeyBackend) methods; they take
//! parsed key material and import nothing from the key types. The JWE layer itself only talks
//! to the trait.

pub(crate) mod aesgcmkw;
pub(crate) mod aeskw;
pub(crate) mod direct;
pub(crate) mod ecdh_es;
pub(crate) mod rsaes;
