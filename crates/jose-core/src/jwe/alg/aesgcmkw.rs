//! AES-GCM key encryption, RFC 7518 section 4.7: `A128GCMKW`, `A192GCMKW`, `A256GCMKW`.
//! The 96-bit IV and 128-bit tag travel in the `iv` and `tag` header members.

use serde_json::{Map, Value};

use crate::b64;
use crate::backend::WrappedKey;
use crate::error::{Error, Malformed, Result};
use crate::header::Header;
use crate::jwe::enc::aes_gcm;
use crate::jwk::SecretBytes;
use crate::provider::Provider;
use crate::rng;

/// Encrypts `cek` with `kek` under a fresh random IV.
pub(crate) fn wrap(provider: Provider, kek: &[u8], cek: &[u8]) -> Result<WrappedKey> {
    let iv = rng::bytes(aes_gcm::IV_LEN)?;
    wrap_with_iv(provider, kek, cek, &iv)
}

/// Encrypts `cek` with `kek` under `iv` (which must never repeat for one key).
pub(crate) fn wrap_with_iv(
    provider: Provider,
    kek: &[u8],
    cek: &[u8],
    iv: &[u8],
) -> Result<WrappedKey> {
    let sealed = provider.imp().aes_gcm_seal(kek, iv, &[], cek)?;
    let mut header = Map::new();
    // The order of RFC 7520 sections 5.7 and 5.13.
    header.insert("tag".into(), Value::String(b64::encode(&sealed.tag)));
    header.insert("iv".into(), Value::String(b64::encode(iv)));
    Ok(WrappedKey {
        encrypted_key: sealed.ciphertext,
        header,
    })
}

/// A required base64url header member.
fn member(header: &Header, name: &'static str) -> Result<Vec<u8>> {
    let text = header.get_str(name).ok_or_else(|| Malformed::Header {
        member: name.into(),
        reason: "is required by the A*GCMKW algorithms",
    })?;
    b64::decode(name, text)
}

/// Decrypts an `encrypted_key` with the `iv` and `tag` of `header`. A missing or
/// undecodable member is a parse error; anything else is [`Error::Decryption`].
pub(crate) fn unwrap(
    provider: Provider,
    kek: &[u8],
    encrypted_key: &[u8],
    header: &Header,
) -> Result<SecretBytes> {
    let iv = member(header, "iv")?;
    let tag = member(header, "tag")?;
    if encrypted_key.is_empty() {
        return Err(Error::Decryption);
    }
    provider
        .imp()
        .aes_gcm_open(kek, &iv, &[], encrypted_key, &tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7520 section 5.7: the wrap, with the example's IV, gives its encrypted key and tag.
    #[test]
    fn rfc7520_5_7_wrap() {
        let d = |s: &str| b64::decode("test", s).unwrap();
        let kek = d("qC57l_uxcm7Nm3K-ct4GFjx8tM1U8CZ0NLBvdQstiS8");
        let cek = d("UWxARpat23nL9ReIj4WG3D1ee9I4r-Mv5QLuFXdy_rE");
        let w = wrap_with_iv(
            crate::provider::default_provider(),
            &kek,
            &cek,
            &d("KkYT0GX_2jHlfqN_"),
        )
        .unwrap();
        assert_eq!(
            b64::encode(&w.encrypted_key),
            "lJf3HbOApxMEBkCMOoTnnABxs_CvTWUmZQ2ElLvYNok"
        );
        assert_eq!(w.header["tag"], "kfPduVQ3T3H6vnewt--ksw");
        assert_eq!(w.header["iv"], "KkYT0GX_2jHlfqN_");
        let header = Header::from_map(w.header.clone()).unwrap();
        assert_eq!(
            unwrap(
                crate::provider::default_provider(),
                &kek,
                &w.encrypted_key,
                &header
            )
            .unwrap()
            .as_slice(),
            cek.as_slice()
        );
        // A fresh wrap draws a fresh IV.
        assert_ne!(
            wrap(crate::provider::default_provider(), &kek, &cek)
                .unwrap()
                .header["iv"],
            wrap(crate::provider::default_provider(), &kek, &cek)
                .unwrap()
                .header["iv"]
        );
    }
}
