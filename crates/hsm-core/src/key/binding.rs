//! Proving that a key pair's public key belongs to its private key.
//!
//! Public-key objects can be created by anyone who can open a read-write session, without
//! logging in. So a public object that merely carries the private key's `CKA_ID` and
//! `CKA_LABEL` proves nothing: an attacker can plant one (or delete the real one and plant
//! another) and have verifiers trust, and senders encrypt to, the attacker's key.
//!
//! The rules, in order:
//!
//! 1. **The private object's own public values win.** RSA private objects carry
//!    `CKA_MODULUS` and `CKA_PUBLIC_EXPONENT`; some tokens put `CKA_EC_POINT` or a
//!    `CKA_PUBLIC_KEY_INFO` (SubjectPublicKeyInfo) on EC and EdDSA private objects. Private
//!    objects cannot be created or changed without login, so these values are the key's. The
//!    public key is taken from them ([`Binding::PrivateAttributes`]); a public object is paired
//!    only if it carries the same public key, and every other public object with the key's
//!    label and id is set aside in [`KeyInfo::mismatched_public`](super::KeyInfo) — never used,
//!    never a separate key, never a reason to call the lookup ambiguous.
//! 2. **Otherwise one candidate is unproven.** When the private object reveals nothing (SoftHSM
//!    EC and EdDSA private objects: no point, an empty `CKA_PUBLIC_KEY_INFO`) and exactly one
//!    public key is claimed for it, that public key is used and marked
//!    [`Binding::Unproven`]: a caller that publishes or relies on it must first prove it with
//!    the private key (hsm-jose signs and verifies once when it loads such a key).
//! 3. **Several different candidates are told apart by the token.** The private key signs a
//!    fixed message once and the token verifies that signature with each candidate public object
//!    (`C_Verify`). The candidates that verify are the key's ([`Binding::TokenVerified`]); the
//!    others are set aside as in rule 1. When the private key cannot sign (or needs the PIN for
//!    every operation, `CKA_ALWAYS_AUTHENTICATE`), or not exactly one
//!    public key verifies, the key has no public key: every candidate is set aside, and
//!    [`KeyInfo::public_key_problem`](super::KeyInfo) is [`PublicKeyProblem::Conflict`], which
//!    [`KeyInfo::require_public_key`](super::KeyInfo::require_public_key) reports as
//!    [`Error::PublicKeyMismatch`] naming the key. The lookup itself does not fail: the private
//!    key still decrypts and derives, and planting objects cannot make it unusable.
//!
//! Public objects whose key type differs from the private key's are set aside as in rule 1; an
//! RSA private object with a modulus but no public exponent sets aside every other modulus.

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::KeyType;
use cryptoki::session::Session;

use super::curve::spki_public_key;
use super::{EcCurve, EdCurve, ObjectAttrs, PublicKeyMaterial, hex};
use crate::error::{Error, Result};
use crate::trace::token_call;

/// Why a key pair has no usable public key although the token holds public values for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublicKeyProblem {
    /// The token revealed a public value that cannot be read (a malformed `CKA_EC_POINT`, an
    /// SPKI that does not parse, ...): what is wrong with it.
    Invalid(String),
    /// Public-key objects carrying different public keys claim the key, and neither its private
    /// object nor a signature check tells which is its own: how many, and why not.
    Conflict(String),
}

/// How the public key in a [`KeyInfo`](super::KeyInfo) is known to belong to its private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Binding {
    /// Read from (or compared equal to) the public values the private-key object itself
    /// carries: `CKA_MODULUS`/`CKA_PUBLIC_EXPONENT` for RSA, `CKA_EC_POINT` or
    /// `CKA_PUBLIC_KEY_INFO` for EC and EdDSA where the token sets them. Proven.
    PrivateAttributes,
    /// Several public objects claimed the key; the token verified a signature of the private
    /// key with this one. Proven.
    TokenVerified,
    /// Read from the one public-key object with the key's label, id and type; the private
    /// object reveals nothing to compare it with. Not proven: sign (or derive) with the private
    /// key and check the result with this public key before publishing or using it.
    Unproven,
}

impl Binding {
    /// True for the bindings that prove the public key belongs to the private key.
    pub fn is_proven(self) -> bool {
        match self {
            Binding::PrivateAttributes | Binding::TokenVerified => true,
            Binding::Unproven => false,
        }
    }
}

/// What the binding step decided for one key pair.
#[derive(Debug, Default)]
pub(super) struct Bound {
    /// The public object paired with the private key, if any.
    pub(super) public: Option<ObjectAttrs>,
    /// The public key and how it is bound, if one is known.
    pub(super) material: Option<(PublicKeyMaterial, Binding)>,
    /// Public objects with the key's label and id that are not its public key.
    pub(super) mismatched: Vec<ObjectAttrs>,
    /// Why no public key is known although the token holds public values.
    pub(super) problem: Option<PublicKeyProblem>,
}

/// The curve a key's objects name: the private object's `CKA_EC_PARAMS` first.
enum Curve {
    Ec(EcCurve),
    Ed(EdCurve),
}

fn curve_of(params: Option<&[u8]>, key_type: Option<KeyType>) -> Option<Curve> {
    let params = params?;
    if let Some(curve) = EdCurve::from_ec_params(params) {
        return Some(Curve::Ed(curve));
    }
    match key_type {
        Some(KeyType::EC) => EcCurve::from_ec_params(params).map(Curve::Ec),
        _ => None,
    }
}

fn point_material(curve: &Curve, value: &[u8]) -> Result<PublicKeyMaterial, String> {
    match *curve {
        Curve::Ec(curve) => curve
            .parse_point(value)
            .map(|(x, y)| PublicKeyMaterial::Ec { curve, x, y }),
        Curve::Ed(curve) => curve
            .parse_point(value)
            .map(|point| PublicKeyMaterial::Edwards { curve, point }),
    }
}

fn non_empty(value: &Option<Vec<u8>>) -> Option<&[u8]> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The public key an object carries itself: `None` when it carries none, `Err` with the reason
/// when it carries a value that cannot be read. `params` names the curve (the key's own).
fn carried(o: &ObjectAttrs, params: Option<&[u8]>) -> Option<Result<PublicKeyMaterial, String>> {
    match o.key_type {
        Some(KeyType::RSA) => {
            let n = super::strip_zeros(non_empty(&o.modulus)?);
            let e = super::strip_zeros(non_empty(&o.public_exponent)?);
            if n.is_empty() || e.is_empty() {
                return Some(Err("the RSA modulus or exponent is zero".to_owned()));
            }
            Some(Ok(PublicKeyMaterial::Rsa { n, e }))
        }
        Some(KeyType::EC | KeyType::EC_EDWARDS) => {
            let curve = curve_of(params, o.key_type)?;
            if let Some(point) = non_empty(&o.ec_point) {
                return Some(
                    point_material(&curve, point).map_err(|e| format!("CKA_EC_POINT: {e}")),
                );
            }
            let spki = non_empty(&o.public_key_info)?;
            Some(match spki_public_key(spki) {
                Some(point) => {
                    point_material(&curve, point).map_err(|e| format!("CKA_PUBLIC_KEY_INFO: {e}"))
                }
                None => Err("CKA_PUBLIC_KEY_INFO is not a DER SubjectPublicKeyInfo".to_owned()),
            })
        }
        _ => None,
    }
}

/// The public values a private-key object carries itself (rule 1), with the curve named by its
/// own `CKA_EC_PARAMS`.
pub(super) fn private_public_key(
    private: &ObjectAttrs,
) -> Option<Result<PublicKeyMaterial, String>> {
    carried(private, private.ec_params.as_deref())
}

/// The public key a lone public-key object carries (no private key to bind it to).
pub(super) fn lone_public_key(public: &ObjectAttrs) -> Option<Result<PublicKeyMaterial, String>> {
    carried(public, public.ec_params.as_deref())
}

/// The public key a candidate public object carries, read with the key's curve. A candidate
/// whose own `CKA_EC_PARAMS` name another curve carries another key.
fn candidate_public_key(
    candidate: &ObjectAttrs,
    private: &ObjectAttrs,
) -> Option<Result<PublicKeyMaterial, String>> {
    let key_params = private
        .ec_params
        .as_deref()
        .or(candidate.ec_params.as_deref());
    if let (Some(mine), Some(theirs)) = (key_params, candidate.ec_params.as_deref()) {
        if mine != theirs && !same_curve(mine, theirs) {
            return Some(Err("its CKA_EC_PARAMS name another curve".to_owned()));
        }
    }
    carried(candidate, key_params)
}

/// True when two `CKA_EC_PARAMS` values name one curve in different forms (OID, name).
fn same_curve(a: &[u8], b: &[u8]) -> bool {
    match (EcCurve::from_ec_params(a), EcCurve::from_ec_params(b)) {
        (Some(x), Some(y)) => x == y,
        _ => matches!(
            (EdCurve::from_ec_params(a), EdCurve::from_ec_params(b)),
            (Some(x), Some(y)) if x == y
        ),
    }
}

/// A name for the key in messages: label and id.
pub(super) fn key_name(o: &ObjectAttrs) -> String {
    format!("label {:?}, id {}", o.label, hex(&o.id))
}

/// Chooses the public key of the pair whose private object is `private` among `candidates`
/// (the public objects with its label and id), following the rules of this module.
///
/// # Errors
/// A lost session or login during the signature check (rule 3); nothing else.
pub(super) fn bind(
    session: Option<&Session>,
    private: &ObjectAttrs,
    candidates: Vec<ObjectAttrs>,
) -> Result<Bound> {
    let mut bound = Bound::default();
    // Rule 1: the private object's own values.
    let own = private_public_key(private);
    if let Some(Ok(material)) = own {
        for candidate in candidates {
            let same = candidate.key_type == private.key_type
                && matches!(candidate_public_key(&candidate, private), Some(Ok(ref m)) if *m == material);
            if same && bound.public.is_none() {
                bound.public = Some(candidate);
            } else if !same {
                bound.mismatched.push(candidate);
            }
            // An identical copy of the paired public object is the same key: left alone.
        }
        bound.material = Some((material, Binding::PrivateAttributes));
        return Ok(bound);
    }
    let own_invalid = match own {
        Some(Err(reason)) => Some(format!("the private object's {reason}")),
        _ => None,
    };

    // Rules 2 and 3: sort the candidates by the public key they carry. An RSA private object
    // with a modulus but no public exponent still rules out every other modulus (the exponent
    // alone is not trusted from a public object: e = 1 would make any signature verify).
    let private_modulus = match private.key_type {
        Some(KeyType::RSA) => non_empty(&private.modulus).map(super::strip_zeros),
        _ => None,
    };
    let mut readable: Vec<(ObjectAttrs, PublicKeyMaterial)> = Vec::new();
    let mut unreadable: Vec<(ObjectAttrs, String)> = Vec::new();
    for candidate in candidates {
        if candidate.key_type != private.key_type {
            bound.mismatched.push(candidate);
            continue;
        }
        match candidate_public_key(&candidate, private) {
            Some(Ok(PublicKeyMaterial::Rsa { n, .. }))
                if private_modulus.as_ref().is_some_and(|m| *m != n) =>
            {
                bound.mismatched.push(candidate);
            }
            Some(Ok(material)) => readable.push((candidate, material)),
            Some(Err(reason)) => unreadable.push((candidate, reason)),
            None => unreadable.push((candidate, "it carries no public key".to_owned())),
        }
    }
    let mut distinct: Vec<&PublicKeyMaterial> = Vec::new();
    for (_, material) in &readable {
        if !distinct.contains(&material) {
            distinct.push(material);
        }
    }
    let chosen = match distinct.len() {
        0 => {
            // Nothing readable: pair the one unreadable candidate so that its handle and the
            // reason are reported; with several, none is the key's.
            let reason = own_invalid.or_else(|| unreadable.first().map(|(_, r)| r.clone()));
            if unreadable.len() == 1 {
                if let Some((candidate, _)) = unreadable.pop() {
                    bound.public = Some(candidate);
                }
            }
            bound
                .mismatched
                .extend(unreadable.into_iter().map(|(c, _)| c));
            bound.problem = reason.map(PublicKeyProblem::Invalid);
            return Ok(bound);
        }
        1 => (distinct[0].clone(), Binding::Unproven),
        count => match token_choice(session, private, &readable)? {
            Some(material) => (material, Binding::TokenVerified),
            None => {
                bound.problem = Some(PublicKeyProblem::Conflict(format!(
                    "{count} public-key objects with different public keys claim it, and the \
                     private key could not prove any of them"
                )));
                bound
                    .mismatched
                    .extend(readable.into_iter().map(|(c, _)| c));
                bound
                    .mismatched
                    .extend(unreadable.into_iter().map(|(c, _)| c));
                return Ok(bound);
            }
        },
    };
    for (candidate, material) in readable {
        if material == chosen.0 && bound.public.is_none() {
            bound.public = Some(candidate);
        } else if material != chosen.0 {
            bound.mismatched.push(candidate);
        }
    }
    bound
        .mismatched
        .extend(unreadable.into_iter().map(|(c, _)| c));
    bound.material = Some(chosen);
    Ok(bound)
}

/// Proves an [`Unproven`](Binding::Unproven) public key on the token: the private key signs a
/// fixed message once and the token verifies the signature with the paired public-key object
/// (whose value is [`KeyInfo::public_key`](super::KeyInfo)). On success `info` says
/// [`Binding::TokenVerified`]. Keys already proven, keys without a private key or public object,
/// and keys that cannot sign (no `CKA_SIGN`, or `CKA_ALWAYS_AUTHENTICATE`) are left as they
/// are: check [`KeyInfo::public_key_is_proven`](super::KeyInfo::public_key_is_proven) after
/// the call (a derive-only key needs another proof, e.g. an ECDH agreement checked in software).
///
/// # Errors
/// [`Error::PublicKeyMismatch`] naming the key when the token does not verify the signature
/// with the public object: the public key is not the private key's (`info` is left unchanged);
/// token errors.
pub fn prove_public_key(session: &Session, info: &mut super::KeyInfo) -> Result<()> {
    let (Some(Binding::Unproven), Some(private), Some(public), Some(material)) = (
        info.public_binding,
        info.private,
        info.public,
        info.public_key.as_ref(),
    ) else {
        return Ok(());
    };
    if !info.capabilities.sign || info.protection.always_authenticate {
        return Ok(());
    }
    let mechanism = probe_mechanism(material);
    let signature = token_call(Function::Sign, Some(mechanism.mechanism_type()), || {
        session.sign(&mechanism, private, PROBE)
    })
    .map_err(|e| Error::from_cryptoki("signing to prove a public key", e))?;
    match token_call(Function::Verify, Some(mechanism.mechanism_type()), || {
        session.verify(&mechanism, public, PROBE, &signature)
    }) {
        Ok(()) => {
            info.public_binding = Some(Binding::TokenVerified);
            Ok(())
        }
        Err(cryptoki::error::Error::Pkcs11(RvError::SignatureInvalid, _)) => {
            Err(Error::PublicKeyMismatch {
                key: info.name(),
                reason: "the token does not verify the private key's signature with the \
                         public-key object"
                    .to_owned(),
            })
        }
        Err(e) => Err(Error::from_cryptoki("verifying to prove a public key", e)),
    }
}

/// The mechanism that signs and verifies the probe for a key with this public key.
pub(super) fn probe_mechanism(material: &PublicKeyMaterial) -> Mechanism<'static> {
    match material {
        PublicKeyMaterial::Rsa { .. } => Mechanism::RsaPkcs,
        PublicKeyMaterial::Ec { .. } => Mechanism::Ecdsa,
        PublicKeyMaterial::Edwards { .. } => {
            Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure))
        }
    }
}

/// The fixed message signed to tell candidates apart (any message proves possession). The
/// signature is only handed to `C_Verify` and then dropped.
pub(super) const PROBE: &[u8; 32] = b"hsm-core public key binding test";

/// Rule 3: the one public key among `readable` with which the token verifies a signature of
/// the private key. `None` when the private key cannot sign or not exactly one distinct public
/// key verifies.
fn token_choice(
    session: Option<&Session>,
    private: &ObjectAttrs,
    readable: &[(ObjectAttrs, PublicKeyMaterial)],
) -> Result<Option<PublicKeyMaterial>> {
    let (Some(session), Some(handle), Some((_, first))) =
        (session, private.handle, readable.first())
    else {
        return Ok(None);
    };
    // A key that cannot sign cannot prove anything this way; one that needs the PIN for every
    // operation is not asked to sign behind its owner's back.
    if !private.capabilities.sign || private.protection.always_authenticate {
        return Ok(None);
    }
    let mechanism = probe_mechanism(first);
    let signature = match token_call(Function::Sign, Some(mechanism.mechanism_type()), || {
        session.sign(&mechanism, handle, PROBE)
    }) {
        Ok(signature) => signature,
        Err(e) => {
            let error = Error::from_cryptoki("signing to check a public key", e);
            // A lost session or login is the caller's to recover; any other refusal only
            // means this key cannot prove its public key by signing.
            if error.is_session_invalid() {
                return Err(error);
            }
            return Ok(None);
        }
    };
    let mut verified: Option<&PublicKeyMaterial> = None;
    for (candidate, material) in readable {
        let Some(public) = candidate.handle else {
            continue;
        };
        if verified == Some(material) {
            continue;
        }
        match token_call(Function::Verify, Some(mechanism.mechanism_type()), || {
            session.verify(&mechanism, public, PROBE, &signature)
        }) {
            Ok(()) => {
                if verified.is_some() {
                    // Two different public keys verify: the token is not to be believed.
                    return Ok(None);
                }
                verified = Some(material);
            }
            Err(cryptoki::error::Error::Pkcs11(RvError::SignatureInvalid, _)) => {}
            Err(e) => {
                let error = Error::from_cryptoki("verifying to check a public key", e);
                if error.is_session_invalid() {
                    return Err(error);
                }
            }
        }
    }
    Ok(verified.cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::ObjectAttrs;
    use cryptoki::object::ObjectClass;

    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

    fn object(class: ObjectClass, key_type: KeyType, tag: usize) -> ObjectAttrs {
        ObjectAttrs {
            // ObjectHandle has no safe constructor: tests tell objects apart by a tag.
            value_len: Some(tag),
            class: Some(class),
            key_type: Some(key_type),
            label: "k".to_owned(),
            id: vec![1],
            ..ObjectAttrs::default()
        }
    }

    fn rsa(class: ObjectClass, tag: usize, n: u8) -> ObjectAttrs {
        ObjectAttrs {
            modulus: Some(vec![n; 256]),
            public_exponent: Some(vec![1, 0, 1]),
            ..object(class, KeyType::RSA, tag)
        }
    }

    /// A P-256 point `04 || x || y`, DER-wrapped, coordinates filled with `fill`.
    fn point(fill: u8) -> Vec<u8> {
        let mut p = vec![0x04, 0x41, 0x04];
        p.extend([fill; 64]);
        p
    }

    fn ec(class: ObjectClass, tag: usize, fill: Option<u8>) -> ObjectAttrs {
        ObjectAttrs {
            ec_params: Some(P256.to_vec()),
            ec_point: fill.map(point),
            ..object(class, KeyType::EC, tag)
        }
    }

    fn tags(objects: &[ObjectAttrs]) -> Vec<usize> {
        objects.iter().filter_map(|o| o.value_len).collect()
    }

    #[test]
    fn the_private_rsa_modulus_wins_and_a_planted_public_object_is_set_aside() {
        let private = rsa(ObjectClass::PRIVATE_KEY, 1, 0xa1);
        let real = rsa(ObjectClass::PUBLIC_KEY, 2, 0xa1);
        let planted = rsa(ObjectClass::PUBLIC_KEY, 3, 0xee);
        let bound = bind(None, &private, vec![planted, real]).unwrap();
        assert_eq!(bound.public.and_then(|p| p.value_len), Some(2));
        assert_eq!(tags(&bound.mismatched), vec![3]);
        let (material, binding) = bound.material.unwrap();
        assert_eq!(binding, Binding::PrivateAttributes);
        assert!(matches!(material, PublicKeyMaterial::Rsa { n, .. } if n == vec![0xa1; 256]));
        // Only the planted one: still the private modulus, nothing paired.
        let planted = rsa(ObjectClass::PUBLIC_KEY, 3, 0xee);
        let bound = bind(None, &private, vec![planted]).unwrap();
        assert!(bound.public.is_none());
        assert_eq!(tags(&bound.mismatched), vec![3]);
        assert!(matches!(
            bound.material,
            Some((PublicKeyMaterial::Rsa { ref n, .. }, Binding::PrivateAttributes)) if *n == vec![0xa1; 256]
        ));
    }

    #[test]
    fn an_rsa_modulus_without_exponent_still_rules_out_other_moduli() {
        let mut private = rsa(ObjectClass::PRIVATE_KEY, 1, 0xa1);
        private.public_exponent = None;
        let bound = bind(
            None,
            &private,
            vec![
                rsa(ObjectClass::PUBLIC_KEY, 2, 0xee),
                rsa(ObjectClass::PUBLIC_KEY, 3, 0xa1),
            ],
        )
        .unwrap();
        assert_eq!(tags(&bound.mismatched), vec![2]);
        assert_eq!(bound.public.and_then(|p| p.value_len), Some(3));
        // The exponent comes from the public object only: not proven.
        assert!(matches!(bound.material, Some((_, Binding::Unproven))));
    }

    #[test]
    fn an_ec_point_or_spki_on_the_private_object_decides() {
        // A token that puts CKA_EC_POINT on the private object.
        let private = ec(ObjectClass::PRIVATE_KEY, 1, Some(0x11));
        let bound = bind(
            None,
            &private,
            vec![
                ec(ObjectClass::PUBLIC_KEY, 2, Some(0x22)),
                ec(ObjectClass::PUBLIC_KEY, 3, Some(0x11)),
            ],
        )
        .unwrap();
        assert_eq!(bound.public.and_then(|p| p.value_len), Some(3));
        assert_eq!(tags(&bound.mismatched), vec![2]);
        assert!(matches!(
            bound.material,
            Some((PublicKeyMaterial::Ec { ref x, .. }, Binding::PrivateAttributes)) if *x == vec![0x11; 32]
        ));
        // A token that gives a SubjectPublicKeyInfo instead.
        let mut spki = vec![
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
        ];
        spki.extend(P256);
        spki.extend([0x03, 0x42, 0x00, 0x04]);
        spki.extend([0x11; 64]);
        let private = ObjectAttrs {
            public_key_info: Some(spki),
            ..ec(ObjectClass::PRIVATE_KEY, 1, None)
        };
        let bound = bind(
            None,
            &private,
            vec![ec(ObjectClass::PUBLIC_KEY, 2, Some(0x22))],
        )
        .unwrap();
        assert!(bound.public.is_none());
        assert_eq!(tags(&bound.mismatched), vec![2]);
        assert!(matches!(
            bound.material,
            Some((_, Binding::PrivateAttributes))
        ));
    }

    #[test]
    fn without_private_values_one_candidate_is_unproven_and_others_need_the_token() {
        let private = ec(ObjectClass::PRIVATE_KEY, 1, None);
        let bound = bind(
            None,
            &private,
            vec![ec(ObjectClass::PUBLIC_KEY, 2, Some(0x22))],
        )
        .unwrap();
        assert!(matches!(bound.material, Some((_, Binding::Unproven))));
        // Two copies of one public key are one candidate.
        let bound = bind(
            None,
            &private,
            vec![
                ec(ObjectClass::PUBLIC_KEY, 2, Some(0x22)),
                ec(ObjectClass::PUBLIC_KEY, 3, Some(0x22)),
            ],
        )
        .unwrap();
        assert!(matches!(bound.material, Some((_, Binding::Unproven))));
        assert!(bound.mismatched.is_empty());
        // Two different ones and no way to ask the token: no public key, both set aside, the
        // conflict reported.
        let bound = bind(
            None,
            &private,
            vec![
                ec(ObjectClass::PUBLIC_KEY, 2, Some(0x22)),
                ec(ObjectClass::PUBLIC_KEY, 3, Some(0x33)),
            ],
        )
        .unwrap();
        assert!(bound.material.is_none() && bound.public.is_none());
        assert_eq!(tags(&bound.mismatched), vec![2, 3]);
        assert!(
            matches!(&bound.problem, Some(PublicKeyProblem::Conflict(reason)) if reason.starts_with("2 public-key objects")),
            "{:?}",
            bound.problem
        );
        // A candidate of another key type is set aside, not counted.
        let bound = bind(
            None,
            &private,
            vec![
                rsa(ObjectClass::PUBLIC_KEY, 4, 0xee),
                ec(ObjectClass::PUBLIC_KEY, 2, Some(0x22)),
            ],
        )
        .unwrap();
        assert_eq!(tags(&bound.mismatched), vec![4]);
        assert!(matches!(bound.material, Some((_, Binding::Unproven))));
    }

    #[test]
    fn a_malformed_point_is_reported_not_hidden() {
        let private = ec(ObjectClass::PRIVATE_KEY, 1, None);
        let mut broken = ec(ObjectClass::PUBLIC_KEY, 2, None);
        broken.ec_point = Some(vec![0x04, 0x03, 0x04, 0x01, 0x02]);
        let bound = bind(None, &private, vec![broken]).unwrap();
        assert_eq!(bound.public.and_then(|p| p.value_len), Some(2));
        assert!(bound.material.is_none());
        let Some(PublicKeyProblem::Invalid(reason)) = bound.problem else {
            panic!("{:?}", bound.problem);
        };
        assert!(
            reason.starts_with("CKA_EC_POINT: P-256: the OCTET STRING holds 3 bytes"),
            "{reason}"
        );
    }
}
