//! From a fetched JWK Set to the keys a verifier uses: jose-core's lenient parse
//! ([`KeySet::parse_for_verification`]) keeps every usable key and reports every other one
//! with its index, `kid` and reason.

use jose_core::KeySet;
use jose_core::error::{KeyError, Malformed};

pub use jose_core::jwk::{SkipReason, SkippedKey};

/// A JWK Set parsed for verification: the usable public keys and the skipped ones.
#[derive(Debug)]
pub struct ParsedSet {
    /// The usable keys (public parts only).
    pub keys: KeySet,
    /// The keys left out, in the order of the set.
    pub skipped: Vec<SkippedKey>,
}

/// Parses a JWK Set for verification, leniently, with jose-core's
/// [`KeySet::parse_for_verification`]: usable keys are kept (private members, if an issuer
/// publishes them by mistake, are dropped), the others are reported in [`ParsedSet::skipped`]
/// (symmetric keys among them: a published key never verifies an HMAC). The document itself
/// is parsed strictly: a repeated member name anywhere in it makes it no JWK Set.
pub fn parse_jwk_set(body: &[u8]) -> Result<ParsedSet, NotAJwkSetError> {
    parse_jwk_set_limited(body, usize::MAX)
}

/// [`parse_jwk_set`], refusing a set of more than `max_keys` keys before parsing any key:
/// every key costs a validation (point on curve, modulus size), so a hostile or broken
/// issuer must not make the client validate thousands.
pub(crate) fn parse_jwk_set_limited(
    body: &[u8],
    max_keys: usize,
) -> Result<ParsedSet, NotAJwkSetError> {
    match KeySet::parse_for_verification_limited(body, max_keys) {
        Ok((keys, skipped)) => Ok(ParsedSet { keys, skipped }),
        Err(e) => Err(NotAJwkSetError(match e {
            jose_core::Error::Malformed(Malformed::Json { detail, .. })
                if detail == "not a JSON object" =>
            {
                detail
            }
            jose_core::Error::Malformed(Malformed::TooLarge { .. }) => {
                format!("more keys than the limit of {max_keys}")
            }
            jose_core::Error::Key(KeyError::MissingMember("keys")) => "no `keys` array".into(),
            other => format!("not JSON: {other}"),
        })),
    }
}

/// The body is not a JWK Set: not JSON, not an object, or no `keys` array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAJwkSetError(pub String);
