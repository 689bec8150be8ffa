//! RFC 7520 sections 3 (JWK) and 4 (JWS), the RFC 7797 unencoded-payload examples and the
//! RFC 8037 Ed25519 example: produced byte-for-byte where the algorithm is deterministic,
//! verified in every case.

use jose_core::error::{Error, KeyError, Malformed};
use jose_core::{Header, Jwk, JwkSet, JwsAlgorithm, KeyBackend, SoftwareKey, base64url, jws};
use serde_json::Value;

fn vector(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn key(v: &Value) -> SoftwareKey {
    SoftwareKey::from_jwk(Jwk::from_value(v).unwrap()).unwrap()
}

fn alg(v: &Value) -> JwsAlgorithm {
    v["input"]["alg"].as_str().unwrap().parse().unwrap()
}

fn payload(v: &Value) -> Vec<u8> {
    v["input"]["payload"].as_str().unwrap().as_bytes().to_vec()
}

fn unprotected(sig: &Value) -> Option<Header> {
    sig.get("unprotected")
        .map(|u| Header::from_map(u.as_object().unwrap().clone()).unwrap())
}

fn protected(sig: &Value) -> Header {
    sig.get("protected")
        .map(|p| Header::from_map(p.as_object().unwrap().clone()).unwrap())
        .unwrap_or_default()
}

/// Verifies the compact, general and flattened outputs of a vector with its key.
fn verify_all_outputs(v: &Value, k: &SoftwareKey) {
    let a = alg(v);
    let out = &v["output"];
    if let Some(c) = out.get("compact") {
        let got = jws::verify_compact(c.as_str().unwrap(), k, &[a]).unwrap();
        assert_eq!(got.payload(), payload(v));
    }
    for form in ["json", "json_flat"] {
        let token = out[form].to_string();
        let got = jws::verify_json(&token, k, &[a]).unwrap();
        assert_eq!(got.payload(), payload(v), "{form}");
    }
}

const RSA_PRIVATE: &str = include_str!("vectors/rfc7520/jwk/3_4.rsa_private_key.json");

#[test]
fn section_3_keys_parse_and_export_their_public_parts() {
    let pairs = [
        (
            include_str!("vectors/rfc7520/jwk/3_2.ec_private_key.json"),
            include_str!("vectors/rfc7520/jwk/3_1.ec_public_key.json"),
        ),
        (
            RSA_PRIVATE,
            include_str!("vectors/rfc7520/jwk/3_3.rsa_public_key.json"),
        ),
    ];
    for (private, public) in pairs {
        let private = Jwk::from_json(private).unwrap();
        assert!(private.is_private());
        // The public export is exactly the RFC's public key, members and all.
        assert_eq!(private.to_public_value().unwrap(), vector(public));
        // Private export round-trips every member.
        let again = Jwk::from_json(&private.to_private_json()).unwrap();
        assert_eq!(again, private);
        SoftwareKey::from_jwk(private).unwrap();
    }
    for sym in [
        include_str!("vectors/rfc7520/jwk/3_5.symmetric_key_mac_computation.json"),
        include_str!("vectors/rfc7520/jwk/3_6.symmetric_key_encryption.json"),
    ] {
        let k = Jwk::from_json(sym).unwrap();
        assert_eq!(vector(&k.to_private_json()), vector(sym));
        assert!(
            k.to_public_value()
                .is_err_and(|e| matches!(e, Error::Key(KeyError::NoPublicKey))),
            "a symmetric key has no public export"
        );
    }
}

#[test]
fn thumbprints_match_an_independent_computation() {
    // Values computed with Python's hashlib over the RFC 7638 canonical form; the Ed25519
    // value is the one RFC 8037 appendix A.3 gives.
    let cases = [
        (
            include_str!("vectors/rfc7520/jwk/3_1.ec_public_key.json").to_owned(),
            "dHri3SADZkrush5HU_50AoRhcKFryN-PI6jPBtPL55M",
        ),
        (
            include_str!("vectors/rfc7520/jwk/3_3.rsa_public_key.json").to_owned(),
            "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI",
        ),
        (
            include_str!("vectors/rfc7520/jwk/3_5.symmetric_key_mac_computation.json").to_owned(),
            "RtoRur_1Dir5M4wuOfqNkDYOf9O_4RJ-aHkTA75RLA8",
        ),
        (
            vector(include_str!("vectors/rfc7520/curve25519/jws.json"))["input"]["key"].to_string(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        ),
    ];
    for (jwk, expected) in cases {
        assert_eq!(Jwk::from_json(&jwk).unwrap().thumbprint(), expected);
    }
}

#[test]
fn section_4_1_rs256_is_reproduced_byte_for_byte() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_1.rsa_v15_signature.json"
    ));
    let k = key(&v["input"]["key"]);
    let token = jws::sign_compact(&k, alg(&v), &payload(&v), None).unwrap();
    assert_eq!(token, v["output"]["compact"].as_str().unwrap());
    verify_all_outputs(&v, &k);
}

#[test]
fn section_4_2_ps384_verifies_and_round_trips() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_2.rsa-pss_signature.json"
    ));
    let k = key(&v["input"]["key"]);
    verify_all_outputs(&v, &k);
    let token = jws::sign_compact(&k, alg(&v), &payload(&v), None).unwrap();
    // PSS is randomised: the header is the RFC's, the signature differs but verifies.
    assert!(token.starts_with(v["signing"]["protected_b64u"].as_str().unwrap()));
    assert_eq!(
        jws::verify_compact(&token, &k, &[JwsAlgorithm::PS384])
            .unwrap()
            .payload(),
        payload(&v)
    );
}

#[test]
fn section_4_3_es512_verifies_and_round_trips() {
    let v = vector(include_str!("vectors/rfc7520/jws/4_3.ecdsa_signature.json"));
    let k = key(&v["input"]["key"]);
    verify_all_outputs(&v, &k);
    let token = jws::sign_compact(&k, JwsAlgorithm::ES512, &payload(&v), None).unwrap();
    let sig = base64url::decode("sig", token.rsplit('.').next().unwrap()).unwrap();
    assert_eq!(sig.len(), 132, "P-521 r||s is 2 x 66 bytes");
    jws::verify_compact(&token, &k, &[JwsAlgorithm::ES512]).unwrap();
}

/// Rebuilds a JSON-serialized vector with the builder and compares the outputs.
fn reproduce_json(v: &Value, k: &SoftwareKey, detached: bool) {
    let sig = &v["signing"];
    let build = || {
        let mut b = jws::JwsBuilder::new(v["input"]["payload"].as_str().unwrap().as_bytes());
        if detached {
            b = b.detached();
        }
        b.add_signature(k, alg(v), protected(sig), unprotected(sig))
            .unwrap()
    };
    assert_eq!(build().general_value().unwrap(), v["output"]["json"]);
    assert_eq!(build().flattened_value().unwrap(), v["output"]["json_flat"]);
    if let Some(c) = v["output"].get("compact") {
        assert_eq!(build().compact().unwrap(), c.as_str().unwrap());
    }
}

#[test]
fn section_4_4_hs256_is_reproduced_in_every_serialization() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_4.hmac-sha2_integrity_protection.json"
    ));
    let k = key(&v["input"]["key"]);
    reproduce_json(&v, &k, false);
    verify_all_outputs(&v, &k);
}

#[test]
fn section_4_5_detached_content_is_reproduced_and_verified() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_5.signature_with_detached_content.json"
    ));
    let k = key(&v["input"]["key"]);
    reproduce_json(&v, &k, true);
    let p = payload(&v);
    let verifier = jws::Verifier::new(&[JwsAlgorithm::HS256]).detached_payload(&p);
    for token in [
        v["output"]["compact"].as_str().unwrap().to_owned(),
        v["output"]["json"].to_string(),
        v["output"]["json_flat"].to_string(),
    ] {
        assert_eq!(verifier.verify(&token, &k).unwrap().payload(), p);
        // Without the detached payload the token verifies over an empty payload: it fails.
        assert!(
            jws::Verifier::new(&[JwsAlgorithm::HS256])
                .verify(&token, &k)
                .is_err_and(|e| matches!(
                    e,
                    Error::Verification | Error::Malformed(Malformed::Payload(_))
                ))
        );
    }
    let wrong = jws::Verifier::new(&[JwsAlgorithm::HS256]).detached_payload(b"another payload");
    assert!(matches!(
        wrong.verify(v["output"]["compact"].as_str().unwrap(), &k),
        Err(Error::Verification)
    ));
}

#[test]
fn section_4_6_protected_and_unprotected_headers() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_6.protecting_specific_header_fields.json"
    ));
    let k = key(&v["input"]["key"]);
    reproduce_json(&v, &k, false);
    let got =
        jws::verify_json(&v["output"]["json"].to_string(), &k, &[JwsAlgorithm::HS256]).unwrap();
    assert_eq!(got.protected().alg(), Some("HS256"));
    assert_eq!(
        got.unprotected().unwrap().kid(),
        Some("018c0ae5-4d9b-471b-bfd6-eef314bc7037")
    );
    assert_eq!(got.kid(), Some("018c0ae5-4d9b-471b-bfd6-eef314bc7037"));
}

#[test]
fn section_4_7_content_only_protection() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_7.protecting_content_only.json"
    ));
    let k = key(&v["input"]["key"]);
    reproduce_json(&v, &k, false);
    verify_all_outputs(&v, &k);
}

#[test]
fn section_4_8_multiple_signatures_each_verify_with_their_own_key() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_8.multiple_signatures.json"
    ));
    let keys: Vec<SoftwareKey> = v["input"]["key"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    let algs: Vec<JwsAlgorithm> = v["input"]["alg"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().parse().unwrap())
        .collect();
    let token = v["output"]["json"].to_string();
    for (k, a) in keys.iter().zip(&algs) {
        let got = jws::verify_json(&token, k, &[*a]).unwrap();
        assert_eq!(got.alg(), *a);
        assert_eq!(got.payload(), payload(&v));
    }
    // The RSA and HMAC signatures are deterministic: rebuild all three and compare those two.
    let signing = v["signing"].as_array().unwrap();
    let mut b = jws::JwsBuilder::new(v["input"]["payload"].as_str().unwrap().as_bytes());
    for ((k, a), s) in keys.iter().zip(&algs).zip(signing) {
        b = b
            .add_signature(k, *a, protected(s), unprotected(s))
            .unwrap();
    }
    let rebuilt = b.general_value().unwrap();
    for i in [0, 2] {
        assert_eq!(
            rebuilt["signatures"][i],
            v["output"]["json"]["signatures"][i]
        );
    }
    for (k, a) in keys.iter().zip(&algs) {
        jws::verify_json(&rebuilt.to_string(), k, &[*a]).unwrap();
    }
}

#[test]
fn rfc7797_unencoded_payload_compact_is_reproduced_and_needs_opt_in() {
    let v = vector(include_str!(
        "vectors/rfc7520/rfc7797/hmac-sha2_b64_false.json"
    ));
    let k = key(&v["input"]["key"]);
    let p = payload(&v);
    let token = jws::JwsBuilder::new(&p)
        .unencoded()
        .add_signature(&k, JwsAlgorithm::HS256, Header::new(), None)
        .unwrap();
    let compact = token.compact().unwrap();
    assert_eq!(compact, v["output"]["compact"].as_str().unwrap());
    let ok = jws::Verifier::new(&[JwsAlgorithm::HS256]).allow_unencoded_payload();
    for t in [
        compact.clone(),
        v["output"]["json"].to_string(),
        v["output"]["json_flat"].to_string(),
    ] {
        assert_eq!(ok.verify(&t, &k).unwrap().payload(), p);
        // A caller that does not support RFC 7797 sees an unknown critical extension.
        let err = jws::Verifier::new(&[JwsAlgorithm::HS256])
            .verify(&t, &k)
            .unwrap_err();
        assert!(
            matches!(err, Error::Malformed(Malformed::Critical(ref n)) if n == "b64"),
            "{err:?}"
        );
    }
}

#[test]
fn rfc7797_section_4_2_without_crit_is_rejected() {
    // This file's protected header is {"alg":"HS256","b64":false} with no "crit": a token that
    // changes how the payload is read without marking it critical must be rejected (RFC 7797
    // section 6; security checklist item 8), even by a caller that supports b64:false.
    let v = vector(include_str!(
        "vectors/rfc7520/rfc7797/4.2.hmac-sha2_b64_false.json"
    ));
    let k = key(&v["input"]["key"]);
    let ok = jws::Verifier::new(&[JwsAlgorithm::HS256]).allow_unencoded_payload();
    for t in [
        v["output"]["json"].to_string(),
        v["output"]["json_flat"].to_string(),
    ] {
        let err = ok.verify(&t, &k).unwrap_err();
        assert!(
            matches!(err, Error::Malformed(Malformed::Header { ref member, .. }) if member == "b64"),
            "{err:?}"
        );
    }
}

#[test]
fn rfc8037_ed25519_is_reproduced_byte_for_byte() {
    let v = vector(include_str!("vectors/rfc7520/curve25519/jws.json"));
    let k = key(&v["input"]["key"]);
    let token = jws::sign_compact(&k, JwsAlgorithm::EdDSA, &payload(&v), None).unwrap();
    assert_eq!(token, v["output"]["compact"].as_str().unwrap());
    verify_all_outputs(&v, &k);
}

#[test]
fn a_jwk_set_selects_the_verifying_key_by_kid() {
    let v = vector(include_str!(
        "vectors/rfc7520/jws/4_8.multiple_signatures.json"
    ));
    // Two of the RFC's keys share a kid: the set reports it.
    let set = JwkSet::from_value(&serde_json::json!({ "keys": v["input"]["key"] })).unwrap();
    assert_eq!(set.duplicate_kids(), vec!["bilbo.baggins@hobbiton.example"]);
    assert!(
        set.get("bilbo.baggins@hobbiton.example")
            .is_err_and(|e| matches!(e, Error::Key(KeyError::DuplicateKid(_))))
    );
    let hmac = set.get("018c0ae5-4d9b-471b-bfd6-eef314bc7037").unwrap();
    assert_eq!(hmac.kty(), "oct");
    // The public export leaves out the symmetric key and every private member.
    let public = set.to_public_json();
    assert!(!public.contains("\"d\"") && !public.contains("\"k\""));
    assert_eq!(JwkSet::from_json(&public).unwrap().len(), 2);

    let rsa = key(&v["input"]["key"][0]);
    let token = jws::sign_compact(&rsa, JwsAlgorithm::RS256, b"by kid", None).unwrap();
    let mut ks = jose_core::KeySet::new();
    ks.push(rsa).unwrap();
    ks.push(
        SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)
            .unwrap()
            .with_kid("another"),
    )
    .unwrap();
    let verifier = jws::Verifier::new(&[JwsAlgorithm::RS256]);
    let got = verifier.verify_with(&token, &ks).unwrap();
    assert_eq!(got.payload(), b"by kid");
    // With the RFC's HMAC key as well, the set mixes kinds and is refused for verification.
    ks.push(key(&v["input"]["key"][2])).unwrap();
    assert!(matches!(
        verifier.verify_with(&token, &ks),
        Err(Error::Key(KeyError::MixedKeyKinds { .. }))
    ));
    assert!(
        matches!(
            ks.push(key(&v["input"]["key"][1])),
            Err(Error::Key(KeyError::DuplicateKid(kid))) if kid == "bilbo.baggins@hobbiton.example"
        ),
        "a second key with the same kid"
    );
}

#[test]
fn rsa_private_key_with_inconsistent_crt_values_is_rejected() {
    let mut v = vector(RSA_PRIVATE);
    let dp = v["dq"].clone();
    v["dp"] = dp;
    assert!(
        SoftwareKey::from_jwk(Jwk::from_value(&v).unwrap())
            .is_err_and(|e| matches!(e, Error::Key(KeyError::Inconsistent)))
    );
    let k = key(&vector(RSA_PRIVATE));
    assert_eq!(k.describe(), "RSA 2048");
}
