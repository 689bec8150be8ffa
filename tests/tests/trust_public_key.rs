//! A key pair's public key is proven to be its own, against a real SoftHSM token (issue 13,
//! item 1).
//!
//! Public-key objects can be created in a read-write session without logging in. These tests
//! plant an attacker's public key object with a victim key's label and id exactly that way
//! (the application logged out, the session state checked to be `CKS_RW_PUBLIC_SESSION`, as
//! `pkcs11-tool --write-object pub.der --type pubkey` without `--login` would), then look the
//! victim key up:
//!
//! - RSA: the private object's own `CKA_MODULUS`/`CKA_PUBLIC_EXPONENT` are the public key;
//!   a planted public object is never used, never paired, never a second key. Asking for the
//!   public key object itself (`type=public`) is `Error::PublicKeyMismatch`.
//! - EC (SoftHSM's private EC objects carry no point): a planted duplicate next to the real
//!   public object does not make the lookup ambiguous; the token's verification of the private
//!   key's signature picks the real one. With the real one deleted, the planted one is the only
//!   candidate and is reported `Binding::Unproven` (hsm-jose then self-tests before use). A
//!   derive-only key cannot sign to tell two candidates apart: it is found, without a public
//!   key, and `require_public_key()` is `Error::PublicKeyMismatch`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hsm_core::cryptoki::mechanism::Mechanism;
use hsm_core::cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use hsm_core::cryptoki::session::{Session, SessionState, UserType};
use hsm_core::cryptoki::types::AuthPin;
use hsm_core::key::{Binding, PublicKeyProblem, prove_public_key};
use hsm_core::{
    EcCurve, Error, KeyClass, KeyInfo, KeySelector, KeySpec, KeyUsage, PublicKeyMaterial,
    SessionPool, delete_key, find_key, generate_key_pair, list_keys,
};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

/// Runs `plant` in a read-write session that is provably not logged in (the application logs
/// out first), then logs the application in again for the rest of the test.
fn without_login<T>(
    token: &TokenFixture,
    pool: &SessionPool,
    plant: impl FnOnce(&Session) -> T,
) -> T {
    let pkcs11 = pool.module().pkcs11();
    let session = pkcs11.open_rw_session(pool.slot()).unwrap();
    // Login state is per application: one logout logs every session out.
    session.logout().unwrap();
    assert_eq!(
        session.get_session_info().unwrap().session_state(),
        SessionState::RwPublic,
        "the attacker's session is read-write and not logged in"
    );
    let planted = plant(&session);
    session
        .login(
            UserType::User,
            Some(&AuthPin::from(token.pin.expose_secret())),
        )
        .unwrap();
    planted
}

/// `pkcs11-tool --write-object pub.der --type pubkey --label L --id I` for an RSA key.
fn plant_rsa(session: &Session, label: &str, id: &[u8], n: &[u8]) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::Modulus(n.to_vec()),
            Attribute::PublicExponent(vec![0x01, 0x00, 0x01]),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
        ])
        .unwrap()
}

/// The same for an EC P-256 key with the point `x`, `y`.
fn plant_ec(session: &Session, label: &str, id: &[u8], x: &[u8], y: &[u8]) -> ObjectHandle {
    let mut point = vec![0x04, 0x41, 0x04];
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::EcParams(EcCurve::P256.ec_params().to_vec()),
            Attribute::EcPoint(point),
            Attribute::Verify(true),
            Attribute::Derive(true),
        ])
        .unwrap()
}

/// An attacker's 2048-bit modulus (any odd full-size number: the token does not check it).
fn attacker_modulus() -> Vec<u8> {
    let mut n: Vec<u8> = (0..256u32).map(|i| (i * 37 + 11) as u8).collect();
    n[0] |= 0x80;
    n[255] |= 1;
    n
}

/// The point of the fixture key `ec-p256`: a valid P-256 point that is not the victim's.
fn attacker_point(session: &Session) -> (Vec<u8>, Vec<u8>) {
    match find_key(session, &KeySelector::label("ec-p256"))
        .unwrap()
        .public_key
    {
        Some(PublicKeyMaterial::Ec { x, y, .. }) => (x, y),
        other => panic!("ec-p256 has no EC public key: {other:?}"),
    }
}

fn destroy(session: &Session, handles: &[ObjectHandle]) {
    for &h in handles {
        session.destroy_object(h).unwrap();
    }
}

#[test]
fn a_planted_rsa_public_key_is_never_used_the_private_modulus_is() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.pool();
    let session = pool.session_rw().unwrap();
    let (label, id) = ("victim-rsa", [0x0c]);
    let generated = generate_key_pair(
        &session,
        KeySpec::Rsa(2048),
        label,
        &id,
        KeyUsage::SIGN | KeyUsage::ENCRYPT,
    )
    .unwrap();
    assert_eq!(generated.public_binding, Some(Binding::PrivateAttributes));
    let Some(PublicKeyMaterial::Rsa { n: real_n, .. }) = generated.public_key.clone() else {
        panic!("no RSA public key: {generated:?}");
    };
    // SoftHSM's private RSA objects carry the modulus: that is what binds.
    let private_n = session
        .get_attributes(generated.private.unwrap(), &[AttributeType::Modulus])
        .unwrap();
    assert_eq!(private_n, vec![Attribute::Modulus(real_n.clone())]);

    let published_before = hsm_jose::HsmJwk::from_label(&pool, label)
        .unwrap()
        .public_value()
        .unwrap();
    assert_eq!(published_before["kty"], "RSA");

    // 1. Beside the real public object: the real one is paired, the planted one set aside.
    let evil_n = attacker_modulus();
    let planted = without_login(&token, &pool, |s| plant_rsa(s, label, &id, &evil_n));
    let info = find_key(&session, &KeySelector::label(label)).unwrap();
    assert_eq!(info.public, generated.public, "the real public object");
    assert_eq!(info.mismatched_public, vec![planted]);
    assert_eq!(info.public_key, generated.public_key);
    assert_eq!(info.public_binding, Some(Binding::PrivateAttributes));
    assert!(info.public_key_is_proven());

    // 2. The real public object deleted, only the attacker's left: the private object's
    //    modulus is still the public key; the planted object is neither used nor a second key.
    session.destroy_object(generated.public.unwrap()).unwrap();
    for selector in [
        KeySelector::label(label),
        KeySelector::id(id),
        KeySelector::label_and_id(label, id),
        KeySelector::label(label).with_class(KeyClass::Private),
    ] {
        let info = find_key(&session, &selector).unwrap();
        assert_eq!(info.public, None, "{selector}");
        assert_eq!(info.mismatched_public, vec![planted], "{selector}");
        assert_eq!(
            info.public_key,
            Some(PublicKeyMaterial::Rsa {
                n: real_n.clone(),
                e: vec![0x01, 0x00, 0x01]
            }),
            "{selector}: the private object's modulus, not the attacker's"
        );
        assert_eq!(info.public_binding, Some(Binding::PrivateAttributes));
    }
    // What hsm-jose publishes (`hsm-jose jwks --key`) and verifies with: the JWK it published
    // before anything was planted.
    let published = hsm_jose::HsmJwk::from_label(&pool, label)
        .unwrap()
        .public_value()
        .unwrap();
    assert_eq!(published, published_before);
    let listed: Vec<KeyInfo> = list_keys(&session)
        .unwrap()
        .into_iter()
        .filter(|k| k.label == label)
        .collect();
    assert_eq!(listed.len(), 1, "one key, not a key and a lone public key");
    assert!(
        matches!(&listed[0].public_key, Some(PublicKeyMaterial::Rsa { n, .. }) if *n == real_n)
    );
    // Asking for the public key object itself: the typed mismatch, naming the key.
    let error = find_key(
        &session,
        &KeySelector::label(label).with_class(KeyClass::Public),
    )
    .unwrap_err();
    assert!(
        matches!(&error, Error::PublicKeyMismatch { key, .. } if key.contains(label) && key.contains("0c")),
        "{error:?}"
    );

    // 3. A planted object of another key type with the same label and id: set aside too.
    let (x, y) = attacker_point(&session);
    let planted_ec = without_login(&token, &pool, |s| plant_ec(s, label, &id, &x, &y));
    let info = find_key(&session, &KeySelector::label(label)).unwrap();
    assert_eq!(info.mismatched_public.len(), 2);
    assert!(info.mismatched_public.contains(&planted_ec));
    assert!(matches!(&info.public_key, Some(PublicKeyMaterial::Rsa { n, .. }) if *n == real_n));

    destroy(&session, &[planted, planted_ec]);
    delete_key(&session, &info).unwrap();
}

#[test]
fn a_planted_duplicate_ec_public_key_is_not_ambiguous_the_token_tells() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.pool();
    let session = pool.session_rw().unwrap();
    let (label, id) = ("victim-ec", [0x0d]);
    let generated = generate_key_pair(
        &session,
        KeySpec::Ec(EcCurve::P256),
        label,
        &id,
        KeyUsage::SIGN,
    )
    .unwrap();
    // SoftHSM's private EC objects reveal no public value: no point, an empty SPKI.
    let revealed = session
        .get_attributes(
            generated.private.unwrap(),
            &[AttributeType::EcPoint, AttributeType::PublicKeyInfo],
        )
        .unwrap();
    assert!(
        revealed.iter().all(|a| match a {
            Attribute::EcPoint(v) | Attribute::PublicKeyInfo(v) => v.is_empty(),
            _ => false,
        }),
        "{revealed:?}"
    );
    assert_eq!(generated.public_binding, Some(Binding::Unproven));
    // The genuine pair proves itself on the token.
    let mut proven = generated.clone();
    prove_public_key(&session, &mut proven).unwrap();
    assert_eq!(proven.public_binding, Some(Binding::TokenVerified));

    let (x, y) = attacker_point(&session);
    let planted = without_login(&token, &pool, |s| plant_ec(s, label, &id, &x, &y));
    let info = find_key(&session, &KeySelector::label(label)).unwrap();
    assert_eq!(info.public, generated.public, "the real public object");
    assert_eq!(info.public_key, generated.public_key);
    assert_ne!(
        info.public_key,
        Some(PublicKeyMaterial::Ec {
            curve: EcCurve::P256,
            x: x.clone(),
            y: y.clone()
        })
    );
    assert_eq!(info.mismatched_public, vec![planted]);
    assert_eq!(info.public_binding, Some(Binding::TokenVerified));
    let listed = list_keys(&session)
        .unwrap()
        .into_iter()
        .filter(|k| k.label == label)
        .count();
    assert_eq!(listed, 1);

    // The real public object deleted: the planted one is the only candidate. Nothing on the
    // token proves or disproves it, and it is reported as exactly that.
    session.destroy_object(generated.public.unwrap()).unwrap();
    let info = find_key(&session, &KeySelector::label(label)).unwrap();
    assert_eq!(info.public, Some(planted));
    assert_eq!(info.public_binding, Some(Binding::Unproven));
    assert!(!info.public_key_is_proven());
    // Proving it fails with the typed mismatch, and the key stays unproven.
    let mut attempt = info.clone();
    let error = prove_public_key(&session, &mut attempt).unwrap_err();
    assert!(
        matches!(&error, Error::PublicKeyMismatch { key, .. } if key.contains(label)),
        "{error:?}"
    );
    assert_eq!(attempt, info);

    // (Private handles change at each login on SoftHSM: the one just found is current.)
    session.destroy_object(planted).unwrap();
    session.destroy_object(info.private.unwrap()).unwrap();
}

/// The same for EdDSA (the token checks with `CKM_EDDSA`): a planted Ed25519 public object
/// with the victim's label and id is set aside, even when it comes first.
#[test]
fn a_planted_duplicate_eddsa_public_key_is_not_ambiguous_either() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.pool();
    let session = pool.session_rw().unwrap();
    let (label, id) = ("victim-ed", [0x0f]);
    let generated =
        generate_key_pair(&session, KeySpec::Ed25519, label, &id, KeyUsage::SIGN).unwrap();
    let Some(PublicKeyMaterial::Edwards { point, .. }) =
        find_key(&session, &KeySelector::label("ed25519"))
            .unwrap()
            .public_key
    else {
        panic!("ed25519 has no EdDSA public key");
    };
    let mut wrapped = vec![0x04, 0x20];
    wrapped.extend(&point);
    let planted = without_login(&token, &pool, |s| {
        s.create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
            Attribute::EcParams(hsm_core::EdCurve::Ed25519.ec_params().to_vec()),
            Attribute::EcPoint(wrapped),
            Attribute::Verify(true),
        ])
        .unwrap()
    });
    for selector in [KeySelector::label(label), KeySelector::id(id)] {
        let info = find_key(&session, &selector).unwrap();
        assert_eq!(info.public, generated.public, "{selector}");
        assert_eq!(info.public_key, generated.public_key, "{selector}");
        assert_eq!(info.mismatched_public, vec![planted], "{selector}");
        assert_eq!(info.public_binding, Some(Binding::TokenVerified));
    }
    session.destroy_object(planted).unwrap();
    let info = find_key(&session, &KeySelector::label(label)).unwrap();
    delete_key(&session, &info).unwrap();
}

/// A derive-only key cannot sign to tell two candidates apart: it keeps no public key, both
/// objects are set aside, and asking for its public key is the typed mismatch. The private key
/// stays usable (planting objects cannot make it fail to load).
#[test]
fn two_candidates_for_a_key_that_cannot_sign_leave_it_without_a_public_key() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.pool();
    let session = pool.session_rw().unwrap();
    let (label, id) = ("victim-ecdh", [0x0e]);
    let generated = generate_key_pair(
        &session,
        KeySpec::Ec(EcCurve::P256),
        label,
        &id,
        KeyUsage::DERIVE,
    )
    .unwrap();
    let (x, y) = attacker_point(&session);
    let planted = without_login(&token, &pool, |s| plant_ec(s, label, &id, &x, &y));
    let info = find_key(&session, &KeySelector::label(label)).unwrap();
    assert!(info.private.is_some());
    assert_eq!((info.public, info.public_key.as_ref()), (None, None));
    assert_eq!(info.public_binding, None);
    assert_eq!(info.mismatched_public.len(), 2);
    assert!(info.mismatched_public.contains(&planted));
    assert!(matches!(
        &info.public_key_problem,
        Some(PublicKeyProblem::Conflict(_))
    ));
    let error = info.require_public_key().unwrap_err();
    println!("{error}");
    assert!(
        matches!(&error, Error::PublicKeyMismatch { key, .. } if key.contains(label)),
        "{error:?}"
    );
    // hsm-jose cannot publish a public key for it: the same typed error.
    let loaded = hsm_jose::HsmJwk::from_label(&pool, label).unwrap_err();
    assert!(
        matches!(
            loaded.hsm(),
            Some(Error::PublicKeyMismatch { key, .. }) if key.contains(label)
        ),
        "{loaded:?}"
    );
    // Listing shows it once, the same way.
    let listed: Vec<KeyInfo> = list_keys(&session)
        .unwrap()
        .into_iter()
        .filter(|k| k.label == label)
        .collect();
    assert_eq!(listed, vec![info]);
    session.destroy_object(planted).unwrap();
    let info = find_key(&session, &KeySelector::label(label)).unwrap();
    assert_eq!(info.public, generated.public);
    assert_eq!(info.public_binding, Some(Binding::Unproven));
    // A key that cannot sign cannot be proven by signing: left unproven, no error.
    let mut unproven = info.clone();
    prove_public_key(&session, &mut unproven).unwrap();
    assert_eq!(unproven.public_binding, Some(Binding::Unproven));
    delete_key(&session, &info).unwrap();
}

/// Objects anyone can create without login — a public key object, or a secret key object with
/// `CKA_PRIVATE` false — planted under a key's label (with another id) do not make a lookup by
/// label ambiguous: the login-protected key is chosen and the planted objects are reported.
#[test]
fn objects_planted_under_a_keys_label_never_make_it_ambiguous() {
    let _token = fixture::exclusive();
    let token = token();
    let pool = token.pool();
    let session = pool.session_rw().unwrap();
    let (x, y) = attacker_point(&session);
    let evil_n = attacker_modulus();
    let planted = without_login(&token, &pool, |s| {
        vec![
            plant_rsa(s, "rsa-2048", &[0x99], &evil_n),
            plant_ec(s, "hmac-256", &[0x98], &x, &y),
            s.create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::Label(b"rsa-2048".to_vec()),
                Attribute::Id(vec![0x97]),
                Attribute::Value(vec![0x42; 16]),
                Attribute::Encrypt(true),
            ])
            .unwrap(),
        ]
    });
    let rsa = find_key(&session, &KeySelector::label("rsa-2048")).unwrap();
    assert_eq!(rsa.id, hsm_jose_tests::fixture::fixture_key("rsa-2048").id);
    assert!(rsa.private.is_some() && rsa.protection.private);
    let mut duplicates = rsa.unprotected_duplicates.clone();
    duplicates.sort_by_key(|h| h.handle());
    let mut expected = vec![planted[0], planted[2]];
    expected.sort_by_key(|h| h.handle());
    assert_eq!(duplicates, expected);
    let hmac = find_key(&session, &KeySelector::label("hmac-256")).unwrap();
    assert!(hmac.secret.is_some());
    assert_eq!(hmac.unprotected_duplicates, vec![planted[1]]);
    // Selected exactly, the planted public key is a key like any other (nothing is hidden).
    let lone = find_key(&session, &KeySelector::label_and_id("rsa-2048", [0x99])).unwrap();
    assert_eq!(lone.public, Some(planted[0]));
    assert_eq!((lone.private, lone.public_binding), (None, None));
    destroy(&session, &planted);
}

/// Signing with a key whose binding the token verified works with the paired public object.
#[test]
fn the_fixture_keys_are_bound_as_documented() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    for key in list_keys(&session).unwrap() {
        let expected = match (key.kind, key.secret) {
            (_, Some(_)) => None,
            (hsm_core::KeyKind::Rsa { .. }, None) => Some(Binding::PrivateAttributes),
            // SoftHSM's EC and EdDSA private objects reveal no public value.
            _ => Some(Binding::Unproven),
        };
        assert_eq!(key.public_binding, expected, "{}", key.label);
        assert!(key.mismatched_public.is_empty(), "{}", key.label);
        assert!(!key.is_extractable(), "{}", key.label);
        assert_eq!(find_key(&session, &key.selector()).unwrap(), key);
    }
    let ec = find_key(&session, &KeySelector::label("ec-p256")).unwrap();
    let signature = session
        .sign(&Mechanism::Ecdsa, ec.private.unwrap(), &[1u8; 32])
        .unwrap();
    session
        .verify(
            &Mechanism::Ecdsa,
            ec.public.unwrap(),
            &[1u8; 32],
            &signature,
        )
        .unwrap();
}
