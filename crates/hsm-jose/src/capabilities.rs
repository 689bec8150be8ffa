//! What a token can run: the input of every [plan](crate::plan).

use std::ops::RangeInclusive;

use cryptoki::mechanism::MechanismType;
use hsm_core::SessionPool;

/// The mechanisms a token offers, as the plans see them.
///
/// [`HsmJwk::load`](crate::HsmJwk::load) reads them from the pool (the token's
/// `C_GetMechanismList`, read once when the pool was built). A program can restrict them
/// ([`without`](Capabilities::without)) and load a key with
/// [`HsmJwk::load_with`](crate::HsmJwk::load_with): the key then offers only what the
/// restricted token could run, through the same fallbacks a real token with that list would
/// get. Nothing here is learned from a failing operation: an algorithm is offered or not before
/// any token call.
///
/// ```no_run
/// use hsm_jose::hsm_core::cryptoki::mechanism::MechanismType;
/// use hsm_jose::{Capabilities, HsmJwk, KeySelector, SessionPool};
/// # fn main() -> Result<(), hsm_jose::Error> {
/// let pool = SessionPool::from_env()?;
/// // Behave as a token without the hashing RSA mechanism: RS256 runs through CKM_RSA_PKCS.
/// let caps = Capabilities::from_token(&pool).without(MechanismType::SHA256_RSA_PKCS);
/// let key = HsmJwk::load_with(&pool, &KeySelector::label("rsa-2048"), caps)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    mechanisms: Vec<MechanismType>,
    key_sizes: Vec<(MechanismType, RangeInclusive<usize>)>,
}

impl Capabilities {
    /// The mechanisms the pool's token lists.
    pub fn from_token(pool: &SessionPool) -> Self {
        Self::from_mechanisms(pool.mechanisms().iter().copied())
    }

    /// Exactly these mechanisms (for tests, and for a token whose list is known).
    pub fn from_mechanisms(mechanisms: impl IntoIterator<Item = MechanismType>) -> Self {
        let mut list: Vec<MechanismType> = Vec::new();
        for m in mechanisms {
            if !list.contains(&m) {
                list.push(m);
            }
        }
        Self {
            mechanisms: list,
            key_sizes: Vec::new(),
        }
    }

    /// These capabilities with `mechanism` limited to keys whose size is in `sizes`, in the
    /// unit of the token's `C_GetMechanismInfo` (`ulMinKeySize`..`ulMaxKeySize`): bits for RSA
    /// (modulus), EC (field: 256, 384, 521) and EdDSA keys, bytes for AES and generic secret
    /// keys. Without a limit, a listed mechanism takes every key size.
    pub fn with_key_sizes(
        mut self,
        mechanism: MechanismType,
        sizes: RangeInclusive<usize>,
    ) -> Self {
        self.key_sizes.retain(|(m, _)| *m != mechanism);
        self.key_sizes.push((mechanism, sizes));
        self
    }

    /// True when `mechanism` takes keys of `size` (see
    /// [`with_key_sizes`](Capabilities::with_key_sizes)); true when no limit is known.
    pub fn takes_key_size(&self, mechanism: MechanismType, size: usize) -> bool {
        self.key_sizes
            .iter()
            .find(|(m, _)| *m == mechanism)
            .is_none_or(|(_, sizes)| sizes.contains(&size))
    }

    /// These capabilities without `mechanism`, as if the token did not list it.
    pub fn without(mut self, mechanism: MechanismType) -> Self {
        self.mechanisms.retain(|m| *m != mechanism);
        self.key_sizes.retain(|(m, _)| *m != mechanism);
        self
    }

    /// These capabilities without the mechanisms `keep` refuses.
    pub(crate) fn only(mut self, keep: impl Fn(MechanismType) -> bool) -> Self {
        self.mechanisms.retain(|m| keep(*m));
        self.key_sizes.retain(|(m, _)| keep(*m));
        self
    }

    /// True when the token lists `mechanism`.
    pub fn supports(&self, mechanism: MechanismType) -> bool {
        self.mechanisms.contains(&mechanism)
    }

    /// The mechanisms, in the token's order.
    pub fn mechanisms(&self) -> &[MechanismType] {
        &self.mechanisms
    }
}
