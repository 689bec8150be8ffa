//! RSAES-OAEP key encryption (RFC 7518 sections 4.3): `RSA-OAEP` (SHA-1, MGF1-SHA-1) and
//! `RSA-OAEP-256` (SHA-256, MGF1-SHA-256). `RSA1_5` is not offered (Bleichenbacher, Marvin).
//!
//! Every decryption failure is [`Error::Decryption`] with no detail; the JWE layer then goes on
//! with a random CEK (RFC 7516 section 11.5) so the failure surfaces only at the tag check.

use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

use crate::alg::KeyManagementAlgorithm;
use crate::error::{Error, Result};
use crate::jwk::SecretBytes;
use crate::rng;

/// The hash of RSAES-OAEP (and of its MGF1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OaepHash {
    /// `RSA-OAEP`.
    Sha1,
    /// `RSA-OAEP-256`.
    Sha256,
}

impl OaepHash {
    /// The OAEP hash of `alg`; `None` for the algorithms that are not RSAES-OAEP.
    pub(crate) const fn of(alg: KeyManagementAlgorithm) -> Option<Self> {
        use KeyManagementAlgorithm as K;
        match alg {
            K::RsaOaep => Some(Self::Sha1),
            K::RsaOaep256 => Some(Self::Sha256),
            K::A128KW
            | K::A192KW
            | K::A256KW
            | K::A128GCMKW
            | K::A192GCMKW
            | K::A256GCMKW
            | K::Dir
            | K::EcdhEs
            | K::EcdhEsA128KW
            | K::EcdhEsA192KW
            | K::EcdhEsA256KW => None,
        }
    }
}

/// Encrypts `cek` to an RSA public key.
pub(crate) fn encrypt(key: &PublicKey, hash: OaepHash, cek: &[u8]) -> Result<Vec<u8>> {
    let mut rng = rng::os();
    let out = match hash {
        OaepHash::Sha1 => key.oaep_encrypt_with_rng::<sha1::Sha1, _>(&mut rng, cek),
        OaepHash::Sha256 => key.oaep_encrypt_with_rng::<sha2::Sha256, _>(&mut rng, cek),
    };
    // The CEK always fits a 2048-bit modulus; the remaining failure is the RNG.
    out.map_err(|_| Error::Rng)
}

/// Decrypts an `encrypted_key`. Any failure is [`Error::Decryption`].
pub(crate) fn decrypt(
    key: &PrivateKey,
    hash: OaepHash,
    encrypted_key: &[u8],
) -> Result<SecretBytes> {
    // The ciphertext is exactly the modulus length (RFC 8017 section 7.1.2 step 1).
    if encrypted_key.len() != key.size() {
        return Err(Error::Decryption);
    }
    let mut rng = rng::os();
    let out = match hash {
        OaepHash::Sha1 => key.oaep_decrypt_with_rng::<sha1::Sha1, _>(&mut rng, encrypted_key),
        OaepHash::Sha256 => key.oaep_decrypt_with_rng::<sha2::Sha256, _>(&mut rng, encrypted_key),
    };
    out.map(Zeroizing::new).map_err(|_| Error::Decryption)
}
