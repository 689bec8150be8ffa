//! What a token can run: the input of every [plan](crate::plan).

use std::ops::RangeInclusive;

use cryptoki::mechanism::{MechanismInfo, MechanismType};
use hsm_core::SessionPool;

/// What a plan uses a mechanism for: the `C_GetMechanismInfo` flag it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MechanismUse {
    /// `CKF_SIGN`: JWS signatures (and HMAC).
    Sign,
    /// `CKF_DECRYPT`: RSA-OAEP and AES-GCM key decryption.
    Decrypt,
    /// `CKF_UNWRAP`: AES key wrap.
    Unwrap,
    /// `CKF_DERIVE`: ECDH.
    Derive,
}

impl MechanismUse {
    /// The flag's name, as an error names what is missing.
    pub(crate) fn flag(self) -> &'static str {
        match self {
            MechanismUse::Sign => "CKF_SIGN",
            MechanismUse::Decrypt => "CKF_DECRYPT",
            MechanismUse::Unwrap => "CKF_UNWRAP",
            MechanismUse::Derive => "CKF_DERIVE",
        }
    }
}

/// The operations a token's `C_GetMechanismInfo` flags allow for one mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Uses {
    sign: bool,
    decrypt: bool,
    unwrap: bool,
    derive: bool,
}

impl Uses {
    fn of(info: &MechanismInfo) -> Self {
        Self {
            sign: info.sign(),
            decrypt: info.decrypt(),
            unwrap: info.unwrap(),
            derive: info.derive(),
        }
    }

    fn allows(self, usage: MechanismUse) -> bool {
        match usage {
            MechanismUse::Sign => self.sign,
            MechanismUse::Decrypt => self.decrypt,
            MechanismUse::Unwrap => self.unwrap,
            MechanismUse::Derive => self.derive,
        }
    }
}

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
/// Read from a token, the capabilities also hold what `C_GetMechanismInfo` says of each
/// mechanism: a mechanism serves an operation only when its flags include it (`CKF_SIGN` for
/// signatures, `CKF_DECRYPT` for RSA-OAEP and AES-GCM key decryption, `CKF_UNWRAP` for AES key
/// wrap, `CKF_DERIVE` for ECDH), and only for keys whose size is in its
/// `ulMinKeySize`..`ulMaxKeySize` range (see [`with_key_sizes`](Capabilities::with_key_sizes)).
/// A mechanism the token lists but will not describe, and one whose range is `0..=0`, is taken
/// as it is listed (every operation, every size).
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
    /// The operations each described mechanism serves; a mechanism absent here serves all.
    uses: Vec<(MechanismType, Uses)>,
}

impl Capabilities {
    /// The mechanisms the pool's token lists, with the operations and key sizes its
    /// `C_GetMechanismInfo` allows for each (read once when the pool was built; no token call
    /// here).
    pub fn from_token(pool: &SessionPool) -> Self {
        let mut caps = Self::from_mechanisms(pool.mechanisms().iter().copied());
        for m in pool.mechanisms() {
            if let Some(info) = pool.mechanism_info(*m) {
                caps.uses.push((*m, Uses::of(info)));
                if let Some(sizes) = key_size_range(info) {
                    caps = caps.with_key_sizes(*m, sizes);
                }
            }
        }
        caps
    }

    /// These capabilities with every ECDSA mechanism (`CKM_ECDSA`, `CKM_ECDSA_SHA*`) limited
    /// to keys of at most `bits`: for a key whose token cannot sign with it although its
    /// mechanism information says otherwise (see [`HsmJwk`](crate::HsmJwk)'s loading of
    /// tpm2-pkcs11 P-521 keys).
    pub(crate) fn with_ecdsa_up_to(mut self, bits: usize) -> Self {
        for m in [
            MechanismType::ECDSA,
            MechanismType::ECDSA_SHA256,
            MechanismType::ECDSA_SHA384,
            MechanismType::ECDSA_SHA512,
        ] {
            if self.supports(m) {
                let min = self
                    .key_sizes
                    .iter()
                    .find(|(k, _)| *k == m)
                    .map_or(0, |(_, sizes)| *sizes.start());
                self = self.with_key_sizes(m, min..=bits.max(min));
            }
        }
        self
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
            uses: Vec::new(),
        }
    }

    /// These capabilities with `mechanism` limited to keys whose size is in `sizes`, in the
    /// unit of the token's `C_GetMechanismInfo` (`ulMinKeySize`..`ulMaxKeySize`): bits for RSA
    /// (modulus) and EC (field: 256, 384, 521) keys, bytes for AES and generic secret keys.
    /// EdDSA keys are taken when the range holds either the curve's size (255, 448) or the
    /// encoded key's in bits (256, 456: SoftHSM's unit). Without a limit, a listed mechanism
    /// takes every key size.
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
        self.uses.retain(|(m, _)| *m != mechanism);
        self
    }

    /// These capabilities limited to what `token` can run: its mechanisms, and for each, its
    /// operations and key sizes where `token` knows them and these do not.
    pub(crate) fn within(mut self, token: &Capabilities) -> Self {
        self.mechanisms.retain(|m| token.supports(*m));
        self.key_sizes.retain(|(m, _)| token.supports(*m));
        self.uses.retain(|(m, _)| token.supports(*m));
        for (m, sizes) in &token.key_sizes {
            if self.supports(*m) && !self.key_sizes.iter().any(|(k, _)| k == m) {
                self.key_sizes.push((*m, sizes.clone()));
            }
        }
        for (m, uses) in &token.uses {
            if self.supports(*m) && !self.uses.iter().any(|(k, _)| k == m) {
                self.uses.push((*m, *uses));
            }
        }
        self
    }

    /// True when the token lists `mechanism` and, where it describes it, for `usage`.
    pub(crate) fn serves(&self, mechanism: MechanismType, usage: MechanismUse) -> bool {
        self.supports(mechanism)
            && self
                .uses
                .iter()
                .find(|(m, _)| *m == mechanism)
                .is_none_or(|(_, uses)| uses.allows(usage))
    }

    /// These capabilities with `mechanism` serving only `usage` (for tests: a token whose
    /// mechanism information says so).
    #[cfg(test)]
    pub(crate) fn serving_only(mut self, mechanism: MechanismType, usage: MechanismUse) -> Self {
        self.uses.retain(|(m, _)| *m != mechanism);
        self.uses.push((
            mechanism,
            Uses {
                sign: usage == MechanismUse::Sign,
                decrypt: usage == MechanismUse::Decrypt,
                unwrap: usage == MechanismUse::Unwrap,
                derive: usage == MechanismUse::Derive,
            },
        ));
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

/// The key size range `info` gives `mechanism`, in the unit
/// [`Capabilities::with_key_sizes`] uses; `None` when the token gives none (`0..=0`).
fn key_size_range(info: &MechanismInfo) -> Option<RangeInclusive<usize>> {
    let (min, max) = (info.min_key_size(), info.max_key_size());
    if max == 0 {
        return None;
    }
    Some(min..=max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_capabilities_keep_what_the_token_says_of_its_mechanisms() {
        let token =
            Capabilities::from_mechanisms([MechanismType::ECDSA, MechanismType::ECDH1_DERIVE])
                .serving_only(MechanismType::ECDH1_DERIVE, MechanismUse::Sign)
                .with_key_sizes(MechanismType::ECDSA, 256..=384);
        // A program's own list (no information), limited to the token's.
        let caps = Capabilities::from_mechanisms([
            MechanismType::ECDSA,
            MechanismType::ECDH1_DERIVE,
            MechanismType::EDDSA,
        ])
        .within(&token);
        assert_eq!(
            caps.mechanisms(),
            &[MechanismType::ECDSA, MechanismType::ECDH1_DERIVE]
        );
        assert!(caps.serves(MechanismType::ECDSA, MechanismUse::Sign));
        assert!(!caps.serves(MechanismType::ECDH1_DERIVE, MechanismUse::Derive));
        assert!(!caps.serves(MechanismType::EDDSA, MechanismUse::Sign));
        assert!(caps.takes_key_size(MechanismType::ECDSA, 384));
        assert!(!caps.takes_key_size(MechanismType::ECDSA, 521));
        // Without mechanism information a listed mechanism serves every operation.
        let listed = Capabilities::from_mechanisms([MechanismType::ECDH1_DERIVE]);
        assert!(listed.serves(MechanismType::ECDH1_DERIVE, MechanismUse::Derive));
    }
}
