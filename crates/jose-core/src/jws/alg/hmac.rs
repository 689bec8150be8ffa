//! HMAC with SHA-2 (RFC 7518 section 3.2): `HS256`, `HS384`, `HS512`.

use hmac::{KeyInit, Mac};
use sha2::{Sha256, Sha384, Sha512};

use super::Sha2;
use crate::error::{KeyError, Result};

/// The tag of `input` under `key`.
pub(crate) fn tag(sha: Sha2, key: &[u8], input: &[u8]) -> Result<Vec<u8>> {
    fn tag<M: Mac + KeyInit>(key: &[u8], input: &[u8]) -> Result<Vec<u8>> {
        let mut mac =
            <M as KeyInit>::new_from_slice(key).map_err(|_| KeyError::Generation("HMAC key"))?;
        mac.update(input);
        Ok(mac.finalize().into_bytes().to_vec())
    }
    match sha {
        Sha2::Sha256 => tag::<hmac::Hmac<Sha256>>(key, input),
        Sha2::Sha384 => tag::<hmac::Hmac<Sha384>>(key, input),
        Sha2::Sha512 => tag::<hmac::Hmac<Sha512>>(key, input),
    }
}

/// Whether `sig` is the full tag of `input` under `key`, compared in constant time.
pub(crate) fn verify(sha: Sha2, key: &[u8], input: &[u8], sig: &[u8]) -> bool {
    fn check<M: Mac + KeyInit>(key: &[u8], input: &[u8], sig: &[u8]) -> bool {
        match <M as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(input);
                // Constant-time; the full tag length is required (no truncation).
                mac.verify_slice(sig).is_ok()
            }
            Err(_) => false,
        }
    }
    match sha {
        Sha2::Sha256 => check::<hmac::Hmac<Sha256>>(key, input, sig),
        Sha2::Sha384 => check::<hmac::Hmac<Sha384>>(key, input, sig),
        Sha2::Sha512 => check::<hmac::Hmac<Sha512>>(key, input, sig),
    }
}
