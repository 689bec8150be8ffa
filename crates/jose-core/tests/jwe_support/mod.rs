//! Helpers shared by the JWE and JWT integration tests. The vectors are compiled in, so the
//! tests never read files at run time.
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};

use jose_core::{
    Algorithm, ContentEncryption, Error, Header, Jwk, JwsAlgorithm, KeyBackend,
    KeyManagementAlgorithm, KeyOp, SecretBytes, SoftwareKey, WrappedKey, base64url,
};
use serde_json::Value;

/// An RFC 7520 (or RFC 8037) example, by short name.
pub(crate) fn vector(name: &str) -> Value {
    let text = match name {
        "5.1" => include_str!(
            "../vectors/rfc7520/jwe/5_1.key_encryption_using_rsa_v15_and_aes-hmac-sha2.json"
        ),
        "5.2" => include_str!(
            "../vectors/rfc7520/jwe/5_2.key_encryption_using_rsa-oaep_with_aes-gcm.json"
        ),
        "5.3" => include_str!(
            "../vectors/rfc7520/jwe/5_3.key_wrap_using_pbes2-aes-keywrap_with-aes-cbc-hmac-sha2.json"
        ),
        "5.4" => include_str!(
            "../vectors/rfc7520/jwe/5_4.key_agreement_with_key_wrapping_using_ecdh-es_and_aes-keywrap_with_aes-gcm.json"
        ),
        "5.5" => include_str!(
            "../vectors/rfc7520/jwe/5_5.key_agreement_using_ecdh-es_with_aes-cbc-hmac-sha2.json"
        ),
        "5.6" => include_str!("../vectors/rfc7520/jwe/5_6.direct_encryption_using_aes-gcm.json"),
        "5.7" => include_str!(
            "../vectors/rfc7520/jwe/5_7.key_wrap_using_aes-gcm_keywrap_with_aes-cbc-hmac-sha2.json"
        ),
        "5.8" => {
            include_str!("../vectors/rfc7520/jwe/5_8.key_wrap_using_aes-keywrap_with_aes-gcm.json")
        }
        "5.9" => include_str!("../vectors/rfc7520/jwe/5_9.compressed_content.json"),
        "5.10" => include_str!(
            "../vectors/rfc7520/jwe/5_10.including_additional_authentication_data.json"
        ),
        "5.11" => {
            include_str!("../vectors/rfc7520/jwe/5_11.protecting_specific_header_fields.json")
        }
        "5.12" => include_str!("../vectors/rfc7520/jwe/5_12.protecting_content_only.json"),
        "5.13" => {
            include_str!("../vectors/rfc7520/jwe/5_13.encrypting_to_multiple_recipients.json")
        }
        "6" => include_str!("../vectors/rfc7520/6.nesting_signatures_and_encryption.json"),
        "x25519" => include_str!("../vectors/curve25519/ecdh-es.json"),
        other => panic!("no vector {other}"),
    };
    serde_json::from_str(text).unwrap()
}

/// A key from a JWK JSON value.
pub(crate) fn key(v: &Value) -> SoftwareKey {
    SoftwareKey::from_json(&v.to_string()).unwrap()
}

/// The public half of a key, as a sender would hold it.
pub(crate) fn public(k: &SoftwareKey) -> SoftwareKey {
    SoftwareKey::from_jwk(k.jwk().to_public().unwrap()).unwrap()
}

/// A JWK from a JSON value.
pub(crate) fn jwk(v: &Value) -> Jwk {
    Jwk::from_json(&v.to_string()).unwrap()
}

/// Decodes a base64url string value.
pub(crate) fn b64(v: &Value) -> Vec<u8> {
    base64url::decode("test", v.as_str().unwrap()).unwrap()
}

/// Every key management algorithm.
pub(crate) fn all_algs() -> &'static [KeyManagementAlgorithm] {
    KeyManagementAlgorithm::ALL
}

/// Every content encryption algorithm.
pub(crate) fn all_encs() -> &'static [ContentEncryption] {
    ContentEncryption::ALL
}

/// The RFC 7520 RSA encryption key (section 5.2, samwise), without its `alg` binding so it
/// serves both OAEP variants.
pub(crate) fn rsa_key() -> SoftwareKey {
    let mut v = vector("5.2")["input"]["key"].clone();
    v.as_object_mut().unwrap().remove("alg");
    key(&v)
}

/// Asserts the error is the opaque decryption failure.
#[track_caller]
pub(crate) fn assert_decryption<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(Error::Decryption) => {}
        other => panic!("expected Error::Decryption, got {other:?}"),
    }
}

/// Counts every private-key or verification operation, to show that refused tokens never
/// reach the key.
#[derive(Debug)]
pub(crate) struct Spy {
    pub(crate) inner: SoftwareKey,
    calls: AtomicUsize,
}

impl Spy {
    pub(crate) fn new(inner: SoftwareKey) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
        }
    }

    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl KeyBackend for Spy {
    fn kid(&self) -> Option<&str> {
        self.inner.kid()
    }
    fn public_jwk(&self) -> Option<&Jwk> {
        self.inner.public_jwk()
    }
    fn algorithms(&self) -> &[Algorithm] {
        self.inner.algorithms()
    }
    fn permits(&self, op: KeyOp) -> bool {
        self.inner.permits(op)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>, Error> {
        self.count();
        self.inner.sign(alg, input)
    }
    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<(), Error> {
        self.count();
        self.inner.verify(alg, input, sig)
    }
    fn unwrap_key(
        &self,
        alg: KeyManagementAlgorithm,
        ek: &[u8],
        h: &Header,
        enc: ContentEncryption,
    ) -> Result<SecretBytes, Error> {
        self.count();
        self.inner.unwrap_key(alg, ek, h, enc)
    }
    fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> Result<WrappedKey, Error> {
        self.count();
        self.inner.wrap_key(alg, cek)
    }
    fn derive_ecdh(&self, epk: &Jwk) -> Result<SecretBytes, Error> {
        self.count();
        self.inner.derive_ecdh(epk)
    }
}
