//! AES-GCM content encryption (RFC 7518 section 5.3): 96-bit IV, 128-bit tag.
//!
//! Also used, with the CEK as plaintext and no AAD, by the `A*GCMKW` key encryption
//! algorithms (RFC 7518 section 4.7).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::cipher::consts::U12;
use aes_gcm::aes::{Aes128, Aes192, Aes256};
use aes_gcm::{AesGcm, Nonce, Tag};
use zeroize::Zeroizing;

use super::Sealed;
use crate::error::{Error, KeyError, Result};
use crate::jwk::SecretBytes;

/// The IV length of AES-GCM in JOSE.
pub(crate) const IV_LEN: usize = 12;
/// The tag length of AES-GCM in JOSE.
pub(crate) const TAG_LEN: usize = 16;

fn bad_key() -> Error {
    KeyError::InvalidMember {
        member: "k",
        reason: "is not an AES-128, AES-192 or AES-256 key",
    }
    .into()
}

fn seal<C>(key: &[u8], iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed>
where
    C: KeyInit + AeadInOut<NonceSize = U12>,
{
    let cipher = C::new_from_slice(key).map_err(|_| bad_key())?;
    let nonce = Nonce::<U12>::try_from(iv).map_err(|_| bad_key())?;
    let mut buf = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into())
        // Only "plaintext or AAD too long" (over 64 GiB), far beyond the token size limits.
        .map_err(|_| {
            Error::from(crate::error::Malformed::TooLarge {
                what: "plaintext",
                limit: (1 << 36) - 32,
            })
        })?;
    Ok(Sealed {
        ciphertext: buf,
        tag: tag.to_vec(),
    })
}

fn open<C>(key: &[u8], iv: &[u8], aad: &[u8], ciphertext: &[u8], tag: &[u8]) -> Result<SecretBytes>
where
    C: KeyInit + AeadInOut<NonceSize = U12, TagSize = aes_gcm::aes::cipher::consts::U16>,
{
    let cipher = C::new_from_slice(key).map_err(|_| Error::Decryption)?;
    let nonce = Nonce::<U12>::try_from(iv).map_err(|_| Error::Decryption)?;
    let tag = Tag::try_from(tag).map_err(|_| Error::Decryption)?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    cipher
        .decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| Error::Decryption)?;
    Ok(buf)
}

/// Encrypts with AES-GCM; the key length selects AES-128, -192 or -256.
pub(crate) fn encrypt(key: &[u8], iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed> {
    match key.len() {
        16 => seal::<AesGcm<Aes128, U12>>(key, iv, aad, plaintext),
        24 => seal::<AesGcm<Aes192, U12>>(key, iv, aad, plaintext),
        32 => seal::<AesGcm<Aes256, U12>>(key, iv, aad, plaintext),
        _ => Err(bad_key()),
    }
}

/// Decrypts with AES-GCM. Any failure is [`Error::Decryption`]; the tag must be 16 bytes.
pub(crate) fn decrypt(
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<SecretBytes> {
    if iv.len() != IV_LEN || tag.len() != TAG_LEN {
        return Err(Error::Decryption);
    }
    match key.len() {
        16 => open::<AesGcm<Aes128, U12>>(key, iv, aad, ciphertext, tag),
        24 => open::<AesGcm<Aes192, U12>>(key, iv, aad, ciphertext, tag),
        32 => open::<AesGcm<Aes256, U12>>(key, iv, aad, ciphertext, tag),
        _ => Err(Error::Decryption),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        for len in [16, 24, 32] {
            let key = vec![7u8; len];
            let iv = [1u8; IV_LEN];
            let sealed = encrypt(&key, &iv, b"aad", b"hello").unwrap();
            assert_eq!(sealed.tag.len(), TAG_LEN);
            let pt = decrypt(&key, &iv, b"aad", &sealed.ciphertext, &sealed.tag).unwrap();
            assert_eq!(pt.as_slice(), b"hello");
            assert!(
                decrypt(&key, &iv, b"aaD", &sealed.ciphertext, &sealed.tag)
                    .is_err_and(|e| matches!(e, Error::Decryption))
            );
            assert!(
                decrypt(&key, &iv, b"aad", &sealed.ciphertext, &sealed.tag[..15])
                    .is_err_and(|e| matches!(e, Error::Decryption))
            );
        }
        assert!(
            encrypt(&[0; 17], &[0; 12], b"", b"").is_err_and(|e| matches!(
                e,
                Error::Key(KeyError::InvalidMember { member: "k", .. })
            ))
        );
        assert!(
            decrypt(&[0; 16], &[0; 11], b"", b"", &[0; 16])
                .is_err_and(|e| matches!(e, Error::Decryption))
        );
    }
}
