//! AES-CBC with HMAC-SHA-2 (RFC 7518 section 5.2), an encrypt-then-MAC composition.
//!
//! The key is split into a MAC key (first half) and an encryption key (second half). The tag is
//! `HMAC(MAC_KEY, A || IV || E || AL)` truncated to half the hash length, where `AL` is the bit
//! length of `A` as a 64-bit big-endian number.
//!
//! Decryption checks the tag, in constant time and at its exact length, *before* it decrypts
//! or removes padding; a bad tag and bad padding are the same [`Error::Decryption`], so there
//! is no padding oracle.

use aes::{Aes128, Aes192, Aes256};
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::Sealed;
use crate::alg::ContentEncryption;
use crate::error::{Error, KeyError, Result};
use crate::jwk::SecretBytes;

/// The full (untruncated) HMAC over `aad || iv || ciphertext || AL`.
fn mac(
    enc: ContentEncryption,
    mac_key: &[u8],
    aad: &[u8],
    iv: &[u8],
    ct: &[u8],
) -> Result<Vec<u8>> {
    fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Result<Vec<u8>> {
        let mut m = <M as KeyInit>::new_from_slice(key).map_err(|_| Error::Decryption)?;
        for p in parts {
            m.update(p);
        }
        Ok(m.finalize().into_bytes().to_vec())
    }
    let al = u64::try_from(aad.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or(Error::Decryption)?
        .to_be_bytes();
    let parts: [&[u8]; 4] = [aad, iv, ct, &al];
    match enc {
        ContentEncryption::A128CbcHs256 => run::<Hmac<Sha256>>(mac_key, &parts),
        ContentEncryption::A192CbcHs384 => run::<Hmac<Sha384>>(mac_key, &parts),
        _ => run::<Hmac<Sha512>>(mac_key, &parts),
    }
}

fn split(enc: ContentEncryption, key: &[u8]) -> Option<(&[u8], &[u8])> {
    (key.len() == enc.key_len()).then(|| key.split_at(key.len() / 2))
}

/// Encrypts with AES-CBC (PKCS#7 padding) and computes the truncated HMAC tag.
pub(crate) fn encrypt(
    enc: ContentEncryption,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Sealed> {
    let bad = || {
        Error::from(KeyError::InvalidMember {
            member: "k",
            reason: "does not have the content encryption algorithm's key length",
        })
    };
    let (mac_key, enc_key) = split(enc, key).ok_or_else(bad)?;
    macro_rules! cbc_enc {
        ($aes:ty) => {
            cbc::Encryptor::<$aes>::new_from_slices(enc_key, iv)
                .map_err(|_| bad())?
                .encrypt_padded_vec::<Pkcs7>(plaintext)
        };
    }
    let ciphertext = match enc {
        ContentEncryption::A128CbcHs256 => cbc_enc!(Aes128),
        ContentEncryption::A192CbcHs384 => cbc_enc!(Aes192),
        _ => cbc_enc!(Aes256),
    };
    let mut tag = mac(enc, mac_key, aad, iv, &ciphertext)?;
    tag.truncate(enc.tag_len());
    Ok(Sealed { ciphertext, tag })
}

/// Checks the tag, then decrypts and removes the padding. Any failure is
/// [`Error::Decryption`].
pub(crate) fn decrypt(
    enc: ContentEncryption,
    key: &[u8],
    iv: &[u8],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<SecretBytes> {
    let (mac_key, enc_key) = split(enc, key).ok_or(Error::Decryption)?;
    // A truncated or over-long tag is rejected outright: the length is public and fixed.
    if tag.len() != enc.tag_len() || iv.len() != 16 {
        return Err(Error::Decryption);
    }
    // 1. Authenticate, in constant time, before touching the ciphertext.
    let expected = Zeroizing::new(mac(enc, mac_key, aad, iv, ciphertext)?);
    let ok = expected[..enc.tag_len()].ct_eq(tag);
    if !bool::from(ok) {
        return Err(Error::Decryption);
    }
    // 2. Only an authentic ciphertext is decrypted; its padding error is the same error.
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(Error::Decryption);
    }
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    macro_rules! cbc_dec {
        ($aes:ty) => {
            cbc::Decryptor::<$aes>::new_from_slices(enc_key, iv)
                .map_err(|_| Error::Decryption)?
                .decrypt_padded::<Pkcs7>(&mut buf)
                .map(<[u8]>::len)
        };
    }
    let len = match enc {
        ContentEncryption::A128CbcHs256 => cbc_dec!(Aes128),
        ContentEncryption::A192CbcHs384 => cbc_dec!(Aes192),
        _ => cbc_dec!(Aes256),
    }
    .map_err(|_| Error::Decryption)?;
    buf.truncate(len);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7518 appendix B.1: AES_128_CBC_HMAC_SHA_256.
    #[test]
    fn rfc7518_b1() {
        let k: Vec<u8> = (0u8..32).collect();
        let p = b"A cipher system must not be required to be secret, and it must be able to fall into the hands of the enemy without inconvenience";
        let iv = [
            0x1a, 0xf3, 0x8c, 0x2d, 0xc2, 0xb9, 0x6f, 0xfd, 0xd8, 0x66, 0x94, 0x09, 0x23, 0x41,
            0xbc, 0x04,
        ];
        let a = b"The second principle of Auguste Kerckhoffs";
        let sealed = encrypt(ContentEncryption::A128CbcHs256, &k, &iv, a, p).unwrap();
        assert_eq!(
            sealed.tag,
            [
                0x65, 0x2c, 0x3f, 0xa3, 0x6b, 0x0a, 0x7c, 0x5b, 0x32, 0x19, 0xfa, 0xb3, 0xa3, 0x0b,
                0xc1, 0xc4
            ]
        );
        let pt = decrypt(
            ContentEncryption::A128CbcHs256,
            &k,
            &iv,
            a,
            &sealed.ciphertext,
            &sealed.tag,
        )
        .unwrap();
        assert_eq!(pt.as_slice(), p);
    }
}
