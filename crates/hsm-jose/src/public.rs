//! The public JWK of a token key, and the operations a published public key may carry.

use hsm_core::{EcCurve as HsmEcCurve, EdCurve, KeyInfo, KeyKind, PublicKeyMaterial};
use jose_core::Jwk;
use jose_core::jwk::{EcCurve, EcKey, KeyMaterial, KeyOp, OkpCurve, OkpKey, RsaKey};

use crate::error::{Error, Result};

/// The JWK curve of a token curve.
pub(crate) fn ec_curve(c: HsmEcCurve) -> EcCurve {
    match c {
        HsmEcCurve::P256 => EcCurve::P256,
        HsmEcCurve::P384 => EcCurve::P384,
        HsmEcCurve::P521 => EcCurve::P521,
    }
}

/// The public JWK of a token key (no `kid` yet), or `None` for a secret key.
pub(crate) fn public_jwk(info: &KeyInfo) -> Result<Option<Jwk>> {
    let unsupported = |reason| Error::UnsupportedKey {
        label: info.label.clone(),
        reason,
    };
    let material = match (&info.kind, &info.public_key) {
        (KeyKind::Aes { .. } | KeyKind::GenericSecret { .. }, _) => return Ok(None),
        (KeyKind::Unsupported { .. }, _) => {
            return Err(unsupported("a key type JOSE has no use for"));
        }
        // hsm-core says why when the token holds public values it could not use.
        (_, None) => {
            return Err(match info.require_public_key() {
                Err(error) if info.public_key_problem.is_some() => Error::from(error),
                _ => unsupported("the token does not reveal its public key"),
            });
        }
        (_, Some(PublicKeyMaterial::Rsa { n, e })) => KeyMaterial::Rsa(RsaKey {
            n: n.clone(),
            e: e.clone(),
            private: None,
        }),
        (_, Some(PublicKeyMaterial::Ec { curve, x, y })) => KeyMaterial::Ec(EcKey {
            crv: ec_curve(*curve),
            x: x.clone(),
            y: y.clone(),
            d: None,
        }),
        (_, Some(PublicKeyMaterial::Edwards { curve, point })) => {
            let crv = match curve {
                EdCurve::Ed25519 => OkpCurve::Ed25519,
                EdCurve::Ed448 => OkpCurve::Ed448,
            };
            KeyMaterial::Okp(OkpKey {
                crv,
                x: point.clone(),
                d: None,
            })
        }
        #[allow(unreachable_patterns)]
        _ => return Err(unsupported("unknown public key type")),
    };
    Ok(Some(Jwk::new(material)?))
}

/// The operations of `ops` that the public key of a `kind` key performs, for publishing.
///
/// A published key never carries `sign`, `decrypt` or `unwrapKey`: those are the private key's,
/// whatever the token's flags on the private object say. `verify` is kept for every key;
/// `encrypt` and `wrapKey` only for RSA (encrypting to the public key); `deriveKey` and
/// `deriveBits` only for EC keys, as the ECDH-ES sender's use of the recipient's public key (jose
/// senders, jose-core's among them, check `deriveKey` on the recipient's key before
/// ECDH-ES). An EdDSA key publishes `verify` only.
pub(crate) fn public_ops(kind: &KeyKind, ops: &[KeyOp]) -> Vec<KeyOp> {
    let rsa = matches!(kind, KeyKind::Rsa { .. });
    let ec = matches!(kind, KeyKind::Ec(_));
    ops.iter()
        .copied()
        .filter(|op| match op {
            KeyOp::Verify => true,
            KeyOp::Encrypt | KeyOp::WrapKey => rsa,
            KeyOp::DeriveKey | KeyOp::DeriveBits => ec,
            KeyOp::Sign | KeyOp::Decrypt | KeyOp::UnwrapKey => false,
            #[allow(unreachable_patterns)]
            _ => false,
        })
        .collect()
}

/// True when the token key is RSA and its modulus has the ROCA fingerprint (CVE-2017-15361:
/// keys made by some Infineon chips, whose private key can be computed from the public key).
///
/// Such a key cannot be loaded as an [`HsmJwk`](crate::HsmJwk) (its public JWK is refused with
/// [`KeyError::RocaFingerprint`](jose_core::error::KeyError::RocaFingerprint), as on JWK
/// import); listings use this to flag it so that it can be replaced.
pub fn has_roca_fingerprint(info: &KeyInfo) -> bool {
    match &info.public_key {
        Some(PublicKeyMaterial::Rsa { n, .. }) => jose_core::jwk::has_roca_fingerprint(n),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[KeyOp] = &[
        KeyOp::Sign,
        KeyOp::Verify,
        KeyOp::Encrypt,
        KeyOp::Decrypt,
        KeyOp::WrapKey,
        KeyOp::UnwrapKey,
        KeyOp::DeriveKey,
        KeyOp::DeriveBits,
    ];

    #[test]
    fn a_published_key_carries_only_public_operations() {
        assert_eq!(
            public_ops(&KeyKind::Rsa { bits: 2048 }, ALL),
            [KeyOp::Verify, KeyOp::Encrypt, KeyOp::WrapKey]
        );
        assert_eq!(
            public_ops(&KeyKind::Ec(HsmEcCurve::P256), ALL),
            [KeyOp::Verify, KeyOp::DeriveKey, KeyOp::DeriveBits]
        );
        assert_eq!(
            public_ops(&KeyKind::Edwards(EdCurve::Ed25519), ALL),
            [KeyOp::Verify]
        );
    }

    #[test]
    fn a_roca_modulus_on_a_token_is_flagged() {
        // The ROCA-form modulus of jose-core's `wire_security` suite.
        const ROCA_N: &str = "hwVu2FdBTjMYFVNG8DQ8xVb5ZR9bLJNaV23LH76W-l_otruASJarUZod4rDcB_LqWnwWwLRVpcl_rwzQjQTQzmtfjt46jRy02eHx07ELFiACU642_FOM3dnXLk23FfV-gLmY-cDZQOv4kbazVxmsZuGSwVzsBLT6ZROn7_pNCeT_ay6EP-HhtHBqNbXZ9cdbO-21I3mPVkg4oaj-Iu4JdNL5WBLUdYkGoM2EiwnwfqeBJEUxrtT6W8SM_05k4xGSbyA9C4S7-ZdYd-iFjRNtkcTMHkPQOvWKI_s7f8ChsxhXzaZHQrGMR0QTMR_Gw0tQSVmUn69_6kP0xWHNSwYg4w";
        let n = jose_core::base64url::decode("n", ROCA_N).unwrap();
        let info = |n: Vec<u8>| KeyInfo {
            label: "roca".into(),
            id: vec![1],
            kind: KeyKind::Rsa { bits: 2048 },
            private: None,
            public: None,
            secret: None,
            capabilities: hsm_core::Capabilities::default(),
            protection: hsm_core::Protection::default(),
            public_key: Some(PublicKeyMaterial::Rsa {
                n,
                e: vec![1, 0, 1],
            }),
            public_binding: None,
            mismatched_public: Vec::new(),
            public_key_problem: None,
            unprotected_duplicates: Vec::new(),
        };
        assert!(has_roca_fingerprint(&info(n.clone())));
        let mut other = n;
        other[255] ^= 2;
        assert!(!has_roca_fingerprint(&info(other)));
        // Loading it as a JOSE key is refused like a JWK import.
        assert!(matches!(
            public_jwk(&info(jose_core::base64url::decode("n", ROCA_N).unwrap())),
            Err(Error::Jose(jose_core::Error::Key(
                jose_core::error::KeyError::RocaFingerprint
            )))
        ));
    }
}
