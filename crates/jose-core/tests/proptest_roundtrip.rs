//! Property tests: sign/verify and encrypt/decrypt round trips on random payloads and random
//! extra header members, in every serialization, for the algorithm families; and any
//! single-bit flip anywhere in a token makes it fail.
//!
//! A flip changes one bit in 0..=6 of one byte, so the token stays ASCII text (a flip of bit 7
//! would not be a `&str` at all). Every part of a compact token is covered by the signature
//! or the tag (the encrypted key by its own integrity check), and base64url decoding is strict,
//! so no flip may leave a token that still verifies or decrypts.

use std::sync::OnceLock;

use jose_core::error::Error;
use jose_core::jwk::{EcCurve, OkpCurve};
use jose_core::{
    ContentEncryption as Enc, Header, Jwk, JwsAlgorithm, KeyManagementAlgorithm as Alg,
    SoftwareKey, jwe, jws,
};
use proptest::prelude::*;
use serde_json::Value;

/// A key from an RFC 7520 vector file (RSA key generation is slow and the RFC keys are known),
/// without its `alg` and `use`, so that it serves every algorithm of its type.
fn vector_key(text: &str) -> SoftwareKey {
    let mut doc: Value = serde_json::from_str(text).unwrap();
    let key = doc["input"]["key"].as_object_mut().unwrap();
    key.remove("alg");
    key.remove("use");
    SoftwareKey::from_jwk(Jwk::from_value(&doc["input"]["key"]).unwrap()).unwrap()
}

fn rsa_signing_key() -> &'static SoftwareKey {
    static KEY: OnceLock<SoftwareKey> = OnceLock::new();
    KEY.get_or_init(|| {
        vector_key(include_str!(
            "vectors/rfc7520/jws/4_1.rsa_v15_signature.json"
        ))
    })
}

fn rsa_encryption_key() -> &'static SoftwareKey {
    static KEY: OnceLock<SoftwareKey> = OnceLock::new();
    KEY.get_or_init(|| {
        vector_key(include_str!(
            "vectors/rfc7520/jwe/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json"
        ))
    })
}

/// One private key per JWS algorithm family.
fn signing_key(alg: JwsAlgorithm) -> &'static SoftwareKey {
    static KEYS: OnceLock<Vec<(JwsAlgorithm, SoftwareKey)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        vec![
            (JwsAlgorithm::HS256, SoftwareKey::generate_oct(32).unwrap()),
            (JwsAlgorithm::HS512, SoftwareKey::generate_oct(64).unwrap()),
            (
                JwsAlgorithm::ES256,
                SoftwareKey::generate_ec(EcCurve::P256).unwrap(),
            ),
            (
                JwsAlgorithm::ES384,
                SoftwareKey::generate_ec(EcCurve::P384).unwrap(),
            ),
            (
                JwsAlgorithm::EdDSA,
                SoftwareKey::generate_ed25519().unwrap(),
            ),
        ]
    });
    match alg {
        JwsAlgorithm::RS256 | JwsAlgorithm::PS256 => rsa_signing_key(),
        alg => &keys.iter().find(|(a, _)| *a == alg).unwrap().1,
    }
}

const JWS_ALGS: &[JwsAlgorithm] = &[
    JwsAlgorithm::HS256,
    JwsAlgorithm::HS512,
    JwsAlgorithm::ES256,
    JwsAlgorithm::ES384,
    JwsAlgorithm::EdDSA,
    JwsAlgorithm::RS256,
    JwsAlgorithm::PS256,
];

/// (algorithm, content encryption) pairs covering every key management family.
const JWE_ALGS: &[(Alg, Enc)] = &[
    (Alg::Dir, Enc::A128Gcm),
    (Alg::Dir, Enc::A128CbcHs256),
    (Alg::A128KW, Enc::A256Gcm),
    (Alg::A256KW, Enc::A256CbcHs512),
    (Alg::A192GCMKW, Enc::A192Gcm),
    (Alg::EcdhEs, Enc::A128Gcm),
    (Alg::EcdhEsA128KW, Enc::A192CbcHs384),
    (Alg::RsaOaep, Enc::A256Gcm),
    (Alg::RsaOaep256, Enc::A128CbcHs256),
];

/// The recipient's key for (alg, enc): symmetric keys are shared, asymmetric ones private.
fn decryption_key(alg: Alg, enc: Enc) -> &'static SoftwareKey {
    static KEYS: OnceLock<Vec<((Alg, Enc), SoftwareKey)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        JWE_ALGS
            .iter()
            .filter(|(a, _)| !matches!(a, Alg::RsaOaep | Alg::RsaOaep256))
            .map(|&(a, e)| {
                let key = match a {
                    Alg::Dir => SoftwareKey::generate_oct(e.key_len()).unwrap(),
                    Alg::EcdhEs => SoftwareKey::generate_ec(EcCurve::P256).unwrap(),
                    Alg::EcdhEsA128KW => {
                        SoftwareKey::from_jwk(Jwk::generate_okp(OkpCurve::X25519).unwrap()).unwrap()
                    }
                    a => SoftwareKey::generate_oct(
                        a.aes_kw_key_len().or(a.aes_gcm_kw_key_len()).unwrap(),
                    )
                    .unwrap(),
                };
                ((a, e), key)
            })
            .collect()
    });
    match alg {
        Alg::RsaOaep | Alg::RsaOaep256 => rsa_encryption_key(),
        alg => &keys.iter().find(|(k, _)| *k == (alg, enc)).unwrap().1,
    }
}

/// What the sender holds: the public key for asymmetric keys, the shared key otherwise.
fn encryption_key(alg: Alg, enc: Enc) -> SoftwareKey {
    let key = decryption_key(alg, enc).jwk();
    SoftwareKey::from_jwk(key.to_public().unwrap_or_else(|_| key.clone())).unwrap()
}

/// Header names the library reads or refuses: random extra members avoid them.
const RESERVED: &[&str] = &[
    "alg", "enc", "kid", "crit", "b64", "zip", "jwk", "jku", "x5u", "x5c", "x5t", "typ", "cty",
    "epk", "apu", "apv", "iv", "tag", "p2s", "p2c",
];

/// Up to three extra protected header members: names of letters, string or integer values.
fn extra_header() -> impl Strategy<Value = Header> {
    proptest::collection::btree_map(
        "[a-z]{1,8}".prop_filter("reserved", |n| !RESERVED.contains(&n.as_str())),
        prop_oneof![
            any::<String>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ],
        0..3,
    )
    .prop_map(|members| {
        let mut header = Header::new();
        for (name, value) in members {
            header.set(name, value);
        }
        header
    })
}

/// `token` with bit `bit` (0..=6) of byte `index % len` flipped.
fn flip(token: &str, index: usize, bit: u8) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = index % bytes.len();
    bytes[i] ^= 1 << bit;
    String::from_utf8(bytes).expect("an ASCII token stays ASCII")
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // A failure prints its minimal input; nothing is written next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Sign, then verify (compact, flattened and general JSON): the payload and the extra
    /// header members come back as signed.
    #[test]
    fn jws_round_trip(
        alg in proptest::sample::select(JWS_ALGS),
        payload in proptest::collection::vec(any::<u8>(), 0..512),
        header in extra_header(),
    ) {
        let key = signing_key(alg);
        let compact = jws::sign_compact(key, alg, &payload, Some(&header)).unwrap();
        let verified = jws::verify_compact(&compact, key, &[alg]).unwrap();
        prop_assert_eq!(verified.payload(), &payload[..]);
        prop_assert_eq!(verified.alg(), alg);
        for (name, value) in header.iter() {
            prop_assert_eq!(verified.protected().get(name), Some(value));
        }
        for json in [
            jws::JwsBuilder::new(&payload).add_signature(key, alg, header.clone(), None).unwrap().flattened_json().unwrap(),
            jws::JwsBuilder::new(&payload).add_signature(key, alg, header.clone(), None).unwrap().general_json().unwrap(),
        ] {
            let verified = jws::verify_json(&json, key, &[alg]).unwrap();
            prop_assert_eq!(verified.payload(), &payload[..]);
        }
    }

    /// Any single-bit flip in a compact JWS makes verification fail.
    #[test]
    fn jws_any_bit_flip_fails(
        alg in proptest::sample::select(JWS_ALGS),
        payload in proptest::collection::vec(any::<u8>(), 0..256),
        header in extra_header(),
        index in any::<usize>(),
        bit in 0u8..7,
    ) {
        let key = signing_key(alg);
        let token = jws::sign_compact(key, alg, &payload, Some(&header)).unwrap();
        let flipped = flip(&token, index, bit);
        let result = jws::verify_compact(&flipped, key, JWS_ALGS);
        prop_assert!(result.is_err_and(|e| matches!(e, Error::Verification | Error::Malformed(_) | Error::Algorithm(_) | Error::Key(_))), "{} verified after a flip: {}", flipped, token);
    }

    /// Encrypt, then decrypt (compact, flattened and general JSON): the plaintext and the
    /// extra protected members come back.
    #[test]
    fn jwe_round_trip(
        (alg, enc) in proptest::sample::select(JWE_ALGS),
        plaintext in proptest::collection::vec(any::<u8>(), 0..512),
        header in extra_header(),
        aad in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    ) {
        let sender = encryption_key(alg, enc);
        let recipient = decryption_key(alg, enc);
        let compact = jwe::encrypt_compact(&sender, alg, enc, &plaintext, Some(&header)).unwrap();
        let opened = jwe::decrypt_compact(&compact, recipient, &[alg], &[enc]).unwrap();
        prop_assert_eq!(opened.plaintext(), &plaintext[..]);
        for (name, value) in header.iter() {
            prop_assert_eq!(opened.protected().get(name), Some(value));
        }
        let mut builder = jwe::JweBuilder::new(enc).protected(header.clone());
        if let Some(aad) = &aad {
            builder = builder.aad(aad);
        }
        let built = builder.add_recipient(&sender, alg, None).unwrap().encrypt(&plaintext).unwrap();
        for json in [built.flattened_json().unwrap(), built.general_json().unwrap()] {
            let opened = jwe::decrypt_json(&json, recipient, &[alg], &[enc]).unwrap();
            prop_assert_eq!(opened.plaintext(), &plaintext[..]);
            prop_assert_eq!(opened.aad(), aad.as_deref());
        }
    }

    /// Any single-bit flip in a compact JWE makes decryption fail.
    #[test]
    fn jwe_any_bit_flip_fails(
        (alg, enc) in proptest::sample::select(JWE_ALGS),
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        header in extra_header(),
        index in any::<usize>(),
        bit in 0u8..7,
    ) {
        let sender = encryption_key(alg, enc);
        let recipient = decryption_key(alg, enc);
        let token = jwe::encrypt_compact(&sender, alg, enc, &plaintext, Some(&header)).unwrap();
        let flipped = flip(&token, index, bit);
        let all_algs: Vec<Alg> = JWE_ALGS.iter().map(|(a, _)| *a).collect();
        let result = jwe::decrypt_compact(&flipped, recipient, &all_algs, Enc::ALL);
        prop_assert!(result.is_err_and(|e| matches!(e, Error::Decryption | Error::Malformed(_) | Error::Algorithm(_) | Error::Key(_))), "{} decrypted after a flip: {}", flipped, token);
    }
}
