//! Which PKCS#11 mechanism performs each JOSE algorithm, and how its output is shaped.

use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use hsm_core::{EcCurve, EdCurve, KeyKind};
use jose_core::{JwsAlgorithm, KeyManagementAlgorithm};

/// How a JWS algorithm is signed in the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignPlan {
    /// The token hashes and pads (RSA PKCS#1 v1.5 and PSS, HMAC): sign the signing input.
    Direct,
    /// The token signs a digest computed in software (ECDSA): output must be `2 * len` bytes.
    EcdsaDigest { coordinate_len: usize },
    /// The token signs the message itself (EdDSA).
    Eddsa,
}

/// The mechanism type (for checking the token's mechanism list) and plan for `alg` on `kind`,
/// or `None` when the key cannot serve the algorithm.
pub(crate) fn jws_mechanism(
    alg: JwsAlgorithm,
    kind: &KeyKind,
) -> Option<(MechanismType, SignPlan)> {
    use JwsAlgorithm as A;
    let plan = match (alg, kind) {
        (A::RS256, KeyKind::Rsa { .. }) => (MechanismType::SHA256_RSA_PKCS, SignPlan::Direct),
        (A::RS384, KeyKind::Rsa { .. }) => (MechanismType::SHA384_RSA_PKCS, SignPlan::Direct),
        (A::RS512, KeyKind::Rsa { .. }) => (MechanismType::SHA512_RSA_PKCS, SignPlan::Direct),
        (A::PS256, KeyKind::Rsa { .. }) => (MechanismType::SHA256_RSA_PKCS_PSS, SignPlan::Direct),
        (A::PS384, KeyKind::Rsa { .. }) => (MechanismType::SHA384_RSA_PKCS_PSS, SignPlan::Direct),
        (A::PS512, KeyKind::Rsa { .. }) => (MechanismType::SHA512_RSA_PKCS_PSS, SignPlan::Direct),
        (A::ES256, KeyKind::Ec(EcCurve::P256)) => (
            MechanismType::ECDSA,
            SignPlan::EcdsaDigest { coordinate_len: 32 },
        ),
        (A::ES384, KeyKind::Ec(EcCurve::P384)) => (
            MechanismType::ECDSA,
            SignPlan::EcdsaDigest { coordinate_len: 48 },
        ),
        (A::ES512, KeyKind::Ec(EcCurve::P521)) => (
            MechanismType::ECDSA,
            SignPlan::EcdsaDigest { coordinate_len: 66 },
        ),
        (A::EdDSA, KeyKind::Edwards(_)) => (MechanismType::EDDSA, SignPlan::Eddsa),
        (A::HS256, KeyKind::GenericSecret { bytes }) if *bytes >= 32 => {
            (MechanismType::SHA256_HMAC, SignPlan::Direct)
        }
        (A::HS384, KeyKind::GenericSecret { bytes }) if *bytes >= 48 => {
            (MechanismType::SHA384_HMAC, SignPlan::Direct)
        }
        (A::HS512, KeyKind::GenericSecret { bytes }) if *bytes >= 64 => {
            (MechanismType::SHA512_HMAC, SignPlan::Direct)
        }
        _ => return None,
    };
    Some(plan)
}

/// The mechanism that signs `alg` (built where it is used: `Mechanism` is neither Send nor Sync).
pub(crate) fn jws_sign_mechanism(alg: JwsAlgorithm, kind: &KeyKind) -> Mechanism<'static> {
    use JwsAlgorithm as A;
    let pss = |hash_alg, mgf, s_len: u64| PkcsPssParams {
        hash_alg,
        mgf,
        s_len: s_len.into(),
    };
    match alg {
        A::RS256 => Mechanism::Sha256RsaPkcs,
        A::RS384 => Mechanism::Sha384RsaPkcs,
        A::RS512 => Mechanism::Sha512RsaPkcs,
        A::PS256 => {
            Mechanism::Sha256RsaPkcsPss(pss(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, 32))
        }
        A::PS384 => {
            Mechanism::Sha384RsaPkcsPss(pss(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384, 48))
        }
        A::PS512 => {
            Mechanism::Sha512RsaPkcsPss(pss(MechanismType::SHA512, PkcsMgfType::MGF1_SHA512, 64))
        }
        A::ES256 | A::ES384 | A::ES512 => Mechanism::Ecdsa,
        A::HS256 => Mechanism::Sha256Hmac,
        A::HS384 => Mechanism::Sha384Hmac,
        A::HS512 => Mechanism::Sha512Hmac,
        _ => match kind {
            KeyKind::Edwards(EdCurve::Ed448) => {
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed448(&[])))
            }
            _ => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
        },
    }
}

/// The mechanism type a key management algorithm needs on `kind`.
pub(crate) fn jwe_mechanism(alg: KeyManagementAlgorithm, kind: &KeyKind) -> Option<MechanismType> {
    use KeyManagementAlgorithm as K;
    match (alg, kind) {
        (K::RsaOaep | K::RsaOaep256, KeyKind::Rsa { .. }) => Some(MechanismType::RSA_PKCS_OAEP),
        (K::EcdhEs | K::EcdhEsA128KW | K::EcdhEsA192KW | K::EcdhEsA256KW, KeyKind::Ec(_)) => {
            Some(MechanismType::ECDH1_DERIVE)
        }
        (K::A128KW, KeyKind::Aes { bytes: 16 })
        | (K::A192KW, KeyKind::Aes { bytes: 24 })
        | (K::A256KW, KeyKind::Aes { bytes: 32 }) => Some(MechanismType::AES_KEY_WRAP),
        (K::A128GCMKW, KeyKind::Aes { bytes: 16 })
        | (K::A192GCMKW, KeyKind::Aes { bytes: 24 })
        | (K::A256GCMKW, KeyKind::Aes { bytes: 32 }) => Some(MechanismType::AES_GCM),
        _ => None,
    }
}

/// RSA-OAEP parameters: SHA-1/MGF1-SHA-1 for RSA-OAEP, SHA-256/MGF1-SHA-256 for RSA-OAEP-256.
pub(crate) fn oaep(alg: KeyManagementAlgorithm) -> Mechanism<'static> {
    let params = if alg == KeyManagementAlgorithm::RsaOaep256 {
        PkcsOaepParams::new(
            MechanismType::SHA256,
            PkcsMgfType::MGF1_SHA256,
            PkcsOaepSource::empty(),
        )
    } else {
        PkcsOaepParams::new(
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            PkcsOaepSource::empty(),
        )
    };
    Mechanism::RsaPkcsOaep(params)
}

/// The hash an ECDSA algorithm applies before the token signs.
pub(crate) fn ecdsa_digest(alg: JwsAlgorithm, input: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256, Sha384, Sha512};
    match alg {
        JwsAlgorithm::ES256 => Sha256::digest(input).to_vec(),
        JwsAlgorithm::ES384 => Sha384::digest(input).to_vec(),
        _ => Sha512::digest(input).to_vec(),
    }
}
