//! Keys on the token: finding them, describing them, generating, importing and deleting them.
//!
//! A key is one PKCS#11 secret-key object, or a private-key object and its public-key object,
//! or a lone public key. [`find_key`] resolves a [`KeySelector`] to exactly one key with one
//! `C_FindObjects` search and one attribute read per object, without trying key types one
//! after the other; [`list_keys`] describes every key.
//!
//! Equal `CKA_ID` and `CKA_LABEL` only make a public object a *candidate* for a private key's
//! public key: anyone may create public objects without logging in. The public key is taken
//! from the private object's own public values where the token gives them, a candidate is
//! paired only if it carries the same key, and where nothing can be compared the key says so
//! ([`Binding`]; the rules are in [`Binding`]'s module). Public objects that fail the check are
//! listed in [`KeyInfo::mismatched_public`] and never used.
//!
//! The description, [`KeyInfo`], says what the key is ([`KeyKind`]), what it may do
//! ([`Capabilities`]), how it is protected ([`Protection`], [`KeyInfo::is_extractable`]) and,
//! for key pairs, its public key ([`PublicKeyMaterial`], big-endian bytes ready for a JWK) and
//! how that is bound to the private key ([`KeyInfo::public_binding`]). Secret values
//! (`CKA_VALUE`, `CKA_PRIVATE_EXPONENT`, ...) are never requested.
//!
//! ```no_run
//! use hsm_core::key::{find_key, KeyKind, KeySelector, PublicKeyMaterial};
//! use hsm_core::SessionPool;
//!
//! # fn main() -> hsm_core::Result<()> {
//! let pool = SessionPool::from_env()?;
//! let session = pool.session()?;
//! let key = find_key(&session, &KeySelector::label("ec-p256"))?;
//! assert!(matches!(key.kind, KeyKind::Ec(_)));
//! if let Some(PublicKeyMaterial::Ec { curve, x, y }) = &key.public_key {
//!     println!("{}: x={} bytes, y={} bytes", curve.jwk_name(), x.len(), y.len());
//! }
//! # Ok(())
//! # }
//! ```

mod binding;
mod cert;
mod curve;
mod generate;
mod import;
mod repair;

use std::fmt;

use cryptoki::context::Function;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

pub use binding::{Binding, PublicKeyProblem, prove_public_key};
pub use cert::{
    CertificateObject, MAX_CHAIN, StoredCertificate, certificate_chain, certificates_of_key,
    delete_certificates, key_certificates, store_certificate,
};
pub use curve::{EcCurve, EdCurve};
pub use generate::{
    KeySpec, KeyUsage, SecretSpec, delete_key, delete_key_by,
    generate_edwards_key_pair_with_params, generate_key_pair, generate_secret_key,
};
pub use import::{
    PrivateKeyMaterial, Secret, SecretKind, UnwrapMechanism, WrappedKeyKind, import_key_pair,
    import_secret_key, unwrap_key_pair,
};
pub use repair::{EcPointRepair, ec_point_needs_repair, repair_ec_point};

use crate::error::{Error, Result};
use crate::trace::token_call;
use crate::uri::{ObjectType, Pkcs11Uri};

/// Which kind of key object a selector accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyClass {
    /// Keys with a private-key object (`CKO_PRIVATE_KEY`).
    Private,
    /// Keys with a public-key object (`CKO_PUBLIC_KEY`).
    Public,
    /// Secret keys (`CKO_SECRET_KEY`).
    Secret,
}

/// What [`find_key`] looks for: a label, an id, or both, optionally only one class of key.
///
/// ```
/// use hsm_core::key::{KeyClass, KeySelector};
///
/// let by_label = KeySelector::label("rsa-2048");
/// let by_both = KeySelector::label_and_id("rsa-2048", [0x01, 0x00]).with_class(KeyClass::Private);
/// assert_eq!(by_both.to_string(), "label \"rsa-2048\", id 0100, private key");
/// # let _ = by_label;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeySelector {
    label: Option<String>,
    id: Option<Vec<u8>>,
    class: Option<KeyClass>,
}

impl KeySelector {
    /// Keys whose `CKA_LABEL` is `label`.
    pub fn label(label: impl Into<String>) -> Self {
        KeySelector {
            label: Some(label.into()),
            ..Self::default()
        }
    }

    /// Keys whose `CKA_ID` is `id`.
    pub fn id(id: impl Into<Vec<u8>>) -> Self {
        KeySelector {
            id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Keys with both this label and this id.
    pub fn label_and_id(label: impl Into<String>, id: impl Into<Vec<u8>>) -> Self {
        KeySelector {
            label: Some(label.into()),
            id: Some(id.into()),
            class: None,
        }
    }

    /// The key named by a `pkcs11:` URI's `object`, `id` and `type` attributes.
    ///
    /// # Errors
    /// [`Error::InvalidUri`] when the URI names no key (neither `object` nor `id`), or names a
    /// certificate or data object.
    pub fn from_uri(uri: &Pkcs11Uri) -> Result<Self> {
        let class = match uri.object_type() {
            None => None,
            Some(ObjectType::Private) => Some(KeyClass::Private),
            Some(ObjectType::Public) => Some(KeyClass::Public),
            Some(ObjectType::SecretKey) => Some(KeyClass::Secret),
            Some(other) => {
                return Err(Error::InvalidUri {
                    reason: format!("type={other} names no key"),
                });
            }
        };
        if uri.object().is_none() && uri.id().is_none() {
            return Err(Error::InvalidUri {
                reason: "the URI names no key: it needs an object= or id= attribute".to_owned(),
            });
        }
        Ok(KeySelector {
            label: uri.object().map(str::to_owned),
            id: uri.id().map(<[u8]>::to_vec),
            class,
        })
    }

    /// Only keys of this class.
    pub fn with_class(mut self, class: KeyClass) -> Self {
        self.class = Some(class);
        self
    }

    /// The label looked for, if any.
    pub fn label_value(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The id looked for, if any.
    pub fn id_value(&self) -> Option<&[u8]> {
        self.id.as_deref()
    }

    /// The class filter, if any.
    pub fn class(&self) -> Option<KeyClass> {
        self.class
    }

    fn template(&self) -> Vec<Attribute> {
        let mut template = Vec::with_capacity(2);
        if let Some(label) = &self.label {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &self.id {
            template.push(Attribute::Id(id.clone()));
        }
        template
    }
}

impl fmt::Display for KeySelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(label) = &self.label {
            parts.push(format!("label {label:?}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id {}", hex(id)));
        }
        if let Some(class) = self.class {
            parts.push(
                match class {
                    KeyClass::Private => "private key",
                    KeyClass::Public => "public key",
                    KeyClass::Secret => "secret key",
                }
                .to_owned(),
            );
        }
        if parts.is_empty() {
            f.write_str("any key")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// What a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// An RSA key of this modulus size.
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// An ECDSA/ECDH key on a NIST curve.
    Ec(EcCurve),
    /// An EdDSA key (`CKK_EC_EDWARDS`), whichever form its `CKA_EC_PARAMS` takes.
    Edwards(EdCurve),
    /// An AES key of this many bytes.
    Aes {
        /// Key length in bytes (16, 24 or 32).
        bytes: usize,
    },
    /// A generic secret (`CKK_GENERIC_SECRET` or `CKK_SHA*_HMAC`), used for HMAC.
    GenericSecret {
        /// Key length in bytes.
        bytes: usize,
    },
    /// A key this crate does not describe further (another key type or curve).
    Unsupported {
        /// The `CKK_` key type, and the curve parameters where that is what is unknown.
        key_type: &'static str,
    },
}

/// The operations a key's objects allow (`CKA_SIGN`, `CKA_VERIFY`, ...), from all its objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// `CKA_SIGN` (private or secret key).
    pub sign: bool,
    /// `CKA_VERIFY` (public or secret key).
    pub verify: bool,
    /// `CKA_ENCRYPT` (public or secret key).
    pub encrypt: bool,
    /// `CKA_DECRYPT` (private or secret key).
    pub decrypt: bool,
    /// `CKA_WRAP` (public or secret key).
    pub wrap: bool,
    /// `CKA_UNWRAP` (private or secret key).
    pub unwrap: bool,
    /// `CKA_DERIVE` (any key object).
    pub derive: bool,
}

/// How the key's secret part is protected. Read from the private-key or secret-key object; a
/// lone public key reports all `false`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Protection {
    /// `CKA_SENSITIVE`: the secret value cannot be read in the clear.
    pub sensitive: bool,
    /// `CKA_EXTRACTABLE`: the key can be wrapped out of the token.
    pub extractable: bool,
    /// `CKA_ALWAYS_SENSITIVE`: the key has been sensitive since it was created.
    pub always_sensitive: bool,
    /// `CKA_NEVER_EXTRACTABLE`: the key has never been extractable.
    pub never_extractable: bool,
    /// `CKA_PRIVATE`: the object is visible only after login.
    pub private: bool,
    /// `CKA_ALWAYS_AUTHENTICATE`: every operation with the key needs the PIN again
    /// (context-specific login after the operation's init).
    pub always_authenticate: bool,
}

/// A public key, as big-endian byte strings ready for a JWK.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PublicKeyMaterial {
    /// RSA modulus and public exponent, without leading zero bytes (JWK `n`, `e`).
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// An EC point (JWK `x`, `y`), each exactly [`EcCurve::coordinate_size`] bytes.
    Ec {
        /// The curve.
        curve: EcCurve,
        /// The x coordinate.
        x: Vec<u8>,
        /// The y coordinate.
        y: Vec<u8>,
    },
    /// An EdDSA public key (JWK `x`), [`EdCurve::point_size`] bytes.
    Edwards {
        /// The curve.
        curve: EdCurve,
        /// The encoded point.
        point: Vec<u8>,
    },
}

/// One key on the token, as [`find_key`] and [`list_keys`] describe it.
///
/// The object handles are valid in the sessions of the module instance that found them, until
/// the key is deleted or, for private objects, until the user logs out (tokens may renumber
/// private objects at the next login: see [`PoolKey`](crate::PoolKey), which looks them up
/// again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// `CKA_LABEL` (of the private or secret object when there is one).
    pub label: String,
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// What the key is.
    pub kind: KeyKind,
    /// The private-key object, for key pairs.
    pub private: Option<ObjectHandle>,
    /// The public-key object: for a key pair, the one paired with the private key because it
    /// carries the key's public key (see [`public_binding`](Self::public_binding)); public
    /// objects that carry another key are in [`mismatched_public`](Self::mismatched_public)
    /// instead.
    pub public: Option<ObjectHandle>,
    /// The secret-key object, for secret keys.
    pub secret: Option<ObjectHandle>,
    /// What the key may do (from its private, paired public and secret objects; never from a
    /// mismatched public object).
    pub capabilities: Capabilities,
    /// How the secret part is protected.
    pub protection: Protection,
    /// The public key, big-endian, ready for a JWK. For a key pair it is the private object's
    /// own public values where the token gives them (RSA `CKA_MODULUS`/`CKA_PUBLIC_EXPONENT`;
    /// `CKA_EC_POINT` or `CKA_PUBLIC_KEY_INFO` on EC/EdDSA private objects of some tokens),
    /// else the paired public object's; see [`public_binding`](Self::public_binding) for how
    /// far it is proven. `None` when no public value is known (a lone EC private key on
    /// SoftHSM) or none can be used (see [`public_key_problem`](Self::public_key_problem)).
    pub public_key: Option<PublicKeyMaterial>,
    /// For a key pair with a public key: how that public key is known to belong to the private
    /// key. [`Binding::Unproven`] means nothing proves it yet: sign (or derive) once with the
    /// private key and check the result with the public key before publishing or using it
    /// ([`prove_public_key`] does it on the token for keys that sign).
    /// `None` for secret keys, lone public keys and pairs without a public key.
    pub public_binding: Option<Binding>,
    /// Public-key objects that carry this key's label and id but not its public key (another
    /// key type, another modulus or point, or a value that cannot be read): possibly planted
    /// (public objects can be created without login). They are never used and never make the
    /// lookup ambiguous; a caller may warn about them.
    pub mismatched_public: Vec<ObjectHandle>,
    /// Why [`public_key`](Self::public_key) is `None` although the token holds public values
    /// for the key: a value that cannot be read (e.g. a malformed `CKA_EC_POINT`), or public
    /// objects with different keys that nothing tells apart. The key's private or secret
    /// object stays usable; [`require_public_key`](Self::require_public_key) turns this into
    /// the typed error.
    pub public_key_problem: Option<PublicKeyProblem>,
    /// Objects of other keys that matched the [`find_key`] selector too but that anyone can
    /// create without login (lone public keys, key objects with `CKA_PRIVATE` false), set aside
    /// because this key's private or secret object is `CKA_PRIVATE`. Without this rule a
    /// planted object would make the lookup ambiguous; a caller may warn about them. Always
    /// empty from [`list_keys`], which lists such objects as keys of their own.
    pub unprotected_duplicates: Vec<ObjectHandle>,
}

impl KeyInfo {
    /// The handle that signs or decrypts: the private object, else the secret object.
    pub fn private_or_secret(&self) -> Option<ObjectHandle> {
        self.private.or(self.secret)
    }

    /// True when the key's private or secret object has `CKA_EXTRACTABLE` set: it can be
    /// wrapped out of the token, so it is only as safe as every key that may wrap it. Keys
    /// this crate generates never are; a caller should warn before using one.
    pub fn is_extractable(&self) -> bool {
        self.private_or_secret().is_some() && self.protection.extractable
    }

    /// True when the public key is proven to belong to the private key (see [`Binding`]).
    pub fn public_key_is_proven(&self) -> bool {
        self.public_binding.is_some_and(Binding::is_proven)
    }

    /// The selector that finds exactly this key again: its label and id, and its class
    /// (private for key pairs, secret, or public for a lone public key).
    pub fn selector(&self) -> KeySelector {
        let class = if self.private.is_some() {
            KeyClass::Private
        } else if self.secret.is_some() {
            KeyClass::Secret
        } else {
            KeyClass::Public
        };
        KeySelector::label_and_id(self.label.clone(), self.id.clone()).with_class(class)
    }

    /// The public key, or an error that says why there is none.
    ///
    /// # Errors
    /// [`Error::PublicKeyMismatch`] when public objects with different keys claim the key and
    /// nothing tells which is its own; [`Error::InvalidPublicKey`] when the token revealed a
    /// public value that cannot be read (the reason says what is wrong), or when it reveals none
    /// (a secret key, or an EC private key without a public object).
    pub fn require_public_key(&self) -> Result<&PublicKeyMaterial> {
        match (&self.public_key, &self.public_key_problem) {
            (Some(material), _) => Ok(material),
            (None, Some(PublicKeyProblem::Conflict(reason))) => Err(Error::PublicKeyMismatch {
                key: self.name(),
                reason: reason.clone(),
            }),
            (None, Some(PublicKeyProblem::Invalid(reason))) => Err(Error::InvalidPublicKey {
                key: self.name(),
                reason: reason.clone(),
            }),
            (None, None) => Err(Error::InvalidPublicKey {
                key: self.name(),
                reason: if self.secret.is_some() {
                    "a secret key has no public key".to_owned()
                } else {
                    "the token holds no public key for it (no public-key object, and the \
                     private-key object carries no public value)"
                        .to_owned()
                },
            }),
        }
    }

    /// The key's label and id, for messages.
    pub fn name(&self) -> String {
        format!("label {:?}, id {}", self.label, hex(&self.id))
    }
}

/// The attributes read from every candidate object, in one `C_GetAttributeValue` round.
/// Never a secret value.
const READ: &[AttributeType] = &[
    AttributeType::Class,
    AttributeType::KeyType,
    AttributeType::Label,
    AttributeType::Id,
    AttributeType::Sign,
    AttributeType::Verify,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Wrap,
    AttributeType::Unwrap,
    AttributeType::Derive,
    AttributeType::Sensitive,
    AttributeType::Extractable,
    AttributeType::AlwaysSensitive,
    AttributeType::NeverExtractable,
    AttributeType::Modulus,
    AttributeType::PublicExponent,
    AttributeType::EcParams,
    AttributeType::EcPoint,
    AttributeType::PublicKeyInfo,
    AttributeType::Private,
    AttributeType::AlwaysAuthenticate,
    AttributeType::ValueLen,
];

/// One object's attributes, as read.
#[derive(Debug, Default)]
struct ObjectAttrs {
    handle: Option<ObjectHandle>,
    class: Option<ObjectClass>,
    key_type: Option<KeyType>,
    label: String,
    id: Vec<u8>,
    capabilities: Capabilities,
    protection: Protection,
    modulus: Option<Vec<u8>>,
    public_exponent: Option<Vec<u8>>,
    ec_params: Option<Vec<u8>>,
    ec_point: Option<Vec<u8>>,
    public_key_info: Option<Vec<u8>>,
    value_len: Option<usize>,
}

fn read_object(session: &Session, handle: ObjectHandle) -> Result<ObjectAttrs> {
    let attributes = token_call(Function::GetAttributeValue, None, || {
        session.get_attributes(handle, READ)
    })
    .map_err(|e| Error::from_cryptoki("reading key attributes", e))?;
    let mut o = ObjectAttrs {
        handle: Some(handle),
        ..ObjectAttrs::default()
    };
    for attribute in attributes {
        match attribute {
            Attribute::Class(c) => o.class = Some(c),
            Attribute::KeyType(t) => o.key_type = Some(t),
            Attribute::Label(l) => o.label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Id(id) => o.id = id,
            Attribute::Sign(b) => o.capabilities.sign = b,
            Attribute::Verify(b) => o.capabilities.verify = b,
            Attribute::Encrypt(b) => o.capabilities.encrypt = b,
            Attribute::Decrypt(b) => o.capabilities.decrypt = b,
            Attribute::Wrap(b) => o.capabilities.wrap = b,
            Attribute::Unwrap(b) => o.capabilities.unwrap = b,
            Attribute::Derive(b) => o.capabilities.derive = b,
            Attribute::Sensitive(b) => o.protection.sensitive = b,
            Attribute::Extractable(b) => o.protection.extractable = b,
            Attribute::AlwaysSensitive(b) => o.protection.always_sensitive = b,
            Attribute::NeverExtractable(b) => o.protection.never_extractable = b,
            Attribute::Modulus(n) => o.modulus = Some(n),
            Attribute::PublicExponent(e) => o.public_exponent = Some(e),
            Attribute::EcParams(p) => o.ec_params = Some(p),
            Attribute::EcPoint(p) => o.ec_point = Some(p),
            Attribute::PublicKeyInfo(p) => o.public_key_info = Some(p),
            Attribute::Private(b) => o.protection.private = b,
            Attribute::AlwaysAuthenticate(b) => o.protection.always_authenticate = b,
            Attribute::ValueLen(len) => o.value_len = Some(usize::from(len)),
            _ => {}
        }
    }
    Ok(o)
}

/// The objects of one key, before the public key is bound.
#[derive(Debug, Default)]
struct Group {
    private: Option<ObjectAttrs>,
    public: Option<ObjectAttrs>,
    secret: Option<ObjectAttrs>,
    /// For a private key: the public objects with its `CKA_ID` and `CKA_LABEL`, each of which
    /// claims to be its public key until [`binding::bind`] decides.
    candidates: Vec<ObjectAttrs>,
}

/// A key whose public key has been bound ([`binding`]), ready to describe.
#[derive(Debug)]
struct BoundGroup {
    private: Option<ObjectAttrs>,
    public: Option<ObjectAttrs>,
    secret: Option<ObjectAttrs>,
    material: Option<(PublicKeyMaterial, Binding)>,
    mismatched: Vec<ObjectHandle>,
    problem: Option<PublicKeyProblem>,
}

/// Groups key objects into keys: each secret key alone; each private key with every public
/// key object of the same `CKA_ID` and `CKA_LABEL` as candidates (preferring a private key of
/// the same key type when several share the label and id); the remaining public keys alone.
/// Objects of other classes are dropped.
fn group(objects: Vec<ObjectAttrs>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut publics = Vec::new();
    for object in objects {
        match object.class {
            Some(ObjectClass::SECRET_KEY) => groups.push(Group {
                secret: Some(object),
                ..Group::default()
            }),
            Some(ObjectClass::PRIVATE_KEY) => groups.push(Group {
                private: Some(object),
                ..Group::default()
            }),
            Some(ObjectClass::PUBLIC_KEY) => publics.push(object),
            _ => {}
        }
    }
    for public in publics {
        let claims = |g: &Group, same_type: bool| {
            g.private.as_ref().is_some_and(|p| {
                p.id == public.id
                    && p.label == public.label
                    && (!same_type || p.key_type == public.key_type)
            })
        };
        let partner = match groups.iter().position(|g| claims(g, true)) {
            Some(i) => Some(i),
            None => groups.iter().position(|g| claims(g, false)),
        };
        match partner.and_then(|i| groups.get_mut(i)) {
            Some(g) => g.candidates.push(public),
            None => groups.push(Group {
                public: Some(public),
                ..Group::default()
            }),
        }
    }
    groups
}

/// Binds the public key of each key pair (see [`binding`]); other keys pass through.
fn bind_all(session: Option<&Session>, groups: Vec<Group>) -> Result<Vec<BoundGroup>> {
    groups
        .into_iter()
        .map(|g| {
            let Group {
                private,
                public,
                secret,
                candidates,
            } = g;
            match &private {
                Some(p) => {
                    let bound = binding::bind(session, p, candidates)?;
                    Ok(BoundGroup {
                        private,
                        public: bound.public,
                        secret,
                        material: bound.material,
                        mismatched: bound.mismatched.iter().filter_map(|o| o.handle).collect(),
                        problem: bound.problem,
                    })
                }
                None => {
                    // A lone public key (or a secret key): its own values, nothing to bind.
                    let carried = public.as_ref().and_then(binding::lone_public_key);
                    let (material, problem) = match carried {
                        Some(Ok(m)) => (Some(m), None),
                        Some(Err(reason)) => (None, Some(PublicKeyProblem::Invalid(reason))),
                        None => (None, None),
                    };
                    Ok(BoundGroup {
                        private,
                        public,
                        secret,
                        material: material.map(|m| (m, Binding::Unproven)),
                        mismatched: Vec::new(),
                        problem,
                    })
                }
            }
        })
        .collect()
}

impl BoundGroup {
    /// True when the key's private or secret object is `CKA_PRIVATE`: only a logged-in user
    /// can have created it.
    fn login_protected(&self) -> bool {
        self.private
            .as_ref()
            .or(self.secret.as_ref())
            .is_some_and(|o| o.protection.private)
    }

    /// Every object handle of the key, paired or set aside.
    fn handles(&self) -> Vec<ObjectHandle> {
        [&self.private, &self.public, &self.secret]
            .into_iter()
            .flatten()
            .filter_map(|o| o.handle)
            .chain(self.mismatched.iter().copied())
            .collect()
    }

    fn accepted_by(&self, selector: &KeySelector) -> bool {
        match selector.class {
            None => true,
            Some(KeyClass::Private) => self.private.is_some(),
            Some(KeyClass::Public) => self.public.is_some(),
            Some(KeyClass::Secret) => self.secret.is_some(),
        }
    }
}

/// Finds the one key matching `selector`.
///
/// One `C_FindObjects` search on the label and/or id, one attribute read per object found,
/// then each private key is given its public key as [`Binding`] describes: public objects that
/// carry the key's label and id but not its public key are set aside in
/// [`KeyInfo::mismatched_public`], never used and never counted as another key. Certificates
/// and data objects with the same label are ignored.
///
/// When several keys match and exactly one of them has a `CKA_PRIVATE` private or secret object,
/// that one is the key: the others (lone public keys, key objects with `CKA_PRIVATE` false)
/// could have been created without login and are listed in
/// [`KeyInfo::unprotected_duplicates`].
///
/// # Errors
/// [`Error::KeyNotFound`] naming the selector; [`Error::AmbiguousKey`] when several distinct keys
/// match and the rule above does not single one out (two private keys with one label, or a
/// secret key and a key pair); [`Error::Config`]
/// for a selector with neither label nor id; [`Error::PublicKeyMismatch`] when the selector asks
/// for a public key ([`KeyClass::Public`]) and the only public objects of the matching key pair
/// do not carry its public key. (A key pair whose public key cannot be established is still
/// found: see [`KeyInfo::public_key_problem`].)
pub fn find_key(session: &Session, selector: &KeySelector) -> Result<KeyInfo> {
    if selector.label.is_none() && selector.id.is_none() {
        return Err(Error::Config {
            reason: "a key selector needs a label or an id".to_owned(),
        });
    }
    let handles = token_call(Function::FindObjects, None, || {
        session.find_objects(&selector.template())
    })
    .map_err(|e| Error::from_cryptoki("searching for a key", e))?;
    let objects = handles
        .into_iter()
        .map(|h| read_object(session, h))
        .collect::<Result<Vec<_>>>()?;
    let bound = bind_all(Some(session), group(objects))?;
    let (mut keys, rejected): (Vec<BoundGroup>, Vec<BoundGroup>) =
        bound.into_iter().partition(|g| g.accepted_by(selector));
    if keys.is_empty() && selector.class == Some(KeyClass::Public) {
        // A key pair whose public objects all failed the check: say so, not "not found".
        if let Some(pair) = rejected.iter().find(|g| !g.mismatched.is_empty()) {
            return Err(Error::PublicKeyMismatch {
                key: pair
                    .private
                    .as_ref()
                    .map(binding::key_name)
                    .unwrap_or_default(),
                reason: format!(
                    "{} public-key object(s) carry its label and id but not its public key",
                    pair.mismatched.len()
                ),
            });
        }
    }
    // Objects anyone can create without login (public objects, key objects with CKA_PRIVATE
    // false) never make a login-protected key ambiguous.
    let protected: Vec<usize> = keys
        .iter()
        .enumerate()
        .filter(|(_, g)| g.login_protected())
        .map(|(i, _)| i)
        .collect();
    if keys.len() > 1 && protected.len() == 1 {
        let chosen = keys.remove(protected[0]);
        let others: Vec<ObjectHandle> = keys.iter().flat_map(BoundGroup::handles).collect();
        let mut info = describe(chosen);
        info.unprotected_duplicates = others;
        return Ok(info);
    }
    match keys.len() {
        0 => Err(Error::KeyNotFound {
            what: selector.to_string(),
        }),
        1 => Ok(describe(keys.remove(0))),
        count => Err(Error::AmbiguousKey {
            what: selector.to_string(),
            count,
        }),
    }
}

/// Describes every key on the token visible to this session (public objects, and private
/// objects when logged in), key pairs grouped and their public keys bound as in [`find_key`],
/// sorted by label then id.
///
/// Each [`KeyInfo`] carries the object handles and [`KeyInfo::selector`], so a caller can use a
/// listed key without searching for it again.
///
/// # Errors
/// Token errors only: a key whose public key cannot be established is listed with
/// [`KeyInfo::public_key_problem`] set.
pub fn list_keys(session: &Session) -> Result<Vec<KeyInfo>> {
    let mut objects = Vec::new();
    for class in [
        ObjectClass::PRIVATE_KEY,
        ObjectClass::PUBLIC_KEY,
        ObjectClass::SECRET_KEY,
    ] {
        let handles = token_call(Function::FindObjects, None, || {
            session.find_objects(&[Attribute::Class(class)])
        })
        .map_err(|e| Error::from_cryptoki("listing keys", e))?;
        for handle in handles {
            objects.push(read_object(session, handle)?);
        }
    }
    let mut keys: Vec<KeyInfo> = bind_all(Some(session), group(objects))?
        .into_iter()
        .map(describe)
        .collect();
    keys.sort_by(|a, b| (&a.label, &a.id).cmp(&(&b.label, &b.id)));
    Ok(keys)
}

/// Describes the key whose objects have these handles (after generation).
pub(crate) fn describe_handles(session: &Session, handles: &[ObjectHandle]) -> Result<KeyInfo> {
    let objects = handles
        .iter()
        .map(|&h| read_object(session, h))
        .collect::<Result<Vec<_>>>()?;
    let mut groups = bind_all(Some(session), group(objects))?;
    match groups.len() {
        1 => Ok(describe(groups.remove(0))),
        n => Err(Error::Config {
            reason: format!(
                "the token describes the new key as {n} keys (mismatched CKA_ID or CKA_LABEL)"
            ),
        }),
    }
}

/// Reads the objects with these handles (for checks after generation).
fn read_objects(session: &Session, handles: &[ObjectHandle]) -> Result<Vec<ObjectAttrs>> {
    handles.iter().map(|&h| read_object(session, h)).collect()
}

fn describe(group: BoundGroup) -> KeyInfo {
    let BoundGroup {
        private,
        public,
        secret,
        material,
        mismatched,
        problem,
    } = group;
    // The object that names the key: the secret or private one, else the public one.
    let main = secret.as_ref().or(private.as_ref()).or(public.as_ref());
    let (label, id, key_type) = main
        .map(|o| (o.label.clone(), o.id.clone(), o.key_type))
        .unwrap_or_default();
    let objects = [&private, &public, &secret];

    let mut capabilities = Capabilities::default();
    for o in objects.into_iter().flatten() {
        let c = o.capabilities;
        capabilities.sign |= c.sign;
        capabilities.verify |= c.verify;
        capabilities.encrypt |= c.encrypt;
        capabilities.decrypt |= c.decrypt;
        capabilities.wrap |= c.wrap;
        capabilities.unwrap |= c.unwrap;
        capabilities.derive |= c.derive;
    }
    let protection = secret
        .as_ref()
        .or(private.as_ref())
        .map(|o| o.protection)
        .unwrap_or_default();

    let value_len = secret.as_ref().and_then(|o| o.value_len).unwrap_or(0);
    let (public_key, public_binding) = match material {
        Some((m, b)) => (Some(m), private.as_ref().map(|_| b)),
        None => (None, None),
    };
    // The curve parameters: the private object's first (it names the key).
    let params = [&private, &public]
        .into_iter()
        .flatten()
        .find_map(|o| o.ec_params.as_deref())
        .unwrap_or_default();
    let kind = match key_type {
        Some(KeyType::RSA) => {
            let bits = match &public_key {
                Some(PublicKeyMaterial::Rsa { n, .. }) => bit_length(n),
                _ => [&private, &public]
                    .into_iter()
                    .flatten()
                    .find_map(|o| o.modulus.as_deref())
                    .map(bit_length)
                    .unwrap_or(0),
            };
            KeyKind::Rsa { bits }
        }
        Some(KeyType::EC) | Some(KeyType::EC_EDWARDS) => {
            if let Some(curve) = EdCurve::from_ec_params(params) {
                KeyKind::Edwards(curve)
            } else if let (Some(curve), Some(KeyType::EC)) =
                (EcCurve::from_ec_params(params), key_type)
            {
                KeyKind::Ec(curve)
            } else {
                KeyKind::Unsupported {
                    key_type: "CKK_EC (unknown curve)",
                }
            }
        }
        Some(KeyType::AES) => KeyKind::Aes { bytes: value_len },
        // cryptoki 0.12.1 gives SHA224/384/512_HMAC the value of CKK_SHA256_HMAC (and maps the
        // token's values onto those constants), so SHA256_HMAC stands for all four here.
        Some(KeyType::GENERIC_SECRET | KeyType::SHA_1_HMAC | KeyType::SHA256_HMAC) => {
            KeyKind::GenericSecret { bytes: value_len }
        }
        Some(other) => KeyKind::Unsupported {
            key_type: key_type_name(other),
        },
        None => KeyKind::Unsupported {
            key_type: "no CKA_KEY_TYPE",
        },
    };
    // A public key of a kind this crate does not describe is not offered.
    let public_key = match kind {
        KeyKind::Unsupported { .. } => None,
        _ => public_key,
    };
    let public_key_problem = if public_key.is_none() { problem } else { None };

    KeyInfo {
        label,
        id,
        kind,
        private: private.as_ref().and_then(|o| o.handle),
        public: public.as_ref().and_then(|o| o.handle),
        secret: secret.as_ref().and_then(|o| o.handle),
        capabilities,
        protection,
        public_binding: public_key.as_ref().and(public_binding),
        public_key,
        mismatched_public: mismatched,
        public_key_problem,
        unprotected_duplicates: Vec::new(),
    }
}

fn key_type_name(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::DSA => "CKK_DSA",
        KeyType::DH => "CKK_DH",
        KeyType::EC_MONTGOMERY => "CKK_EC_MONTGOMERY",
        KeyType::DES => "CKK_DES",
        KeyType::DES2 => "CKK_DES2",
        KeyType::DES3 => "CKK_DES3",
        KeyType::ML_DSA => "CKK_ML_DSA",
        KeyType::ML_KEM => "CKK_ML_KEM",
        KeyType::SLH_DSA => "CKK_SLH_DSA",
        _ => "another CKK_ key type",
    }
}

fn strip_zeros(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

fn bit_length(big_endian: &[u8]) -> usize {
    match big_endian.iter().position(|&b| b != 0) {
        None => 0,
        Some(i) => (big_endian.len() - i) * 8 - big_endian[i].leading_zeros() as usize,
    }
}

/// Lower-case hex, for ids in messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_display() {
        assert_eq!(KeySelector::label("k").to_string(), "label \"k\"");
        assert_eq!(KeySelector::id([1, 0xab]).to_string(), "id 01ab");
        assert_eq!(
            KeySelector::label_and_id("k", [1])
                .with_class(KeyClass::Secret)
                .to_string(),
            "label \"k\", id 01, secret key"
        );
        assert_eq!(KeySelector::default().to_string(), "any key");
    }

    #[test]
    fn selector_from_uri() {
        let uri: Pkcs11Uri = "pkcs11:token=t;object=k;id=%01%02;type=private"
            .parse()
            .unwrap();
        let selector = KeySelector::from_uri(&uri).unwrap();
        assert_eq!(
            selector,
            KeySelector::label_and_id("k", [1, 2]).with_class(KeyClass::Private)
        );
        let cert: Pkcs11Uri = "pkcs11:object=k;type=cert".parse().unwrap();
        assert!(matches!(
            KeySelector::from_uri(&cert),
            Err(Error::InvalidUri { .. })
        ));
        let token_only: Pkcs11Uri = "pkcs11:token=t".parse().unwrap();
        assert!(matches!(
            KeySelector::from_uri(&token_only),
            Err(Error::InvalidUri { .. })
        ));
    }

    #[test]
    fn bits_and_zeros() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0x00, 0x01]), 17);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(strip_zeros(&[0, 0, 1, 0]), vec![1, 0]);
    }

    fn object(class: ObjectClass, label: &str, id: &[u8]) -> ObjectAttrs {
        ObjectAttrs {
            class: Some(class),
            key_type: Some(KeyType::EC),
            label: label.to_owned(),
            id: id.to_vec(),
            ..ObjectAttrs::default()
        }
    }

    #[test]
    fn grouping_pairs_by_id_and_label() {
        let groups = group(vec![
            object(ObjectClass::PUBLIC_KEY, "a", &[1]),
            object(ObjectClass::PRIVATE_KEY, "a", &[1]),
            object(ObjectClass::PRIVATE_KEY, "a", &[2]),
            object(ObjectClass::PUBLIC_KEY, "b", &[2]),
            object(ObjectClass::CERTIFICATE, "a", &[1]),
            object(ObjectClass::SECRET_KEY, "a", &[1]),
        ]);
        assert_eq!(groups.len(), 4);
        let paired = groups
            .iter()
            .filter(|g| g.private.is_some() && g.candidates.len() == 1)
            .count();
        assert_eq!(paired, 1);
        assert_eq!(groups.iter().filter(|g| g.secret.is_some()).count(), 1);
    }
}
