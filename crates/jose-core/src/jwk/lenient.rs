//! The lenient parse of a JWK Set for verifiers: every usable public key is kept, every other
//! member of `keys` is reported with its index, `kid` and reason.
//!
//! Identity providers publish sets holding keys that a given verifier cannot use (a legacy
//! 1024-bit RSA key, a key type from a newer draft); one of them must not stop the verifier
//! from using the others. The document itself is still parsed strictly: a body that is not a
//! JSON object with a `keys` array, or that repeats a member name anywhere, is refused whole.

use std::fmt;

use serde_json::Value;

use super::Jwk;
use crate::error::{Error, KeyError, Malformed, Result};

/// A member of a JWK Set's `keys` array that the lenient parse left out.
#[derive(Debug, Clone)]
pub struct SkippedKey {
    /// Its position in the `keys` array.
    pub index: usize,
    /// Its `kid`, when it has a string one.
    pub kid: Option<String>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a key of a JWK Set parsed for verification was skipped.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// The key was refused: unsupported `kty` or curve, RSA modulus below 2048 bits, a point
    /// off its curve, missing or malformed members, not a JSON object.
    #[error("{0}")]
    Invalid(Error),
    /// A symmetric (`oct`) key: a key that is published is no secret, so it must never verify
    /// an HMAC (and a verification set holds one kind of key).
    #[error("a symmetric key in a published set is never used")]
    Symmetric,
    /// A second key with the `kid` of an earlier one: the first one is kept.
    #[error("the kid is already used by an earlier key in the set")]
    DuplicateKid,
}

impl fmt::Display for SkippedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kid {
            Some(kid) => write!(f, "key {} (kid `{kid}`): {}", self.index, self.reason),
            None => write!(f, "key {} (no kid): {}", self.index, self.reason),
        }
    }
}

/// The public keys of a set, each with its index in `keys`, and the skipped members (not yet
/// checked for duplicate `kid`s: the caller's set does that as it takes the keys).
pub(crate) struct Lenient {
    pub(crate) keys: Vec<(usize, Jwk)>,
    pub(crate) skipped: Vec<SkippedKey>,
}

impl Lenient {
    pub(crate) fn skip(&mut self, index: usize, kid: Option<String>, reason: SkipReason) {
        self.skipped.push(SkippedKey { index, kid, reason });
    }

    /// The skipped keys in the order of the set.
    pub(crate) fn into_skipped(mut self) -> Vec<SkippedKey> {
        self.skipped.sort_by_key(|s| s.index);
        self.skipped
    }
}

/// Parses `text` as a JWK Set for verification, refusing more than `max_keys` members before
/// any key is validated ([`Malformed::TooLarge`]).
pub(crate) fn parse(text: &[u8], max_keys: usize) -> Result<Lenient> {
    let mut map = crate::json::parse_object("JWK Set", text)?;
    let items = match map.remove("keys") {
        Some(Value::Array(items)) => items,
        other => {
            if let Some(mut v) = other {
                crate::json::wipe(&mut v);
            }
            crate::json::wipe(&mut Value::Object(map));
            return Err(KeyError::MissingMember("keys").into());
        }
    };
    if items.len() > max_keys {
        let mut items = Value::Array(items);
        crate::json::wipe(&mut items);
        return Err(Malformed::TooLarge {
            what: "JWK Set (number of keys)",
            limit: max_keys,
        }
        .into());
    }
    let mut out = Lenient {
        keys: Vec::with_capacity(items.len()),
        skipped: Vec::new(),
    };
    for (index, item) in items.into_iter().enumerate() {
        let kid = item.get("kid").and_then(Value::as_str).map(str::to_owned);
        // Each key object is moved into its JWK (which wipes what it does not keep).
        let parsed = match item {
            Value::Object(obj) => Jwk::from_map(obj),
            mut other => {
                crate::json::wipe(&mut other);
                Err(KeyError::Json("not a JSON object".into()).into())
            }
        };
        match parsed {
            Ok(jwk) if jwk.kty() == "oct" => out.skip(index, kid, SkipReason::Symmetric),
            // A private key published by mistake: only its public part is kept; the private
            // one is zeroized as it is dropped here.
            Ok(jwk) if jwk.is_private() => match jwk.to_public() {
                Ok(public) => out.keys.push((index, public)),
                Err(e) => out.skip(index, kid, SkipReason::Invalid(e)),
            },
            Ok(jwk) => out.keys.push((index, jwk)),
            Err(e) => out.skip(index, kid, SkipReason::Invalid(e)),
        }
    }
    Ok(out)
}
