//! JWK Sets (RFC 7517 section 5).

use serde_json::{Map, Value};

use super::Jwk;
use super::lenient::{self, SkipReason, SkippedKey};
use crate::error::{Error, KeyError, Result};

/// A JWK Set: `{"keys":[...]}`.
///
/// ```
/// use jose_core::jwk::{EcCurve, Jwk, JwkSet};
/// # fn main() -> Result<(), jose_core::Error> {
/// let mut set = JwkSet::new();
/// set.push(Jwk::generate_ec(EcCurve::P256)?.with_kid("a"))?;
/// set.push(Jwk::generate_ec(EcCurve::P384)?.with_kid("b"))?;
/// assert!(matches!( // a duplicate kid
///     set.push(Jwk::generate_ec(EcCurve::P256)?.with_kid("a")),
///     Err(jose_core::Error::Key(jose_core::error::KeyError::DuplicateKid(_)))
/// ));
/// let published = set.to_public_json();          // for /.well-known/jwks.json
/// let parsed = JwkSet::from_json(&published)?;
/// assert_eq!(parsed.get("b")?.describe(), "EC P-384");
/// assert!(!parsed.get("a")?.is_private());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    pub(super) keys: Vec<Jwk>,
}

impl JwkSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a JWK Set. Keys whose `kty` is not supported are skipped, as RFC 7517 section 5
    /// asks; a key of a supported type that is invalid is an error.
    pub fn from_json(text: &str) -> Result<Self> {
        let map = crate::json::parse_object("JWK Set", text.as_bytes())
            .map_err(|e| KeyError::Json(e.to_string()))?;
        Self::from_map(map)
    }

    /// Parses a JWK Set leniently, for a verifier: every usable public key is kept, every
    /// other member of `keys` is returned as a [`SkippedKey`] with its index, `kid` and reason.
    ///
    /// This is the parse for sets a program *fetches* (an identity provider's
    /// `/.well-known/jwks.json`), which hold keys a given verifier cannot use. Use the strict
    /// [`JwkSet::from_json`] for sets a program publishes or is configured with.
    ///
    /// * A key that is invalid (RSA modulus below 2048 bits, point off its curve...) or of an
    ///   unsupported `kty` or curve is skipped with [`SkipReason::Invalid`].
    /// * Symmetric (`oct`) keys are skipped with [`SkipReason::Symmetric`]: a published key is
    ///   no secret, and a verification set holds one kind of key
    ///   ([`KeyError::MixedKeyKinds`]). An HMAC verifier uses [`JwkSet::from_json`] and
    ///   [`KeySet::for_verification`](crate::KeySet::for_verification).
    /// * A key whose `kid` an earlier key already has is skipped with
    ///   [`SkipReason::DuplicateKid`]; the first one stays.
    /// * Private members (an issuer publishing its private key by mistake) are dropped: only
    ///   the public part is kept, the private one is zeroized.
    ///
    /// The document is still parsed strictly: text that is not a JSON object with a `keys`
    /// array ([`KeyError::MissingMember`]`("keys")`), or that repeats a member name anywhere
    /// ([`Malformed::DuplicateMember`](crate::error::Malformed::DuplicateMember)), is an error.
    ///
    /// ```
    /// use jose_core::jwk::{EcCurve, Jwk, JwkSet, SkipReason};
    /// # fn main() -> Result<(), jose_core::Error> {
    /// let good = Jwk::generate_ec(EcCurve::P256)?.with_kid("a").to_public_json()?;
    /// let text = format!(r#"{{"keys":[{good},{{"kty":"PQC","kid":"b"}}]}}"#);
    /// let (set, skipped) = JwkSet::parse_for_verification(&text)?;
    /// assert_eq!(set.len(), 1);
    /// assert_eq!((skipped[0].index, skipped[0].kid.as_deref()), (1, Some("b")));
    /// assert!(matches!(skipped[0].reason, SkipReason::Invalid(_)));
    /// # Ok(()) }
    /// ```
    pub fn parse_for_verification(text: &str) -> Result<(Self, Vec<SkippedKey>)> {
        let mut parsed = lenient::parse(text.as_bytes(), usize::MAX)?;
        let mut set = Self::new();
        for (index, jwk) in std::mem::take(&mut parsed.keys) {
            let kid = jwk.kid().map(str::to_owned);
            if set.push(jwk).is_err() {
                parsed.skip(index, kid, SkipReason::DuplicateKid);
            }
        }
        Ok((set, parsed.into_skipped()))
    }

    /// Builds a set from a parsed JSON value.
    pub fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Object(map) => Self::from_map(map.clone()),
            _ => Err(KeyError::Json("a JWK Set is a JSON object".into()).into()),
        }
    }

    pub(super) fn from_map(mut map: Map<String, Value>) -> Result<Self> {
        let Some(Value::Array(items)) = map.remove("keys") else {
            crate::json::wipe(&mut Value::Object(map));
            return Err(KeyError::MissingMember("keys").into());
        };
        // Each key object is moved into its JWK, never copied: the parsed private members end
        // in zeroizing buffers or are wiped, on every path.
        let mut keys = Vec::with_capacity(items.len());
        let mut items = items.into_iter();
        for item in items.by_ref() {
            let parsed = match item {
                Value::Object(obj) => Jwk::from_map(obj),
                mut other => {
                    crate::json::wipe(&mut other);
                    Err(KeyError::Json("not a JSON object".into()).into())
                }
            };
            match parsed {
                Ok(jwk) => keys.push(jwk),
                Err(Error::Key(
                    KeyError::UnsupportedKeyType(_) | KeyError::UnsupportedCurve(_),
                )) => {}
                Err(e) => {
                    items.for_each(|mut rest| crate::json::wipe(&mut rest));
                    return Err(e);
                }
            }
        }
        Ok(Self { keys })
    }

    /// Adds a key; a key whose `kid` is already in the set is refused.
    pub fn push(&mut self, jwk: Jwk) -> Result<()> {
        if let Some(kid) = jwk.kid() {
            if self.keys.iter().any(|k| k.kid() == Some(kid)) {
                return Err(KeyError::DuplicateKid(kid.to_owned()).into());
            }
        }
        self.keys.push(jwk);
        Ok(())
    }

    /// The one key with this `kid`: an error if there is none, or more than one.
    pub fn get(&self, kid: &str) -> Result<&Jwk> {
        let mut found = self.keys.iter().filter(|k| k.kid() == Some(kid));
        match (found.next(), found.next()) {
            (Some(k), None) => Ok(k),
            (Some(_), Some(_)) => Err(KeyError::DuplicateKid(kid.to_owned()).into()),
            (None, _) => Err(KeyError::KidNotFound(kid.to_owned()).into()),
        }
    }

    /// The `kid`s that appear more than once.
    pub fn duplicate_kids(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        let mut dups: Vec<&str> = Vec::new();
        for kid in self.keys.iter().filter_map(Jwk::kid) {
            if seen.contains(&kid) {
                if !dups.contains(&kid) {
                    dups.push(kid);
                }
            } else {
                seen.push(kid);
            }
        }
        dups
    }

    /// The keys.
    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    /// Iterates over the keys.
    pub fn iter(&self) -> std::slice::Iter<'_, Jwk> {
        self.keys.iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The public JWK Set as a JSON value: every asymmetric key's public part; symmetric keys
    /// are left out (they have no public part).
    pub fn to_public_value(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter_map(|k| k.to_public_value().ok())
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// The public JWK Set as JSON text.
    pub fn to_public_json(&self) -> String {
        self.to_public_value().to_string()
    }

    /// The whole set, private members included, in a zeroizing buffer.
    pub fn to_private_json(&self) -> zeroize::Zeroizing<String> {
        let keys: Vec<zeroize::Zeroizing<String>> =
            self.keys.iter().map(Jwk::to_private_json).collect();
        let parts = keys
            .iter()
            .enumerate()
            .flat_map(|(i, k)| [if i == 0 { "" } else { "," }, k.as_str()]);
        crate::json::join_secret(
            std::iter::once(r#"{"keys":["#)
                .chain(parts)
                .chain(std::iter::once("]}")),
        )
    }
}

impl<'a> IntoIterator for &'a JwkSet {
    type Item = &'a Jwk;
    type IntoIter = std::slice::Iter<'a, Jwk>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.iter()
    }
}
