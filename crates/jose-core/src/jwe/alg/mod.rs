//! JWE key management algorithms (RFC 7518 section 4).

use crate::alg::{ContentEncryption, KeyManagementAlgorithm};
use crate::backend::WrappedKey;
use crate::error::{AlgorithmError, Result};
use crate::header::Header;
use crate::jwk::{Jwk, SecretBytes};
use crate::keys::SoftwareKey;

/// Recovers a CEK with a software key.
pub(crate) fn software_unwrap(
    key: &SoftwareKey,
    alg: KeyManagementAlgorithm,
    encrypted_key: &[u8],
    header: &Header,
    enc: ContentEncryption,
) -> Result<SecretBytes> {
    let _ = (key.parsed(), encrypted_key, header, enc);
    Err(AlgorithmError::Unsupported(alg.to_string()).into())
}

/// Encrypts a CEK with a software key.
pub(crate) fn software_wrap(
    key: &SoftwareKey,
    alg: KeyManagementAlgorithm,
    cek: &[u8],
) -> Result<WrappedKey> {
    let _ = (key, cek);
    Err(AlgorithmError::Unsupported(alg.to_string()).into())
}

/// ECDH with a software key.
pub(crate) fn software_ecdh(key: &SoftwareKey, epk: &Jwk) -> Result<SecretBytes> {
    let _ = (key, epk);
    Err(AlgorithmError::Unsupported("ECDH-ES".into()).into())
}
