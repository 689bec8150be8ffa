//! One named test per JWS/JWK item of the security checklist (items 1-9, 13 and 14).

use jose_core::error::{AlgorithmError, Error, KeyError, Malformed};
use jose_core::jwk::{EcCurve, KeyOp};
use jose_core::{Header, Jwk, JwsAlgorithm, KeyBackend, SoftwareKey, base64url, jws};
use serde_json::json;

fn b64(s: &str) -> String {
    base64url::encode(s.as_bytes())
}

fn hmac_key() -> SoftwareKey {
    SoftwareKey::from_json(r#"{"kty":"oct","k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}"#)
        .unwrap()
}

/// A compact token with an arbitrary protected header, signed (correctly) by `key`.
fn forge(header: &str, payload: &str, key: &SoftwareKey, alg: JwsAlgorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = key.sign(alg, input.as_bytes()).unwrap();
    format!("{input}.{}", base64url::encode(&sig))
}

#[test]
fn security_01_alg_none_is_always_rejected() {
    let key = hmac_key();
    for name in ["none", "None", "NONE", "nOnE"] {
        let header = b64(&format!(r#"{{"alg":"{name}"}}"#));
        let payload = b64("{}");
        // Empty signature, as an unsecured JWS has.
        let token = format!("{header}.{payload}.");
        assert!(
            jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256])
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Empty("signature")))),
            "{name}"
        );
        // With a signature present, the algorithm itself is refused.
        let token = format!("{header}.{payload}.AAAA");
        let err = jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256]).unwrap_err();
        assert!(
            matches!(err, Error::Algorithm(AlgorithmError::Refused(_))),
            "{name}: {err:?}"
        );
    }
    // And no API can produce one: the name does not parse into an algorithm.
    assert!(
        "none"
            .parse::<JwsAlgorithm>()
            .is_err_and(|e| matches!(e, Error::Algorithm(AlgorithmError::Refused(_))))
    );
}

#[test]
fn security_02_hmac_with_the_public_key_as_secret_is_rejected() {
    let rsa = SoftwareKey::generate_rsa(2048).unwrap();
    let public = SoftwareKey::from_jwk(rsa.jwk().to_public().unwrap()).unwrap();
    // The attacker MACs with the verifier's public key bytes (JWK text, n bytes...).
    for secret in [
        public.jwk().to_public_json().unwrap().into_bytes(),
        b"-----BEGIN PUBLIC KEY-----".to_vec(),
    ] {
        let forged_key = SoftwareKey::from_json(&format!(
            r#"{{"kty":"oct","k":"{}"}}"#,
            base64url::encode(&secret)
        ))
        .unwrap();
        let token = forge(r#"{"alg":"HS256"}"#, "{}", &forged_key, JwsAlgorithm::HS256);
        // The verifier allows only RS256: HS256 is not allowed.
        let err = jws::verify_compact(&token, &public, &[JwsAlgorithm::RS256]).unwrap_err();
        assert!(
            matches!(err, Error::Algorithm(AlgorithmError::NotAllowed(_))),
            "{err:?}"
        );
        // Even a careless allow-list cannot make an RSA key serve HMAC.
        let err = jws::verify_compact(&token, &public, &[JwsAlgorithm::RS256, JwsAlgorithm::HS256])
            .unwrap_err();
        assert!(
            matches!(err, Error::Algorithm(AlgorithmError::KeyMismatch { .. })),
            "{err:?}"
        );
    }
}

#[test]
fn security_03_keys_carried_by_the_token_are_never_trusted() {
    let legit = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let attacker = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let attacker_jwk = attacker.jwk().to_public_value().unwrap();
    for (name, value) in [
        ("jwk", attacker_jwk.clone()),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ] {
        let header = Header::new().with(name, value);
        let token =
            jws::sign_compact(&attacker, JwsAlgorithm::ES256, b"{}", Some(&header)).unwrap();
        let err = jws::verify_compact(&token, &legit, &[JwsAlgorithm::ES256]).unwrap_err();
        assert!(matches!(err, Error::Verification), "{name}: {err:?}");
    }
}

#[test]
fn security_04_invalid_ecdsa_signatures_are_rejected() {
    let key = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let input = b"eyJhbGciOiJFUzI1NiJ9.e30";
    let good = key.sign(JwsAlgorithm::ES256, input).unwrap();
    assert!(
        key.verify(JwsAlgorithm::ES256, input, &good).is_ok(),
        "control"
    );
    // The P-256 group order n.
    let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let zero = [0u8; 32];
    let mut r_zero = zero.to_vec();
    r_zero.extend_from_slice(&good[32..]);
    let mut s_zero = good[..32].to_vec();
    s_zero.extend_from_slice(&zero);
    let mut both_zero = zero.to_vec();
    both_zero.extend_from_slice(&zero);
    let mut r_n = n.clone();
    r_n.extend_from_slice(&good[32..]);
    let mut s_n = good[..32].to_vec();
    s_n.extend_from_slice(&n);
    // DER encoding of the same (r, s): SEQUENCE { INTEGER r, INTEGER s }.
    let der = der_signature(&good[..32], &good[32..]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("r = 0", r_zero),
        ("s = 0", s_zero),
        ("r = s = 0 (psychic signature)", both_zero),
        ("r = n", r_n),
        ("s = n", s_n),
        ("DER", der),
        ("short", good[..63].to_vec()),
        ("long", [good.as_slice(), &[0]].concat()),
        ("empty", Vec::new()),
    ];
    for (what, sig) in cases {
        let err = key.verify(JwsAlgorithm::ES256, input, &sig).unwrap_err();
        assert!(matches!(err, Error::Verification), "{what}: {err:?}");
        let token = format!("eyJhbGciOiJFUzI1NiJ9.e30.{}", base64url::encode(&sig));
        assert!(
            jws::verify_compact(&token, &key, &[JwsAlgorithm::ES256]).is_err_and(|e| matches!(
                e,
                Error::Verification | Error::Malformed(Malformed::Empty("signature"))
            )),
            "{what}"
        );
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let mut v = x.to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

#[test]
fn security_05_malformed_compact_tokens_are_rejected_in_bounded_time() {
    let key = hmac_key();
    let good = jws::sign_compact(&key, JwsAlgorithm::HS256, b"{}", None).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let allowed = [JwsAlgorithm::HS256];
    let cases: Vec<(&str, String)> = vec![
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("four parts", format!("{good}.x")),
        (
            "five parts (a JWE)",
            format!("{}.{}.{}.{}.{}", parts[0], "", parts[1], parts[1], parts[2]),
        ),
        ("empty header", format!(".{}.{}", parts[1], parts[2])),
        ("empty signature", format!("{}.{}.", parts[0], parts[1])),
        (
            "non-base64url character",
            format!("{}.{}*.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "standard alphabet",
            format!("{}.{}.{}+", parts[0], parts[1], parts[2]),
        ),
        (
            "padding",
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "whitespace",
            format!("{} .{}.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "non-zero unused bits",
            format!("{}.{}.{}", parts[0], parts[1], non_canonical(parts[2])),
        ),
        ("empty", String::new()),
        ("only dots", "..".into()),
    ];
    for (what, token) in cases {
        assert!(
            jws::verify_compact(&token, &key, &allowed).is_err_and(|e| matches!(
                e,
                Error::Verification
                    | Error::Malformed(
                        Malformed::Base64(_) | Malformed::Empty(_) | Malformed::Parts { .. }
                    )
            )),
            "{what}"
        );
    }
    // Megabytes of dots: rejected at once without splitting them all into memory.
    let dots = ".".repeat(8 << 20);
    let err = jws::verify_compact(&dots, &key, &allowed).unwrap_err();
    assert!(matches!(err, Error::Malformed(Malformed::Parts { .. })));
    // Anything over the size limit is rejected before parsing.
    let huge = format!(
        "{}.{}.{}",
        parts[0],
        "A".repeat(jws::DEFAULT_MAX_TOKEN_LEN),
        parts[2]
    );
    let err = jws::verify_compact(&huge, &key, &allowed).unwrap_err();
    assert!(matches!(err, Error::Malformed(Malformed::TooLarge { .. })));
    assert!(
        jws::Verifier::new(&allowed)
            .max_token_len(10)
            .verify(&good, &key)
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::TooLarge { .. })))
    );
}

/// Changes the last character so that unused low bits become non-zero.
fn non_canonical(part: &str) -> String {
    // A 32-byte HS256 tag is 43 characters: the last one carries 2 unused bits.
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = part.chars().last().unwrap();
    let idx = alphabet.find(last).unwrap();
    let bumped = alphabet.chars().nth(idx | 1).unwrap();
    let bumped = if bumped == last {
        alphabet.chars().nth(idx | 2).unwrap()
    } else {
        bumped
    };
    format!("{}{}", &part[..part.len() - 1], bumped)
}

#[test]
fn security_06_duplicate_members_are_rejected() {
    let key = hmac_key();
    let token = forge(
        r#"{"alg":"HS256","alg":"none"}"#,
        "{}",
        &key,
        JwsAlgorithm::HS256,
    );
    let err = jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256]).unwrap_err();
    assert!(
        matches!(err, Error::Malformed(Malformed::DuplicateMember { .. })),
        "{err:?}"
    );
    let token = forge(
        r#"{"alg":"HS256","kid":"a","kid":"b"}"#,
        "{}",
        &key,
        JwsAlgorithm::HS256,
    );
    assert!(
        jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256])
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::DuplicateMember { .. })))
    );
    // In a JSON serialization document too.
    let good = jws::JwsBuilder::new(b"{}")
        .add_signature(&key, JwsAlgorithm::HS256, Header::new(), None)
        .unwrap();
    let doc = good.flattened_json().unwrap();
    let dup = doc.replacen("\"payload\"", "\"payload\":\"e30\",\"payload\"", 1);
    assert!(matches!(
        jws::verify_json(&dup, &key, &[JwsAlgorithm::HS256]),
        Err(Error::Malformed(Malformed::DuplicateMember { .. }))
    ));
    // And in keys.
    assert!(
        Jwk::from_json(r#"{"kty":"oct","k":"AAAA","k":"BBBB"}"#)
            .is_err_and(|e| matches!(e, Error::Key(KeyError::Json(_))))
    );
}

#[test]
fn security_07_crit_is_enforced() {
    let key = hmac_key();
    let allowed = [JwsAlgorithm::HS256];
    let verify = |header: &str| {
        jws::verify_compact(
            &forge(header, "{}", &key, JwsAlgorithm::HS256),
            &key,
            &allowed,
        )
    };
    // Unknown critical extension.
    let err = verify(r#"{"alg":"HS256","crit":["exp"],"exp":1}"#).unwrap_err();
    assert!(
        matches!(err, Error::Malformed(Malformed::Critical(_))),
        "{err:?}"
    );
    // ...which a caller that understands it accepts.
    let token = forge(
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        "{}",
        &key,
        JwsAlgorithm::HS256,
    );
    jws::Verifier::new(&allowed)
        .understand("exp")
        .verify(&token, &key)
        .unwrap();
    // Name absent from the header, empty list, registered name, wrong type.
    for header in [
        r#"{"alg":"HS256","crit":["exp"]}"#,
        r#"{"alg":"HS256","crit":[]}"#,
        r#"{"alg":"HS256","crit":["alg"]}"#,
        r#"{"alg":"HS256","crit":"exp","exp":1}"#,
    ] {
        assert!(verify(header).is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { member, .. }) if member == "crit")), "{header}");
    }
    // crit in an unprotected header.
    let doc = json!({
        "payload": "e30",
        "protected": b64(r#"{"alg":"HS256"}"#),
        "header": {"crit": ["exp"], "exp": 1},
        "signature": base64url::encode(&key.sign(JwsAlgorithm::HS256, format!("{}.e30", b64(r#"{"alg":"HS256"}"#)).as_bytes()).unwrap()),
    });
    assert!(
        jws::Verifier::new(&allowed)
            .understand("exp")
            .verify(&doc.to_string(), &key)
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { member, .. }) if member == "crit"))
    );
}

#[test]
fn security_08_b64_false_rules() {
    let key = hmac_key();
    let allowed = [JwsAlgorithm::HS256];
    let unencoded = jws::Verifier::new(&allowed).allow_unencoded_payload();
    // b64:false without crit, signed over the raw payload.
    let header = r#"{"alg":"HS256","b64":false}"#;
    let input = format!("{}.$.02", b64(header));
    let sig = base64url::encode(&key.sign(JwsAlgorithm::HS256, input.as_bytes()).unwrap());
    assert!(
        unencoded
            .verify(&format!("{input}.{sig}"), &key)
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Parts { .. })))
    );
    // b64:false in an unprotected header.
    let doc = json!({"payload": "$.02", "protected": b64(r#"{"alg":"HS256"}"#), "header": {"b64": false}, "signature": sig});
    assert!(unencoded.verify(&doc.to_string(), &key).is_err_and(
        |e| matches!(e, Error::Malformed(Malformed::Header { member, .. }) if member == "b64")
    ));
    // Both present: accepted when the caller supports RFC 7797, refused otherwise.
    let header = r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#;
    let input = format!("{}.$02", b64(header));
    let sig = base64url::encode(&key.sign(JwsAlgorithm::HS256, input.as_bytes()).unwrap());
    let token = format!("{input}.{sig}");
    assert_eq!(unencoded.verify(&token, &key).unwrap().payload(), b"$02");
    assert!(
        jws::verify_compact(&token, &key, &allowed)
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Critical(_))))
    );
    // The builder refuses a compact unencoded payload containing '.'.
    let b = jws::JwsBuilder::new(b"a.b")
        .unencoded()
        .add_signature(&key, JwsAlgorithm::HS256, Header::new(), None)
        .unwrap();
    assert!(
        b.compact()
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Payload(_))))
    );
}

#[test]
fn security_09_json_headers_cannot_override_and_only_the_verified_header_is_reported() {
    let key = hmac_key();
    let protected = b64(r#"{"alg":"HS256","kid":"real"}"#);
    let sig = base64url::encode(
        &key.sign(JwsAlgorithm::HS256, format!("{protected}.e30").as_bytes())
            .unwrap(),
    );
    // The unprotected header repeats a protected name (here to change the kid).
    let doc = json!({"payload": "e30", "protected": protected, "header": {"kid": "evil"}, "signature": sig});
    let err = jws::verify_json(&doc.to_string(), &key, &[JwsAlgorithm::HS256]).unwrap_err();
    assert!(
        matches!(err, Error::Malformed(Malformed::HeaderCollision(_))),
        "{err:?}"
    );
    // With two signatures, the result carries the header of the one that verified.
    let other = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let token = jws::JwsBuilder::new(b"{}")
        .add_signature(
            &other,
            JwsAlgorithm::ES256,
            Header::new().with("kid", "ec"),
            Some(Header::new().with("note", "ec")),
        )
        .unwrap()
        .add_signature(
            &key,
            JwsAlgorithm::HS256,
            Header::new().with("kid", "mac"),
            Some(Header::new().with("note", "mac")),
        )
        .unwrap()
        .general_json()
        .unwrap();
    let v = jws::verify_json(&token, &key, &[JwsAlgorithm::HS256, JwsAlgorithm::ES256]).unwrap();
    assert_eq!(v.kid(), Some("mac"));
    assert_eq!(v.unprotected().unwrap().get_str("note"), Some("mac"));
    // Mixing flattened and general members is malformed.
    let mut mixed: serde_json::Value = serde_json::from_str(&token).unwrap();
    mixed["signature"] = json!("AAAA");
    assert!(
        jws::verify_json(&mixed.to_string(), &key, &[JwsAlgorithm::HS256])
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Serialization(_))))
    );
}

#[test]
fn security_13_deeply_nested_json_is_a_clean_error() {
    let key = hmac_key();
    let deep = format!(
        r#"{{"alg":"HS256","x":{}1{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let token = forge(&deep, "{}", &key, JwsAlgorithm::HS256);
    assert!(
        jws::verify_compact(&token, &key, &[JwsAlgorithm::HS256])
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. })))
    );
    let doc = format!(
        r#"{{"payload":"e30","signatures":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(
        jws::verify_json(&doc, &key, &[JwsAlgorithm::HS256])
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Json { .. })))
    );
    assert!(
        Jwk::from_json(&format!(
            r#"{{"kty":"oct","k":{}}}"#,
            "{\"a\":".repeat(10_000)
        ))
        .is_err_and(|e| matches!(e, Error::Key(KeyError::Json(_))))
    );
}

#[test]
fn security_14_keys_are_bound_to_their_use() {
    // use:"enc" refuses to sign.
    let enc =
        SoftwareKey::from_jwk(Jwk::generate_ec(EcCurve::P256).unwrap().with_use("enc")).unwrap();
    let err = jws::sign_compact(&enc, JwsAlgorithm::ES256, b"x", None).unwrap_err();
    assert!(
        matches!(err, Error::Key(KeyError::NotPermitted { op: "sign", .. })),
        "{err:?}"
    );
    // key_ops without "sign" refuses to sign, but may verify.
    let verify_only = SoftwareKey::from_jwk(
        Jwk::generate_ec(EcCurve::P256)
            .unwrap()
            .with_key_ops(&[KeyOp::Verify]),
    )
    .unwrap();
    assert!(matches!(
        jws::sign_compact(&verify_only, JwsAlgorithm::ES256, b"x", None),
        Err(Error::Key(KeyError::NotPermitted { .. }))
    ));
    // A verifying key with use:"enc" refuses to verify.
    let signer = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let token = jws::sign_compact(&signer, JwsAlgorithm::ES256, b"x", None).unwrap();
    let enc_public =
        SoftwareKey::from_jwk(signer.jwk().to_public().unwrap().with_use("enc")).unwrap();
    assert!(matches!(
        jws::verify_compact(&token, &enc_public, &[JwsAlgorithm::ES256]),
        Err(Error::Key(KeyError::NotPermitted { op: "verify", .. }))
    ));
    // The `alg` member binds the key to one algorithm.
    let rsa = Jwk::generate_rsa(2048).unwrap().with_alg("PS256");
    let rsa = SoftwareKey::from_jwk(rsa).unwrap();
    assert!(matches!(
        jws::sign_compact(&rsa, JwsAlgorithm::RS256, b"x", None),
        Err(Error::Algorithm(AlgorithmError::KeyMismatch { .. }))
    ));
    jws::sign_compact(&rsa, JwsAlgorithm::PS256, b"x", None).unwrap();
    // Wrong curve for the algorithm.
    let p384 = SoftwareKey::generate_ec(EcCurve::P384).unwrap();
    assert!(matches!(
        jws::sign_compact(&p384, JwsAlgorithm::ES256, b"x", None),
        Err(Error::Algorithm(AlgorithmError::KeyMismatch { .. }))
    ));
    // use and key_ops that contradict each other.
    assert!(
        Jwk::from_json(r#"{"kty":"oct","k":"AAAA","use":"enc","key_ops":["sign"]}"#).is_err_and(
            |e| matches!(
                e,
                Error::Key(KeyError::InvalidMember {
                    member: "key_ops",
                    ..
                })
            )
        )
    );
}

#[test]
fn security_14_weak_and_invalid_keys_are_rejected_on_import() {
    // RSA below 2048 bits.
    let n1024 = base64url::encode(&[&[0xc0u8][..], &[0x11; 127]].concat());
    let err = Jwk::from_json(&format!(r#"{{"kty":"RSA","n":"{n1024}","e":"AQAB"}}"#)).unwrap_err();
    assert!(
        matches!(err, Error::Key(KeyError::RsaModulusTooSmall(1024))),
        "{err:?}"
    );
    // Exponent 1, and an even exponent.
    let n2048 = base64url::encode(&[&[0xc0u8][..], &[0x11; 255]].concat());
    for e in ["AQ", "Ag", ""] {
        let err =
            Jwk::from_json(&format!(r#"{{"kty":"RSA","n":"{n2048}","e":"{e}"}}"#)).unwrap_err();
        assert!(matches!(err, Error::Key(_)), "e={e}: {err:?}");
    }
    // A point not on the curve (the RFC 7520 P-521 key with y changed).
    let v: serde_json::Value =
        serde_json::from_str(include_str!("vectors/rfc7520/jwk/3_1.ec_public_key.json")).unwrap();
    let mut y = base64url::decode("y", v["y"].as_str().unwrap()).unwrap();
    y[10] ^= 1;
    let mut bad = v.clone();
    bad["y"] = json!(base64url::encode(&y));
    assert!(matches!(
        Jwk::from_value(&bad),
        Err(Error::Key(KeyError::PointNotOnCurve("P-521")))
    ));
    // Coordinates of the wrong length (a P-256 x on the P-521 curve).
    let mut short = v.clone();
    short["x"] = json!(base64url::encode(&[1u8; 32]));
    assert!(
        Jwk::from_value(&short)
            .is_err_and(|e| matches!(e, Error::Key(KeyError::InvalidMember { member: "x", .. })))
    );
    // The same coordinates claimed for another curve.
    let mut other = v;
    other["crv"] = json!("P-256");
    assert!(
        Jwk::from_value(&other)
            .is_err_and(|e| matches!(e, Error::Key(KeyError::InvalidMember { member: "x", .. })))
    );
    // Ed25519 with a wrong-length key, and an unknown curve.
    assert!(
        Jwk::from_json(r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#)
            .is_err_and(|e| matches!(e, Error::Key(KeyError::InvalidMember { member: "x", .. })))
    );
    assert!(matches!(
        Jwk::from_json(r#"{"kty":"EC","crv":"P-192","x":"AAAA","y":"AAAA"}"#),
        Err(Error::Key(KeyError::UnsupportedCurve(_)))
    ));
    // Private keys never leak through Debug.
    let k = Jwk::generate_ec(EcCurve::P256).unwrap();
    let d = serde_json::from_str::<serde_json::Value>(&k.to_private_json()).unwrap()["d"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!format!("{k:?}").contains(&d));
    assert!(!format!("{:?}", SoftwareKey::from_jwk(k).unwrap()).contains(&d));
}
