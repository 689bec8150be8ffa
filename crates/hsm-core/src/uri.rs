//! [`Pkcs11Uri`]: `pkcs11:` URIs (RFC 7512) naming a module, a token and a key.
//!
//! ```
//! use hsm_core::uri::{ObjectType, Pkcs11Uri};
//!
//! let uri: Pkcs11Uri =
//!     "pkcs11:token=signing;object=ec-p256;id=%02%00;type=private?pin-value=1234".parse()?;
//! assert_eq!(uri.token(), Some("signing"));
//! assert_eq!(uri.object(), Some("ec-p256"));
//! assert_eq!(uri.id(), Some(&[0x02, 0x00][..]));
//! assert_eq!(uri.object_type(), Some(ObjectType::Private));
//! assert!(uri.pin_value().is_some());
//! // Display never shows the PIN.
//! assert_eq!(uri.to_string(), "pkcs11:token=signing;object=ec-p256;id=%02%00;type=private");
//! # Ok::<(), hsm_core::Error>(())
//! ```
//!
//! Parsing is strict, and total: any input gives a value or [`Error::InvalidUri`], never a
//! panic. Attribute names are case-sensitive; each attribute may appear once; values are
//! percent-decoded, and textual values must be UTF-8. Unknown path attributes are refused,
//! except vendor attributes (`x-...`), which are kept. `pin-value` and `pin-source` together
//! are refused (which one would win is not obvious).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::pin::Pin;

/// The `type` path attribute: which kind of object the URI names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// `type=public`
    Public,
    /// `type=private`
    Private,
    /// `type=secret-key`
    SecretKey,
    /// `type=cert`
    Cert,
    /// `type=data`
    Data,
}

impl ObjectType {
    fn parse(value: &str) -> Option<ObjectType> {
        match value {
            "public" => Some(ObjectType::Public),
            "private" => Some(ObjectType::Private),
            "secret-key" => Some(ObjectType::SecretKey),
            "cert" => Some(ObjectType::Cert),
            "data" => Some(ObjectType::Data),
            _ => None,
        }
    }

    /// The attribute value (`"secret-key"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Public => "public",
            ObjectType::Private => "private",
            ObjectType::SecretKey => "secret-key",
            ObjectType::Cert => "cert",
            ObjectType::Data => "data",
        }
    }
}

impl fmt::Display for ObjectType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `pkcs11:` URI. See the [module documentation](self).
///
/// `Debug` and `Display` never show `pin-value`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Pkcs11Uri {
    token: Option<String>,
    manufacturer: Option<String>,
    serial: Option<String>,
    model: Option<String>,
    library_manufacturer: Option<String>,
    library_description: Option<String>,
    library_version: Option<(u8, u8)>,
    object: Option<String>,
    object_type: Option<ObjectType>,
    id: Option<Vec<u8>>,
    slot_manufacturer: Option<String>,
    slot_description: Option<String>,
    slot_id: Option<u64>,
    vendor: Vec<(String, String)>,
    pin_source: Option<String>,
    pin_value: Option<Pin>,
    module_name: Option<String>,
    module_path: Option<String>,
}

fn invalid(reason: impl Into<String>) -> Error {
    Error::InvalidUri {
        reason: reason.into(),
    }
}

/// Characters a path attribute value may hold unencoded (RFC 7512 `pk11-pchar`).
fn path_char_ok(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'_' | b'~' | b':' | b'[' | b']' | b'@' | b'!' | b'$' | b'\''
        )
        || matches!(c, b'(' | b')' | b'*' | b'+' | b',' | b'=' | b'&')
}

/// Characters a query attribute value may hold unencoded (RFC 7512 `pk11-qchar`).
fn query_char_ok(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'_' | b'~' | b':' | b'[' | b']' | b'@' | b'!' | b'$' | b'\''
        )
        || matches!(
            c,
            b'(' | b')' | b'*' | b'+' | b',' | b';' | b'/' | b'?' | b'|' | b'='
        )
}

/// Percent-decodes `value`, allowing unencoded only the characters `ok` accepts.
fn decode(name: &str, value: &str, ok: fn(u8) -> bool) -> Result<Vec<u8>> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| {
                    u8::from_str_radix(h, 16)
                        .ok()
                        .filter(|_| h.bytes().all(|c| c.is_ascii_hexdigit()))
                })
                .ok_or_else(|| invalid(format!("bad percent-encoding in {name}")))?;
            out.push(hex);
            i += 3;
        } else if ok(b) {
            out.push(b);
            i += 1;
        } else {
            // Never echo a character of a PIN.
            return Err(invalid(if name == "pin-value" {
                format!("a character at byte {i} must be percent-encoded in {name}")
            } else {
                format!(
                    "character {:?} must be percent-encoded in {name}",
                    char::from(b)
                )
            }));
        }
    }
    Ok(out)
}

fn text(name: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| invalid(format!("{name} is not UTF-8")))
}

fn set<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<()> {
    if slot.is_some() {
        return Err(invalid(format!("attribute {name} appears twice")));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_version(value: &str) -> Option<(u8, u8)> {
    let (major, minor) = value.split_once('.').unwrap_or((value, "0"));
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

impl FromStr for Pkcs11Uri {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        // A bound far above any real URI keeps hostile input cheap.
        if input.len() > 64 * 1024 {
            return Err(invalid("longer than 64 KiB"));
        }
        let scheme_end = input
            .find(':')
            .ok_or_else(|| invalid("no scheme (expected pkcs11:)"))?;
        if !input[..scheme_end].eq_ignore_ascii_case("pkcs11") {
            return Err(invalid("the scheme is not pkcs11:"));
        }
        let rest = &input[scheme_end + 1..];
        if rest.contains('#') {
            return Err(invalid("fragments (#) are not allowed"));
        }
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        let mut uri = Pkcs11Uri::default();
        if !path.is_empty() {
            for attribute in path.split(';') {
                uri.parse_path_attribute(attribute)?;
            }
        }
        if let Some(query) = query {
            if query.is_empty() {
                return Err(invalid("empty query"));
            }
            for attribute in query.split('&') {
                uri.parse_query_attribute(attribute)?;
            }
        }
        if uri.pin_value.is_some() && uri.pin_source.is_some() {
            return Err(invalid("pin-value and pin-source are both present"));
        }
        Ok(uri)
    }
}

impl Pkcs11Uri {
    fn parse_path_attribute(&mut self, attribute: &str) -> Result<()> {
        let (name, raw) = attribute.split_once('=').ok_or_else(|| {
            invalid(format!(
                "path attribute without '=': {:?}",
                truncate(attribute)
            ))
        })?;
        let value = decode(name, raw, path_char_ok)?;
        match name {
            "token" => set(&mut self.token, name, text(name, value)?),
            "manufacturer" => set(&mut self.manufacturer, name, text(name, value)?),
            "serial" => set(&mut self.serial, name, text(name, value)?),
            "model" => set(&mut self.model, name, text(name, value)?),
            "library-manufacturer" => set(&mut self.library_manufacturer, name, text(name, value)?),
            "library-description" => set(&mut self.library_description, name, text(name, value)?),
            "library-version" => {
                let version = parse_version(&text(name, value)?)
                    .ok_or_else(|| invalid("library-version is not M or M.N"))?;
                set(&mut self.library_version, name, version)
            }
            "object" => set(&mut self.object, name, text(name, value)?),
            "type" => {
                let object_type = ObjectType::parse(&text(name, value)?).ok_or_else(|| {
                    invalid("type is not public, private, secret-key, cert or data")
                })?;
                set(&mut self.object_type, name, object_type)
            }
            "id" => set(&mut self.id, name, value),
            "slot-manufacturer" => set(&mut self.slot_manufacturer, name, text(name, value)?),
            "slot-description" => set(&mut self.slot_description, name, text(name, value)?),
            "slot-id" => {
                let digits = text(name, value)?;
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(invalid("slot-id is not a decimal number"));
                }
                let id = digits
                    .parse()
                    .map_err(|_| invalid("slot-id is out of range"))?;
                set(&mut self.slot_id, name, id)
            }
            vendor if is_vendor_name(vendor) => self.set_vendor(vendor, text(name, value)?),
            other => Err(invalid(format!(
                "unknown path attribute {:?}",
                truncate(other)
            ))),
        }
    }

    fn parse_query_attribute(&mut self, attribute: &str) -> Result<()> {
        let (name, raw) = attribute.split_once('=').ok_or_else(|| {
            invalid(format!(
                "query attribute without '=': {:?}",
                truncate_name(attribute)
            ))
        })?;
        let value = decode(name, raw, query_char_ok)?;
        match name {
            "pin-source" => set(&mut self.pin_source, name, text(name, value)?),
            "pin-value" => {
                let pin = Pin::new(text(name, value)?);
                set(&mut self.pin_value, name, pin)
            }
            "module-name" => set(&mut self.module_name, name, text(name, value)?),
            "module-path" => set(&mut self.module_path, name, text(name, value)?),
            vendor if is_vendor_name(vendor) => self.set_vendor(vendor, text(name, value)?),
            other => Err(invalid(format!(
                "unknown query attribute {:?}",
                truncate(other)
            ))),
        }
    }

    fn set_vendor(&mut self, name: &str, value: String) -> Result<()> {
        if self.vendor.iter().any(|(n, _)| n == name) {
            return Err(invalid(format!("attribute {name} appears twice")));
        }
        self.vendor.push((name.to_owned(), value));
        Ok(())
    }

    /// `token`: the token label.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    /// `manufacturer`: the token manufacturer.
    pub fn manufacturer(&self) -> Option<&str> {
        self.manufacturer.as_deref()
    }
    /// `serial`: the token serial number.
    pub fn serial(&self) -> Option<&str> {
        self.serial.as_deref()
    }
    /// `model`: the token model.
    pub fn model(&self) -> Option<&str> {
        self.model.as_deref()
    }
    /// `library-manufacturer`.
    pub fn library_manufacturer(&self) -> Option<&str> {
        self.library_manufacturer.as_deref()
    }
    /// `library-description`.
    pub fn library_description(&self) -> Option<&str> {
        self.library_description.as_deref()
    }
    /// `library-version` as (major, minor); `M` alone means `M.0`.
    pub fn library_version(&self) -> Option<(u8, u8)> {
        self.library_version
    }
    /// `object`: the object label (`CKA_LABEL`).
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }
    /// `type`: the object class.
    pub fn object_type(&self) -> Option<ObjectType> {
        self.object_type
    }
    /// `id`: the object id (`CKA_ID`), decoded bytes.
    pub fn id(&self) -> Option<&[u8]> {
        self.id.as_deref()
    }
    /// `slot-manufacturer`.
    pub fn slot_manufacturer(&self) -> Option<&str> {
        self.slot_manufacturer.as_deref()
    }
    /// `slot-description`.
    pub fn slot_description(&self) -> Option<&str> {
        self.slot_description.as_deref()
    }
    /// `slot-id`: the slot number.
    pub fn slot_id(&self) -> Option<u64> {
        self.slot_id
    }
    /// Vendor attributes (`x-...`), path and query, in order of appearance.
    pub fn vendor_attributes(&self) -> &[(String, String)] {
        &self.vendor
    }
    /// `pin-source`: where to read the PIN (see [`Pin::from_source`]).
    pub fn pin_source(&self) -> Option<&str> {
        self.pin_source.as_deref()
    }
    /// `pin-value`: the PIN itself.
    pub fn pin_value(&self) -> Option<&Pin> {
        self.pin_value.as_ref()
    }
    /// `module-name`: the module's name without directory or suffix (`softhsm2`).
    pub fn module_name(&self) -> Option<&str> {
        self.module_name.as_deref()
    }
    /// `module-path`: the module's file path.
    pub fn module_path(&self) -> Option<&str> {
        self.module_path.as_deref()
    }

    /// The PIN the URI gives: `pin-value`, or the content of `pin-source`, or `None`.
    pub fn pin(&self) -> Result<Option<Pin>> {
        match (&self.pin_value, &self.pin_source) {
            (Some(pin), _) => Ok(Some(pin.clone())),
            (None, Some(source)) => Pin::from_source(source).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// Sets the token label (for building URIs).
    pub fn with_token(mut self, label: impl Into<String>) -> Self {
        self.token = Some(label.into());
        self
    }

    /// Sets the object label.
    pub fn with_object(mut self, label: impl Into<String>) -> Self {
        self.object = Some(label.into());
        self
    }

    /// Sets the object id.
    pub fn with_id(mut self, id: impl Into<Vec<u8>>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the object type.
    pub fn with_type(mut self, object_type: ObjectType) -> Self {
        self.object_type = Some(object_type);
        self
    }

    /// Sets the module path.
    pub fn with_module_path(mut self, path: impl Into<String>) -> Self {
        self.module_path = Some(path.into());
        self
    }
}

fn is_vendor_name(name: &str) -> bool {
    name.len() > 2
        && name.starts_with("x-")
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// At most 40 characters of attacker-controlled text, for messages.
fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The name part of a query attribute with no `=`, for messages: a bare `pin-value1234` must not
/// echo a PIN, so only a known-safe prefix is shown.
fn truncate_name(s: &str) -> String {
    if s.starts_with("pin") {
        "pin...".to_owned()
    } else {
        truncate(s)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (and `extra`).
fn encode(out: &mut fmt::Formatter<'_>, value: &[u8], extra: &[u8]) -> fmt::Result {
    for &b in value {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || extra.contains(&b)
        {
            write!(out, "{}", char::from(b))?;
        } else {
            write!(out, "%{b:02X}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Pkcs11Uri {
    /// The URI in a canonical order, percent-encoded; `pin-value` is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pkcs11:")?;
        let version = self
            .library_version
            .map(|(major, minor)| format!("{major}.{minor}"));
        let slot_id = self.slot_id.map(|id| id.to_string());
        let path: [(&str, Option<&[u8]>); 13] = [
            (
                "library-manufacturer",
                self.library_manufacturer.as_deref().map(str::as_bytes),
            ),
            (
                "library-description",
                self.library_description.as_deref().map(str::as_bytes),
            ),
            ("library-version", version.as_deref().map(str::as_bytes)),
            (
                "slot-manufacturer",
                self.slot_manufacturer.as_deref().map(str::as_bytes),
            ),
            (
                "slot-description",
                self.slot_description.as_deref().map(str::as_bytes),
            ),
            ("slot-id", slot_id.as_deref().map(str::as_bytes)),
            (
                "manufacturer",
                self.manufacturer.as_deref().map(str::as_bytes),
            ),
            ("model", self.model.as_deref().map(str::as_bytes)),
            ("serial", self.serial.as_deref().map(str::as_bytes)),
            ("token", self.token.as_deref().map(str::as_bytes)),
            ("object", self.object.as_deref().map(str::as_bytes)),
            ("id", None),
            ("type", self.object_type.map(|t| t.as_str().as_bytes())),
        ];
        let mut first = true;
        let mut separator = |f: &mut fmt::Formatter<'_>| -> fmt::Result {
            if !std::mem::take(&mut first) {
                f.write_str(";")
            } else {
                Ok(())
            }
        };
        for (name, value) in path {
            if name == "id" {
                if let Some(id) = &self.id {
                    separator(f)?;
                    f.write_str("id=")?;
                    for b in id {
                        write!(f, "%{b:02X}")?;
                    }
                }
                continue;
            }
            if let Some(value) = value {
                separator(f)?;
                write!(f, "{name}=")?;
                encode(f, value, b":[]@!$'()*+,=&")?;
            }
        }
        for (name, value) in &self.vendor {
            separator(f)?;
            write!(f, "{name}=")?;
            encode(f, value.as_bytes(), b":[]@!$'()*+,=&")?;
        }
        let query: [(&str, Option<&str>); 3] = [
            ("module-name", self.module_name.as_deref()),
            ("module-path", self.module_path.as_deref()),
            ("pin-source", self.pin_source.as_deref()),
        ];
        let mut first_query = true;
        for (name, value) in query {
            if let Some(value) = value {
                f.write_str(if std::mem::take(&mut first_query) {
                    "?"
                } else {
                    "&"
                })?;
                write!(f, "{name}=")?;
                encode(f, value.as_bytes(), b":[]@!$'()*+,;/?|")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pkcs11Uri").field(&self.to_string()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Pkcs11Uri> {
        s.parse()
    }

    #[test]
    fn full_uri() {
        let uri = parse(
            "pkcs11:token=My%20Token;manufacturer=SoftHSM%20project;serial=abc123;model=SoftHSM%20v2;\
             object=my%3Bkey;id=%01%02%ff;type=private;slot-id=42;library-version=2.6;\
             library-manufacturer=SoftHSM;library-description=Implementation;\
             slot-manufacturer=SoftHSM;slot-description=SoftHSM%20slot;x-vendor=v\
             ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=12%2634",
        )
        .unwrap();
        assert_eq!(uri.token(), Some("My Token"));
        assert_eq!(uri.manufacturer(), Some("SoftHSM project"));
        assert_eq!(uri.serial(), Some("abc123"));
        assert_eq!(uri.model(), Some("SoftHSM v2"));
        assert_eq!(uri.object(), Some("my;key"));
        assert_eq!(uri.id(), Some(&[0x01, 0x02, 0xff][..]));
        assert_eq!(uri.object_type(), Some(ObjectType::Private));
        assert_eq!(uri.slot_id(), Some(42));
        assert_eq!(uri.library_version(), Some((2, 6)));
        assert_eq!(uri.library_manufacturer(), Some("SoftHSM"));
        assert_eq!(uri.library_description(), Some("Implementation"));
        assert_eq!(uri.slot_manufacturer(), Some("SoftHSM"));
        assert_eq!(uri.slot_description(), Some("SoftHSM slot"));
        assert_eq!(
            uri.vendor_attributes(),
            &[("x-vendor".to_owned(), "v".to_owned())]
        );
        assert_eq!(uri.module_path(), Some("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(uri.pin_value().map(Pin::expose_secret), Some("12&34"));
        assert_eq!(uri.pin().unwrap().unwrap().expose_secret(), "12&34");

        let shown = uri.to_string();
        assert!(
            !shown.contains("pin-value") && !shown.contains("12&34") && !shown.contains("12%2634")
        );
        let debug = format!("{uri:?}");
        assert!(
            !debug.contains("12&34") && !debug.contains("12%2634") && !debug.contains("pin-value"),
            "{debug}"
        );
        // Display round-trips (less the PIN).
        let again = parse(&shown).unwrap();
        assert_eq!(again.to_string(), shown);
        assert_eq!(again.object(), Some("my;key"));
        assert_eq!(again.id(), uri.id());
        assert!(again.pin_value().is_none());
    }

    #[test]
    fn minimal_forms() {
        assert_eq!(parse("pkcs11:").unwrap(), Pkcs11Uri::default());
        assert_eq!(parse("PKCS11:token=a").unwrap().token(), Some("a"));
        assert_eq!(parse("pkcs11:token=").unwrap().token(), Some(""));
        assert_eq!(parse("pkcs11:id=").unwrap().id(), Some(&[][..]));
        assert_eq!(
            parse("pkcs11:library-version=3").unwrap().library_version(),
            Some((3, 0))
        );
        let query_only = parse("pkcs11:?module-name=softhsm2&pin-source=file:/run/pin").unwrap();
        assert_eq!(query_only.module_name(), Some("softhsm2"));
        assert_eq!(query_only.pin_source(), Some("file:/run/pin"));
        assert_eq!(
            query_only.to_string(),
            "pkcs11:?module-name=softhsm2&pin-source=file:/run/pin"
        );
        for t in ["public", "private", "secret-key", "cert", "data"] {
            assert_eq!(
                parse(&format!("pkcs11:type={t}"))
                    .unwrap()
                    .object_type()
                    .unwrap()
                    .as_str(),
                t
            );
        }
    }

    #[test]
    fn builder_and_display() {
        let uri = Pkcs11Uri::default()
            .with_token("tok en")
            .with_object("k/1")
            .with_id([0, 0xab])
            .with_type(ObjectType::SecretKey)
            .with_module_path("/opt/p 11.so");
        assert_eq!(
            uri.to_string(),
            "pkcs11:token=tok%20en;object=k%2F1;id=%00%AB;type=secret-key?module-path=/opt/p%2011.so"
        );
        assert_eq!(parse(&uri.to_string()).unwrap(), uri);
    }

    #[test]
    fn malformed_inputs_are_refused() {
        let bad = [
            "",
            "pkcs11",
            "pkcs12:token=a",
            "http://x",
            ":token=a",
            "pkcs11:token",
            "pkcs11:token=a;token=b",
            "pkcs11:token=a;",
            "pkcs11:;token=a",
            "pkcs11:token=a b",
            "pkcs11:token=a/b",
            "pkcs11:token=a?",
            "pkcs11:token=%",
            "pkcs11:token=%4",
            "pkcs11:token=%zz",
            "pkcs11:token=%+1",
            "pkcs11:token=%-1",
            "pkcs11:token=%ff",
            "pkcs11:object=%c3%28",
            "pkcs11:type=privat",
            "pkcs11:type=PRIVATE",
            "pkcs11:slot-id=",
            "pkcs11:slot-id=-1",
            "pkcs11:slot-id=+1",
            "pkcs11:slot-id=99999999999999999999999",
            "pkcs11:library-version=1.2.3",
            "pkcs11:library-version=a",
            "pkcs11:library-version=1000",
            "pkcs11:library-version=.",
            "pkcs11:unknown=1",
            "pkcs11:Token=a",
            "pkcs11:x-=1",
            "pkcs11:x-a=1;x-a=2",
            "pkcs11:token=a#frag",
            "pkcs11:?",
            "pkcs11:?pin-value=1&pin-value=2",
            "pkcs11:?pin-value=1&pin-source=file:/p",
            "pkcs11:?pin-value",
            "pkcs11:?module-path=/a&",
            "pkcs11:?unknown=1",
            "pkcs11:?module-path=/a b",
            "pkcs11:?module-path=/a&module-path=/b",
            "pkcs11:token=\u{e9}",
            "pkcs11:token=\n",
            "pkcs11:token=a\0",
        ];
        for input in bad {
            let error = parse(input).expect_err(input);
            assert!(
                matches!(error, Error::InvalidUri { .. }),
                "{input}: {error:?}"
            );
        }
    }

    #[test]
    fn errors_never_echo_a_pin() {
        for input in [
            "pkcs11:?pin-value=s3cr3t%zz",
            "pkcs11:?pin-values3cr3t",
            "pkcs11:?pin-value=s3cr3t&pin-value=s3cr3t",
            "pkcs11:?pin-value=s3 cr3t",
        ] {
            let error = parse(input).unwrap_err().to_string();
            assert!(
                !error.contains("s3cr3t") && !error.contains("cr3t"),
                "{input}: {error}"
            );
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: every short string over an alphabet of the interesting
        // characters, plus pseudo-random longer ones.
        let alphabet: Vec<char> = "pkcs11:;?&=%0aF/x-#é\u{0} ".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            let mut s = String::from(if state.is_multiple_of(3) {
                ""
            } else {
                "pkcs11:"
            });
            let mut x = state;
            for _ in 0..len {
                s.push(alphabet[(x % alphabet.len() as u64) as usize]);
                x = x.rotate_left(5) ^ 0x9e37_79b9_7f4a_7c15;
            }
            if let Ok(uri) = parse(&s) {
                // Whatever parses must display as something that parses to the same URI (less
                // the PIN).
                let shown = uri.to_string();
                let again = parse(&shown).unwrap_or_else(|e| panic!("{s:?} -> {shown:?}: {e}"));
                assert_eq!(again.to_string(), shown);
            }
        }
        let long = format!("pkcs11:token={}", "a".repeat(70_000));
        assert!(matches!(parse(&long), Err(Error::InvalidUri { .. })));
    }
}
