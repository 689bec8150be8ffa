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
}
