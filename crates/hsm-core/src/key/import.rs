//! Key import: existing private keys into the token, in the clear or wrapped under a token key.
//!
//! An imported key gets the same hardened attributes as a generated one (see the
//! [generation](super::generate_key_pair) rules): a token object, private, sensitive, not
//! extractable, each usage flag explicit, and the same read-back check (a key that comes out
//! weaker than asked is destroyed, [`Error::WeakGeneratedKey`]). The token marks an imported
//! key neither always-sensitive nor never-extractable: its value existed outside the token.
//!
//! A public-key object is created next to the private one (same `CKA_LABEL` and `CKA_ID`), and
//! before the key is kept the token proves that the two belong together: a key that may sign
//! signs a probe with the private object, and the token verifies it with the public object. A
//! mismatch destroys both objects and is [`Error::PublicKeyMismatch`]. (Parsers above this
//! crate check the private part against the public part in software before calling here; the
//! token check is the last word for signing keys.)
//!
//! * [`import_key_pair`] takes a key's components in the clear ([`PrivateKeyMaterial`], whose
//!   secret parts are zeroized on drop, as is every copy this module makes for the token).
//! * [`unwrap_key_pair`] takes a PKCS#8 `PrivateKeyInfo` encrypted under a token AES key with
//!   `CKM_AES_KEY_WRAP_PAD` (RFC 5649) or `CKM_AES_KEY_WRAP` (RFC 3394), so the clear key never
//!   exists outside the token ([`C_UnwrapKey`](cryptoki::session::Session::unwrap_key)).
//! * [`import_secret_key`] takes an AES or HMAC key's bytes (e.g. a key-encryption key agreed
//!   with the sender of wrapped keys).

use std::fmt;

use cryptoki::context::Function;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use zeroize::{Zeroize, Zeroizing};

use super::binding::{PROBE, probe_mechanism};
use super::generate::{
    Family, Flags, KeyUsage, check_generated, config, ensure_free, hardened_private,
    public_template, refuse, refuses_explicit_flags,
};
use super::{
    Binding, EcCurve, EdCurve, KeyInfo, KeyKind, PublicKeyMaterial, describe_handles, hex,
};
use crate::error::{Error, Result};
use crate::trace::token_call;

/// Secret bytes, wiped when dropped.
pub type Secret = Zeroizing<Vec<u8>>;

/// A private key in the clear, as the token stores it: big-endian integers, raw scalars.
///
/// `Debug` shows the key type and public part only.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrivateKeyMaterial {
    /// An RSA key with its CRT parameters.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
        /// The private exponent.
        d: Secret,
        /// The first prime.
        p: Secret,
        /// The second prime.
        q: Secret,
        /// `d mod (p - 1)`.
        dp: Secret,
        /// `d mod (q - 1)`.
        dq: Secret,
        /// `q^-1 mod p`.
        qi: Secret,
    },
    /// An EC key on a NIST curve.
    Ec {
        /// The curve.
        curve: EcCurve,
        /// The private scalar, [`EcCurve::coordinate_size`] bytes.
        d: Secret,
        /// The public point's x coordinate.
        x: Vec<u8>,
        /// The public point's y coordinate.
        y: Vec<u8>,
    },
    /// An EdDSA key.
    Edwards {
        /// The curve.
        curve: EdCurve,
        /// The private key (RFC 8032's seed), [`EdCurve::point_size`] bytes.
        seed: Secret,
        /// The public key.
        point: Vec<u8>,
    },
}

impl fmt::Debug for PrivateKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyMaterial")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl PrivateKeyMaterial {
    /// The public part.
    pub fn public_key(&self) -> PublicKeyMaterial {
        match self {
            PrivateKeyMaterial::Rsa { n, e, .. } => PublicKeyMaterial::Rsa {
                n: n.clone(),
                e: e.clone(),
            },
            PrivateKeyMaterial::Ec { curve, x, y, .. } => PublicKeyMaterial::Ec {
                curve: *curve,
                x: x.clone(),
                y: y.clone(),
            },
            PrivateKeyMaterial::Edwards { curve, point, .. } => PublicKeyMaterial::Edwards {
                curve: *curve,
                point: point.clone(),
            },
        }
    }

    /// What the key is.
    pub fn kind(&self) -> WrappedKeyKind {
        match self {
            PrivateKeyMaterial::Rsa { .. } => WrappedKeyKind::Rsa,
            PrivateKeyMaterial::Ec { curve, .. } => WrappedKeyKind::Ec(*curve),
            PrivateKeyMaterial::Edwards { curve, .. } => WrappedKeyKind::Edwards(*curve),
        }
    }

    /// The private object's key-specific attributes (secret values included).
    fn private_attributes(&self) -> Vec<Attribute> {
        match self {
            PrivateKeyMaterial::Rsa {
                n,
                e,
                d,
                p,
                q,
                dp,
                dq,
                qi,
            } => vec![
                Attribute::Modulus(n.clone()),
                Attribute::PublicExponent(e.clone()),
                Attribute::PrivateExponent(d.to_vec()),
                Attribute::Prime1(p.to_vec()),
                Attribute::Prime2(q.to_vec()),
                Attribute::Exponent1(dp.to_vec()),
                Attribute::Exponent2(dq.to_vec()),
                Attribute::Coefficient(qi.to_vec()),
            ],
            PrivateKeyMaterial::Ec { curve, d, .. } => vec![
                Attribute::EcParams(curve.ec_params().to_vec()),
                Attribute::Value(d.to_vec()),
            ],
            PrivateKeyMaterial::Edwards { curve, seed, .. } => vec![
                Attribute::EcParams(curve.ec_params().to_vec()),
                Attribute::Value(seed.to_vec()),
            ],
        }
    }

    fn check_lengths(&self) -> Result<()> {
        let ok = match self {
            PrivateKeyMaterial::Rsa { n, e, d, .. } => {
                !n.is_empty() && !e.is_empty() && !d.is_empty()
            }
            PrivateKeyMaterial::Ec { curve, d, x, y } => {
                let size = curve.coordinate_size();
                d.len() == size && x.len() == size && y.len() == size
            }
            PrivateKeyMaterial::Edwards { curve, seed, point } => {
                seed.len() == curve.point_size() && point.len() == curve.point_size()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(config(
                "the key's components do not have the key type's lengths",
            ))
        }
    }
}

/// The kind of a key pair to import: what a wrapped key is (the token reads the rest from the
/// PKCS#8 structure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WrappedKeyKind {
    /// RSA (`CKK_RSA`).
    Rsa,
    /// EC on a NIST curve (`CKK_EC`).
    Ec(EcCurve),
    /// EdDSA (`CKK_EC_EDWARDS`).
    Edwards(EdCurve),
}

impl WrappedKeyKind {
    fn key_type(self) -> KeyType {
        match self {
            WrappedKeyKind::Rsa => KeyType::RSA,
            WrappedKeyKind::Ec(_) => KeyType::EC,
            WrappedKeyKind::Edwards(_) => KeyType::EC_EDWARDS,
        }
    }

    fn family(self) -> Family {
        match self {
            WrappedKeyKind::Rsa => Family::Rsa,
            WrappedKeyKind::Ec(_) | WrappedKeyKind::Edwards(_) => Family::Curve,
        }
    }

    /// Usages the kind allows; refuses others before any token call.
    fn check_usage(self, usage: KeyUsage) -> Result<()> {
        match self {
            WrappedKeyKind::Rsa => refuse(
                usage,
                KeyUsage::SIGN | KeyUsage::ENCRYPT | KeyUsage::WRAP,
                "RSA",
            ),
            WrappedKeyKind::Ec(_) => refuse(usage, KeyUsage::SIGN | KeyUsage::DERIVE, "EC"),
            WrappedKeyKind::Edwards(_) => refuse(usage, KeyUsage::SIGN, "EdDSA"),
        }
    }

    fn matches(self, kind: KeyKind) -> bool {
        match (self, kind) {
            (WrappedKeyKind::Rsa, KeyKind::Rsa { .. }) => true,
            (WrappedKeyKind::Ec(a), KeyKind::Ec(b)) => a == b,
            (WrappedKeyKind::Edwards(a), KeyKind::Edwards(b)) => a == b,
            _ => false,
        }
    }
}

/// How a wrapped key was encrypted under the token's AES key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnwrapMechanism {
    /// `CKM_AES_KEY_WRAP_PAD`, RFC 5649 (any length; what a PKCS#8 structure needs).
    AesKeyWrapPad,
    /// `CKM_AES_KEY_WRAP`, RFC 3394 (the wrapped data must be a multiple of 8 bytes).
    AesKeyWrap,
}

impl UnwrapMechanism {
    fn mechanism(self) -> Mechanism<'static> {
        match self {
            UnwrapMechanism::AesKeyWrapPad => Mechanism::AesKeyWrapPad,
            UnwrapMechanism::AesKeyWrap => Mechanism::AesKeyWrap,
        }
    }
}

/// Wipes the secret values a template copied.
fn wipe(template: &mut [Attribute]) {
    for attribute in template {
        match attribute {
            Attribute::Value(v)
            | Attribute::PrivateExponent(v)
            | Attribute::Prime1(v)
            | Attribute::Prime2(v)
            | Attribute::Exponent1(v)
            | Attribute::Exponent2(v)
            | Attribute::Coefficient(v) => v.zeroize(),
            _ => {}
        }
    }
}

/// A DER OCTET STRING holding `content` (`CKA_EC_POINT` is one).
fn octet_string(content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 4);
    out.push(0x04);
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        Ok(long) => out.extend_from_slice(&[0x81, long]),
        // Points are at most 133 bytes (P-521); two length bytes cover every curve.
        Err(_) => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// The public-key object's key-specific attributes.
fn public_attributes(public: &PublicKeyMaterial) -> Vec<Attribute> {
    match public {
        PublicKeyMaterial::Rsa { n, e } => vec![
            Attribute::KeyType(KeyType::RSA),
            Attribute::Modulus(n.clone()),
            Attribute::PublicExponent(e.clone()),
        ],
        PublicKeyMaterial::Ec { curve, x, y } => {
            let mut point = Vec::with_capacity(1 + x.len() + y.len());
            point.push(0x04);
            point.extend_from_slice(x);
            point.extend_from_slice(y);
            vec![
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(curve.ec_params().to_vec()),
                Attribute::EcPoint(octet_string(&point)),
            ]
        }
        PublicKeyMaterial::Edwards { curve, point } => vec![
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::EcParams(curve.ec_params().to_vec()),
            Attribute::EcPoint(octet_string(point)),
        ],
    }
}

/// Creates an object with the hardened template plus `extra`, once more without explicit
/// `false` usage flags if the token refuses them (as generation does).
fn create(
    session: &Session,
    template: impl Fn(Flags) -> Vec<Attribute>,
    context: &'static str,
) -> Result<ObjectHandle> {
    let attempt = |flags: Flags| {
        let mut attributes = template(flags);
        let result = token_call(Function::CreateObject, None, || {
            session.create_object(&attributes)
        });
        wipe(&mut attributes);
        result
    };
    match attempt(Flags::Explicit) {
        Ok(handle) => Ok(handle),
        Err(first) if refuses_explicit_flags(&first) => {
            attempt(Flags::TokenDerived).map_err(|_| Error::from_cryptoki(context, first))
        }
        Err(first) => Err(Error::from_cryptoki(context, first)),
    }
}

/// Destroys the objects of a key that is not kept; true when all are gone.
fn destroy(session: &Session, handles: &[ObjectHandle]) -> bool {
    let mut deleted = true;
    for &handle in handles {
        deleted &= token_call(Function::DestroyObject, None, || {
            session.destroy_object(handle)
        })
        .is_ok();
    }
    deleted
}

/// Imports a private key and its public key into the token as a hardened key pair.
///
/// The key's label and id must be free on the token. `usage` must suit the key (RSA: sign,
/// encrypt, wrap; EC: sign, derive; EdDSA: sign).
///
/// # Errors
/// [`Error::Config`] for an unsuitable usage, a taken label or id, or components of the wrong
/// length; [`Error::WeakGeneratedKey`] when the token stored the key weaker than asked;
/// [`Error::PublicKeyMismatch`] when the token does not verify the private key's signature
/// with the public key (both objects are destroyed); token errors from `C_CreateObject`.
pub fn import_key_pair(
    session: &Session,
    key: &PrivateKeyMaterial,
    label: &str,
    id: &[u8],
    usage: KeyUsage,
) -> Result<KeyInfo> {
    let kind = key.kind();
    kind.check_usage(usage)?;
    key.check_lengths()?;
    ensure_free(session, label, id)?;
    let private = create(
        session,
        |flags| {
            let mut template = vec![
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(kind.key_type()),
            ];
            template.extend(hardened_private(label, id, usage, flags));
            template.extend(key.private_attributes());
            template
        },
        "importing a private key",
    )?;
    finish_pair(
        session,
        private,
        &key.public_key(),
        kind,
        (label, id, usage),
    )
}

/// Creates the public object next to an imported private object, checks both and proves that
/// they belong together; destroys both on any failure.
fn finish_pair(
    session: &Session,
    private: ObjectHandle,
    public_key: &PublicKeyMaterial,
    kind: WrappedKeyKind,
    (label, id, usage): (&str, &[u8], KeyUsage),
) -> Result<KeyInfo> {
    let public = match create(
        session,
        |flags| {
            let mut template = vec![Attribute::Class(ObjectClass::PUBLIC_KEY)];
            template.extend(public_template(label, id, usage, flags));
            template.extend(public_attributes(public_key));
            template
        },
        "importing a public key",
    ) {
        Ok(handle) => handle,
        Err(error) => {
            destroy(session, &[private]);
            return Err(error);
        }
    };
    let handles = [private, public];
    check_generated(session, &handles, usage, kind.family(), label, id)?;
    let checked = describe_handles(session, &handles).and_then(|info| {
        if !kind.matches(info.kind) {
            return Err(config(format!(
                "the token stored the imported key as {:?}, not {kind:?}",
                info.kind
            )));
        }
        let mut info = info;
        if usage.sign {
            prove(session, private, public, public_key, label, id)?;
            // The token has just verified the private key's signature with the public key.
            if info.public_binding == Some(Binding::Unproven) {
                info.public_binding = Some(Binding::TokenVerified);
            }
        }
        Ok(info)
    });
    if checked.is_err() {
        destroy(session, &handles);
    }
    checked
}

/// Signs a probe with the private object and verifies it with the public object.
fn prove(
    session: &Session,
    private: ObjectHandle,
    public: ObjectHandle,
    public_key: &PublicKeyMaterial,
    label: &str,
    id: &[u8],
) -> Result<()> {
    let mechanism = probe_mechanism(public_key);
    let signature = token_call(Function::Sign, Some(mechanism.mechanism_type()), || {
        session.sign(&mechanism, private, PROBE)
    })
    .map_err(|e| Error::from_cryptoki("signing to check an imported key", e))?;
    match token_call(Function::Verify, Some(mechanism.mechanism_type()), || {
        session.verify(&mechanism, public, PROBE, &signature)
    }) {
        Ok(()) => Ok(()),
        Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::SignatureInvalid, _)) => {
            Err(Error::PublicKeyMismatch {
                key: format!("label {label:?}, id {}", hex(id)),
                reason: "the imported private key's signature does not verify with the \
                         imported public key"
                    .to_owned(),
            })
        }
        Err(e) => Err(Error::from_cryptoki(
            "verifying to check an imported key",
            e,
        )),
    }
}

/// Imports a key pair whose private key arrives as a PKCS#8 `PrivateKeyInfo` encrypted under
/// the token's AES key `unwrapping_key` (an object with `CKA_UNWRAP`), so the clear key is
/// only ever inside the token.
///
/// The public-key object is made from `public_key` when given; an RSA key may leave it `None`
/// (the token's private object carries its modulus and exponent); EC and EdDSA keys need it.
/// The private object gets the hardened template, and the pair the checks, of
/// [`import_key_pair`].
///
/// # Errors
/// As [`import_key_pair`]; [`Error::Config`] when an EC or EdDSA key comes without its public
/// key or the token stored another kind of key than `kind`; token errors from `C_UnwrapKey`
/// (e.g. `CKR_WRAPPED_KEY_INVALID`, `CKR_UNWRAPPING_KEY_HANDLE_INVALID`,
/// `CKR_MECHANISM_INVALID` for a token without the mechanism).
#[allow(clippy::too_many_arguments)]
pub fn unwrap_key_pair(
    session: &Session,
    unwrapping_key: ObjectHandle,
    mechanism: UnwrapMechanism,
    wrapped: &[u8],
    kind: WrappedKeyKind,
    public_key: Option<&PublicKeyMaterial>,
    label: &str,
    id: &[u8],
    usage: KeyUsage,
) -> Result<KeyInfo> {
    kind.check_usage(usage)?;
    if public_key.is_none() && kind != WrappedKeyKind::Rsa {
        return Err(config(
            "an EC or EdDSA key unwrapped into the token needs its public key",
        ));
    }
    ensure_free(session, label, id)?;
    let context = "unwrapping a private key";
    let attempt = |flags: Flags| {
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(kind.key_type()),
        ];
        template.extend(hardened_private(label, id, usage, flags));
        let mechanism = mechanism.mechanism();
        token_call(
            Function::UnwrapKey,
            Some(mechanism.mechanism_type()),
            || session.unwrap_key(&mechanism, unwrapping_key, wrapped, &template),
        )
    };
    let private = match attempt(Flags::Explicit) {
        Ok(handle) => handle,
        Err(first) if refuses_explicit_flags(&first) => {
            attempt(Flags::TokenDerived).map_err(|_| Error::from_cryptoki(context, first))?
        }
        Err(first) => return Err(Error::from_cryptoki(context, first)),
    };
    let public_key = match public_key {
        Some(given) => given.clone(),
        None => match describe_handles(session, &[private]).map(|info| info.public_key) {
            Ok(Some(from_private)) => from_private,
            Ok(None) => {
                destroy(session, &[private]);
                return Err(config(
                    "the token gives no public key for the unwrapped private key",
                ));
            }
            Err(error) => {
                destroy(session, &[private]);
                return Err(error);
            }
        },
    };
    finish_pair(session, private, &public_key, kind, (label, id, usage))
}

/// What kind of secret key [`import_secret_key`] creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// AES (16, 24 or 32 bytes).
    Aes,
    /// A generic secret for HMAC (16 to 512 bytes).
    Hmac,
}

/// Imports a secret key's bytes as a hardened secret-key object (as
/// [`generate_secret_key`](super::generate_secret_key) makes them).
///
/// # Errors
/// [`Error::Config`] for a wrong length or usage or a taken label or id;
/// [`Error::WeakGeneratedKey`] as for generation; token errors from `C_CreateObject`.
pub fn import_secret_key(
    session: &Session,
    kind: SecretKind,
    value: &[u8],
    label: &str,
    id: &[u8],
    usage: KeyUsage,
) -> Result<KeyInfo> {
    let key_type = match kind {
        SecretKind::Aes => {
            if ![16, 24, 32].contains(&value.len()) {
                return Err(config(format!(
                    "AES keys have 16, 24 or 32 bytes (given: {})",
                    value.len()
                )));
            }
            refuse(
                usage,
                KeyUsage::ENCRYPT | KeyUsage::WRAP | KeyUsage::SIGN | KeyUsage::DERIVE,
                "AES",
            )?;
            KeyType::AES
        }
        SecretKind::Hmac => {
            if !(16..=512).contains(&value.len()) {
                return Err(config(format!(
                    "HMAC keys have 16 to 512 bytes (given: {})",
                    value.len()
                )));
            }
            refuse(usage, KeyUsage::SIGN | KeyUsage::DERIVE, "HMAC")?;
            KeyType::GENERIC_SECRET
        }
    };
    ensure_free(session, label, id)?;
    let handle = create(
        session,
        |flags| {
            let mut template = vec![
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(key_type),
                Attribute::Value(value.to_vec()),
            ];
            // The hardened private-key template names the private-side usages; a secret key
            // gets both sides of each.
            template.extend(hardened_private(label, id, usage, flags));
            for (make, asked) in [
                (Attribute::Verify as fn(bool) -> Attribute, usage.sign),
                (Attribute::Encrypt, usage.encrypt),
                (Attribute::Wrap, usage.wrap),
            ] {
                if asked || flags == Flags::Explicit {
                    template.push(make(asked));
                }
            }
            template
        },
        "importing a secret key",
    )?;
    check_generated(session, &[handle], usage, Family::Secret, label, id)?;
    describe_handles(session, &[handle])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_strings_of_every_point_size() {
        assert_eq!(octet_string(&[1, 2]), vec![0x04, 0x02, 1, 2]);
        let p256 = octet_string(&[0; 65]);
        assert_eq!(&p256[..2], &[0x04, 0x41]);
        let p521 = octet_string(&[0; 133]);
        assert_eq!(&p521[..3], &[0x04, 0x81, 0x85]);
        assert_eq!(p521.len(), 136);
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = PrivateKeyMaterial::Edwards {
            curve: EdCurve::Ed25519,
            seed: Zeroizing::new(vec![0xAB; 32]),
            point: vec![1; 32],
        };
        let shown = format!("{key:?}");
        assert!(!shown.contains("171"), "{shown}");
        assert!(shown.contains("Edwards"), "{shown}");
    }

    #[test]
    fn wrong_lengths_and_usages_are_refused_before_the_token() {
        let key = PrivateKeyMaterial::Ec {
            curve: EcCurve::P256,
            d: Zeroizing::new(vec![1; 31]),
            x: vec![0; 32],
            y: vec![0; 32],
        };
        assert!(matches!(key.check_lengths(), Err(Error::Config { .. })));
        assert!(matches!(
            WrappedKeyKind::Edwards(EdCurve::Ed25519).check_usage(KeyUsage::ENCRYPT),
            Err(Error::Config { .. })
        ));
    }
}
