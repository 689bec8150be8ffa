//! EdDSA (RFC 8037 section 3.1): `EdDSA` with an Ed25519 or Ed448 key.

use signature::{Signer, Verifier};

/// Signs `input` with Ed25519.
pub(crate) fn sign_ed25519(key: &ed25519_dalek::SigningKey, input: &[u8]) -> Vec<u8> {
    key.sign(input).to_bytes().to_vec()
}

/// Whether `sig` is a valid Ed25519 signature of `input` (strict: no small-order keys or
/// non-canonical encodings).
///
/// The same accept/reject as ed25519-dalek's `verify_strict`, for less work. `verify_strict`
/// decompresses `R`, refuses a small-order `R` or key, and then compares the encoding of
/// `R' = [S]B - [k]A` with the bytes of `R`. Here the comparison comes first (`verify`, which
/// also refuses `S >= L`): when it holds, `R` is the canonical encoding of the valid point
/// `R'`, so `R` is small-order exactly when its bytes are one of the eight canonical
/// encodings of the small-order points ([`is_small_order_encoding`]). That replaces a point
/// decompression (a field exponentiation) and a cofactor multiplication per call by a table
/// lookup; the key's check stays (three doublings).
pub(crate) fn verify_ed25519(key: &ed25519_dalek::VerifyingKey, input: &[u8], sig: &[u8]) -> bool {
    let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
        return false;
    };
    !key.is_weak() && !is_small_order_encoding(sig.r_bytes()) && key.verify(input, &sig).is_ok()
}

/// The canonical encodings of the eight points of small order (the torsion subgroup) of
/// edwards25519: the identity, the point of order 2, the two of order 4 and the four of
/// order 8.
const SMALL_ORDER: [[u8; 32]; 8] = [
    [
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ],
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x80,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x85,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0xfa,
    ],
];

/// Whether `r` is the canonical encoding of a point of small order. Only meaningful for an
/// `R` that is known to be canonical (one that passed the comparison with `R'`, or that
/// AWS-LC's re-encoding comparison will hold to it): a non-canonical encoding of a small-order
/// point is not in the table, and never passes that comparison.
pub(crate) fn is_small_order_encoding(r: &[u8; 32]) -> bool {
    SMALL_ORDER.iter().any(|t| t == r)
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

#[cfg(test)]
mod tests {
    use super::*;
    use signature::Signer;

    #[test]
    fn the_table_is_the_eight_small_order_points() {
        for (i, t) in SMALL_ORDER.iter().enumerate() {
            let point = ed25519_dalek::VerifyingKey::from_bytes(t).unwrap();
            assert!(point.is_weak(), "entry {i} is not of small order");
            assert!(!SMALL_ORDER[..i].contains(t), "entry {i} repeats");
            assert!(is_small_order_encoding(t));
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
        assert!(!is_small_order_encoding(key.verifying_key().as_bytes()));
    }

    /// The same accept/reject as `verify_strict` on valid signatures, every single-bit flip of
    /// them, `R` replaced by each small-order point, and a weak key that plain `verify`
    /// accepts.
    #[test]
    fn agrees_with_verify_strict() {
        let strict = |key: &ed25519_dalek::VerifyingKey, input: &[u8], sig: &[u8]| {
            ed25519_dalek::Signature::from_slice(sig)
                .is_ok_and(|s| key.verify_strict(input, &s).is_ok())
        };
        for seed in 0..4u8 {
            let signing = ed25519_dalek::SigningKey::from_bytes(&[seed.wrapping_mul(31); 32]);
            let key = signing.verifying_key();
            let input = [b'x', seed];
            let sig = signing.sign(&input).to_bytes();
            assert!(verify_ed25519(&key, &input, &sig));
            assert!(strict(&key, &input, &sig));
            for bit in 0..512 {
                let mut flipped = sig;
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(
                    verify_ed25519(&key, &input, &flipped),
                    strict(&key, &input, &flipped),
                    "bit {bit}"
                );
            }
            for t in SMALL_ORDER {
                let mut forged = sig;
                forged[..32].copy_from_slice(&t);
                assert!(!verify_ed25519(&key, &input, &forged));
                assert!(!strict(&key, &input, &forged));
            }
        }
        // A small-order key (the identity) with R = the identity and S = 0: plain `verify`
        // accepts it for any message ([0]B - [k]O = O); the strict check must not.
        let weak = ed25519_dalek::VerifyingKey::from_bytes(&SMALL_ORDER[0]).unwrap();
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&SMALL_ORDER[0]);
        let parsed = ed25519_dalek::Signature::from_bytes(&sig);
        assert!(weak.verify(b"any", &parsed).is_ok(), "the control");
        assert!(!verify_ed25519(&weak, b"any", &sig));
        assert!(!strict(&weak, b"any", &sig));
    }
}
