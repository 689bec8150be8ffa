//! The certificate chain a JWK travels with: `x5c` and `x5t#S256` (RFC 7517 sections 4.7 and
//! 4.9).
//!
//! [`check_x5c`] checks that a JWK's `x5c` leaf certificate carries the JWK's own public key
//! and that `x5t#S256`, when present, is that certificate's SHA-256 thumbprint. It does not
//! validate the chain (trust anchors, validity dates, revocation): that is the job of a PKI
//! library with the verifier's trust store. jose-core never takes a key from a token header's
//! `x5c` either.
//!
//! ```
//! use jose_core::jwk::{x5c, EcCurve, Jwk};
//!
//! let jwk = Jwk::generate_ec(EcCurve::P256)?.to_public()?;
//! // No x5c member: nothing to check.
//! assert!(x5c::leaf(&jwk)?.is_none());
//! x5c::check_x5c(&jwk)?;
//! # Ok::<(), jose_core::Error>(())
//! ```

use base64ct::{Base64, Encoding as _};
use sha2::{Digest as _, Sha256};
use x509_cert::Certificate;
use x509_cert::der::Decode as _;
use x509_cert::spki::ObjectIdentifier;

use super::{EcCurve, Jwk, KeyMaterial, OkpCurve};
use crate::b64;
use crate::error::{KeyError, Result};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

fn invalid(member: &'static str, reason: &'static str) -> crate::Error {
    KeyError::InvalidMember { member, reason }.into()
}

/// The DER of every certificate in the JWK's `x5c`, leaf first; empty without `x5c`.
///
/// # Errors
/// `KeyError::InvalidMember { member: "x5c", .. }` when `x5c` is not an array of standard
/// base64 strings.
pub fn chain(jwk: &Jwk) -> Result<Vec<Vec<u8>>> {
    let Some(value) = jwk.extra("x5c") else {
        return Ok(Vec::new());
    };
    let entries = value
        .as_array()
        .ok_or_else(|| invalid("x5c", "is not an array"))?;
    entries
        .iter()
        .map(|entry| {
            let text = entry
                .as_str()
                .ok_or_else(|| invalid("x5c", "has an entry that is not a string"))?;
            Base64::decode_vec(text)
                .map_err(|_| invalid("x5c", "has an entry that is not standard base64"))
        })
        .collect()
}

/// The DER of the JWK's `x5c` leaf certificate, if it has `x5c`.
///
/// # Errors
/// As [`chain`]; an empty `x5c` array is refused.
pub fn leaf(jwk: &Jwk) -> Result<Option<Vec<u8>>> {
    if jwk.extra("x5c").is_none() {
        return Ok(None);
    }
    let mut certificates = chain(jwk)?;
    if certificates.is_empty() {
        return Err(invalid("x5c", "is empty"));
    }
    Ok(Some(certificates.swap_remove(0)))
}

/// The `x5t#S256` value of a DER certificate: base64url of its SHA-256.
pub fn thumbprint_s256(certificate_der: &[u8]) -> String {
    b64::encode(&Sha256::digest(certificate_der))
}

/// Checks that the JWK's `x5c` leaf certificate carries the JWK's public key and that its
/// `x5t#S256`, if present, is the leaf's thumbprint. A JWK without `x5c` passes (an
/// `x5t#S256` without `x5c` cannot be checked here and is left alone).
///
/// # Errors
/// `KeyError::InvalidMember` naming `x5c` (malformed, or a leaf whose key is not the JWK's)
/// or `x5t#S256` (not the leaf's thumbprint).
pub fn check_x5c(jwk: &Jwk) -> Result<()> {
    let Some(leaf) = leaf(jwk)? else {
        return Ok(());
    };
    if let Some(x5t) = jwk.extra("x5t#S256") {
        if x5t.as_str() != Some(thumbprint_s256(&leaf).as_str()) {
            return Err(invalid(
                "x5t#S256",
                "is not the SHA-256 thumbprint of the x5c leaf",
            ));
        }
    }
    if leaf_carries(jwk, &leaf)? {
        Ok(())
    } else {
        Err(invalid(
            "x5c",
            "leaf certificate carries another public key",
        ))
    }
}

/// True when the DER certificate `certificate_der` carries the JWK's public key.
///
/// # Errors
/// `KeyError::InvalidMember { member: "x5c", .. }` for a certificate that does not parse.
pub fn leaf_carries(jwk: &Jwk, certificate_der: &[u8]) -> Result<bool> {
    let certificate = Certificate::from_der(certificate_der)
        .map_err(|_| invalid("x5c", "leaf is not a DER X.509 certificate"))?;
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let Some(key) = spki.subject_public_key.as_bytes() else {
        return Ok(false);
    };
    let algorithm = spki.algorithm.oid;
    let parameter = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    Ok(match jwk.material() {
        KeyMaterial::Rsa(k) => {
            algorithm == RSA_ENCRYPTION
                && rsa::pkcs1::RsaPublicKey::<x509_cert::der::asn1::UintRef<'_>>::from_der(key)
                    .is_ok_and(|public| {
                        public.modulus.as_bytes() == k.n.as_slice()
                            && public.public_exponent.as_bytes() == k.e.as_slice()
                    })
        }
        KeyMaterial::Ec(k) => {
            let curve = match k.crv {
                EcCurve::P256 => SECP256R1,
                EcCurve::P384 => SECP384R1,
                EcCurve::P521 => SECP521R1,
            };
            // Only the uncompressed form (what certificates carry) is compared.
            algorithm == EC_PUBLIC_KEY
                && parameter == Some(curve)
                && key.split_first().is_some_and(|(&tag, point)| {
                    tag == 0x04 && point.len() == k.x.len() + k.y.len() && {
                        let (x, y) = point.split_at(k.x.len());
                        x == k.x.as_slice() && y == k.y.as_slice()
                    }
                })
        }
        KeyMaterial::Okp(k) => {
            let oid = match k.crv {
                OkpCurve::Ed25519 => ED25519,
                OkpCurve::Ed448 => ED448,
                OkpCurve::X25519 => X25519,
            };
            algorithm == oid && key == k.x.as_slice()
        }
        KeyMaterial::Oct(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwk_without_x5c_passes_and_a_malformed_one_is_named() {
        let jwk = Jwk::generate_ec(EcCurve::P256).unwrap();
        assert!(matches!(check_x5c(&jwk), Ok(())));
        let mut value = jwk.to_public_value().unwrap();
        value["x5c"] = serde_json::json!(["not base64 !"]);
        let with = Jwk::from_value(&value).unwrap();
        assert!(matches!(
            check_x5c(&with),
            Err(crate::Error::Key(KeyError::InvalidMember {
                member: "x5c",
                ..
            }))
        ));
        value["x5c"] = serde_json::json!([]);
        let empty = Jwk::from_value(&value).unwrap();
        assert!(matches!(
            check_x5c(&empty),
            Err(crate::Error::Key(KeyError::InvalidMember {
                member: "x5c",
                reason: "is empty"
            }))
        ));
        value["x5c"] = serde_json::json!([Base64::encode_string(b"not a certificate")]);
        let garbage = Jwk::from_value(&value).unwrap();
        assert!(matches!(
            check_x5c(&garbage),
            Err(crate::Error::Key(KeyError::InvalidMember {
                member: "x5c",
                reason: "leaf is not a DER X.509 certificate"
            }))
        ));
    }
}
