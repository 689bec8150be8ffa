//! From a fetched JWK Set to the keys a verifier uses: every usable key is kept, every other
//! one is reported with its index, `kid` and reason.

use jose_core::{Jwk, KeySet, SoftwareKey};
use serde_json::Value;

/// A key of a fetched JWK Set that the client could not use.
#[derive(Debug, Clone)]
pub struct SkippedKey {
    /// Its position in the `keys` array.
    pub index: usize,
    /// Its `kid`, when it has a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a key of a fetched JWK Set was skipped.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// jose-core refused the key: unsupported `kty` or curve, RSA modulus below 2048 bits, a
    /// point off its curve, missing or malformed members.
    #[error("{0}")]
    Invalid(jose_core::Error),
    /// A symmetric (`oct`) key: a key that is published is no secret, so it must never verify
    /// an HMAC.
    #[error("a symmetric key in a published set is never used")]
    Symmetric,
    /// A second key with the `kid` of an earlier one: the first one is kept.
    #[error("the kid is already used by an earlier key in the set")]
    DuplicateKid,
}

impl std::fmt::Display for SkippedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kid {
            Some(kid) => write!(f, "key {} (kid `{kid}`): {}", self.index, self.reason),
            None => write!(f, "key {} (no kid): {}", self.index, self.reason),
        }
    }
}

/// A JWK Set parsed for verification: the usable public keys and the skipped ones.
#[derive(Debug)]
pub struct ParsedSet {
    /// The usable keys (public parts only).
    pub keys: KeySet,
    /// The keys left out, in the order of the set.
    pub skipped: Vec<SkippedKey>,
}

/// Parses a JWK Set for verification, leniently: each member of `keys` is parsed on its own
/// with jose-core's JWK parser; usable keys are kept (private members, if an issuer publishes
/// them by mistake, are dropped), the others are reported in [`ParsedSet::skipped`].
///
/// This is the one place where the client turns a body into keys: when jose-core offers a
/// lenient set parse of its own, only this function changes.
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
    let value: Value =
        serde_json::from_slice(body).map_err(|e| NotAJwkSetError(format!("not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(NotAJwkSetError("not a JSON object".into()));
    };
    let Some(Value::Array(items)) = map.get("keys") else {
        return Err(NotAJwkSetError("no `keys` array".into()));
    };
    if items.len() > max_keys {
        return Err(NotAJwkSetError(format!(
            "{} keys, more than the limit of {max_keys}",
            items.len()
        )));
    }
    let mut keys = KeySet::new();
    let mut skipped = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let kid = item.get("kid").and_then(Value::as_str).map(str::to_owned);
        let mut skip = |reason| {
            skipped.push(SkippedKey {
                index,
                kid: kid.clone(),
                reason,
            });
        };
        let key = Jwk::from_value(item)
            .and_then(|jwk| public_only(&jwk))
            .and_then(SoftwareKey::from_jwk);
        match key {
            Ok(key) if key.jwk().kty() == "oct" => skip(SkipReason::Symmetric),
            Ok(key) => {
                if let Err(e) = keys.push(key) {
                    match e {
                        jose_core::Error::Key(jose_core::error::KeyError::DuplicateKid(_)) => {
                            skip(SkipReason::DuplicateKid);
                        }
                        other => skip(SkipReason::Invalid(other)),
                    }
                }
            }
            Err(jose_core::Error::Key(jose_core::error::KeyError::NoPublicKey)) => {
                skip(SkipReason::Symmetric);
            }
            Err(e) => skip(SkipReason::Invalid(e)),
        }
    }
    Ok(ParsedSet { keys, skipped })
}

/// The public part of an asymmetric key; a symmetric key has none
/// ([`KeyError::NoPublicKey`](jose_core::error::KeyError::NoPublicKey)).
fn public_only(jwk: &Jwk) -> jose_core::Result<Jwk> {
    if jwk.is_private() || jwk.kty() == "oct" {
        jwk.to_public()
    } else {
        Ok(jwk.clone())
    }
}

/// The body is not a JWK Set: not JSON, not an object, or no `keys` array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotAJwkSetError(pub String);
