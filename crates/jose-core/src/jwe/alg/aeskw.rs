//! AES Key Wrap (RFC 3394) key encryption, RFC 7518 section 4.4: `A128KW`, `A192KW`,
//! `A256KW`; also the second step of `ECDH-ES+A*KW`.

use aes_kw::{KeyInit, KwAes128, KwAes192, KwAes256};
use zeroize::Zeroizing;

use crate::error::{Error, KeyError, Result};
use crate::jwk::SecretBytes;

/// The RFC 3394 integrity check value length.
pub(crate) const ICV_LEN: usize = 8;

/// The error for a key-encryption key that is not an AES key wrap key.
pub(crate) fn bad_key() -> Error {
    KeyError::InvalidMember {
        member: "k",
        reason: "is not a 128, 192 or 256-bit AES key wrap key",
    }
    .into()
}

/// Wraps `cek` (a multiple of 8 bytes, at least 16) with `kek`.
pub(crate) fn wrap(kek: &[u8], cek: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![0u8; cek.len() + ICV_LEN];
    let res = match kek.len() {
        16 => KwAes128::new_from_slice(kek)
            .map_err(|_| bad_key())?
            .wrap_key(cek, &mut out)
            .map(<[u8]>::len),
        24 => KwAes192::new_from_slice(kek)
            .map_err(|_| bad_key())?
            .wrap_key(cek, &mut out)
            .map(<[u8]>::len),
        32 => KwAes256::new_from_slice(kek)
            .map_err(|_| bad_key())?
            .wrap_key(cek, &mut out)
            .map(<[u8]>::len),
        _ => return Err(bad_key()),
    };
    let len = res.map_err(|_| {
        Error::from(KeyError::InvalidMember {
            member: "k",
            reason: "the content key cannot be AES-wrapped (length)",
        })
    })?;
    out.truncate(len);
    Ok(out)
}

/// Unwraps an `encrypted_key`. Any failure (length, integrity check) is
/// [`Error::Decryption`].
pub(crate) fn unwrap(kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes> {
    if wrapped.len() < 3 * ICV_LEN || !wrapped.len().is_multiple_of(ICV_LEN) {
        return Err(Error::Decryption);
    }
    let mut out = Zeroizing::new(vec![0u8; wrapped.len() - ICV_LEN]);
    let res = match kek.len() {
        16 => KwAes128::new_from_slice(kek)
            .map_err(|_| Error::Decryption)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        24 => KwAes192::new_from_slice(kek)
            .map_err(|_| Error::Decryption)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        32 => KwAes256::new_from_slice(kek)
            .map_err(|_| Error::Decryption)?
            .unwrap_key(wrapped, &mut out)
            .map(<[u8]>::len),
        _ => return Err(Error::Decryption),
    };
    let len = res.map_err(|_| Error::Decryption)?;
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3394 section 4.1: 128 bits of key data with a 128-bit KEK.
    #[test]
    fn rfc3394_4_1() {
        let kek: Vec<u8> = (0u8..16).collect();
        let data: Vec<u8> = (0u8..16).map(|i| i * 0x11).collect();
        let wrapped = wrap(&kek, &data).unwrap();
        let expected = [
            0x1F, 0xA6, 0x8B, 0x0A, 0x81, 0x12, 0xB4, 0x47, 0xAE, 0xF3, 0x4B, 0xD8, 0xFB, 0x5A,
            0x7B, 0x82, 0x9D, 0x3E, 0x86, 0x23, 0x71, 0xD2, 0xCF, 0xE5,
        ];
        assert_eq!(wrapped, expected);
        assert_eq!(unwrap(&kek, &wrapped).unwrap().as_slice(), data.as_slice());
        let mut bad = wrapped.clone();
        bad[3] ^= 1;
        assert!(matches!(unwrap(&kek, &bad), Err(Error::Decryption)));
        for len in [0, 8, 16, 23, 25] {
            assert!(matches!(
                unwrap(&kek, &vec![0; len]),
                Err(Error::Decryption)
            ));
        }
    }
}
