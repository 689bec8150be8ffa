//! hsm-jose against SoftHSM: signatures made in the token for every algorithm, verified in
//! software from the public JWK and in the token, JSON serializations with several signatures,
//! signed JWTs, and one key shared by many threads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use hsm_jose::hsm_core::cryptoki::mechanism::MechanismType;
use hsm_jose::jose_core::Algorithm;
use hsm_jose::jose_core::error::{AlgorithmError, ClaimsError, Error as JoseError};
use hsm_jose::jose_core::jwt::{self, Claims, Validation};
use hsm_jose::jose_core::{Header, JwsAlgorithm, KeyBackend, SoftwareKey, base64url, jws};
use hsm_jose::{Capabilities, HsmJwk, KeySelector};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

/// Every JWS algorithm and the fixture key that serves it.
const CASES: &[(JwsAlgorithm, &str)] = &[
    (JwsAlgorithm::RS256, "rsa-2048"),
    (JwsAlgorithm::RS384, "rsa-3072"),
    (JwsAlgorithm::RS512, "rsa-4096"),
    (JwsAlgorithm::PS256, "rsa-2048"),
    (JwsAlgorithm::PS384, "rsa-3072"),
    (JwsAlgorithm::PS512, "rsa-4096"),
    (JwsAlgorithm::ES256, "ec-p256"),
    (JwsAlgorithm::ES384, "ec-p384"),
    (JwsAlgorithm::ES512, "ec-p521"),
    (JwsAlgorithm::EdDSA, "ed25519"),
    (JwsAlgorithm::EdDSA, "ed448"),
    (JwsAlgorithm::EdDSA, "ed25519-printable"),
    (JwsAlgorithm::HS256, "hmac-256"),
];

fn flip_signature(token: &str) -> String {
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = base64url::decode("sig", sig).unwrap();
    bytes[0] ^= 0x80;
    format!("{rest}.{}", base64url::encode(&bytes))
}

#[test]
fn every_algorithm_signs_in_the_token_and_verifies_in_software_and_in_the_token() {
    let _t = fixture::shared();
    let pool = token().pool();
    for &(alg, label) in CASES {
        let key = HsmJwk::from_label(&pool, label).unwrap();
        let payload = format!(r#"{{"alg":"{alg}","key":"{label}"}}"#);
        let token = jws::sign_compact(&key, alg, payload.as_bytes(), None).unwrap();
        let bad = flip_signature(&token);

        // In the token (C_Verify).
        let in_token = HsmJwk::from_label(&pool, label)
            .unwrap()
            .verify_in_token(true);
        assert_eq!(
            jws::verify_compact(&token, &in_token, &[alg])
                .unwrap()
                .payload(),
            payload.as_bytes(),
            "{alg} {label}"
        );
        assert!(
            matches!(
                jws::verify_compact(&bad, &in_token, &[alg]),
                Err(JoseError::Verification)
            ),
            "{alg} {label}"
        );

        if alg.is_hmac() {
            continue; // a secret key has no public part to verify with in software
        }
        // In software, from the exported public JWK alone (jose-core, no PKCS#11).
        let public = SoftwareKey::from_json(&key.public_json().unwrap()).unwrap();
        assert_eq!(
            jws::verify_compact(&token, &public, &[alg])
                .unwrap()
                .payload(),
            payload.as_bytes(),
            "{alg} {label}"
        );
        assert!(
            matches!(
                jws::verify_compact(&bad, &public, &[alg]),
                Err(JoseError::Verification)
            ),
            "{alg} {label}"
        );
        // The HSM key's default verification (software, from its public key) agrees.
        jws::verify_compact(&token, &key, &[alg]).unwrap();
        assert!(
            matches!(
                jws::verify_compact(&bad, &key, &[alg]),
                Err(JoseError::Verification)
            ),
            "{alg} {label}"
        );
    }
}

#[test]
fn ecdsa_signatures_from_the_token_are_raw_r_s_of_exact_length() {
    let _t = fixture::shared();
    let pool = token().pool();
    for (alg, label, len) in [
        (JwsAlgorithm::ES256, "ec-p256", 64),
        (JwsAlgorithm::ES384, "ec-p384", 96),
        (JwsAlgorithm::ES512, "ec-p521", 132),
    ] {
        let key = HsmJwk::from_label(&pool, label).unwrap();
        for _ in 0..20 {
            assert_eq!(key.sign(alg, b"input").unwrap().len(), len, "{alg}");
        }
    }
}

#[test]
fn jws_compact_and_json_with_hsm_keys() {
    let _t = fixture::shared();
    let pool = token().pool();
    let key = HsmJwk::from_label(&pool, "ec-p256")
        .unwrap()
        .with_kid("ec-1");
    let compact = jws::sign_compact(
        &key,
        JwsAlgorithm::ES256,
        b"hello",
        Some(&Header::new().with("typ", "example")),
    )
    .unwrap();
    let v = jws::verify_compact(&compact, &key, &[JwsAlgorithm::ES256]).unwrap();
    assert_eq!(
        (v.payload(), v.kid(), v.protected().typ()),
        (&b"hello"[..], Some("ec-1"), Some("example"))
    );

    let flattened = jws::JwsBuilder::new(b"hello")
        .add_signature(&key, JwsAlgorithm::ES256, Header::new(), None)
        .unwrap()
        .flattened_json()
        .unwrap();
    assert_eq!(
        jws::verify_json(&flattened, &key, &[JwsAlgorithm::ES256])
            .unwrap()
            .payload(),
        b"hello"
    );
}

#[test]
fn one_json_jws_with_an_rsa_and_an_ec_signature() {
    let _t = fixture::shared();
    let pool = token().pool();
    let rsa = HsmJwk::from_label(&pool, "rsa-2048")
        .unwrap()
        .with_kid("rsa");
    let ec = HsmJwk::from_label(&pool, "ec-p256").unwrap().with_kid("ec");
    let token = jws::JwsBuilder::new(br#"{"iss":"issuer"}"#)
        .add_signature(&rsa, JwsAlgorithm::RS256, Header::new(), None)
        .unwrap()
        .add_signature(&ec, JwsAlgorithm::ES256, Header::new(), None)
        .unwrap()
        .general_json()
        .unwrap();
    // With the HSM keys.
    assert_eq!(
        jws::verify_json(&token, &rsa, &[JwsAlgorithm::RS256])
            .unwrap()
            .kid(),
        Some("rsa")
    );
    assert_eq!(
        jws::verify_json(&token, &ec, &[JwsAlgorithm::ES256])
            .unwrap()
            .kid(),
        Some("ec")
    );
    // With the exported public keys, in pure software.
    for (key, alg) in [(&rsa, JwsAlgorithm::RS256), (&ec, JwsAlgorithm::ES256)] {
        let public = SoftwareKey::from_json(&key.public_json().unwrap()).unwrap();
        assert_eq!(
            jws::verify_json(&token, &public, &[alg]).unwrap().payload(),
            br#"{"iss":"issuer"}"#
        );
    }
}

#[test]
fn signed_jwt_and_its_verification() {
    let _t = fixture::shared();
    let pool = token().pool();
    let key = HsmJwk::from_label(&pool, "rsa-2048")
        .unwrap()
        .with_kid("rsa-1");
    let now = 1_800_000_000;
    let claims = Claims::new()
        .issuer("https://issuer.example")
        .subject("alice")
        .audience("api")
        .issued_at(now)
        .expires_at(now + 600);
    let token = jwt::sign(&claims, &key, JwsAlgorithm::RS256, None).unwrap();

    let validation = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::RS256])
        .issuer("https://issuer.example")
        .audience("api")
        .at_time(now + 10);
    let jwt = validation.verify(&token, &key).unwrap();
    assert_eq!(jwt.claims().sub(), Some("alice"));
    // A verifier with only the public JWK gets the same claims.
    let public = SoftwareKey::from_json(&key.public_json().unwrap()).unwrap();
    assert_eq!(
        validation.verify(&token, &public).unwrap().claims(),
        jwt.claims()
    );
    // Expired.
    assert!(matches!(
        Validation::new()
            .jws_algorithms(&[JwsAlgorithm::RS256])
            .audience("api")
            .at_time(now + 3600)
            .verify(&token, &key),
        Err(JoseError::Claims(ClaimsError::Expired))
    ));
}

#[test]
fn one_key_shared_by_eight_threads() {
    let _t = fixture::shared();
    let pool = token().builder().max_sessions(4).build().unwrap();
    let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
    let public = Arc::new(SoftwareKey::from_json(&key.public_json().unwrap()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (key, public) = (Arc::clone(&key), Arc::clone(&public));
            std::thread::spawn(move || {
                for i in 0..100 {
                    let payload = format!("thread {t} op {i}");
                    let token =
                        jws::sign_compact(&*key, JwsAlgorithm::ES256, payload.as_bytes(), None)
                            .unwrap();
                    let v = jws::verify_compact(&token, &*public, &[JwsAlgorithm::ES256]).unwrap();
                    assert_eq!(v.payload(), payload.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(pool.open_sessions() <= 4);
}

/// The RSA mechanisms that hash in the token, which the fallback tests take away.
const HASHING_RSA: [MechanismType; 6] = [
    MechanismType::SHA256_RSA_PKCS,
    MechanismType::SHA384_RSA_PKCS,
    MechanismType::SHA512_RSA_PKCS,
    MechanismType::SHA256_RSA_PKCS_PSS,
    MechanismType::SHA384_RSA_PKCS_PSS,
    MechanismType::SHA512_RSA_PKCS_PSS,
];

/// Issue 12: a token without the hashing RSA mechanisms (openCryptoki's soft token) still
/// signs RS* through `CKM_RSA_PKCS` on a DigestInfo built in software and PS* through
/// `CKM_RSA_PKCS_PSS` on a software digest; the signatures verify in software with the public
/// JWK alone.
#[test]
fn rs_and_ps_through_the_raw_rsa_mechanisms_verify_with_the_public_jwk() {
    let _t = fixture::shared();
    let pool = token().pool();
    let caps = HASHING_RSA
        .iter()
        .fold(Capabilities::from_token(&pool), |caps, m| caps.without(*m));
    assert!(caps.supports(MechanismType::RSA_PKCS) && caps.supports(MechanismType::RSA_PKCS_PSS));
    let direct = HsmJwk::from_label(&pool, "rsa-2048").unwrap();
    let fallback = HsmJwk::load_with(&pool, &KeySelector::label("rsa-2048"), caps).unwrap();
    for m in HASHING_RSA {
        assert!(!fallback.capabilities().supports(m), "{m}");
    }
    let public = SoftwareKey::from_json(&fallback.public_json().unwrap()).unwrap();
    use JwsAlgorithm as A;
    for alg in [A::RS256, A::RS384, A::RS512, A::PS256, A::PS384, A::PS512] {
        assert!(
            fallback.algorithms().contains(&Algorithm::Jws(alg)),
            "{alg}"
        );
        let token = jws::sign_compact(&fallback, alg, b"through the fallback", None).unwrap();
        let verified = jws::verify_compact(&token, &public, &[alg]).unwrap();
        assert_eq!(verified.payload(), b"through the fallback", "{alg}");
        // Verifying in the token follows the same plan.
        let in_token = HsmJwk::load_with(
            &pool,
            &KeySelector::label("rsa-2048"),
            fallback.capabilities().clone(),
        )
        .unwrap()
        .verify_in_token(true);
        jws::verify_compact(&token, &in_token, &[alg]).unwrap();
    }
    // PKCS#1 v1.5 is deterministic: the fallback's signature is the direct mechanism's.
    for alg in [A::RS256, A::RS384, A::RS512] {
        assert_eq!(
            fallback.sign(alg, b"same input").unwrap(),
            direct.sign(alg, b"same input").unwrap(),
            "{alg}"
        );
    }
}

/// Issue 12: an algorithm whose mechanisms (direct and fallback) the token lacks is not
/// offered, and is refused with `NotSupportedByDevice` before any token call: the pool's only
/// session is held elsewhere, so a token call would wait and fail with `PoolTimeout` instead
/// (as the control with an offered algorithm shows).
#[test]
fn an_algorithm_without_any_mechanism_fails_before_any_token_call() {
    let _t = fixture::shared();
    let pool = token()
        .builder()
        .max_sessions(1)
        .wait_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let caps = Capabilities::from_token(&pool)
        .without(MechanismType::SHA256_RSA_PKCS)
        .without(MechanismType::RSA_PKCS);
    let key = HsmJwk::load_with(&pool, &KeySelector::label("rsa-2048"), caps).unwrap();
    assert!(
        !key.algorithms()
            .contains(&Algorithm::Jws(JwsAlgorithm::RS256))
    );
    assert!(
        key.algorithms()
            .contains(&Algorithm::Jws(JwsAlgorithm::PS256))
    );

    let held = pool.session().unwrap();
    let err = jws::sign_compact(&key, JwsAlgorithm::RS256, b"x", None).unwrap_err();
    assert!(
        matches!(
            &err,
            JoseError::Algorithm(AlgorithmError::NotSupportedByDevice { alg, needs, .. })
                if alg == "RS256" && needs == "CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS"
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("not supported by this token"),
        "{err}"
    );
    // The same straight through the backend (no jose-core check in front).
    let err = key.sign(JwsAlgorithm::RS256, b"x").unwrap_err();
    assert!(matches!(
        hsm_jose::Error::from(err),
        hsm_jose::Error::NotSupported { ref needs, .. } if needs.contains("CKM_RSA_PKCS")
    ));
    // Control: an offered algorithm does reach for a session, and times out.
    let err = key.sign(JwsAlgorithm::PS256, b"x").unwrap_err();
    assert!(matches!(
        hsm_jose::Error::from(err),
        hsm_jose::Error::Token(ref e) if matches!(**e, hsm_jose::hsm_core::Error::PoolTimeout { .. })
    ));
    drop(held);
}

/// Issue 12: ECDSA signatures from the token come out low-S (s <= n/2), on every curve.
#[test]
fn ecdsa_signatures_are_low_s() {
    let _t = fixture::shared();
    let pool = token().pool();
    // n/2 for each curve, big-endian, from the curve crates' orders.
    for (label, alg, half_order) in [
        (
            "ec-p256",
            JwsAlgorithm::ES256,
            "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8",
        ),
        (
            "ec-p384",
            JwsAlgorithm::ES384,
            "7fffffffffffffffffffffffffffffffffffffffffffffffe3b1a6c0fa1b96efac0d06d9245853bd76760cb5666294b9",
        ),
        (
            "ec-p521",
            JwsAlgorithm::ES512,
            "00fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffd28c343c1df97cb35bfe600a47b84d2e81ddae4dc44ce23d75db7db8f489c3204",
        ),
    ] {
        let key = HsmJwk::from_label(&pool, label).unwrap();
        let half: Vec<u8> = (0..half_order.len() / 2)
            .map(|i| u8::from_str_radix(&half_order[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        for i in 0..16u8 {
            let sig = key.sign(alg, &[i; 20]).unwrap();
            let s = &sig[sig.len() / 2..];
            assert_eq!(s.len(), half.len(), "{label}");
            assert!(s <= half.as_slice(), "{label}: high S");
        }
    }
}

/// Issue 12, on this token and on a token restricted to the raw RSA mechanisms: for every
/// fixture key, every offered JWS algorithm signs in the token and verifies (with the public
/// JWK in software, or in the token for a secret key), and every algorithm not offered is
/// refused before any token call with `KeyMismatch` or `NotSupportedByDevice`, never a token
/// error.
#[test]
fn every_offered_signature_algorithm_works_and_every_other_is_refused_clearly() {
    let _t = fixture::shared();
    let pool = token().pool();
    let full = Capabilities::from_token(&pool);
    let raw_rsa = HASHING_RSA
        .iter()
        .fold(full.clone(), |caps, m| caps.without(*m));
    for caps in [full, raw_rsa] {
        for fixture_key in hsm_jose_tests::FIXTURE_KEYS {
            let key =
                HsmJwk::load_with(&pool, &KeySelector::label(fixture_key.label), caps.clone())
                    .unwrap();
            let public = key
                .public_json()
                .ok()
                .map(|json| SoftwareKey::from_json(&json).unwrap());
            for &alg in JwsAlgorithm::ALL {
                let label = fixture_key.label;
                if key.algorithms().contains(&Algorithm::Jws(alg)) {
                    if !key.permits(hsm_jose::jose_core::jwk::KeyOp::Sign) {
                        continue;
                    }
                    let token = jws::sign_compact(&key, alg, b"conformance", None)
                        .unwrap_or_else(|e| panic!("{label} {alg}: {e:?}"));
                    match &public {
                        Some(public) => jws::verify_compact(&token, public, &[alg]),
                        None => jws::verify_compact(&token, &key, &[alg]),
                    }
                    .unwrap_or_else(|e| panic!("{label} {alg}: {e:?}"));
                } else {
                    let err = jws::sign_compact(&key, alg, b"x", None).unwrap_err();
                    assert!(
                        matches!(
                            err,
                            JoseError::Algorithm(
                                AlgorithmError::KeyMismatch { .. }
                                    | AlgorithmError::NotSupportedByDevice { .. }
                            )
                        ),
                        "{label} {alg}: {err:?}"
                    );
                }
            }
        }
    }
}
