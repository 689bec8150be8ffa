//! JWS algorithms (RFC 7518 section 3, RFC 8037 section 3.1), one module per family.
//!
//! [`family`] is the one place that says how a JWS algorithm runs: which family, which hash,
//! which curve. Its match is exhaustive, so a new algorithm cannot silently fall back to the
//! largest hash or curve. The family modules hold the software implementations behind
//! [`SoftwareKey`](crate::SoftwareKey).

pub(crate) mod ecdsa;
pub(crate) mod eddsa;
pub(crate) mod hmac;
pub(crate) mod rsassa;

use crate::alg::JwsAlgorithm;
use crate::jwk::EcCurve;

/// The SHA-2 hash of a JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sha2 {
    Sha256,
    Sha384,
    Sha512,
}

/// How a JWS algorithm runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// HMAC (RFC 7518 section 3.2).
    Hmac(Sha2),
    /// RSASSA-PKCS1-v1_5 (section 3.3).
    RsaPkcs1(Sha2),
    /// RSASSA-PSS with MGF1 on the same hash and a salt of the hash's length (section 3.5).
    RsaPss(Sha2),
    /// ECDSA on this curve with its hash (section 3.4).
    Ecdsa(EcCurve),
    /// EdDSA; the key's curve chooses Ed25519 or Ed448 (RFC 8037 section 3.1).
    EdDsa,
}

/// The family and parameters of `alg`.
pub(crate) const fn family(alg: JwsAlgorithm) -> Family {
    use JwsAlgorithm as A;
    match alg {
        A::HS256 => Family::Hmac(Sha2::Sha256),
        A::HS384 => Family::Hmac(Sha2::Sha384),
        A::HS512 => Family::Hmac(Sha2::Sha512),
        A::RS256 => Family::RsaPkcs1(Sha2::Sha256),
        A::RS384 => Family::RsaPkcs1(Sha2::Sha384),
        A::RS512 => Family::RsaPkcs1(Sha2::Sha512),
        A::PS256 => Family::RsaPss(Sha2::Sha256),
        A::PS384 => Family::RsaPss(Sha2::Sha384),
        A::PS512 => Family::RsaPss(Sha2::Sha512),
        A::ES256 => Family::Ecdsa(EcCurve::P256),
        A::ES384 => Family::Ecdsa(EcCurve::P384),
        A::ES512 => Family::Ecdsa(EcCurve::P521),
        A::EdDSA => Family::EdDsa,
    }
}

/// The ECDSA algorithm of a curve (the inverse of [`family`] for ECDSA).
pub(crate) const fn ecdsa_alg(curve: EcCurve) -> JwsAlgorithm {
    match curve {
        EcCurve::P256 => JwsAlgorithm::ES256,
        EcCurve::P384 => JwsAlgorithm::ES384,
        EcCurve::P521 => JwsAlgorithm::ES512,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_has_a_family_that_maps_back() {
        for &alg in JwsAlgorithm::ALL {
            if let Family::Ecdsa(c) = family(alg) {
                assert_eq!(ecdsa_alg(c), alg);
            }
        }
        assert_eq!(family(JwsAlgorithm::PS384), Family::RsaPss(Sha2::Sha384));
        assert_eq!(family(JwsAlgorithm::HS384), Family::Hmac(Sha2::Sha384));
    }
}
