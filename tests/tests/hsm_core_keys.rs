//! hsm-core against SoftHSM: finding the fixture keys (by label, id and URI), describing them,
//! listing them, generating and deleting keys, flagging extractable keys, and reading EC points
//! in the forms tokens return them.

// Every function of this test crate is test code, helpers included; clippy.toml's
// allow-*-in-tests only covers #[test] functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hsm_core::cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use hsm_core::cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use hsm_core::cryptoki::mechanism::{Mechanism, MechanismType};
use hsm_core::cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use hsm_core::cryptoki::session::Session;
use hsm_core::key::{generate_edwards_key_pair_with_params, list_keys};
use hsm_core::{
    Capabilities, EdCurve, Error, KeyClass, KeyInfo, KeyKind, KeySelector, KeySpec, KeyUsage,
    Pkcs11Uri, PoolKey, PublicKeyMaterial, SecretSpec, SessionPool, delete_key, delete_key_by,
    find_key, generate_key_pair, generate_secret_key,
};
use hsm_jose_tests::fixture::{self, TokenFixture, expected_kind, fixture_key};
use hsm_jose_tests::{FIXTURE_KEYS, FixtureKey, FixtureSpec, suite_token};

fn token() -> TokenFixture {
    suite_token!()
}

fn expected_capabilities(key: &FixtureKey) -> Capabilities {
    let u = key.usage;
    Capabilities {
        sign: u.sign,
        verify: u.sign,
        encrypt: u.encrypt,
        decrypt: u.encrypt,
        wrap: u.wrap,
        unwrap: u.wrap,
        derive: u.derive,
    }
}

/// Everything a fixture key's description must say.
fn check_fixture(fixture: &FixtureKey, info: &KeyInfo) {
    let what = fixture.label;
    assert_eq!(info.label, fixture.label, "{what}");
    assert_eq!(info.id, fixture.id, "{what}");
    assert_eq!(info.kind, expected_kind(fixture), "{what}");
    assert_eq!(info.capabilities, expected_capabilities(fixture), "{what}");
    let p = info.protection;
    assert!(
        p.sensitive && !p.extractable && p.always_sensitive && p.never_extractable,
        "{what}: {p:?}"
    );
    match (fixture.spec, &info.public_key) {
        (FixtureSpec::Secret(_), None) => {
            assert!(
                info.secret.is_some() && info.private.is_none() && info.public.is_none(),
                "{what}"
            );
        }
        (FixtureSpec::Pair(KeySpec::Rsa(bits)), Some(PublicKeyMaterial::Rsa { n, e })) => {
            assert_eq!(e.as_slice(), &[0x01, 0x00, 0x01], "{what}: e = 65537");
            assert_eq!(n.len() * 8, bits, "{what}");
            assert!(n[0] & 0x80 != 0, "{what}: full-size modulus");
        }
        (FixtureSpec::Pair(KeySpec::Ec(curve)), Some(PublicKeyMaterial::Ec { curve: c, x, y })) => {
            assert_eq!(*c, curve, "{what}");
            assert_eq!(x.len(), curve.coordinate_size(), "{what}");
            assert_eq!(y.len(), curve.coordinate_size(), "{what}");
            assert!(
                x.iter().any(|&b| b != 0) && y.iter().any(|&b| b != 0),
                "{what}"
            );
        }
        (
            FixtureSpec::Pair(KeySpec::Ed25519 | KeySpec::Ed448) | FixtureSpec::Ed25519Printable,
            Some(PublicKeyMaterial::Edwards { curve, point }),
        ) => {
            assert_eq!(KeyKind::Edwards(*curve), info.kind, "{what}");
            assert_eq!(point.len(), curve.point_size(), "{what}");
        }
        (spec, material) => panic!("{what}: {spec:?} with public key {material:?}"),
    }
    if !matches!(fixture.spec, FixtureSpec::Secret(_)) {
        assert!(
            info.private.is_some() && info.public.is_some() && info.secret.is_none(),
            "{what}"
        );
    }
}

#[test]
fn every_fixture_key_is_found_by_label_by_id_and_by_both() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    for fixture in FIXTURE_KEYS {
        let by_label = find_key(&session, &KeySelector::label(fixture.label)).unwrap();
        check_fixture(fixture, &by_label);
        let by_id = find_key(&session, &KeySelector::id(fixture.id)).unwrap();
        assert_eq!(by_id, by_label, "{}", fixture.label);
        let by_both = find_key(
            &session,
            &KeySelector::label_and_id(fixture.label, fixture.id),
        )
        .unwrap();
        assert_eq!(by_both, by_label, "{}", fixture.label);
    }
}

#[test]
fn every_fixture_key_is_found_by_uri() {
    let _token = fixture::shared();
    let token = token();
    let pool = token.pool();
    let session = pool.session().unwrap();
    for fixture in FIXTURE_KEYS {
        let class = if matches!(fixture.spec, FixtureSpec::Secret(_)) {
            "secret-key"
        } else {
            "private"
        };
        let id: String = fixture.id.iter().map(|b| format!("%{b:02x}")).collect();
        let text = format!(
            "pkcs11:token={};object={};id={id};type={class}?module-path={}",
            token.label,
            fixture.label,
            token.module.display()
        );
        let uri: Pkcs11Uri = text.parse().unwrap();
        let info = find_key(&session, &KeySelector::from_uri(&uri).unwrap()).unwrap();
        check_fixture(fixture, &info);
    }
    // A pool and a key from one URI carrying the PIN.
    let uri: Pkcs11Uri = format!(
        "pkcs11:token={};object=ec-p384;type=private?module-path={}&pin-value={}",
        token.label,
        token.module.display(),
        token.pin.expose_secret()
    )
    .parse()
    .unwrap();
    let pool = SessionPool::from_uri(&uri).unwrap();
    let key = PoolKey::find(&pool, KeySelector::from_uri(&uri).unwrap()).unwrap();
    check_fixture(fixture_key("ec-p384"), &key.info());
}

#[test]
fn the_printable_string_eddsa_key_is_found_and_its_public_key_read() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    let info = find_key(&session, &KeySelector::label("ed25519-printable")).unwrap();
    check_fixture(fixture_key("ed25519-printable"), &info);
    // The token really holds the PrintableString form.
    let params = session
        .get_attributes(info.public.unwrap(), &[AttributeType::EcParams])
        .unwrap();
    assert_eq!(
        params,
        vec![Attribute::EcParams(b"\x13\x0cedwards25519".to_vec())]
    );
    // And the OID-form key holds the OID.
    let oid_key = find_key(&session, &KeySelector::label("ed25519")).unwrap();
    let params = session
        .get_attributes(oid_key.public.unwrap(), &[AttributeType::EcParams])
        .unwrap();
    assert_eq!(
        params,
        vec![Attribute::EcParams(vec![0x06, 0x03, 0x2b, 0x65, 0x70])]
    );
    // The key signs, and the signature verifies with its public key.
    let eddsa = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
    let signature = session
        .sign(&eddsa, info.private.unwrap(), b"printable")
        .unwrap();
    assert_eq!(signature.len(), 64);
    session
        .verify(&eddsa, info.public.unwrap(), b"printable", &signature)
        .unwrap();
}

#[test]
fn list_keys_groups_pairs() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    let keys = list_keys(&session).unwrap();
    let mut labels: Vec<&str> = keys.iter().map(|k| k.label.as_str()).collect();
    labels.retain(|l| FIXTURE_KEYS.iter().any(|f| f.label == *l));
    let mut expected: Vec<&str> = FIXTURE_KEYS.iter().map(|f| f.label).collect();
    expected.sort();
    assert_eq!(
        labels, expected,
        "each fixture key once, sorted, pairs grouped"
    );
    for key in keys
        .iter()
        .filter(|k| FIXTURE_KEYS.iter().any(|f| f.label == k.label))
    {
        check_fixture(fixture_key(&key.label), key);
    }
}

#[test]
fn lookups_that_fail_say_what_was_looked_for() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    let missing = find_key(&session, &KeySelector::label("no-such-key")).unwrap_err();
    println!("{missing}");
    assert!(
        matches!(&missing, Error::KeyNotFound { what } if what.contains("no-such-key")),
        "{missing:?}"
    );
    let wrong_id = find_key(
        &session,
        &KeySelector::label_and_id("rsa-2048", [0x02, 0x00]),
    )
    .unwrap_err();
    assert!(
        matches!(wrong_id, Error::KeyNotFound { .. }),
        "{wrong_id:?}"
    );
    // Class filters.
    let not_secret = find_key(
        &session,
        &KeySelector::label("rsa-2048").with_class(KeyClass::Secret),
    )
    .unwrap_err();
    assert!(
        matches!(not_secret, Error::KeyNotFound { .. }),
        "{not_secret:?}"
    );
    let public = find_key(
        &session,
        &KeySelector::label("rsa-2048").with_class(KeyClass::Public),
    )
    .unwrap();
    assert!(public.public.is_some());
    let secret = find_key(
        &session,
        &KeySelector::label("aes-256").with_class(KeyClass::Secret),
    )
    .unwrap();
    assert_eq!(secret.kind, KeyKind::Aes { bytes: 32 });
    let empty = find_key(&session, &KeySelector::default()).unwrap_err();
    assert!(matches!(empty, Error::Config { .. }), "{empty:?}");
}

/// Two login-protected session keys with one label: the lookup refuses to choose.
#[test]
fn two_keys_with_one_label_are_ambiguous() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    let make = |session: &Session, id: u8| -> ObjectHandle {
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    // Login-protected: objects anyone could create never make a key ambiguous.
                    Attribute::Private(true),
                    Attribute::Label(b"ambiguous".to_vec()),
                    Attribute::Id(vec![0xa0, id]),
                    Attribute::ValueLen(16.into()),
                    Attribute::Encrypt(true),
                ],
            )
            .unwrap()
    };
    let first = make(&session, 1);
    let second = make(&session, 2);
    let error = find_key(&session, &KeySelector::label("ambiguous")).unwrap_err();
    println!("{error}");
    assert!(
        matches!(error, Error::AmbiguousKey { count: 2, .. }),
        "{error:?}"
    );
    // The id tells them apart.
    let one = find_key(&session, &KeySelector::label_and_id("ambiguous", [0xa0, 2])).unwrap();
    assert_eq!(one.secret, Some(second));
    session.destroy_object(first).unwrap();
    session.destroy_object(second).unwrap();
}

/// The attributes that make a key hardened, read straight from the token.
fn assert_hardened(session: &Session, handle: ObjectHandle) {
    let attributes = session
        .get_attributes(
            handle,
            &[
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .unwrap();
    assert_eq!(
        attributes,
        vec![
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::AlwaysSensitive(true),
            Attribute::NeverExtractable(true),
        ]
    );
    // The secret value is not readable.
    assert!(
        session
            .get_attributes(handle, &[AttributeType::Value])
            .unwrap()
            .is_empty()
    );
}

const SIGN_ONLY: Capabilities = Capabilities {
    sign: true,
    verify: true,
    encrypt: false,
    decrypt: false,
    wrap: false,
    unwrap: false,
    derive: false,
};

/// Generation and deletion in one test: SoftHSM 2.6's file store is not safe for concurrent
/// writes to one token, so the suite writes from one test only.
#[test]
fn keys_are_generated_hardened_and_deleted() {
    let _token = fixture::exclusive();
    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    let pairs = [
        (
            KeySpec::Rsa(2048),
            KeyUsage::SIGN,
            KeyKind::Rsa { bits: 2048 },
            SIGN_ONLY,
        ),
        (
            KeySpec::Rsa(2048),
            KeyUsage::ENCRYPT | KeyUsage::WRAP,
            KeyKind::Rsa { bits: 2048 },
            Capabilities {
                encrypt: true,
                decrypt: true,
                wrap: true,
                unwrap: true,
                ..Capabilities::default()
            },
        ),
        (
            KeySpec::Ec(hsm_core::EcCurve::P256),
            KeyUsage::SIGN,
            KeyKind::Ec(hsm_core::EcCurve::P256),
            SIGN_ONLY,
        ),
        (
            KeySpec::Ec(hsm_core::EcCurve::P384),
            KeyUsage::DERIVE,
            KeyKind::Ec(hsm_core::EcCurve::P384),
            Capabilities {
                derive: true,
                ..Capabilities::default()
            },
        ),
        (
            KeySpec::Ed25519,
            KeyUsage::SIGN,
            KeyKind::Edwards(EdCurve::Ed25519),
            SIGN_ONLY,
        ),
        (
            KeySpec::Ed448,
            KeyUsage::SIGN,
            KeyKind::Edwards(EdCurve::Ed448),
            SIGN_ONLY,
        ),
    ];
    for (n, (spec, usage, kind, capabilities)) in pairs.into_iter().enumerate() {
        let label = format!("generated-{n}");
        let id = [0xe0, n as u8];
        let info = generate_key_pair(&session, spec, &label, &id, usage).unwrap();
        assert_eq!(
            (info.kind, info.capabilities),
            (kind, capabilities),
            "{spec:?} {usage:?}"
        );
        assert!(info.public_key.is_some(), "{spec:?}");
        assert_hardened(&session, info.private.unwrap());
        let public = session
            .get_attributes(info.public.unwrap(), &[AttributeType::Private])
            .unwrap();
        assert_eq!(
            public,
            vec![Attribute::Private(false)],
            "public keys are readable before login"
        );
        assert_eq!(
            find_key(&session, &KeySelector::label(&label)).unwrap(),
            info
        );
        delete_key(&session, &info).unwrap();
        assert!(matches!(
            find_key(&session, &KeySelector::id(id)),
            Err(Error::KeyNotFound { .. })
        ));
    }
    let secrets = [
        (
            SecretSpec::Aes(16),
            KeyUsage::WRAP,
            KeyKind::Aes { bytes: 16 },
        ),
        (
            SecretSpec::Aes(32),
            KeyUsage::ENCRYPT,
            KeyKind::Aes { bytes: 32 },
        ),
        (
            SecretSpec::Hmac(64),
            KeyUsage::SIGN,
            KeyKind::GenericSecret { bytes: 64 },
        ),
    ];
    for (n, (spec, usage, kind)) in secrets.into_iter().enumerate() {
        let label = format!("generated-secret-{n}");
        let info = generate_secret_key(&session, spec, &label, &[0xe1, n as u8], usage).unwrap();
        assert_eq!(info.kind, kind);
        let c = info.capabilities;
        assert_eq!((c.sign, c.verify), (usage.sign, usage.sign));
        assert_eq!((c.encrypt, c.decrypt), (usage.encrypt, usage.encrypt));
        assert_eq!(
            (c.wrap, c.unwrap, c.derive),
            (usage.wrap, usage.wrap, false)
        );
        assert_hardened(&session, info.secret.unwrap());
        let deleted = delete_key_by(&session, &KeySelector::label(&label)).unwrap();
        assert_eq!(deleted, info);
        assert!(matches!(
            find_key(&session, &KeySelector::label(&label)),
            Err(Error::KeyNotFound { .. })
        ));
    }

    // The low-level EdDSA helper with the PrintableString parameters, and Ed448's.
    let info = generate_edwards_key_pair_with_params(
        &session,
        EdCurve::Ed448.printable_ec_params(),
        "generated-ed448-printable",
        &[0xe2, 0],
        KeyUsage::SIGN,
    )
    .unwrap();
    assert_eq!(info.kind, KeyKind::Edwards(EdCurve::Ed448));
    assert!(
        matches!(&info.public_key, Some(PublicKeyMaterial::Edwards { point, .. }) if point.len() == 57)
    );
    delete_key(&session, &info).unwrap();

    // Refusals: weak or odd sizes, usages a key type cannot have, duplicates.
    let refused = [
        generate_key_pair(
            &session,
            KeySpec::Rsa(1024),
            "weak",
            &[0xe3, 0],
            KeyUsage::SIGN,
        ),
        generate_key_pair(
            &session,
            KeySpec::Ec(hsm_core::EcCurve::P256),
            "ec-enc",
            &[0xe3, 1],
            KeyUsage::ENCRYPT,
        ),
        generate_key_pair(
            &session,
            KeySpec::Ed25519,
            "ed-derive",
            &[0xe3, 2],
            KeyUsage::DERIVE,
        ),
        generate_key_pair(
            &session,
            KeySpec::Rsa(2048),
            "rsa-derive",
            &[0xe3, 3],
            KeyUsage::DERIVE,
        ),
        generate_key_pair(
            &session,
            KeySpec::Ed25519,
            "no-usage",
            &[0xe3, 4],
            KeyUsage::default(),
        ),
        generate_key_pair(
            &session,
            KeySpec::Ed25519,
            "ec-p256",
            &[0xe3, 5],
            KeyUsage::SIGN,
        ),
        generate_key_pair(
            &session,
            KeySpec::Ed25519,
            "fresh-label",
            &[0x02, 0x00],
            KeyUsage::SIGN,
        ),
        generate_secret_key(
            &session,
            SecretSpec::Aes(20),
            "aes-odd",
            &[0xe3, 6],
            KeyUsage::ENCRYPT,
        ),
        generate_secret_key(
            &session,
            SecretSpec::Hmac(32),
            "hmac-enc",
            &[0xe3, 7],
            KeyUsage::ENCRYPT,
        ),
    ];
    for result in refused {
        let error = result.unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
    }
    assert_eq!(
        list_keys(&session).unwrap().len(),
        FIXTURE_KEYS.len(),
        "nothing was left behind"
    );
}

#[test]
fn the_fixture_keys_work() {
    let _token = fixture::shared();
    let pool = token().pool();
    assert!(pool.supports(MechanismType::RSA_PKCS_OAEP) && pool.supports(MechanismType::EDDSA));
    let session = pool.session().unwrap();
    // RSA-OAEP (SHA-1) round trip with rsa-2048.
    let rsa = find_key(&session, &KeySelector::label("rsa-2048")).unwrap();
    let oaep = || {
        Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
            MechanismType::SHA1,
            PkcsMgfType::MGF1_SHA1,
            PkcsOaepSource::empty(),
        ))
    };
    let ciphertext = session
        .encrypt(&oaep(), rsa.public.unwrap(), b"key material")
        .unwrap();
    assert_eq!(
        session
            .decrypt(&oaep(), rsa.private.unwrap(), &ciphertext)
            .unwrap(),
        b"key material"
    );
    // ECDSA on every curve: a raw r||s of twice the coordinate size, verified by the token.
    for curve in fixture::EC_CURVES {
        let label = format!("ec-p{}", &curve.jwk_name()[2..]);
        let ec = find_key(&session, &KeySelector::label(&label)).unwrap();
        let digest = vec![7u8; curve.coordinate_size().min(64)];
        let signature = session
            .sign(&Mechanism::Ecdsa, ec.private.unwrap(), &digest)
            .unwrap();
        assert_eq!(signature.len(), 2 * curve.coordinate_size(), "{label}");
        session
            .verify(&Mechanism::Ecdsa, ec.public.unwrap(), &digest, &signature)
            .unwrap();
    }
    // HMAC-SHA256 with hmac-256.
    let hmac = find_key(&session, &KeySelector::label("hmac-256")).unwrap();
    let tag = session
        .sign(&Mechanism::Sha256Hmac, hmac.secret.unwrap(), b"data")
        .unwrap();
    assert_eq!(tag.len(), 32);
    session
        .verify(&Mechanism::Sha256Hmac, hmac.secret.unwrap(), b"data", &tag)
        .unwrap();
}

/// Issue 13 item 3: a key whose private or secret object is extractable is flagged on its
/// `KeyInfo`; the fixture keys are not.
#[test]
fn an_extractable_key_is_flagged() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    // Session objects (CKA_TOKEN false): nothing is written to the token's files.
    let secret = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::Label(b"extractable-aes".to_vec()),
                Attribute::Id(vec![0xb0, 1]),
                Attribute::ValueLen(16.into()),
                Attribute::Encrypt(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    let (public, private) = session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::Label(b"extractable-ec".to_vec()),
                Attribute::Id(vec![0xb0, 2]),
                Attribute::EcParams(hsm_core::EcCurve::P256.ec_params().to_vec()),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(false),
                Attribute::Label(b"extractable-ec".to_vec()),
                Attribute::Id(vec![0xb0, 2]),
                Attribute::Sign(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
            ],
        )
        .unwrap();
    for label in ["extractable-aes", "extractable-ec"] {
        let info = find_key(&session, &KeySelector::label(label)).unwrap();
        assert!(info.is_extractable(), "{label}");
        assert!(info.protection.extractable && !info.protection.never_extractable);
    }
    // Selected through its public object, it is the same key pair, flagged the same.
    let by_public = find_key(
        &session,
        &KeySelector::label("extractable-ec").with_class(KeyClass::Public),
    )
    .unwrap();
    assert!(
        by_public.is_extractable(),
        "the pair's private object is extractable"
    );
    for fixture in FIXTURE_KEYS {
        let info = find_key(&session, &KeySelector::label(fixture.label)).unwrap();
        assert!(!info.is_extractable(), "{}", fixture.label);
    }
    session.destroy_object(secret).unwrap();
    session.destroy_object(public).unwrap();
    session.destroy_object(private).unwrap();
}

/// What `list_keys` returns is enough to use a key: its handles, and a selector that finds
/// exactly it again (for `PoolKey` and for callers that keep a listed key).
#[test]
fn listed_keys_carry_handles_and_a_selector_that_finds_them_again() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    for key in list_keys(&session)
        .unwrap()
        .into_iter()
        .filter(|k| FIXTURE_KEYS.iter().any(|f| f.label == k.label))
    {
        let selector = key.selector();
        let expected_class = if key.secret.is_some() {
            KeyClass::Secret
        } else {
            KeyClass::Private
        };
        assert_eq!(selector.class(), Some(expected_class), "{}", key.label);
        assert_eq!(selector.label_value(), Some(key.label.as_str()));
        assert_eq!(selector.id_value(), Some(key.id.as_slice()));
        assert!(key.private_or_secret().is_some(), "{}", key.label);
        assert_eq!(find_key(&session, &selector).unwrap(), key);
        match key.require_public_key() {
            Ok(material) => assert_eq!(Some(material), key.public_key.as_ref()),
            Err(error) => {
                assert!(key.secret.is_some(), "{}: {error}", key.label);
                assert!(
                    matches!(&error, Error::InvalidPublicKey { key: k, .. } if k.contains(&key.label)),
                    "{error:?}"
                );
            }
        }
    }
}

/// Issue 12: EC points as tokens return them. tpm2-pkcs11's P-521 `CKA_EC_POINT` with the
/// one-byte length `85` is read; a point that is not valid is an `InvalidPublicKey` error that
/// says what is wrong, never "no public key".
#[test]
fn ec_points_as_tokens_return_them() {
    let _token = fixture::shared();
    let pool = token().pool();
    let session = pool.session().unwrap();
    let Some(PublicKeyMaterial::Ec { x, y, .. }) =
        find_key(&session, &KeySelector::label("ec-p521"))
            .unwrap()
            .public_key
    else {
        panic!("ec-p521 has no EC public key");
    };
    let public = |label: &str, point: Vec<u8>| -> ObjectHandle {
        session
            .create_object(&[
                Attribute::Class(hsm_core::cryptoki::object::ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(hsm_core::cryptoki::object::KeyType::EC),
                Attribute::Token(false),
                Attribute::Label(label.as_bytes().to_vec()),
                Attribute::Id(vec![0xb1]),
                Attribute::EcParams(hsm_core::EcCurve::P521.ec_params().to_vec()),
                Attribute::EcPoint(point),
                Attribute::Verify(true),
            ])
            .unwrap()
    };
    let mut tpm2 = vec![0x04, 0x85, 0x04];
    tpm2.extend(&x);
    tpm2.extend(&y);
    let mut raw = vec![0x04];
    raw.extend(&x);
    raw.extend(&y);
    let mut truncated = tpm2.clone();
    truncated.pop();
    let objects = [
        public("p521-tpm2", tpm2),
        public("p521-raw", raw),
        public("p521-truncated", truncated),
    ];
    for label in ["p521-tpm2", "p521-raw"] {
        let info = find_key(&session, &KeySelector::label(label)).unwrap();
        assert_eq!(
            info.public_key,
            Some(PublicKeyMaterial::Ec {
                curve: hsm_core::EcCurve::P521,
                x: x.clone(),
                y: y.clone()
            }),
            "{label}"
        );
        assert_eq!(info.public_key_problem, None);
    }
    let broken = find_key(&session, &KeySelector::label("p521-truncated")).unwrap();
    assert_eq!(broken.kind, KeyKind::Ec(hsm_core::EcCurve::P521));
    assert_eq!(broken.public_key, None);
    let error = broken.require_public_key().unwrap_err();
    println!("{error}");
    assert!(
        matches!(&error, Error::InvalidPublicKey { key, reason }
            if key.contains("p521-truncated") && reason.contains("P-521: 134 bytes")),
        "{error:?}"
    );
    // hsm-jose reports the same reason, not "the token does not reveal its public key".
    let loaded = hsm_jose::HsmJwk::from_label(&pool, "p521-truncated").unwrap_err();
    assert!(
        matches!(loaded.hsm(), Some(Error::InvalidPublicKey { .. })),
        "{loaded:?}"
    );
    for object in objects {
        session.destroy_object(object).unwrap();
    }
}
