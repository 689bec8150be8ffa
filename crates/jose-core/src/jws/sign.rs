//! Producing JWS: compact, flattened and general JSON serializations.

use serde_json::{Map, Value};

use crate::alg::{Algorithm, JwsAlgorithm};
use crate::b64;
use crate::backend::{KeyBackend, check_key};
use crate::error::{Malformed, Result};
use crate::header::Header;
use crate::json;
use crate::jwk::EcCurve;
use crate::jws::alg::{Family, Sha2, family};
use crate::jws::headers;

/// Signs `payload` with one key and returns the compact serialization.
///
/// `header` adds protected members (`typ`, `cty`, extensions); `alg` is set from `alg`, and
/// `kid` from the key when the header has none. A header the verifier would refuse is refused
/// here (a `b64` member, `crit` naming a registered or absent member); extensions listed in
/// `crit` verify with a [`Verifier`](crate::jws::Verifier) that
/// [understands](crate::jws::Verifier::understand) them.
///
/// ```
/// use jose_core::{jws, Header, JwsAlgorithm, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let key = SoftwareKey::generate_oct(32)?.with_kid("mac-1");
/// let token = jws::sign_compact(&key, JwsAlgorithm::HS256, b"hello", Some(&Header::new().with("typ", "example")))?;
/// assert_eq!(token.split('.').count(), 3);
/// assert_eq!(jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256])?.payload(), b"hello");
/// # Ok(()) }
/// ```
pub fn sign_compact(
    key: &dyn KeyBackend,
    alg: JwsAlgorithm,
    payload: &[u8],
    header: Option<&Header>,
) -> Result<String> {
    match header {
        None => compact_own_header(key, alg, None, |out| out.extend_from_slice(payload)),
        Some(header) => JwsBuilder::new(payload)
            .add_signature(key, alg, header.clone(), None)?
            .compact(),
    }
}

/// The compact JWS under the header jose-core writes itself when the caller gives none:
/// `{"alg":…}`, then `"typ"` when given, then the key's `kid` — the bytes [`JwsBuilder`] makes
/// for the header `{"typ":…}` (or none), written in one pass.
///
/// `payload` appends the payload bytes to the buffer it is given. The token is one `String` of
/// its final size: base64url(header) `.` base64url(payload), which is the signing input, then
/// `.` base64url(signature). The checks are the builder's: the key must serve `alg` and permit
/// signing; a header with only `alg`, `typ` and `kid` (strings) passes every header rule.
pub(crate) fn compact_own_header(
    key: &dyn KeyBackend,
    alg: JwsAlgorithm,
    typ: Option<&str>,
    payload: impl FnOnce(&mut Vec<u8>),
) -> Result<String> {
    check_key(key, Algorithm::Jws(alg), true)?;
    let kid = key.kid();
    // The header's JSON, then the payload, in one scratch buffer.
    let mut scratch = Vec::with_capacity(256 + kid.map_or(0, str::len));
    scratch.extend_from_slice(b"{\"alg\":\"");
    scratch.extend_from_slice(alg.as_str().as_bytes());
    scratch.push(b'"');
    if let Some(typ) = typ {
        scratch.extend_from_slice(b",\"typ\":");
        json::write_string(&mut scratch, typ);
    }
    if let Some(kid) = kid {
        scratch.extend_from_slice(b",\"kid\":");
        json::write_string(&mut scratch, kid);
    }
    scratch.push(b'}');
    let header_len = scratch.len();
    payload(&mut scratch);
    let (header, payload) = scratch.split_at(header_len);

    let mut token = String::with_capacity(
        b64::encoded_len(header.len())
            + b64::encoded_len(payload.len())
            + b64::encoded_len(signature_len_hint(alg))
            + 2,
    );
    b64::encode_into(header, &mut token);
    token.push('.');
    b64::encode_into(payload, &mut token);
    let signature = key.sign(alg, token.as_bytes())?;
    token.push('.');
    b64::encode_into(&signature, &mut token);
    Ok(token)
}

/// The usual signature length of `alg`, to size a token (RSA: up to 4096-bit keys; a larger
/// signature grows the buffer once).
const fn signature_len_hint(alg: JwsAlgorithm) -> usize {
    match family(alg) {
        Family::Hmac(Sha2::Sha256) => 32,
        Family::Hmac(Sha2::Sha384) => 48,
        Family::Hmac(Sha2::Sha512) => 64,
        Family::Ecdsa(EcCurve::P256) => 64,
        Family::Ecdsa(EcCurve::P384) => 96,
        Family::Ecdsa(EcCurve::P521) => 132,
        // Ed25519 64, Ed448 114.
        Family::EdDsa => 114,
        Family::RsaPkcs1(_) | Family::RsaPss(_) => 512,
    }
}

/// Builds a JWS with one or more signatures.
///
/// ```
/// use jose_core::{jws, Header, JwsAlgorithm, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let key = SoftwareKey::generate_ed25519()?;
/// // RFC 7797: the payload is signed as-is and left out of the token.
/// let token = jws::JwsBuilder::new(b"$.02")
///     .unencoded()
///     .detached()
///     .add_signature(&key, JwsAlgorithm::EdDSA, Header::new(), None)?
///     .compact()?;
/// assert!(token.contains(".."));
/// let v = jws::Verifier::new(&[JwsAlgorithm::EdDSA])
///     .allow_unencoded_payload()
///     .detached_payload(b"$.02")
///     .verify(&token, &key)?;
/// assert_eq!(v.payload(), b"$.02");
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct JwsBuilder<'p> {
    payload: &'p [u8],
    encoded_payload: Option<String>,
    detached: bool,
    unencoded: bool,
    signatures: Vec<Part>,
}

#[derive(Debug)]
struct Part {
    protected_b64: String,
    unprotected: Option<Header>,
    signature: Vec<u8>,
}

impl<'p> JwsBuilder<'p> {
    /// A JWS over `payload`.
    pub fn new(payload: &'p [u8]) -> Self {
        Self {
            payload,
            encoded_payload: None,
            detached: false,
            unencoded: false,
            signatures: Vec::new(),
        }
    }

    /// Leaves the payload out of the serialization (RFC 7515 appendix F).
    pub fn detached(mut self) -> Self {
        self.detached = true;
        self
    }

    /// Signs the payload unencoded (RFC 7797): adds `"b64":false` and `"crit":["b64"]` to every
    /// protected header. Call before adding signatures.
    pub fn unencoded(mut self) -> Self {
        self.unencoded = true;
        self
    }

    fn payload_part(&mut self) -> &[u8] {
        if self.unencoded {
            return self.payload;
        }
        let payload = self.payload;
        self.encoded_payload
            .get_or_insert_with(|| b64::encode(payload))
            .as_bytes()
    }

    /// Signs with `key` and `alg`, with `protected` members (to which `alg`, and `kid` from the
    /// key when neither header has one, are added) and an optional unprotected header.
    pub fn add_signature(
        mut self,
        key: &dyn KeyBackend,
        alg: JwsAlgorithm,
        protected: Header,
        unprotected: Option<Header>,
    ) -> Result<Self> {
        check_key(key, Algorithm::Jws(alg), true)?;
        if unprotected
            .as_ref()
            .is_some_and(|u| u.contains("b64") || u.contains("crit"))
        {
            return Err(Malformed::Header {
                member: "b64".into(),
                reason: "must be integrity protected",
            }
            .into());
        }
        let mut map = Map::new();
        // `alg` goes into the protected header unless the caller put it in the unprotected one
        // (RFC 7520 section 4.7, "protecting content only").
        match unprotected.as_ref().and_then(Header::alg) {
            None => {
                map.insert("alg".into(), alg.as_str().into());
            }
            Some(a) if a == alg.as_str() => {}
            Some(_) => {
                return Err(Malformed::Header {
                    member: "alg".into(),
                    reason: "contradicts the signing algorithm",
                }
                .into());
            }
        }
        for (name, value) in protected.into_map() {
            if name == "alg" {
                if value.as_str() != Some(alg.as_str()) {
                    return Err(Malformed::Header {
                        member: name,
                        reason: "contradicts the signing algorithm",
                    }
                    .into());
                }
                continue;
            }
            map.insert(name, value);
        }
        let has_kid =
            map.contains_key("kid") || unprotected.as_ref().is_some_and(|u| u.contains("kid"));
        if let (false, Some(kid)) = (has_kid, key.kid()) {
            map.insert("kid".into(), kid.into());
        }
        if self.unencoded {
            map.insert("b64".into(), false.into());
            let mut crit: Vec<Value> = map
                .get("crit")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !crit.iter().any(|c| c == "b64") {
                crit.push("b64".into());
            }
            map.insert("crit".into(), Value::Array(crit));
        } else if map.contains_key("b64") {
            // `b64: false` is set by `unencoded()`, with its `crit` entry; `b64: true` is the
            // default and, being critical, would need every verifier to opt in to RFC 7797.
            return Err(Malformed::Header {
                member: "b64".into(),
                reason: "use JwsBuilder::unencoded()",
            }
            .into());
        }
        let protected = Header::from_map(map)?;
        // The verifier's header rules, with the extensions this header declares critical taken
        // as understood (a verifier declares them with `Verifier::understand`).
        let declared = protected.crit().unwrap_or_default();
        headers::check(&protected, unprotected.as_ref(), &declared)?;
        let protected_b64 = if protected.is_empty() {
            String::new()
        } else {
            b64::encode(protected.to_json().as_bytes())
        };
        let payload_part = self.payload_part();
        let mut input = Vec::with_capacity(protected_b64.len() + 1 + payload_part.len());
        input.extend_from_slice(protected_b64.as_bytes());
        input.push(b'.');
        input.extend_from_slice(payload_part);
        let signature = key.sign(alg, &input)?;
        self.signatures.push(Part {
            protected_b64,
            unprotected,
            signature,
        });
        Ok(self)
    }

    fn payload_text(&mut self) -> Result<Option<String>> {
        if self.detached {
            return Ok(None);
        }
        let part = self.payload_part();
        match std::str::from_utf8(part) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(Malformed::Payload(
                "an unencoded payload that is not UTF-8 must be detached",
            )
            .into()),
        }
    }

    /// The compact serialization: exactly one signature and no unprotected header.
    pub fn compact(mut self) -> Result<String> {
        let (Some(part), true) = (self.signatures.pop(), self.signatures.is_empty()) else {
            return Err(
                Malformed::Serialization("the compact form has exactly one signature").into(),
            );
        };
        if part.unprotected.is_some() || part.protected_b64.is_empty() {
            return Err(
                Malformed::Serialization("the compact form has only a protected header").into(),
            );
        }
        let signature = b64::encode(&part.signature);
        // The token is written once, into a buffer of its final size (no intermediate copies
        // of the header and payload parts).
        let (detached, unencoded) = (self.detached, self.unencoded);
        let payload = if detached {
            ""
        } else {
            std::str::from_utf8(self.payload_part()).map_err(|_| {
                Malformed::Payload("an unencoded payload that is not UTF-8 must be detached")
            })?
        };
        if unencoded && !detached && payload.contains('.') {
            return Err(Malformed::Payload(
                "an unencoded compact payload cannot contain '.'; detach it",
            )
            .into());
        }
        let mut token =
            String::with_capacity(part.protected_b64.len() + payload.len() + signature.len() + 2);
        token.push_str(&part.protected_b64);
        token.push('.');
        token.push_str(payload);
        token.push('.');
        token.push_str(&signature);
        Ok(token)
    }

    fn signature_value(part: &Part) -> Map<String, Value> {
        let mut m = Map::new();
        if !part.protected_b64.is_empty() {
            m.insert("protected".into(), part.protected_b64.clone().into());
        }
        if let Some(u) = &part.unprotected {
            m.insert("header".into(), Value::Object(u.to_map()));
        }
        m.insert("signature".into(), b64::encode(&part.signature).into());
        m
    }

    /// The flattened JSON serialization (one signature) as a JSON value.
    pub fn flattened_value(mut self) -> Result<Value> {
        if self.signatures.len() != 1 {
            return Err(
                Malformed::Serialization("the flattened form has exactly one signature").into(),
            );
        }
        let mut m = Map::new();
        if let Some(p) = self.payload_text()? {
            m.insert("payload".into(), p.into());
        }
        for (k, v) in Self::signature_value(&self.signatures[0]) {
            m.insert(k, v);
        }
        Ok(Value::Object(m))
    }

    /// The flattened JSON serialization (one signature).
    pub fn flattened_json(self) -> Result<String> {
        Ok(self.flattened_value()?.to_string())
    }

    /// The general JSON serialization as a JSON value.
    pub fn general_value(mut self) -> Result<Value> {
        if self.signatures.is_empty() {
            return Err(Malformed::Serialization("no signature was added").into());
        }
        let mut m = Map::new();
        if let Some(p) = self.payload_text()? {
            m.insert("payload".into(), p.into());
        }
        let sigs: Vec<Value> = self
            .signatures
            .iter()
            .map(|p| Value::Object(Self::signature_value(p)))
            .collect();
        m.insert("signatures".into(), Value::Array(sigs));
        Ok(Value::Object(m))
    }

    /// The general JSON serialization.
    pub fn general_json(self) -> Result<String> {
        Ok(self.general_value()?.to_string())
    }
}
