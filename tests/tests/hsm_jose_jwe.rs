//! hsm-jose against SoftHSM: JWE decryption in the token for every key management algorithm
//! the token supports, with every content encryption; the hybrid pattern (encrypt with the
//! public JWK in software, decrypt in the HSM); encrypted and nested JWTs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hsm_jose::jose_core::error::{AlgorithmError, ClaimsError, Error as JoseError, Malformed};
use hsm_jose::jose_core::jwt::{self, Claims, Validation};
use hsm_jose::jose_core::{
    ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm, SoftwareKey, base64url, jwe,
};
use hsm_jose::{HsmJwk, KeyBackend};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

use ContentEncryption as E;
use KeyManagementAlgorithm as K;

/// Encrypts with the software `sender` (a public key, or the HSM key itself for symmetric
/// algorithms), decrypts in the token, and checks a tampered ciphertext fails opaquely.
fn round_trip(sender: &dyn KeyBackend, recipient: &HsmJwk, alg: K, enc: E) {
    let plaintext = format!("{alg} with {enc}: the plaintext, with bytes \u{0} and \u{ff}");
    let token = jwe::encrypt_compact(sender, alg, enc, plaintext.as_bytes(), None).unwrap();
    let d = jwe::decrypt_compact(&token, recipient, &[alg], &[enc])
        .unwrap_or_else(|e| panic!("{alg} {enc}: {e}"));
    assert_eq!(d.plaintext(), plaintext.as_bytes(), "{alg} {enc}");
    assert_eq!((d.alg(), d.enc()), (alg, enc));

    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut ct = base64url::decode("ct", &parts[3]).unwrap();
    ct[0] ^= 1;
    parts[3] = base64url::encode(&ct);
    let err = jwe::decrypt_compact(&parts.join("."), recipient, &[alg], &[enc]).unwrap_err();
    assert!(matches!(err, JoseError::Decryption), "{alg} {enc}: {err:?}");
}

#[test]
fn rsa_oaep_with_every_content_encryption_hybrid_pattern() {
    let _t = fixture::shared();
    let pool = token().pool();
    let hsm_key = HsmJwk::from_label(&pool, "rsa-2048")
        .unwrap()
        .with_kid("rsa-enc");
    // The sender holds only the exported public JWK: no HSM, no PKCS#11.
    let public = SoftwareKey::from_json(&hsm_key.public_json().unwrap()).unwrap();
    for &enc in E::ALL {
        round_trip(&public, &hsm_key, K::RsaOaep, enc);
        // Encrypting "to the HSM key" does the same, with its public key in software.
        round_trip(&hsm_key, &hsm_key, K::RsaOaep, enc);
    }
    for label in ["rsa-3072", "rsa-4096"] {
        let k = HsmJwk::from_label(&pool, label).unwrap();
        round_trip(&k, &k, K::RsaOaep, E::A256Gcm);
    }
}

#[test]
fn rsa_oaep_256_is_a_clear_not_supported_error_on_this_token() {
    let _t = fixture::shared();
    let pool = token().pool();
    let key = HsmJwk::from_label(&pool, "rsa-2048").unwrap();
    // Learned once at load, by a probe with the key's own public key: not offered at all.
    assert!(
        !key.algorithms()
            .contains(&hsm_jose::jose_core::Algorithm::Jwe(K::RsaOaep256))
    );
    // A sender holding only the public JWK can still make such a token...
    let public = SoftwareKey::from_json(&key.public_json().unwrap()).unwrap();
    let token = jwe::encrypt_compact(&public, K::RsaOaep256, E::A256Gcm, b"secret", None).unwrap();
    // ...and the HSM key refuses it before any token call, every time (no sticky state).
    for _ in 0..2 {
        let err = jwe::decrypt_compact(&token, &key, &[K::RsaOaep256], &[E::A256Gcm]).unwrap_err();
        assert!(
            matches!(
                &err,
                JoseError::Algorithm(AlgorithmError::NotSupportedByDevice { needs, .. })
                    if needs.contains("CKM_RSA_PKCS_OAEP")
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("not supported by this token"),
            "{err}"
        );
    }
    // Encrypting to the HSM key with it is refused the same way.
    let err = jwe::encrypt_compact(&key, K::RsaOaep256, E::A256Gcm, b"secret", None).unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Algorithm(AlgorithmError::NotSupportedByDevice { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn ecdh_es_with_the_key_agreement_in_the_token() {
    let _t = fixture::shared();
    let pool = token().pool();
    for label in ["ec-p256", "ec-p384", "ec-p521"] {
        let key = HsmJwk::from_label(&pool, label).unwrap();
        let public = SoftwareKey::from_json(&key.public_json().unwrap()).unwrap();
        for alg in [K::EcdhEs, K::EcdhEsA128KW, K::EcdhEsA192KW, K::EcdhEsA256KW] {
            for &enc in E::ALL {
                round_trip(&public, &key, alg, enc);
            }
        }
    }
}

#[test]
fn ecdh_es_with_an_ephemeral_key_on_another_curve_is_rejected() {
    let _t = fixture::shared();
    let pool = token().pool();
    let p256 = HsmJwk::from_label(&pool, "ec-p256").unwrap();
    let p384 = SoftwareKey::from_json(
        &HsmJwk::from_label(&pool, "ec-p384")
            .unwrap()
            .public_json()
            .unwrap(),
    )
    .unwrap();
    let token = jwe::encrypt_compact(&p384, K::EcdhEs, E::A128Gcm, b"x", None).unwrap();
    let err = jwe::decrypt_compact(&token, &p256, &[K::EcdhEs], &[E::A128Gcm]).unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Malformed(Malformed::Header { ref member, .. }) if member == "epk"
        ),
        "{err:?}"
    );
}

#[test]
fn aes_key_wrap_and_gcm_key_wrap_with_an_aes_key_held_in_the_token() {
    let _t = fixture::shared();
    let pool = token().pool();
    for (label, kw, gcmkw) in [
        ("aes-128", K::A128KW, K::A128GCMKW),
        ("aes-192", K::A192KW, K::A192GCMKW),
        ("aes-256", K::A256KW, K::A256GCMKW),
    ] {
        let key = HsmJwk::from_label(&pool, label).unwrap();
        for &enc in E::ALL {
            // The sender is the HSM key too: the CEK is wrapped in the token.
            round_trip(&key, &key, kw, enc);
            round_trip(&key, &key, gcmkw, enc);
        }
    }
}

#[test]
fn every_serialization_decrypts_in_the_token() {
    let _t = fixture::shared();
    let pool = token().pool();
    let rsa = HsmJwk::from_label(&pool, "rsa-2048")
        .unwrap()
        .with_kid("rsa");
    let ec = HsmJwk::from_label(&pool, "ec-p384").unwrap().with_kid("ec");
    let jwe = jwe::JweBuilder::new(E::A256Gcm)
        .aad(b"context")
        .add_recipient(&rsa, K::RsaOaep, None)
        .unwrap()
        .add_recipient(&ec, K::EcdhEsA256KW, None)
        .unwrap()
        .encrypt(b"to two recipients")
        .unwrap();
    let general = jwe.general_json().unwrap();
    let decrypter = jwe::Decrypter::new(&[K::RsaOaep, K::EcdhEsA256KW], &[E::A256Gcm]);
    assert_eq!(
        decrypter.decrypt(&general, &rsa).unwrap().plaintext(),
        b"to two recipients"
    );
    assert_eq!(
        decrypter.decrypt(&general, &ec).unwrap().plaintext(),
        b"to two recipients"
    );

    let single = jwe::JweBuilder::new(E::A128CbcHs256)
        .add_recipient(&ec, K::EcdhEs, None)
        .unwrap()
        .encrypt(b"flat")
        .unwrap();
    let flattened = single.flattened_json().unwrap();
    assert_eq!(
        jwe::decrypt_json(&flattened, &ec, &[K::EcdhEs], &[E::A128CbcHs256])
            .unwrap()
            .plaintext(),
        b"flat"
    );
}

#[test]
fn encrypted_jwt_and_nested_jwt() {
    let _t = fixture::shared();
    let pool = token().pool();
    let now = 1_800_000_000;
    let claims = Claims::new()
        .issuer("issuer")
        .subject("bob")
        .audience("api")
        .expires_at(now + 60);
    let signer = HsmJwk::from_label(&pool, "ec-p256")
        .unwrap()
        .with_kid("sig");
    let decrypter = HsmJwk::from_label(&pool, "rsa-2048")
        .unwrap()
        .with_kid("enc");
    let recipient = SoftwareKey::from_json(&decrypter.public_json().unwrap()).unwrap();

    // Encrypted JWT: anyone with the public JWK encrypts; the HSM decrypts.
    let token = jwt::encrypt(&claims, &recipient, K::RsaOaep, E::A256Gcm, None).unwrap();
    let validation = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256])
        .jwe_algorithms(&[K::RsaOaep], &[E::A256Gcm])
        .audience("api")
        .at_time(now);
    assert_eq!(
        validation
            .decrypt(&token, &decrypter)
            .unwrap()
            .claims()
            .sub(),
        Some("bob")
    );
    // Asked for a signed JWT, the encrypted one is refused before any key is used.
    let err = validation.verify(&token, &signer).unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Claims(ClaimsError::WrongKind {
                expected: "JWS",
                found: "JWE"
            })
        ),
        "{err:?}"
    );

    // Nested: ES256 inside (signed in the HSM), RSA-OAEP + A256GCM outside (decrypted in the HSM).
    let nested = jwt::sign_then_encrypt(
        &claims,
        &signer,
        JwsAlgorithm::ES256,
        &recipient,
        K::RsaOaep,
        E::A256Gcm,
    )
    .unwrap();
    let jwt = validation
        .decrypt_and_verify(&nested, &decrypter, &signer)
        .unwrap();
    assert_eq!(jwt.claims().iss(), Some("issuer"));
    assert_eq!(jwt.encryption_header().unwrap().cty(), Some("JWT"));
    // Verified with the signer's public key only, in software: same answer.
    let signer_public = SoftwareKey::from_json(&signer.public_json().unwrap()).unwrap();
    validation
        .decrypt_and_verify(&nested, &decrypter, &signer_public)
        .unwrap();
    // Signed by another key: rejected.
    let other = HsmJwk::from_label(&pool, "ec-p384").unwrap();
    let forged = jwt::sign_then_encrypt(
        &claims,
        &other,
        JwsAlgorithm::ES384,
        &recipient,
        K::RsaOaep,
        E::A256Gcm,
    )
    .unwrap();
    let lenient = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::ES256, JwsAlgorithm::ES384])
        .jwe_algorithms(&[K::RsaOaep], &[E::A256Gcm])
        .audience("api")
        .at_time(now);
    let err = lenient
        .decrypt_and_verify(&forged, &decrypter, &signer)
        .unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Algorithm(AlgorithmError::KeyMismatch { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn an_encrypted_key_the_token_cannot_unwrap_fails_like_a_bad_tag() {
    let _t = fixture::shared();
    let pool = token().pool();
    let rsa = HsmJwk::from_label(&pool, "rsa-2048").unwrap();
    let other_rsa = HsmJwk::from_label(&pool, "rsa-3072").unwrap();
    let aes = HsmJwk::from_label(&pool, "aes-256").unwrap();
    let flip_key = |token: &str| {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut ek = base64url::decode("ek", &parts[1]).unwrap();
        let i = ek.len() / 2;
        ek[i] ^= 1;
        parts[1] = base64url::encode(&ek);
        parts.join(".")
    };
    let to_rsa = jwe::encrypt_compact(&rsa, K::RsaOaep, E::A256Gcm, b"x", None).unwrap();
    let to_aes_kw = jwe::encrypt_compact(&aes, K::A256KW, E::A256Gcm, b"x", None).unwrap();
    let to_aes_gcmkw = jwe::encrypt_compact(&aes, K::A256GCMKW, E::A256Gcm, b"x", None).unwrap();
    let cases: [(&HsmJwk, String, K); 4] = [
        (&rsa, flip_key(&to_rsa), K::RsaOaep),
        (&other_rsa, to_rsa.clone(), K::RsaOaep),
        (&aes, flip_key(&to_aes_kw), K::A256KW),
        (&aes, flip_key(&to_aes_gcmkw), K::A256GCMKW),
    ];
    for (key, token, alg) in cases {
        let err = jwe::decrypt_compact(&token, key, &[alg], &[E::A256Gcm]).unwrap_err();
        assert!(
            matches!(err, JoseError::Decryption),
            "{alg} with {}: {err:?}",
            key.label()
        );
    }
}
