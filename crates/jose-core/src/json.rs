//! Strict JSON for security-relevant objects: duplicate member names are rejected at every
//! level (RFC 7515 section 5.2 allows either; accepting them enables `{"alg":"HS256","alg":"none"}`
//! confusion), and nesting depth is bounded by serde_json's recursion limit (128), so 10,000
//! nested arrays give an error, not a stack overflow.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Malformed, Result};

/// Appends a JSON string (quoted and escaped as serde_json escapes it) to `out`.
pub(crate) fn write_string(out: &mut Vec<u8>, text: &str) {
    // Writing a string into a `Vec` cannot fail.
    let _ = serde_json::to_writer(out, text);
}

/// A JSON value holding secrets as compact text, written into a buffer that is wiped when it
/// grows and when it is dropped (a `String` that grows frees its old copies unwiped).
pub(crate) fn to_secret_string(value: &Value) -> Zeroizing<String> {
    let mut out = SecretBuf(Zeroizing::new(Vec::with_capacity(256)));
    // Writing a `Value` into memory cannot fail; the text is UTF-8 JSON.
    let _ = serde_json::to_writer(&mut out, value);
    Zeroizing::new(String::from_utf8(std::mem::take(&mut *out.0)).unwrap_or_default())
}

/// Pieces of secret text joined into one wiped buffer.
pub(crate) fn join_secret<'a>(parts: impl IntoIterator<Item = &'a str>) -> Zeroizing<String> {
    let mut out = SecretBuf(Zeroizing::new(Vec::with_capacity(256)));
    for p in parts {
        out.push(p.as_bytes());
    }
    Zeroizing::new(String::from_utf8(std::mem::take(&mut *out.0)).unwrap_or_default())
}

struct SecretBuf(Zeroizing<Vec<u8>>);

impl SecretBuf {
    fn push(&mut self, bytes: &[u8]) {
        if self.0.len() + bytes.len() > self.0.capacity() {
            let want = (self.0.len() + bytes.len()).max(2 * self.0.capacity());
            let mut bigger = Zeroizing::new(Vec::with_capacity(want));
            bigger.extend_from_slice(&self.0);
            // The old buffer is wiped as it is dropped here.
            self.0 = bigger;
        }
        self.0.extend_from_slice(bytes);
    }
}

impl std::io::Write for SecretBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Parses `bytes` as a JSON object, rejecting duplicate members anywhere inside it.
pub(crate) fn parse_object(part: &'static str, bytes: &[u8]) -> Result<Map<String, Value>> {
    match parse_value(part, bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(Malformed::Json {
            part,
            detail: "not a JSON object".into(),
        }
        .into()),
    }
}

/// Parses `bytes` as any JSON value, rejecting duplicate members anywhere inside it.
pub(crate) fn parse_value(part: &'static str, bytes: &[u8]) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict::TOP
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| parse_error(part, &e))
}

/// Parses `bytes` as JSON into the members of an object in order (`None` for valid JSON that
/// is not an object), as strictly as [`parse_value`] (a member name repeated at any depth is an
/// error), without the hashing of a map: for the claims of a JWT, which are read once, top to
/// bottom.
pub(crate) fn parse_members(
    part: &'static str,
    bytes: &[u8],
) -> Result<Option<Vec<(Name, Value)>>> {
    // JSON text is UTF-8 (RFC 8259 section 8.1): checked once over the whole text, which lets
    // serde_json read its strings without checking each again.
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(Malformed::Json {
            part,
            detail: "not UTF-8".into(),
        }
        .into());
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let members = de::Deserializer::deserialize_any(&mut de, MembersVisitor)
        .and_then(|m| de.end().map(|()| m));
    members.map_err(|e| parse_error(part, &e))
}

/// The crate's error for a serde_json error of a strict parse of `part`.
fn parse_error(part: &'static str, e: &serde_json::Error) -> crate::Error {
    let detail = e.to_string();
    match detail.strip_prefix(DUPLICATE) {
        Some(rest) => {
            let name = rest.split('\u{0}').next().unwrap_or_default().to_owned();
            Malformed::DuplicateMember { part, name }.into()
        }
        None => Malformed::Json { part, detail }.into(),
    }
}

/// A member name: one of the registered JWT claim names without an allocation, any other
/// owned.
pub(crate) type Name = Cow<'static, str>;

/// `name` as a [`Name`]: the registered names of JWT claims (RFC 7519 section 4.1) and JOSE
/// headers (RFC 7515, 7516, 7518, 7797), which nearly every token carries, without an
/// allocation.
pub(crate) fn name(name: &str) -> Name {
    let registered: &'static str = match name {
        "iss" => "iss",
        "sub" => "sub",
        "aud" => "aud",
        "exp" => "exp",
        "nbf" => "nbf",
        "iat" => "iat",
        "jti" => "jti",
        "alg" => "alg",
        "enc" => "enc",
        "kid" => "kid",
        "typ" => "typ",
        "cty" => "cty",
        "crit" => "crit",
        "b64" => "b64",
        "zip" => "zip",
        "epk" => "epk",
        "apu" => "apu",
        "apv" => "apv",
        "iv" => "iv",
        "tag" => "tag",
        "p2s" => "p2s",
        "p2c" => "p2c",
        _ => return Cow::Owned(name.to_owned()),
    };
    Cow::Borrowed(registered)
}

/// The first name that appears twice among `names`.
pub(crate) fn repeated_name<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let mut seen = DistinctNames::default();
    names.into_iter().find(|n| !seen.insert(n))
}

/// The names seen so far in one object, to find a repeated one: compared one by one while they
/// are few, through a hash set past [`LINEAR_DUPLICATE_CHECK`] (so thousands of members cost
/// linear time, not quadratic).
#[derive(Default)]
struct DistinctNames<'a> {
    few: Vec<&'a str>,
    many: Option<std::collections::HashSet<&'a str>>,
}

impl<'a> DistinctNames<'a> {
    /// Adds `name`; `false` when it was there already.
    fn insert(&mut self, name: &'a str) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name);
        }
        if self.few.iter().any(|n| same(n, name)) {
            return false;
        }
        self.few.push(name);
        if self.few.len() > LINEAR_DUPLICATE_CHECK {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// The value of member `name` in an object held as a list of members.
pub(crate) fn member<'a>(members: &'a [(Name, Value)], name: &str) -> Option<&'a Value> {
    members
        .iter()
        .find(|(n, _)| same(n, name))
        .map(|(_, value)| value)
}

/// Sets member `name`: a member already present keeps its place and takes the new value (as
/// in a JSON map); a new one goes last.
pub(crate) fn set_member(members: &mut Vec<(Name, Value)>, name: &str, value: Value) {
    match members.iter_mut().find(|(n, _)| same(n, name)) {
        Some((_, slot)) => *slot = value,
        None => members.push((self::name(name), value)),
    }
}

/// Whether two lists of members (each name once) are equal as JSON objects: the same names
/// with equal values, in any order.
pub(crate) fn same_members(a: &[(Name, Value)], b: &[(Name, Value)]) -> bool {
    a.len() == b.len() && a.iter().all(|(name, value)| member(b, name) == Some(value))
}

/// String equality compared byte by byte in place (names are a few bytes: cheaper than a
/// call to `memcmp`).
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Reads a member name as a [`Name`].
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Name;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Name, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed {
    type Value = Name;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_str<E>(self, v: &str) -> Result<Name, E> {
        Ok(name(v))
    }
}

/// The members of a top-level object, in order; values are [`Strict`]. Another value is
/// checked as strictly and read as `None`.
struct MembersVisitor;

/// Up to this many members, a new name is compared with each earlier one; past it, the names
/// go into a hash set (an object of thousands of members costs linear time, not quadratic).
const LINEAR_DUPLICATE_CHECK: usize = 16;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Option<Vec<(Name, Value)>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        // Checked to the end (a repeated name inside is still an error), then dropped.
        let mut items = StrictVisitor(Strict::NESTED).visit_seq(seq)?;
        wipe(&mut items);
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Vec<(Name, Value)> = Vec::with_capacity(Strict::TOP.members);
        let filled = (|| {
            while let Some(key) = map.next_key_seed(NameSeed)? {
                let value = map.next_value_seed(Strict::NESTED)?;
                out.push((key, value));
            }
            // The first name that repeats an earlier one, as a map parser would stop at it.
            if let Some(name) = repeated_name(out.iter().map(|(n, _)| n.as_ref())) {
                // The NUL ends the name; serde_json appends the position after it.
                return Err(de::Error::custom(format!("{DUPLICATE}{name}\u{0}")));
            }
            Ok(())
        })();
        filled
            .inspect_err(|_| out.iter_mut().for_each(|(_, v)| wipe(v)))
            .map(|()| Some(out))
    }
}

/// Refuses a token longer than `limit` bytes, before any parsing.
pub(crate) fn check_token_len(token: &str, limit: usize) -> Result<()> {
    if token.len() > limit {
        return Err(Malformed::TooLarge {
            what: "token",
            limit,
        }
        .into());
    }
    Ok(())
}

/// Whether a token is in a JSON serialization (an object) rather than the compact one.
pub(crate) fn is_json_serialization(token: &str) -> bool {
    token.trim_start().starts_with('{')
}

const DUPLICATE: &str = "duplicate member: ";

/// Deserializes a JSON object from any serde deserializer (serde's `Deserialize` for the
/// crate's JSON types), as strictly as [`parse_object`]: a member name repeated at any depth
/// is an error, not "the last one wins".
pub(crate) fn deserialize_object<'de, D: de::Deserializer<'de>>(
    d: D,
    part: &'static str,
) -> std::result::Result<Map<String, Value>, D::Error> {
    // The duplicate-member message ends the name with a NUL for `parse_value`; a serde user
    // reads it as text.
    let value = Strict::TOP.deserialize(d).map_err(|e| {
        let text = e.to_string();
        if text.starts_with(DUPLICATE) {
            de::Error::custom(text.replace('\u{0}', ""))
        } else {
            e
        }
    })?;
    match value {
        Value::Object(map) => Ok(map),
        mut other => {
            wipe(&mut other);
            Err(de::Error::custom(format!("{part}: not a JSON object")))
        }
    }
}

/// A strict JSON value; `members` is the room an object at this level starts with.
#[derive(Clone, Copy)]
struct Strict {
    members: usize,
}

impl Strict {
    /// A document: a header or claims, which typically have a few to a dozen members (a map
    /// sized for them is not rehashed as it fills).
    const TOP: Self = Self { members: 8 };
    /// A value inside a document.
    const NESTED: Self = Self { members: 0 };
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor(self))
    }
}

struct StrictVisitor(Strict);

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Value::Array(Vec::new());
        let filled = (|| {
            while let Some(v) = seq.next_element_seed(Strict::NESTED)? {
                if let Value::Array(items) = &mut out {
                    items.push(v);
                }
            }
            Ok(())
        })();
        // A document that fails to parse may still hold private key members read so far.
        filled.inspect_err(|_| wipe(&mut out)).map(|()| out)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Value::Object(Map::with_capacity(self.0.members));
        let filled = (|| {
            while let Some(key) = map.next_key::<String>()? {
                let Value::Object(members) = &mut out else {
                    break;
                };
                // One lookup: the member's slot is found (or the duplicate refused) before its
                // value is read.
                match members.entry(key) {
                    Entry::Occupied(taken) => {
                        // The NUL ends the name; serde_json appends the position after it.
                        return Err(de::Error::custom(format!(
                            "{DUPLICATE}{}\u{0}",
                            taken.key()
                        )));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(map.next_value_seed(Strict::NESTED)?);
                    }
                }
            }
            Ok(())
        })();
        filled.inspect_err(|_| wipe(&mut out)).map(|()| out)
    }
}

/// Overwrites every string inside `value` with zeros (the value is dropped afterwards): for
/// parsed JSON that may hold private key members (`d`, `k`...) on a path that discards it.
pub(crate) fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(members) => members.values_mut().for_each(wipe),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn accepts_plain_objects() {
        let m = parse_object("header", br#"{"alg":"HS256","n":[1,{"a":null}],"x":1.5}"#).unwrap();
        assert_eq!(m["alg"], "HS256");
    }

    #[test]
    fn rejects_duplicate_members_at_any_depth() {
        for input in [
            r#"{"alg":"HS256","alg":"none"}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"c":1,"c":1}]}"#,
        ] {
            let err = parse_object("header", input.as_bytes()).unwrap_err();
            assert!(
                matches!(err, Error::Malformed(Malformed::DuplicateMember { .. })),
                "{input}: {err:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_a_clean_error() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(
            parse_value("claims", deep.as_bytes())
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. })))
        );
        let deep_obj = r#"{"a":"#.repeat(10_000) + "1" + &"}".repeat(10_000);
        assert!(
            parse_object("claims", deep_obj.as_bytes())
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. })))
        );
    }

    #[test]
    fn rejects_trailing_data_and_non_objects() {
        assert!(
            parse_object("header", br#"{"a":1} x"#)
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. })))
        );
        assert!(
            parse_object("header", b"[1]")
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. })))
        );
        assert!(
            parse_object("header", b"")
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. })))
        );
    }

    /// The member list (claims, headers) refuses what the map parser refuses, names the
    /// repeated member, keeps the order, and finds a repeat among many members (the hash-set
    /// path past 16) as among few.
    #[test]
    fn member_lists_are_as_strict_as_maps() {
        let dup = |input: &str| match parse_members("claims", input.as_bytes()) {
            Err(Error::Malformed(Malformed::DuplicateMember { name, .. })) => name,
            other => panic!("{input}: {other:?}"),
        };
        assert_eq!(dup(r#"{"exp":1,"exp":2}"#), "exp");
        assert_eq!(dup(r#"{"a":{"b":1,"b":2}}"#), "b");
        assert_eq!(dup(r#"{"a":[{"c":1,"c":1}]}"#), "c");
        let many: Vec<String> = (0..40).map(|i| format!(r#""m{i}":{i}"#)).collect();
        assert_eq!(dup(&format!("{{{},\"m33\":0}}", many.join(","))), "m33");
        assert_eq!(dup(&format!("{{{},\"m3\":0}}", many.join(","))), "m3");
        let members = parse_members("claims", format!("{{{}}}", many.join(",")).as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(members.len(), 40);
        assert!(
            members
                .iter()
                .enumerate()
                .all(|(i, (n, _))| *n == format!("m{i}"))
        );
        // Valid JSON that is not an object is `None` (checked as strictly: a repeat inside an
        // array is still an error); text that is not JSON, or not UTF-8, is an error.
        assert!(matches!(parse_members("claims", b"[1,\"a\"]"), Ok(None)));
        assert!(matches!(parse_members("claims", b"7"), Ok(None)));
        assert_eq!(dup(r#"[{"x":1,"x":1}]"#), "x");
        for bad in [&b"{\"a\":1} x"[..], b"", b"{\"a\":\"\xff\"}", b"{\"a\":1"] {
            assert!(
                matches!(
                    parse_members("claims", bad),
                    Err(Error::Malformed(Malformed::Json { part: "claims", .. }))
                ),
                "{bad:?}"
            );
        }
    }

    /// Registered names are borrowed, others owned; equality of member lists is that of JSON
    /// objects (any order).
    #[test]
    fn names_and_member_equality() {
        assert!(matches!(name("exp"), Cow::Borrowed("exp")));
        assert!(matches!(name("kid"), Cow::Borrowed("kid")));
        assert!(matches!(name("scope"), Cow::Owned(_)));
        let a = parse_members("h", br#"{"a":1,"b":[2]}"#).unwrap().unwrap();
        let b = parse_members("h", br#"{"b":[2],"a":1}"#).unwrap().unwrap();
        let c = parse_members("h", br#"{"b":[2],"a":2}"#).unwrap().unwrap();
        assert!(same_members(&a, &b));
        assert!(!same_members(&a, &c));
        assert!(!same_members(&a, &a[..1]));
        assert_eq!(repeated_name(["a", "b", "a"].into_iter()), Some("a"));
        let many: Vec<String> = (0..30).map(|i| format!("n{i}")).collect();
        let names = many.iter().map(String::as_str);
        assert_eq!(repeated_name(names.clone()), None);
        assert_eq!(repeated_name(names.chain(["n29"])), Some("n29"));
    }
}
