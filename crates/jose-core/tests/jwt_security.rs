//! The JWT items of the security checklist: 10 (token type confusion), 11 (nested JWT with a
//! wrong inner key), 12 (claims of the wrong type, leeway) and 13 (deeply nested JSON).
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod jwe_support;

use jose_core::error::{AlgorithmError, ClaimsError, Malformed};
use jose_core::jwk::EcCurve;
use jose_core::jwt::{self, Claims, Validation};
use jose_core::{
    ContentEncryption as Enc, Error, JwsAlgorithm, KeyManagementAlgorithm as Alg, SoftwareKey, jws,
};
use jwe_support::*;

const NOW: i64 = 1_700_000_000;

fn claims() -> Claims {
    Claims::new().subject("user").expires_at(NOW + 600)
}

/// A validation allowing every algorithm, so only the kind can reject.
fn permissive() -> Validation {
    Validation::new()
        .jws_algorithms(JwsAlgorithm::ALL)
        .jwe_algorithms(all_algs(), all_encs())
        .at_time(NOW)
}

#[track_caller]
fn wrong_kind<T: std::fmt::Debug>(r: Result<T, Error>, expected: &str, found: &str) {
    match r {
        Err(Error::Claims(ClaimsError::WrongKind {
            expected: e,
            found: f,
        })) => {
            assert_eq!((e, f), (expected, found));
        }
        other => panic!("expected WrongKind {expected}/{found}, got {other:?}"),
    }
}

#[test]
fn security_10_jwe_where_jws_expected_and_reverse_rejected_before_crypto() {
    // CVE-2022-3102: anyone can encrypt claims to the server's public key. A server expecting a
    // signed token must not accept them because they decrypt.
    let server = Spy::new(SoftwareKey::generate_ec(EcCurve::P256).unwrap());
    let forged = jwt::encrypt(
        &claims(),
        &public(&server.inner),
        Alg::EcdhEs,
        Enc::A256Gcm,
        None,
    )
    .unwrap();
    wrong_kind(permissive().verify(&forged, &server), "JWS", "JWE");
    // Expecting a nested JWT: an encrypted JWT without a signature inside is refused too
    // (after decryption, the only way to see inside).
    wrong_kind(
        permissive().decrypt_and_verify(&forged, &server, &server),
        "nested JWT",
        "encrypted JWT",
    );
    let calls_after_nested = server.calls();
    assert_eq!(
        calls_after_nested, 1,
        "one ECDH for the nested attempt, none for the JWS one"
    );

    // The reverse: a JWS where a JWE (or a nested JWT) is expected.
    let signer = Spy::new(SoftwareKey::generate_oct(32).unwrap());
    let signed = jwt::sign(&claims(), &signer.inner, JwsAlgorithm::HS256, None).unwrap();
    wrong_kind(permissive().decrypt(&signed, &signer), "JWE", "JWS");
    wrong_kind(
        permissive().decrypt_and_verify(&signed, &signer, &signer),
        "nested JWT",
        "JWS",
    );
    assert_eq!(
        signer.calls(),
        0,
        "no cryptography for a token of the wrong kind"
    );

    // A nested JWT where a plain encrypted one is expected.
    let recipient = SoftwareKey::generate_oct(16).unwrap();
    let nested = jwt::sign_then_encrypt(
        &claims(),
        &signer.inner,
        JwsAlgorithm::HS256,
        &recipient,
        Alg::A128KW,
        Enc::A128Gcm,
    )
    .unwrap();
    wrong_kind(
        permissive().decrypt(&nested, &recipient),
        "encrypted JWT",
        "nested JWT",
    );
    wrong_kind(permissive().verify(&nested, &signer), "JWS", "JWE");
    assert!(
        permissive()
            .decrypt_and_verify(&nested, &recipient, &signer.inner)
            .is_ok()
    );

    // JSON serializations are not JWTs.
    let json = jws::JwsBuilder::new(claims().to_json().as_bytes())
        .add_signature(&signer.inner, JwsAlgorithm::HS256, Default::default(), None)
        .unwrap()
        .flattened_json()
        .unwrap();
    assert!(matches!(
        permissive().verify(&json, &signer),
        Err(Error::Malformed(Malformed::Serialization(_)))
    ));
}

#[test]
fn security_11_nested_jwt_with_wrong_inner_key_rejected() {
    let expected_signer = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let attacker = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let recipient = SoftwareKey::generate_ec(EcCurve::P384).unwrap();
    let val = permissive().jws_algorithms(&[JwsAlgorithm::ES256]);
    let good = jwt::sign_then_encrypt(
        &claims(),
        &expected_signer,
        JwsAlgorithm::ES256,
        &public(&recipient),
        Alg::EcdhEsA256KW,
        Enc::A256Gcm,
    )
    .unwrap();
    assert!(
        val.decrypt_and_verify(&good, &recipient, &public(&expected_signer))
            .is_ok()
    );
    // Signed by another key: decrypts fine, but the inner signature does not verify.
    let bad = jwt::sign_then_encrypt(
        &claims(),
        &attacker,
        JwsAlgorithm::ES256,
        &public(&recipient),
        Alg::EcdhEsA256KW,
        Enc::A256Gcm,
    )
    .unwrap();
    assert!(matches!(
        val.decrypt_and_verify(&bad, &recipient, &public(&expected_signer)),
        Err(Error::Verification)
    ));
    // Signed with an algorithm the caller did not allow (an HMAC with a key the attacker knows).
    let hmac = SoftwareKey::generate_oct(32).unwrap();
    let mac = jwt::sign_then_encrypt(
        &claims(),
        &hmac,
        JwsAlgorithm::HS256,
        &public(&recipient),
        Alg::EcdhEsA256KW,
        Enc::A256Gcm,
    )
    .unwrap();
    assert!(matches!(
        val.decrypt_and_verify(&mac, &recipient, &public(&expected_signer)),
        Err(Error::Algorithm(_))
    ));
    // Verifying with the decryption key instead of the signer's key fails too.
    assert!(
        val.decrypt_and_verify(&good, &recipient, &recipient)
            .is_err_and(|e| matches!(e, Error::Algorithm(AlgorithmError::KeyMismatch { .. })))
    );
}

#[test]
fn security_12_claims_of_wrong_type_rejected_and_leeway_applied() {
    let key = SoftwareKey::generate_oct(32).unwrap();
    let val = permissive().required_claims(&[]);
    for (payload, claim) in [
        (r#"{"exp":"never"}"#, "exp"),
        (r#"{"nbf":"999"}"#, "nbf"),
        (r#"{"aud":{"x":1}}"#, "aud"),
    ] {
        let t = jws::sign_compact(&key, JwsAlgorithm::HS256, payload.as_bytes(), None).unwrap();
        match val.verify(&t, &key) {
            Err(Error::Claims(ClaimsError::WrongType(c))) => assert_eq!(c, claim),
            other => panic!("{payload}: {other:?}"),
        }
        // Same inside a JWE.
        let t =
            jose_core::jwe::encrypt_compact(&key, Alg::Dir, Enc::A256Gcm, payload.as_bytes(), None)
                .unwrap();
        assert!(matches!(
            val.decrypt(&t, &key),
            Err(Error::Claims(ClaimsError::WrongType(_)))
        ));
    }
    let expired = jwt::sign(
        &Claims::new().expires_at(NOW - 30),
        &key,
        JwsAlgorithm::HS256,
        None,
    )
    .unwrap();
    assert!(
        val.verify(&expired, &key).is_ok(),
        "within the 60 s default leeway"
    );
    assert!(matches!(
        val.clone().leeway(10).verify(&expired, &key),
        Err(Error::Claims(ClaimsError::Expired))
    ));
}

#[test]
fn security_13_deeply_nested_claims_are_a_clean_error() {
    let key = SoftwareKey::generate_oct(32).unwrap();
    let val = permissive().required_claims(&[]);
    let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    let t = jws::sign_compact(&key, JwsAlgorithm::HS256, deep.as_bytes(), None).unwrap();
    assert!(matches!(
        val.verify(&t, &key),
        Err(Error::Malformed(Malformed::Json { .. }))
    ));
    let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let t =
        jose_core::jwe::encrypt_compact(&key, Alg::Dir, Enc::A256Gcm, deep_obj.as_bytes(), None)
            .unwrap();
    assert!(matches!(
        val.decrypt(&t, &key),
        Err(Error::Malformed(Malformed::Json { .. }))
    ));
    // Duplicate claims are rejected, at any depth.
    let dup = jws::sign_compact(
        &key,
        JwsAlgorithm::HS256,
        br#"{"sub":"a","x":{"y":1,"y":2}}"#,
        None,
    )
    .unwrap();
    assert!(matches!(
        val.verify(&dup, &key),
        Err(Error::Malformed(Malformed::DuplicateMember { .. }))
    ));
}

#[test]
fn malformed_jwts_never_panic() {
    let key = SoftwareKey::generate_oct(32).unwrap();
    let val = permissive();
    for t in [
        "",
        ".",
        "..",
        "...",
        "....",
        ".....",
        "a.b",
        "a.b.c.d",
        &".".repeat(1_000_000),
    ] {
        assert!(val.verify(t, &key).is_err_and(|e| matches!(
            e,
            Error::Claims(ClaimsError::WrongKind { .. })
                | Error::Malformed(Malformed::Empty(_) | Malformed::Parts { .. })
        )));
        assert!(val.decrypt(t, &key).is_err_and(|e| matches!(
            e,
            Error::Claims(ClaimsError::WrongKind { .. })
                | Error::Malformed(Malformed::Empty(_) | Malformed::Parts { .. })
        )));
        assert!(
            val.decrypt_and_verify(t, &key, &key)
                .is_err_and(|e| matches!(
                    e,
                    Error::Claims(ClaimsError::WrongKind { .. })
                        | Error::Malformed(Malformed::Empty(_) | Malformed::Parts { .. })
                ))
        );
    }
    let small = permissive().max_token_len(8);
    assert!(matches!(
        small.verify("aaaa.bbbb.cccc", &key),
        Err(Error::Malformed(Malformed::TooLarge { .. }))
    ));
}
