//! Issue 13, "trust nothing from the wire", jose-core items 4 to 10: one named test each (or
//! more), every one failing on the code before the fix. `docs/security.md` lists them.
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};

use jose_core::error::{AlgorithmError, KeyError, Malformed};
use jose_core::jwk::{EcCurve, JwkSet, KeyOp, has_roca_fingerprint};
use jose_core::{
    Algorithm, ContentEncryption as Enc, Error, Header, Jwk, JwsAlgorithm, KeyBackend,
    KeyManagementAlgorithm as Alg, KeySet, SoftwareKey, base64url, jwe, jws, jwt,
};

/// A key that counts the signatures it is asked to verify.
#[derive(Debug)]
struct Counting {
    key: SoftwareKey,
    verifies: AtomicUsize,
}

impl Counting {
    fn new(key: SoftwareKey) -> Self {
        Self {
            key,
            verifies: AtomicUsize::new(0),
        }
    }
    fn count(&self) -> usize {
        self.verifies.load(Ordering::SeqCst)
    }
}

impl KeyBackend for Counting {
    fn kid(&self) -> Option<&str> {
        self.key.kid()
    }
    fn public_jwk(&self) -> Option<&Jwk> {
        self.key.public_jwk()
    }
    fn algorithms(&self) -> &[Algorithm] {
        self.key.algorithms()
    }
    fn permits(&self, op: KeyOp) -> bool {
        self.key.permits(op)
    }
    fn describe(&self) -> String {
        self.key.describe()
    }
    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>, Error> {
        self.key.sign(alg, input)
    }
    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<(), Error> {
        self.verifies.fetch_add(1, Ordering::SeqCst);
        self.key.verify(alg, input, sig)
    }
}

fn hmac(kid: &str) -> SoftwareKey {
    SoftwareKey::generate_oct(32).unwrap().with_kid(kid)
}

/// A general JSON JWS over `payload` with `n` HS256 signatures by `key`, each with `kid`.
fn many_signatures(payload: &[u8], key: &SoftwareKey, n: usize, kid: &str) -> String {
    let mut b = jws::JwsBuilder::new(payload);
    for _ in 0..n {
        b = b
            .add_signature(
                key,
                JwsAlgorithm::HS256,
                Header::new(),
                Some(Header::new().with("kid", kid)),
            )
            .unwrap();
    }
    b.general_json().unwrap()
}

// ---- item 4: JWS JSON verification costs the token's size, not size x signatures ----------

#[test]
fn wire_04_jws_json_signatures_are_capped() {
    let key = hmac("k");
    let token = many_signatures(b"payload", &key, jws::DEFAULT_MAX_SIGNATURES + 1, "k");
    let counting = Counting::new(hmac("k"));
    assert!(matches!(
        jws::verify_json(&token, &counting, &[JwsAlgorithm::HS256]),
        Err(Error::Malformed(Malformed::Serialization(_)))
    ));
    assert_eq!(counting.count(), 0, "refused before any cryptography");
    // A verifier may raise the cap.
    let v =
        jws::Verifier::new(&[JwsAlgorithm::HS256]).max_signatures(jws::DEFAULT_MAX_SIGNATURES + 1);
    assert_eq!(v.verify(&token, &key).unwrap().payload(), b"payload");
}

#[test]
fn wire_04_a_key_is_tried_only_on_the_signatures_that_name_it() {
    let other = hmac("other");
    let mine = Counting::new(hmac("mine"));
    // Ten signatures by another key, then one by ours.
    let mut b = jws::JwsBuilder::new(b"payload");
    for _ in 0..10 {
        b = b
            .add_signature(&other, JwsAlgorithm::HS256, Header::new(), None)
            .unwrap();
    }
    let token = b
        .add_signature(&mine.key, JwsAlgorithm::HS256, Header::new(), None)
        .unwrap()
        .general_json()
        .unwrap();
    let v = jws::verify_json(&token, &mine, &[JwsAlgorithm::HS256]).unwrap();
    assert_eq!(v.kid(), Some("mine"));
    assert_eq!(
        mine.count(),
        1,
        "the ten signatures naming `other` were not tried"
    );

    // A token whose signatures all name another key: no verification at all, and the error
    // says which `kid` was missing.
    let token = many_signatures(b"payload", &other, 10, "other");
    let fresh = Counting::new(hmac("mine"));
    assert!(matches!(
        jws::verify_json(&token, &fresh, &[JwsAlgorithm::HS256]),
        Err(Error::Key(KeyError::KidNotFound(kid))) if kid == "other"
    ));
    assert_eq!(fresh.count(), 0);
}

// ---- item 5: key sets mixing symmetric and asymmetric keys ---------------------------------

fn mixed_jwks() -> JwkSet {
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("ec");
    let mac = hmac("mac");
    JwkSet::from_json(&format!(
        r#"{{"keys":[{},{}]}}"#,
        ec.jwk().to_public_json().unwrap(),
        mac.jwk().to_private_json().as_str()
    ))
    .unwrap()
}

#[test]
fn wire_05_mixed_key_sets_are_refused_for_verification() {
    let set = mixed_jwks();
    assert!(matches!(
        KeySet::for_verification(&set),
        Err(Error::Key(KeyError::MixedKeyKinds { symmetric, asymmetric }))
            if symmetric == "kid `mac`" && asymmetric == "kid `ec`"
    ));

    // Whatever way the set was built, the verifier refuses it, even for a token whose `kid`
    // names the symmetric key it would verify with.
    let keys = KeySet::from_jwk_set(&set).unwrap();
    let mac = SoftwareKey::from_jwk(set.get("mac").unwrap().clone()).unwrap();
    let token = jws::sign_compact(&mac, JwsAlgorithm::HS256, b"x", None).unwrap();
    assert!(matches!(
        jws::Verifier::new(&[JwsAlgorithm::HS256]).verify_with(&token, &keys),
        Err(Error::Key(KeyError::MixedKeyKinds { .. }))
    ));
    let claims = jwt::Claims::new().expires_at(2_000);
    let token = jwt::sign(&claims, &mac, JwsAlgorithm::HS256, None).unwrap();
    assert!(matches!(
        jwt::Validation::new()
            .jws_algorithms(&[JwsAlgorithm::HS256])
            .at_time(1_000)
            .verify_with(&token, &keys),
        Err(Error::Key(KeyError::MixedKeyKinds { .. }))
    ));

    // One kind only: accepted.
    let token = jws::sign_compact(&mac, JwsAlgorithm::HS256, b"x", None).unwrap();
    let mut one_kind = KeySet::new();
    one_kind.push(mac).unwrap();
    let v = jws::Verifier::new(&[JwsAlgorithm::HS256]).verify_with(&token, &one_kind);
    assert_eq!(v.unwrap().payload(), b"x");
}

// ---- item 6: ROCA ---------------------------------------------------------------------------

/// A 2048-bit modulus of two primes of the Infineon form `k * M + (65537^a mod M)`, M the
/// primorial of 701 (the construction of CVE-2017-15361 for 2048-bit keys), made for this test.
const ROCA_N: &str = "hwVu2FdBTjMYFVNG8DQ8xVb5ZR9bLJNaV23LH76W-l_otruASJarUZod4rDcB_LqWnwWwLRVpcl_rwzQjQTQzmtfjt46jRy02eHx07ELFiACU642_FOM3dnXLk23FfV-gLmY-cDZQOv4kbazVxmsZuGSwVzsBLT6ZROn7_pNCeT_ay6EP-HhtHBqNbXZ9cdbO-21I3mPVkg4oaj-Iu4JdNL5WBLUdYkGoM2EiwnwfqeBJEUxrtT6W8SM_05k4xGSbyA9C4S7-ZdYd-iFjRNtkcTMHkPQOvWKI_s7f8ChsxhXzaZHQrGMR0QTMR_Gw0tQSVmUn69_6kP0xWHNSwYg4w";

/// The RSA key of RFC 7520 section 3.3.
const RFC7520_N: &str = "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw";

#[test]
fn wire_06_roca_moduli_are_refused_on_import_and_flagged() {
    let n = base64url::decode("test", ROCA_N).unwrap();
    assert_eq!(n.len(), 256);
    assert!(has_roca_fingerprint(&n));
    let jwk = format!(r#"{{"kty":"RSA","n":"{ROCA_N}","e":"AQAB"}}"#);
    assert!(matches!(
        Jwk::from_json(&jwk),
        Err(Error::Key(KeyError::RocaFingerprint))
    ));
    assert!(matches!(
        JwkSet::from_json(&format!(r#"{{"keys":[{jwk}]}}"#)),
        Err(Error::Key(KeyError::RocaFingerprint))
    ));

    // Normal keys pass: the RFC 7520 key and freshly generated ones.
    assert!(!has_roca_fingerprint(
        &base64url::decode("test", RFC7520_N).unwrap()
    ));
    Jwk::from_json(&format!(r#"{{"kty":"RSA","n":"{RFC7520_N}","e":"AQAB"}}"#)).unwrap();
    for _ in 0..3 {
        let key = Jwk::generate_rsa(2048).unwrap();
        let n = key.to_public_value().unwrap()["n"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!has_roca_fingerprint(
            &base64url::decode("test", &n).unwrap()
        ));
    }
}

// ---- item 7: `dir` keys bound to their content encryption ----------------------------------

#[test]
fn wire_07_a_dir_key_bound_to_an_enc_serves_only_that_enc() {
    let k = base64url::encode(&[7u8; 32]);
    let any = SoftwareKey::from_json(&format!(r#"{{"kty":"oct","k":"{k}"}}"#)).unwrap();
    let bound =
        SoftwareKey::from_json(&format!(r#"{{"kty":"oct","k":"{k}","alg":"A256GCM"}}"#)).unwrap();

    // 32 bytes also fit A128CBC-HS256: a token with it must not open with the bound key.
    let cbc = jwe::encrypt_compact(&any, Alg::Dir, Enc::A128CbcHs256, b"cbc", None).unwrap();
    assert!(matches!(
        jwe::decrypt_compact(
            &cbc,
            &bound,
            &[Alg::Dir],
            &[Enc::A128CbcHs256, Enc::A256Gcm]
        ),
        Err(Error::Algorithm(AlgorithmError::KeyMismatch { .. }))
    ));
    // Nor may the bound key encrypt with another enc.
    assert!(matches!(
        jwe::encrypt_compact(&bound, Alg::Dir, Enc::A128CbcHs256, b"cbc", None),
        Err(Error::Algorithm(AlgorithmError::KeyMismatch { .. }))
    ));
    // With its own enc it works both ways.
    let gcm = jwe::encrypt_compact(&bound, Alg::Dir, Enc::A256Gcm, b"gcm", None).unwrap();
    let opened = jwe::decrypt_compact(&gcm, &bound, &[Alg::Dir], &[Enc::A256Gcm]).unwrap();
    assert_eq!(opened.plaintext(), b"gcm");
}

// ---- item 8: the builder refuses what the verifier refuses ---------------------------------

#[test]
fn wire_08_the_builder_refuses_headers_its_verifier_refuses() {
    let key = hmac("k");
    let refused = [
        (Header::new().with("b64", true), "b64"),
        (Header::new().with("crit", vec!["alg"]), "crit"),
        (Header::new().with("crit", vec!["absent"]), "crit"),
    ];
    for (header, member) in refused {
        let err = jws::sign_compact(&key, JwsAlgorithm::HS256, b"x", Some(&header)).unwrap_err();
        assert!(
            matches!(&err, Error::Malformed(Malformed::Header { member: m, .. }) if m == member),
            "{header:?}: {err:?}"
        );
    }
    // An extension in `crit` is allowed, and verifies with a verifier that understands it.
    let header = Header::new()
        .with("exp-ext", 1)
        .with("crit", vec!["exp-ext"]);
    let token = jws::sign_compact(&key, JwsAlgorithm::HS256, b"x", Some(&header)).unwrap();
    assert!(matches!(
        jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256]),
        Err(Error::Malformed(Malformed::Critical(name))) if name == "exp-ext"
    ));
    let v = jws::Verifier::new(&[JwsAlgorithm::HS256]).understand("exp-ext");
    assert_eq!(v.verify(&token, &key).unwrap().payload(), b"x");

    // Every other header the builder accepts verifies with the plain verifier.
    for header in [
        Header::new(),
        Header::new().with("typ", "JWT"),
        Header::new()
            .with("cty", "example")
            .with("x-custom", vec![1, 2]),
        Header::new().with("kid", "another-name"),
    ] {
        let token = jws::sign_compact(&key, JwsAlgorithm::HS256, b"x", Some(&header)).unwrap();
        jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256]).unwrap();
    }
}

// ---- item 9: ECDSA low-S --------------------------------------------------------------------

/// The order n of P-256, big-endian.
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The same token with `s` replaced by `n - s` (the other valid form of its signature).
fn flip_s(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = base64url::decode("test", sig).unwrap();
    let (r, s) = sig.split_at(32);
    let mut neg = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        neg[i] = u8::try_from(d + 256 * borrow).unwrap();
    }
    format!("{input}.{}", base64url::encode(&[r, &neg[..]].concat()))
}

#[test]
fn wire_09_ecdsa_signs_low_s_and_strict_verifiers_refuse_high_s() {
    let key = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    for i in 0..32u8 {
        let token = jws::sign_compact(&key, JwsAlgorithm::ES256, &[i], None).unwrap();
        let sig = base64url::decode("test", token.rsplit_once('.').unwrap().1).unwrap();
        assert_eq!(
            jws::ecdsa_normalize_s(JwsAlgorithm::ES256, &sig).unwrap(),
            sig,
            "signature {i} is not low-S"
        );
        let high = flip_s(&token);
        // Both forms are valid ECDSA; the default verifier accepts both (compatibility).
        jws::verify_compact(&high, &key, &[JwsAlgorithm::ES256]).unwrap();
        let strict = jws::Verifier::new(&[JwsAlgorithm::ES256]).require_low_s();
        strict.verify(&token, &key).unwrap();
        assert!(matches!(
            strict.verify(&high, &key),
            Err(Error::Verification)
        ));
        // The helper a device backend uses brings the high form back to the signed one.
        let high_sig = base64url::decode("test", high.rsplit_once('.').unwrap().1).unwrap();
        assert_eq!(
            jws::ecdsa_normalize_s(JwsAlgorithm::ES256, &high_sig).unwrap(),
            sig
        );
    }
    assert!(matches!(
        jws::ecdsa_normalize_s(JwsAlgorithm::RS256, &[1; 64]),
        Err(Error::Algorithm(AlgorithmError::KeyMismatch { .. }))
    ));
    assert!(matches!(
        jws::ecdsa_normalize_s(JwsAlgorithm::ES256, &[1; 63]),
        Err(Error::Verification)
    ));

    // JWT validation offers the same strict mode.
    let claims = jwt::Claims::new().expires_at(2_000);
    let token = jwt::sign(&claims, &key, JwsAlgorithm::ES256, None).unwrap();
    let v = jwt::Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256])
        .at_time(1_000);
    v.verify(&flip_s(&token), &key).unwrap();
    let strict = v.require_low_s();
    strict.verify(&token, &key).unwrap();
    assert!(matches!(
        strict.verify(&flip_s(&token), &key),
        Err(Error::Verification)
    ));
}
