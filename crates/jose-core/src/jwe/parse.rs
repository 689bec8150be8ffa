//! Parsing of the compact and JSON serializations of a JWE into their parts, without
//! decrypting (RFC 7516 section 7).

use serde_json::{Map, Value};

use crate::b64;
use crate::error::{Malformed, Result};
use crate::header::Header;
use crate::json;

/// One recipient of a parsed JWE.
#[derive(Debug)]
pub(crate) struct RawRecipient {
    pub(crate) header: Option<Header>,
    pub(crate) encrypted_key: Vec<u8>,
}

/// A parsed JWE. The base64url texts of the protected header and the `aad` are kept as they
/// appear in the token: the additional authenticated data is computed from them.
#[derive(Debug)]
pub(crate) struct RawJwe {
    pub(crate) protected_b64: String,
    pub(crate) protected: Header,
    pub(crate) unprotected: Option<Header>,
    pub(crate) recipients: Vec<RawRecipient>,
    pub(crate) aad_b64: Option<String>,
    pub(crate) aad: Option<Vec<u8>>,
    pub(crate) iv: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) tag: Vec<u8>,
}

impl RawJwe {
    /// `ASCII(BASE64URL(protected))`, then `'.' || BASE64URL(aad)` when there is an `aad`
    /// (RFC 7516 section 5.1 step 14).
    pub(crate) fn additional_data(&self) -> std::borrow::Cow<'_, [u8]> {
        match &self.aad_b64 {
            // The common case (compact, or JSON without `aad`): the header as it is.
            None => std::borrow::Cow::Borrowed(self.protected_b64.as_bytes()),
            Some(aad) => std::borrow::Cow::Owned(additional_data(&self.protected_b64, Some(aad))),
        }
    }
}

/// The additional authenticated data of a JWE.
pub(crate) fn additional_data(protected_b64: &str, aad_b64: Option<&str>) -> Vec<u8> {
    let mut out = protected_b64.as_bytes().to_vec();
    if let Some(aad) = aad_b64 {
        out.push(b'.');
        out.extend_from_slice(aad.as_bytes());
    }
    out
}

/// Splits a compact JWE: exactly five parts; non-empty header, IV and tag.
pub(crate) fn compact(token: &str) -> Result<RawJwe> {
    let mut parts = crate::consume::split_dots(token, 6);
    let (Some(h), Some(k), Some(iv), Some(c), Some(t), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(Malformed::Parts {
            kind: "JWE",
            expected: 5,
        }
        .into());
    };
    for (text, name) in [
        (h, "protected header"),
        (iv, "initialization vector"),
        (t, "authentication tag"),
    ] {
        if text.is_empty() {
            return Err(Malformed::Empty(name).into());
        }
    }
    let protected = Header::parse("protected header", &b64::decode("protected header", h)?)?;
    Ok(RawJwe {
        protected_b64: h.to_owned(),
        protected,
        unprotected: None,
        recipients: vec![RawRecipient {
            header: None,
            encrypted_key: b64::decode("encrypted key", k)?,
        }],
        aad_b64: None,
        aad: None,
        iv: b64::decode("initialization vector", iv)?,
        ciphertext: b64::decode("ciphertext", c)?,
        tag: b64::decode("authentication tag", t)?,
    })
}

fn take_string(
    map: &mut Map<String, Value>,
    name: &'static str,
    required: bool,
) -> Result<Option<String>> {
    match map.remove(name) {
        None if required => Err(Malformed::Serialization(match name {
            "iv" => "`iv` is required",
            "ciphertext" => "`ciphertext` is required",
            _ => "`tag` is required",
        })
        .into()),
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Malformed::Serialization(match name {
            "protected" => "`protected` must be a string",
            "encrypted_key" => "`encrypted_key` must be a string",
            "aad" => "`aad` must be a string",
            "iv" => "`iv` must be a string",
            "ciphertext" => "`ciphertext` must be a string",
            _ => "`tag` must be a string",
        })
        .into()),
    }
}

fn take_header(map: &mut Map<String, Value>, name: &'static str) -> Result<Option<Header>> {
    match map.remove(name) {
        None => Ok(None),
        Some(Value::Object(h)) => Ok(Some(Header::from_map(h)?)),
        Some(_) => Err(Malformed::Serialization(if name == "header" {
            "`header` must be an object"
        } else {
            "`unprotected` must be an object"
        })
        .into()),
    }
}

fn recipient(mut map: Map<String, Value>) -> Result<RawRecipient> {
    let header = take_header(&mut map, "header")?;
    let encrypted_key = match take_string(&mut map, "encrypted_key", false)? {
        None => Vec::new(),
        Some(k) => b64::decode("encrypted key", &k)?,
    };
    Ok(RawRecipient {
        header,
        encrypted_key,
    })
}

/// Parses the general or flattened JSON serialization.
pub(crate) fn json(token: &str) -> Result<RawJwe> {
    let mut doc = json::parse_object("JWE JSON serialization", token.as_bytes())?;
    let (protected_b64, protected) = match take_string(&mut doc, "protected", false)? {
        None => (String::new(), Header::new()),
        Some(p) if p.is_empty() => return Err(Malformed::Empty("protected header").into()),
        Some(p) => {
            let h = Header::parse("protected header", &b64::decode("protected header", &p)?)?;
            (p, h)
        }
    };
    let unprotected = take_header(&mut doc, "unprotected")?;
    let aad_b64 = take_string(&mut doc, "aad", false)?;
    let aad = aad_b64
        .as_deref()
        .map(|a| b64::decode("aad", a))
        .transpose()?;
    let iv = take_string(&mut doc, "iv", true)?.unwrap_or_default();
    let ciphertext = take_string(&mut doc, "ciphertext", true)?.unwrap_or_default();
    let tag = take_string(&mut doc, "tag", true)?.unwrap_or_default();
    if iv.is_empty() {
        return Err(Malformed::Empty("initialization vector").into());
    }
    if tag.is_empty() {
        return Err(Malformed::Empty("authentication tag").into());
    }
    let flattened = doc.contains_key("header") || doc.contains_key("encrypted_key");
    let recipients = match (doc.remove("recipients"), flattened) {
        (Some(_), true) => {
            return Err(Malformed::Serialization("both `recipients` and flattened members").into());
        }
        (Some(Value::Array(items)), false) => {
            if items.is_empty() {
                return Err(Malformed::Serialization("`recipients` is empty").into());
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(map) = item else {
                    return Err(Malformed::Serialization("each recipient must be an object").into());
                };
                out.push(recipient(map)?);
            }
            out
        }
        (Some(_), false) => {
            return Err(Malformed::Serialization("`recipients` must be an array").into());
        }
        // Flattened: the recipient's members sit at the top level (RFC 7516 section 7.2.2).
        (None, _) => vec![recipient(doc)?],
    };
    Ok(RawJwe {
        protected_b64,
        protected,
        unprotected,
        recipients,
        aad_b64,
        aad,
        iv: b64::decode("initialization vector", &iv)?,
        ciphertext: b64::decode("ciphertext", &ciphertext)?,
        tag: b64::decode("authentication tag", &tag)?,
    })
}
