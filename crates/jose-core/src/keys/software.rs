//! [`SoftwareKey`]: a JWK parsed once into the RustCrypto key types, serving every algorithm its
//! type allows.

use std::fmt;

use hmac::{KeyInit, Mac};
use rsa::traits::PublicKeyParts;
use rsa::{BoxedUint, Pkcs1v15Sign, PrivateKey, PublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::{Signer, Verifier};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm};
use crate::backend::{KeyBackend, WrappedKey, public_only};
use crate::error::{AlgorithmError, Error, KeyError, Result};
use crate::header::Header;
use crate::jwk::{
    EcCurve, EcKey, Jwk, KeyMaterial, KeyOp, OctKey, OkpCurve, OkpKey, RsaCrt, RsaKey, RsaPrivate,
    SecretBytes,
};
use crate::rng;

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
    parsed: Parsed,
    algorithms: Vec<Algorithm>,
}

/// The parsed key material.
#[allow(dead_code)] // the X25519 fields are read by ECDH-ES
pub(crate) enum Parsed {
    Rsa {
        public: PublicKey,
        private: Option<Box<PrivateKey>>,
    },
    P256 {
        public: p256::ecdsa::VerifyingKey,
        private: Option<p256::ecdsa::SigningKey>,
    },
    P384 {
        public: p384::ecdsa::VerifyingKey,
        private: Option<p384::ecdsa::SigningKey>,
    },
    P521 {
        public: p521::ecdsa::VerifyingKey,
        private: Option<p521::ecdsa::SigningKey>,
    },
    Ed25519 {
        public: ed25519_dalek::VerifyingKey,
        private: Option<ed25519_dalek::SigningKey>,
    },
    Ed448 {
        public: ed448_goldilocks::VerifyingKey,
        private: Option<Box<ed448_goldilocks::SigningKey>>,
    },
    X25519 {
        public: x25519_dalek::PublicKey,
        private: Option<x25519_dalek::StaticSecret>,
    },
    Oct(SecretBytes),
}

impl SoftwareKey {
    /// Validates and parses a JWK. Private keys are checked for consistency with their
    /// public members.
    pub fn from_jwk(jwk: Jwk) -> Result<Self> {
        let parsed = parse(jwk.material())?;
        let algorithms = algorithms_for(&jwk, &parsed);
        let public = jwk.to_public().ok();
        Ok(Self {
            jwk,
            public,
            parsed,
            algorithms,
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

    /// Whether the private (or symmetric) key is held.
    pub fn is_private(&self) -> bool {
        self.jwk.is_private()
    }

    pub(crate) fn parsed(&self) -> &Parsed {
        &self.parsed
    }
}

impl fmt::Debug for SoftwareKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareKey")
            .field("jwk", &self.jwk)
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

    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
        use JwsAlgorithm as A;
        let mismatch = || {
            Error::from(AlgorithmError::KeyMismatch {
                alg: alg.to_string(),
                key: self.describe(),
            })
        };
        match (&self.parsed, alg) {
            (Parsed::Oct(k), A::HS256 | A::HS384 | A::HS512) => hmac_tag(alg, k, input),
            (
                Parsed::Rsa { private, .. },
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512,
            ) => {
                let key = private.as_deref().ok_or_else(public_only)?;
                rsa_sign(key, alg, input)
            }
            (Parsed::P256 { private, .. }, A::ES256) => {
                let sig: p256::ecdsa::Signature =
                    private.as_ref().ok_or_else(public_only)?.sign(input);
                Ok(sig.to_bytes().to_vec())
            }
            (Parsed::P384 { private, .. }, A::ES384) => {
                let sig: p384::ecdsa::Signature =
                    private.as_ref().ok_or_else(public_only)?.sign(input);
                Ok(sig.to_bytes().to_vec())
            }
            (Parsed::P521 { private, .. }, A::ES512) => {
                let sig: p521::ecdsa::Signature =
                    private.as_ref().ok_or_else(public_only)?.sign(input);
                Ok(sig.to_bytes().to_vec())
            }
            (Parsed::Ed25519 { private, .. }, A::EdDSA) => Ok(private
                .as_ref()
                .ok_or_else(public_only)?
                .sign(input)
                .to_bytes()
                .to_vec()),
            (Parsed::Ed448 { private, .. }, A::EdDSA) => {
                let sig: ed448_goldilocks::Signature =
                    private.as_deref().ok_or_else(public_only)?.sign(input);
                Ok(sig.to_bytes().to_vec())
            }
            _ => Err(mismatch()),
        }
    }

    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<()> {
        use JwsAlgorithm as A;
        let ok = match (&self.parsed, alg) {
            (Parsed::Oct(k), A::HS256 | A::HS384 | A::HS512) => hmac_verify(alg, k, input, sig),
            (
                Parsed::Rsa { public, .. },
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512,
            ) => rsa_verify(public, alg, input, sig),
            (Parsed::P256 { public, .. }, A::ES256) => p256::ecdsa::Signature::from_slice(sig)
                .is_ok_and(|s| public.verify(input, &s).is_ok()),
            (Parsed::P384 { public, .. }, A::ES384) => p384::ecdsa::Signature::from_slice(sig)
                .is_ok_and(|s| public.verify(input, &s).is_ok()),
            (Parsed::P521 { public, .. }, A::ES512) => p521::ecdsa::Signature::from_slice(sig)
                .is_ok_and(|s| public.verify(input, &s).is_ok()),
            (Parsed::Ed25519 { public, .. }, A::EdDSA) => ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| public.verify_strict(input, &s).is_ok()),
            (Parsed::Ed448 { public, .. }, A::EdDSA) => {
                ed448_goldilocks::Signature::from_slice(sig)
                    .is_ok_and(|s| public.verify(input, &s).is_ok())
            }
            _ => {
                return Err(AlgorithmError::KeyMismatch {
                    alg: alg.to_string(),
                    key: self.describe(),
                }
                .into());
            }
        };
        if ok { Ok(()) } else { Err(Error::Verification) }
    }

    fn unwrap_key(
        &self,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
        header: &Header,
        enc: ContentEncryption,
    ) -> Result<SecretBytes> {
        crate::jwe::alg::software_unwrap(self, alg, encrypted_key, header, enc)
    }

    fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> Result<WrappedKey> {
        crate::jwe::alg::software_wrap(self, alg, cek)
    }

    fn derive_ecdh(&self, epk: &Jwk) -> Result<SecretBytes> {
        crate::jwe::alg::software_ecdh(self, epk)
    }
}

fn hmac_tag(alg: JwsAlgorithm, key: &[u8], input: &[u8]) -> Result<Vec<u8>> {
    fn tag<M: Mac + KeyInit>(key: &[u8], input: &[u8]) -> Result<Vec<u8>> {
        let mut mac =
            <M as KeyInit>::new_from_slice(key).map_err(|_| KeyError::Generation("HMAC key"))?;
        mac.update(input);
        Ok(mac.finalize().into_bytes().to_vec())
    }
    match alg {
        JwsAlgorithm::HS256 => tag::<hmac::Hmac<Sha256>>(key, input),
        JwsAlgorithm::HS384 => tag::<hmac::Hmac<Sha384>>(key, input),
        _ => tag::<hmac::Hmac<Sha512>>(key, input),
    }
}

fn hmac_verify(alg: JwsAlgorithm, key: &[u8], input: &[u8], sig: &[u8]) -> bool {
    fn check<M: Mac + KeyInit>(key: &[u8], input: &[u8], sig: &[u8]) -> bool {
        match <M as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(input);
                // Constant-time; the full tag length is required (no truncation).
                mac.verify_slice(sig).is_ok()
            }
            Err(_) => false,
        }
    }
    match alg {
        JwsAlgorithm::HS256 => check::<hmac::Hmac<Sha256>>(key, input, sig),
        JwsAlgorithm::HS384 => check::<hmac::Hmac<Sha384>>(key, input, sig),
        _ => check::<hmac::Hmac<Sha512>>(key, input, sig),
    }
}

fn rsa_sign(key: &PrivateKey, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>> {
    use JwsAlgorithm as A;
    let mut rng = rng::os();
    let out = match alg {
        A::RS256 => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(input),
        ),
        A::RS384 => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha384>(),
            &Sha384::digest(input),
        ),
        A::RS512 => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha512>(),
            &Sha512::digest(input),
        ),
        A::PS256 => key.pss_sign_with_rng::<Sha256, _>(&mut rng, input),
        A::PS384 => key.pss_sign_with_rng::<Sha384, _>(&mut rng, input),
        _ => key.pss_sign_with_rng::<Sha512, _>(&mut rng, input),
    };
    out.map_err(|_| Error::Rng)
}

fn rsa_verify(key: &PublicKey, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> bool {
    use JwsAlgorithm as A;
    // The signature must be exactly the modulus length (RFC 8017 section 8.2.2 step 1).
    if sig.len() != key.size() {
        return false;
    }
    let r = match alg {
        A::RS256 => key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input), sig),
        A::RS384 => key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input), sig),
        A::RS512 => key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input), sig),
        A::PS256 => key.pss_verify::<Sha256>(input, sig),
        A::PS384 => key.pss_verify::<Sha384>(input, sig),
        _ => key.pss_verify::<Sha512>(input, sig),
    };
    r.is_ok()
}

fn uint(bytes: &[u8]) -> BoxedUint {
    BoxedUint::from_be_slice_vartime(bytes)
}

/// RSA public key from JWK members, with the import checks of this crate.
pub(crate) fn rsa_public(k: &RsaKey) -> Result<PublicKey> {
    let bits = crate::jwk::bit_len(&k.n);
    if bits < 2048 {
        return Err(KeyError::RsaModulusTooSmall(bits).into());
    }
    let e_odd = k.e.last().is_some_and(|b| b & 1 == 1);
    if !e_odd || crate::jwk::bit_len(&k.e) < 2 || k.e.len() > 8 {
        return Err(KeyError::RsaExponent.into());
    }
    PublicKey::new_with_size_limits(uint(&k.n), uint(&k.e), 2048..=16384).map_err(|_| {
        KeyError::InvalidMember {
            member: "n",
            reason: "is not a valid RSA modulus",
        }
        .into()
    })
}

fn rsa_private(k: &RsaKey, p: &RsaPrivate) -> Result<PrivateKey> {
    let primes = match &p.crt {
        Some(RsaCrt { p, q, .. }) => vec![uint(p), uint(q)],
        None => Vec::new(),
    };
    let key = PrivateKey::from_components(uint(&k.n), uint(&k.e), uint(&p.d), primes)
        .map_err(|_| KeyError::Inconsistent)?;
    // Keep the given CRT values honest: they must be the ones the primes imply.
    if let Some(c) = &p.crt {
        use rsa::traits::PrivateKeyParts;
        let same = |given: &[u8], have: Option<&BoxedUint>| {
            have.is_some_and(|h| strip(&h.to_be_bytes()) == strip(given))
        };
        let qi_ok = key
            .crt_coefficient()
            .is_some_and(|qi| strip(&qi.to_be_bytes()) == strip(&c.qi));
        if !(same(&c.dp, key.dp()) && same(&c.dq, key.dq()) && qi_ok) {
            return Err(KeyError::Inconsistent.into());
        }
    }
    Ok(key)
}

fn strip(b: &[u8]) -> Zeroizing<Vec<u8>> {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    Zeroizing::new(b[start..].to_vec())
}

fn sec1(crv: EcCurve, x: &[u8], y: &[u8]) -> Result<Vec<u8>> {
    let n = crv.coordinate_len();
    if x.len() != n {
        return Err(KeyError::InvalidMember {
            member: "x",
            reason: "does not have the curve's coordinate length",
        }
        .into());
    }
    if y.len() != n {
        return Err(KeyError::InvalidMember {
            member: "y",
            reason: "does not have the curve's coordinate length",
        }
        .into());
    }
    let mut out = Vec::with_capacity(1 + 2 * n);
    out.push(4);
    out.extend_from_slice(x);
    out.extend_from_slice(y);
    Ok(out)
}

macro_rules! ec_parse {
    ($curve:ident, $variant:ident, $k:expr) => {{
        let k: &EcKey = $k;
        let point = sec1(k.crv, &k.x, &k.y)?;
        let public = $curve::ecdsa::VerifyingKey::from_sec1_bytes(&point)
            .map_err(|_| KeyError::PointNotOnCurve(k.crv.name()))?;
        let private = match &k.d {
            None => None,
            Some(d) => {
                if d.len() != k.crv.coordinate_len() {
                    return Err(KeyError::InvalidMember {
                        member: "d",
                        reason: "does not have the curve's scalar length",
                    }
                    .into());
                }
                let sk = $curve::ecdsa::SigningKey::from_slice(d).map_err(|_| {
                    KeyError::InvalidMember {
                        member: "d",
                        reason: "is not a valid scalar",
                    }
                })?;
                if sk.verifying_key() != &public {
                    return Err(KeyError::Inconsistent.into());
                }
                Some(sk)
            }
        };
        Parsed::$variant { public, private }
    }};
}

/// Parses and validates key material.
pub(crate) fn parse(material: &KeyMaterial) -> Result<Parsed> {
    Ok(match material {
        KeyMaterial::Rsa(k) => {
            let public = rsa_public(k)?;
            let private = match &k.private {
                None => None,
                Some(p) => Some(Box::new(rsa_private(k, p)?)),
            };
            Parsed::Rsa { public, private }
        }
        KeyMaterial::Ec(k) => match k.crv {
            EcCurve::P256 => ec_parse!(p256, P256, k),
            EcCurve::P384 => ec_parse!(p384, P384, k),
            EcCurve::P521 => ec_parse!(p521, P521, k),
        },
        KeyMaterial::Okp(k) => parse_okp(k)?,
        KeyMaterial::Oct(OctKey { k }) => {
            if k.is_empty() {
                return Err(KeyError::InvalidMember {
                    member: "k",
                    reason: "is empty",
                }
                .into());
            }
            Parsed::Oct(k.clone())
        }
    })
}

fn parse_okp(k: &OkpKey) -> Result<Parsed> {
    let len = k.crv.key_len();
    if k.x.len() != len {
        return Err(KeyError::InvalidMember {
            member: "x",
            reason: "does not have the curve's key length",
        }
        .into());
    }
    if k.d.as_ref().is_some_and(|d| d.len() != len) {
        return Err(KeyError::InvalidMember {
            member: "d",
            reason: "does not have the curve's key length",
        }
        .into());
    }
    let not_on_curve = || Error::from(KeyError::PointNotOnCurve(k.crv.name()));
    Ok(match k.crv {
        OkpCurve::Ed25519 => {
            let x: [u8; 32] = k.x.as_slice().try_into().map_err(|_| not_on_curve())?;
            let public = ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| not_on_curve())?;
            let private = match &k.d {
                None => None,
                Some(d) => {
                    let d: Zeroizing<[u8; 32]> = Zeroizing::new(
                        d.as_slice()
                            .try_into()
                            .map_err(|_| KeyError::Inconsistent)?,
                    );
                    let sk = ed25519_dalek::SigningKey::from_bytes(&d);
                    if sk.verifying_key() != public {
                        return Err(KeyError::Inconsistent.into());
                    }
                    Some(sk)
                }
            };
            Parsed::Ed25519 { public, private }
        }
        OkpCurve::Ed448 => {
            let x: [u8; 57] = k.x.as_slice().try_into().map_err(|_| not_on_curve())?;
            let public =
                ed448_goldilocks::VerifyingKey::from_bytes(&x).map_err(|_| not_on_curve())?;
            let private = match &k.d {
                None => None,
                Some(d) => {
                    let sk =
                        ed448_goldilocks::SigningKey::try_from(d.as_slice()).map_err(|_| {
                            KeyError::InvalidMember {
                                member: "d",
                                reason: "is not a valid Ed448 key",
                            }
                        })?;
                    if sk.verifying_key() != public {
                        return Err(KeyError::Inconsistent.into());
                    }
                    Some(Box::new(sk))
                }
            };
            Parsed::Ed448 { public, private }
        }
        OkpCurve::X25519 => {
            let x: [u8; 32] = k.x.as_slice().try_into().map_err(|_| not_on_curve())?;
            let public = x25519_dalek::PublicKey::from(x);
            let private = match &k.d {
                None => None,
                Some(d) => {
                    let d: Zeroizing<[u8; 32]> = Zeroizing::new(
                        d.as_slice()
                            .try_into()
                            .map_err(|_| KeyError::Inconsistent)?,
                    );
                    let sk = x25519_dalek::StaticSecret::from(*d);
                    if x25519_dalek::PublicKey::from(&sk) != public {
                        return Err(KeyError::Inconsistent.into());
                    }
                    Some(sk)
                }
            };
            Parsed::X25519 { public, private }
        }
    })
}

/// The algorithms a parsed key can serve, restricted by the JWK's `alg` member.
fn algorithms_for(jwk: &Jwk, parsed: &Parsed) -> Vec<Algorithm> {
    use JwsAlgorithm as J;
    use KeyManagementAlgorithm as K;
    const ECDH: [K; 4] = [K::EcdhEs, K::EcdhEsA128KW, K::EcdhEsA192KW, K::EcdhEsA256KW];
    let mut algs: Vec<Algorithm> = Vec::new();
    let jws =
        |a: &[J], algs: &mut Vec<Algorithm>| algs.extend(a.iter().map(|&a| Algorithm::Jws(a)));
    match parsed {
        Parsed::Rsa { .. } => {
            jws(
                &[J::RS256, J::RS384, J::RS512, J::PS256, J::PS384, J::PS512],
                &mut algs,
            );
            algs.extend([K::RsaOaep, K::RsaOaep256].map(Algorithm::Jwe));
        }
        Parsed::P256 { .. } | Parsed::P384 { .. } | Parsed::P521 { .. } => {
            let a = match parsed {
                Parsed::P256 { .. } => J::ES256,
                Parsed::P384 { .. } => J::ES384,
                _ => J::ES512,
            };
            jws(&[a], &mut algs);
            algs.extend(ECDH.map(Algorithm::Jwe));
        }
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
