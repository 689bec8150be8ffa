//! Verifying JWS under a caller's policy.

use std::borrow::Cow;

use crate::alg::{Algorithm, JwsAlgorithm};
use crate::b64;
use crate::backend::{KeyBackend, KeyStore, check_key};
use crate::error::{AlgorithmError, Error, Malformed, Result};
use crate::header::{Header, check_crit};
use crate::jws::DEFAULT_MAX_TOKEN_LEN;
use crate::jws::parse::{self, RawJws, RawSignature};

/// What a successful verification returns: the payload and the headers of the signature that
/// verified (and only that one).
#[derive(Debug, Clone)]
pub struct Verified {
    payload: Vec<u8>,
    alg: JwsAlgorithm,
    protected: Header,
    unprotected: Option<Header>,
}

impl Verified {
    /// The verified payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The verified payload, owned.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }

    /// The algorithm that verified.
    pub fn alg(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The protected header of the verified signature.
    pub fn protected(&self) -> &Header {
        &self.protected
    }

    /// The unprotected header of the verified signature (JSON serialization only).
    pub fn unprotected(&self) -> Option<&Header> {
        self.unprotected.as_ref()
    }

    /// The payload and the protected header, owned (for the JWT layer, which keeps both).
    pub(crate) fn into_payload_and_protected(self) -> (Vec<u8>, Header) {
        (self.payload, self.protected)
    }

    /// The `kid` of the verified signature, from either header.
    pub fn kid(&self) -> Option<&str> {
        self.protected
            .kid()
            .or_else(|| self.unprotected.as_ref().and_then(Header::kid))
    }
}

/// A verification policy: the allowed algorithms (required), understood critical extensions,
/// unencoded payloads, a detached payload, and a size limit.
#[derive(Debug, Clone)]
pub struct Verifier<'a> {
    allowed: Vec<JwsAlgorithm>,
    understood: Vec<String>,
    unencoded: bool,
    detached: Option<&'a [u8]>,
    max_len: usize,
}

enum Keys<'k> {
    One(&'k dyn KeyBackend),
    Store(&'k dyn KeyStore),
}

/// Verifies a compact JWS with one key; `allowed` lists the acceptable algorithms.
pub fn verify_compact(
    token: &str,
    key: &dyn KeyBackend,
    allowed: &[JwsAlgorithm],
) -> Result<Verified> {
    let v = Verifier::new(allowed);
    v.check_len(token)?;
    v.run(parse::compact(strip_newline(token))?, &Keys::One(key))
}

/// Verifies a JWS in either JSON serialization with one key.
pub fn verify_json(
    token: &str,
    key: &dyn KeyBackend,
    allowed: &[JwsAlgorithm],
) -> Result<Verified> {
    let v = Verifier::new(allowed);
    v.check_len(token)?;
    v.run(parse::json(token)?, &Keys::One(key))
}

fn strip_newline(token: &str) -> &str {
    token
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(token)
}

impl<'a> Verifier<'a> {
    /// A verifier accepting only these algorithms.
    pub fn new(allowed: &[JwsAlgorithm]) -> Self {
        Self {
            allowed: allowed.to_vec(),
            understood: Vec::new(),
            unencoded: false,
            detached: None,
            max_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }

    /// Declares a critical header extension (a name in `crit`) that the caller processes.
    pub fn understand(mut self, name: impl Into<String>) -> Self {
        self.understood.push(name.into());
        self
    }

    /// Accepts RFC 7797 unencoded payloads (`"b64":false`, listed in `crit`).
    pub fn allow_unencoded_payload(mut self) -> Self {
        self.unencoded = true;
        self
    }

    /// Verifies against this detached payload; the token must then carry none.
    pub fn detached_payload(mut self, payload: &'a [u8]) -> Self {
        self.detached = Some(payload);
        self
    }

    /// Sets the largest token accepted, in bytes.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_len = len;
        self
    }

    fn check_len(&self, token: &str) -> Result<()> {
        crate::json::check_token_len(token, self.max_len)
    }

    fn parse(&self, token: &str) -> Result<RawJws> {
        self.check_len(token)?;
        if crate::json::is_json_serialization(token) {
            parse::json(token)
        } else {
            parse::compact(strip_newline(token))
        }
    }

    /// Verifies a JWS (compact or JSON, detected) with one key.
    pub fn verify(&self, token: &str, key: &dyn KeyBackend) -> Result<Verified> {
        self.run(self.parse(token)?, &Keys::One(key))
    }

    /// Verifies a JWS with the key its `kid` selects from `keys`. A token without `kid` is
    /// accepted only when exactly one key in the store can serve its algorithm.
    pub fn verify_with(&self, token: &str, keys: &dyn KeyStore) -> Result<Verified> {
        self.run(self.parse(token)?, &Keys::Store(keys))
    }

    fn run(&self, mut raw: RawJws, keys: &Keys<'_>) -> Result<Verified> {
        if self.allowed.is_empty() {
            return Err(AlgorithmError::NotAllowed("(the allowed list is empty)".into()).into());
        }
        // RFC 7797 section 3: every signature uses the same `b64` value.
        let b64_values: Vec<bool> = raw.signatures.iter().map(|s| s.protected.b64()).collect();
        if b64_values.windows(2).any(|w| w[0] != w[1]) {
            return Err(Malformed::Header {
                member: "b64".into(),
                reason: "differs between signatures",
            }
            .into());
        }
        let mut first_error = None;
        let mut attempted = false;
        for i in 0..raw.signatures.len() {
            match self.one(&raw, &raw.signatures[i], keys) {
                Ok((alg, payload)) => {
                    // The headers of the signature that verified move into the result.
                    let sig = raw.signatures.swap_remove(i);
                    return Ok(Verified {
                        payload,
                        alg,
                        protected: sig.protected,
                        unprotected: sig.unprotected,
                    });
                }
                Err(Error::Verification) => attempted = true,
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match (attempted, first_error) {
            (false, Some(e)) => Err(e),
            _ => Err(Error::Verification),
        }
    }

    /// Verifies one signature; returns its algorithm and the payload.
    fn one(
        &self,
        raw: &RawJws,
        sig: &RawSignature,
        keys: &Keys<'_>,
    ) -> Result<(JwsAlgorithm, Vec<u8>)> {
        let unprotected: Vec<&Header> = sig.unprotected.iter().collect();
        // Without an unprotected header (the compact form) the joint header is the protected
        // one: no copy, and no collision to check.
        let joint_of_both;
        let joint = if unprotected.is_empty() {
            &sig.protected
        } else {
            joint_of_both =
                Header::joint(std::iter::once(&sig.protected).chain(unprotected.iter().copied()))?;
            &joint_of_both
        };
        if unprotected.iter().any(|u| u.contains("b64")) {
            return Err(Malformed::Header {
                member: "b64".into(),
                reason: "must be integrity protected",
            }
            .into());
        }
        let b64 = sig.protected.b64();
        if sig.protected.contains("b64")
            && !sig.protected.crit().is_some_and(|c| c.contains(&"b64"))
        {
            return Err(Malformed::Header {
                member: "b64".into(),
                reason: "must be listed in `crit`",
            }
            .into());
        }
        let mut understood: Vec<&str> = self.understood.iter().map(String::as_str).collect();
        if self.unencoded {
            understood.push("b64");
        }
        check_crit(&sig.protected, &unprotected, &understood)?;

        let alg_name = joint.alg().ok_or(AlgorithmError::Missing("alg"))?;
        let alg: JwsAlgorithm = alg_name.parse()?;
        if !self.allowed.contains(&alg) {
            return Err(AlgorithmError::NotAllowed(alg_name.to_owned()).into());
        }
        let key = match keys {
            Keys::One(k) => *k,
            Keys::Store(store) => {
                crate::backend::select_key(*store, joint.kid(), Algorithm::Jws(alg))?
            }
        };
        check_key(key, Algorithm::Jws(alg), false)?;

        let payload_part: Cow<'_, [u8]> = match (self.detached, &raw.payload) {
            (Some(_), Some(p)) if !p.is_empty() => {
                return Err(Malformed::Payload(
                    "a detached payload was given but the token carries one",
                )
                .into());
            }
            (Some(d), _) => {
                if b64 {
                    Cow::Owned(b64::encode(d).into_bytes())
                } else {
                    Cow::Borrowed(d)
                }
            }
            (None, Some(p)) => Cow::Borrowed(p.as_bytes()),
            (None, None) => {
                return Err(
                    Malformed::Payload("the payload is detached and none was given").into(),
                );
            }
        };
        let mut input = Vec::with_capacity(sig.protected_b64.len() + 1 + payload_part.len());
        input.extend_from_slice(sig.protected_b64.as_bytes());
        input.push(b'.');
        input.extend_from_slice(&payload_part);
        key.verify(alg, &input, &sig.signature)?;

        let payload = match (self.detached, b64) {
            (Some(d), _) => d.to_vec(),
            (None, true) => b64::decode(
                "payload",
                std::str::from_utf8(&payload_part).unwrap_or("\u{0}"),
            )?,
            (None, false) => payload_part.into_owned(),
        };
        Ok((alg, payload))
    }
}
