//! RSASSA-PKCS1-v1_5 and RSASSA-PSS (RFC 7518 sections 3.3 and 3.5): `RS*`, `PS*`.

use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, PrivateKey, PublicKey};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::Sha2;
use crate::error::{Error, Result};
use crate::rng;

/// The RSA signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Padding {
    Pkcs1,
    Pss,
}

/// Signs `input` (hashed here).
pub(crate) fn sign(key: &PrivateKey, padding: Padding, sha: Sha2, input: &[u8]) -> Result<Vec<u8>> {
    let mut rng = rng::os();
    let out = match (padding, sha) {
        (Padding::Pkcs1, Sha2::Sha256) => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(input),
        ),
        (Padding::Pkcs1, Sha2::Sha384) => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha384>(),
            &Sha384::digest(input),
        ),
        (Padding::Pkcs1, Sha2::Sha512) => key.sign_with_rng(
            &mut rng,
            Pkcs1v15Sign::new::<Sha512>(),
            &Sha512::digest(input),
        ),
        (Padding::Pss, Sha2::Sha256) => key.pss_sign_with_rng::<Sha256, _>(&mut rng, input),
        (Padding::Pss, Sha2::Sha384) => key.pss_sign_with_rng::<Sha384, _>(&mut rng, input),
        (Padding::Pss, Sha2::Sha512) => key.pss_sign_with_rng::<Sha512, _>(&mut rng, input),
    };
    out.map_err(|_| Error::Rng)
}

/// Whether `sig` is a valid signature of `input`.
pub(crate) fn verify(
    key: &PublicKey,
    padding: Padding,
    sha: Sha2,
    input: &[u8],
    sig: &[u8],
) -> bool {
    // The signature must be exactly the modulus length (RFC 8017 section 8.2.2 step 1).
    if sig.len() != key.size() {
        return false;
    }
    let r = match (padding, sha) {
        (Padding::Pkcs1, Sha2::Sha256) => {
            key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(input), sig)
        }
        (Padding::Pkcs1, Sha2::Sha384) => {
            key.verify(Pkcs1v15Sign::new::<Sha384>(), &Sha384::digest(input), sig)
        }
        (Padding::Pkcs1, Sha2::Sha512) => {
            key.verify(Pkcs1v15Sign::new::<Sha512>(), &Sha512::digest(input), sig)
        }
        (Padding::Pss, Sha2::Sha256) => key.pss_verify::<Sha256>(input, sig),
        (Padding::Pss, Sha2::Sha384) => key.pss_verify::<Sha384>(input, sig),
        (Padding::Pss, Sha2::Sha512) => key.pss_verify::<Sha512>(input, sig),
    };
    r.is_ok()
}
