//! Differential test of the crypto providers (built with `--features aws-lc-rs`): the same keys
//! under RustCrypto and aws-lc-rs, the same random tokens and single-bit mutations of them, and
//! identical outcomes required: the same accept/reject, the same error, the same payload or
//! plaintext. Tokens made under either provider are checked under both.
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use jose_core::jwk::{EcCurve, OkpCurve};
use jose_core::{
    ContentEncryption as Enc, Error, Jwk, JwsAlgorithm, KeyManagementAlgorithm as Alg, Provider,
    SoftwareKey, jwe, jws,
};
use proptest::prelude::*;

/// One key as each provider holds it.
struct Pair {
    rust: SoftwareKey,
    aws: SoftwareKey,
}

impl Pair {
    fn new(jwk: &Jwk) -> Self {
        let rust = SoftwareKey::from_jwk_with(jwk.clone(), Provider::rust_crypto()).unwrap();
        let aws = SoftwareKey::from_jwk_with(jwk.clone(), Provider::aws_lc()).unwrap();
        assert_eq!(rust.provider().name(), "rust-crypto");
        assert_eq!(aws.provider().name(), "aws-lc-rs");
        Self { rust, aws }
    }

    fn both(&self) -> [&SoftwareKey; 2] {
        [&self.rust, &self.aws]
    }
}

/// A signing key pair and its public-only pair, per JWS algorithm.
struct SigningKeys {
    keys: Vec<(JwsAlgorithm, Pair, Pair)>,
}

fn signing_keys() -> &'static SigningKeys {
    static KEYS: OnceLock<SigningKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = Jwk::generate_rsa(2048).unwrap();
        let oct = Jwk::generate_oct(64).unwrap();
        let mut keys = Vec::new();
        let mut add = |alg, jwk: &Jwk| {
            let public = jwk.to_public().unwrap_or_else(|_| jwk.clone());
            keys.push((alg, Pair::new(jwk), Pair::new(&public)));
        };
        for alg in [
            JwsAlgorithm::HS256,
            JwsAlgorithm::HS384,
            JwsAlgorithm::HS512,
        ] {
            add(alg, &oct);
        }
        for alg in [
            JwsAlgorithm::RS256,
            JwsAlgorithm::RS384,
            JwsAlgorithm::RS512,
            JwsAlgorithm::PS256,
            JwsAlgorithm::PS384,
            JwsAlgorithm::PS512,
        ] {
            add(alg, &rsa);
        }
        add(
            JwsAlgorithm::ES256,
            &Jwk::generate_ec(EcCurve::P256).unwrap(),
        );
        add(
            JwsAlgorithm::ES384,
            &Jwk::generate_ec(EcCurve::P384).unwrap(),
        );
        add(
            JwsAlgorithm::ES512,
            &Jwk::generate_ec(EcCurve::P521).unwrap(),
        );
        add(
            JwsAlgorithm::EdDSA,
            &Jwk::generate_okp(OkpCurve::Ed25519).unwrap(),
        );
        add(
            JwsAlgorithm::EdDSA,
            &Jwk::generate_okp(OkpCurve::Ed448).unwrap(),
        );
        SigningKeys { keys }
    })
}

/// The outcome of a check, comparable across providers: the payload, or the error's debug form.
fn outcome(r: Result<Vec<u8>, Error>) -> Result<Vec<u8>, String> {
    r.map_err(|e| format!("{e:?}"))
}

fn flip(token: &str, bit: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = (bit / 8) % bytes.len();
    bytes[i] ^= 1 << (bit % 8);
    // A flip may leave ASCII: keep the string valid UTF-8 (the parser sees the same bytes).
    String::from_utf8_lossy(&bytes).into_owned()
}

fn verify_both(pair: &Pair, alg: JwsAlgorithm, token: &str) -> Result<Vec<u8>, String> {
    let [rust, aws] = pair
        .both()
        .map(|k| outcome(jws::verify_compact(token, k, &[alg]).map(|v| v.payload().to_vec())));
    assert_eq!(rust, aws, "providers disagree on {alg} token {token}");
    rust
}

/// Every JWS algorithm: tokens signed under each provider verify under both; every
/// single-bit mutation gets the same outcome under both.
fn jws_case(payload: &[u8], bit: usize) {
    for (alg, private, public) in &signing_keys().keys {
        for signer in private.both() {
            let token = jws::sign_compact(signer, *alg, payload, None).unwrap();
            assert_eq!(verify_both(public, *alg, &token), Ok(payload.to_vec()));
            let mutated = flip(&token, bit);
            let result = verify_both(public, *alg, &mutated);
            if mutated != token {
                assert!(
                    matches!(&result, Err(e) if e.contains("Verification") || e.contains("Malformed") || e.contains("Algorithm") || e.contains("Key")),
                    "{alg}: a mutated token must be refused, got {result:?}"
                );
            }
        }
    }
}

/// Recipient keys per JWE key management algorithm.
struct EncryptionKeys {
    keys: Vec<(Alg, Pair, Pair)>,
}

fn encryption_keys() -> &'static EncryptionKeys {
    static KEYS: OnceLock<EncryptionKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rsa = Jwk::generate_rsa(2048).unwrap();
        let mut keys = Vec::new();
        let mut add = |alg, jwk: &Jwk| {
            let public = jwk.to_public().unwrap_or_else(|_| jwk.clone());
            keys.push((alg, Pair::new(jwk), Pair::new(&public)));
        };
        add(Alg::RsaOaep, &rsa);
        add(Alg::RsaOaep256, &rsa);
        // AES-128/256 key wrap are AWS-LC's under aws-lc-rs; AES-192 stays RustCrypto's.
        add(Alg::A128KW, &Jwk::generate_oct(16).unwrap());
        add(Alg::A192KW, &Jwk::generate_oct(24).unwrap());
        add(Alg::A256KW, &Jwk::generate_oct(32).unwrap());
        add(Alg::A256GCMKW, &Jwk::generate_oct(32).unwrap());
        // The recipient's ECDH is AWS-LC's under aws-lc-rs, on every curve.
        add(Alg::EcdhEs, &Jwk::generate_ec(EcCurve::P256).unwrap());
        add(Alg::EcdhEsA256KW, &Jwk::generate_ec(EcCurve::P384).unwrap());
        add(Alg::EcdhEs, &Jwk::generate_ec(EcCurve::P521).unwrap());
        add(
            Alg::EcdhEsA128KW,
            &Jwk::generate_okp(OkpCurve::X25519).unwrap(),
        );
        EncryptionKeys { keys }
    })
}

const ENCS: [Enc; 6] = [
    Enc::A128Gcm,
    Enc::A192Gcm,
    Enc::A256Gcm,
    Enc::A128CbcHs256,
    Enc::A192CbcHs384,
    Enc::A256CbcHs512,
];

fn decrypt_both(pair: &Pair, alg: Alg, enc: Enc, token: &str) -> Result<Vec<u8>, String> {
    let [rust, aws] = pair.both().map(|k| {
        outcome(jwe::decrypt_compact(token, k, &[alg], &[enc]).map(|d| d.plaintext().to_vec()))
    });
    assert_eq!(rust, aws, "providers disagree on {alg} {enc} token {token}");
    rust
}

/// Every tested `alg` with AES-GCM and AES-CBC-HMAC: encrypted under each provider, decrypted
/// under both, and single-bit mutations refused alike.
fn jwe_case(plaintext: &[u8], bit: usize, enc_index: usize) {
    let enc = ENCS[enc_index % ENCS.len()];
    for (alg, private, public) in &encryption_keys().keys {
        for sender in public.both() {
            let token = jwe::encrypt_compact(sender, *alg, enc, plaintext, None).unwrap();
            assert_eq!(
                decrypt_both(private, *alg, enc, &token),
                Ok(plaintext.to_vec())
            );
            let mutated = flip(&token, bit);
            let result = decrypt_both(private, *alg, enc, &mutated);
            if mutated != token {
                assert!(
                    matches!(&result, Err(e) if e.contains("Decryption") || e.contains("Malformed") || e.contains("Algorithm") || e.contains("Key")),
                    "{alg} {enc}: a mutated token must be refused, got {result:?}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn jws_tokens_and_mutations_agree(payload in proptest::collection::vec(any::<u8>(), 0..200), bit in any::<usize>()) {
        jws_case(&payload, bit);
    }

    #[test]
    fn jwe_tokens_and_mutations_agree(plaintext in proptest::collection::vec(any::<u8>(), 0..200), bit in any::<usize>(), enc in 0usize..6) {
        jwe_case(&plaintext, bit, enc);
    }
}

/// A high-S ECDSA signature verifies under both (RFC 7518 allows it) unless the verifier asks
/// for low-S, and both providers sign in the low-S form.
#[test]
fn ecdsa_signatures_leave_low_s_under_both() {
    for (alg, private, _) in &signing_keys().keys {
        if !matches!(
            alg,
            JwsAlgorithm::ES256 | JwsAlgorithm::ES384 | JwsAlgorithm::ES512
        ) {
            continue;
        }
        for signer in private.both() {
            for i in 0..16u8 {
                let token = jws::sign_compact(signer, *alg, &[i], None).unwrap();
                let sig = token.rsplit('.').next().unwrap();
                let raw = jose_core::base64url::decode("signature", sig).unwrap();
                assert_eq!(
                    jws::ecdsa_normalize_s(*alg, &raw).unwrap(),
                    raw,
                    "{alg} under {} signed high-S",
                    signer.provider().name()
                );
            }
        }
    }
}

/// The process default with the `aws-lc-rs` feature is aws-lc-rs, and keys built without a
/// provider use it.
#[test]
fn the_feature_makes_aws_lc_the_default() {
    assert_eq!(
        jose_core::provider::default_provider(),
        Provider::aws_lc(),
        "no test installs another default"
    );
    let key = SoftwareKey::generate_oct(32).unwrap();
    assert_eq!(key.provider().name(), "aws-lc-rs");
    assert_eq!(
        Provider::by_name("rust-crypto"),
        Some(Provider::rust_crypto())
    );
    assert_eq!(Provider::by_name("openssl"), None);
}

/// Ed25519 edge cases that ed25519-dalek's strict check refuses must be refused under both
/// providers: `S + L` (the same scalar, not reduced) and small-order `R` encodings.
#[test]
fn ed25519_strictness_is_the_same_under_both() {
    // The group order L, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let jwk = Jwk::generate_okp(OkpCurve::Ed25519).unwrap();
    let pair = Pair::new(&jwk);
    let public = Pair::new(&jwk.to_public().unwrap());
    let input = b"eyJhbGciOiJFZERTQSJ9.cGF5bG9hZA";
    for signer in pair.both() {
        let sig = jose_core::KeyBackend::sign(signer, JwsAlgorithm::EdDSA, input).unwrap();
        for verifier in public.both() {
            assert!(matches!(
                jose_core::KeyBackend::verify(verifier, JwsAlgorithm::EdDSA, input, &sig),
                Ok(())
            ));
            // S + L: the same scalar, not reduced.
            let mut malleated = sig.clone();
            let mut carry = 0u16;
            for (i, l) in L.iter().enumerate() {
                let sum = u16::from(malleated[32 + i]) + u16::from(*l) + carry;
                malleated[32 + i] = sum as u8;
                carry = sum >> 8;
            }
            assert_eq!(carry, 0);
            assert!(
                matches!(
                    jose_core::KeyBackend::verify(verifier, JwsAlgorithm::EdDSA, input, &malleated),
                    Err(Error::Verification)
                ),
                "S + L accepted under {}",
                verifier.provider().name()
            );
        }
    }
    // Small-order R (the identity, order 2, order 4) with S = 0: refused under both.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut order2 = [0xffu8; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    for r in [identity, order2, [0u8; 32]] {
        let mut sig = r.to_vec();
        sig.extend_from_slice(&[0u8; 32]);
        for verifier in public.both() {
            assert!(
                matches!(
                    jose_core::KeyBackend::verify(verifier, JwsAlgorithm::EdDSA, input, &sig),
                    Err(Error::Verification)
                ),
                "small-order R accepted under {}",
                verifier.provider().name()
            );
        }
    }
}

/// ECDH-ES to an X25519 key with a low-order `epk` (all-zero shared secret, RFC 7748 section
/// 6.1): refused with the same error by both providers' key agreement.
#[test]
fn a_low_order_x25519_epk_is_refused_alike() {
    let jwk = Jwk::generate_okp(OkpCurve::X25519).unwrap();
    let pair = Pair::new(&jwk);
    let public = Pair::new(&jwk.to_public().unwrap());
    let token =
        jwe::encrypt_compact(public.both()[0], Alg::EcdhEs, Enc::A128Gcm, b"x", None).unwrap();
    // The same token with its `epk` replaced by the X25519 point 0.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let header = jose_core::base64url::decode("h", &parts[0]).unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["epk"]["x"] = jose_core::base64url::encode(&[0u8; 32]).into();
    parts[0] = jose_core::base64url::encode(header.to_string().as_bytes());
    let low = parts.join(".");
    for key in pair.both() {
        let err = jwe::decrypt_compact(&low, key, &[Alg::EcdhEs], &[Enc::A128Gcm]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Key(jose_core::error::KeyError::InvalidMember { member: "x", .. })
            ),
            "{}: {err:?}",
            key.provider().name()
        );
    }
}
