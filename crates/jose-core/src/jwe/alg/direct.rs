//! Direct encryption with a shared symmetric key, RFC 7518 section 4.5: `dir`. The key *is*
//! the CEK, and the `encrypted_key` is empty.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::alg::ContentEncryption;
use crate::backend::WrappedKey;
use crate::error::{AlgorithmError, Error, Malformed, Result};
use crate::jwk::SecretBytes;

fn mismatch(key_len: usize, what: &str) -> Error {
    AlgorithmError::KeyMismatch {
        alg: format!("dir with {what}"),
        key: format!("oct {}", key_len * 8),
    }
    .into()
}

/// The CEK for `enc`: the key itself, which must have `enc`'s key length.
pub(crate) fn cek(key: &[u8], encrypted_key: &[u8], enc: ContentEncryption) -> Result<SecretBytes> {
    if !encrypted_key.is_empty() {
        return Err(empty_required());
    }
    if key.len() != enc.key_len() {
        return Err(mismatch(key.len(), enc.as_str()));
    }
    Ok(Zeroizing::new(key.to_vec()))
}

/// "Wrapping" for `dir`: only the key itself can be the CEK.
pub(crate) fn wrap(key: &[u8], cek: &[u8]) -> Result<WrappedKey> {
    if key.len() != cek.len() || !bool::from(key.ct_eq(cek)) {
        return Err(mismatch(key.len(), "another content key"));
    }
    Ok(WrappedKey::default())
}

/// The error for a non-empty `encrypted_key` with `dir` or `ECDH-ES`.
pub(crate) fn empty_required() -> Error {
    Malformed::Serialization("the encrypted key must be empty with `dir` and `ECDH-ES`").into()
}
