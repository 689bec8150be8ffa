//! The RustCrypto provider: the family modules of jose-core (`jws::alg::*`, `jwe::alg::*`,
//! `jwe::enc::*`) over the RustCrypto crates, on the keys as [`parsed`](crate::jwk::parsed)
//! holds them (no further preparation).

use ::hmac::Mac;

use super::{Prepared as AnyPrepared, Primitives, ProviderKey};
use crate::alg::KeyManagementAlgorithm;
use crate::backend::public_only;
use crate::error::{Error, Result};
use crate::jwe::alg::rsaes::OaepHash;
use crate::jwe::alg::{ecdh_es, rsaes};
use crate::jwe::enc::{Sealed, aes_gcm};
use crate::jwk::parsed::Parsed;
use crate::jwk::{
    EcCurve, Jwk, KeyMaterial, OkpCurve, OkpKey, SecretBytes, ec_material, random_ec_key,
};
use crate::jws::alg::rsassa::Padding;
use crate::jws::alg::{Family, Sha2, ecdsa, eddsa, hmac, rsassa};
use crate::rng;
use zeroize::Zeroizing;

/// The RustCrypto provider.
#[derive(Debug)]
pub(crate) struct RustCrypto;

/// Beyond the parse (which holds the RustCrypto key types): for a symmetric key, the HMAC
/// states after the key block (inner and outer pads hashed once, cloned per operation; wiped
/// on drop through the `zeroize` features of `hmac` and `sha2`).
pub(crate) struct Prepared {
    hmac: Option<Box<HmacKeys>>,
}

pub(crate) struct HmacKeys {
    sha256: ::hmac::Hmac<sha2::Sha256>,
    sha384: ::hmac::Hmac<sha2::Sha384>,
    sha512: ::hmac::Hmac<sha2::Sha512>,
}

impl HmacKeys {
    pub(crate) fn new(key: &[u8]) -> Option<Self> {
        use ::hmac::KeyInit;
        Some(Self {
            sha256: KeyInit::new_from_slice(key).ok()?,
            sha384: KeyInit::new_from_slice(key).ok()?,
            sha512: KeyInit::new_from_slice(key).ok()?,
        })
    }

    pub(crate) fn tag(&self, sha: Sha2, input: &[u8]) -> Vec<u8> {
        fn run<M: Mac + Clone>(m: &M, input: &[u8]) -> Vec<u8> {
            let mut m = m.clone();
            m.update(input);
            m.finalize().into_bytes().to_vec()
        }
        match sha {
            Sha2::Sha256 => run(&self.sha256, input),
            Sha2::Sha384 => run(&self.sha384, input),
            Sha2::Sha512 => run(&self.sha512, input),
        }
    }

    pub(crate) fn verify(&self, sha: Sha2, input: &[u8], sig: &[u8]) -> bool {
        fn run<M: Mac + Clone>(m: &M, input: &[u8], sig: &[u8]) -> bool {
            let mut m = m.clone();
            m.update(input);
            // Constant-time; the full tag length is required (no truncation).
            m.verify_slice(sig).is_ok()
        }
        match sha {
            Sha2::Sha256 => run(&self.sha256, input, sig),
            Sha2::Sha384 => run(&self.sha384, input, sig),
            Sha2::Sha512 => run(&self.sha512, input, sig),
        }
    }
}

/// This provider's HMAC states for `key`, if it prepared them.
fn hmac_keys(key: &ProviderKey) -> Option<&HmacKeys> {
    match &key.prepared {
        AnyPrepared::RustCrypto(p) => p.hmac.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// A fresh ephemeral key on a NIST curve agreed with `$public`: `Z` and the ephemeral public
/// key (two scalar multiplications).
macro_rules! nist_ephemeral {
    ($c:ident, $curve:expr, $public:expr) => {
        (|| {
            let (sk, _) = random_ec_key!($c, $curve);
            let shared = $c::ecdh::diffie_hellman(sk.as_nonzero_scalar(), $public.as_affine());
            let epk = Jwk::new(ec_material(
                $curve,
                &sk.verifying_key().to_sec1_bytes(),
                None,
            )?)?;
            Ok((Zeroizing::new(shared.raw_secret_bytes().to_vec()), epk))
        })()
    };
}

/// A fresh X25519 ephemeral key agreed with `public`; a low-order `public` (all-zero output)
/// is refused, as [`ecdh_es::agree`] refuses it.
fn x25519_ephemeral(public: &x25519_dalek::PublicKey) -> Result<(SecretBytes, Jwk)> {
    let mut d = Zeroizing::new([0u8; 32]);
    rng::fill(&mut d[..])?;
    let sk = x25519_dalek::StaticSecret::from(*d);
    let shared = sk.diffie_hellman(public);
    if !shared.was_contributory() {
        return Err(ecdh_es::low_order_x25519());
    }
    let epk = Jwk::new(KeyMaterial::Okp(OkpKey {
        crv: OkpCurve::X25519,
        x: x25519_dalek::PublicKey::from(&sk).as_bytes().to_vec(),
        d: None,
    }))?;
    Ok((Zeroizing::new(shared.as_bytes().to_vec()), epk))
}

impl Primitives for RustCrypto {
    fn name(&self) -> &'static str {
        "rust-crypto"
    }

    fn prepare(&self, _material: &KeyMaterial, parsed: &Parsed) -> Result<AnyPrepared> {
        let hmac = match parsed {
            Parsed::Oct(k) => HmacKeys::new(k).map(Box::new),
            _ => None,
        };
        Ok(AnyPrepared::RustCrypto(Prepared { hmac }))
    }

    fn sign(&self, key: &ProviderKey, family: Family, input: &[u8]) -> Option<Result<Vec<u8>>> {
        match (hmac_keys(key), family) {
            (Some(h), Family::Hmac(sha)) => Some(Ok(h.tag(sha, input))),
            _ => sign(&key.parsed, family, input),
        }
    }

    fn verify(&self, key: &ProviderKey, family: Family, input: &[u8], sig: &[u8]) -> Option<bool> {
        match (hmac_keys(key), family) {
            (Some(h), Family::Hmac(sha)) => Some(h.verify(sha, input, sig)),
            _ => verify(&key.parsed, family, input, sig),
        }
    }

    fn rsa_oaep_encrypt(
        &self,
        key: &ProviderKey,
        alg: KeyManagementAlgorithm,
        cek: &[u8],
    ) -> Option<Result<Vec<u8>>> {
        rsa_oaep_encrypt(&key.parsed, alg, cek)
    }

    fn rsa_oaep_decrypt(
        &self,
        key: &ProviderKey,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
    ) -> Option<Result<SecretBytes>> {
        rsa_oaep_decrypt(&key.parsed, alg, encrypted_key)
    }

    fn ecdh(&self, key: &ProviderKey, peer: &Parsed) -> Result<SecretBytes> {
        ecdh_es::agree(&key.parsed, peer)
    }

    fn ecdh_ephemeral(&self, recipient: &Parsed) -> Option<Result<(SecretBytes, Jwk)>> {
        Some(match recipient {
            Parsed::P256 { public, .. } => nist_ephemeral!(p256, EcCurve::P256, public),
            Parsed::P384 { public, .. } => nist_ephemeral!(p384, EcCurve::P384, public),
            Parsed::P521 { public, .. } => nist_ephemeral!(p521, EcCurve::P521, public),
            Parsed::X25519 { public, .. } => x25519_ephemeral(public),
            _ => return None,
        })
    }

    fn aes_gcm_seal(&self, key: &[u8], iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed> {
        aes_gcm::encrypt(key, iv, aad, plaintext)
    }

    fn aes_gcm_open(
        &self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<SecretBytes> {
        aes_gcm::decrypt(key, iv, aad, ciphertext, tag)
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<()> {
        getrandom::fill(buf).map_err(|_| Error::Rng)
    }
}

/// Signs with a RustCrypto key; `None` when the key does not fit `family`. Also the fallback
/// of the other providers for what their library lacks.
pub(crate) fn sign(parsed: &Parsed, family: Family, input: &[u8]) -> Option<Result<Vec<u8>>> {
    Some(match (parsed, family) {
        (Parsed::Oct(k), Family::Hmac(sha)) => hmac::tag(sha, k, input),
        (Parsed::Rsa { private, .. }, Family::RsaPkcs1(sha)) => private
            .as_deref()
            .ok_or_else(public_only)
            .and_then(|key| rsassa::sign(key, Padding::Pkcs1, sha, input)),
        (Parsed::Rsa { private, .. }, Family::RsaPss(sha)) => private
            .as_deref()
            .ok_or_else(public_only)
            .and_then(|key| rsassa::sign(key, Padding::Pss, sha, input)),
        (Parsed::P256 { private, .. }, Family::Ecdsa(EcCurve::P256)) => private
            .as_ref()
            .ok_or_else(public_only)
            .map(|k| ecdsa::sign_p256(k, input)),
        (Parsed::P384 { private, .. }, Family::Ecdsa(EcCurve::P384)) => private
            .as_ref()
            .ok_or_else(public_only)
            .map(|k| ecdsa::sign_p384(k, input)),
        (Parsed::P521 { private, .. }, Family::Ecdsa(EcCurve::P521)) => private
            .as_ref()
            .ok_or_else(public_only)
            .map(|k| ecdsa::sign_p521(k, input)),
        (Parsed::Ed25519 { private, .. }, Family::EdDsa) => private
            .as_ref()
            .ok_or_else(public_only)
            .map(|k| eddsa::sign_ed25519(k, input)),
        (Parsed::Ed448 { private, .. }, Family::EdDsa) => private
            .as_deref()
            .ok_or_else(public_only)
            .map(|k| eddsa::sign_ed448(k, input)),
        // Any other pair is a key of another type or curve: a mismatch, never a fallback.
        _ => return None,
    })
}

/// Verifies with a RustCrypto key; `None` when the key does not fit `family`.
pub(crate) fn verify(parsed: &Parsed, family: Family, input: &[u8], sig: &[u8]) -> Option<bool> {
    Some(match (parsed, family) {
        (Parsed::Oct(k), Family::Hmac(sha)) => hmac::verify(sha, k, input, sig),
        (Parsed::Rsa { public, .. }, Family::RsaPkcs1(sha)) => {
            rsassa::verify(public, Padding::Pkcs1, sha, input, sig)
        }
        (Parsed::Rsa { public, .. }, Family::RsaPss(sha)) => {
            rsassa::verify(public, Padding::Pss, sha, input, sig)
        }
        (Parsed::P256 { public, .. }, Family::Ecdsa(EcCurve::P256)) => {
            ecdsa::verify_p256(public, input, sig)
        }
        (Parsed::P384 { public, .. }, Family::Ecdsa(EcCurve::P384)) => {
            ecdsa::verify_p384(public, input, sig)
        }
        (Parsed::P521 { public, .. }, Family::Ecdsa(EcCurve::P521)) => {
            ecdsa::verify_p521(public, input, sig)
        }
        (Parsed::Ed25519 { public, .. }, Family::EdDsa) => {
            eddsa::verify_ed25519(public, input, sig)
        }
        (Parsed::Ed448 { public, .. }, Family::EdDsa) => eddsa::verify_ed448(public, input, sig),
        _ => return None,
    })
}

/// RSA-OAEP encryption to a RustCrypto RSA key; `None` for another key type.
pub(crate) fn rsa_oaep_encrypt(
    parsed: &Parsed,
    alg: KeyManagementAlgorithm,
    cek: &[u8],
) -> Option<Result<Vec<u8>>> {
    match parsed {
        Parsed::Rsa { public, .. } => {
            OaepHash::of(alg).map(|hash| rsaes::encrypt(public, hash, cek))
        }
        _ => None,
    }
}

/// RSA-OAEP decryption with a RustCrypto RSA key; `None` for another key type.
pub(crate) fn rsa_oaep_decrypt(
    parsed: &Parsed,
    alg: KeyManagementAlgorithm,
    encrypted_key: &[u8],
) -> Option<Result<SecretBytes>> {
    match parsed {
        Parsed::Rsa { private, .. } => OaepHash::of(alg).map(|hash| {
            private
                .as_deref()
                .ok_or_else(public_only)
                .and_then(|k| rsaes::decrypt(k, hash, encrypted_key))
        }),
        _ => None,
    }
}
