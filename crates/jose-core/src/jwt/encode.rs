//! Producing JWTs: signed (JWS), encrypted (JWE) and nested (signed, then encrypted).

use crate::alg::{ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm};
use crate::backend::KeyBackend;
use crate::error::Result;
use crate::header::Header;
use crate::jwe;
use crate::jws;
use crate::jwt::Claims;

fn with_typ(header: Option<&Header>) -> Header {
    let mut h = header.cloned().unwrap_or_default();
    if !h.contains("typ") {
        h.set("typ", "JWT");
    }
    h
}

fn payload(claims: &Claims) -> Result<Vec<u8>> {
    // Claims built member by member are checked here, before anything is signed.
    claims.check_types()?;
    Ok(claims.to_json().into_bytes())
}

/// Signs `claims` as a compact JWS with `"typ":"JWT"` (unless `header` sets another `typ`).
///
/// ```
/// use jose_core::{jwt, JwsAlgorithm, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let key = SoftwareKey::generate_ed25519()?;
/// let token = jwt::sign(&jwt::Claims::new().subject("me").expires_at(4_000_000_000), &key, JwsAlgorithm::EdDSA, None)?;
/// let jwt = jwt::Validation::new().jws_algorithms(&[JwsAlgorithm::EdDSA]).verify(&token, &key)?;
/// assert_eq!(jwt.claims().sub(), Some("me"));
/// # Ok(()) }
/// ```
pub fn sign(
    claims: &Claims,
    key: &dyn KeyBackend,
    alg: JwsAlgorithm,
    header: Option<&Header>,
) -> Result<String> {
    match header {
        // The common case: the header is `alg`, `typ` and the key's `kid`, written directly
        // (the same bytes as the general path below).
        None => {
            claims.check_types()?;
            jws::sign::compact_own_header(key, alg, Some("JWT"), |out| claims.write_json(out))
        }
        Some(_) => jws::JwsBuilder::new(&payload(claims)?)
            .add_signature(key, alg, with_typ(header), None)?
            .compact(),
    }
}

/// Encrypts `claims` as a compact JWE with `"typ":"JWT"` (unless `header` sets another `typ`).
pub fn encrypt(
    claims: &Claims,
    key: &dyn KeyBackend,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    header: Option<&Header>,
) -> Result<String> {
    jwe::encrypt_compact(key, alg, enc, &payload(claims)?, Some(&with_typ(header)))
}

/// Signs `claims` with `signing_key`, then encrypts the JWS to `recipient` (RFC 7519
/// section 5.2: the outer header has `"cty":"JWT"`).
///
/// ```
/// use jose_core::{jwt, ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm as Alg, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let issuer = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)?;
/// let audience = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P384)?;
/// let claims = jwt::Claims::new().issuer("issuer").expires_at(4_000_000_000);
/// let token = jwt::sign_then_encrypt(&claims, &issuer, JwsAlgorithm::ES256, &audience, Alg::EcdhEs, ContentEncryption::A256Gcm)?;
///
/// let jwt = jwt::Validation::new()
///     .jws_algorithms(&[JwsAlgorithm::ES256])
///     .jwe_algorithms(&[Alg::EcdhEs], &[ContentEncryption::A256Gcm])
///     .issuer("issuer")
///     .decrypt_and_verify(&token, &audience, &issuer)?;
/// assert_eq!(jwt.claims().iss(), Some("issuer"));
/// assert_eq!(jwt.encryption_header().and_then(|h| h.cty()), Some("JWT"));
/// # Ok(()) }
/// ```
pub fn sign_then_encrypt(
    claims: &Claims,
    signing_key: &dyn KeyBackend,
    sig_alg: JwsAlgorithm,
    recipient: &dyn KeyBackend,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
) -> Result<String> {
    let inner = sign(claims, signing_key, sig_alg, None)?;
    let outer = Header::new().with("cty", "JWT");
    jwe::encrypt_compact(recipient, alg, enc, inner.as_bytes(), Some(&outer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SoftwareKey;
    use crate::jwk::Jwk;

    /// The general path: the builder with the header the fast path writes itself.
    fn general(
        payload: &[u8],
        key: &dyn KeyBackend,
        alg: JwsAlgorithm,
        typ: Option<&str>,
    ) -> String {
        let header = match typ {
            Some(t) => Header::new().with("typ", t),
            None => Header::new(),
        };
        jws::JwsBuilder::new(payload)
            .add_signature(key, alg, header, None)
            .unwrap()
            .compact()
            .unwrap()
    }

    /// `jwt::sign` and `jws::sign_compact` without a caller header take the fast path; it
    /// makes the same bytes as the builder (deterministic algorithms: HMAC, EdDSA, RSA
    /// PKCS#1 v1.5), with and without a `kid`, and with a `kid` that JSON must escape.
    #[test]
    fn the_fast_path_makes_the_builders_bytes() {
        let rsa = SoftwareKey::generate_rsa(2048).unwrap();
        let keys = [
            (SoftwareKey::generate_oct(32).unwrap(), JwsAlgorithm::HS256),
            (SoftwareKey::generate_oct(64).unwrap(), JwsAlgorithm::HS512),
            (
                SoftwareKey::generate_ed25519().unwrap(),
                JwsAlgorithm::EdDSA,
            ),
            (SoftwareKey::generate_ed448().unwrap(), JwsAlgorithm::EdDSA),
            (rsa, JwsAlgorithm::RS256),
        ];
        let claims = Claims::new()
            .issuer("https://issuer.example")
            .subject("s\"é\u{1}")
            .audiences(["a", "b"])
            .expires_at(4_000_000_000)
            .with("nested", serde_json::json!({"x": [1, 2.5, null, true]}));
        for (key, alg) in keys {
            let jwk = key.jwk().clone();
            for kid in [None, Some("k-1"), Some("quote\" slash\\ nl\n é \u{7f}")] {
                let key = SoftwareKey::from_jwk(jwk.clone()).unwrap();
                let key = match kid {
                    Some(k) => key.with_kid(k),
                    None => key,
                };
                let fast = sign(&claims, &key, alg, None).unwrap();
                let payload = claims.to_json();
                assert_eq!(
                    fast,
                    general(payload.as_bytes(), &key, alg, Some("JWT")),
                    "{alg} kid {kid:?}"
                );
                for payload in [&b""[..], b"hello", &[0xff, 0, 0x80, b'.']] {
                    assert_eq!(
                        jws::sign_compact(&key, alg, payload, None).unwrap(),
                        general(payload, &key, alg, None),
                        "{alg} kid {kid:?} payload {payload:?}"
                    );
                }
            }
        }
    }

    /// The fast path keeps the builder's checks: the key must serve the algorithm and permit
    /// signing, and claims of the wrong type are refused.
    #[test]
    fn the_fast_path_keeps_the_checks() {
        use crate::error::{AlgorithmError, ClaimsError, Error, KeyError};
        let key = SoftwareKey::generate_oct(32).unwrap();
        assert!(matches!(
            sign(&Claims::new(), &key, JwsAlgorithm::ES256, None),
            Err(Error::Algorithm(AlgorithmError::KeyMismatch { .. }))
        ));
        let verify_only = SoftwareKey::from_jwk(
            Jwk::from_value(
                &serde_json::json!({"kty": "oct", "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "key_ops": ["verify"]}),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(matches!(
            sign(&Claims::new(), &verify_only, JwsAlgorithm::HS256, None),
            Err(Error::Key(KeyError::NotPermitted { op: "sign", .. }))
        ));
        assert!(matches!(
            jws::sign_compact(&verify_only, JwsAlgorithm::HS256, b"x", None),
            Err(Error::Key(KeyError::NotPermitted { op: "sign", .. }))
        ));
        let mut bad = Claims::new();
        bad.set("exp", "never");
        assert!(matches!(
            sign(&bad, &key, JwsAlgorithm::HS256, None),
            Err(Error::Claims(ClaimsError::WrongType(name))) if name == "exp"
        ));
    }
}
