//! [`KeySet`]: software keys selected by `kid`.

use crate::backend::{KeyBackend, KeyStore};
use crate::error::{KeyError, Result};
use crate::jwk::JwkSet;
use crate::keys::SoftwareKey;

/// Software keys selected by `kid`, parsed once: the verifier's side of a JWK Set.
///
/// ```
/// use jose_core::{jws, jwk::{EcCurve, JwkSet}, JwsAlgorithm, KeySet, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let signer = SoftwareKey::generate_ec(EcCurve::P256)?.with_kid("2026-11");
/// let token = jws::sign_compact(&signer, JwsAlgorithm::ES256, b"hi", None)?;
///
/// let jwks = JwkSet::from_json(&format!(r#"{{"keys":[{}]}}"#, signer.jwk().to_public_json()?))?;
/// let keys = KeySet::from_jwk_set(&jwks)?;
/// let verified = jws::Verifier::new(&[JwsAlgorithm::ES256]).verify_with(&token, &keys)?;
/// assert_eq!(verified.payload(), b"hi");
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<SoftwareKey>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses every key of a JWK Set.
    pub fn from_jwk_set(set: &JwkSet) -> Result<Self> {
        let mut out = Self::new();
        for jwk in set {
            out.push(SoftwareKey::from_jwk(jwk.clone())?)?;
        }
        Ok(out)
    }

    /// Parses every key of a JWK Set for verification: a set that mixes symmetric and
    /// asymmetric keys is refused ([`KeyError::MixedKeyKinds`]), as
    /// [`Verifier::verify_with`](crate::jws::Verifier::verify_with) would refuse it.
    pub fn for_verification(set: &JwkSet) -> Result<Self> {
        let keys = Self::from_jwk_set(set)?;
        crate::consume::one_kind(keys.keys.iter().map(|k| k as &dyn KeyBackend))?;
        Ok(keys)
    }

    /// Adds a key; a duplicate `kid` is refused.
    pub fn push(&mut self, key: SoftwareKey) -> Result<()> {
        if let Some(kid) = key.kid() {
            if self.keys.iter().any(|k| k.kid() == Some(kid)) {
                return Err(KeyError::DuplicateKid(kid.to_owned()).into());
            }
        }
        self.keys.push(key);
        Ok(())
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl KeyStore for KeySet {
    fn key_by_kid(&self, kid: &str) -> Option<&dyn KeyBackend> {
        self.keys
            .iter()
            .find(|k| k.kid() == Some(kid))
            .map(|k| k as &dyn KeyBackend)
    }

    fn keys(&self) -> Vec<&dyn KeyBackend> {
        self.keys.iter().map(|k| k as &dyn KeyBackend).collect()
    }
}
