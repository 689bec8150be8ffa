//! EdDSA (RFC 8037 section 3.1): `EdDSA` with an Ed25519 or Ed448 key.

use signature::{Signer, Verifier};

/// Signs `input` with Ed25519.
pub(crate) fn sign_ed25519(key: &ed25519_dalek::SigningKey, input: &[u8]) -> Vec<u8> {
    key.sign(input).to_bytes().to_vec()
}

/// Whether `sig` is a valid Ed25519 signature of `input` (strict: no small-order keys or
/// non-canonical encodings).
pub(crate) fn verify_ed25519(key: &ed25519_dalek::VerifyingKey, input: &[u8], sig: &[u8]) -> bool {
    ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| key.verify_strict(input, &s).is_ok())
}

/// Signs `input` with Ed448.
pub(crate) fn sign_ed448(key: &ed448_goldilocks::SigningKey, input: &[u8]) -> Vec<u8> {
    let sig: ed448_goldilocks::Signature = key.sign(input);
    sig.to_bytes().to_vec()
}

/// Whether `sig` is a valid Ed448 signature of `input`.
pub(crate) fn verify_ed448(key: &ed448_goldilocks::VerifyingKey, input: &[u8], sig: &[u8]) -> bool {
    ed448_goldilocks::Signature::from_slice(sig).is_ok_and(|s| key.verify(input, &s).is_ok())
}
