//! JOSE headers (RFC 7515 section 4, RFC 7516 section 4): a JSON object with typed accessors.
//!
//! Registered members are type-checked when a header is parsed, so the accessors below never
//! have to guess: a `kid` that is not a string is a parse error, not an absent `kid`.

use serde_json::{Map, Value};

use crate::error::{Malformed, Result};
use crate::json::{self, Name};

/// A JOSE header: protected, unprotected, or the union of both.
///
/// ```
/// use jose_core::Header;
/// let mut h = Header::new();
/// h.set("kid", "2026-11").set("typ", "JWT");
/// assert_eq!(h.kid(), Some("2026-11"));
/// assert_eq!(h.to_json(), r#"{"kid":"2026-11","typ":"JWT"}"#);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// The members in order, each name once: a list, not a map (a header has a handful of
    /// members, found faster by comparing names than by hashing them).
    members: Vec<(Name, Value)>,
}

/// Equal headers have the same members with equal values, in any order (as JSON objects).
impl PartialEq for Header {
    fn eq(&self, other: &Self) -> bool {
        json::same_members(&self.members, &other.members)
    }
}

/// Members whose value must be a string.
const STRING_MEMBERS: &[&str] = &[
    "alg", "enc", "kid", "typ", "cty", "zip", "jku", "x5u", "x5t", "x5t#S256", "apu", "apv", "iv",
    "tag",
];

/// Header names defined by RFC 7515/7516/7518, which may not appear in `crit`.
pub(crate) const REGISTERED: &[&str] = &[
    "alg", "enc", "zip", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty",
    "crit", "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
];

impl Header {
    /// An empty header.
    pub fn new() -> Self {
        Self::default()
    }

    /// A header from a JSON object, with its registered members type-checked.
    pub fn from_map(members: Map<String, Value>) -> Result<Self> {
        let header = Self {
            members: members
                .into_iter()
                .map(|(n, v)| (json::name(&n), v))
                .collect(),
        };
        header.check_types()?;
        Ok(header)
    }

    /// Parses a header from JSON bytes (strict: duplicate members are rejected).
    pub(crate) fn parse(part: &'static str, bytes: &[u8]) -> Result<Self> {
        let members = json::parse_members(part, bytes)?.ok_or_else(|| Malformed::Json {
            part,
            detail: "not a JSON object".into(),
        })?;
        let header = Self { members };
        header.check_types()?;
        Ok(header)
    }

    pub(crate) fn check_types(&self) -> Result<()> {
        for (name, value) in &self.members {
            let ok = match name.as_ref() {
                n if STRING_MEMBERS.contains(&n) => value.is_string(),
                "b64" => value.is_boolean(),
                "crit" => value
                    .as_array()
                    .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)),
                "jwk" | "epk" => value.is_object(),
                "x5c" => value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
                "p2c" => value.is_u64(),
                _ => true,
            };
            if !ok {
                return Err(Malformed::Header {
                    member: name.to_string(),
                    reason: "has the wrong type",
                }
                .into());
            }
        }
        Ok(())
    }

    /// Sets a member, replacing any previous value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        json::set_member(&mut self.members, &name.into(), value.into());
        self
    }

    /// Sets a member and returns the header (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    /// Removes a member (the others keep their order).
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let at = self.members.iter().position(|(n, _)| json::same(n, name))?;
        Some(self.members.remove(at).1)
    }

    /// A member's value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        json::member(&self.members, name)
    }

    /// Whether the header has this member.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A string member (`None` when absent; registered members are type-checked on parse).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// The members in order, name and value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.members.iter().map(|(n, v)| (n.as_ref(), v))
    }

    /// `alg`.
    pub fn alg(&self) -> Option<&str> {
        self.get_str("alg")
    }

    /// `enc`.
    pub fn enc(&self) -> Option<&str> {
        self.get_str("enc")
    }

    /// `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.get_str("kid")
    }

    /// `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.get_str("typ")
    }

    /// `cty`.
    pub fn cty(&self) -> Option<&str> {
        self.get_str("cty")
    }

    /// `b64` (RFC 7797); `true` when absent.
    pub fn b64(&self) -> bool {
        self.get("b64").and_then(Value::as_bool).unwrap_or(true)
    }

    /// The names listed in `crit`, if any.
    pub fn crit(&self) -> Option<Vec<&str>> {
        self.get("crit")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
    }

    /// The members as a JSON object (a copy, in order).
    pub fn to_map(&self) -> Map<String, Value> {
        self.members
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect()
    }

    /// Consumes the header, returning its members as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.members
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v))
            .collect()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the header has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Iterates over the member names.
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.members.iter().map(|(n, _)| n.as_ref())
    }

    /// The header as compact JSON.
    pub fn to_json(&self) -> String {
        // Serializing string keys and JSON values into a `String` cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Appends [`to_json`](Self::to_json)'s text to `out`.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        // Writing string keys and JSON values into a `Vec` cannot fail.
        let _ = serde_json::to_writer(out, self);
    }

    /// The union of several headers, which must have no member name in common
    /// (RFC 7515 section 7.2.1, RFC 7516 section 7.2.1).
    pub fn joint<'a>(parts: impl IntoIterator<Item = &'a Header>) -> Result<Header> {
        let mut out = Header::new();
        for part in parts {
            out.members.extend(part.members.iter().cloned());
        }
        if let Some(name) = json::repeated_name(out.names()) {
            return Err(Malformed::HeaderCollision(name.to_owned()).into());
        }
        Ok(out)
    }
}

/// Serializes the header as its JSON object.
impl serde::Serialize for Header {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.members.iter().map(|(n, v)| (n.as_ref(), v)))
    }
}

/// Deserializes a header as a parsed one is read: strict (a member name repeated at any depth
/// is an error, where serde_json's `Value` would keep the last one), with the registered
/// members type-checked as by [`Header::from_map`].
impl<'de> serde::Deserialize<'de> for Header {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let members = json::deserialize_object(d, "header")?;
        Self::from_map(members).map_err(serde::de::Error::custom)
    }
}

/// Checks `crit` (RFC 7515 section 4.1.11): only in the protected header, a non-empty list of
/// names that are not registered, each present in the header and understood by the caller.
pub(crate) fn check_crit(
    protected: &Header,
    unprotected: &[&Header],
    understood: &[&str],
) -> Result<()> {
    if unprotected.iter().any(|h| h.contains("crit")) {
        return Err(Malformed::Header {
            member: "crit".into(),
            reason: "must be integrity protected",
        }
        .into());
    }
    let Some(names) = protected.crit() else {
        return Ok(());
    };
    for name in names {
        if REGISTERED.contains(&name) {
            return Err(Malformed::Header {
                member: "crit".into(),
                reason: "lists a registered header name",
            }
            .into());
        }
        if !protected.contains(name) {
            return Err(Malformed::Header {
                member: "crit".into(),
                reason: "lists a name absent from the header",
            }
            .into());
        }
        if !understood.contains(&name) {
            return Err(Malformed::Critical(name.to_owned()).into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn parse(s: &str) -> Result<Header> {
        Header::parse("header", s.as_bytes())
    }

    #[test]
    fn typed_members_are_checked() {
        assert!(
            parse(r#"{"alg":1}"#)
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { .. })))
        );
        assert!(
            parse(r#"{"kid":{"a":1}}"#)
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { .. })))
        );
        assert!(
            parse(r#"{"b64":"false"}"#)
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { .. })))
        );
        assert!(
            parse(r#"{"crit":[]}"#)
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { .. })))
        );
        assert!(
            parse(r#"{"crit":"b64"}"#)
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { .. })))
        );
        assert!(parse(r#"{"alg":"ES256","kid":"a","b64":false,"crit":["b64"],"x":[1]}"#).is_ok());
    }

    #[test]
    fn joint_rejects_collisions() {
        let a = parse(r#"{"alg":"ES256"}"#).unwrap();
        let b = parse(r#"{"alg":"HS256"}"#).unwrap();
        assert!(matches!(
            Header::joint([&a, &b]),
            Err(Error::Malformed(Malformed::HeaderCollision(_)))
        ));
        let c = parse(r#"{"kid":"k"}"#).unwrap();
        assert_eq!(Header::joint([&a, &c]).unwrap().len(), 2);
    }

    #[test]
    fn crit_rules() {
        let h = |s: &str| parse(s).unwrap();
        let ok = h(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#);
        assert!(check_crit(&ok, &[], &["exp"]).is_ok());
        assert!(matches!(
            check_crit(&ok, &[], &[]),
            Err(Error::Malformed(Malformed::Critical(_)))
        ));
        assert!(
            check_crit(&h(r#"{"crit":["exp"]}"#), &[], &["exp"]).is_err_and(|e| matches!(
                e,
                Error::Malformed(Malformed::Header {
                    reason: "lists a name absent from the header",
                    ..
                })
            )),
            "absent name"
        );
        assert!(
            check_crit(&h(r#"{"crit":["alg"],"alg":"HS256"}"#), &[], &["alg"]).is_err_and(
                |e| matches!(
                    e,
                    Error::Malformed(Malformed::Header {
                        reason: "lists a registered header name",
                        ..
                    })
                )
            ),
            "registered"
        );
        let unprot = h(r#"{"crit":["exp"]}"#);
        assert!(
            check_crit(&h("{}"), &[&unprot], &["exp"]).is_err_and(|e| matches!(
                e,
                Error::Malformed(Malformed::Header {
                    reason: "must be integrity protected",
                    ..
                })
            )),
            "unprotected crit"
        );
    }
}
