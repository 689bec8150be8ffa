//! JSON Web Keys (RFC 7517, RFC 7518 section 6, RFC 8037) and JWK Sets.
//!
//! A [`Jwk`] is validated when it is built: coordinates have the curve's length, points are on
//! the curve, RSA moduli have at least 2048 bits and exponents are odd and greater than 1.
//! Private members are held in zeroizing buffers, are never shown by `Debug`, and leave only
//! through [`Jwk::to_private_json`].
//!
//! ```
//! use jose_core::jwk::{EcCurve, Jwk};
//! # fn main() -> Result<(), jose_core::Error> {
//! let key = Jwk::generate_ec(EcCurve::P256)?.with_kid("signing-1");
//! let public = key.to_public()?;
//! assert!(!public.is_private());
//! assert!(!public.to_public_json()?.contains("\"d\""));
//! let again = Jwk::from_json(&key.to_public_json()?)?;
//! assert_eq!(again.thumbprint(), key.thumbprint());
//! # Ok(()) }
//! ```

mod generate;
pub(crate) use generate::{ec_material, random_ec_key};
pub(crate) mod lenient;
pub(crate) mod parsed;
mod roca;
mod serde_impl;
mod set;
mod validate;
pub mod x5c;

use std::fmt;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use lenient::{SkipReason, SkippedKey};
pub use roca::has_roca_fingerprint;
pub use serde_impl::with_private;
pub use set::JwkSet;

use crate::b64;
use crate::error::{KeyError, Result};

/// Bytes that must be wiped when dropped (private key members, content keys).
pub type SecretBytes = Zeroizing<Vec<u8>>;

/// A JSON Web Key: key material plus the optional `kid`, `use`, `key_ops` and `alg` members.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    material: KeyMaterial,
    kid: Option<String>,
    key_use: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    /// Other public members (`x5c`, `x5t`...), kept for export.
    extra: Map<String, Value>,
}

/// The key material of a JWK, by key type (`kty`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyMaterial {
    /// `kty: "RSA"`.
    Rsa(RsaKey),
    /// `kty: "EC"`.
    Ec(EcKey),
    /// `kty: "OKP"` (RFC 8037).
    Okp(OkpKey),
    /// `kty: "oct"`.
    Oct(OctKey),
}

/// An RSA key: modulus `n`, exponent `e` (big-endian, no leading zeros) and maybe the private part.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaKey {
    /// The modulus.
    pub n: Vec<u8>,
    /// The public exponent.
    pub e: Vec<u8>,
    /// The private part, when held.
    pub private: Option<RsaPrivate>,
}

/// The private part of an RSA key.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPrivate {
    /// The private exponent.
    pub d: SecretBytes,
    /// The CRT parameters, when given (RFC 7518 section 6.3.2: all of them or none).
    pub crt: Option<RsaCrt>,
}

/// RSA CRT parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaCrt {
    /// First prime factor.
    pub p: SecretBytes,
    /// Second prime factor.
    pub q: SecretBytes,
    /// First factor CRT exponent.
    pub dp: SecretBytes,
    /// Second factor CRT exponent.
    pub dq: SecretBytes,
    /// First CRT coefficient.
    pub qi: SecretBytes,
}

/// An elliptic-curve key on a NIST curve.
#[derive(Clone, PartialEq, Eq)]
pub struct EcKey {
    /// The curve.
    pub crv: EcCurve,
    /// The x coordinate, exactly the curve's coordinate length.
    pub x: Vec<u8>,
    /// The y coordinate, exactly the curve's coordinate length.
    pub y: Vec<u8>,
    /// The private scalar, when held.
    pub d: Option<SecretBytes>,
}

/// An octet key pair (RFC 8037).
#[derive(Clone, PartialEq, Eq)]
pub struct OkpKey {
    /// The curve.
    pub crv: OkpCurve,
    /// The public key.
    pub x: Vec<u8>,
    /// The private key, when held.
    pub d: Option<SecretBytes>,
}

/// A symmetric key.
#[derive(Clone, PartialEq, Eq)]
pub struct OctKey {
    /// The key bytes.
    pub k: SecretBytes,
}

/// NIST curves for `kty: "EC"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// P-256 (secp256r1).
    P256,
    /// P-384 (secp384r1).
    P384,
    /// P-521 (secp521r1).
    P521,
}

impl EcCurve {
    /// The `crv` name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// The length in bytes of a coordinate (and of a private scalar).
    pub const fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    fn from_name(name: &str) -> Result<Self> {
        match name {
            "P-256" => Ok(Self::P256),
            "P-384" => Ok(Self::P384),
            "P-521" => Ok(Self::P521),
            other => Err(KeyError::UnsupportedCurve(other.to_owned()).into()),
        }
    }
}

/// Curves for `kty: "OKP"` (RFC 8037).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OkpCurve {
    /// Ed25519 signatures.
    Ed25519,
    /// Ed448 signatures.
    Ed448,
    /// X25519 key agreement.
    X25519,
}

impl OkpCurve {
    /// The `crv` name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "Ed25519",
            Self::Ed448 => "Ed448",
            Self::X25519 => "X25519",
        }
    }

    /// The length in bytes of the public and private keys.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Ed25519 | Self::X25519 => 32,
            Self::Ed448 => 57,
        }
    }

    fn from_name(name: &str) -> Result<Self> {
        match name {
            "Ed25519" => Ok(Self::Ed25519),
            "Ed448" => Ok(Self::Ed448),
            "X25519" => Ok(Self::X25519),
            other => Err(KeyError::UnsupportedCurve(other.to_owned()).into()),
        }
    }
}

/// The `key_ops` values of RFC 7517 section 4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyOp {
    /// Compute a digital signature or MAC.
    Sign,
    /// Verify a digital signature or MAC.
    Verify,
    /// Encrypt content.
    Encrypt,
    /// Decrypt content and validate decryption.
    Decrypt,
    /// Encrypt a key.
    WrapKey,
    /// Decrypt a key and validate decryption.
    UnwrapKey,
    /// Derive a key.
    DeriveKey,
    /// Derive bits not to be used as a key.
    DeriveBits,
}

impl KeyOp {
    /// Every operation.
    pub const ALL: &'static [KeyOp] = &[
        Self::Sign,
        Self::Verify,
        Self::Encrypt,
        Self::Decrypt,
        Self::WrapKey,
        Self::UnwrapKey,
        Self::DeriveKey,
        Self::DeriveBits,
    ];

    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sign => "sign",
            Self::Verify => "verify",
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::WrapKey => "wrapKey",
            Self::UnwrapKey => "unwrapKey",
            Self::DeriveKey => "deriveKey",
            Self::DeriveBits => "deriveBits",
        }
    }

    /// The `use` value this operation belongs to.
    pub const fn key_use(self) -> &'static str {
        match self {
            Self::Sign | Self::Verify => "sig",
            _ => "enc",
        }
    }
}

impl Jwk {
    /// Builds a JWK from key material, validating it.
    pub fn new(material: KeyMaterial) -> Result<Self> {
        validate::material(&material)?;
        Ok(Self {
            material,
            kid: None,
            key_use: None,
            key_ops: None,
            alg: None,
            extra: Map::new(),
        })
    }

    /// Parses a JWK from JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        let map = crate::json::parse_object("JWK", text.as_bytes())
            .map_err(|e| KeyError::Json(e.to_string()))?;
        Self::from_map(map)
    }

    /// Builds a JWK from a parsed JSON value.
    pub fn from_value(value: &Value) -> Result<Self> {
        match value {
            Value::Object(map) => Self::from_map(map.clone()),
            _ => Err(KeyError::Json("not a JSON object".into()).into()),
        }
    }

    pub(crate) fn from_map(map: Map<String, Value>) -> Result<Self> {
        // Whatever path this takes, private members not moved into zeroizing buffers are wiped.
        let mut guard = WipePrivate(map);
        let map = &mut guard.0;
        let kty = take_str(map, "kty")?.ok_or(KeyError::MissingMember("kty"))?;
        let material = match kty.as_str() {
            "RSA" => {
                let n = strip_leading_zeros(req_bytes(map, "n")?);
                let e = strip_leading_zeros(req_bytes(map, "e")?);
                let private = match take_secret(map, "d")? {
                    None => None,
                    Some(d) => {
                        let names = ["p", "q", "dp", "dq", "qi"];
                        let mut parts = Vec::with_capacity(5);
                        for name in names {
                            parts.push(take_secret(map, name)?);
                        }
                        let crt = if parts.iter().all(Option::is_none) {
                            None
                        } else if parts.iter().all(Option::is_some) {
                            let mut it = parts.into_iter().flatten();
                            let mut next = || it.next().unwrap_or_default();
                            Some(RsaCrt {
                                p: next(),
                                q: next(),
                                dp: next(),
                                dq: next(),
                                qi: next(),
                            })
                        } else {
                            return Err(KeyError::InvalidMember {
                                member: "p",
                                reason: "the CRT parameters p, q, dp, dq, qi must all be present or all absent",
                            }
                            .into());
                        };
                        if map.contains_key("oth") {
                            return Err(KeyError::InvalidMember {
                                member: "oth",
                                reason: "multi-prime RSA keys are not supported",
                            }
                            .into());
                        }
                        Some(RsaPrivate { d, crt })
                    }
                };
                KeyMaterial::Rsa(RsaKey { n, e, private })
            }
            "EC" => {
                let crv = take_str(map, "crv")?.ok_or(KeyError::MissingMember("crv"))?;
                let crv = EcCurve::from_name(&crv)?;
                let x = req_bytes(map, "x")?;
                let y = req_bytes(map, "y")?;
                let d = take_secret(map, "d")?;
                KeyMaterial::Ec(EcKey { crv, x, y, d })
            }
            "OKP" => {
                let crv = take_str(map, "crv")?.ok_or(KeyError::MissingMember("crv"))?;
                let crv = OkpCurve::from_name(&crv)?;
                let x = req_bytes(map, "x")?;
                let d = take_secret(map, "d")?;
                KeyMaterial::Okp(OkpKey { crv, x, d })
            }
            "oct" => {
                let k = take_secret(map, "k")?.ok_or(KeyError::MissingMember("k"))?;
                KeyMaterial::Oct(OctKey { k })
            }
            other => return Err(KeyError::UnsupportedKeyType(other.to_owned()).into()),
        };
        let mut jwk = Self::new(material)?;
        jwk.kid = take_str(map, "kid")?;
        jwk.key_use = take_str(map, "use")?;
        jwk.alg = take_str(map, "alg")?;
        jwk.key_ops = match map.remove("key_ops") {
            None => None,
            Some(Value::Array(items)) => {
                let mut ops = Vec::with_capacity(items.len());
                for item in items {
                    let Value::String(op) = item else {
                        return Err(KeyError::InvalidMember {
                            member: "key_ops",
                            reason: "must be an array of strings",
                        }
                        .into());
                    };
                    if ops.contains(&op) {
                        return Err(KeyError::InvalidMember {
                            member: "key_ops",
                            reason: "repeats a value",
                        }
                        .into());
                    }
                    ops.push(op);
                }
                Some(ops)
            }
            Some(_) => {
                return Err(KeyError::InvalidMember {
                    member: "key_ops",
                    reason: "must be an array of strings",
                }
                .into());
            }
        };
        if let (Some(u), Some(ops)) = (&jwk.key_use, &jwk.key_ops) {
            let consistent = ops.iter().all(|op| {
                KeyOp::ALL
                    .iter()
                    .find(|k| k.as_str() == op)
                    .is_none_or(|k| k.key_use() == u)
            });
            if !consistent {
                return Err(KeyError::InvalidMember {
                    member: "key_ops",
                    reason: "contradicts `use`",
                }
                .into());
            }
        }
        // Whatever remains is kept as-is, except private members of other key types.
        wipe_private(map);
        jwk.extra = std::mem::take(map);
        Ok(jwk)
    }

    /// The key material.
    pub fn material(&self) -> &KeyMaterial {
        &self.material
    }

    /// The key ID (`kid`).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The intended use (`use`): `sig`, `enc` or another registered value.
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// The permitted operations (`key_ops`).
    pub fn key_ops(&self) -> Option<&[String]> {
        self.key_ops.as_deref()
    }

    /// The algorithm this key is bound to (`alg`).
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// Another member (`x5c`, `x5t`...), kept from import.
    pub fn extra(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// Sets the `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Sets the `use` (`sig` or `enc`).
    pub fn with_use(mut self, key_use: impl Into<String>) -> Self {
        self.key_use = Some(key_use.into());
        self
    }

    /// Sets the `key_ops`.
    pub fn with_key_ops(mut self, ops: &[KeyOp]) -> Self {
        self.key_ops = Some(ops.iter().map(|op| op.as_str().to_owned()).collect());
        self
    }

    /// Sets the `alg`.
    pub fn with_alg(mut self, alg: impl Into<String>) -> Self {
        self.alg = Some(alg.into());
        self
    }

    /// Sets or clears the `kid` in place.
    pub fn set_kid(&mut self, kid: Option<String>) {
        self.kid = kid;
    }

    /// Whether the `use` and `key_ops` members allow this operation (absent members allow all).
    pub fn permits(&self, op: KeyOp) -> bool {
        let use_ok = self.key_use.as_deref().is_none_or(|u| u == op.key_use());
        let ops_ok = self
            .key_ops
            .as_ref()
            .is_none_or(|ops| ops.iter().any(|o| o == op.as_str()));
        use_ok && ops_ok
    }

    /// Whether the JWK holds private (or symmetric) key material.
    pub fn is_private(&self) -> bool {
        match &self.material {
            KeyMaterial::Rsa(k) => k.private.is_some(),
            KeyMaterial::Ec(k) => k.d.is_some(),
            KeyMaterial::Okp(k) => k.d.is_some(),
            KeyMaterial::Oct(_) => true,
        }
    }

    /// The `kty` value.
    pub fn kty(&self) -> &'static str {
        match &self.material {
            KeyMaterial::Rsa(_) => "RSA",
            KeyMaterial::Ec(_) => "EC",
            KeyMaterial::Okp(_) => "OKP",
            KeyMaterial::Oct(_) => "oct",
        }
    }

    /// A short description for messages: `RSA 2048`, `EC P-256`, `OKP Ed25519`, `oct 256`.
    pub fn describe(&self) -> String {
        match &self.material {
            KeyMaterial::Rsa(k) => format!("RSA {}", bit_len(&k.n)),
            KeyMaterial::Ec(k) => format!("EC {}", k.crv.name()),
            KeyMaterial::Okp(k) => format!("OKP {}", k.crv.name()),
            KeyMaterial::Oct(k) => format!("oct {}", k.k.len() * 8),
        }
    }

    /// The public key (private members removed). A symmetric key has none.
    pub fn to_public(&self) -> Result<Jwk> {
        let material = match &self.material {
            KeyMaterial::Rsa(k) => KeyMaterial::Rsa(RsaKey {
                n: k.n.clone(),
                e: k.e.clone(),
                private: None,
            }),
            KeyMaterial::Ec(k) => KeyMaterial::Ec(EcKey {
                crv: k.crv,
                x: k.x.clone(),
                y: k.y.clone(),
                d: None,
            }),
            KeyMaterial::Okp(k) => KeyMaterial::Okp(OkpKey {
                crv: k.crv,
                x: k.x.clone(),
                d: None,
            }),
            KeyMaterial::Oct(_) => return Err(KeyError::NoPublicKey.into()),
        };
        Ok(Jwk {
            material,
            kid: self.kid.clone(),
            key_use: self.key_use.clone(),
            key_ops: self.key_ops.clone(),
            alg: self.alg.clone(),
            extra: self.extra.clone(),
        })
    }

    /// The public JWK as a JSON value: never any private member. Fails for symmetric keys.
    pub fn to_public_value(&self) -> Result<Value> {
        if matches!(self.material, KeyMaterial::Oct(_)) {
            return Err(KeyError::NoPublicKey.into());
        }
        Ok(Value::Object(self.members(false)))
    }

    /// The public JWK as JSON text: never any private member. Fails for symmetric keys.
    pub fn to_public_json(&self) -> Result<String> {
        self.to_public_value().map(|v| v.to_string())
    }

    /// The full JWK, private members included, as JSON text in a zeroizing buffer.
    pub fn to_private_json(&self) -> Zeroizing<String> {
        let mut members = Value::Object(self.members(true));
        let text = crate::json::to_secret_string(&members);
        crate::json::wipe(&mut members);
        text
    }

    fn members(&self, private: bool) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kty".into(), self.kty().into());
        let enc = |b: &[u8]| Value::String(b64::encode_secret(b));
        match &self.material {
            KeyMaterial::Rsa(k) => {
                m.insert("n".into(), enc(&k.n));
                m.insert("e".into(), enc(&k.e));
                if let (true, Some(p)) = (private, &k.private) {
                    m.insert("d".into(), enc(&p.d));
                    if let Some(c) = &p.crt {
                        for (name, v) in [
                            ("p", &c.p),
                            ("q", &c.q),
                            ("dp", &c.dp),
                            ("dq", &c.dq),
                            ("qi", &c.qi),
                        ] {
                            m.insert(name.into(), enc(v));
                        }
                    }
                }
            }
            KeyMaterial::Ec(k) => {
                m.insert("crv".into(), k.crv.name().into());
                m.insert("x".into(), enc(&k.x));
                m.insert("y".into(), enc(&k.y));
                if let (true, Some(d)) = (private, &k.d) {
                    m.insert("d".into(), enc(d));
                }
            }
            KeyMaterial::Okp(k) => {
                m.insert("crv".into(), k.crv.name().into());
                m.insert("x".into(), enc(&k.x));
                if let (true, Some(d)) = (private, &k.d) {
                    m.insert("d".into(), enc(d));
                }
            }
            KeyMaterial::Oct(k) => {
                if private {
                    m.insert("k".into(), enc(&k.k));
                }
            }
        }
        if let Some(kid) = &self.kid {
            m.insert("kid".into(), kid.clone().into());
        }
        if let Some(u) = &self.key_use {
            m.insert("use".into(), u.clone().into());
        }
        if let Some(ops) = &self.key_ops {
            m.insert("key_ops".into(), ops.clone().into());
        }
        if let Some(alg) = &self.alg {
            m.insert("alg".into(), alg.clone().into());
        }
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m
    }

    /// The RFC 7638 thumbprint: base64url of the SHA-256 of the required members, in order.
    pub fn thumbprint(&self) -> String {
        b64::encode_secret(&self.thumbprint_bytes())
    }

    /// The RFC 7638 SHA-256 thumbprint as raw bytes.
    pub fn thumbprint_bytes(&self) -> [u8; 32] {
        let e = b64::encode_secret;
        // Members in lexicographic order, no whitespace (RFC 7638 section 3.2).
        let canonical = match &self.material {
            KeyMaterial::Rsa(k) => {
                format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, e(&k.e), e(&k.n))
            }
            KeyMaterial::Ec(k) => {
                format!(
                    r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                    k.crv.name(),
                    e(&k.x),
                    e(&k.y)
                )
            }
            KeyMaterial::Okp(k) => format!(
                r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
                k.crv.name(),
                e(&k.x)
            ),
            KeyMaterial::Oct(k) => {
                Zeroizing::new(format!(r#"{{"k":"{}","kty":"oct"}}"#, e(&k.k))).to_string()
            }
        };
        let canonical = Zeroizing::new(canonical);
        Sha256::digest(canonical.as_bytes()).into()
    }
}

const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Wipes and removes the private members left in a parsed JWK object.
fn wipe_private(map: &mut Map<String, Value>) {
    for private in PRIVATE_MEMBERS {
        if let Some(mut v) = map.remove(*private) {
            crate::json::wipe(&mut v);
        }
    }
}

/// A parsed JWK object whose remaining private members are wiped when it is dropped, on the
/// error paths as on success.
struct WipePrivate(Map<String, Value>);

impl Drop for WipePrivate {
    fn drop(&mut self) {
        wipe_private(&mut self.0);
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Jwk");
        s.field("kty", &self.kty()).field("key", &self.describe());
        if let Some(kid) = &self.kid {
            s.field("kid", kid);
        }
        s.field("private", &self.is_private())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::Rsa(_) => "Rsa",
            Self::Ec(_) => "Ec",
            Self::Okp(_) => "Okp",
            Self::Oct(_) => "Oct",
        };
        write!(f, "KeyMaterial::{kind}(..)")
    }
}

macro_rules! redacted_debug {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(..)"))
            }
        }
    )*};
}
redacted_debug!(RsaKey, RsaPrivate, RsaCrt, EcKey, OkpKey, OctKey);

pub(crate) fn bit_len(be: &[u8]) -> usize {
    let be = strip_leading_zeros_ref(be);
    match be.first() {
        None => 0,
        Some(first) => be.len() * 8 - first.leading_zeros() as usize,
    }
}

fn strip_leading_zeros_ref(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

fn strip_leading_zeros(b: Vec<u8>) -> Vec<u8> {
    strip_leading_zeros_ref(&b).to_vec()
}

fn take_str(map: &mut Map<String, Value>, name: &'static str) -> Result<Option<String>> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::InvalidMember {
            member: name,
            reason: "must be a string",
        }
        .into()),
    }
}

fn req_bytes(map: &mut Map<String, Value>, name: &'static str) -> Result<Vec<u8>> {
    let text = take_str(map, name)?.ok_or(KeyError::MissingMember(name))?;
    b64::decode_secret("JWK member", &text).map_err(|_| {
        KeyError::InvalidMember {
            member: name,
            reason: "is not base64url",
        }
        .into()
    })
}

fn take_secret(map: &mut Map<String, Value>, name: &'static str) -> Result<Option<SecretBytes>> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::String(s)) => {
            let s = Zeroizing::new(s);
            let bytes =
                b64::decode_secret("JWK member", &s).map_err(|_| KeyError::InvalidMember {
                    member: name,
                    reason: "is not base64url",
                })?;
            Ok(Some(Zeroizing::new(bytes)))
        }
        Some(_) => Err(KeyError::InvalidMember {
            member: name,
            reason: "must be a string",
        }
        .into()),
    }
}
