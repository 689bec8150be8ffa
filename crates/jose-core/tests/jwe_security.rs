//! The JWE items of the security checklist (items 15 to 22), one named test each, plus
//! no-panic checks on malformed input.
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod jwe_support;

use aes::cipher::{BlockModeEncrypt, KeyIvInit};
use hmac::{KeyInit, Mac};
use jose_core::error::{AlgorithmError, KeyError, Malformed};
use jose_core::jwk::{EcCurve, OkpCurve};
use jose_core::{
    ContentEncryption as Enc, Error, Header, Jwk, KeyBackend, KeyManagementAlgorithm as Alg,
    SoftwareKey, base64url, jwe,
};
use jwe_support::*;
use serde_json::{Value, json};

fn b64u(b: &[u8]) -> String {
    base64url::encode(b)
}

/// A compact `dir` JWE with A128CBC-HS256 built by hand from a chosen ciphertext, with a
/// correct MAC: to reach the padding check only an authentic ciphertext can.
fn cbc_token_with_valid_mac(cek: &[u8; 32], iv: &[u8; 16], ciphertext: &[u8]) -> String {
    let protected = b64u(br#"{"alg":"dir","enc":"A128CBC-HS256"}"#);
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&cek[..16]).unwrap();
    mac.update(protected.as_bytes());
    mac.update(iv);
    mac.update(ciphertext);
    mac.update(&((protected.len() as u64) * 8).to_be_bytes());
    let tag = mac.finalize().into_bytes();
    format!(
        "{protected}..{}.{}.{}",
        b64u(iv),
        b64u(ciphertext),
        b64u(&tag[..16])
    )
}

#[test]
fn security_15_cbc_mac_checked_before_padding() {
    let cek = [7u8; 32];
    let iv = [9u8; 16];
    let key = SoftwareKey::from_json(&format!(r#"{{"kty":"oct","k":"{}"}}"#, b64u(&cek))).unwrap();
    let open = |t: &str| jwe::decrypt_compact(t, &key, &[Alg::Dir], &[Enc::A128CbcHs256]);

    // An authentic ciphertext whose padding is invalid (last byte 0): the padding error...
    let mut block = [0x41u8; 16];
    block[15] = 0;
    let mut enc = cbc::Encryptor::<aes::Aes128>::new_from_slices(&cek[16..], &iv).unwrap();
    let mut bad_padding = block;
    enc.encrypt_blocks(std::slice::from_mut((&mut bad_padding).into()));
    let padding_error = open(&cbc_token_with_valid_mac(&cek, &iv, &bad_padding)).unwrap_err();
    // ...a control with valid padding decrypts...
    let mut good = [0x10u8; 16];
    good[..15].copy_from_slice(b"fifteen bytes!!");
    good[15] = 1;
    let mut good_ct = good;
    cbc::Encryptor::<aes::Aes128>::new_from_slices(&cek[16..], &iv)
        .unwrap()
        .encrypt_blocks(std::slice::from_mut((&mut good_ct).into()));
    assert_eq!(
        open(&cbc_token_with_valid_mac(&cek, &iv, &good_ct))
            .unwrap()
            .plaintext(),
        b"fifteen bytes!!"
    );
    // ...and a MAC error are one and the same error.
    let token = cbc_token_with_valid_mac(&cek, &iv, &good_ct);
    let mut t: Vec<&str> = token.split('.').collect();
    let flipped = b64u(&[0u8; 16]);
    t[4] = &flipped;
    let mac_error = open(&t.join(".")).unwrap_err();
    assert!(matches!(padding_error, Error::Decryption));
    assert!(matches!(mac_error, Error::Decryption));
    assert_eq!(padding_error.to_string(), mac_error.to_string());

    // A padding oracle probe: every value of the byte that steers the last block's padding,
    // with the MAC left as it was, gives the identical error.
    let real = jwe::encrypt_compact(&key, Alg::Dir, Enc::A128CbcHs256, &[0x33; 40], None).unwrap();
    let mut p: Vec<Vec<u8>> = real
        .split('.')
        .map(|s| base64url::decode("t", s).unwrap())
        .collect();
    let at = p[3].len() - 17;
    let original = p[3][at];
    let mut messages = std::collections::BTreeSet::new();
    for b in 0..=255u8 {
        if b == original {
            continue;
        }
        p[3][at] = b;
        let t: Vec<String> = p.iter().map(|x| b64u(x)).collect();
        let err = open(&t.join(".")).unwrap_err();
        assert!(matches!(err, Error::Decryption));
        messages.insert(err.to_string());
    }
    assert_eq!(messages.len(), 1);
}

#[test]
fn security_15_cbc_truncated_and_overlong_tags_rejected() {
    for enc in [Enc::A128CbcHs256, Enc::A192CbcHs384, Enc::A256CbcHs512] {
        let key = SoftwareKey::generate_oct(enc.key_len()).unwrap();
        let token = jwe::encrypt_compact(&key, Alg::Dir, enc, b"tag lengths", None).unwrap();
        let p: Vec<&str> = token.split('.').collect();
        let tag = base64url::decode("t", p[4]).unwrap();
        assert_eq!(tag.len(), enc.tag_len());
        // Truncations down to one byte (a "prefix" check would accept them), an extension,
        // and the full untruncated HMAC length.
        let mut variants: Vec<Vec<u8>> = (1..tag.len()).map(|n| tag[..n].to_vec()).collect();
        variants.push([tag.as_slice(), &[0]].concat());
        variants.push([tag.as_slice(), tag.as_slice()].concat());
        for v in variants {
            let t = format!("{}.{}.{}.{}.{}", p[0], p[1], p[2], p[3], b64u(&v));
            assert_decryption(jwe::decrypt_compact(&t, &key, &[Alg::Dir], &[enc]));
        }
    }
}

#[test]
fn security_16_rsa1_5_refused() {
    assert!(
        !Alg::ALL.iter().any(|a| a.as_str() == "RSA1_5"),
        "cannot be produced"
    );
    let v = vector("5.1");
    let spy = Spy::new(key(&v["input"]["key"]));
    let err = jwe::decrypt_compact(
        v["output"]["compact"].as_str().unwrap(),
        &spy,
        all_algs(),
        all_encs(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Algorithm(AlgorithmError::Refused(_))),
        "{err:?}"
    );
    // In a per-recipient header too.
    let err = jwe::decrypt_json(
        &v["output"]["json"].to_string(),
        &spy,
        all_algs(),
        all_encs(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Algorithm(AlgorithmError::Refused(_))),
        "{err:?}"
    );
    assert_eq!(spy.calls(), 0, "the key is never asked");
}

#[test]
fn security_17_rsa_oaep_failures_are_one_opaque_error() {
    let key = rsa_key();
    let other = SoftwareKey::generate_rsa(2048).unwrap();
    let good =
        jwe::encrypt_compact(&public(&key), Alg::RsaOaep256, Enc::A128Gcm, b"oaep", None).unwrap();
    let p: Vec<&str> = good.split('.').collect();
    let with_ek = |ek: &[u8]| format!("{}.{}.{}.{}.{}", p[0], b64u(ek), p[2], p[3], p[4]);
    let ek = base64url::decode("t", p[1]).unwrap();

    let mut flipped = ek.clone();
    flipped[100] ^= 0x80;
    // A valid OAEP ciphertext of a content key of the wrong length.
    let short_cek = public(&key)
        .wrap_key(Alg::RsaOaep256, &[1u8; 5])
        .unwrap()
        .encrypted_key;
    // A valid OAEP ciphertext under another key; the same under the other hash.
    let other_key = public(&other)
        .wrap_key(Alg::RsaOaep256, &[1u8; 16])
        .unwrap()
        .encrypted_key;
    let sha1 = public(&key)
        .wrap_key(Alg::RsaOaep, &[1u8; 16])
        .unwrap()
        .encrypted_key;
    let cases: Vec<Vec<u8>> = vec![
        flipped,
        short_cek,
        other_key,
        sha1,
        vec![0u8; 256],
        vec![0xFFu8; 256], // above the modulus
        ek[..255].to_vec(),
        [ek.as_slice(), &[0]].concat(),
        vec![1],
    ];
    let mut messages = std::collections::BTreeSet::new();
    for case in cases {
        let err = jwe::decrypt_compact(&with_ek(&case), &key, &[Alg::RsaOaep256], &[Enc::A128Gcm])
            .unwrap_err();
        assert!(matches!(err, Error::Decryption), "{err:?}");
        messages.insert(err.to_string());
    }
    assert_eq!(messages.len(), 1);
    // The same token decrypted with the wrong private key: the same error.
    assert_decryption(jwe::decrypt_compact(
        &good,
        &other,
        &[Alg::RsaOaep256],
        &[Enc::A128Gcm],
    ));
}

/// An ECDH-ES compact token to `recipient` with its `epk` replaced (the header re-encoded).
fn with_epk(recipient: &SoftwareKey, epk: Value) -> String {
    let token =
        jwe::encrypt_compact(&public(recipient), Alg::EcdhEs, Enc::A128Gcm, b"x", None).unwrap();
    let mut p: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut h: Value = serde_json::from_slice(&base64url::decode("t", &p[0]).unwrap()).unwrap();
    h["epk"] = epk;
    p[0] = b64u(h.to_string().as_bytes());
    p.join(".")
}

#[test]
fn security_18_ecdh_epk_off_curve_other_curve_or_mismatched_rejected() {
    let p256 = Spy::new(SoftwareKey::generate_ec(EcCurve::P256).unwrap());
    let open = |t: &str, k: &Spy| jwe::decrypt_compact(t, k, &[Alg::EcdhEs], &[Enc::A128Gcm]);
    let eph = Jwk::generate_ec(EcCurve::P256)
        .unwrap()
        .to_public_value()
        .unwrap();

    // Off the curve: y changed by one.
    let mut off = eph.clone();
    let mut y = base64url::decode("t", off["y"].as_str().unwrap()).unwrap();
    y[31] ^= 1;
    off["y"] = b64u(&y).into();
    let err = open(&with_epk(&p256.inner, off), &p256).unwrap_err();
    assert!(
        matches!(err, Error::Key(KeyError::PointNotOnCurve("P-256"))),
        "{err:?}"
    );

    // The point at "zero" and coordinates of the wrong length.
    let mut zero = eph.clone();
    zero["x"] = b64u(&[0; 32]).into();
    zero["y"] = b64u(&[0; 32]).into();
    assert!(matches!(
        open(&with_epk(&p256.inner, zero), &p256),
        Err(Error::Key(_))
    ));
    let mut short = eph.clone();
    short["x"] = b64u(&[1; 31]).into();
    assert!(matches!(
        open(&with_epk(&p256.inner, short), &p256),
        Err(Error::Key(_))
    ));

    // A valid point on another curve, another key type, a private key, no epk at all.
    let epk_error = |r: Result<jwe::Decrypted, Error>| {
        let err = r.unwrap_err();
        assert!(
            matches!(err, Error::Malformed(Malformed::Header { ref member, .. }) if member == "epk"),
            "{err:?}"
        );
    };
    let p384 = Jwk::generate_ec(EcCurve::P384)
        .unwrap()
        .to_public_value()
        .unwrap();
    epk_error(open(&with_epk(&p256.inner, p384), &p256));
    let x = Jwk::generate_okp(OkpCurve::X25519)
        .unwrap()
        .to_public_value()
        .unwrap();
    epk_error(open(&with_epk(&p256.inner, x), &p256));
    let private: Value =
        serde_json::from_str(&Jwk::generate_ec(EcCurve::P256).unwrap().to_private_json()).unwrap();
    epk_error(open(&with_epk(&p256.inner, private), &p256));
    let no_epk = {
        let t = with_epk(&p256.inner, Value::Null);
        let mut p: Vec<String> = t.split('.').map(str::to_owned).collect();
        let mut h: Value = serde_json::from_slice(&base64url::decode("t", &p[0]).unwrap()).unwrap();
        h.as_object_mut().unwrap().remove("epk");
        p[0] = b64u(h.to_string().as_bytes());
        p.join(".")
    };
    epk_error(open(&no_epk, &p256));
    assert_eq!(p256.calls(), 0, "no ECDH with an unchecked point");

    // X25519: a low-order point gives an all-zero secret and is refused.
    let xk = Spy::new(SoftwareKey::from_jwk(Jwk::generate_okp(OkpCurve::X25519).unwrap()).unwrap());
    let low = json!({"kty":"OKP","crv":"X25519","x": b64u(&[0u8; 32])});
    let err = open(&with_epk(&xk.inner, low), &xk).unwrap_err();
    assert!(
        matches!(err, Error::Key(KeyError::InvalidMember { member: "x", .. })),
        "{err:?}"
    );
    // And a sender refuses to encrypt to a low-order public key.
    let low_pub = SoftwareKey::from_json(&format!(
        r#"{{"kty":"OKP","crv":"X25519","x":"{}"}}"#,
        b64u(&[0u8; 32])
    ))
    .unwrap();
    assert!(
        jwe::encrypt_compact(&low_pub, Alg::EcdhEs, Enc::A128Gcm, b"x", None)
            .is_err_and(|e| matches!(e, Error::Key(KeyError::InvalidMember { member: "x", .. })))
    );
}

#[test]
fn security_19_zip_refused_up_front() {
    let spy = Spy::new(SoftwareKey::generate_oct(16).unwrap());
    let v = jwe::JweBuilder::new(Enc::A128Gcm)
        .add_recipient(&spy, Alg::A128KW, None)
        .unwrap()
        .encrypt(b"x")
        .unwrap()
        .flattened_value()
        .unwrap();
    let before = spy.calls(); // the wrap above
    let zip_err = |r: Result<jwe::Decrypted, Error>| {
        let err = r.unwrap_err();
        assert!(
            matches!(err, Error::Malformed(Malformed::Header { ref member, .. }) if member == "zip"),
            "{err:?}"
        );
    };
    // In the shared unprotected header and in the recipient's header.
    for place in ["unprotected", "header"] {
        let mut t = v.clone();
        t[place] = json!({"zip": "DEF"});
        zip_err(jwe::decrypt_json(
            &t.to_string(),
            &spy,
            &[Alg::A128KW],
            &[Enc::A128Gcm],
        ));
    }
    // In the protected header, even when nothing else would be accepted.
    let protected = b64u(br#"{"alg":"A128KW","enc":"A128GCM","zip":"DEF"}"#);
    zip_err(jwe::decrypt_compact(
        &format!("{protected}.AAAA.AAAA.AAAA.AAAA"),
        &spy,
        &[Alg::A128KW],
        &[Enc::A128Gcm],
    ));
    zip_err(jwe::decrypt_compact(
        &format!("{protected}.AAAA.AAAA.AAAA.AAAA"),
        &spy,
        &[Alg::Dir],
        &[Enc::A256Gcm],
    ));
    assert_eq!(spy.calls(), before, "the key is never asked");
    // The builder refuses to produce it in any header.
    for b in [
        jwe::JweBuilder::new(Enc::A128Gcm).protected(Header::new().with("zip", "DEF")),
        jwe::JweBuilder::new(Enc::A128Gcm).unprotected(Header::new().with("zip", "DEF")),
    ] {
        assert!(
            b.add_recipient(&spy, Alg::A128KW, None)
                .unwrap()
                .encrypt(b"x")
                .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { .. })))
        );
    }
    assert!(
        jwe::JweBuilder::new(Enc::A128Gcm)
            .add_recipient(&spy, Alg::A128KW, Some(Header::new().with("zip", "DEF")))
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Header { .. })))
    );
}

#[test]
fn security_20_pbes2_not_offered() {
    let spy = Spy::new(SoftwareKey::generate_oct(32).unwrap());
    for alg in [
        "PBES2-HS256+A128KW",
        "PBES2-HS384+A192KW",
        "PBES2-HS512+A256KW",
    ] {
        assert!(
            alg.parse::<Alg>()
                .is_err_and(|e| matches!(e, Error::Algorithm(AlgorithmError::Unknown(_))))
        );
        // An absurd iteration count costs nothing: the algorithm is unknown before any work.
        let h = b64u(
            format!(r#"{{"alg":"{alg}","enc":"A128GCM","p2s":"AAAAAAAAAAA","p2c":4000000000}}"#)
                .as_bytes(),
        );
        let start = std::time::Instant::now();
        let err = jwe::decrypt_compact(
            &format!("{h}.AAAA.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA"),
            &spy,
            all_algs(),
            all_encs(),
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::Algorithm(AlgorithmError::Unknown(_))),
            "{err:?}"
        );
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
    assert_eq!(spy.calls(), 0);
}

#[test]
fn security_21_encrypted_key_lengths_never_panic() {
    let rsa = rsa_key();
    let ec = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let keys: Vec<(SoftwareKey, Alg)> = vec![
        (
            SoftwareKey::from_jwk(rsa.jwk().clone()).unwrap(),
            Alg::RsaOaep,
        ),
        (SoftwareKey::generate_oct(16).unwrap(), Alg::A128KW),
        (SoftwareKey::generate_oct(32).unwrap(), Alg::A256GCMKW),
        (
            SoftwareKey::from_jwk(ec.jwk().clone()).unwrap(),
            Alg::EcdhEsA128KW,
        ),
        (SoftwareKey::generate_oct(16).unwrap(), Alg::Dir),
        (
            SoftwareKey::from_jwk(ec.jwk().clone()).unwrap(),
            Alg::EcdhEs,
        ),
    ];
    for (key, alg) in keys {
        let token =
            jwe::encrypt_compact(&sender(&key), alg, Enc::A128Gcm, b"lengths", None).unwrap();
        let p: Vec<&str> = token.split('.').collect();
        let with_ek = |ek: &[u8]| format!("{}.{}.{}.{}.{}", p[0], b64u(ek), p[2], p[3], p[4]);
        let open = |t: &str| jwe::decrypt_compact(t, &key, &[alg], &[Enc::A128Gcm]);
        if alg.has_empty_encrypted_key() {
            // A non-empty encrypted key with dir or ECDH-ES is an error.
            for ek in [vec![0u8], vec![0u8; 16], vec![0u8; 40]] {
                let err = open(&with_ek(&ek)).unwrap_err();
                assert!(
                    matches!(err, Error::Malformed(Malformed::Serialization(_))),
                    "{alg}: {err:?}"
                );
            }
        } else {
            let err = open(&with_ek(&[])).unwrap_err();
            assert!(
                matches!(err, Error::Malformed(Malformed::Empty("encrypted key"))),
                "{alg}: {err:?}"
            );
            for len in [1, 7, 8, 9, 15, 16, 23, 24, 25, 31, 33, 40, 255, 257, 1000] {
                assert_decryption(open(&with_ek(&vec![0x5Au8; len])));
            }
        }
        // IVs of the wrong length, empty and odd ciphertexts.
        for iv in [vec![], vec![0u8; 11], vec![0u8; 13], vec![0u8; 16]] {
            let t = format!("{}.{}.{}.{}.{}", p[0], p[1], b64u(&iv), p[3], p[4]);
            assert!(open(&t).is_err_and(|e| matches!(
                e,
                Error::Decryption | Error::Malformed(Malformed::Empty(_))
            )));
        }
        for ct in [vec![], vec![0u8; 1], vec![0u8; 17]] {
            let t = format!("{}.{}.{}.{}.{}", p[0], p[1], p[2], b64u(&ct), p[4]);
            assert_decryption(open(&t));
        }
    }
}

fn sender(k: &SoftwareKey) -> SoftwareKey {
    match k.jwk().to_public() {
        Ok(p) => SoftwareKey::from_jwk(p).unwrap(),
        Err(_) => SoftwareKey::from_jwk(k.jwk().clone()).unwrap(),
    }
}

#[test]
fn malformed_compact_and_json_never_panic() {
    let key = SoftwareKey::generate_oct(16).unwrap();
    let open =
        |t: &str| jwe::Decrypter::new(&[Alg::A128KW, Alg::Dir], &[Enc::A128Gcm]).decrypt(t, &key);
    let h = b64u(br#"{"alg":"A128KW","enc":"A128GCM"}"#);
    let inputs = [
        String::new(),
        ".".repeat(4),
        ".".repeat(100_000),
        format!("{h}...."),
        format!("{h}.AA.AA.AA"),
        format!("{h}.AA.AA.AA.AA.AA"),
        format!("{h}.!!.AA.AA.AA"),
        format!("{h}.AA=.AA.AA.AA"),
        "{}".into(),
        r#"{"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"recipients":[],"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"recipients":{},"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"recipients":[1],"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"recipients":[{}],"encrypted_key":"","iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"protected":"","iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"protected":5,"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"unprotected":[],"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"iv":"AA","iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"unprotected":{"alg":"A128KW","enc":"A128GCM"},"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        r#"{"unprotected":{"alg":"A128KW","enc":"A128GCM","epk":"x"},"iv":"AA","ciphertext":"","tag":"AA"}"#.into(),
        "[".repeat(10_000),
    ];
    for input in &inputs {
        assert!(
            open(input).is_err_and(|e| matches!(
                e,
                Error::Malformed(_) | Error::Algorithm(AlgorithmError::Missing(_))
            )),
            "{input:.80}"
        );
    }
    // The size limit comes first.
    let big = "A".repeat(jwe::DEFAULT_MAX_TOKEN_LEN + 1);
    assert!(matches!(
        open(&big),
        Err(Error::Malformed(Malformed::TooLarge { .. }))
    ));
    let small = jwe::Decrypter::new(&[Alg::A128KW], &[Enc::A128Gcm]).max_token_len(10);
    assert!(matches!(
        small.decrypt(&format!("{h}.AA.AA.AA.AA"), &key),
        Err(Error::Malformed(Malformed::TooLarge { .. }))
    ));
}

#[test]
fn security_22_key_misuse_across_algorithms() {
    let open =
        |t: &str, k: &dyn KeyBackend| jwe::Decrypter::new(all_algs(), all_encs()).decrypt(t, k);
    let mismatch = |r: Result<jwe::Decrypted, Error>| {
        let err = r.unwrap_err();
        assert!(
            matches!(err, Error::Algorithm(AlgorithmError::KeyMismatch { .. })),
            "{err:?}"
        );
    };
    // An A128KW-bound key does not serve A128GCMKW (same 16 bytes).
    let k = SoftwareKey::generate_oct(16).unwrap();
    let kw_only = SoftwareKey::from_jwk(k.jwk().clone().with_alg("A128KW")).unwrap();
    let gcm_token = jwe::encrypt_compact(&k, Alg::A128GCMKW, Enc::A128Gcm, b"x", None).unwrap();
    mismatch(open(&gcm_token, &kw_only));
    assert!(
        jwe::encrypt_compact(&kw_only, Alg::A128GCMKW, Enc::A128Gcm, b"x", None)
            .is_err_and(|e| matches!(e, Error::Algorithm(AlgorithmError::KeyMismatch { .. })))
    );
    // An RSA-OAEP-bound key (RFC 7520 5.2) does not serve RSA-OAEP-256.
    let oaep = key(&vector("5.2")["input"]["key"]);
    let t256 = jwe::encrypt_compact(&rsa_key(), Alg::RsaOaep256, Enc::A128Gcm, b"x", None).unwrap();
    mismatch(open(&t256, &oaep));
    // Key types: an EC key for RSA-OAEP, an RSA key for ECDH-ES, an Ed25519 key for ECDH.
    let ec = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    mismatch(open(&t256, &ec));
    let ecdh = jwe::encrypt_compact(&public(&ec), Alg::EcdhEs, Enc::A128Gcm, b"x", None).unwrap();
    mismatch(open(&ecdh, &oaep));
    let ed = SoftwareKey::generate_ed25519().unwrap();
    assert!(matches!(
        jwe::encrypt_compact(&ed, Alg::EcdhEs, Enc::A128Gcm, b"x", None),
        Err(Error::Algorithm(AlgorithmError::KeyMismatch { .. }))
    ));
    // A 16-byte dir key with a 32-byte enc; a 24-byte key with A128KW.
    let dir = jwe::encrypt_compact(
        &SoftwareKey::generate_oct(32).unwrap(),
        Alg::Dir,
        Enc::A256Gcm,
        b"x",
        None,
    )
    .unwrap();
    assert!(
        open(&dir, &SoftwareKey::generate_oct(16).unwrap())
            .is_err_and(|e| matches!(e, Error::Algorithm(AlgorithmError::KeyMismatch { .. })))
    );
    let kw = jwe::encrypt_compact(&k, Alg::A128KW, Enc::A128Gcm, b"x", None).unwrap();
    mismatch(open(&kw, &SoftwareKey::generate_oct(24).unwrap()));
    // A signing key (`use: sig`) may not decrypt.
    let sig_only = SoftwareKey::from_jwk(k.jwk().clone().with_use("sig")).unwrap();
    assert!(matches!(
        open(&kw, &sig_only),
        Err(Error::Key(KeyError::NotPermitted { .. }))
    ));
    // The caller's lists decide, not the token.
    let err = jwe::decrypt_compact(&kw, &k, &[Alg::A128GCMKW], &[Enc::A128Gcm]).unwrap_err();
    assert!(matches!(
        err,
        Error::Algorithm(AlgorithmError::NotAllowed(_))
    ));
    let err = jwe::decrypt_compact(&kw, &k, &[Alg::A128KW], &[Enc::A256Gcm]).unwrap_err();
    assert!(matches!(
        err,
        Error::Algorithm(AlgorithmError::NotAllowed(_))
    ));
    let err = jwe::decrypt_compact(&kw, &k, &[], &[]).unwrap_err();
    assert!(matches!(
        err,
        Error::Algorithm(AlgorithmError::NotAllowed(_))
    ));
}
