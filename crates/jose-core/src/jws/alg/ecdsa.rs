//! ECDSA on the NIST curves (RFC 7518 section 3.4): `ES256`, `ES384`, `ES512`.
//!
//! Signatures are fixed-length `r || s`. An ECDSA signature is malleable: `(r, s)` and
//! `(r, n - s)` both verify. Signing here always emits the low-S form (`s <= n/2`), and
//! [`normalize_s`] turns any signature (a device's, for instance) into it; verifiers that key
//! caches or replay checks on the token string can refuse the high-S form
//! ([`Verifier::require_low_s`](crate::jws::Verifier::require_low_s)).

use signature::{Signer, Verifier};

use crate::jwk::EcCurve;

macro_rules! curve {
    ($sign:ident, $verify:ident, $curve:ident) => {
        /// Signs `input` (hashed here with the curve's hash); the result is low-S.
        pub(crate) fn $sign(key: &$curve::ecdsa::SigningKey, input: &[u8]) -> Vec<u8> {
            let sig: $curve::ecdsa::Signature = key.sign(input);
            sig.normalize_s().to_bytes().to_vec()
        }

        /// Whether `sig` (`r || s`) is a valid signature of `input`. Both S forms verify.
        pub(crate) fn $verify(key: &$curve::ecdsa::VerifyingKey, input: &[u8], sig: &[u8]) -> bool {
            $curve::ecdsa::Signature::from_slice(sig).is_ok_and(|s| key.verify(input, &s).is_ok())
        }
    };
}

curve!(sign_p256, verify_p256, p256);
curve!(sign_p384, verify_p384, p384);
curve!(sign_p521, verify_p521, p521);

macro_rules! normalized {
    ($curve:ident, $sig:expr) => {
        $curve::ecdsa::Signature::from_slice($sig)
            .ok()
            .map(|s| s.normalize_s().to_bytes().to_vec())
    };
}

/// The low-S form of an `r || s` signature on `curve`; `None` when `sig` is not a signature on
/// that curve (wrong length, a zero or out-of-range scalar).
pub(crate) fn normalize_s(curve: EcCurve, sig: &[u8]) -> Option<Vec<u8>> {
    match curve {
        EcCurve::P256 => normalized!(p256, sig),
        EcCurve::P384 => normalized!(p384, sig),
        EcCurve::P521 => normalized!(p521, sig),
    }
}

/// Whether `sig` is in the high-S form (`s > n/2`). A signature that does not parse is not
/// high-S (verification refuses it anyway).
pub(crate) fn is_high_s(curve: EcCurve, sig: &[u8]) -> bool {
    normalize_s(curve, sig).is_some_and(|low| low != sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order n of P-256, big-endian.
    const P256_N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];

    /// `(r, n - s)` from `(r, s)` on P-256: the other S form of the same signature.
    pub(crate) fn flip_s_p256(sig: &[u8]) -> Vec<u8> {
        let (r, s) = sig.split_at(32);
        let mut out = r.to_vec();
        let mut neg = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
            borrow = i16::from(d < 0);
            neg[i] = (d + 256 * borrow) as u8;
        }
        out.extend_from_slice(&neg);
        out
    }

    #[test]
    fn signing_emits_low_s_and_normalize_flips_high_s() {
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        for i in 0..32u8 {
            let sig = sign_p256(&sk, &[i]);
            assert!(!is_high_s(EcCurve::P256, &sig), "signature {i} is high-S");
            let high = flip_s_p256(&sig);
            assert!(is_high_s(EcCurve::P256, &high));
            assert!(
                verify_p256(sk.verifying_key(), &[i], &high),
                "both forms verify"
            );
            assert_eq!(normalize_s(EcCurve::P256, &high).unwrap(), sig);
        }
        assert_eq!(normalize_s(EcCurve::P256, &[0u8; 64]), None);
        assert_eq!(normalize_s(EcCurve::P384, &[1u8; 64]), None, "wrong length");
    }
}
