//! What the fuzz targets share: the RFC 7520 (and RFC 8037) keys, so that mutations of the
//! RFC's own tokens reach signature checks and decryption, and the lists of every algorithm.
//!
//! A fuzz target must never panic on any input: the invariants it checks (a verified payload
//! is the signed one, a decrypted plaintext is the sealed one, a printed URI parses back to the
//! same URI) are `assert!`s, so a violation is a crash libFuzzer reports.

use std::sync::OnceLock;

use jose_core::{
    ContentEncryption, Jwk, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, KeySet, SoftwareKey,
    base64url,
};
use serde_json::Value;

macro_rules! vectors {
    ($($path:literal),* $(,)?) => {
        &[$(include_str!(concat!("../../crates/jose-core/tests/vectors/", $path))),*]
    };
}

/// The vectors whose `input.key` sign (RSA, RSA-PSS, ECDSA P-521, HMAC, Ed25519, b64:false).
const JWS_VECTORS: &[&str] = vectors![
    "rfc7520/jws/4_1.rsa_v15_signature.json",
    "rfc7520/jws/4_3.ecdsa_signature.json",
    "rfc7520/jws/4_4.hmac-sha2_integrity_protection.json",
    "rfc7520/curve25519/jws.json",
];

/// The vectors whose `input.key` decrypt (RSA-OAEP, ECDH-ES P-384 and P-256, dir, AES-GCMKW,
/// AES-KW, X25519, and the two keys of the multiple-recipient example).
const JWE_VECTORS: &[&str] = vectors![
    "rfc7520/jwe/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json",
    "rfc7520/jwe/5_4.key_agreement_with_key_wrapping_using_ecdh-es_and_aes-keywrap_with_aes-gcm.json",
    "rfc7520/jwe/5_5.key_agreement_using_ecdh-es_with_aes-cbc-hmac-sha2.json",
    "rfc7520/jwe/5_6.direct_encryption_using_aes-gcm.json",
    "rfc7520/jwe/5_7.key_wrap_using_aes-gcm_keywrap_with_aes-cbc-hmac-sha2.json",
    "rfc7520/jwe/5_8.key_wrap_using_aes-keywrap_with_aes-gcm.json",
    "rfc7520/jwe/5_13.encrypting_to_multiple_recipients.json",
    "curve25519/ecdh-es.json",
];

/// The direct-encryption key of RFC 7520 section 5.6 (A128GCM), raw.
pub const DIR_A128GCM_VECTOR: &str = include_str!(
    "../../crates/jose-core/tests/vectors/rfc7520/jwe/5_6.direct_encryption_using_aes-gcm.json"
);

fn keys_of(vectors: &[&str]) -> Vec<SoftwareKey> {
    let mut keys: Vec<SoftwareKey> = Vec::new();
    for text in vectors {
        let doc: Value = serde_json::from_str(text).expect("a vector file");
        let found = match &doc["input"]["key"] {
            Value::Array(many) => many.clone(),
            one => vec![one.clone()],
        };
        for key in found {
            let jwk = Jwk::from_value(&key).expect("an RFC key");
            let key = SoftwareKey::from_jwk(jwk).expect("an RFC key");
            if !keys
                .iter()
                .any(|k| k.jwk().thumbprint() == key.jwk().thumbprint())
            {
                keys.push(key);
            }
        }
    }
    keys
}

/// The signing keys of the JWS vectors.
pub fn jws_keys() -> &'static [SoftwareKey] {
    static KEYS: OnceLock<Vec<SoftwareKey>> = OnceLock::new();
    KEYS.get_or_init(|| keys_of(JWS_VECTORS))
}

/// The decryption keys of the JWE vectors.
pub fn jwe_keys() -> &'static [SoftwareKey] {
    static KEYS: OnceLock<Vec<SoftwareKey>> = OnceLock::new();
    KEYS.get_or_init(|| keys_of(JWE_VECTORS))
}

fn set_of(vectors: &[&str], keep: impl Fn(&SoftwareKey) -> bool) -> KeySet {
    let mut set = KeySet::new();
    for key in keys_of(vectors).into_iter().filter(|k| keep(k)) {
        let _ = set.push(key); // a key without a `kid` is left out
    }
    set
}

/// The JWS keys as sets selected by `kid`: the asymmetric keys, then the symmetric ones (a
/// verifier refuses a set that mixes both kinds).
pub fn jws_key_sets() -> &'static [KeySet; 2] {
    static SETS: OnceLock<[KeySet; 2]> = OnceLock::new();
    SETS.get_or_init(|| {
        [
            set_of(JWS_VECTORS, |k| k.public_jwk().is_some()),
            set_of(JWS_VECTORS, |k| k.public_jwk().is_none()),
        ]
    })
}

/// The JWE keys as a set selected by `kid`.
pub fn jwe_key_set() -> &'static KeySet {
    static SET: OnceLock<KeySet> = OnceLock::new();
    SET.get_or_init(|| set_of(JWE_VECTORS, |_| true))
}

/// The HMAC key of RFC 7520 section 4.4 (HS256).
pub fn hmac_key() -> &'static SoftwareKey {
    static KEY: OnceLock<SoftwareKey> = OnceLock::new();
    KEY.get_or_init(|| {
        keys_of(vectors![
            "rfc7520/jws/4_4.hmac-sha2_integrity_protection.json"
        ])
        .pop()
        .expect("the HMAC key")
    })
}

/// The 16-byte AES key of RFC 7520 section 5.6, and the same key as a JOSE `dir` key.
pub fn dir_key() -> &'static (Vec<u8>, SoftwareKey) {
    static KEY: OnceLock<(Vec<u8>, SoftwareKey)> = OnceLock::new();
    KEY.get_or_init(|| {
        let doc: Value = serde_json::from_str(DIR_A128GCM_VECTOR).expect("a vector file");
        let k = doc["input"]["key"]["k"].as_str().expect("an oct key");
        let raw = base64url::decode("k", k).expect("base64url");
        let key = keys_of(&[DIR_A128GCM_VECTOR]).pop().expect("the dir key");
        (raw, key)
    })
}

/// Every JWS algorithm: the key and the token decide which applies.
pub const ALL_JWS: &[JwsAlgorithm] = JwsAlgorithm::ALL;
/// Every key management algorithm.
pub const ALL_KM: &[KeyManagementAlgorithm] = KeyManagementAlgorithm::ALL;
/// Every content encryption.
pub const ALL_ENC: &[ContentEncryption] = ContentEncryption::ALL;

/// The input as text, if it is UTF-8 (every JOSE entry point takes `&str`).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Splits `data` at its first newline: (before, after). No newline: everything is `before`.
pub fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}
