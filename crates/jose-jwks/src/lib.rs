//! Follow an issuer's JSON Web Key Set and verify bearer JWTs with it, for API gateways.
//!
//! * [`JwksClient`]: fetches a JWK Set from its URL or through OpenID Connect discovery, over
//!   rustls; caches it as `Cache-Control: max-age` says, within bounds; fetches it again when a
//!   token names an unknown `kid` (at most once per interval, one request shared by concurrent
//!   callers); keeps serving the last good set when the issuer is down or answers garbage.
//!   Every request has a timeout and a cap on the body.
//! * [`parse_jwk_set`]: the lenient parse for verifiers: keys the verifier cannot use are
//!   left out and reported ([`SkippedKey`]), the others verify.
//! * [`JwtAuthLayer`]: a tower layer (for axum, hyper, tonic) that takes
//!   `Authorization: Bearer <jwt>`, verifies it with the client's keys and a
//!   [`jose_core::jwt::Validation`], and gives the handler [`VerifiedClaims<T>`]; `401` with a
//!   `WWW-Authenticate: Bearer` challenge otherwise.
//!
//! The keys are [`jose_core::KeySet`]s: verification itself is jose-core's. See the gateway
//! guide (`docs/gateway.md`) for a complete axum service.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cache_control;
mod client;
mod error;
mod fetch;
mod layer;
mod parse;

pub use client::{JwksClient, JwksClientBuilder, JwksStatus, Source};
pub use error::{JwksError, VerifyError};
pub use layer::{JwtAuth, JwtAuthLayer, Rejection, VerifiedClaims};
pub use parse::{NotAJwkSetError, ParsedSet, SkipReason, SkippedKey, parse_jwk_set};

/// The gateway guide's example, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/gateway.md")]
struct GatewayGuideDoctests;
