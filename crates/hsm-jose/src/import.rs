//! Reading private keys to import into a token: PEM, PKCS#8 DER and JWK.
//!
//! Each reader returns hsm-core's [`PrivateKeyMaterial`], ready for
//! [`hsm_core::key::import_key_pair`], after checking that the key's public part belongs to
//! its private part: PEM and PKCS#8 keys are decoded by the RustCrypto crates (`rsa`, `p256`,
//! `p384`, `p521`, `ed25519-dalek`), which validate RSA keys and derive EC and EdDSA public
//! keys from the private scalar; a JWK is validated by jose-core
//! ([`SoftwareKey::from_jwk`](jose_core::SoftwareKey::from_jwk)), so a JWK whose `x`/`y` or
//! `n` do not belong to its `d` is refused with `Error::Jose(jose_core::Error::Key(KeyError::Inconsistent))`.
//! Every clear copy of a secret made here is zeroized.
//!
//! ```no_run
//! use hsm_jose::hsm_core::key::{import_key_pair, KeyUsage};
//! use hsm_jose::{import, SessionPool};
//!
//! # fn main() -> Result<(), hsm_jose::Error> {
//! let pem = std::fs::read_to_string("signing-key.pem").map_err(|_| hsm_jose::Error::Import {
//!     reason: "cannot read the file",
//! })?;
//! let key = import::private_key_from_pem(&pem)?;
//! let pool = SessionPool::from_env()?;
//! let session = pool.session()?;
//! let info = import_key_pair(&session, &key, "migrated-key", &[0x42], KeyUsage::SIGN)?;
//! println!("imported {}", info.label);
//! # Ok(())
//! # }
//! ```

use hsm_core::key::{EcCurve, EdCurve, PrivateKeyMaterial, PublicKeyMaterial, Secret};
use jose_core::SoftwareKey;
use jose_core::jwk::{EcCurve as JwkCurve, Jwk, KeyMaterial, OkpCurve};
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

fn refuse(reason: &'static str) -> Error {
    Error::Import { reason }
}

/// Reads a PEM private key: `PRIVATE KEY` (PKCS#8: RSA, EC P-256/384/521, Ed25519),
/// `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC1). Encrypted PEM is not read.
///
/// # Errors
/// [`Error::Import`] for anything else (no PEM, another label, an unsupported algorithm or
/// curve, a malformed or inconsistent key); the reason never contains key bytes.
pub fn private_key_from_pem(pem: &str) -> Result<PrivateKeyMaterial> {
    let label = pem
        .lines()
        .map(str::trim)
        .find_map(|line| {
            line.strip_prefix("-----BEGIN ")
                .and_then(|l| l.strip_suffix("-----"))
        })
        .ok_or_else(|| refuse("no PEM block"))?;
    match label {
        "PRIVATE KEY" => {
            let (_, der) = pem_rfc7468_decode(pem)?;
            private_key_from_pkcs8_der(&der)
        }
        "RSA PRIVATE KEY" => rsa::PrivateKey::from_pkcs1_pem(pem)
            .map_err(|_| refuse("the PKCS#1 RSA key is malformed"))
            .and_then(|k| rsa_material(&k)),
        "EC PRIVATE KEY" => {
            if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
                return Ok(ec_p256(&k));
            }
            if let Ok(k) = p384::SecretKey::from_sec1_pem(pem) {
                return Ok(ec_p384(&k));
            }
            p521::SecretKey::from_sec1_pem(pem)
                .map(|k| ec_p521(&k))
                .map_err(|_| refuse("the SEC1 EC key is malformed or not on P-256, P-384 or P-521"))
        }
        "ENCRYPTED PRIVATE KEY" => Err(refuse(
            "encrypted PEM is not read: decrypt it first, or wrap the key under a token AES key",
        )),
        _ => Err(refuse("the PEM block is not a private key")),
    }
}

/// Decodes a PEM document into its DER bytes (zeroized when dropped).
fn pem_rfc7468_decode(pem: &str) -> Result<(String, Secret)> {
    let (label, der) = rsa::pkcs8::der::pem::decode_vec(pem.as_bytes())
        .map_err(|_| refuse("the PEM block is malformed"))?;
    Ok((label.to_owned(), Zeroizing::new(der)))
}

/// Reads a PKCS#8 `PrivateKeyInfo` (DER): RSA, EC P-256/384/521 or Ed25519.
///
/// # Errors
/// [`Error::Import`] for a malformed structure, another algorithm or curve, or an RSA key
/// whose components are inconsistent.
pub fn private_key_from_pkcs8_der(der: &[u8]) -> Result<PrivateKeyMaterial> {
    use rsa::pkcs8::DecodePrivateKey as _;
    if let Ok(k) = rsa::PrivateKey::from_pkcs8_der(der) {
        return rsa_material(&k);
    }
    if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
        return Ok(ec_p256(&k));
    }
    if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
        return Ok(ec_p384(&k));
    }
    if let Ok(k) = p521::SecretKey::from_pkcs8_der(der) {
        return Ok(ec_p521(&k));
    }
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_der(der) {
        return Ok(PrivateKeyMaterial::Edwards {
            curve: EdCurve::Ed25519,
            seed: Zeroizing::new(Zeroizing::new(k.to_bytes()).to_vec()),
            point: k.verifying_key().to_bytes().to_vec(),
        });
    }
    Err(refuse(
        "not a PKCS#8 RSA, EC P-256/P-384/P-521 or Ed25519 private key",
    ))
}

/// Reads a private JWK (RSA, EC P-256/384/521, Ed25519, Ed448), after jose-core has checked
/// that its private members belong to its public ones.
///
/// # Errors
/// `Error::Jose(jose_core::Error::Key(KeyError::Inconsistent))` when they do not;
/// [`Error::Import`] for a public JWK, a symmetric key or X25519.
pub fn private_key_from_jwk(jwk: &Jwk) -> Result<PrivateKeyMaterial> {
    if !jwk.is_private() {
        return Err(refuse("the JWK has no private members"));
    }
    // Validation: parses the key and checks the private part against the public part.
    SoftwareKey::from_jwk(jwk.clone())?;
    match jwk.material() {
        KeyMaterial::Rsa(k) => {
            let private = k
                .private
                .as_ref()
                .ok_or_else(|| refuse("the JWK has no private members"))?;
            let n = rsa::BoxedUint::from_be_slice_vartime(&k.n);
            let e = rsa::BoxedUint::from_be_slice_vartime(&k.e);
            let d = rsa::BoxedUint::from_be_slice_vartime(&private.d);
            let primes = match &private.crt {
                Some(crt) => vec![
                    rsa::BoxedUint::from_be_slice_vartime(&crt.p),
                    rsa::BoxedUint::from_be_slice_vartime(&crt.q),
                ],
                // The primes are recovered from n, e and d.
                None => Vec::new(),
            };
            let key = rsa::PrivateKey::from_components(n, e, d, primes)
                .map_err(|_| refuse("the RSA JWK's private members are inconsistent"))?;
            rsa_material(&key)
        }
        KeyMaterial::Ec(k) => {
            let d =
                k.d.as_ref()
                    .ok_or_else(|| refuse("the JWK has no private members"))?;
            let curve = match k.crv {
                JwkCurve::P256 => EcCurve::P256,
                JwkCurve::P384 => EcCurve::P384,
                JwkCurve::P521 => EcCurve::P521,
            };
            Ok(PrivateKeyMaterial::Ec {
                curve,
                d: d.clone(),
                x: k.x.clone(),
                y: k.y.clone(),
            })
        }
        KeyMaterial::Okp(k) => {
            let seed =
                k.d.as_ref()
                    .ok_or_else(|| refuse("the JWK has no private members"))?;
            let curve = match k.crv {
                OkpCurve::Ed25519 => EdCurve::Ed25519,
                OkpCurve::Ed448 => EdCurve::Ed448,
                OkpCurve::X25519 => {
                    return Err(refuse("X25519 keys are not imported (no token mechanism)"));
                }
            };
            Ok(PrivateKeyMaterial::Edwards {
                curve,
                seed: seed.clone(),
                point: k.x.clone(),
            })
        }
        KeyMaterial::Oct(_) => Err(refuse(
            "a symmetric JWK is a secret key: use hsm_core::key::import_secret_key",
        )),
        _ => Err(refuse("this key type is not imported")),
    }
}

/// The public key of a JWK (public or private), for [`hsm_core::key::unwrap_key_pair`]: the
/// public half of a key that arrives wrapped. jose-core validates it (points on the curve, RSA
/// sizes) when the JWK is parsed.
///
/// # Errors
/// [`Error::Import`] for a symmetric key or X25519.
pub fn public_key_from_jwk(jwk: &Jwk) -> Result<PublicKeyMaterial> {
    match jwk.material() {
        KeyMaterial::Rsa(k) => Ok(PublicKeyMaterial::Rsa {
            n: k.n.clone(),
            e: k.e.clone(),
        }),
        KeyMaterial::Ec(k) => Ok(PublicKeyMaterial::Ec {
            curve: match k.crv {
                JwkCurve::P256 => EcCurve::P256,
                JwkCurve::P384 => EcCurve::P384,
                JwkCurve::P521 => EcCurve::P521,
            },
            x: k.x.clone(),
            y: k.y.clone(),
        }),
        KeyMaterial::Okp(k) => Ok(PublicKeyMaterial::Edwards {
            curve: match k.crv {
                OkpCurve::Ed25519 => EdCurve::Ed25519,
                OkpCurve::Ed448 => EdCurve::Ed448,
                OkpCurve::X25519 => {
                    return Err(refuse("X25519 keys are not imported (no token mechanism)"));
                }
            },
            point: k.x.clone(),
        }),
        _ => Err(refuse("the JWK is not an RSA, EC or EdDSA key")),
    }
}

fn be(value: &rsa::BoxedUint) -> Secret {
    let bytes = Zeroizing::new(value.to_be_bytes());
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    Zeroizing::new(bytes[start..].to_vec())
}

fn rsa_material(key: &rsa::PrivateKey) -> Result<PrivateKeyMaterial> {
    key.validate()
        .map_err(|_| refuse("the RSA key's components are inconsistent"))?;
    let [p, q] = key.primes() else {
        return Err(refuse(
            "multi-prime RSA keys are not imported (tokens take two primes)",
        ));
    };
    let (Some(dp), Some(dq), Some(qinv)) = (key.dp(), key.dq(), key.qinv()) else {
        return Err(refuse("the RSA key has no CRT parameters"));
    };
    Ok(PrivateKeyMaterial::Rsa {
        n: be(key.n()).to_vec(),
        e: be(key.e()).to_vec(),
        d: be(key.d()),
        p: be(p),
        q: be(q),
        dp: be(dp),
        dq: be(dq),
        qi: be(&qinv.retrieve()),
    })
}

macro_rules! ec_reader {
    ($name:ident, $crate_:ident, $curve:expr) => {
        fn $name(key: &$crate_::SecretKey) -> PrivateKeyMaterial {
            use $crate_::elliptic_curve::sec1::ToSec1Point as _;
            let point = key.public_key().to_sec1_point(false);
            let coordinate =
                |c: Option<&$crate_::FieldBytes>| c.map(|c| c.to_vec()).unwrap_or_default();
            PrivateKeyMaterial::Ec {
                curve: $curve,
                d: Zeroizing::new(Zeroizing::new(key.to_bytes()).to_vec()),
                x: coordinate(point.x()),
                y: coordinate(point.y()),
            }
        }
    };
}

ec_reader!(ec_p256, p256, EcCurve::P256);
ec_reader!(ec_p384, p384, EcCurve::P384);
ec_reader!(ec_p521, p521, EcCurve::P521);
