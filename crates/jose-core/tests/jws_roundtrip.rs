//! Every JWS algorithm, in compact, flattened and general JSON form: signs, verifies, and
//! fails on a tampered byte in the protected header, the payload or the signature.

use std::sync::OnceLock;

use jose_core::error::{Error, Malformed};
use jose_core::jwk::EcCurve;
use jose_core::{Header, JwsAlgorithm, KeyBackend, SoftwareKey, base64url, jws};
use serde_json::Value;

fn key_for(alg: JwsAlgorithm) -> &'static SoftwareKey {
    static RSA: OnceLock<SoftwareKey> = OnceLock::new();
    static KEYS: OnceLock<Vec<SoftwareKey>> = OnceLock::new();
    use JwsAlgorithm as A;
    let keys = KEYS.get_or_init(|| {
        vec![
            SoftwareKey::generate_oct(64).unwrap(),
            SoftwareKey::generate_ec(EcCurve::P256).unwrap(),
            SoftwareKey::generate_ec(EcCurve::P384).unwrap(),
            SoftwareKey::generate_ec(EcCurve::P521).unwrap(),
            SoftwareKey::generate_ed25519().unwrap(),
        ]
    });
    match alg {
        A::HS256 | A::HS384 | A::HS512 => &keys[0],
        A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512 => {
            RSA.get_or_init(|| SoftwareKey::generate_rsa(2048).unwrap())
        }
        A::ES256 => &keys[1],
        A::ES384 => &keys[2],
        A::ES512 => &keys[3],
        _ => &keys[4],
    }
}

/// Flips one bit of the base64url part `text`, keeping it canonical base64url.
fn flip(text: &str) -> String {
    let mut bytes = base64url::decode("part", text).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    base64url::encode(&bytes)
}

fn forms(key: &SoftwareKey, alg: JwsAlgorithm, payload: &[u8]) -> Vec<(&'static str, String)> {
    let b = || {
        jws::JwsBuilder::new(payload)
            .add_signature(key, alg, Header::new().with("typ", "test"), None)
            .unwrap()
    };
    vec![
        ("compact", b().compact().unwrap()),
        ("flattened", b().flattened_json().unwrap()),
        ("general", b().general_json().unwrap()),
    ]
}

/// Applies `f` to one part of a token, whatever its serialization.
fn tamper(token: &str, part: usize, f: impl Fn(&str) -> String) -> String {
    if token.starts_with('{') {
        let mut v: Value = serde_json::from_str(token).unwrap();
        let sig = if v.get("signatures").is_some() {
            &mut v["signatures"][0]
        } else {
            &mut v
        };
        let name = ["protected", "payload", "signature"][part];
        let target = if name == "payload" { &mut v } else { sig };
        let old = target[name].as_str().unwrap().to_owned();
        target[name] = Value::String(f(&old));
        v.to_string()
    } else {
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[part] = f(&parts[part]);
        parts.join(".")
    }
}

fn ed448() -> &'static SoftwareKey {
    static ED448: OnceLock<SoftwareKey> = OnceLock::new();
    ED448.get_or_init(|| SoftwareKey::generate_ed448().unwrap())
}

fn check(alg: JwsAlgorithm, key: &SoftwareKey) {
    let payload = br#"{"sub":"alice","n":[1,2,3]}"#;
    for (form, token) in forms(key, alg, payload) {
        let v = jws::Verifier::new(&[alg])
            .verify(&token, key)
            .unwrap_or_else(|e| panic!("{alg} {form}: {e}"));
        assert_eq!(v.payload(), payload, "{alg} {form}");
        assert_eq!(v.alg(), alg);
        assert_eq!(v.protected().typ(), Some("test"));

        // A flipped bit in the payload or the signature: the opaque verification error.
        for part in [1, 2] {
            let bad = tamper(&token, part, flip);
            let err = jws::Verifier::new(&[alg]).verify(&bad, key).unwrap_err();
            assert!(
                matches!(err, Error::Verification),
                "{alg} {form} part {part}: {err:?}"
            );
        }
        // A flipped bit in the protected header: rejected (as malformed JSON, a changed
        // member, or a failed signature, depending on which bit).
        let bad = tamper(&token, 0, flip);
        assert!(
            jws::Verifier::new(&[alg])
                .verify(&bad, key)
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. }))),
            "{alg} {form} header"
        );
        // A header that still parses but differs: the signature check fails.
        let retyped = tamper(&token, 0, |_| {
            base64url::encode(format!(r#"{{"alg":"{alg}","typ":"tesu"}}"#).as_bytes())
        });
        assert!(
            matches!(
                jws::Verifier::new(&[alg]).verify(&retyped, key),
                Err(Error::Verification)
            ),
            "{alg} {form}"
        );
    }
}

macro_rules! round_trips {
    ($($name:ident => $alg:ident;)*) => {$(
        #[test]
        fn $name() {
            check(JwsAlgorithm::$alg, key_for(JwsAlgorithm::$alg));
        }
    )*};
}

round_trips! {
    hs256 => HS256;
    hs384 => HS384;
    hs512 => HS512;
    rs256 => RS256;
    rs384 => RS384;
    rs512 => RS512;
    ps256 => PS256;
    ps384 => PS384;
    ps512 => PS512;
    es256 => ES256;
    es384 => ES384;
    es512 => ES512;
    eddsa_ed25519 => EdDSA;
}

#[test]
fn eddsa_ed448() {
    check(JwsAlgorithm::EdDSA, ed448());
}

#[test]
fn signatures_have_the_exact_lengths_jose_prescribes() {
    use JwsAlgorithm as A;
    for (alg, len) in [
        (A::ES256, 64),
        (A::ES384, 96),
        (A::ES512, 132),
        (A::HS256, 32),
        (A::HS512, 64),
        (A::RS256, 256),
    ] {
        let sig = key_for(alg).sign(alg, b"x").unwrap();
        assert_eq!(sig.len(), len, "{alg}");
    }
    assert_eq!(ed448().sign(A::EdDSA, b"x").unwrap().len(), 114);
}

#[test]
fn a_signature_by_another_key_of_the_same_type_fails() {
    let other = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let token = jws::sign_compact(&other, JwsAlgorithm::ES256, b"x", None).unwrap();
    let err = jws::verify_compact(&token, key_for(JwsAlgorithm::ES256), &[JwsAlgorithm::ES256])
        .unwrap_err();
    assert!(matches!(err, Error::Verification));
}
