//! serde for [`Jwk`] and [`JwkSet`]: public members by default, private members only through
//! [`with_private`].
//!
//! Deserialization validates exactly as [`Jwk::from_json`] and [`JwkSet::from_json`] do,
//! strictness included: the object is read through the crate's strict JSON reader, so a member
//! name repeated at any depth is an error (serde_json's own `Value` would keep the last one).

use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::{Jwk, JwkSet};
use crate::error::KeyError;

/// The error for a private key met on the public path.
fn private_refused(kty: &str) -> KeyError {
    KeyError::InvalidMember {
        member: if kty == "oct" { "k" } else { "d" },
        reason: "private key members are (de)serialized only through jose_core::jwk::with_private",
    }
}

/// Serializes the public members only; a symmetric key, which has no public part, is an
/// error (serialize it through [`with_private`]).
impl Serialize for Jwk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.kty() == "oct" {
            return Err(S::Error::custom(private_refused("oct")));
        }
        self.members(false).serialize(s)
    }
}

/// Deserializes a public JWK, validated as by [`Jwk::from_json`]; a JWK with private members
/// (or a symmetric key) is refused (deserialize it through [`with_private`]); the private
/// members read are zeroized.
impl<'de> Deserialize<'de> for Jwk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let jwk: Jwk = with_private::deserialize(d)?;
        if jwk.is_private() {
            return Err(D::Error::custom(private_refused(jwk.kty())));
        }
        Ok(jwk)
    }
}

/// Serializes the public JWK Set, as [`JwkSet::to_public_value`]: symmetric keys are left out.
impl Serialize for JwkSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .filter(|k| k.kty() != "oct")
            .map(|k| Value::Object(k.members(false)))
            .collect();
        let mut map = serde_json::Map::new();
        map.insert("keys".into(), Value::Array(keys));
        map.serialize(s)
    }
}

/// Deserializes a JWK Set of public keys, validated as by [`JwkSet::from_json`] (keys of an
/// unsupported `kty` or curve are skipped, an invalid key is an error); a set with a private
/// or symmetric key is refused (deserialize it through [`with_private`]).
impl<'de> Deserialize<'de> for JwkSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let set: JwkSet = with_private::deserialize(d)?;
        if let Some(private) = set.keys.iter().find(|k| k.is_private()) {
            return Err(D::Error::custom(private_refused(private.kty())));
        }
        Ok(set)
    }
}

/// The explicit path for private keys in serde: `#[serde(with = "jose_core::jwk::with_private")]`
/// on a [`Jwk`] or [`JwkSet`] field serializes and deserializes private members too (and
/// symmetric keys).
///
/// ```
/// use jose_core::jwk::{EcCurve, Jwk};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct SignerConfig {
///     #[serde(with = "jose_core::jwk::with_private")]
///     key: Jwk,
/// }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config = SignerConfig { key: Jwk::generate_ec(EcCurve::P256)?.with_kid("s1") };
/// let text = zeroize::Zeroizing::new(serde_json::to_string(&config)?);
/// assert!(text.contains(r#""d":"#));
/// let again: SignerConfig = serde_json::from_str(&text)?;
/// assert!(again.key.is_private());
/// # Ok(()) }
/// ```
///
/// The serializer receives the private members as strings: whatever it writes them into
/// (a `String`, a file) is the caller's to protect and wipe.
pub mod with_private {
    use super::*;

    /// A key type that has a private serde path: [`Jwk`] and [`JwkSet`].
    pub trait PrivateSerde: Sized + private::Sealed {
        #[doc(hidden)]
        fn to_private_value(&self) -> Value;
        #[doc(hidden)]
        fn from_private_map(map: serde_json::Map<String, Value>) -> crate::Result<Self>;
    }

    mod private {
        pub trait Sealed {}
        impl Sealed for super::Jwk {}
        impl Sealed for super::JwkSet {}
    }

    impl PrivateSerde for Jwk {
        fn to_private_value(&self) -> Value {
            Value::Object(self.members(true))
        }
        fn from_private_map(map: serde_json::Map<String, Value>) -> crate::Result<Self> {
            Jwk::from_map(map)
        }
    }

    impl PrivateSerde for JwkSet {
        fn to_private_value(&self) -> Value {
            let keys = self
                .keys
                .iter()
                .map(|k| Value::Object(k.members(true)))
                .collect();
            let mut map = serde_json::Map::new();
            map.insert("keys".into(), Value::Array(keys));
            Value::Object(map)
        }
        fn from_private_map(map: serde_json::Map<String, Value>) -> crate::Result<Self> {
            JwkSet::from_map(map)
        }
    }

    /// Serializes every member, private ones included.
    pub fn serialize<T: PrivateSerde, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        let mut v = value.to_private_value();
        let out = v.serialize(s);
        crate::json::wipe(&mut v);
        out
    }

    /// Deserializes a key or set, private members included, validated as `from_json` does.
    pub fn deserialize<'de, T: PrivateSerde, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let map = crate::json::deserialize_object(d, "JWK")?;
        T::from_private_map(map).map_err(D::Error::custom)
    }
}
