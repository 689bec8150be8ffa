//! JWT claims (RFC 7519 section 4): a JSON object whose registered claims are type-checked.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ClaimsError, Result};
use crate::json::{self, Name};

/// The claims of a JWT: a JSON object, with typed access to the registered claims.
///
/// Registered claims are type-checked whenever claims are built or parsed: `iss`, `sub` and
/// `jti` are strings, `aud` a string or an array of strings, `exp`, `nbf` and `iat` numbers
/// (NumericDate, seconds since the epoch). A claim of the wrong type is an error, never
/// treated as absent.
///
/// ```
/// use jose_core::jwt::Claims;
/// # fn main() -> Result<(), jose_core::Error> {
/// let claims = Claims::new()
///     .issuer("https://issuer.example")
///     .subject("user-42")
///     .audience("api")
///     .expires_at(2_000_000_000)
///     .with("scope", "read write");
/// assert_eq!(claims.sub(), Some("user-42"));
/// assert_eq!(claims.aud(), vec!["api"]);
/// assert_eq!(claims.exp(), Some(2_000_000_000));
/// assert!(matches!(
///     Claims::from_json(r#"{"exp":"never"}"#),
///     Err(jose_core::Error::Claims(jose_core::error::ClaimsError::WrongType(_)))
/// ));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Claims {
    /// The members in order, each name once. A list, not a map: claims are a dozen members or
    /// so, found faster by comparing names than by hashing them, and a token's claims are parsed
    /// into it without building a hash table (the JOSE work of a JWT verification is a tenth of
    /// an RSA verification's, and this is most of it).
    members: Vec<(Name, Value)>,
}

/// Equal claims have the same members with equal values, in any order (as JSON objects).
impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        json::same_members(&self.members, &other.members)
    }
}

/// The registered claims of one [`Claims`] that a validation reads (see
/// [`Claims::registered`]).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Registered<'c> {
    pub(crate) exp: Option<&'c Value>,
    pub(crate) nbf: Option<&'c Value>,
    pub(crate) iat: Option<&'c Value>,
    pub(crate) iss: Option<&'c Value>,
    pub(crate) sub: Option<&'c Value>,
    pub(crate) aud: Option<&'c Value>,
}

impl<'c> Registered<'c> {
    /// Whether the claim `name` is present (`claims` answers for the unregistered ones).
    pub(crate) fn contains(&self, claims: &Claims, name: &str) -> bool {
        match name {
            "exp" => self.exp.is_some(),
            "nbf" => self.nbf.is_some(),
            "iat" => self.iat.is_some(),
            "iss" => self.iss.is_some(),
            "sub" => self.sub.is_some(),
            "aud" => self.aud.is_some(),
            other => claims.contains(other),
        }
    }

    /// A NumericDate claim as a number of seconds (fractions kept).
    pub(crate) fn date(value: Option<&Value>) -> Option<f64> {
        value.and_then(Value::as_f64)
    }

    /// `aud` as an iterator (one string, or the strings of the array).
    pub(crate) fn aud(&self) -> impl Iterator<Item = &'c str> {
        let (one, many) = match self.aud {
            Some(Value::String(s)) => (Some(s.as_str()), None),
            Some(Value::Array(items)) => (None, Some(items.iter().filter_map(Value::as_str))),
            _ => (None, None),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

const STRING_CLAIMS: &[&str] = &["iss", "sub", "jti"];
const DATE_CLAIMS: &[&str] = &["exp", "nbf", "iat"];

fn wrong_type(name: &str) -> crate::Error {
    ClaimsError::WrongType(name.to_owned()).into()
}

impl Claims {
    /// No claims.
    pub fn new() -> Self {
        Self::default()
    }

    /// Claims from a JSON object, with the registered claims type-checked.
    pub fn from_map(map: Map<String, Value>) -> Result<Self> {
        let claims = Self {
            members: map.into_iter().map(|(n, v)| (json::name(&n), v)).collect(),
        };
        claims.check_types()?;
        Ok(claims)
    }

    /// Claims from JSON text (strict: duplicate members are rejected, nesting is bounded).
    pub fn from_json(text: &str) -> Result<Self> {
        Self::parse(text.as_bytes())
    }

    /// Claims from any serializable value that serializes to a JSON object.
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        match serde_json::to_value(value) {
            Ok(Value::Object(map)) => Self::from_map(map),
            Ok(_) => Err(ClaimsError::NotAnObject.into()),
            Err(e) => Err(ClaimsError::Deserialize(e.to_string()).into()),
        }
    }

    /// Parses a JWT payload.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self> {
        let members = json::parse_members("claims", bytes)?.ok_or(ClaimsError::NotAnObject)?;
        let claims = Self { members };
        claims.check_types()?;
        Ok(claims)
    }

    /// Type-checks the registered claims (claims built member by member are checked only when
    /// they are signed, encrypted or validated).
    pub(crate) fn check_types(&self) -> Result<()> {
        for (name, value) in &self.members {
            let ok = match name.as_ref() {
                n if STRING_CLAIMS.contains(&n) => value.is_string(),
                n if DATE_CLAIMS.contains(&n) => value.is_number(),
                "aud" => match value {
                    Value::String(_) => true,
                    Value::Array(items) => items.iter().all(Value::is_string),
                    _ => false,
                },
                _ => true,
            };
            if !ok {
                return Err(wrong_type(name));
            }
        }
        Ok(())
    }

    /// Sets a claim (builder style). Registered claims of the wrong type are refused when the
    /// claims are signed or encrypted.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(name.into(), value.into());
        self
    }

    /// Sets a claim in place.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.insert(name.into(), value.into());
        self
    }

    /// A claim already present keeps its place and takes the new value (as in a JSON map).
    fn insert(&mut self, name: String, value: Value) {
        json::set_member(&mut self.members, &name, value);
    }

    /// Removes a claim, returning its value.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.members.iter().position(|(n, _)| json::same(n, name))?;
        Some(self.members.remove(at).1)
    }

    /// Sets `iss`.
    pub fn issuer(self, iss: impl Into<String>) -> Self {
        self.with("iss", iss.into())
    }

    /// Sets `sub`.
    pub fn subject(self, sub: impl Into<String>) -> Self {
        self.with("sub", sub.into())
    }

    /// Sets `aud` to one audience (a string).
    pub fn audience(self, aud: impl Into<String>) -> Self {
        self.with("aud", aud.into())
    }

    /// Sets `aud` to several audiences (an array).
    pub fn audiences<S: Into<String>>(self, aud: impl IntoIterator<Item = S>) -> Self {
        let list: Vec<Value> = aud.into_iter().map(|a| Value::String(a.into())).collect();
        self.with("aud", list)
    }

    /// Sets `exp`, in seconds since the epoch.
    pub fn expires_at(self, exp: i64) -> Self {
        self.with("exp", exp)
    }

    /// Sets `nbf`, in seconds since the epoch.
    pub fn not_before(self, nbf: i64) -> Self {
        self.with("nbf", nbf)
    }

    /// Sets `iat`, in seconds since the epoch.
    pub fn issued_at(self, iat: i64) -> Self {
        self.with("iat", iat)
    }

    /// Sets `jti`.
    pub fn jwt_id(self, jti: impl Into<String>) -> Self {
        self.with("jti", jti.into())
    }

    /// A claim's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        json::member(&self.members, name)
    }

    /// The claims in order, name and value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.members.iter().map(|(n, v)| (n.as_ref(), v))
    }

    /// The number of claims.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no claims.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// `iss`.
    pub fn iss(&self) -> Option<&str> {
        self.get("iss").and_then(Value::as_str)
    }

    /// `sub`.
    pub fn sub(&self) -> Option<&str> {
        self.get("sub").and_then(Value::as_str)
    }

    /// `jti`.
    pub fn jti(&self) -> Option<&str> {
        self.get("jti").and_then(Value::as_str)
    }

    /// `aud` as a list (one element for a string; empty when absent).
    pub fn aud(&self) -> Vec<&str> {
        match self.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The registered claims a validation reads, found in one pass over the claims instead of
    /// one map lookup each.
    pub(crate) fn registered(&self) -> Registered<'_> {
        let mut r = Registered::default();
        for (name, value) in &self.members {
            let slot = match name.as_ref() {
                "exp" => &mut r.exp,
                "nbf" => &mut r.nbf,
                "iat" => &mut r.iat,
                "iss" => &mut r.iss,
                "sub" => &mut r.sub,
                "aud" => &mut r.aud,
                _ => continue,
            };
            *slot = Some(value);
        }
        r
    }

    fn whole_seconds(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            Value::Number(n) => n.as_i64().or_else(|| {
                // A fractional or huge date: whole seconds, saturating.
                #[allow(clippy::cast_possible_truncation)]
                n.as_f64().map(|f| f.floor() as i64)
            }),
            _ => None,
        }
    }

    /// `exp`, in whole seconds since the epoch.
    pub fn exp(&self) -> Option<i64> {
        self.whole_seconds("exp")
    }

    /// `nbf`, in whole seconds since the epoch.
    pub fn nbf(&self) -> Option<i64> {
        self.whole_seconds("nbf")
    }

    /// `iat`, in whole seconds since the epoch.
    pub fn iat(&self) -> Option<i64> {
        self.whole_seconds("iat")
    }

    /// Whether the claim is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The claims as a JSON object (a copy, members in order).
    pub fn to_map(&self) -> Map<String, Value> {
        self.members
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    /// Consumes the claims, returning the JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.members
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v))
            .collect()
    }

    /// Converts the claims into the caller's type.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(Value::Object(self.to_map()))
            .map_err(|e| ClaimsError::Deserialize(e.to_string()).into())
    }

    /// The claims as compact JSON, members in insertion order.
    pub fn to_json(&self) -> String {
        // Serializing string keys and JSON values into a `String` cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Appends [`to_json`](Self::to_json)'s text to `out`.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        // Writing string keys and JSON values into a `Vec` cannot fail.
        let _ = serde_json::to_writer(out, self);
    }
}

/// Serializes the claims as their JSON object, members in order.
impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.members.iter().map(|(n, v)| (n.as_ref(), v)))
    }
}

/// Deserializes claims as [`Claims::from_json`] reads them: strict (a member name repeated at
/// any depth is an error, where serde_json's `Value` would keep the last one), with the
/// registered claims type-checked.
///
/// (Use [`Claims::deserialize`], the inherent method, to turn claims into your own type.)
impl<'de> serde::Deserialize<'de> for Claims {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let map = json::deserialize_object(d, "claims")?;
        Self::from_map(map).map_err(serde::de::Error::custom)
    }
}
