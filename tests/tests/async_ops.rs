//! hsm-jose's async face (`hsm_jose::service::AsyncHsm`, feature `tokio`) against SoftHSM: every
//! operation (key loading, signing, JWT, decryption, key unwrap and wrap, ECDH) runs on the
//! hsm-jose worker threads, never on the runtime's, and gives the same results as the
//! synchronous API, checked in software.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod async_support;

use std::sync::Arc;

use async_support::Where;

use hsm_jose::jose_core::error::Error as JoseError;
use hsm_jose::jose_core::jwk::EcCurve;
use hsm_jose::jose_core::jwt::{Claims, Validation};
use hsm_jose::jose_core::{
    ContentEncryption as E, Header, JwsAlgorithm, KeyManagementAlgorithm as K, SecretBytes,
    SoftwareKey, base64url, jwe, jws,
};
use hsm_jose::service::{AsyncHsm, ServiceError};
use hsm_jose::{HsmJwk, HsmJwkSet, KeyBackend, KidSource};
use hsm_jose_tests::fixture::TokenFixture;
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

fn public(key: &HsmJwk) -> SoftwareKey {
    SoftwareKey::from_json(&key.public_json().unwrap()).unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn signing_runs_on_the_workers_and_verifies_in_software() {
    let pool = token().pool();
    let hsm = AsyncHsm::new(&pool).unwrap();
    assert_eq!(hsm.workers(), pool.max_sessions());

    let ec = hsm.load_label("ec-p256").await.unwrap();
    let recorded = Arc::new(Where::new(Arc::clone(&ec)));
    let jws = hsm
        .sign_compact(
            &recorded,
            JwsAlgorithm::ES256,
            b"async hello".to_vec(),
            None,
        )
        .await
        .unwrap();
    let verified = jws::verify_compact(&jws, &public(&ec), &[JwsAlgorithm::ES256]).unwrap();
    assert_eq!(verified.payload(), b"async hello");

    // The raw KeyBackend signature, as a JWS signature over any input.
    let sig = hsm
        .sign(&recorded, JwsAlgorithm::ES256, b"input".to_vec())
        .await
        .unwrap();
    assert_eq!(sig.len(), 64);
    public(&ec)
        .verify(JwsAlgorithm::ES256, b"input", &sig)
        .unwrap();

    let runtime_thread = std::thread::current().name().map(str::to_owned);
    let threads = recorded.threads();
    assert_eq!(threads.len(), 2);
    for name in &threads {
        assert!(name.starts_with("hsm-jose-worker-"), "signed on {name}");
        assert_ne!(Some(name), runtime_thread.as_ref());
    }

    // A signed JWT with an RSA key.
    let rsa = hsm.load_label("rsa-2048").await.unwrap();
    let claims = Claims::new().subject("alice").expires_at(4_000_000_000);
    let jwt = hsm
        .sign_jwt(&rsa, JwsAlgorithm::RS256, claims, None)
        .await
        .unwrap();
    let checked = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::RS256])
        .verify(&jwt, &public(&rsa))
        .unwrap();
    assert_eq!(checked.claims().sub(), Some("alice"));
    assert_eq!(hsm.running(), 0);
    assert_eq!(hsm.waiting(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn decryption_unwrap_wrap_and_ecdh_match_software() {
    let pool = token().pool();
    let hsm = AsyncHsm::new(&pool).unwrap();

    // RSA-OAEP: encrypted to the public JWK in software, decrypted in the token.
    let rsa = hsm.load_label("rsa-2048").await.unwrap();
    let token =
        jwe::encrypt_compact(&public(&rsa), K::RsaOaep, E::A256Gcm, b"secret", None).unwrap();
    let opened = hsm
        .decrypt_compact(&rsa, token.clone(), vec![K::RsaOaep], vec![E::A256Gcm])
        .await
        .unwrap();
    assert_eq!(opened.plaintext(), b"secret");

    // A tampered ciphertext is the one opaque decryption error.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut ct = base64url::decode("ct", &parts[3]).unwrap();
    ct[0] ^= 1;
    parts[3] = base64url::encode(&ct);
    let err = hsm
        .decrypt_compact(&rsa, parts.join("."), vec![K::RsaOaep], vec![E::A256Gcm])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Hsm(hsm_jose::Error::Jose(JoseError::Decryption))
        ),
        "{err:?}"
    );

    // ECDH-ES+A128KW to an EC key of the token.
    let ec = hsm.load_label("ec-p256").await.unwrap();
    let token = jwe::encrypt_compact(
        &public(&ec),
        K::EcdhEsA128KW,
        E::A128CbcHs256,
        b"ecdh",
        None,
    )
    .unwrap();
    let opened = hsm
        .decrypt_compact(&ec, token, vec![K::EcdhEsA128KW], vec![E::A128CbcHs256])
        .await
        .unwrap();
    assert_eq!(opened.plaintext(), b"ecdh");

    // The raw key agreement: the token's Z equals the one computed from the other side.
    let ephemeral = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let epk = ephemeral.jwk().to_public().unwrap();
    let z_token = hsm.derive_ecdh(&ec, epk).await.unwrap();
    let z_software = ephemeral.derive_ecdh(&public(&ec).jwk().clone()).unwrap();
    assert_eq!(z_token.len(), 32);
    assert_eq!(&*z_token, &*z_software);

    // AES key wrap with a token secret key, both ways.
    let aes = hsm.load_label("aes-256").await.unwrap();
    let cek: SecretBytes = SecretBytes::new((0u8..32).collect());
    let wrapped = hsm.wrap_key(&aes, K::A256KW, cek.clone()).await.unwrap();
    assert_eq!(wrapped.encrypted_key.len(), 40);
    let unwrapped = hsm
        .unwrap_key(
            &aes,
            K::A256KW,
            wrapped.encrypted_key,
            Header::new(),
            E::A256Gcm,
        )
        .await
        .unwrap();
    assert_eq!(&*unwrapped, &*cek);
}

#[tokio::test(flavor = "current_thread")]
async fn key_sets_load_and_decrypt_by_kid() {
    let pool = token().pool();
    let hsm = AsyncHsm::new(&pool).unwrap();

    let set = hsm.load_set(KidSource::Label).await.unwrap();
    assert!(set.get_key("ec-p256").is_some());
    assert!(set.get_key("rsa-2048").is_some());

    let mut keys = HsmJwkSet::new();
    let enc = hsm.load_label("rsa-2048").await.unwrap();
    let recipient = public(&enc).with_kid("enc-1");
    keys.add_key(
        HsmJwk::from_label(&pool, "rsa-2048")
            .unwrap()
            .with_kid("enc-1"),
    )
    .unwrap();
    let keys = Arc::new(keys);
    let token = jwe::encrypt_compact(&recipient, K::RsaOaep, E::A128Gcm, b"by kid", None).unwrap();
    let opened = hsm
        .decrypt_with(&keys, token, vec![K::RsaOaep], vec![E::A128Gcm])
        .await
        .unwrap();
    assert_eq!(opened.plaintext(), b"by kid");
    assert_eq!(opened.kid(), Some("enc-1"));
}

#[tokio::test(flavor = "current_thread")]
async fn errors_keep_their_types() {
    let pool = token().pool();
    let hsm = AsyncHsm::new(&pool).unwrap();

    let err = hsm.load_label("no-such-key").await.unwrap_err();
    assert!(
        matches!(err, ServiceError::Hsm(hsm_jose::Error::KeyNotFound { .. })),
        "{err:?}"
    );
    assert!(!err.is_overload());

    // An algorithm the key cannot serve is refused before any token call.
    let ec = hsm.load_label("ec-p256").await.unwrap();
    let err = hsm
        .sign(&ec, JwsAlgorithm::RS256, b"x".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::Hsm(hsm_jose::Error::Jose(JoseError::Algorithm(_)))
        ),
        "{err:?}"
    );
}
