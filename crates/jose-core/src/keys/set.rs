//! [`KeySet`]: software keys selected by `kid`; [`SharedKeySet`]: a key set that can be
//! replaced while verifications run.

use std::sync::{Arc, PoisonError, RwLock};

use crate::backend::{KeyBackend, KeyStore};
use crate::error::{KeyError, Result};
use crate::jwk::JwkSet;
use crate::jwk::lenient::{self, SkipReason, SkippedKey};
use crate::keys::SoftwareKey;

/// Software keys selected by `kid`, parsed once: the verifier's side of a JWK Set.
///
/// A `KeySet` is cheap to clone (the keys are shared behind an [`Arc`], never copied); to
/// replace the keys that running verifications use, see [`SharedKeySet`].
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
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    keys: Arc<Vec<Arc<SoftwareKey>>>,
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

    /// Parses JWK Set text strictly ([`JwkSet::from_json`]) and every key of it, in one step.
    ///
    /// For a set fetched from an issuer, which may hold keys this verifier cannot use, see
    /// [`KeySet::parse_for_verification`].
    pub fn from_json(text: &str) -> Result<Self> {
        Self::from_jwk_set(&JwkSet::from_json(text)?)
    }

    /// Parses every key of a JWK Set for verification: a set that mixes symmetric and
    /// asymmetric keys is refused ([`KeyError::MixedKeyKinds`]), as
    /// [`Verifier::verify_with`](crate::jws::Verifier::verify_with) would refuse it.
    pub fn for_verification(set: &JwkSet) -> Result<Self> {
        let keys = Self::from_jwk_set(set)?;
        crate::consume::one_kind(keys.keys.iter().map(|k| &**k as &dyn KeyBackend))?;
        Ok(keys)
    }

    /// Parses JWK Set text leniently, for a verifier of an issuer's published set: the keys
    /// are [`JwkSet::parse_for_verification`]'s (public keys only, symmetric keys skipped),
    /// and a key that cannot become a [`SoftwareKey`] is skipped too; each skipped key is
    /// reported with its index, `kid` and reason.
    ///
    /// ```
    /// use jose_core::jwk::{EcCurve, SkipReason};
    /// use jose_core::{jws, JwsAlgorithm, KeySet, SoftwareKey};
    /// # fn main() -> Result<(), jose_core::Error> {
    /// let signer = SoftwareKey::generate_ec(EcCurve::P256)?.with_kid("current");
    /// let text = format!(
    ///     r#"{{"keys":[{{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}},{}]}}"#,
    ///     signer.jwk().to_public_json()?
    /// );
    /// let (keys, skipped) = KeySet::parse_for_verification(&text)?;
    /// assert!(matches!(skipped[0].reason, SkipReason::Symmetric));
    /// let token = jws::sign_compact(&signer, JwsAlgorithm::ES256, b"hi", None)?;
    /// jws::Verifier::new(&[JwsAlgorithm::ES256]).verify_with(&token, &keys)?;
    /// # Ok(()) }
    /// ```
    pub fn parse_for_verification(text: &str) -> Result<(Self, Vec<SkippedKey>)> {
        Self::parse_for_verification_limited(text.as_bytes(), usize::MAX)
    }

    /// [`KeySet::parse_for_verification`] of a body that may be hostile: a set of more than
    /// `max_keys` keys is refused before any key is validated
    /// ([`Malformed::TooLarge`](crate::error::Malformed::TooLarge)), since each key costs a
    /// validation (point on curve, modulus size).
    pub fn parse_for_verification_limited(
        body: &[u8],
        max_keys: usize,
    ) -> Result<(Self, Vec<SkippedKey>)> {
        let mut parsed = lenient::parse(body, max_keys)?;
        let mut set = Self::new();
        for (index, jwk) in std::mem::take(&mut parsed.keys) {
            let kid = jwk.kid().map(str::to_owned);
            match SoftwareKey::from_jwk(jwk) {
                Ok(key) => {
                    if set.push(key).is_err() {
                        parsed.skip(index, kid, SkipReason::DuplicateKid);
                    }
                }
                Err(e) => parsed.skip(index, kid, SkipReason::Invalid(e)),
            }
        }
        Ok((set, parsed.into_skipped()))
    }

    /// Adds a key; a duplicate `kid` is refused.
    pub fn push(&mut self, key: SoftwareKey) -> Result<()> {
        if let Some(kid) = key.kid() {
            if self.keys.iter().any(|k| k.kid() == Some(kid)) {
                return Err(KeyError::DuplicateKid(kid.to_owned()).into());
            }
        }
        // Clones the list of shared keys only when another clone of this set holds it.
        Arc::make_mut(&mut self.keys).push(Arc::new(key));
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
            .map(|k| &**k as &dyn KeyBackend)
    }

    fn keys(&self) -> Vec<&dyn KeyBackend> {
        self.keys.iter().map(|k| &**k as &dyn KeyBackend).collect()
    }
}

/// A [`KeySet`] that can be replaced atomically while verifications run: each verification
/// takes the current set with [`SharedKeySet::load`] (an [`Arc`] clone under a read lock held
/// for no longer than that) and keeps using it even if the set is replaced meanwhile;
/// [`SharedKeySet::store`] makes every later `load` see the new keys. Clones share one slot.
///
/// ```
/// use jose_core::jwk::EcCurve;
/// use jose_core::{jws, JwsAlgorithm, KeySet, SharedKeySet, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let old = SoftwareKey::generate_ec(EcCurve::P256)?.with_kid("old");
/// let new = SoftwareKey::generate_ec(EcCurve::P256)?.with_kid("new");
/// let set_of = |k: &SoftwareKey| -> Result<KeySet, jose_core::Error> {
///     KeySet::from_json(&format!(r#"{{"keys":[{}]}}"#, k.jwk().to_public_json()?))
/// };
/// let shared = SharedKeySet::new(set_of(&old)?);
/// let verifier = jws::Verifier::new(&[JwsAlgorithm::ES256]);
///
/// let token = jws::sign_compact(&new, JwsAlgorithm::ES256, b"hi", None)?;
/// // The current set does not know the new key yet.
/// assert!(matches!(
///     verifier.verify_with(&token, &*shared.load()),
///     Err(jose_core::Error::Key(jose_core::error::KeyError::KidNotFound(kid))) if kid == "new"
/// ));
/// shared.store(set_of(&new)?); // e.g. after the issuer rotated its keys
/// assert_eq!(verifier.verify_with(&token, &*shared.load())?.payload(), b"hi");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct SharedKeySet {
    current: Arc<RwLock<Arc<KeySet>>>,
}

impl SharedKeySet {
    /// A shared slot holding `keys`.
    pub fn new(keys: KeySet) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(keys))),
        }
    }

    /// The current keys. Verifications that hold them are not affected by a later
    /// [`store`](Self::store).
    pub fn load(&self) -> Arc<KeySet> {
        // The lock only guards an `Arc` swap, which cannot panic: a poisoned lock still
        // holds a whole value.
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the keys for every later [`load`](Self::load).
    pub fn store(&self, keys: KeySet) {
        self.swap(Arc::new(keys));
    }

    /// Replaces the keys and returns the previous ones.
    pub fn swap(&self, keys: Arc<KeySet>) -> Arc<KeySet> {
        let mut slot = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, keys)
    }
}

impl From<KeySet> for SharedKeySet {
    fn from(keys: KeySet) -> Self {
        Self::new(keys)
    }
}
