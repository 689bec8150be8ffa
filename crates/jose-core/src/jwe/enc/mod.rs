//! JWE content encryption algorithms (RFC 7518 section 5): AES-GCM and AES-CBC with
//! HMAC-SHA-2.
//!
//! Both sides take the content encryption key (CEK), the initialization vector, the additional
//! authenticated data (`ASCII(BASE64URL(protected)) [|| '.' || BASE64URL(aad)]`) and the
//! plaintext or ciphertext. Every failure of [`decrypt`], whatever its cause (tag, padding,
//! lengths), is [`Error::Decryption`](crate::Error::Decryption).

pub(crate) mod aes_cbc_hmac;
pub(crate) mod aes_gcm;

use crate::alg::ContentEncryption;
use crate::error::{Error, Result};
use crate::jwk::SecretBytes;
use crate::provider::Provider;

/// A ciphertext and its authentication tag.
pub(crate) struct Sealed {
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) tag: Vec<u8>,
}

/// Encrypts `plaintext` with `enc`. The CEK and IV must have the algorithm's lengths.
pub(crate) fn encrypt(
    provider: Provider,
    enc: ContentEncryption,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed> {
    use ContentEncryption as E;
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() {
        // Only reachable through a key backend returning a key of the wrong size, or a test
        // hook given the wrong lengths: a caller error, not a decryption failure.
        return Err(crate::error::KeyError::InvalidMember {
            member: "k",
            reason: "does not have the content encryption algorithm's key or IV length",
        }
        .into());
    }
    match enc {
        E::A128Gcm | E::A192Gcm | E::A256Gcm => {
            provider.imp().aes_gcm_seal(cek, iv, aad, plaintext)
        }
        E::A128CbcHs256 | E::A192CbcHs384 | E::A256CbcHs512 => provider
            .imp()
            .aes_cbc_hmac_seal(enc, cek, iv, aad, plaintext),
    }
}

/// Decrypts and authenticates. Any failure is [`Error::Decryption`].
pub(crate) fn decrypt(
    provider: Provider,
    enc: ContentEncryption,
    cek: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<SecretBytes> {
    use ContentEncryption as E;
    // The lengths are public, but one error for everything keeps callers from branching on it.
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
        return Err(Error::Decryption);
    }
    match enc {
        E::A128Gcm | E::A192Gcm | E::A256Gcm => {
            provider.imp().aes_gcm_open(cek, iv, aad, ciphertext, tag)
        }
        E::A128CbcHs256 | E::A192CbcHs384 | E::A256CbcHs512 => provider
            .imp()
            .aes_cbc_hmac_open(enc, cek, iv, aad, ciphertext, tag),
    }
}
