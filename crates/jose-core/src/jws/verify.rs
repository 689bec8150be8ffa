//! Verifying JWS under a caller's policy.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::alg::{Algorithm, JwsAlgorithm};
use crate::b64;
use crate::backend::{KeyBackend, KeyStore, check_key};
use crate::consume::{self, Keys, Serialization};
use crate::error::{AlgorithmError, Error, Malformed, Result};
use crate::header::Header;
use crate::jws::alg::{Family, ecdsa, family};
use crate::jws::parse::{self, RawJws, RawSignature};
use crate::jws::{DEFAULT_MAX_SIGNATURES, DEFAULT_MAX_TOKEN_LEN, headers};

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
/// unencoded payloads, a detached payload, a size limit, a limit on the number of signatures and
/// (for ECDSA) whether high-S signatures are refused.
///
/// The cost of a verification grows with the token's size, not with its size times its number
/// of signatures: the signatures are capped ([`max_signatures`](Self::max_signatures)), the
/// signing input of each distinct protected header is built once, and with several signatures
/// one key is tried only on the signatures that name its `kid` (or name none).
#[derive(Debug, Clone)]
pub struct Verifier<'a> {
    allowed: Cow<'a, [JwsAlgorithm]>,
    understood: Vec<String>,
    unencoded: bool,
    detached: Option<&'a [u8]>,
    max_len: usize,
    max_signatures: usize,
    low_s: bool,
    /// The token is the plaintext of a JWE: decode it in constant time.
    secret_token: bool,
}

/// Verifies a compact JWS with one key; `allowed` lists the acceptable algorithms.
pub fn verify_compact(
    token: &str,
    key: &dyn KeyBackend,
    allowed: &[JwsAlgorithm],
) -> Result<Verified> {
    Verifier::borrowing(allowed).verify_as(token, Serialization::Compact, Keys::One(key))
}

/// Verifies a JWS in either JSON serialization with one key.
pub fn verify_json(
    token: &str,
    key: &dyn KeyBackend,
    allowed: &[JwsAlgorithm],
) -> Result<Verified> {
    Verifier::borrowing(allowed).verify_as(token, Serialization::Json, Keys::One(key))
}

/// The low-S form of an ECDSA signature (`r || s`) for `alg` (`ES256`, `ES384`, `ES512`).
///
/// ECDSA signatures are malleable: `(r, s)` and `(r, n - s)` both verify. [`SoftwareKey`]
/// always signs in the low-S form; a backend whose device may return either form (a PKCS#11
/// token) passes its signatures through this function, so that its tokens pass a verifier
/// with [`Verifier::require_low_s`].
///
/// Errors: [`AlgorithmError::KeyMismatch`] when `alg` is not an ECDSA algorithm,
/// [`Error::Verification`] when `signature` is not an `r || s` signature on its curve.
///
/// [`SoftwareKey`]: crate::SoftwareKey
///
/// ```
/// use jose_core::{jws, JwsAlgorithm};
/// # fn main() -> Result<(), jose_core::Error> {
/// // n - 1 is the high-S form of s = 1; its low-S form is s = 1.
/// let mut high = vec![0u8; 64];
/// high[31] = 1;
/// high[32..].copy_from_slice(&[
///     0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
///     0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
///     0x25, 0x50,
/// ]);
/// let low = jws::ecdsa_normalize_s(JwsAlgorithm::ES256, &high)?;
/// assert_eq!(low[63], 1);
/// assert_eq!(jws::ecdsa_normalize_s(JwsAlgorithm::ES256, &low)?, low);
/// # Ok(()) }
/// ```
pub fn ecdsa_normalize_s(alg: JwsAlgorithm, signature: &[u8]) -> Result<Vec<u8>> {
    match family(alg) {
        Family::Ecdsa(curve) => ecdsa::normalize_s(curve, signature).ok_or(Error::Verification),
        Family::Hmac(_) | Family::RsaPkcs1(_) | Family::RsaPss(_) | Family::EdDsa => {
            Err(AlgorithmError::KeyMismatch {
                alg: alg.to_string(),
                key: "an ECDSA signature".into(),
            }
            .into())
        }
    }
}

impl<'a> Verifier<'a> {
    /// A verifier accepting only these algorithms.
    pub fn new(allowed: &[JwsAlgorithm]) -> Self {
        Self::with_allowed(Cow::Owned(allowed.to_vec()))
    }

    /// [`new`](Self::new) for a verifier that lives no longer than the list (no copy of it).
    pub(crate) fn borrowing(allowed: &'a [JwsAlgorithm]) -> Self {
        Self::with_allowed(Cow::Borrowed(allowed))
    }

    fn with_allowed(allowed: Cow<'a, [JwsAlgorithm]>) -> Self {
        Self {
            allowed,
            understood: Vec::new(),
            unencoded: false,
            detached: None,
            max_len: DEFAULT_MAX_TOKEN_LEN,
            max_signatures: DEFAULT_MAX_SIGNATURES,
            low_s: false,
            secret_token: false,
        }
    }

    /// The token is itself secret (the inner JWS of a nested JWT, decrypted from a JWE): its
    /// parts are decoded with the constant-time codec.
    pub(crate) fn secret_token(mut self) -> Self {
        self.secret_token = true;
        self
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

    /// Sets the largest number of signatures accepted in a JSON JWS (by default
    /// [`DEFAULT_MAX_SIGNATURES`]). A token with more is refused before any
    /// cryptography.
    pub fn max_signatures(mut self, n: usize) -> Self {
        self.max_signatures = n;
        self
    }

    /// Refuses ECDSA signatures in the high-S form (`s > n/2`) with [`Error::Verification`].
    ///
    /// Both forms are valid ECDSA, so anyone can turn one valid token into a second valid one
    /// with another string. Callers that key caches, replay checks or revocation lists on the
    /// token string want exactly one accepted form; jose-core signers always emit low-S.
    pub fn require_low_s(mut self) -> Self {
        self.low_s = true;
        self
    }

    /// Verifies a JWS (compact or JSON, detected) with one key.
    pub fn verify(&self, token: &str, key: &dyn KeyBackend) -> Result<Verified> {
        self.verify_as(token, Serialization::Detect, Keys::One(key))
    }

    /// Verifies a JWS with the key its `kid` selects from `keys`. A token without `kid` is
    /// accepted only when exactly one key in the store can serve its algorithm. A store that
    /// holds both symmetric and asymmetric keys is refused ([`KeyError::MixedKeyKinds`]).
    ///
    /// [`KeyError::MixedKeyKinds`]: crate::error::KeyError::MixedKeyKinds
    pub fn verify_with(&self, token: &str, keys: &dyn KeyStore) -> Result<Verified> {
        self.verify_as(token, Serialization::Detect, Keys::Store(keys))
    }

    pub(crate) fn verify_as(
        &self,
        token: &str,
        form: Serialization,
        keys: Keys<'_>,
    ) -> Result<Verified> {
        if let Keys::Store(store) = keys {
            consume::one_kind(store.keys())?;
        }
        let compact = if self.secret_token {
            parse::compact_secret
        } else {
            parse::compact
        };
        let raw = consume::parse(token, self.max_len, form, compact, parse::json)?;
        self.run(raw, keys)
    }

    fn run(&self, mut raw: RawJws<'_>, keys: Keys<'_>) -> Result<Verified> {
        if self.allowed.is_empty() {
            return Err(AlgorithmError::NotAllowed("(the allowed list is empty)".into()).into());
        }
        if raw.signatures.len() > self.max_signatures {
            return Err(Malformed::Serialization(
                "the JWS has more signatures than this verifier accepts",
            )
            .into());
        }
        // RFC 7797 section 3: every signature uses the same `b64` value.
        let mut b64_values = raw.signatures.iter().map(|s| s.protected.b64());
        let first = b64_values.next();
        if b64_values.any(|b| Some(b) != first) {
            return Err(Malformed::Header {
                member: "b64".into(),
                reason: "differs between signatures",
            }
            .into());
        }
        let several = raw.signatures.len() > 1;
        // Built on first use, once per token: the encoded detached payload, and the signing
        // input of each distinct protected header.
        let mut shared = Shared {
            encoded_detached: OnceCell::new(),
            inputs: Vec::new(),
        };
        let (alg, payload, i) = consume::first_success(
            0..raw.signatures.len(),
            || Error::Verification,
            |i| {
                let (alg, payload) = self.one(&raw, i, keys, several, &mut shared)?;
                Ok((alg, payload, i))
            },
        )?;
        // The headers of the signature that verified move into the result.
        let sig = raw.signatures.swap_remove(i);
        Ok(Verified {
            payload,
            alg,
            protected: sig.protected,
            unprotected: sig.unprotected,
        })
    }

    /// Verifies signature `i`; returns its algorithm and the payload.
    fn one(
        &self,
        raw: &RawJws<'_>,
        i: usize,
        keys: Keys<'_>,
        several: bool,
        shared: &mut Shared,
    ) -> Result<(JwsAlgorithm, Vec<u8>)> {
        let sig: &RawSignature<'_> = &raw.signatures[i];
        let joint = if self.understood.is_empty() && !self.unencoded {
            headers::check(&sig.protected, sig.unprotected.as_ref(), &[])?
        } else {
            let mut understood: Vec<&str> = self.understood.iter().map(String::as_str).collect();
            if self.unencoded {
                understood.push("b64");
            }
            headers::check(&sig.protected, sig.unprotected.as_ref(), &understood)?
        };
        let b64 = sig.protected.b64();

        let alg_name = joint.alg().ok_or(AlgorithmError::Missing("alg"))?;
        let alg: JwsAlgorithm = alg_name.parse()?;
        if !self.allowed.contains(&alg) {
            return Err(AlgorithmError::NotAllowed(alg_name.to_owned()).into());
        }
        let key = keys.select(joint.kid(), Algorithm::Jws(alg), several)?;
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
                    Cow::Borrowed(
                        shared
                            .encoded_detached
                            .get_or_init(|| b64::encode(d))
                            .as_bytes(),
                    )
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
        if let (true, Family::Ecdsa(curve)) = (self.low_s, family(alg)) {
            if ecdsa::is_high_s(curve, &sig.signature) {
                return Err(Error::Verification);
            }
        }
        // A compact token holds its signing input as it is (unless the payload is detached).
        if let (None, Some(input)) = (self.detached, raw.compact_input) {
            key.verify(alg, input.as_bytes(), &sig.signature)?;
            // The payload part is text already (a part of the token): no UTF-8 check again.
            if let (true, Some(text)) = (b64, raw.payload.as_deref()) {
                return Ok((alg, self.decode_text(text)?));
            }
            return Ok((alg, self.decode_payload(&payload_part, b64)?));
        }
        // Signatures that share a protected header share its signing input.
        let same_header =
            |&(j, _): &(usize, Vec<u8>)| raw.signatures[j].protected_b64 == sig.protected_b64;
        let inputs = &mut shared.inputs;
        let input = match inputs.iter().position(same_header) {
            Some(at) => &inputs[at].1,
            None => {
                let mut input =
                    Vec::with_capacity(sig.protected_b64.len() + 1 + payload_part.len());
                input.extend_from_slice(sig.protected_b64.as_bytes());
                input.push(b'.');
                input.extend_from_slice(&payload_part);
                inputs.push((i, input));
                &inputs[inputs.len() - 1].1
            }
        };
        key.verify(alg, input, &sig.signature)?;
        Ok((alg, self.decode_payload(&payload_part, b64)?))
    }

    /// A base64url payload part, decoded.
    fn decode_text(&self, text: &str) -> Result<Vec<u8>> {
        if self.secret_token {
            b64::decode_secret("payload", text)
        } else {
            b64::decode("payload", text)
        }
    }

    /// The payload of a verified signature, from its part in the token (or the detached one).
    fn decode_payload(&self, payload_part: &[u8], b64: bool) -> Result<Vec<u8>> {
        Ok(match (self.detached, b64) {
            (Some(d), _) => d.to_vec(),
            (None, true) => {
                self.decode_text(std::str::from_utf8(payload_part).unwrap_or("\u{0}"))?
            }
            (None, false) => payload_part.to_vec(),
        })
    }
}

/// What the signatures of one token share, built once.
struct Shared {
    /// A detached payload, base64url-encoded (when `b64` is true).
    encoded_detached: OnceCell<String>,
    /// The signing input per protected header: (index of a signature with it, input).
    inputs: Vec<(usize, Vec<u8>)>,
}
