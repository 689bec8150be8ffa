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
    jws::JwsBuilder::new(&payload(claims)?)
        .add_signature(key, alg, with_typ(header), None)?
        .compact()
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
