//! Parsing of the compact and JSON serializations into their parts, without verifying.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::b64;
use crate::error::{Malformed, Result};
use crate::header::Header;
use crate::json;

/// One signature of a parsed JWS (borrowing from a compact token, owning what a JSON
/// serialization held).
#[derive(Debug)]
pub(crate) struct RawSignature<'t> {
    /// The protected header as it appears in the token (base64url), for the signing input.
    pub(crate) protected_b64: Cow<'t, str>,
    pub(crate) protected: Header,
    pub(crate) unprotected: Option<Header>,
    pub(crate) signature: Vec<u8>,
}

/// A parsed JWS: the payload as it appears in the token (base64url or, with `b64:false`, raw)
/// and its signatures.
#[derive(Debug)]
pub(crate) struct RawJws<'t> {
    /// `None` for a detached payload.
    pub(crate) payload: Option<Cow<'t, str>>,
    /// The compact form's signing input as it appears in the token (`header.payload`), which
    /// verification then borrows instead of assembling it.
    pub(crate) compact_input: Option<&'t str>,
    pub(crate) signatures: Vec<RawSignature<'t>>,
}

/// Splits a compact JWS: exactly three parts, non-empty header and signature.
pub(crate) fn compact(token: &str) -> Result<RawJws<'_>> {
    compact_with(token, b64::decode)
}

/// [`compact`] for a token that is itself secret (decoded in constant time).
pub(crate) fn compact_secret(token: &str) -> Result<RawJws<'_>> {
    compact_with(token, b64::decode_secret)
}

fn compact_with(
    token: &str,
    decode: fn(&'static str, &str) -> Result<Vec<u8>>,
) -> Result<RawJws<'_>> {
    let mut parts = crate::consume::split_dots(token, 4);
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Malformed::Parts {
            kind: "JWS",
            expected: 3,
        }
        .into());
    };
    if h.is_empty() {
        return Err(Malformed::Empty("protected header").into());
    }
    if s.is_empty() {
        return Err(Malformed::Empty("signature").into());
    }
    let protected = Header::parse("protected header", &decode("protected header", h)?)?;
    let signature = decode("signature", s)?;
    Ok(RawJws {
        payload: Some(Cow::Borrowed(p)),
        compact_input: token.get(..h.len() + 1 + p.len()),
        signatures: vec![RawSignature {
            protected_b64: Cow::Borrowed(h),
            protected,
            unprotected: None,
            signature,
        }],
    })
}

/// Parses the general or flattened JSON serialization.
pub(crate) fn json(token: &str) -> Result<RawJws<'_>> {
    let mut doc = json::parse_object("JWS JSON serialization", token.as_bytes())?;
    let payload = match doc.remove("payload") {
        None => None,
        Some(Value::String(p)) => Some(Cow::Owned(p)),
        Some(_) => return Err(Malformed::Serialization("`payload` must be a string").into()),
    };
    let flattened = ["protected", "header", "signature"]
        .iter()
        .any(|k| doc.contains_key(*k));
    let signatures = match (doc.remove("signatures"), flattened) {
        (Some(_), true) => {
            return Err(Malformed::Serialization("both `signatures` and flattened members").into());
        }
        (Some(Value::Array(items)), false) => {
            if items.is_empty() {
                return Err(Malformed::Serialization("`signatures` is empty").into());
            }
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(map) = item else {
                    return Err(Malformed::Serialization("each signature must be an object").into());
                };
                out.push(signature(map)?);
            }
            out
        }
        (Some(_), false) => {
            return Err(Malformed::Serialization("`signatures` must be an array").into());
        }
        (None, true) => vec![signature(doc)?],
        (None, false) => return Err(Malformed::Serialization("no signature").into()),
    };
    Ok(RawJws {
        payload,
        compact_input: None,
        signatures,
    })
}

fn signature(mut map: Map<String, Value>) -> Result<RawSignature<'static>> {
    let (protected_b64, protected) = match map.remove("protected") {
        None => (String::new(), Header::new()),
        Some(Value::String(p)) if !p.is_empty() => {
            let h = Header::parse("protected header", &b64::decode("protected header", &p)?)?;
            (p, h)
        }
        Some(_) => {
            return Err(Malformed::Serialization("`protected` must be a non-empty string").into());
        }
    };
    let unprotected = match map.remove("header") {
        None => None,
        Some(Value::Object(h)) => Some(Header::from_map(h)?),
        Some(_) => return Err(Malformed::Serialization("`header` must be an object").into()),
    };
    let signature = match map.remove("signature") {
        Some(Value::String(s)) if !s.is_empty() => b64::decode("signature", &s)?,
        Some(Value::String(_)) => return Err(Malformed::Empty("signature").into()),
        _ => return Err(Malformed::Serialization("`signature` must be a string").into()),
    };
    if protected_b64.is_empty() && unprotected.is_none() {
        return Err(
            Malformed::Serialization("a signature has neither `protected` nor `header`").into(),
        );
    }
    Ok(RawSignature {
        protected_b64: Cow::Owned(protected_b64),
        protected,
        unprotected,
        signature,
    })
}
