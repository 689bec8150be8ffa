//! JSON Web Signature (RFC 7515), with unencoded payloads (RFC 7797).
//!
//! * Produce: [`sign_compact`] for the common case, [`JwsBuilder`] for JSON serializations,
//!   several signatures, detached or unencoded (`b64:false`) payloads.
//! * Consume: [`verify_compact`] / [`verify_json`] for the common case, [`Verifier`] for
//!   policies (critical extensions, detached payloads, key sets).
//!
//! The algorithm that verifies a token is chosen by the caller's allowed list *and* the key,
//! never by the token alone: a token whose `alg` is not allowed, or that the key cannot serve,
//! is rejected before any cryptography. Headers that carry keys (`jwk`, `jku`, `x5u`, `x5c`) are
//! never trusted. A successful verification returns the payload; there is no boolean to ignore.
//!
//! ```
//! use jose_core::{jws, Header, JwsAlgorithm, SoftwareKey};
//! # fn main() -> Result<(), jose_core::Error> {
//! let rsa = SoftwareKey::generate_rsa(2048)?.with_kid("rsa-1");
//! let ec = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)?.with_kid("ec-1");
//!
//! // One payload, two signatures, general JSON serialization.
//! let token = jws::JwsBuilder::new(b"{\"iss\":\"me\"}")
//!     .add_signature(&rsa, JwsAlgorithm::PS256, Header::new(), None)?
//!     .add_signature(&ec, JwsAlgorithm::ES256, Header::new(), None)?
//!     .general_json()?;
//!
//! // Each key verifies its own signature; only that signature's header is reported.
//! let v = jws::verify_json(&token, &ec, &[JwsAlgorithm::ES256])?;
//! assert_eq!(v.alg(), JwsAlgorithm::ES256);
//! assert_eq!(v.protected().kid(), Some("ec-1"));
//! # Ok(()) }
//! ```

pub(crate) mod alg;
mod headers;
mod parse;
pub(crate) mod sign;
mod verify;

pub use sign::{JwsBuilder, sign_compact};
pub use verify::{Verified, Verifier, ecdsa_normalize_s, verify_compact, verify_json};

/// The default limit on the size of a token given to a verifier (16 MiB).
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 << 20;

/// The default limit on the number of signatures of a JWS given to a verifier (each may cost
/// a public-key operation over the whole payload).
pub const DEFAULT_MAX_SIGNATURES: usize = 16;
