//! JSON Web Tokens (RFC 7519): signed, encrypted and nested, produced and consumed.
//!
//! * Produce: [`sign`], [`encrypt`], [`sign_then_encrypt`] from [`Claims`].
//! * Consume: [`Validation`], whose method states the kind expected —
//!   [`verify`](Validation::verify) (JWS), [`decrypt`](Validation::decrypt) (JWE) or
//!   [`decrypt_and_verify`](Validation::decrypt_and_verify) (nested) — so a token of another
//!   kind is rejected before any cryptography.
//!
//! JWT adds no cryptography of its own: it uses [`jws`](crate::jws) and [`jwe`](crate::jwe).
//!
//! ```
//! use jose_core::{jwt, JwsAlgorithm, SoftwareKey};
//! # fn main() -> Result<(), jose_core::Error> {
//! #[derive(serde::Deserialize)]
//! struct Access { sub: String, scope: String }
//!
//! let issuer = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)?.with_kid("iss-1");
//! let claims = jwt::Claims::new()
//!     .issuer("https://issuer.example")
//!     .subject("alice")
//!     .audience("https://api.example")
//!     .expires_at(4_000_000_000)
//!     .with("scope", "read");
//! let token = jwt::sign(&claims, &issuer, JwsAlgorithm::ES256, None)?;
//!
//! let verifier_key = SoftwareKey::from_jwk(issuer.jwk().to_public()?)?;
//! let jwt = jwt::Validation::new()
//!     .jws_algorithms(&[JwsAlgorithm::ES256])
//!     .issuer("https://issuer.example")
//!     .audience("https://api.example")
//!     .typ("JWT")
//!     .verify(&token, &verifier_key)?;
//! let access: Access = jwt.deserialize()?;
//! assert_eq!((access.sub.as_str(), access.scope.as_str()), ("alice", "read"));
//! # Ok(()) }
//! ```

mod claims;
mod encode;
mod validation;

pub use claims::Claims;
pub use encode::{encrypt, sign, sign_then_encrypt};
pub use validation::{Jwt, Validation};

/// The default clock skew tolerated for `exp`, `nbf` and `iat`: 60 seconds.
pub const DEFAULT_LEEWAY: u64 = 60;
