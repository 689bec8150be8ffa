//! RFC 7520 section 5 (JWE examples), section 6 (nesting) and the X25519 ECDH-ES example of
//! RFC 8037: every example whose algorithms jose-core offers decrypts, and is reproduced byte
//! for byte wherever the RFC fixes the randomness (CEK, IV, ephemeral key). RSA1_5, PBES2 and
//! `zip` examples are rejected cleanly.
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod jwe_support;

use jose_core::error::{AlgorithmError, Malformed};
use jose_core::{
    ContentEncryption, Error, Header, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm as Alg,
    WrappedKey, jwe, jws,
};
use jwe_support::*;
use serde_json::{Value, json};

fn decrypter() -> jwe::Decrypter {
    jwe::Decrypter::new(all_algs(), all_encs())
}

fn plaintext(v: &Value) -> &[u8] {
    v["input"]["plaintext"].as_str().unwrap().as_bytes()
}

/// Decrypts every serialization the example gives, with `key`.
fn decrypts_all(v: &Value, key: &dyn KeyBackend) {
    let out = &v["output"];
    let mut seen = 0;
    if let Some(c) = out["compact"].as_str() {
        let d = jwe::decrypt_compact(c, key, all_algs(), all_encs()).unwrap();
        assert_eq!(d.plaintext(), plaintext(v));
        seen += 1;
    }
    for form in ["json", "json_flat"] {
        if out[form].is_object() {
            let d = jwe::decrypt_json(&out[form].to_string(), key, all_algs(), all_encs()).unwrap();
            assert_eq!(d.plaintext(), plaintext(v), "{form}");
            // The auto-detecting decrypter agrees.
            assert_eq!(
                decrypter()
                    .decrypt(&out[form].to_string(), key)
                    .unwrap()
                    .plaintext(),
                plaintext(v)
            );
            seen += 1;
        }
    }
    assert!(seen >= 2, "the example has at least two serializations");
}

/// The RFC's general JSON, with the empty recipient it leaves out for `dir` and `ECDH-ES`.
fn general(v: &Value) -> Value {
    let mut g = v["output"]["json"].clone();
    if g.get("recipients").is_none() {
        g["recipients"] = json!([{}]);
    }
    g
}

fn enc_of(v: &Value) -> ContentEncryption {
    v["input"]["enc"].as_str().unwrap().parse().unwrap()
}

fn alg_of(v: &Value) -> Alg {
    v["input"]["alg"].as_str().unwrap().parse().unwrap()
}

/// Checks a reproduction against every serialization of the example.
fn same_as_rfc(v: &Value, made: &jwe::Jwe) {
    let out = &v["output"];
    if let Some(c) = out["compact"].as_str() {
        assert_eq!(made.compact().unwrap(), c);
    }
    assert_eq!(made.flattened_value().unwrap(), out["json_flat"]);
    assert_eq!(made.general_value(), general(v));
    // And byte for byte in the protected header, which the AAD covers.
    if let Some(p) = out["json_flat"]["protected"].as_str() {
        assert_eq!(
            made.flattened_value().unwrap()["protected"].as_str(),
            Some(p)
        );
    }
}

#[test]
fn rfc7520_5_1_rsa1_5_is_rejected() {
    let v = vector("5.1");
    let key = key(&v["input"]["key"]);
    for token in [
        v["output"]["compact"].as_str().unwrap().to_owned(),
        v["output"]["json"].to_string(),
        v["output"]["json_flat"].to_string(),
    ] {
        let err = decrypter().decrypt(&token, &key).unwrap_err();
        assert!(
            matches!(err, Error::Algorithm(AlgorithmError::Refused(ref a)) if a == "RSA1_5"),
            "{err:?}"
        );
    }
}

#[test]
fn rfc7520_5_2_rsa_oaep_a256gcm() {
    let v = vector("5.2");
    let key = key(&v["input"]["key"]);
    decrypts_all(&v, &key);
    // OAEP is randomized; the content part is reproduced from the RFC's CEK and IV.
    let g = &v["generated"];
    let made = jwe::JweBuilder::new(enc_of(&v))
        .add_recipient(&public(&key), alg_of(&v), None)
        .unwrap()
        .with_cek(&b64(&g["cek"]))
        .with_iv(&b64(&g["iv"]))
        .encrypt(plaintext(&v))
        .unwrap();
    let ours = made.flattened_value().unwrap();
    let rfc = &v["output"]["json_flat"];
    for member in ["protected", "iv", "ciphertext", "tag"] {
        assert_eq!(ours[member], rfc[member], "{member}");
    }
    let d = jwe::decrypt_compact(
        &made.compact().unwrap(),
        &key,
        &[Alg::RsaOaep],
        &[ContentEncryption::A256Gcm],
    )
    .unwrap();
    assert_eq!(d.plaintext(), plaintext(&v));
}

#[test]
fn rfc7520_5_3_pbes2_is_rejected() {
    let v = vector("5.3");
    let any_key = jose_core::SoftwareKey::generate_oct(32).unwrap();
    for token in [
        v["output"]["compact"].as_str().unwrap().to_owned(),
        v["output"]["json"].to_string(),
        v["output"]["json_flat"].to_string(),
    ] {
        let err = decrypter().decrypt(&token, &any_key).unwrap_err();
        assert!(
            matches!(err, Error::Algorithm(AlgorithmError::Unknown(ref a)) if a == "PBES2-HS512+A256KW"),
            "{err:?}"
        );
    }
}

/// Reproduces an ECDH-ES example from its ephemeral key.
fn ecdh_example(name: &str) {
    let v = vector(name);
    let key = key(&v["input"]["key"]);
    decrypts_all(&v, &key);
    let sender_view = public(&key);
    let mut b = jwe::JweBuilder::new(enc_of(&v))
        .add_recipient(&sender_view, alg_of(&v), None)
        .unwrap()
        .with_ephemeral_key(jwk(&v["encrypting_key"]["epk"]))
        .with_iv(&b64(&v["generated"]["iv"]));
    if let Some(cek) = v["generated"].get("cek") {
        b = b.with_cek(&b64(cek));
    }
    same_as_rfc(&v, &b.encrypt(plaintext(&v)).unwrap());
}

#[test]
fn rfc7520_5_4_ecdh_es_a128kw_a128gcm_p384() {
    ecdh_example("5.4");
}

#[test]
fn rfc7520_5_5_ecdh_es_a128cbc_hs256_p256() {
    ecdh_example("5.5");
    // The RFC also gives the agreed key, which is the CEK.
    let v = vector("5.5");
    assert_eq!(b64(&v["encrypting_key"]["cek"]).len(), 32);
}

#[test]
fn rfc7520_5_6_dir_a128gcm() {
    let v = vector("5.6");
    // The key is bound with "alg":"A128GCM": a key for direct encryption with A128GCM.
    let key = key(&v["input"]["key"]);
    decrypts_all(&v, &key);
    let made = jwe::JweBuilder::new(enc_of(&v))
        .add_recipient(&key, Alg::Dir, None)
        .unwrap()
        .with_iv(&b64(&v["generated"]["iv"]))
        .encrypt(plaintext(&v))
        .unwrap();
    same_as_rfc(&v, &made);
}

#[test]
fn rfc7520_5_7_a256gcmkw_a128cbc_hs256() {
    let v = vector("5.7");
    let key = key(&v["input"]["key"]);
    decrypts_all(&v, &key);
    // The key's own unwrap recovers the RFC's CEK from the RFC's iv and tag.
    let ek = &v["encrypting_key"];
    let header = Header::new()
        .with("iv", ek["iv"].clone())
        .with("tag", ek["tag"].clone());
    let cek = key
        .unwrap_key(
            Alg::A256GCMKW,
            &b64(&ek["encrypted_key"]),
            &header,
            enc_of(&v),
        )
        .unwrap();
    assert_eq!(cek.as_slice(), b64(&v["generated"]["cek"]).as_slice());
    // The key-wrap IV is random inside the key, so the wrapped key is given to reproduce
    // the rest (the wrap itself is checked against this example in the crate's unit tests).
    let mut members = serde_json::Map::new();
    members.insert("tag".into(), ek["tag"].clone());
    members.insert("iv".into(), ek["iv"].clone());
    let made = jwe::JweBuilder::new(enc_of(&v))
        .add_recipient(&key, alg_of(&v), None)
        .unwrap()
        .with_wrapped_key(WrappedKey {
            encrypted_key: b64(&ek["encrypted_key"]),
            header: members,
        })
        .with_cek(&b64(&v["generated"]["cek"]))
        .with_iv(&b64(&v["generated"]["iv"]))
        .encrypt(plaintext(&v))
        .unwrap();
    same_as_rfc(&v, &made);
}

/// Reproduces an A128KW example; `shape` sets the headers and `aad`.
fn a128kw_example(name: &str, shape: impl FnOnce(jwe::JweBuilder<'_>) -> jwe::JweBuilder<'_>) {
    let v = vector(name);
    let key = key(&v["input"]["key"]);
    decrypts_all(&v, &key);
    let b = shape(jwe::JweBuilder::new(enc_of(&v)));
    let made = b
        .add_recipient(&key, alg_of(&v), None)
        .unwrap()
        .with_cek(&b64(&v["generated"]["cek"]))
        .with_iv(&b64(&v["generated"]["iv"]))
        .encrypt(plaintext(&v))
        .unwrap();
    same_as_rfc(&v, &made);
}

#[test]
fn rfc7520_5_8_a128kw_a128gcm() {
    a128kw_example("5.8", |b| b);
}

#[test]
fn rfc7520_5_9_zip_is_rejected_up_front() {
    let v = vector("5.9");
    let key = key(&v["input"]["key"]);
    for token in [
        v["output"]["compact"].as_str().unwrap().to_owned(),
        v["output"]["json"].to_string(),
        v["output"]["json_flat"].to_string(),
    ] {
        let err = decrypter().decrypt(&token, &key).unwrap_err();
        assert!(
            matches!(err, Error::Malformed(Malformed::Header { ref member, .. }) if member == "zip"),
            "{err:?}"
        );
    }
    // Producing with `zip` is refused too.
    let err = jwe::encrypt_compact(
        &key,
        Alg::A128KW,
        ContentEncryption::A128Gcm,
        b"x",
        Some(&Header::new().with("zip", "DEF")),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Malformed(Malformed::Header { ref member, .. }) if member == "zip")
    );
}

#[test]
fn rfc7520_5_10_aad() {
    let v = vector("5.10");
    let aad = v["input"]["aad"].as_str().unwrap().as_bytes().to_vec();
    assert_eq!(
        jose_core::base64url::encode(&aad),
        v["generated"]["aad_b64u"].as_str().unwrap()
    );
    a128kw_example("5.10", |b| b.aad(&aad));
    let d = decrypter()
        .decrypt(&v["output"]["json"].to_string(), &key(&v["input"]["key"]))
        .unwrap();
    assert_eq!(d.aad(), Some(aad.as_slice()));
}

#[test]
fn rfc7520_5_11_protecting_specific_header_fields() {
    let v = vector("5.11");
    let unprotected = Header::from_map(
        v["encrypting_content"]["unprotected"]
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    a128kw_example("5.11", |b| b.unprotected(unprotected));
    let d = decrypter()
        .decrypt(&v["output"]["json"].to_string(), &key(&v["input"]["key"]))
        .unwrap();
    assert_eq!(d.protected().to_json(), r#"{"enc":"A128GCM"}"#);
    assert_eq!(d.unprotected().unwrap().alg(), Some("A128KW"));
}

#[test]
fn rfc7520_5_12_protecting_content_only() {
    let v = vector("5.12");
    let unprotected = Header::from_map(
        v["encrypting_content"]["unprotected"]
            .as_object()
            .unwrap()
            .clone(),
    )
    .unwrap();
    a128kw_example("5.12", |b| b.unprotected(unprotected));
    let d = decrypter()
        .decrypt(&v["output"]["json"].to_string(), &key(&v["input"]["key"]))
        .unwrap();
    assert!(d.protected().is_empty());
}

#[test]
fn rfc7520_5_13_multiple_recipients() {
    let v = vector("5.13");
    let keys = v["input"]["key"].as_array().unwrap();
    let (rsa, ec, oct) = (key(&keys[0]), key(&keys[1]), key(&keys[2]));
    let token = v["output"]["json"].to_string();
    // The ECDH-ES+A256KW and A256GCMKW recipients decrypt with their keys.
    for (k, alg) in [(&ec, Alg::EcdhEsA256KW), (&oct, Alg::A256GCMKW)] {
        let d = decrypter().decrypt(&token, k).unwrap();
        assert_eq!(d.plaintext(), plaintext(&v));
        assert_eq!(d.alg(), alg);
        assert_eq!(d.unprotected().unwrap().cty(), Some("text/plain"));
        assert_eq!(d.recipient_header().unwrap().alg(), Some(alg.as_str()));
    }
    // The RSA1_5 recipient is refused, not decrypted.
    let err = decrypter().decrypt(&token, &rsa).unwrap_err();
    assert!(
        matches!(err, Error::Algorithm(AlgorithmError::Refused(_))),
        "{err:?}"
    );

    // Reproduce the two offered recipients and the shared content.
    let ek = &v["encrypting_key"];
    let mut gcm_members = serde_json::Map::new();
    gcm_members.insert("tag".into(), ek[2]["tag"].clone());
    gcm_members.insert("iv".into(), ek[2]["iv"].clone());
    let made = jwe::JweBuilder::new(ContentEncryption::A128CbcHs256)
        .unprotected(Header::new().with("cty", "text/plain"))
        .add_recipient(&public(&ec), Alg::EcdhEsA256KW, None)
        .unwrap()
        .with_ephemeral_key(jwk(&ek[1]["epk"]))
        .add_recipient(&oct, Alg::A256GCMKW, None)
        .unwrap()
        .with_wrapped_key(WrappedKey {
            encrypted_key: b64(&ek[2]["encrypted_key"]),
            header: gcm_members,
        })
        .with_cek(&b64(&v["generated"]["cek"]))
        .with_iv(&b64(&v["generated"]["iv"]))
        .encrypt(plaintext(&v))
        .unwrap();
    let ours = made.general_value();
    let rfc = &v["output"]["json"];
    for member in ["protected", "unprotected", "iv", "ciphertext", "tag"] {
        assert_eq!(ours[member], rfc[member], "{member}");
    }
    assert_eq!(ours["recipients"][0], rfc["recipients"][1]);
    assert_eq!(ours["recipients"][1], rfc["recipients"][2]);
    // The ECDH recipient's encrypted key is byte for byte the RFC's.
    assert_eq!(
        ours["recipients"][0]["encrypted_key"],
        ek[1]["encrypted_key"]
    );
}

#[test]
fn rfc7520_6_nesting_signatures_and_encryption() {
    let v = vector("6");
    let signer = key(&v["sign"]["input"]["key"]);
    let recipient = key(&v["encrypt"]["input"]["key"]);
    let inner = v["sign"]["output"]["compact"].as_str().unwrap();
    assert_eq!(v["encrypt"]["input"]["plaintext"].as_str(), Some(inner));

    for token in [
        v["encrypt"]["output"]["compact"]
            .as_str()
            .unwrap()
            .to_owned(),
        v["encrypt"]["output"]["json"].to_string(),
        v["encrypt"]["output"]["json_flat"].to_string(),
    ] {
        let d = jwe::Decrypter::new(&[Alg::RsaOaep], &[ContentEncryption::A128Gcm])
            .decrypt(&token, &recipient)
            .unwrap();
        assert_eq!(d.header().cty(), Some("JWT"));
        assert_eq!(d.plaintext(), inner.as_bytes());
        let jws = std::str::from_utf8(d.plaintext()).unwrap();
        let verified = jws::verify_compact(jws, &public(&signer), &[JwsAlgorithm::PS256]).unwrap();
        assert_eq!(
            verified.payload(),
            v["sign"]["input"]["payload"].as_str().unwrap().as_bytes()
        );
    }

    // The outer JWE names no `kid`: encrypt to the public key without one.
    let mut jwk = recipient.jwk().to_public().unwrap();
    jwk.set_kid(None);
    let sender_view = jose_core::SoftwareKey::from_jwk(jwk).unwrap();
    let made = jwe::JweBuilder::new(ContentEncryption::A128Gcm)
        .protected(Header::new().with("cty", "JWT"))
        .add_recipient(&sender_view, Alg::RsaOaep, None)
        .unwrap()
        .with_cek(&b64(&v["encrypt"]["generated"]["cek"]))
        .with_iv(&b64(&v["encrypt"]["generated"]["iv"]))
        .encrypt(inner.as_bytes())
        .unwrap();
    let ours = made.flattened_value().unwrap();
    let rfc = &v["encrypt"]["output"]["json_flat"];
    for member in ["protected", "iv", "ciphertext", "tag"] {
        assert_eq!(ours[member], rfc[member], "{member}");
    }
}

#[test]
fn rfc8037_x25519_ecdh_es_a128gcm() {
    let v = vector("x25519");
    let key = key(&v["input"]["key"]);
    decrypts_all(&v, &key);
    // The example's ephemeral key does not match its header, so it cannot be reproduced;
    // a round trip on the same key stands in.
    let token = jwe::encrypt_compact(
        &public(&key),
        Alg::EcdhEs,
        ContentEncryption::A128Gcm,
        plaintext(&v),
        None,
    )
    .unwrap();
    let d =
        jwe::decrypt_compact(&token, &key, &[Alg::EcdhEs], &[ContentEncryption::A128Gcm]).unwrap();
    assert_eq!(d.plaintext(), plaintext(&v));
    assert_eq!(d.header().get("epk").unwrap()["crv"], "X25519");
}
