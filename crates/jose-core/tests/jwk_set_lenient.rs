//! Lenient JWK Sets for verifiers, strict for issuers (issue 16), and key sets shared and
//! swapped while verifications run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jose_core::error::{KeyError, Malformed};
use jose_core::jwk::{EcCurve, JwkSet, SkipReason};
use jose_core::jwt::{self, Claims, Validation};
use jose_core::{Error, JwsAlgorithm, KeySet, KeyStore, SharedKeySet, SoftwareKey};

/// A 1024-bit RSA modulus (odd, top bit set): below the 2048-bit minimum.
const RSA_1024: &str = r#"{"kty":"RSA","kid":"legacy-1024","e":"AQAB","n":"h1huUY8wVCRfBPivbwDF5c0csC_6cXZiunPjl4NHwzdutJC5q27aKIljBajUsfD-Jsd5bC65PrUmllyyoZ3J6NwcU07iPrTMZTfyRhZGdOX1LlE7rps6NAMwJ3Wb-yaspL6juQG9-VAhgQAh2TzlC45NmwHqv_ev7REi2zXoazc"}"#;

fn token(key: &SoftwareKey, alg: JwsAlgorithm) -> String {
    let claims = Claims::new().subject("alice").expires_at(4_000_000_000);
    jwt::sign(&claims, key, alg, None).unwrap()
}

fn set_of(keys: &[&SoftwareKey]) -> String {
    let members: Vec<String> = keys
        .iter()
        .map(|k| k.jwk().to_public_json().unwrap())
        .collect();
    format!(r#"{{"keys":[{}]}}"#, members.join(","))
}

/// The gateway test of issue 16: an unusable key and an unsupported key type are reported,
/// the other keys verify.
#[test]
fn gateway_set_with_an_unusable_and_an_unsupported_key() {
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("ec-1");
    let ed = SoftwareKey::generate_ed25519().unwrap().with_kid("ed-1");
    let text = format!(
        r#"{{"keys":[{},{RSA_1024},{{"kty":"PQC","kid":"ml-dsa-1","pub":"AAAA"}},{}]}}"#,
        ec.jwk().to_public_json().unwrap(),
        ed.jwk().to_public_json().unwrap()
    );
    // The strict parse refuses the whole set.
    assert!(matches!(
        JwkSet::from_json(&text),
        Err(Error::Key(KeyError::RsaModulusTooSmall(1024)))
    ));

    let (keys, skipped) = KeySet::parse_for_verification(&text).unwrap();
    assert_eq!(keys.len(), 2);
    let validation = Validation::new().jws_algorithms(&[JwsAlgorithm::ES256, JwsAlgorithm::EdDSA]);
    for (key, alg) in [(&ec, JwsAlgorithm::ES256), (&ed, JwsAlgorithm::EdDSA)] {
        let jwt = validation.verify_with(&token(key, alg), &keys).unwrap();
        assert_eq!(jwt.claims().sub(), Some("alice"));
    }
    assert_eq!(skipped.len(), 2);
    assert_eq!(
        (skipped[0].index, skipped[0].kid.as_deref()),
        (1, Some("legacy-1024"))
    );
    assert!(matches!(
        skipped[0].reason,
        SkipReason::Invalid(Error::Key(KeyError::RsaModulusTooSmall(1024)))
    ));
    assert_eq!(
        (skipped[1].index, skipped[1].kid.as_deref()),
        (2, Some("ml-dsa-1"))
    );
    assert!(matches!(
        &skipped[1].reason,
        SkipReason::Invalid(Error::Key(KeyError::UnsupportedKeyType(t))) if t == "PQC"
    ));
    assert_eq!(
        skipped[0].to_string(),
        "key 1 (kid `legacy-1024`): key: RSA modulus of 1024 bits is below the 2048-bit minimum"
    );

    // The JwkSet flavour reports the same keys.
    let (jwks, skipped_jwk) = JwkSet::parse_for_verification(&text).unwrap();
    assert_eq!(jwks.len(), 2);
    let indices: Vec<usize> = skipped_jwk.iter().map(|s| s.index).collect();
    assert_eq!(indices, [1, 2]);
}

#[test]
fn symmetric_duplicate_and_non_object_members_are_skipped() {
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("a");
    let again = SoftwareKey::generate_ec(EcCurve::P384)
        .unwrap()
        .with_kid("a");
    let text = format!(
        r#"{{"keys":[{},{{"kty":"oct","kid":"h","k":"c2VjcmV0"}},{},"text"]}}"#,
        ec.jwk().to_public_json().unwrap(),
        again.jwk().to_public_json().unwrap()
    );
    for (count, skipped) in [
        KeySet::parse_for_verification(&text)
            .map(|(k, s)| (k.len(), s))
            .unwrap(),
        JwkSet::parse_for_verification(&text)
            .map(|(k, s)| (k.len(), s))
            .unwrap(),
    ] {
        assert_eq!(count, 1);
        let got: Vec<(usize, Option<&str>)> = skipped
            .iter()
            .map(|s| (s.index, s.kid.as_deref()))
            .collect();
        assert_eq!(got, [(1, Some("h")), (2, Some("a")), (3, None)]);
        assert!(matches!(skipped[0].reason, SkipReason::Symmetric));
        assert!(matches!(skipped[1].reason, SkipReason::DuplicateKid));
        assert!(matches!(
            skipped[2].reason,
            SkipReason::Invalid(Error::Key(KeyError::Json(_)))
        ));
    }
}

#[test]
fn private_members_of_a_fetched_set_are_dropped() {
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("leaked");
    let text = format!(r#"{{"keys":[{}]}}"#, ec.jwk().to_private_json().as_str());
    let (jwks, skipped) = JwkSet::parse_for_verification(&text).unwrap();
    assert!(skipped.is_empty());
    assert!(!jwks.get("leaked").unwrap().is_private());
    let (keys, _) = KeySet::parse_for_verification(&text).unwrap();
    let key = keys.key_by_kid("leaked").unwrap();
    assert!(matches!(
        key.sign(JwsAlgorithm::ES256, b"input"),
        Err(Error::Key(KeyError::PublicOnly))
    ));
}

#[test]
fn documents_that_are_no_set_are_refused_whole() {
    for text in ["{}", r#"{"keys":{}}"#] {
        let r = KeySet::parse_for_verification(text);
        assert!(
            matches!(r, Err(Error::Key(KeyError::MissingMember("keys")))),
            "{text}: {r:?}"
        );
    }
    assert!(matches!(
        KeySet::parse_for_verification("[]"),
        Err(Error::Malformed(Malformed::Json { .. }))
    ));
    // A repeated member, even inside one key, refuses the document: it is the shape of a
    // confusion attack, not a key this verifier cannot use.
    let r = KeySet::parse_for_verification(r#"{"keys":[{"kty":"EC","kty":"oct"}]}"#);
    assert!(
        matches!(&r, Err(Error::Malformed(Malformed::DuplicateMember { name, .. })) if name == "kty"),
        "{r:?}"
    );
    let three = r#"{"keys":[1,2,3]}"#;
    assert!(matches!(
        KeySet::parse_for_verification_limited(three.as_bytes(), 2),
        Err(Error::Malformed(Malformed::TooLarge { limit: 2, .. }))
    ));
    assert!(matches!(
        KeySet::parse_for_verification_limited(three.as_bytes(), 3),
        Ok((k, s)) if k.is_empty() && s.len() == 3
    ));
}

#[test]
fn key_set_from_json_in_one_step_and_cheap_clones() {
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("one");
    let keys = KeySet::from_json(&set_of(&[&ec])).unwrap();
    let copy = keys.clone();
    assert!(std::ptr::eq(
        keys.key_by_kid("one").unwrap() as *const _ as *const u8,
        copy.key_by_kid("one").unwrap() as *const _ as *const u8
    ));
    assert!(matches!(
        KeySet::from_json(&format!(r#"{{"keys":[{RSA_1024}]}}"#)),
        Err(Error::Key(KeyError::RsaModulusTooSmall(1024)))
    ));
    // Pushing into a clone leaves the original as it was.
    let mut grown = keys.clone();
    grown
        .push(SoftwareKey::generate_ed25519().unwrap().with_kid("two"))
        .unwrap();
    assert_eq!((keys.len(), grown.len()), (1, 2));
}

/// Verifications on several threads while another thread rotates the keys: every token
/// signed by the key of the set a verification loaded verifies with that set, none fails
/// because of the swap, and after the last swap the new key is the one in use.
#[test]
fn concurrent_swap_and_verify() {
    let a = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("a");
    let b = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("b");
    let set_a = KeySet::from_json(&set_of(&[&a])).unwrap();
    let set_b = KeySet::from_json(&set_of(&[&b])).unwrap();
    let (token_a, token_b) = (
        token(&a, JwsAlgorithm::ES256),
        token(&b, JwsAlgorithm::ES256),
    );
    let shared = SharedKeySet::new(set_a.clone());
    let done = Arc::new(AtomicBool::new(false));
    let validation = Validation::new().jws_algorithms(&[JwsAlgorithm::ES256]);

    let verifiers: Vec<_> = (0..3)
        .map(|_| {
            let (shared, done) = (shared.clone(), Arc::clone(&done));
            let (token_a, token_b, validation) =
                (token_a.clone(), token_b.clone(), validation.clone());
            std::thread::spawn(move || {
                let mut verified = 0usize;
                while !done.load(Ordering::Acquire) || verified == 0 {
                    let keys = shared.load();
                    let ok_a = validation.verify_with(&token_a, &*keys).is_ok();
                    let ok_b = validation.verify_with(&token_b, &*keys).is_ok();
                    // Exactly one of the two keys is in any set that was ever stored.
                    assert!(ok_a ^ ok_b, "a: {ok_a}, b: {ok_b}");
                    verified += 1;
                }
                verified
            })
        })
        .collect();
    for i in 0..200 {
        shared.store(if i % 2 == 0 {
            set_b.clone()
        } else {
            set_a.clone()
        });
        std::thread::yield_now();
    }
    let previous = shared.swap(Arc::new(set_b.clone()));
    assert_eq!(previous.len(), 1);
    done.store(true, Ordering::Release);
    for v in verifiers {
        assert!(v.join().unwrap() > 0);
    }
    assert!(validation.verify_with(&token_b, &*shared.load()).is_ok());
    assert!(matches!(
        validation.verify_with(&token_a, &*shared.load()),
        Err(Error::Key(KeyError::KidNotFound(kid))) if kid == "a"
    ));
}
