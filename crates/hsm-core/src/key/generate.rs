//! Key generation inside the token, with hardened templates, and deletion.
//!
//! Every generated private or secret key is a token object (`CKA_TOKEN`), private
//! (`CKA_PRIVATE`: invisible before login), sensitive (`CKA_SENSITIVE`) and not extractable
//! (`CKA_EXTRACTABLE` set to false explicitly: some tokens default it to true), so the token
//! marks it always-sensitive and never-extractable. Each usage flag (`CKA_SIGN`, `CKA_DECRYPT`,
//! ...) is written explicitly, true only for the usages asked for, so token defaults never
//! widen what a key may do.

use std::ops::BitOr;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use super::{EcCurve, EdCurve, KeyInfo, KeySelector, describe_handles, find_key, hex};
use crate::error::{Error, Result};

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

fn config(reason: impl Into<String>) -> Error {
    Error::Config {
        reason: reason.into(),
    }
}

fn refuse(usage: KeyUsage, allowed: KeyUsage, what: &str) -> Result<()> {
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
fn ensure_free(session: &Session, label: &str, id: &[u8]) -> Result<()> {
    for (template, what) in [
        (
            vec![Attribute::Label(label.as_bytes().to_vec())],
            format!("label {label:?}"),
        ),
        (vec![Attribute::Id(id.to_vec())], format!("id {}", hex(id))),
    ] {
        let found = session
            .find_objects(&template)
            .map_err(|e| Error::from_cryptoki("checking for an existing key", e))?;
        if !found.is_empty() {
            return Err(config(format!(
                "the token already has an object with {what}"
            )));
        }
    }
    Ok(())
}

fn hardened_private(label: &str, id: &[u8], usage: KeyUsage) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Sign(usage.sign),
        Attribute::Decrypt(usage.encrypt),
        Attribute::Unwrap(usage.wrap),
        Attribute::Derive(usage.derive),
    ]
}

fn public_template(label: &str, id: &[u8], usage: KeyUsage) -> Vec<Attribute> {
    vec![
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Verify(usage.sign),
        Attribute::Encrypt(usage.encrypt),
        Attribute::Wrap(usage.wrap),
        Attribute::Derive(false),
    ]
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
    let mut public = public_template(label, id, usage);
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
    let (public, private) = session
        .generate_key_pair(&mechanism, &public, &hardened_private(label, id, usage))
        .map_err(|e| Error::from_cryptoki("generating a key pair", e))?;
    describe_handles(session, &[private, public])
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
    let mut public = public_template(label, id, usage);
    public.push(Attribute::EcParams(ec_params.to_vec()));
    let (public, private) = session
        .generate_key_pair(
            &Mechanism::EccEdwardsKeyPairGen,
            &public,
            &hardened_private(label, id, usage),
        )
        .map_err(|e| Error::from_cryptoki("generating an EdDSA key pair", e))?;
    describe_handles(session, &[private, public])
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
    let template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::ValueLen((bytes as u64).into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Sign(usage.sign),
        Attribute::Verify(usage.sign),
        Attribute::Encrypt(usage.encrypt),
        Attribute::Decrypt(usage.encrypt),
        Attribute::Wrap(usage.wrap),
        Attribute::Unwrap(usage.wrap),
        Attribute::Derive(usage.derive),
    ];
    let handle = session
        .generate_key(&mechanism, &template)
        .map_err(|e| Error::from_cryptoki("generating a secret key", e))?;
    describe_handles(session, &[handle])
}

/// Destroys every object of a key (private, public and secret). Needs a read-write session.
pub fn delete_key(session: &Session, key: &KeyInfo) -> Result<()> {
    let handles: Vec<ObjectHandle> = [key.private, key.public, key.secret]
        .into_iter()
        .flatten()
        .collect();
    for handle in handles {
        session
            .destroy_object(handle)
            .map_err(|e| Error::from_cryptoki("deleting a key", e))?;
    }
    Ok(())
}

/// Finds the one key matching `selector` and destroys its objects; returns what was deleted.
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
        assert!(refuse(KeyUsage::SIGN, KeyUsage::SIGN | KeyUsage::DERIVE, "EC").is_ok());
        let error = refuse(KeyUsage::ENCRYPT, KeyUsage::SIGN | KeyUsage::DERIVE, "EC").unwrap_err();
        assert!(
            error.to_string().contains("EC keys cannot have usage"),
            "{error}"
        );
        assert!(refuse(KeyUsage::default(), KeyUsage::SIGN, "EdDSA").is_err());
    }
}
