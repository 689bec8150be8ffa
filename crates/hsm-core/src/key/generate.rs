//! Key generation inside the token, with hardened templates, and deletion.
//!
//! Every generated private or secret key is a token object (`CKA_TOKEN`), private
//! (`CKA_PRIVATE`: invisible before login), sensitive (`CKA_SENSITIVE`) and not extractable
//! (`CKA_EXTRACTABLE` set to false explicitly: some tokens default it to true), so the token
//! marks it always-sensitive and never-extractable. Each usage flag (`CKA_SIGN`, `CKA_DECRYPT`,
//! ...) is written explicitly, true only for the usages asked for, so token defaults never
//! widen what a key may do.
//!
//! # Tokens that set usage flags themselves
//!
//! Some tokens compute a key's usage flags and refuse a template that disagrees: tpm2-pkcs11
//! answers `CKR_GENERAL_ERROR` ("attr mismatch") to `CKA_ENCRYPT=false` on the public key or
//! `CKA_DECRYPT=false` on the private key. So generation is deterministic in two steps:
//!
//! 1. the hardened template above, every usage flag explicit;
//! 2. only when the token answers `CKR_ATTRIBUTE_VALUE_INVALID`, `CKR_TEMPLATE_INCONSISTENT` or
//!    `CKR_GENERAL_ERROR`: once more with the same template minus the `false` values of the
//!    flags such tokens compute (`CKA_SIGN`, `CKA_VERIFY`, `CKA_ENCRYPT`, `CKA_DECRYPT`); the
//!    ones asked for stay `true`, and `CKA_WRAP`, `CKA_UNWRAP`, `CKA_DERIVE` stay explicit
//!    (tpm2-pkcs11 accepts `false` for them). `CKA_TOKEN`, `CKA_PRIVATE`, `CKA_SENSITIVE` and
//!    `CKA_EXTRACTABLE=false` are never relaxed. If this attempt fails too, the error of the
//!    first attempt is returned.
//!
//! Either way the key is then read back, and refused — its objects destroyed (also when it
//! cannot be read back),
//! [`Error::WeakGeneratedKey`] — if it came out weaker than asked: extractable, not sensitive,
//! not private, or able to do more than asked. On EC and EdDSA keys `CKA_ENCRYPT` and
//! `CKA_DECRYPT` are not counted (tpm2-pkcs11 sets them on its EC keys, and no PKCS#11
//! mechanism encrypts with an EC or EdDSA key); every other flag is.
//!
//! # Tokens that cannot generate a kind of key
//!
//! [`KeySpec::check_supported`] and [`SecretSpec::check_supported`] check a token's mechanism
//! list (e.g. [`SessionPool::mechanisms`](crate::SessionPool::mechanisms)) before any call; the
//! generation functions turn the token's own refusals (`CKR_MECHANISM_INVALID`,
//! `CKR_FUNCTION_NOT_SUPPORTED`, `CKR_CURVE_NOT_SUPPORTED`) into [`Error::CannotGenerate`]
//! naming what is missing.

use std::ops::BitOr;

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use super::cert::{certificates_of_key, delete_certificates};
use super::{
    EcCurve, EdCurve, KeyInfo, KeySelector, ObjectAttrs, describe_handles, find_key, hex,
    read_objects,
};
use crate::error::{Error, Result};
use crate::trace::token_call;

/// What a generated key may be used for. Combine with `|`:
/// `KeyUsage::SIGN | KeyUsage::ENCRYPT`.
///
/// Each usage sets the attributes of both halves of a key pair: [`SIGN`](KeyUsage::SIGN) is
/// `CKA_SIGN` on the private key and `CKA_VERIFY` on the public key,
/// [`ENCRYPT`](KeyUsage::ENCRYPT) is `CKA_DECRYPT` / `CKA_ENCRYPT`, [`WRAP`](KeyUsage::WRAP) is
/// `CKA_UNWRAP` / `CKA_WRAP`, [`DERIVE`](KeyUsage::DERIVE) is `CKA_DERIVE` on the private key
/// (ECDH). A secret key gets both attributes of each pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KeyUsage {
    /// Sign and verify (signatures, MACs).
    pub sign: bool,
    /// Encrypt and decrypt (RSA-OAEP, AES-GCM).
    pub encrypt: bool,
    /// Wrap and unwrap keys (RSA-OAEP key transport, AES key wrap).
    pub wrap: bool,
    /// Key agreement and derivation (ECDH).
    pub derive: bool,
}

impl KeyUsage {
    /// Signing only.
    pub const SIGN: KeyUsage = KeyUsage {
        sign: true,
        encrypt: false,
        wrap: false,
        derive: false,
    };
    /// Encryption and decryption.
    pub const ENCRYPT: KeyUsage = KeyUsage {
        sign: false,
        encrypt: true,
        wrap: false,
        derive: false,
    };
    /// Key wrapping and unwrapping.
    pub const WRAP: KeyUsage = KeyUsage {
        sign: false,
        encrypt: false,
        wrap: true,
        derive: false,
    };
    /// Key derivation (ECDH).
    pub const DERIVE: KeyUsage = KeyUsage {
        sign: false,
        encrypt: false,
        wrap: false,
        derive: true,
    };

    /// Both sets of usages.
    pub const fn union(self, other: KeyUsage) -> KeyUsage {
        KeyUsage {
            sign: self.sign || other.sign,
            encrypt: self.encrypt || other.encrypt,
            wrap: self.wrap || other.wrap,
            derive: self.derive || other.derive,
        }
    }

    fn is_empty(self) -> bool {
        self == KeyUsage::default()
    }
}

impl BitOr for KeyUsage {
    type Output = KeyUsage;
    fn bitor(self, other: KeyUsage) -> KeyUsage {
        self.union(other)
    }
}

/// An asymmetric key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA with this modulus size in bits (2048 to 16384, a multiple of 8), exponent 65537.
    Rsa(usize),
    /// ECDSA/ECDH on a NIST curve.
    Ec(EcCurve),
    /// Ed25519 (`CKM_EC_EDWARDS_KEY_PAIR_GEN`, parameters as the OID 1.3.101.112).
    Ed25519,
    /// Ed448 (`CKM_EC_EDWARDS_KEY_PAIR_GEN`, parameters as the OID 1.3.101.113).
    Ed448,
}

/// A secret key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretSpec {
    /// AES with this many bytes (16, 24 or 32), `CKM_AES_KEY_GEN`.
    Aes(usize),
    /// A generic secret of this many bytes (16 to 512) for HMAC, `CKM_GENERIC_SECRET_KEY_GEN`.
    Hmac(usize),
}

impl KeySpec {
    /// The mechanism that generates this kind of key pair.
    pub fn generation_mechanism(self) -> MechanismType {
        match self {
            KeySpec::Rsa(_) => MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            KeySpec::Ec(_) => MechanismType::ECC_KEY_PAIR_GEN,
            KeySpec::Ed25519 | KeySpec::Ed448 => MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
        }
    }

    /// What this spec generates, in words (`"EC keys"`).
    fn what(self) -> String {
        match self {
            KeySpec::Rsa(_) => "RSA keys".to_owned(),
            KeySpec::Ec(curve) => format!("EC {} keys", curve.jwk_name()),
            KeySpec::Ed25519 => "Ed25519 keys".to_owned(),
            KeySpec::Ed448 => "Ed448 keys".to_owned(),
        }
    }

    /// Checks, before any token call, that a token with these mechanisms (e.g.
    /// [`SessionPool::mechanisms`](crate::SessionPool::mechanisms)) can generate this key.
    ///
    /// # Errors
    /// [`Error::CannotGenerate`] naming the missing mechanism: "this token cannot generate EC
    /// P-256 keys: no CKM_EC_KEY_PAIR_GEN".
    pub fn check_supported(self, mechanisms: &[MechanismType]) -> Result<()> {
        require_mechanism(mechanisms, self.generation_mechanism(), self.what())
    }
}

impl SecretSpec {
    /// The mechanism that generates this kind of secret key.
    pub fn generation_mechanism(self) -> MechanismType {
        match self {
            SecretSpec::Aes(_) => MechanismType::AES_KEY_GEN,
            SecretSpec::Hmac(_) => MechanismType::GENERIC_SECRET_KEY_GEN,
        }
    }

    fn what(self) -> String {
        match self {
            SecretSpec::Aes(_) => "AES keys".to_owned(),
            SecretSpec::Hmac(_) => "HMAC keys".to_owned(),
        }
    }

    /// As [`KeySpec::check_supported`].
    ///
    /// # Errors
    /// [`Error::CannotGenerate`] naming the missing mechanism.
    pub fn check_supported(self, mechanisms: &[MechanismType]) -> Result<()> {
        require_mechanism(mechanisms, self.generation_mechanism(), self.what())
    }
}

fn require_mechanism(
    mechanisms: &[MechanismType],
    needed: MechanismType,
    what: String,
) -> Result<()> {
    if mechanisms.contains(&needed) {
        Ok(())
    } else {
        Err(Error::CannotGenerate {
            what,
            missing: format!("no {needed}"),
        })
    }
}

/// The token's refusal of a generation call, in terms of what it cannot do where that is what
/// the return value says.
fn generation_error(
    error: cryptoki::error::Error,
    what: String,
    mechanism: MechanismType,
    context: &'static str,
) -> Error {
    let cryptoki::error::Error::Pkcs11(rv, function) = error else {
        return Error::from_cryptoki(context, error);
    };
    let missing = match rv {
        RvError::MechanismInvalid => format!("no {mechanism} (CKR_MECHANISM_INVALID)"),
        RvError::FunctionNotSupported => format!(
            "{} is not supported (CKR_FUNCTION_NOT_SUPPORTED)",
            crate::error::c_name(function)
        ),
        RvError::CurveNotSupported | RvError::DomainParamsInvalid => {
            format!("the curve is not supported ({})", crate::error::rv_name(rv))
        }
        _ => return Error::from_cryptoki(context, cryptoki::error::Error::Pkcs11(rv, function)),
    };
    Error::CannotGenerate { what, missing }
}

/// Return values after which generation is tried once more without explicit `false` usage
/// flags (see the module documentation).
pub(super) fn refuses_explicit_flags(error: &cryptoki::error::Error) -> bool {
    matches!(
        error,
        cryptoki::error::Error::Pkcs11(
            RvError::AttributeValueInvalid | RvError::TemplateInconsistent | RvError::GeneralError,
            _
        )
    )
}

/// How usage flags are written into a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flags {
    /// Every usage flag, `false` ones included (the hardened template).
    Explicit,
    /// For tokens that compute the sign/verify/encrypt/decrypt flags themselves: those four
    /// only when asked for (`true`); `CKA_WRAP`, `CKA_UNWRAP`, `CKA_DERIVE` still explicit.
    TokenDerived,
}

/// A usage attribute's constructor and the value asked for.
type UsageFlag = (fn(bool) -> Attribute, bool);

/// Pushes the usage attributes `(attribute constructor, value)` as `flags` says.
fn push_flags(template: &mut Vec<Attribute>, flags: Flags, values: &[UsageFlag]) {
    for &(make, value) in values {
        let attribute = make(value);
        let token_derived = matches!(
            attribute,
            Attribute::Sign(_)
                | Attribute::Verify(_)
                | Attribute::Encrypt(_)
                | Attribute::Decrypt(_)
        );
        if value || flags == Flags::Explicit || !token_derived {
            template.push(attribute);
        }
    }
}

pub(super) fn config(reason: impl Into<String>) -> Error {
    Error::Config {
        reason: reason.into(),
    }
}

pub(super) fn refuse(usage: KeyUsage, allowed: KeyUsage, what: &str) -> Result<()> {
    let extra = KeyUsage {
        sign: usage.sign && !allowed.sign,
        encrypt: usage.encrypt && !allowed.encrypt,
        wrap: usage.wrap && !allowed.wrap,
        derive: usage.derive && !allowed.derive,
    };
    if usage.is_empty() {
        return Err(config("a key needs at least one usage"));
    }
    if !extra.is_empty() {
        return Err(config(format!(
            "{what} keys cannot have usage {extra:?} (allowed: {allowed:?})"
        )));
    }
    Ok(())
}

/// Refuses to create a second key with the label or id of an existing one: lookups would
/// become ambiguous.
pub(super) fn ensure_free(session: &Session, label: &str, id: &[u8]) -> Result<()> {
    for (template, what) in [
        (
            vec![Attribute::Label(label.as_bytes().to_vec())],
            format!("label {label:?}"),
        ),
        (vec![Attribute::Id(id.to_vec())], format!("id {}", hex(id))),
    ] {
        let found = token_call(Function::FindObjects, None, || {
            session.find_objects(&template)
        })
        .map_err(|e| Error::from_cryptoki("checking for an existing key", e))?;
        if !found.is_empty() {
            return Err(config(format!(
                "the token already has an object with {what}"
            )));
        }
    }
    Ok(())
}

pub(super) fn hardened_private(
    label: &str,
    id: &[u8],
    usage: KeyUsage,
    flags: Flags,
) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    push_flags(
        &mut template,
        flags,
        &[
            (Attribute::Sign, usage.sign),
            (Attribute::Decrypt, usage.encrypt),
            (Attribute::Unwrap, usage.wrap),
            (Attribute::Derive, usage.derive),
        ],
    );
    template
}

pub(super) fn public_template(
    label: &str,
    id: &[u8],
    usage: KeyUsage,
    flags: Flags,
) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    push_flags(
        &mut template,
        flags,
        &[
            (Attribute::Verify, usage.sign),
            (Attribute::Encrypt, usage.encrypt),
            (Attribute::Wrap, usage.wrap),
            (Attribute::Derive, false),
        ],
    );
    template
}

/// Generates a key pair with the hardened template, and once more without explicit `false`
/// usage flags when the token refuses them; then checks the result (module documentation).
fn generate_pair_checked(
    session: &Session,
    mechanism: &Mechanism<'_>,
    extra_public: &[Attribute],
    (label, id, usage): (&str, &[u8], KeyUsage),
    (what, family): (String, Family),
) -> Result<KeyInfo> {
    let attempt = |flags: Flags| {
        let mut public = public_template(label, id, usage, flags);
        public.extend_from_slice(extra_public);
        token_call(
            Function::GenerateKeyPair,
            Some(mechanism.mechanism_type()),
            || {
                session.generate_key_pair(
                    mechanism,
                    &public,
                    &hardened_private(label, id, usage, flags),
                )
            },
        )
    };
    let (public, private) = match attempt(Flags::Explicit) {
        Ok(handles) => handles,
        Err(first) if refuses_explicit_flags(&first) => {
            attempt(Flags::TokenDerived).map_err(|_| {
                generation_error(
                    first,
                    what.clone(),
                    mechanism.mechanism_type(),
                    "generating a key pair",
                )
            })?
        }
        Err(first) => {
            return Err(generation_error(
                first,
                what,
                mechanism.mechanism_type(),
                "generating a key pair",
            ));
        }
    };
    check_generated(session, &[private, public], usage, family, label, id)?;
    describe_handles(session, &[private, public])
}

/// What a key's usage flags can do, for the read-back check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    Rsa,
    /// EC and EdDSA: `CKA_ENCRYPT`/`CKA_DECRYPT` grant nothing and are not counted.
    Curve,
    Secret,
}

/// Reads the new key's objects back and destroys them if the key came out weaker than asked
/// (or could not be read back).
pub(super) fn check_generated(
    session: &Session,
    handles: &[ObjectHandle],
    usage: KeyUsage,
    family: Family,
    label: &str,
    id: &[u8],
) -> Result<()> {
    // Every object is destroyed even when one refuses.
    let destroy = || {
        let mut deleted = true;
        for &handle in handles {
            deleted &= token_call(Function::DestroyObject, None, || {
                session.destroy_object(handle)
            })
            .is_ok();
        }
        deleted
    };
    let objects = match read_objects(session, handles) {
        Ok(objects) => objects,
        Err(error) => {
            // A key that cannot be checked is not kept either.
            destroy();
            return Err(error);
        }
    };
    let weaknesses = weaknesses(&objects, usage, family);
    if weaknesses.is_empty() {
        return Ok(());
    }
    let deleted = destroy();
    Err(Error::WeakGeneratedKey {
        key: format!("label {label:?}, id {}", hex(id)),
        weaknesses: weaknesses.join(", "),
        deleted,
    })
}

/// How the objects of a newly generated key are weaker than asked, in words; empty when they
/// are exactly as hardened as asked.
fn weaknesses(objects: &[ObjectAttrs], usage: KeyUsage, family: Family) -> Vec<&'static str> {
    let mut found = Vec::new();
    let mut flag = |has: bool, asked: bool, what: &'static str| {
        if has && !asked && !found.contains(&what) {
            found.push(what);
        }
    };
    for o in objects {
        let c = o.capabilities;
        let counts_encryption = family != Family::Curve;
        match o.class {
            Some(ObjectClass::PRIVATE_KEY | ObjectClass::SECRET_KEY) => {
                let p = o.protection;
                flag(p.extractable, false, "extractable");
                flag(!p.sensitive, false, "not sensitive");
                flag(!p.private, false, "not private (readable without login)");
                flag(c.sign, usage.sign, "can also sign");
                flag(
                    c.decrypt && counts_encryption,
                    usage.encrypt,
                    "can also decrypt",
                );
                flag(c.unwrap, usage.wrap, "can also unwrap");
                flag(c.derive, usage.derive, "can also derive");
                if o.class == Some(ObjectClass::SECRET_KEY) {
                    flag(c.verify, usage.sign, "can also verify");
                    flag(c.encrypt, usage.encrypt, "can also encrypt");
                    flag(c.wrap, usage.wrap, "can also wrap");
                }
            }
            Some(ObjectClass::PUBLIC_KEY) => {
                flag(c.verify, usage.sign, "can also verify");
                flag(
                    c.encrypt && counts_encryption,
                    usage.encrypt,
                    "can also encrypt",
                );
                flag(c.wrap, usage.wrap, "can also wrap");
            }
            _ => {}
        }
    }
    found
}

/// Generates a key pair inside the token and describes it. Needs a read-write session, logged
/// in as the user.
///
/// Allowed usages: RSA [`SIGN`](KeyUsage::SIGN), [`ENCRYPT`](KeyUsage::ENCRYPT),
/// [`WRAP`](KeyUsage::WRAP); EC `SIGN` and [`DERIVE`](KeyUsage::DERIVE) (EC keys encrypt
/// through ECDH); EdDSA `SIGN`. The private key is a token object, private, sensitive and not
/// extractable (each set explicitly), with exactly the usage flags asked for; the public key is
/// a public token object (`CKA_PRIVATE` false).
///
/// # Errors
/// [`Error::Config`] for an unsupported size or usage, or when an object with this label or id
/// already exists; [`Error::Pkcs11`] when the token refuses the template.
pub fn generate_key_pair(
    session: &Session,
    spec: KeySpec,
    label: &str,
    id: &[u8],
    usage: KeyUsage,
) -> Result<KeyInfo> {
    let mut public = Vec::new();
    let mechanism = match spec {
        KeySpec::Rsa(bits) => {
            if !(2048..=16384).contains(&bits) || bits % 8 != 0 {
                return Err(config(format!(
                    "RSA keys must have 2048 to 16384 bits, a multiple of 8 (asked: {bits})"
                )));
            }
            refuse(
                usage,
                KeyUsage::SIGN | KeyUsage::ENCRYPT | KeyUsage::WRAP,
                "RSA",
            )?;
            public.push(Attribute::ModulusBits((bits as u64).into()));
            public.push(Attribute::PublicExponent(vec![0x01, 0x00, 0x01]));
            Mechanism::RsaPkcsKeyPairGen
        }
        KeySpec::Ec(curve) => {
            refuse(usage, KeyUsage::SIGN | KeyUsage::DERIVE, "EC")?;
            public.push(Attribute::EcParams(curve.ec_params().to_vec()));
            Mechanism::EccKeyPairGen
        }
        KeySpec::Ed25519 | KeySpec::Ed448 => {
            let curve = if spec == KeySpec::Ed25519 {
                EdCurve::Ed25519
            } else {
                EdCurve::Ed448
            };
            return generate_edwards_key_pair_with_params(
                session,
                curve.ec_params(),
                label,
                id,
                usage,
            );
        }
    };
    ensure_free(session, label, id)?;
    let family = match spec {
        KeySpec::Rsa(_) => Family::Rsa,
        KeySpec::Ec(_) | KeySpec::Ed25519 | KeySpec::Ed448 => Family::Curve,
    };
    generate_pair_checked(
        session,
        &mechanism,
        &public,
        (label, id, usage),
        (spec.what(), family),
    )
}

/// Generates an EdDSA key pair whose `CKA_EC_PARAMS` is exactly `ec_params`.
///
/// [`generate_key_pair`] writes the OID form ([`EdCurve::ec_params`]); this low-level variant
/// exists to create keys as other tools do, e.g. with the PrintableString form
/// ([`EdCurve::printable_ec_params`], as OpenSC's `pkcs11-tool` writes it; SoftHSM 2.6 accepts
/// both). Usage must be [`KeyUsage::SIGN`].
pub fn generate_edwards_key_pair_with_params(
    session: &Session,
    ec_params: &[u8],
    label: &str,
    id: &[u8],
    usage: KeyUsage,
) -> Result<KeyInfo> {
    if EdCurve::from_ec_params(ec_params).is_none() {
        return Err(config("the EC parameters name no Edwards curve"));
    }
    refuse(usage, KeyUsage::SIGN, "EdDSA")?;
    ensure_free(session, label, id)?;
    generate_pair_checked(
        session,
        &Mechanism::EccEdwardsKeyPairGen,
        &[Attribute::EcParams(ec_params.to_vec())],
        (label, id, usage),
        ("EdDSA keys".to_owned(), Family::Curve),
    )
}

/// Generates a secret key inside the token and describes it. Needs a read-write session, logged
/// in as the user.
///
/// Allowed usages: AES [`ENCRYPT`](KeyUsage::ENCRYPT), [`WRAP`](KeyUsage::WRAP),
/// [`SIGN`](KeyUsage::SIGN) (CMAC), [`DERIVE`](KeyUsage::DERIVE); HMAC `SIGN` and `DERIVE`.
///
/// # Errors
/// As [`generate_key_pair`].
pub fn generate_secret_key(
    session: &Session,
    spec: SecretSpec,
    label: &str,
    id: &[u8],
    usage: KeyUsage,
) -> Result<KeyInfo> {
    let (mechanism, key_type, bytes) = match spec {
        SecretSpec::Aes(bytes) => {
            if ![16, 24, 32].contains(&bytes) {
                return Err(config(format!(
                    "AES keys have 16, 24 or 32 bytes (asked: {bytes})"
                )));
            }
            refuse(
                usage,
                KeyUsage::ENCRYPT | KeyUsage::WRAP | KeyUsage::SIGN | KeyUsage::DERIVE,
                "AES",
            )?;
            (Mechanism::AesKeyGen, KeyType::AES, bytes)
        }
        SecretSpec::Hmac(bytes) => {
            if !(16..=512).contains(&bytes) {
                return Err(config(format!(
                    "HMAC keys have 16 to 512 bytes (asked: {bytes})"
                )));
            }
            refuse(usage, KeyUsage::SIGN | KeyUsage::DERIVE, "HMAC")?;
            (
                Mechanism::GenericSecretKeyGen,
                KeyType::GENERIC_SECRET,
                bytes,
            )
        }
    };
    ensure_free(session, label, id)?;
    let template = |flags: Flags| {
        let mut template = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::ValueLen((bytes as u64).into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ];
        push_flags(
            &mut template,
            flags,
            &[
                (Attribute::Sign, usage.sign),
                (Attribute::Verify, usage.sign),
                (Attribute::Encrypt, usage.encrypt),
                (Attribute::Decrypt, usage.encrypt),
                (Attribute::Wrap, usage.wrap),
                (Attribute::Unwrap, usage.wrap),
                (Attribute::Derive, usage.derive),
            ],
        );
        template
    };
    let context = "generating a secret key";
    let generate = |flags: Flags| {
        token_call(
            Function::GenerateKey,
            Some(mechanism.mechanism_type()),
            || session.generate_key(&mechanism, &template(flags)),
        )
    };
    let handle = match generate(Flags::Explicit) {
        Ok(handle) => handle,
        Err(first) if refuses_explicit_flags(&first) => {
            generate(Flags::TokenDerived).map_err(|_| {
                generation_error(first, spec.what(), mechanism.mechanism_type(), context)
            })?
        }
        Err(first) => {
            return Err(generation_error(
                first,
                spec.what(),
                mechanism.mechanism_type(),
                context,
            ));
        }
    };
    check_generated(session, &[handle], usage, Family::Secret, label, id)?;
    describe_handles(session, &[handle])
}

/// Destroys every object of a key: private, public and secret key objects, then its
/// certificates ([`certificates_of_key`]: the X.509 certificate objects with the key's
/// `CKA_ID`). Needs a read-write session.
///
/// # Errors
/// Token errors from `C_FindObjects` or `C_DestroyObject`. The certificates are looked up
/// before anything is destroyed; on a failure, the objects before the failing one are gone.
pub fn delete_key(session: &Session, key: &KeyInfo) -> Result<()> {
    let certificates = certificates_of_key(session, key)?;
    let handles: Vec<ObjectHandle> = [key.private, key.public, key.secret]
        .into_iter()
        .flatten()
        .collect();
    for handle in handles {
        token_call(Function::DestroyObject, None, || {
            session.destroy_object(handle)
        })
        .map_err(|e| Error::from_cryptoki("deleting a key", e))?;
    }
    delete_certificates(session, &certificates)
}

/// Finds the one key matching `selector` and destroys its objects and certificates (as
/// [`delete_key`]); returns what was deleted.
///
/// # Errors
/// As [`find_key`] and [`delete_key`].
pub fn delete_key_by(session: &Session, selector: &KeySelector) -> Result<KeyInfo> {
    let key = find_key(session, selector)?;
    delete_key(session, &key)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_union_and_refusal() {
        let both = KeyUsage::SIGN | KeyUsage::ENCRYPT;
        assert!(both.sign && both.encrypt && !both.wrap && !both.derive);
        assert!(matches!(
            refuse(KeyUsage::SIGN, KeyUsage::SIGN | KeyUsage::DERIVE, "EC"),
            Ok(())
        ));
        let error = refuse(KeyUsage::ENCRYPT, KeyUsage::SIGN | KeyUsage::DERIVE, "EC").unwrap_err();
        assert!(
            error.to_string().contains("EC keys cannot have usage"),
            "{error}"
        );
        assert!(matches!(
            refuse(KeyUsage::default(), KeyUsage::SIGN, "EdDSA"),
            Err(Error::Config { .. })
        ));
    }

    use crate::key::{Capabilities, Protection};

    /// A private-key object as a hardened generation leaves it, with these capabilities.
    fn private(capabilities: Capabilities) -> ObjectAttrs {
        ObjectAttrs {
            class: Some(ObjectClass::PRIVATE_KEY),
            capabilities,
            protection: Protection {
                sensitive: true,
                extractable: false,
                always_sensitive: true,
                never_extractable: true,
                private: true,
                always_authenticate: false,
            },
            ..ObjectAttrs::default()
        }
    }

    fn public(capabilities: Capabilities) -> ObjectAttrs {
        ObjectAttrs {
            class: Some(ObjectClass::PUBLIC_KEY),
            capabilities,
            ..ObjectAttrs::default()
        }
    }

    const SIGNS: Capabilities = Capabilities {
        sign: true,
        verify: false,
        encrypt: false,
        decrypt: false,
        wrap: false,
        unwrap: false,
        derive: false,
    };
    const VERIFIES: Capabilities = Capabilities {
        verify: true,
        ..Capabilities {
            sign: false,
            verify: false,
            encrypt: false,
            decrypt: false,
            wrap: false,
            unwrap: false,
            derive: false,
        }
    };

    #[test]
    fn a_key_as_hardened_as_asked_has_no_weakness() {
        let objects = [private(SIGNS), public(VERIFIES)];
        assert!(weaknesses(&objects, KeyUsage::SIGN, Family::Rsa).is_empty());
        assert!(weaknesses(&objects, KeyUsage::SIGN, Family::Curve).is_empty());
    }

    #[test]
    fn a_generated_key_weaker_than_asked_is_named() {
        // Extractable, not sensitive, not private.
        let mut weak = private(SIGNS);
        weak.protection.extractable = true;
        weak.protection.sensitive = false;
        weak.protection.private = false;
        assert_eq!(
            weaknesses(&[weak, public(VERIFIES)], KeyUsage::SIGN, Family::Curve),
            vec![
                "extractable",
                "not sensitive",
                "not private (readable without login)"
            ]
        );
        // An RSA signing key that the token made able to decrypt as well (tpm2-pkcs11 sets the
        // usage flags itself): wider use than asked.
        let wide = private(Capabilities {
            decrypt: true,
            ..SIGNS
        });
        let wide_public = public(Capabilities {
            encrypt: true,
            ..VERIFIES
        });
        assert_eq!(
            weaknesses(&[wide, wide_public], KeyUsage::SIGN, Family::Rsa),
            vec!["can also decrypt", "can also encrypt"]
        );
        // The same flags on an EC key grant nothing and are not counted; derive is.
        let ec = private(Capabilities {
            decrypt: true,
            derive: true,
            ..SIGNS
        });
        assert_eq!(
            weaknesses(&[ec], KeyUsage::SIGN, Family::Curve),
            vec!["can also derive"]
        );
        // A secret key is judged on all its flags.
        let mut secret = private(Capabilities {
            encrypt: true,
            decrypt: true,
            ..Capabilities::default()
        });
        secret.class = Some(ObjectClass::SECRET_KEY);
        assert_eq!(
            weaknesses(&[secret], KeyUsage::WRAP, Family::Secret),
            vec!["can also decrypt", "can also encrypt"]
        );
    }

    #[test]
    fn the_relaxed_template_leaves_out_only_false_flags_tokens_compute() {
        let usage = KeyUsage::SIGN;
        let explicit = hardened_private("k", &[1], usage, Flags::Explicit);
        let relaxed = hardened_private("k", &[1], usage, Flags::TokenDerived);
        assert!(explicit.contains(&Attribute::Decrypt(false)));
        assert!(!relaxed.iter().any(|a| matches!(a, Attribute::Decrypt(_))));
        for never_relaxed in [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
        ] {
            assert!(relaxed.contains(&never_relaxed), "{never_relaxed:?}");
        }
        let public = public_template("k", &[1], usage, Flags::TokenDerived);
        assert!(!public.iter().any(|a| matches!(a, Attribute::Encrypt(_))));
        assert!(public.contains(&Attribute::Verify(true)));
        assert!(public.contains(&Attribute::Wrap(false)));
        assert!(public.contains(&Attribute::Private(false)));
    }

    #[test]
    fn missing_generation_mechanisms_and_functions_are_named() {
        let error = KeySpec::Ec(EcCurve::P256)
            .check_supported(&[MechanismType::RSA_PKCS_KEY_PAIR_GEN])
            .unwrap_err();
        assert!(
            matches!(&error, Error::CannotGenerate { what, missing }
                if what == "EC P-256 keys" && missing == "no CKM_EC_KEY_PAIR_GEN"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "this token cannot generate EC P-256 keys: no CKM_EC_KEY_PAIR_GEN"
        );
        assert!(matches!(
            KeySpec::Rsa(2048).check_supported(&[MechanismType::RSA_PKCS_KEY_PAIR_GEN]),
            Ok(())
        ));
        assert!(matches!(
            SecretSpec::Aes(32).check_supported(&[]),
            Err(Error::CannotGenerate { .. })
        ));
        let no_function = generation_error(
            cryptoki::error::Error::Pkcs11(
                RvError::FunctionNotSupported,
                cryptoki::context::Function::GenerateKey,
            ),
            "AES keys".to_owned(),
            MechanismType::AES_KEY_GEN,
            "generating a secret key",
        );
        assert!(
            matches!(&no_function, Error::CannotGenerate { missing, .. }
                if missing.starts_with("C_GenerateKey is not supported")),
            "{no_function:?}"
        );
        let no_mechanism = generation_error(
            cryptoki::error::Error::Pkcs11(
                RvError::MechanismInvalid,
                cryptoki::context::Function::GenerateKeyPair,
            ),
            "Ed25519 keys".to_owned(),
            MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            "generating a key pair",
        );
        assert!(
            matches!(&no_mechanism, Error::CannotGenerate { missing, .. }
                if missing.starts_with("no CKM_EC_EDWARDS_KEY_PAIR_GEN")),
            "{no_mechanism:?}"
        );
        let other = generation_error(
            cryptoki::error::Error::Pkcs11(
                RvError::DeviceMemory,
                cryptoki::context::Function::GenerateKeyPair,
            ),
            "RSA keys".to_owned(),
            MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            "generating a key pair",
        );
        assert!(
            matches!(
                other,
                Error::Pkcs11 {
                    rv: RvError::DeviceMemory,
                    ..
                }
            ),
            "{other:?}"
        );
        assert!(refuses_explicit_flags(&cryptoki::error::Error::Pkcs11(
            RvError::GeneralError,
            cryptoki::context::Function::GenerateKeyPair
        )));
        assert!(!refuses_explicit_flags(&cryptoki::error::Error::Pkcs11(
            RvError::MechanismInvalid,
            cryptoki::context::Function::GenerateKeyPair
        )));
    }
}
