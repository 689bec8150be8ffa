//! Rewriting a key attribute that a token stored in a broken encoding of a valid value.
//!
//! tpm2-pkcs11 up to 1.9 writes a P-521 key's `CKA_EC_POINT` with its length as the one byte
//! `0x85` (`04 85 04 ...`) where DER needs `81 85` (`04 81 85 04 ...`), for keys it generates
//! and keys `pkcs11-tool` makes through it alike, and then cannot decode the attribute itself:
//! every `C_SignInit` with such a key fails with `CKR_HOST_MEMORY`. The module lets
//! `C_SetAttributeValue` rewrite the attribute, and with the same point in DER the key signs.
//!
//! [`repair_ec_point`] does exactly that and nothing else: only the short-form length of a
//! point that [`EcCurve::parse_point`] accepts (uncompressed, the curve's exact length, both
//! coordinates below the field prime), only on the key's own objects, and it reads the
//! attribute back to check the token now holds the DER form of the same point.

use cryptoki::context::Function;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;

use super::curve::short_form_point;
use super::{KeyInfo, KeyKind};
use crate::error::{Error, Result};
use crate::trace::token_call;

/// What [`repair_ec_point`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EcPointRepair {
    /// Nothing to do: not an EC key, or every object of the key holds its point in a form
    /// the token itself reads (DER, or no `CKA_EC_POINT` at all).
    Unchanged,
    /// This many objects of the key (private, public) held the point with a short-form length;
    /// each now holds the same point in DER.
    Rewritten(usize),
}

/// True when some object of an EC key holds its `CKA_EC_POINT` with tpm2-pkcs11's short-form
/// length (see the module documentation). One `C_GetAttributeValue` per object; nothing is
/// written.
///
/// # Errors
/// A token failure reading the attribute.
pub fn ec_point_needs_repair(session: &Session, info: &KeyInfo) -> Result<bool> {
    Ok(!misencoded(session, info)?.is_empty())
}

/// Rewrites, in DER, the `CKA_EC_POINT` of each object of the key that holds it with
/// tpm2-pkcs11's short-form length, and reads it back. Needs a read-write session (the objects
/// are token objects); the point itself is unchanged.
///
/// # Errors
/// A token failure or refusal of `C_SetAttributeValue` (e.g. `CKR_SESSION_READ_ONLY`,
/// `CKR_ATTRIBUTE_READ_ONLY`); [`Error::InvalidPublicKey`] when the token, read back, does not
/// hold the DER form of the same point.
pub fn repair_ec_point(session: &Session, info: &KeyInfo) -> Result<EcPointRepair> {
    let objects = misencoded(session, info)?;
    for (handle, der) in &objects {
        token_call(Function::SetAttributeValue, None, || {
            session.update_attributes(*handle, &[Attribute::EcPoint(der.clone())])
        })
        .map_err(|e| Error::from_cryptoki("rewriting a key's EC point in DER", e))?;
        if read_point(session, *handle)?.as_deref() != Some(der.as_slice()) {
            return Err(Error::InvalidPublicKey {
                key: format!("{:?}", info.label),
                reason: "the token does not hold the EC point rewritten in DER".into(),
            });
        }
    }
    Ok(match objects.len() {
        0 => EcPointRepair::Unchanged,
        n => EcPointRepair::Rewritten(n),
    })
}

/// The key's objects whose `CKA_EC_POINT` has the short-form length, with the DER to write.
fn misencoded(session: &Session, info: &KeyInfo) -> Result<Vec<(ObjectHandle, Vec<u8>)>> {
    let KeyKind::Ec(curve) = info.kind else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for handle in [info.private, info.public].into_iter().flatten() {
        let Some(value) = read_point(session, handle)? else {
            continue;
        };
        if let Some(der) = short_form_point(curve, &value) {
            out.push((handle, der));
        }
    }
    Ok(out)
}

fn read_point(session: &Session, handle: ObjectHandle) -> Result<Option<Vec<u8>>> {
    let attributes = token_call(Function::GetAttributeValue, None, || {
        session.get_attributes(handle, &[AttributeType::EcPoint])
    })
    .map_err(|e| Error::from_cryptoki("reading a key's EC point", e))?;
    Ok(attributes.into_iter().find_map(|a| match a {
        Attribute::EcPoint(p) => Some(p),
        _ => None,
    }))
}
