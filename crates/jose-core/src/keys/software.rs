//! [`SoftwareKey`]: a JWK parsed once into the RustCrypto key types, serving every algorithm its
//! type allows.

use std::fmt;

use crate::alg::{Algorithm, ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm};
use crate::backend::{KeyBackend, WrappedKey};
use crate::error::{AlgorithmError, Error, Result};
use crate::header::Header;
use crate::jwe::alg::{aesgcmkw, direct};
use crate::jwk::parsed::{self, Parsed};
use crate::jwk::{EcCurve, Jwk, KeyOp, OkpCurve, SecretBytes};
use crate::jws::alg::{Family, ecdsa, ecdsa_alg, family};
use crate::provider::{Provider, ProviderKey, default_provider};

/// A key held in memory: public or private, asymmetric or symmetric.
///
/// Built from a [`Jwk`] (validated and parsed once) or generated. It implements
/// [`KeyBackend`], so it can be used wherever jose-core takes a key.
///
/// ```
/// use jose_core::{jws, JwsAlgorithm, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let key = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)?;
/// let token = jws::sign_compact(&key, JwsAlgorithm::ES256, b"payload", None)?;
///
/// // Anyone holding only the public JWK can verify.
/// let public = SoftwareKey::from_jwk(key.jwk().to_public()?)?;
/// let verified = jws::verify_compact(&token, &public, &[JwsAlgorithm::ES256])?;
/// assert_eq!(verified.payload(), b"payload");
/// # Ok(()) }
/// ```
pub struct SoftwareKey {
    jwk: Jwk,
    public: Option<Jwk>,
    key: ProviderKey,
    provider: Provider,
    algorithms: Vec<Algorithm>,
    /// For a symmetric key whose `alg` names a content encryption (`"alg":"A256GCM"`): the one
    /// `enc` it may serve with `dir`.
    dir_enc: Option<ContentEncryption>,
}

impl SoftwareKey {
    /// Validates and parses a JWK. Private keys are checked for consistency with their
    /// public members.
    ///
    /// The key uses the process [default provider](crate::provider::default_provider).
    pub fn from_jwk(jwk: Jwk) -> Result<Self> {
        Self::from_jwk_with(jwk, default_provider())
    }

    /// Like [`from_jwk`](Self::from_jwk), with the crypto provider this key uses for every
    /// operation (and for the content encryption of the JWEs it decrypts). Validation is
    /// jose-core's own and the same under every provider.
    pub fn from_jwk_with(jwk: Jwk, provider: Provider) -> Result<Self> {
        let parsed = parsed::parse(jwk.material())?;
        let algorithms = algorithms_for(&jwk, &parsed);
        let public = jwk.to_public().ok();
        let dir_enc = jwk
            .alg()
            .filter(|_| matches!(parsed, Parsed::Oct(_)))
            .and_then(|a| a.parse::<ContentEncryption>().ok());
        let prepared = provider.imp().prepare(jwk.material(), &parsed)?;
        Ok(Self {
            jwk,
            public,
            key: ProviderKey { parsed, prepared },
            provider,
            algorithms,
            dir_enc,
        })
    }

    /// Parses a JWK from JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        Self::from_jwk(Jwk::from_json(text)?)
    }

    /// Generates an RSA key with `bits` (2048, 3072 or 4096) and exponent 65537.
    pub fn generate_rsa(bits: usize) -> Result<Self> {
        Self::from_jwk(Jwk::generate_rsa(bits)?)
    }

    /// Generates an EC key on `curve`.
    pub fn generate_ec(curve: EcCurve) -> Result<Self> {
        Self::from_jwk(Jwk::generate_ec(curve)?)
    }

    /// Generates an Ed25519 key.
    pub fn generate_ed25519() -> Result<Self> {
        Self::from_jwk(Jwk::generate_okp(OkpCurve::Ed25519)?)
    }

    /// Generates an Ed448 key.
    pub fn generate_ed448() -> Result<Self> {
        Self::from_jwk(Jwk::generate_okp(OkpCurve::Ed448)?)
    }

    /// Generates a symmetric key of `len` bytes.
    pub fn generate_oct(len: usize) -> Result<Self> {
        Self::from_jwk(Jwk::generate_oct(len)?)
    }

    /// The JWK this key was built from, private members included.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Sets the `kid` (of the key and its public JWK).
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        self.jwk.set_kid(Some(kid.clone()));
        if let Some(p) = &mut self.public {
            p.set_kid(Some(kid));
        }
        self
    }

    /// The crypto provider this key uses.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Whether the private (or symmetric) key is held.
    pub fn is_private(&self) -> bool {
        self.jwk.is_private()
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("jwk", &self.jwk)
            .field("provider", &self.provider)
            .finish()
    }
}

impl KeyBackend for SoftwareKey {
    fn kid(&self) -> Option<&str> {
        self.jwk.kid()
    }

    fn public_jwk(&self) -> Option<&Jwk> {
        self.public.as_ref()
    }

    fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    fn permits(&self, op: KeyOp) -> bool {
        self.jwk.permits(op)
    }

    fn describe(&self) -> String {
        self.jwk.describe()
    }

    fn provider(&self) -> Provider {
        self.provider
    }

    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        let fam = family(alg);
        let sig = self
            .provider
            .imp()
            .sign(&self.key, fam, input)
            .ok_or_else(|| self.mismatch(alg.to_string()))??;
        match fam {
            // Strictness here, not in the provider: every ECDSA signature leaves in the low-S form.
            Family::Ecdsa(curve) => ecdsa::normalize_s(curve, &sig).ok_or(Error::Verification),
            Family::Hmac(_) | Family::RsaPkcs1(_) | Family::RsaPss(_) | Family::EdDsa => Ok(sig),
        }
    }

    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<()> {
        let fam = family(alg);
        // The signature's shape is checked here, whatever the provider: an ECDSA signature is
        // `r || s` of the curve's length with both scalars in [1, n-1]; an RSA signature has
        // exactly the modulus length.
        let shaped = match (fam, &self.key.parsed) {
            (Family::Ecdsa(curve), _) => ecdsa::normalize_s(curve, sig).is_some(),
            (Family::RsaPkcs1(_) | Family::RsaPss(_), Parsed::Rsa { public, .. }) => {
                sig.len() == rsa::traits::PublicKeyParts::size(public)
            }
            _ => true,
        };
        let ok = self
            .provider
            .imp()
            .verify(&self.key, fam, input, sig)
            .ok_or_else(|| self.mismatch(alg.to_string()))?;
        if ok && shaped {
            Ok(())
        } else {
            Err(Error::Verification)
        }
    }

    fn unwrap_key(
        &self,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
        header: &Header,
        enc: ContentEncryption,
    ) -> Result<SecretBytes> {
        use KeyManagementAlgorithm as K;
        match (&self.key.parsed, alg) {
            (Parsed::Rsa { .. }, K::RsaOaep | K::RsaOaep256) => self
                .provider
                .imp()
                .rsa_oaep_decrypt(&self.key, alg, encrypted_key)
                .ok_or_else(|| self.mismatch(alg.to_string()))?,
            (Parsed::Oct(k), K::A128KW | K::A192KW | K::A256KW)
                if alg.aes_kw_key_len() == Some(k.len()) =>
            {
                self.provider.imp().aes_kw_unwrap(k, encrypted_key)
            }
            (Parsed::Oct(k), K::A128GCMKW | K::A192GCMKW | K::A256GCMKW)
                if alg.aes_gcm_kw_key_len() == Some(k.len()) =>
            {
                aesgcmkw::unwrap(self.provider, k, encrypted_key, header)
            }
            (Parsed::Oct(k), K::Dir) => {
                // A key bound to one content encryption serves only that one.
                if self.dir_enc.is_some_and(|bound| bound != enc) {
                    return Err(self.mismatch(format!("dir with {enc}")));
                }
                direct::cek(k, encrypted_key, enc)
            }
            _ => Err(self.mismatch(alg.to_string())),
        }
    }

    fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> Result<WrappedKey> {
        use KeyManagementAlgorithm as K;
        match (&self.key.parsed, alg) {
            (Parsed::Rsa { .. }, K::RsaOaep | K::RsaOaep256) => Ok(WrappedKey {
                encrypted_key: self
                    .provider
                    .imp()
                    .rsa_oaep_encrypt(&self.key, alg, cek)
                    .ok_or_else(|| self.mismatch(alg.to_string()))??,
                header: Default::default(),
            }),
            (Parsed::Oct(k), K::A128KW | K::A192KW | K::A256KW)
                if alg.aes_kw_key_len() == Some(k.len()) =>
            {
                Ok(WrappedKey {
                    encrypted_key: self.provider.imp().aes_kw_wrap(k, cek)?,
                    header: Default::default(),
                })
            }
            (Parsed::Oct(k), K::A128GCMKW | K::A192GCMKW | K::A256GCMKW)
                if alg.aes_gcm_kw_key_len() == Some(k.len()) =>
            {
                aesgcmkw::wrap(self.provider, k, cek)
            }
            (Parsed::Oct(k), K::Dir) => direct::wrap(k, cek),
            _ => Err(self.mismatch(alg.to_string())),
        }
    }

    fn derive_ecdh(&self, epk: &Jwk) -> Result<SecretBytes> {
        // The peer's JWK was validated when it was built (lengths, point on the curve).
        let peer = parsed::parse(epk.to_public()?.material())?;
        self.provider
            .imp()
            .ecdh(&self.key, &peer)
            .map_err(|e| match e {
                Error::Algorithm(AlgorithmError::KeyMismatch { .. }) => {
                    AlgorithmError::KeyMismatch {
                        alg: "ECDH-ES".into(),
                        key: format!("{} with a peer {}", self.describe(), epk.describe()),
                    }
                    .into()
                }
                other => other,
            })
    }
}

impl SoftwareKey {
    fn mismatch(&self, alg: String) -> Error {
        AlgorithmError::KeyMismatch {
            alg,
            key: self.describe(),
        }
        .into()
    }
}

/// The algorithms a parsed key can serve, restricted by the JWK's `alg` member.
fn algorithms_for(jwk: &Jwk, parsed: &Parsed) -> Vec<Algorithm> {
    use JwsAlgorithm as J;
    use KeyManagementAlgorithm as K;
    const ECDH: [K; 4] = [K::EcdhEs, K::EcdhEsA128KW, K::EcdhEsA192KW, K::EcdhEsA256KW];
    let mut algs: Vec<Algorithm> = Vec::new();
    let jws =
        |a: &[J], algs: &mut Vec<Algorithm>| algs.extend(a.iter().map(|&a| Algorithm::Jws(a)));
    let ecdsa_and_ecdh = |curve: EcCurve, algs: &mut Vec<Algorithm>| {
        algs.push(Algorithm::Jws(ecdsa_alg(curve)));
        algs.extend(ECDH.map(Algorithm::Jwe));
    };
    match parsed {
        Parsed::Rsa { .. } => {
            jws(
                &[J::RS256, J::RS384, J::RS512, J::PS256, J::PS384, J::PS512],
                &mut algs,
            );
            algs.extend([K::RsaOaep, K::RsaOaep256].map(Algorithm::Jwe));
        }
        Parsed::P256 { .. } => ecdsa_and_ecdh(EcCurve::P256, &mut algs),
        Parsed::P384 { .. } => ecdsa_and_ecdh(EcCurve::P384, &mut algs),
        Parsed::P521 { .. } => ecdsa_and_ecdh(EcCurve::P521, &mut algs),
        Parsed::Ed25519 { .. } | Parsed::Ed448 { .. } => jws(&[J::EdDSA], &mut algs),
        Parsed::X25519 { .. } => algs.extend(ECDH.map(Algorithm::Jwe)),
        Parsed::Oct(k) => {
            let n = k.len();
            // RFC 7518 section 3.2: an HMAC key at least as long as the hash output.
            for (alg, min) in [(J::HS256, 32), (J::HS384, 48), (J::HS512, 64)] {
                if n >= min {
                    algs.push(Algorithm::Jws(alg));
                }
            }
            for a in K::ALL {
                if a.aes_kw_key_len() == Some(n) && !a.is_ecdh()
                    || a.aes_gcm_kw_key_len() == Some(n)
                {
                    algs.push(Algorithm::Jwe(*a));
                }
            }
            if ContentEncryption::ALL.iter().any(|e| e.key_len() == n) {
                algs.push(Algorithm::Jwe(K::Dir));
            }
        }
    }
    if let Some(bound) = jwk.alg() {
        // A symmetric key bound to a content encryption algorithm (`"alg":"A128GCM"`, as in
        // RFC 7520 section 5.6) is a key for direct encryption with it.
        let dir_key = matches!(parsed, Parsed::Oct(k)
            if bound.parse::<ContentEncryption>().is_ok_and(|e| e.key_len() == k.len()));
        algs.retain(|a| a.as_str() == bound || (dir_key && *a == Algorithm::Jwe(K::Dir)));
    }
    algs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KeyError;

    #[test]
    fn alg_member_restricts_the_key() {
        let key = SoftwareKey::from_jwk(Jwk::generate_oct(16).unwrap().with_alg("A128KW")).unwrap();
        assert_eq!(
            key.algorithms(),
            &[Algorithm::Jwe(KeyManagementAlgorithm::A128KW)]
        );
        let any = SoftwareKey::generate_oct(16).unwrap();
        assert!(
            any.algorithms()
                .contains(&Algorithm::Jwe(KeyManagementAlgorithm::A128GCMKW))
        );
        assert!(
            !any.algorithms()
                .contains(&Algorithm::Jws(JwsAlgorithm::HS256)),
            "16 bytes is too short for HS256"
        );
    }

    #[test]
    fn public_rsa_key_cannot_sign() {
        let key = SoftwareKey::generate_rsa(2048).unwrap();
        let public = SoftwareKey::from_jwk(key.public_jwk().unwrap().clone()).unwrap();
        assert!(matches!(
            public.sign(JwsAlgorithm::RS256, b"x"),
            Err(Error::Key(KeyError::PublicOnly))
        ));
        let sig = key.sign(JwsAlgorithm::RS256, b"x").unwrap();
        public.verify(JwsAlgorithm::RS256, b"x", &sig).unwrap();
    }

    #[test]
    fn inconsistent_private_keys_are_rejected() {
        let a = Jwk::generate_ec(EcCurve::P256).unwrap();
        let b = Jwk::generate_ec(EcCurve::P256).unwrap();
        let mut v = a.to_public_value().unwrap();
        let bd =
            serde_json::from_str::<serde_json::Value>(&b.to_private_json()).unwrap()["d"].clone();
        v["d"] = bd;
        let jwk = Jwk::from_value(&v).unwrap();
        assert!(matches!(
            SoftwareKey::from_jwk(jwk),
            Err(Error::Key(KeyError::Inconsistent))
        ));
    }
}
