//! hsm-jose against SoftHSM: loading HSM keys, exporting their public parts, refusing private
//! export, errors, algorithm misfits, key sets and rotation. Each test is one of the documented
//! examples of `docs/hsm-keys.md`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hsm_jose::jose_core::error::{AlgorithmError, KeyError};
use hsm_jose::jose_core::jwk::KeyOp;
use hsm_jose::jose_core::{
    Error as JoseError, JwkSet, JwsAlgorithm, KeyBackend, KeySet, SoftwareKey, jws,
};
use hsm_jose::{HsmJwk, HsmJwkSet, KeySelector, KidSource};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

#[test]
fn load_by_label_by_id_and_by_uri_with_kid_use_and_key_ops() {
    let _t = fixture::shared();
    let pool = token().pool();
    let by_label = HsmJwk::from_label(&pool, "rsa-2048").unwrap();
    let by_id = HsmJwk::from_id(&pool, &[0x01, 0x00]).unwrap();
    let uri = format!(
        "pkcs11:token={};object=rsa-2048;type=private",
        token().label
    );
    let by_uri = HsmJwk::from_uri(&pool, &uri).unwrap();
    assert_eq!(
        by_label.public_json().unwrap(),
        by_id.public_json().unwrap()
    );
    assert_eq!(
        by_label.public_json().unwrap(),
        by_uri.public_json().unwrap()
    );
    assert_eq!(by_label.label(), "rsa-2048");
    assert_eq!(by_label.id(), &[0x01, 0x00]);

    let key = HsmJwk::from_label(&pool, "ec-p256")
        .unwrap()
        .with_kid("ec-2026")
        .with_use("sig")
        .with_key_ops(&[KeyOp::Sign, KeyOp::Verify]);
    let public = key.public_value().unwrap();
    assert_eq!(public["kty"], "EC");
    assert_eq!(public["crv"], "P-256");
    assert_eq!(public["kid"], "ec-2026");
    assert_eq!(public["use"], "sig");
    // The published public key carries only what a public key does (issue 13, item 11)...
    assert_eq!(public["key_ops"], serde_json::json!(["verify"]));
    assert_eq!(key.kid(), Some("ec-2026"));
    // ...while the HSM key itself still signs.
    assert!(key.permits(KeyOp::Sign));
}

#[test]
fn public_export_as_value_and_json_and_private_export_refused() {
    let _t = fixture::shared();
    let pool = token().pool();
    let key = HsmJwk::from_label(&pool, "rsa-2048")
        .unwrap()
        .with_kid("rsa-1");
    let value = key.public_value().unwrap();
    assert_eq!(value["kty"], "RSA");
    assert_eq!(value["e"], "AQAB");
    assert_eq!(value["kid"], "rsa-1");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(value.get(private).is_none(), "{private}");
    }
    let json = key.public_json().unwrap();
    assert!(json.starts_with(r#"{"kty":"RSA","n":""#), "{json}");
    // The exported public key is a valid JWK that pure software can use.
    SoftwareKey::from_json(&json).unwrap();

    let err = key.private_json().unwrap_err();
    assert_eq!(
        err.to_string(),
        "key: private key cannot be exported from the HSM"
    );
    // Every key kind exports its public part; secret keys have none.
    for label in [
        "rsa-3072",
        "rsa-4096",
        "ec-p384",
        "ec-p521",
        "ed25519",
        "ed448",
        "ed25519-printable",
    ] {
        let k = HsmJwk::from_label(&pool, label).unwrap();
        let v = k.public_value().unwrap();
        assert!(v.get("d").is_none());
        assert_eq!(
            SoftwareKey::from_json(&v.to_string())
                .unwrap()
                .jwk()
                .thumbprint(),
            k.thumbprint().unwrap()
        );
    }
    let aes = HsmJwk::from_label(&pool, "aes-256").unwrap();
    assert!(matches!(
        aes.public_value(),
        Err(hsm_jose::Error::Jose(JoseError::Key(KeyError::NoPublicKey)))
    ));
}

#[test]
fn the_printable_string_eddsa_key_is_a_jose_key() {
    let _t = fixture::shared();
    let pool = token().pool();
    let key = HsmJwk::from_label(&pool, "ed25519-printable").unwrap();
    assert_eq!(key.public_value().unwrap()["crv"], "Ed25519");
    let token = jws::sign_compact(&key, JwsAlgorithm::EdDSA, b"printable", None).unwrap();
    let public = SoftwareKey::from_json(&key.public_json().unwrap()).unwrap();
    assert_eq!(
        jws::verify_compact(&token, &public, &[JwsAlgorithm::EdDSA])
            .unwrap()
            .payload(),
        b"printable"
    );
}

#[test]
fn a_missing_key_names_what_was_looked_for() {
    let _t = fixture::shared();
    let pool = token().pool();
    let err = HsmJwk::from_label(&pool, "no-such-key").unwrap_err();
    assert!(err.to_string().contains("no-such-key"), "{err}");
    assert!(
        matches!(err, hsm_jose::Error::KeyNotFound { .. }),
        "{err:?}"
    );
    assert!(
        matches!(
            err.hsm(),
            Some(hsm_jose::hsm_core::Error::KeyNotFound { .. })
        ),
        "{err:?}"
    );
    let err = HsmJwk::from_id(&pool, &[0xde, 0xad]).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("dead"), "{err}");
}

#[test]
fn an_algorithm_that_does_not_fit_the_key_fails_before_any_token_call() {
    let _t = fixture::shared();
    let pool = token().pool();
    let p384 = HsmJwk::from_label(&pool, "ec-p384").unwrap();
    let err = jws::sign_compact(&p384, JwsAlgorithm::ES256, b"x", None).unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Algorithm(AlgorithmError::KeyMismatch { .. })
        ),
        "{err:?}"
    );
    let ec = HsmJwk::from_label(&pool, "ec-p256").unwrap();
    let err = jws::sign_compact(&ec, JwsAlgorithm::RS256, b"x", None).unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Algorithm(AlgorithmError::KeyMismatch { .. })
        ),
        "{err:?}"
    );
    // A key restricted to encryption may not sign (PS256 "without sign capability").
    let enc_only = HsmJwk::from_label(&pool, "rsa-2048")
        .unwrap()
        .with_use("enc");
    let err = jws::sign_compact(&enc_only, JwsAlgorithm::PS256, b"x", None).unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Key(KeyError::NotPermitted { op: "sign", .. })
        ),
        "{err:?}"
    );
    // An AES key in the token does not sign at all.
    let aes = HsmJwk::from_label(&pool, "aes-128").unwrap();
    assert!(matches!(
        jws::sign_compact(&aes, JwsAlgorithm::HS256, b"x", None),
        Err(JoseError::Algorithm(AlgorithmError::KeyMismatch { .. }))
    ));
}

#[test]
fn a_key_generated_for_decryption_only_refuses_to_sign() {
    // Creates and deletes a key: not while another test lists the token.
    let _t = fixture::exclusive();
    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    let info = hsm_jose::hsm_core::generate_key_pair(
        &session,
        hsm_jose::hsm_core::KeySpec::Rsa(2048),
        "decrypt-only",
        &[0x7e, 0x01],
        hsm_jose::hsm_core::KeyUsage::ENCRYPT,
    )
    .unwrap();
    drop(session);
    assert!(!info.capabilities.sign);
    let key = HsmJwk::from_label(&pool, "decrypt-only").unwrap();
    let err = jws::sign_compact(&key, JwsAlgorithm::PS256, b"x", None).unwrap_err();
    assert!(
        matches!(
            err,
            JoseError::Key(KeyError::NotPermitted { op: "sign", .. })
        ),
        "{err:?}"
    );
    let session = pool.session_rw().unwrap();
    hsm_jose::hsm_core::delete_key(&session, &info).unwrap();
}

#[test]
fn hsm_keys_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<HsmJwk>();
    assert_send_sync::<HsmJwkSet>();
}

#[test]
fn a_set_holds_keys_by_kid_and_publishes_the_public_jwks() {
    let _t = fixture::shared();
    let pool = token().pool();
    let mut set = HsmJwkSet::new();
    set.add_key(
        HsmJwk::from_label(&pool, "rsa-2048")
            .unwrap()
            .with_kid("rsa")
            .with_use("sig"),
    )
    .unwrap();
    set.add_key(
        HsmJwk::from_label(&pool, "ec-p256")
            .unwrap()
            .with_kid("ec")
            .with_use("sig"),
    )
    .unwrap();
    set.add_key(HsmJwk::from_label(&pool, "ed25519").unwrap().with_kid("ed"))
        .unwrap();
    let dup = set.add_key(HsmJwk::from_label(&pool, "ec-p384").unwrap().with_kid("ec"));
    assert!(
        matches!(
            &dup,
            Err(hsm_jose::Error::Jose(JoseError::Key(KeyError::DuplicateKid(kid)))) if kid == "ec"
        ),
        "duplicate kid: {dup:?}"
    );
    assert_eq!(set.len(), 3);
    assert!(set.get_key("nope").is_none());
    assert_eq!(set.get_key("ec").unwrap().label(), "ec-p256");
    let kids: Vec<&str> = set.iter().filter_map(|k| k.kid()).collect();
    assert_eq!(kids, ["rsa", "ec", "ed"]);

    let jwks = set.jwks_json();
    assert!(!jwks.contains("\"d\""));
    let published = JwkSet::from_json(&jwks).unwrap();
    assert_eq!(published.len(), 3);
    // A verifier with only the published JWKS verifies what the HSM signed.
    let verifier = KeySet::from_jwk_set(&published).unwrap();
    let token = jws::sign_compact(
        set.get_key("ed").unwrap(),
        JwsAlgorithm::EdDSA,
        b"by kid",
        None,
    )
    .unwrap();
    let v = jws::Verifier::new(&[JwsAlgorithm::EdDSA])
        .verify_with(&token, &verifier)
        .unwrap();
    assert_eq!(v.payload(), b"by kid");
}

#[test]
fn a_set_built_from_every_key_pair_on_the_token() {
    let _t = fixture::shared();
    let pool = token().pool();
    for source in [KidSource::Id, KidSource::Label, KidSource::Thumbprint] {
        let set = HsmJwkSet::from_token(&pool, source).unwrap();
        // Every fixture key pair is there; secret keys are not.
        for label in [
            "rsa-2048",
            "rsa-3072",
            "rsa-4096",
            "ec-p256",
            "ec-p384",
            "ec-p521",
            "ed25519",
            "ed448",
            "ed25519-printable",
        ] {
            let key = set
                .iter()
                .find(|k| k.label() == label)
                .unwrap_or_else(|| panic!("{label} missing"));
            let expected = match source {
                KidSource::Id => fixture::fixture_key(label)
                    .id
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
                KidSource::Label => label.to_owned(),
                _ => key.thumbprint().unwrap(),
            };
            assert_eq!(key.kid(), Some(expected.as_str()));
        }
        assert!(
            set.iter()
                .all(|k| !k.label().starts_with("aes-") && k.label() != "hmac-256")
        );
        // use/key_ops follow capabilities: signing-only keys are "sig".
        let ed = set.iter().find(|k| k.label() == "ed25519").unwrap();
        assert_eq!(ed.public_value().unwrap()["use"], "sig");
        let rsa = set.iter().find(|k| k.label() == "rsa-2048").unwrap();
        assert!(rsa.permits(KeyOp::Sign) && rsa.permits(KeyOp::UnwrapKey));
        let ops = rsa.public_value().unwrap()["key_ops"].clone();
        assert_eq!(ops, serde_json::json!(["verify", "encrypt", "wrapKey"]));
    }
}

/// Issue 13, item 11: `jwks` of a whole token publishes only operations a public key performs:
/// never `sign`, `decrypt` or `unwrapKey` (the private object's flags), and for EdDSA keys
/// nothing but `verify`.
#[test]
fn published_public_keys_carry_only_public_key_operations() {
    let _t = fixture::shared();
    let pool = token().pool();
    let set = HsmJwkSet::from_token(&pool, KidSource::Label).unwrap();
    let jwks: serde_json::Value = serde_json::from_str(&set.jwks_json()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        let kty = key["kty"].as_str().unwrap();
        let allowed: &[&str] = match kty {
            "RSA" => &["verify", "encrypt", "wrapKey"],
            "EC" => &["verify", "deriveKey", "deriveBits"],
            "OKP" => &["verify"],
            other => panic!("unexpected kty {other}"),
        };
        for op in key["key_ops"].as_array().unwrap() {
            let op = op.as_str().unwrap();
            assert!(allowed.contains(&op), "{} publishes {op}", key["kid"]);
        }
    }
    let ed = keys.iter().find(|k| k["kid"] == "ed25519").unwrap();
    assert_eq!(ed["key_ops"], serde_json::json!(["verify"]));
}

/// Issue 13, item 3: a private key the token lets out (`CKA_EXTRACTABLE=true`) is visible to
/// the program that loads it.
#[test]
fn an_extractable_private_key_is_flagged() {
    // Creates and deletes keys: not while another test lists the token.
    let _t = fixture::exclusive();
    let pool = token().pool();
    let fixture_key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
    assert!(!fixture_key.is_extractable());
    {
        use hsm_jose::hsm_core::cryptoki::mechanism::Mechanism;
        use hsm_jose::hsm_core::cryptoki::object::Attribute;
        let session = pool.session_rw().unwrap();
        let label = || Attribute::Label(b"extractable-ec".to_vec());
        let id = || Attribute::Id(vec![0x7e, 0x02]);
        let public = [
            Attribute::Token(true),
            Attribute::EcParams(hsm_jose::hsm_core::EcCurve::P256.ec_params().to_vec()),
            Attribute::Verify(true),
            label(),
            id(),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Sign(true),
            label(),
            id(),
        ];
        session
            .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
            .unwrap();
    }
    let key = HsmJwk::from_label(&pool, "extractable-ec").unwrap();
    assert!(key.is_extractable());
    let session = pool.session_rw().unwrap();
    hsm_jose::hsm_core::delete_key(&session, key.info()).unwrap();
}

#[test]
fn key_rotation_signs_with_the_new_key_and_old_tokens_still_verify() {
    let _t = fixture::shared();
    let pool = token().pool();
    let mut set = HsmJwkSet::new();
    set.add_key(
        HsmJwk::from_label(&pool, "rsa-2048")
            .unwrap()
            .with_kid("2025"),
    )
    .unwrap();
    let old_token = jws::sign_compact(
        set.get_key("2025").unwrap(),
        JwsAlgorithm::RS256,
        b"old",
        None,
    )
    .unwrap();

    // Rotation: the new key is RSA-3072 signing RS384.
    set.add_key(
        HsmJwk::from_label(&pool, "rsa-3072")
            .unwrap()
            .with_kid("2026"),
    )
    .unwrap();
    let new_token = jws::sign_compact(
        set.get_key("2026").unwrap(),
        JwsAlgorithm::RS384,
        b"new",
        None,
    )
    .unwrap();

    let verifier = jws::Verifier::new(&[JwsAlgorithm::RS256, JwsAlgorithm::RS384]);
    assert_eq!(
        verifier.verify_with(&old_token, &set).unwrap().payload(),
        b"old"
    );
    let v = verifier.verify_with(&new_token, &set).unwrap();
    assert_eq!(
        (v.payload(), v.kid(), v.alg()),
        (&b"new"[..], Some("2026"), JwsAlgorithm::RS384)
    );
    // The same with only the published JWKS.
    let published = KeySet::from_jwk_set(&JwkSet::from_json(&set.jwks_json()).unwrap()).unwrap();
    verifier.verify_with(&old_token, &published).unwrap();
    verifier.verify_with(&new_token, &published).unwrap();
    // Retiring the old key ends the verification of its tokens.
    set.remove_key("2025");
    assert!(matches!(
        verifier.verify_with(&old_token, &set),
        Err(JoseError::Key(KeyError::KidNotFound(kid))) if kid == "2025"
    ));
}

#[test]
fn keys_load_by_label_and_id_together() {
    let _t = fixture::shared();
    let pool = token().pool();
    let key = HsmJwk::load(&pool, &KeySelector::label_and_id("ec-p521", [0x02, 0x02])).unwrap();
    assert_eq!(key.public_value().unwrap()["crv"], "P-521");
    assert!(matches!(
        HsmJwk::load(&pool, &KeySelector::label_and_id("ec-p521", [0x02, 0x01])),
        Err(hsm_jose::Error::KeyNotFound { .. })
    ));
}

/// Generates a victim pair and an attacker pair with `spec` and `usage`, checks the victim
/// loads, replaces the victim's public object with the attacker's public key under the victim's
/// label and id (as anyone may, without logging in), and returns what loading the victim gives,
/// with the victim's own public key.
fn plant_and_load(
    spec: hsm_jose::hsm_core::KeySpec,
    usage: hsm_jose::hsm_core::KeyUsage,
    label: &str,
    id: &[u8],
) -> (
    hsm_jose::Result<HsmJwk>,
    Option<hsm_jose::hsm_core::PublicKeyMaterial>,
) {
    use hsm_jose::hsm_core::cryptoki::object::{Attribute, KeyType, ObjectClass};
    use hsm_jose::hsm_core::{PublicKeyMaterial, delete_key, delete_key_by, generate_key_pair};
    let pool = token().pool();
    let attacker_label = format!("{label}-attacker");
    let session = pool.session_rw().unwrap();
    // Objects a failed earlier run left under this id (a planted public key is not part of any
    // key, so deleting the key leaves it) would make generation refuse the id.
    for object in session.find_objects(&[Attribute::Id(id.to_vec())]).unwrap() {
        session.destroy_object(object).unwrap();
    }
    let victim = generate_key_pair(&session, spec, label, id, usage).unwrap();
    let attacker =
        generate_key_pair(&session, spec, &attacker_label, &[0x7e, 0xff], usage).unwrap();
    drop(session);
    // Before the attack the key loads (its self-test passes).
    HsmJwk::from_label(&pool, label).unwrap();

    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
    ];
    match attacker.public_key.clone().unwrap() {
        PublicKeyMaterial::Rsa { n, e } => template.extend([
            Attribute::KeyType(KeyType::RSA),
            Attribute::Modulus(n),
            Attribute::PublicExponent(e),
            Attribute::Verify(usage.sign),
            Attribute::Encrypt(usage.encrypt),
        ]),
        PublicKeyMaterial::Ec { curve, x, y } => {
            let mut point = vec![0x04, (1 + x.len() + y.len()) as u8, 0x04];
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            template.extend([
                Attribute::KeyType(KeyType::EC),
                Attribute::EcParams(curve.ec_params().to_vec()),
                Attribute::EcPoint(point),
                Attribute::Verify(usage.sign),
                Attribute::Derive(usage.derive),
            ]);
        }
        other => panic!("{other:?}"),
    }
    let session = pool.session_rw().unwrap();
    session.destroy_object(victim.public.unwrap()).unwrap();
    session.create_object(&template).unwrap();
    drop(session);

    let loaded = HsmJwk::from_label(&pool, label);
    let session = pool.session_rw().unwrap();
    delete_key_by(&session, &KeySelector::label(label)).unwrap();
    // The planted object is not part of the key (hsm-core sets it aside): remove it too.
    for object in session.find_objects(&[Attribute::Id(id.to_vec())]).unwrap() {
        session.destroy_object(object).unwrap();
    }
    delete_key(&session, &attacker).unwrap();
    (loaded, victim.public_key)
}

/// Issue 13, item 1: an attacker deletes the public object of a key pair and plants their own
/// public key under the same label and id (no login is needed to create public objects).
///
/// RSA: the private object carries its own modulus and exponent (SoftHSM does), so hsm-core
/// takes the public key from it and the planted object is never used: the key loads and
/// publishes the victim's modulus. EC: SoftHSM's private EC objects reveal no point, so the
/// binding is unproven and the one-time self-test at load refuses the key with a typed error
/// naming it, before its public key is published or used: a signature that does not verify
/// (signing keys), an ECDH agreement that differs (derive-only keys).
#[test]
fn a_planted_public_key_is_refused_by_the_self_test_at_load() {
    use hsm_jose::hsm_core::{EcCurve, KeySpec, KeyUsage, PublicKeyMaterial};
    // Creates and deletes keys: not while another test lists the token.
    let _t = fixture::exclusive();
    for (usage, label) in [
        (KeyUsage::SIGN, "bind-rsa-sign"),
        (KeyUsage::ENCRYPT, "bind-rsa-decrypt"),
    ] {
        let (loaded, victim) = plant_and_load(KeySpec::Rsa(2048), usage, label, &[0x7e, 0x0c]);
        let key = loaded.unwrap();
        let Some(PublicKeyMaterial::Rsa { n, .. }) = victim else {
            panic!("{label}: {victim:?}")
        };
        let published = key.public_value().unwrap();
        assert_eq!(
            published["n"].as_str().unwrap(),
            hsm_jose::jose_core::base64url::encode(&n),
            "{label}: the victim's own modulus is published"
        );
    }
    for (usage, label) in [
        (KeyUsage::SIGN, "bind-ec-sign"),
        (KeyUsage::DERIVE, "bind-ec-derive"),
    ] {
        let (loaded, _) = plant_and_load(KeySpec::Ec(EcCurve::P256), usage, label, &[0x7e, 0x0c]);
        let err = loaded.unwrap_err();
        assert!(
            matches!(&err, hsm_jose::Error::KeyBinding { label: l, .. } if l == label),
            "{label}: {err:?}"
        );
        assert!(err.to_string().contains(label), "{err}");
    }
}

/// Issue 12: keys that need the PIN for every use (`CKA_ALWAYS_AUTHENTICATE`; SoftHSM enforces
/// it). They sign through mechanisms the token runs in parts, with a context-specific login after
/// each `C_SignInit`, and the JWS verifies with the public JWK in software, twice in a row (the
/// login covers one operation). What needs a single-part call after the login (ES256 through
/// `CKM_ECDSA`, which is all SoftHSM 2.6 has for ECDSA; RSA-OAEP) is not offered and is refused
/// with `NotSupportedByDevice` naming what it would need, before any token call.
#[test]
fn a_key_that_needs_the_pin_for_every_use_signs_in_parts_and_refuses_the_rest() {
    use hsm_jose::hsm_core::cryptoki::mechanism::Mechanism;
    use hsm_jose::hsm_core::cryptoki::object::Attribute;
    use hsm_jose::jose_core::{Algorithm, ContentEncryption, KeyManagementAlgorithm, jwe};

    // Creates and deletes keys: not while another test lists the token.
    let _t = fixture::exclusive();
    let pool = token().pool();
    let make = |label: &str, id: u8, mechanism: &Mechanism<'_>, public_extra: Attribute| {
        let session = pool.session_rw().unwrap();
        let label = || Attribute::Label(label.as_bytes().to_vec());
        let id = || Attribute::Id(vec![0x7e, id]);
        session
            .generate_key_pair(
                mechanism,
                &[
                    Attribute::Token(true),
                    Attribute::Verify(true),
                    Attribute::Encrypt(true),
                    public_extra,
                    label(),
                    id(),
                ],
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                    Attribute::Decrypt(true),
                    Attribute::AlwaysAuthenticate(true),
                    label(),
                    id(),
                ],
            )
            .unwrap();
    };
    make(
        "every-use-rsa",
        0x10,
        &Mechanism::RsaPkcsKeyPairGen,
        Attribute::ModulusBits(2048.into()),
    );
    let ec_params = hsm_jose::hsm_core::EcCurve::P256.ec_params().to_vec();
    let session = pool.session_rw().unwrap();
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Verify(true),
                Attribute::EcParams(ec_params),
                Attribute::Label(b"every-use-ec".to_vec()),
                Attribute::Id(vec![0x7e, 0x11]),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Sign(true),
                Attribute::AlwaysAuthenticate(true),
                Attribute::Label(b"every-use-ec".to_vec()),
                Attribute::Id(vec![0x7e, 0x11]),
            ],
        )
        .unwrap();
    drop(session);

    let rsa = HsmJwk::from_label(&pool, "every-use-rsa").unwrap();
    assert!(rsa.needs_pin_for_every_use());
    assert!(
        !HsmJwk::from_label(&pool, "rsa-2048")
            .unwrap()
            .needs_pin_for_every_use()
    );
    let public = SoftwareKey::from_jwk(
        hsm_jose::jose_core::Jwk::from_json(&rsa.public_json().unwrap()).unwrap(),
    )
    .unwrap();
    for alg in [
        JwsAlgorithm::RS256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::RS512,
    ] {
        assert!(rsa.algorithms().contains(&Algorithm::Jws(alg)), "{alg}");
        for round in 0..2 {
            let token = jws::sign_compact(&rsa, alg, b"every use", None).unwrap();
            let verified = jws::verify_compact(&token, &public, &[alg])
                .unwrap_or_else(|e| panic!("{alg} round {round}: {e}"));
            assert_eq!(verified.payload(), b"every use");
        }
    }
    // RSA-OAEP decryption is single-part: not offered, refused before any token call.
    let oaep = KeyManagementAlgorithm::RsaOaep;
    assert!(!rsa.algorithms().contains(&Algorithm::Jwe(oaep)));
    let jwe = jwe::encrypt_compact(&public, oaep, ContentEncryption::A128Gcm, b"x", None).unwrap();
    let err = jwe::decrypt_compact(&jwe, &rsa, &[oaep], &[ContentEncryption::A128Gcm]).unwrap_err();
    assert!(
        matches!(
            &err,
            JoseError::Algorithm(AlgorithmError::NotSupportedByDevice { needs, .. })
                if needs.contains("CKA_ALWAYS_AUTHENTICATE")
        ),
        "{err:?}"
    );

    // SoftHSM 2.6 signs ECDSA only through CKM_ECDSA (one part): ES256 needs CKM_ECDSA_SHA256.
    let ec = HsmJwk::from_label(&pool, "every-use-ec").unwrap();
    assert!(ec.needs_pin_for_every_use());
    assert!(
        !ec.algorithms()
            .contains(&Algorithm::Jws(JwsAlgorithm::ES256))
    );
    let err = jws::sign_compact(&ec, JwsAlgorithm::ES256, b"x", None).unwrap_err();
    assert!(
        matches!(
            &err,
            JoseError::Algorithm(AlgorithmError::NotSupportedByDevice { needs, .. })
                if needs.starts_with("CKM_ECDSA_SHA256 ")
        ),
        "{err:?}"
    );
    // In hsm-jose's own error type: the typed refusal, naming the mechanism.
    let err = hsm_jose::Error::from(err);
    assert!(
        matches!(&err, hsm_jose::Error::NotSupported { needs, .. } if needs.contains("CKM_ECDSA_SHA256")),
        "{err:?}"
    );

    let session = pool.session_rw().unwrap();
    hsm_jose::hsm_core::delete_key(&session, rsa.info()).unwrap();
    hsm_jose::hsm_core::delete_key(&session, ec.info()).unwrap();
}
