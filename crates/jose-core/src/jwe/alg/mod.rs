//! JWE key management algorithms (RFC 7518 section 4), one module per RFC name.
//!
//! The functions here are the software implementations behind [`SoftwareKey`]'s
//! [`KeyBackend`](crate::KeyBackend) methods; the JWE layer itself only talks to the trait.

pub(crate) mod aesgcmkw;
pub(crate) mod aeskw;
pub(crate) mod direct;
pub(crate) mod ecdh_es;
pub(crate) mod rsaes;

use crate::alg::{ContentEncryption, KeyManagementAlgorithm};
use crate::backend::{KeyBackend, WrappedKey, public_only};
use crate::error::{AlgorithmError, Error, Result};
use crate::header::Header;
use crate::jwk::{Jwk, SecretBytes};
use crate::keys::{Parsed, SoftwareKey};

fn mismatch(key: &SoftwareKey, alg: KeyManagementAlgorithm) -> Error {
    AlgorithmError::KeyMismatch {
        alg: alg.to_string(),
        key: key.describe(),
    }
    .into()
}

/// Recovers a CEK with a software key.
pub(crate) fn software_unwrap(
    key: &SoftwareKey,
    alg: KeyManagementAlgorithm,
    encrypted_key: &[u8],
    header: &Header,
    enc: ContentEncryption,
) -> Result<SecretBytes> {
    use KeyManagementAlgorithm as K;
    match (key.parsed(), alg) {
        (Parsed::Rsa { private, .. }, K::RsaOaep | K::RsaOaep256) => {
            let private = private.as_deref().ok_or_else(public_only)?;
            rsaes::decrypt(private, alg, encrypted_key)
        }
        (Parsed::Oct(k), K::A128KW | K::A192KW | K::A256KW)
            if alg.aes_kw_key_len() == Some(k.len()) =>
        {
            aeskw::unwrap(k, encrypted_key)
        }
        (Parsed::Oct(k), K::A128GCMKW | K::A192GCMKW | K::A256GCMKW)
            if alg.aes_gcm_kw_key_len() == Some(k.len()) =>
        {
            aesgcmkw::unwrap(k, encrypted_key, header)
        }
        (Parsed::Oct(k), K::Dir) => direct::cek(k, encrypted_key, enc),
        _ => Err(mismatch(key, alg)),
    }
}

/// Encrypts a CEK with a software key: the symmetric algorithms, and RSA-OAEP with the public
/// key (which the JWE layer does itself, from the public JWK, for any backend).
pub(crate) fn software_wrap(
    key: &SoftwareKey,
    alg: KeyManagementAlgorithm,
    cek: &[u8],
) -> Result<WrappedKey> {
    use KeyManagementAlgorithm as K;
    match (key.parsed(), alg) {
        (Parsed::Rsa { public, .. }, K::RsaOaep | K::RsaOaep256) => Ok(WrappedKey {
            encrypted_key: rsaes::encrypt(public, alg, cek)?,
            header: Default::default(),
        }),
        (Parsed::Oct(k), K::A128KW | K::A192KW | K::A256KW)
            if alg.aes_kw_key_len() == Some(k.len()) =>
        {
            Ok(WrappedKey {
                encrypted_key: aeskw::wrap(k, cek)?,
                header: Default::default(),
            })
        }
        (Parsed::Oct(k), K::A128GCMKW | K::A192GCMKW | K::A256GCMKW)
            if alg.aes_gcm_kw_key_len() == Some(k.len()) =>
        {
            aesgcmkw::wrap(k, cek)
        }
        (Parsed::Oct(k), K::Dir) => direct::wrap(k, cek),
        _ => Err(mismatch(key, alg)),
    }
}

/// ECDH with a software key.
pub(crate) fn software_ecdh(key: &SoftwareKey, epk: &Jwk) -> Result<SecretBytes> {
    // The peer's JWK was validated when it was built (lengths, point on the curve).
    ecdh_es::agree(key, &SoftwareKey::from_jwk(epk.to_public()?)?)
}
