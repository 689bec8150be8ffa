//! Import validation of public key material: lengths, points on the curve, RSA sizes.
//! (Private members are checked against the public ones when a key is put to use, in
//! [`SoftwareKey::from_jwk`](crate::SoftwareKey::from_jwk).)

use super::parsed::parse;
use super::{EcKey, KeyMaterial, OkpKey, RsaKey};
use crate::error::{KeyError, Result};

pub(super) fn material(m: &KeyMaterial) -> Result<()> {
    let public = match m {
        KeyMaterial::Rsa(k) => {
            if let Some(p) = &k.private {
                if p.d.is_empty() || p.d.len() > k.n.len() {
                    return Err(KeyError::InvalidMember {
                        member: "d",
                        reason: "has an impossible length",
                    }
                    .into());
                }
            }
            KeyMaterial::Rsa(RsaKey {
                n: k.n.clone(),
                e: k.e.clone(),
                private: None,
            })
        }
        KeyMaterial::Ec(k) => {
            if k.d
                .as_ref()
                .is_some_and(|d| d.len() != k.crv.coordinate_len())
            {
                return Err(KeyError::InvalidMember {
                    member: "d",
                    reason: "does not have the curve's scalar length",
                }
                .into());
            }
            KeyMaterial::Ec(EcKey {
                crv: k.crv,
                x: k.x.clone(),
                y: k.y.clone(),
                d: None,
            })
        }
        KeyMaterial::Okp(k) => {
            if k.d.as_ref().is_some_and(|d| d.len() != k.crv.key_len()) {
                return Err(KeyError::InvalidMember {
                    member: "d",
                    reason: "does not have the curve's key length",
                }
                .into());
            }
            KeyMaterial::Okp(OkpKey {
                crv: k.crv,
                x: k.x.clone(),
                d: None,
            })
        }
        KeyMaterial::Oct(k) => {
            if k.k.is_empty() {
                return Err(KeyError::InvalidMember {
                    member: "k",
                    reason: "is empty",
                }
                .into());
            }
            return Ok(());
        }
    };
    parse(&public).map(|_| ())
}
