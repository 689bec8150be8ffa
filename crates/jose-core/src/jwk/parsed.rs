//! Key material parsed into the RustCrypto types, once, with the import checks of this crate
//! (sizes, points on the curve, private parts consistent with public ones).
//!
//! Both the JWK layer (validating a key when it is built) and [`SoftwareKey`](crate::SoftwareKey)
//! (holding the parsed key) use this module; it imports nothing from either.

use rsa::{BoxedUint, PrivateKey, PublicKey};
use zeroize::Zeroizing;

use super::{
    EcCurve, EcKey, KeyMaterial, OctKey, OkpCurve, OkpKey, RsaCrt, RsaKey, RsaPrivate, SecretBytes,
};
use crate::error::{Error, KeyError, Result};

/// The parsed key material.
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
    if super::has_roca_fingerprint(&k.n) {
        return Err(KeyError::RocaFingerprint.into());
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
                    let sk = ed25519_dalek::SigningKey::from_bytes(&*secret32(d)?);
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
                    let sk = x25519_dalek::StaticSecret::from(*secret32(d)?);
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

/// A 32-byte private key (Ed25519, X25519) as an array that is wiped when dropped.
fn secret32(d: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let d: [u8; 32] = d.try_into().map_err(|_| KeyError::Inconsistent)?;
    Ok(Zeroizing::new(d))
}
