//! Consuming JWTs: the caller states what it expects (signed, encrypted or nested), which
//! algorithms it allows, and which claims must hold.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::alg::{ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm};
use crate::backend::{KeyBackend, KeyStore};
use crate::consume::{Keys, Serialization};
use crate::error::{AlgorithmError, ClaimsError, Malformed, Result};
use crate::header::Header;
use crate::jwe;
use crate::jws;
use crate::jwt::claims::Registered;
use crate::jwt::{Claims, DEFAULT_LEEWAY};

/// A validated JWT: its claims and the headers they came with.
#[derive(Debug, Clone)]
pub struct Jwt {
    claims: Claims,
    header: Header,
    encryption_header: Option<Header>,
}

impl Jwt {
    /// The validated claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// The validated claims, owned.
    pub fn into_claims(self) -> Claims {
        self.claims
    }

    /// The claims converted into the caller's type.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        self.claims.deserialize()
    }

    /// The header of the layer that carries the claims: the JWS protected header of a signed
    /// or nested JWT, the JWE header of an encrypted one.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The JWE header of an encrypted or nested JWT.
    pub fn encryption_header(&self) -> Option<&Header> {
        self.encryption_header.as_ref()
    }
}

/// What a JWT validation checks, and how.
///
/// The method called states the kind of token expected: [`verify`](Self::verify) a signed JWT
/// (JWS), [`decrypt`](Self::decrypt) an encrypted one (JWE), [`decrypt_and_verify`](Self::decrypt_and_verify)
/// a nested one (a JWS inside a JWE, `"cty":"JWT"`). A token of another kind is rejected with
/// [`ClaimsError::WrongKind`] before any cryptography (token type confusion, CVE-2022-3102).
/// Only compact serializations are JWTs.
///
/// The algorithms come from the caller ([`jws_algorithms`](Self::jws_algorithms),
/// [`jwe_algorithms`](Self::jwe_algorithms)); none are allowed by default. Then the claims:
///
/// * `exp` is required by default (see [`required_claims`](Self::required_claims)); the token
///   is expired when `now >= exp + leeway`. `nbf`: not yet valid when `now + leeway < nbf`.
///   `iat` may not be later than `now + leeway`. The leeway defaults to 60 seconds.
/// * `iss`, `sub`: checked when set here. `aud`: when [`audience`](Self::audience) is set, the
///   token's `aud` (a string or an array) must name one of them; a token that has an `aud`
///   is rejected when no audience is set (RFC 7519 section 4.1.3).
/// * `typ` (header): checked when set here, case-insensitively, `application/` optional.
/// * Registered claims of the wrong type (`"exp":"never"`, `"nbf":"999"`) are rejected, never
///   treated as absent. Claims are strict JSON: duplicate members are rejected.
///
/// ```
/// use jose_core::{jwt, JwsAlgorithm, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let key = SoftwareKey::generate_oct(32)?;
/// let claims = jwt::Claims::new().issuer("me").audience("you").expires_at(1_000);
/// let token = jwt::sign(&claims, &key, JwsAlgorithm::HS256, None)?;
///
/// let v = jwt::Validation::new()
///     .jws_algorithms(&[JwsAlgorithm::HS256])
///     .issuer("me")
///     .audience("you")
///     .at_time(990); // a fixed clock, for tests
/// assert_eq!(v.verify(&token, &key)?.claims().iss(), Some("me"));
/// assert!(matches!( // expired, beyond the leeway
///     v.clone().at_time(1_060).verify(&token, &key),
///     Err(jose_core::Error::Claims(jose_core::error::ClaimsError::Expired))
/// ));
/// // A JWS is not accepted where a JWE is expected.
/// assert!(matches!(
///     v.decrypt(&token, &key),
///     Err(jose_core::Error::Claims(jose_core::error::ClaimsError::WrongKind { .. }))
/// ));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Validation {
    jws_algs: Vec<JwsAlgorithm>,
    jwe_algs: Vec<KeyManagementAlgorithm>,
    encs: Vec<ContentEncryption>,
    leeway: u64,
    now: Option<i64>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    subject: Option<String>,
    required: Vec<String>,
    typ: Option<String>,
    max_len: usize,
    low_s: bool,
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

/// The kinds of token, by their compact form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Jws,
    Jwe,
}

impl Validation {
    /// A validation with no algorithm allowed, `exp` required and a 60-second leeway.
    pub fn new() -> Self {
        Self {
            jws_algs: Vec::new(),
            jwe_algs: Vec::new(),
            encs: Vec::new(),
            leeway: DEFAULT_LEEWAY,
            now: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            subject: None,
            required: vec!["exp".into()],
            typ: None,
            max_len: jws::DEFAULT_MAX_TOKEN_LEN,
            low_s: false,
        }
    }

    /// The signature algorithms accepted (signed and nested JWTs).
    pub fn jws_algorithms(mut self, algs: &[JwsAlgorithm]) -> Self {
        self.jws_algs = algs.to_vec();
        self
    }

    /// The key management and content encryption algorithms accepted (encrypted and nested
    /// JWTs).
    pub fn jwe_algorithms(
        mut self,
        algs: &[KeyManagementAlgorithm],
        encs: &[ContentEncryption],
    ) -> Self {
        self.jwe_algs = algs.to_vec();
        self.encs = encs.to_vec();
        self
    }

    /// The clock skew tolerated for `exp`, `nbf` and `iat`, in seconds.
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Validates as of this time (seconds since the epoch) instead of the system clock.
    pub fn at_time(mut self, now: i64) -> Self {
        self.now = Some(now);
        self
    }

    /// Accepts this issuer (`iss`); may be called several times. Once set, `iss` is required.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuers.push(iss.into());
        self
    }

    /// Accepts this audience (`aud`); may be called several times. Once set, `aud` is
    /// required and must name one of them.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Requires this subject (`sub`).
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.subject = Some(sub.into());
        self
    }

    /// Requires this claim to be present, in addition to the others.
    pub fn require(mut self, claim: impl Into<String>) -> Self {
        self.required.push(claim.into());
        self
    }

    /// Replaces the list of required claims (by default `["exp"]`; `&[]` requires none).
    pub fn required_claims(mut self, claims: &[&str]) -> Self {
        self.required = claims.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Requires the header's `typ` to be this media type (`JWT`, `at+jwt`...).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Refuses ECDSA signatures in the high-S form ([`jws::Verifier::require_low_s`]): for
    /// callers that key caches or replay checks on the token string, which must then have
    /// exactly one accepted form.
    pub fn require_low_s(mut self) -> Self {
        self.low_s = true;
        self
    }

    /// Sets the largest token accepted, in bytes.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_len = len;
        self
    }

    /// Verifies a signed JWT (a compact JWS) with `key`, then validates its claims.
    pub fn verify(&self, token: &str, key: &dyn KeyBackend) -> Result<Jwt> {
        self.signed(token, &Keys::One(key))
    }

    /// Verifies a signed JWT with the key its `kid` selects from `keys`.
    pub fn verify_with(&self, token: &str, keys: &dyn KeyStore) -> Result<Jwt> {
        self.signed(token, &Keys::Store(keys))
    }

    /// Decrypts an encrypted JWT (a compact JWE whose plaintext is the claims) with `key`,
    /// then validates its claims.
    pub fn decrypt(&self, token: &str, key: &dyn KeyBackend) -> Result<Jwt> {
        self.encrypted(token, &Keys::One(key))
    }

    /// Decrypts an encrypted JWT with the key its `kid` selects from `keys`.
    pub fn decrypt_with(&self, token: &str, keys: &dyn KeyStore) -> Result<Jwt> {
        self.encrypted(token, &Keys::Store(keys))
    }

    /// Decrypts a nested JWT with `decryption_key`, verifies the inner JWS with
    /// `verification_key` (and no other), then validates the claims.
    pub fn decrypt_and_verify(
        &self,
        token: &str,
        decryption_key: &dyn KeyBackend,
        verification_key: &dyn KeyBackend,
    ) -> Result<Jwt> {
        self.nested(
            token,
            &Keys::One(decryption_key),
            &Keys::One(verification_key),
        )
    }

    /// Decrypts and verifies a nested JWT with keys selected by `kid`.
    pub fn decrypt_and_verify_with(
        &self,
        token: &str,
        decryption_keys: &dyn KeyStore,
        verification_keys: &dyn KeyStore,
    ) -> Result<Jwt> {
        self.nested(
            token,
            &Keys::Store(decryption_keys),
            &Keys::Store(verification_keys),
        )
    }

    /// The kind of a compact token, checked against the expected one before any cryptography.
    fn expect(&self, token: &str, expected: Kind, expected_name: &'static str) -> Result<()> {
        if token.len() > self.max_len {
            return Err(Malformed::TooLarge {
                what: "token",
                limit: self.max_len,
            }
            .into());
        }
        if crate::json::is_json_serialization(token) {
            return Err(Malformed::Serialization("a JWT uses the compact serialization").into());
        }
        let found = match dots(token) {
            2 => Kind::Jws,
            4 => Kind::Jwe,
            _ => {
                return Err(Malformed::Parts {
                    kind: if expected == Kind::Jws { "JWS" } else { "JWE" },
                    expected: if expected == Kind::Jws { 3 } else { 5 },
                }
                .into());
            }
        };
        if found != expected {
            return Err(ClaimsError::WrongKind {
                expected: expected_name,
                found: if found == Kind::Jws { "JWS" } else { "JWE" },
            }
            .into());
        }
        Ok(())
    }

    /// `secret`: the token is the plaintext of a JWE (nested JWT), decoded in constant time.
    fn verify_jws(&self, token: &str, keys: &Keys<'_>, secret: bool) -> Result<jws::Verified> {
        if self.jws_algs.is_empty() {
            return Err(AlgorithmError::NotAllowed("(no JWS algorithm is allowed)".into()).into());
        }
        // The token is known to be compact (`expect`); the verifier's detection agrees.
        let mut v = jws::Verifier::borrowing(&self.jws_algs).max_token_len(self.max_len);
        if self.low_s {
            v = v.require_low_s();
        }
        if secret {
            v = v.secret_token();
        }
        v.verify_as(token, Serialization::Compact, *keys)
    }

    fn decrypt_jwe(&self, token: &str, keys: &Keys<'_>) -> Result<jwe::Decrypted> {
        if self.jwe_algs.is_empty() || self.encs.is_empty() {
            return Err(AlgorithmError::NotAllowed("(no JWE algorithm is allowed)".into()).into());
        }
        jwe::Decrypter::new(&self.jwe_algs, &self.encs)
            .max_token_len(self.max_len)
            .decrypt_as(token, Serialization::Compact, *keys)
    }

    fn signed(&self, token: &str, keys: &Keys<'_>) -> Result<Jwt> {
        self.expect(token, Kind::Jws, "JWS")?;
        let v = self.verify_jws(token, keys, false)?;
        if is_jwt(v.protected().cty()) {
            return Err(ClaimsError::WrongKind {
                expected: "JWS",
                found: "nested JWT",
            }
            .into());
        }
        let (payload, protected) = v.into_payload_and_protected();
        let claims = Claims::parse(&payload)?;
        self.finish(claims, protected, None)
    }

    fn encrypted(&self, token: &str, keys: &Keys<'_>) -> Result<Jwt> {
        self.expect(token, Kind::Jwe, "JWE")?;
        let d = self.decrypt_jwe(token, keys)?;
        if is_jwt(d.header().cty()) {
            return Err(ClaimsError::WrongKind {
                expected: "encrypted JWT",
                found: "nested JWT",
            }
            .into());
        }
        let claims = Claims::parse(d.plaintext())?;
        self.finish(claims, d.header().clone(), Some(d.header().clone()))
    }

    fn nested(&self, token: &str, outer: &Keys<'_>, inner: &Keys<'_>) -> Result<Jwt> {
        self.expect(token, Kind::Jwe, "nested JWT")?;
        if self.jws_algs.is_empty() {
            return Err(AlgorithmError::NotAllowed("(no JWS algorithm is allowed)".into()).into());
        }
        let d = self.decrypt_jwe(token, outer)?;
        // RFC 7519 section 5.2: a nested JWT says so with `cty`.
        let inner_token = std::str::from_utf8(d.plaintext()).ok();
        let signed_inside = is_jwt(d.header().cty())
            && inner_token.is_some_and(|t| !crate::json::is_json_serialization(t) && dots(t) == 2);
        let Some(inner_token) = inner_token.filter(|_| signed_inside) else {
            return Err(ClaimsError::WrongKind {
                expected: "nested JWT",
                found: "encrypted JWT",
            }
            .into());
        };
        let (payload, protected) = self
            .verify_jws(inner_token, inner, true)?
            .into_payload_and_protected();
        let claims = Claims::parse(&payload)?;
        self.finish(claims, protected, Some(d.header().clone()))
    }

    fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0)
        })
    }

    /// `claims` were parsed, so their types are checked.
    fn finish(&self, claims: Claims, header: Header, outer: Option<Header>) -> Result<Jwt> {
        self.validate_typed_claims(&claims)?;
        if let Some(want) = &self.typ {
            let ok = header.typ().is_some_and(|t| same_media_type(t, want));
            if !ok {
                return Err(ClaimsError::Type.into());
            }
        }
        Ok(Jwt {
            claims,
            header,
            encryption_header: outer,
        })
    }

    /// Checks the claims alone (times, required claims, `iss`, `aud`, `sub`), as
    /// [`verify`](Self::verify) and the others do after the cryptography.
    pub fn validate_claims(&self, claims: &Claims) -> Result<()> {
        // Types first: a claim of the wrong type is never taken for an absent one.
        claims.check_types()?;
        self.validate_typed_claims(claims)
    }

    /// [`validate_claims`](Self::validate_claims) for claims whose types are checked (parsed
    /// ones: [`Claims::parse`] checks them).
    fn validate_typed_claims(&self, claims: &Claims) -> Result<()> {
        let r = claims.registered();
        for name in &self.required {
            if !r.contains(claims, name) {
                return Err(ClaimsError::Missing(name.clone()).into());
            }
        }
        #[allow(clippy::cast_precision_loss)] // seconds fit an f64 exactly until 2^53
        let (now, leeway) = (self.now() as f64, self.leeway as f64);
        if Registered::date(r.exp).is_some_and(|exp| now >= exp + leeway) {
            return Err(ClaimsError::Expired.into());
        }
        if Registered::date(r.nbf).is_some_and(|nbf| now + leeway < nbf) {
            return Err(ClaimsError::NotYetValid.into());
        }
        if Registered::date(r.iat).is_some_and(|iat| iat > now + leeway) {
            return Err(ClaimsError::IssuedInFuture.into());
        }
        if !self.issuers.is_empty() {
            let iss = r
                .iss
                .and_then(Value::as_str)
                .ok_or_else(|| ClaimsError::Missing("iss".into()))?;
            if !self.issuers.iter().any(|i| i == iss) {
                return Err(ClaimsError::Mismatch("iss").into());
            }
        }
        if let Some(want) = &self.subject {
            let sub = r
                .sub
                .and_then(Value::as_str)
                .ok_or_else(|| ClaimsError::Missing("sub".into()))?;
            if sub != want {
                return Err(ClaimsError::Mismatch("sub").into());
            }
        }
        if self.audiences.is_empty() {
            if r.aud.is_some() {
                return Err(ClaimsError::Mismatch("aud").into());
            }
        } else {
            if r.aud.is_none() {
                return Err(ClaimsError::Missing("aud".into()).into());
            }
            if !r.aud().any(|a| self.audiences.iter().any(|w| w == a)) {
                return Err(ClaimsError::Mismatch("aud").into());
            }
        }
        Ok(())
    }
}

/// The number of `.` in a token, counted up to 5 (a compact JWS has 2, a JWE 4; more is
/// malformed either way), with a vectorised byte search.
fn dots(token: &str) -> usize {
    memchr::memchr_iter(b'.', token.as_bytes()).take(5).count()
}

fn is_jwt(cty: Option<&str>) -> bool {
    cty.is_some_and(|c| same_media_type(c, "JWT"))
}

/// RFC 7515 section 4.1.9: media types compare case-insensitively, and `application/` may be
/// left out.
fn same_media_type(a: &str, b: &str) -> bool {
    fn strip(s: &str) -> &str {
        match s.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => &s[12..],
            _ => s,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        assert!(same_media_type("JWT", "jwt"));
        assert!(same_media_type("application/jwt", "JWT"));
        assert!(same_media_type("at+jwt", "application/AT+JWT"));
        assert!(!same_media_type("JWT", "JOSE"));
        // Non-ASCII input: no panic on a char boundary inside the prefix.
        assert!(same_media_type("é", "application/é"));
        assert!(!same_media_type("applicationé/x", "x"));
    }
}
