//! [`HsmJwkSet`]: the HSM keys of a service, by `kid`, and their public JWK Set.

use hsm_core::{KeyInfo, KeyKind, PoolKey, SessionPool};
use jose_core::error::KeyError;
use jose_core::jwk::KeyOp;
use jose_core::{KeyBackend, KeyStore};
use serde_json::{Value, json};

use crate::HsmJwk;
use crate::error::Result;

/// How [`HsmJwkSet::from_token`] names the keys it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KidSource {
    /// The key's `CKA_ID`, hex-encoded.
    Id,
    /// The key's label.
    Label,
    /// The RFC 7638 thumbprint of the public key.
    Thumbprint,
}

/// HSM keys selected by `kid`: sign with one, verify with any, publish the public JWK Set.
///
/// Key rotation is adding the new key and signing with it: tokens signed with the old key
/// still verify by their `kid` until the old key is removed.
///
/// ```no_run
/// use hsm_jose::jose_core::{jws, JwsAlgorithm};
/// use hsm_jose::{HsmJwk, HsmJwkSet, SessionPool};
/// # fn main() -> Result<(), hsm_jose::Error> {
/// let pool = SessionPool::from_env()?;
/// let mut keys = HsmJwkSet::new();
/// keys.add_key(HsmJwk::from_label(&pool, "signing-2026")?.with_kid("2026").with_use("sig"))?;
/// keys.add_key(HsmJwk::from_label(&pool, "signing-2027")?.with_kid("2027").with_use("sig"))?;
///
/// let token = jws::sign_compact(keys.get_key("2027").unwrap(), JwsAlgorithm::RS384, b"{}", None)?;
/// let verified = jws::Verifier::new(&[JwsAlgorithm::RS384]).verify_with(&token, &keys)?;
/// let jwks = keys.jwks(); // serve as /.well-known/jwks.json
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct HsmJwkSet {
    keys: Vec<HsmJwk>,
}

impl HsmJwkSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; a key without `kid`, or whose `kid` is already in the set, is refused.
    pub fn add_key(&mut self, key: HsmJwk) -> Result<()> {
        let Some(kid) = key.kid() else {
            return Err(jose_core::Error::Key(KeyError::MissingMember("kid")).into());
        };
        if self.keys.iter().any(|k| k.kid() == Some(kid)) {
            return Err(jose_core::Error::Key(KeyError::DuplicateKid(kid.to_owned())).into());
        }
        self.keys.push(key);
        Ok(())
    }

    /// The key with this `kid`.
    pub fn get_key(&self, kid: &str) -> Option<&HsmJwk> {
        self.keys.iter().find(|k| k.kid() == Some(kid))
    }

    /// Removes and returns the key with this `kid` (the end of a rotation).
    pub fn remove_key(&mut self, kid: &str) -> Option<HsmJwk> {
        let i = self.keys.iter().position(|k| k.kid() == Some(kid))?;
        Some(self.keys.remove(i))
    }

    /// Iterates over the keys.
    pub fn iter(&self) -> std::slice::Iter<'_, HsmJwk> {
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

    /// Every key with its certificate chain from the token as `x5c` and `x5t#S256` (see
    /// [`HsmJwk::with_certificates`]); keys without a certificate are unchanged.
    ///
    /// # Errors
    /// As [`HsmJwk::with_certificates`]: a key whose stored certificate carries another key
    /// fails the whole set, so a planted certificate is never published.
    pub fn with_certificates(self) -> Result<Self> {
        let keys = self
            .keys
            .into_iter()
            .map(HsmJwk::with_certificates)
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { keys })
    }

    /// The public JWK Set document (`{"keys":[...]}`), for `/.well-known/jwks.json`. Secret
    /// keys have no public part and are left out.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter_map(|k| k.public_value().ok())
            .collect();
        json!({ "keys": keys })
    }

    /// The public JWK Set as JSON text.
    pub fn jwks_json(&self) -> String {
        self.jwks().to_string()
    }

    /// Every key pair of the token, named by `kid_source`, with `use` and `key_ops` derived from
    /// what the token lets each key do. Secret keys and keys whose public part the token does
    /// not reveal are skipped.
    pub fn from_token(pool: &SessionPool, kid_source: KidSource) -> Result<Self> {
        let infos = {
            let session = pool.session()?;
            hsm_core::list_keys(&session)?
        };
        let mut set = Self::new();
        for info in infos {
            if info.public_key.is_none() || (info.private.is_none() && info.public.is_none()) {
                continue;
            }
            let kid = match kid_source {
                KidSource::Id => hex(&info.id),
                KidSource::Label => info.label.clone(),
                KidSource::Thumbprint => String::new(),
            };
            let (key_use, ops) = usage(&info);
            // The listing already found the key: no second search.
            let key = HsmJwk::from_pool_key(PoolKey::from_info(pool, info))?;
            let kid = if kid_source == KidSource::Thumbprint {
                key.thumbprint().unwrap_or_default()
            } else {
                kid
            };
            let mut key = key.with_kid(kid).with_key_ops(&ops);
            if let Some(u) = key_use {
                key = key.with_use(u);
            }
            set.add_key(key)?;
        }
        Ok(set)
    }
}

/// `use` and `key_ops` from a key's capabilities, as far as its kind can use them in JOSE
/// (RSA keys encrypt, EC keys agree, EdDSA keys only sign, whatever flags the token set). The
/// published public JWK keeps only the public half of these (see `HsmJwk::with_key_ops`).
fn usage(info: &KeyInfo) -> (Option<&'static str>, Vec<KeyOp>) {
    let c = &info.capabilities;
    let rsa = matches!(info.kind, KeyKind::Rsa { .. });
    let ec = matches!(info.kind, KeyKind::Ec(_));
    let mut ops = Vec::new();
    if c.sign {
        ops.extend([KeyOp::Sign, KeyOp::Verify]);
    }
    let decrypts = rsa && (c.decrypt || c.unwrap);
    if decrypts {
        ops.extend([
            KeyOp::Encrypt,
            KeyOp::Decrypt,
            KeyOp::WrapKey,
            KeyOp::UnwrapKey,
        ]);
    }
    let derives = ec && c.derive;
    if derives {
        ops.extend([KeyOp::DeriveKey, KeyOp::DeriveBits]);
    }
    let signs = c.sign;
    let encrypts = decrypts || derives;
    let key_use = match (signs, encrypts) {
        (true, false) => Some("sig"),
        (false, true) => Some("enc"),
        _ => None,
    };
    (key_use, ops)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl KeyStore for HsmJwkSet {
    fn key_by_kid(&self, kid: &str) -> Option<&dyn KeyBackend> {
        self.get_key(kid).map(|k| k as &dyn KeyBackend)
    }

    fn keys(&self) -> Vec<&dyn KeyBackend> {
        self.keys.iter().map(|k| k as &dyn KeyBackend).collect()
    }
}

impl<'a> IntoIterator for &'a HsmJwkSet {
    type Item = &'a HsmJwk;
    type IntoIter = std::slice::Iter<'a, HsmJwk>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hsm_core::{Capabilities, EdCurve, Protection};

    fn info(kind: KeyKind, capabilities: Capabilities) -> KeyInfo {
        KeyInfo {
            label: "k".into(),
            id: vec![1],
            kind,
            private: None,
            public: None,
            secret: None,
            capabilities,
            protection: Protection::default(),
            public_key: None,
            public_binding: None,
            mismatched_public: Vec::new(),
            public_key_problem: None,
            unprotected_duplicates: Vec::new(),
        }
    }

    #[test]
    fn an_eddsa_key_with_decrypt_flags_is_a_signing_key() {
        // pkcs11-tool sets CKA_DECRYPT/CKA_UNWRAP/CKA_DERIVE on Ed25519 keys it makes.
        let everything = Capabilities {
            sign: true,
            verify: true,
            encrypt: true,
            decrypt: true,
            wrap: true,
            unwrap: true,
            derive: true,
        };
        let (key_use, ops) = usage(&info(KeyKind::Edwards(EdCurve::Ed25519), everything));
        assert_eq!(key_use, Some("sig"));
        assert_eq!(ops, [KeyOp::Sign, KeyOp::Verify]);
        let (key_use, ops) = usage(&info(KeyKind::Rsa { bits: 2048 }, everything));
        assert_eq!(key_use, None);
        assert!(ops.contains(&KeyOp::UnwrapKey) && !ops.contains(&KeyOp::DeriveKey));
    }
}
