//! Generation of software keys from the operating system's RNG.

use rsa::PrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

use super::{
    EcCurve, EcKey, Jwk, KeyMaterial, OctKey, OkpCurve, OkpKey, RsaCrt, RsaKey, RsaPrivate,
};
use crate::error::{Error, KeyError, Result};
use crate::rng;

fn secret(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Zeroizing::new(bytes[start..].to_vec())
}

/// A random ECDSA signing key of the curve crate `$c` on `$curve` (an [`EcCurve`]), with its
/// scalar's bytes. Rejection sampling on raw bytes keeps an RNG failure an error (returned
/// with `?`), not a panic.
macro_rules! random_ec_key {
    ($c:ident, $curve:expr) => {{
        let curve: EcCurve = $curve;
        loop {
            let mut d = Zeroizing::new(rng::bytes(curve.coordinate_len())?);
            if curve == EcCurve::P521 {
                if let Some(top) = d.first_mut() {
                    *top &= 0x01; // P-521 scalars have 521 bits
                }
            }
            if let Ok(sk) = $c::ecdsa::SigningKey::from_slice(&d) {
                break (sk, d);
            }
        }
    }};
}
pub(crate) use random_ec_key;

/// The key material of an uncompressed SEC1 point (`0x04 || x || y`) on `curve`, with the
/// private scalar `d` if given.
pub(crate) fn ec_material(
    curve: EcCurve,
    point: &[u8],
    d: Option<Zeroizing<Vec<u8>>>,
) -> Result<KeyMaterial> {
    let n = curve.coordinate_len();
    match (point.first(), point.get(1..1 + n), point.get(1 + n..)) {
        (Some(4), Some(x), Some(y)) if y.len() == n => Ok(KeyMaterial::Ec(EcKey {
            crv: curve,
            x: x.to_vec(),
            y: y.to_vec(),
            d,
        })),
        _ => Err(KeyError::InvalidMember {
            member: "x",
            reason: "is not an uncompressed point of the curve",
        }
        .into()),
    }
}

impl Jwk {
    /// Generates an RSA key of `bits` (2048, 3072 or 4096) with exponent 65537.
    pub fn generate_rsa(bits: usize) -> Result<Jwk> {
        if ![2048, 3072, 4096].contains(&bits) {
            return Err(KeyError::Generation("RSA keys have 2048, 3072 or 4096 bits").into());
        }
        let key = PrivateKey::new(&mut rng::os(), bits).map_err(|_| Error::Rng)?;
        let [p, q] = key.primes() else {
            return Err(KeyError::Generation("the RSA key does not have two primes").into());
        };
        let (Some(dp), Some(dq), Some(qi)) = (key.dp(), key.dq(), key.crt_coefficient()) else {
            return Err(KeyError::Generation("the RSA key lacks CRT values").into());
        };
        let crt = RsaCrt {
            p: secret(&p.to_be_bytes()),
            q: secret(&q.to_be_bytes()),
            dp: secret(&dp.to_be_bytes()),
            dq: secret(&dq.to_be_bytes()),
            qi: secret(&qi.to_be_bytes()),
        };
        let private = RsaPrivate {
            d: secret(&key.d().to_be_bytes()),
            crt: Some(crt),
        };
        let n = secret(&key.n().to_be_bytes()).to_vec();
        let e = secret(&key.e().to_be_bytes()).to_vec();
        Jwk::new(KeyMaterial::Rsa(RsaKey {
            n,
            e,
            private: Some(private),
        }))
    }

    /// Generates an EC key on `curve`.
    pub fn generate_ec(curve: EcCurve) -> Result<Jwk> {
        macro_rules! generate {
            ($c:ident) => {{
                let (sk, d) = random_ec_key!($c, curve);
                Jwk::new(ec_material(
                    curve,
                    &sk.verifying_key().to_sec1_bytes(),
                    Some(d),
                )?)
            }};
        }
        match curve {
            EcCurve::P256 => generate!(p256),
            EcCurve::P384 => generate!(p384),
            EcCurve::P521 => generate!(p521),
        }
    }

    /// Generates an OKP key (Ed25519, Ed448 or X25519).
    pub fn generate_okp(curve: OkpCurve) -> Result<Jwk> {
        let d = Zeroizing::new(rng::bytes(curve.key_len())?);
        let x = match curve {
            OkpCurve::Ed25519 => {
                let seed: Zeroizing<[u8; 32]> =
                    Zeroizing::new(d.as_slice().try_into().map_err(|_| Error::Rng)?);
                ed25519_dalek::SigningKey::from_bytes(&seed)
                    .verifying_key()
                    .to_bytes()
                    .to_vec()
            }
            OkpCurve::Ed448 => {
                let sk = ed448_goldilocks::SigningKey::try_from(d.as_slice())
                    .map_err(|_| KeyError::Generation("Ed448 key"))?;
                sk.verifying_key().to_bytes().to_vec()
            }
            OkpCurve::X25519 => {
                let seed: Zeroizing<[u8; 32]> =
                    Zeroizing::new(d.as_slice().try_into().map_err(|_| Error::Rng)?);
                let sk = x25519_dalek::StaticSecret::from(*seed);
                x25519_dalek::PublicKey::from(&sk).to_bytes().to_vec()
            }
        };
        Jwk::new(KeyMaterial::Okp(OkpKey {
            crv: curve,
            x,
            d: Some(d),
        }))
    }

    /// Generates a symmetric key of `len` bytes.
    pub fn generate_oct(len: usize) -> Result<Jwk> {
        if !(16..=1024).contains(&len) {
            return Err(KeyError::Generation("symmetric keys have 16 to 1024 bytes").into());
        }
        Jwk::new(KeyMaterial::Oct(OctKey {
            k: Zeroizing::new(rng::bytes(len)?),
        }))
    }
}
