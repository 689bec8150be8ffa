//! Round trips for every `alg` x `enc` pair in the three serializations, several recipients,
//! the hybrid "public JWK encrypts, private backend decrypts" use, and tampering.
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod jwe_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use jose_core::error::{KeyError, Malformed};
use jose_core::jwk::{EcCurve, OkpCurve};
use jose_core::{
    Algorithm, ContentEncryption as Enc, Error, Header, Jwk, JwsAlgorithm, KeyBackend,
    KeyManagementAlgorithm as Alg, KeyOp, SecretBytes, SoftwareKey, WrappedKey, base64url, jwe,
};
use jwe_support::*;
use serde_json::Value;

/// Software keys for every algorithm, generated once.
struct Keys {
    rsa: SoftwareKey,
    ec: Vec<SoftwareKey>,
}

impl Keys {
    fn new() -> Self {
        let mut ec: Vec<SoftwareKey> = [EcCurve::P256, EcCurve::P384, EcCurve::P521]
            .into_iter()
            .map(|c| SoftwareKey::generate_ec(c).unwrap())
            .collect();
        ec.push(SoftwareKey::from_jwk(Jwk::generate_okp(OkpCurve::X25519).unwrap()).unwrap());
        Self { rsa: rsa_key(), ec }
    }

    /// The recipient keys for `alg` (private) with `enc`.
    fn for_alg(&self, alg: Alg, enc: Enc) -> Vec<SoftwareKey> {
        let oct = |n| vec![SoftwareKey::generate_oct(n).unwrap()];
        match alg {
            Alg::RsaOaep | Alg::RsaOaep256 => vec![self.rsa.clone_key()],
            Alg::Dir => oct(enc.key_len()),
            a if a.is_ecdh() => self
                .ec
                .iter()
                .map(|k| SoftwareKey::from_jwk(k.jwk().clone()).unwrap())
                .collect(),
            a => oct(a.aes_kw_key_len().or(a.aes_gcm_kw_key_len()).unwrap()),
        }
    }
}

/// The key a sender holds: the public JWK for asymmetric keys, the shared key otherwise.
fn sender_view(k: &SoftwareKey) -> SoftwareKey {
    match k.jwk().to_public() {
        Ok(p) => SoftwareKey::from_jwk(p).unwrap(),
        Err(_) => SoftwareKey::from_jwk(k.jwk().clone()).unwrap(),
    }
}

#[test]
fn every_alg_and_enc_in_every_serialization() {
    let keys = Keys::new();
    let mut pairs = 0;
    for &alg in Alg::ALL {
        for &enc in Enc::ALL {
            for key in keys.for_alg(alg, enc) {
                let sender = sender_view(&key);
                let pt = format!("{alg} with {enc} for {}", key.jwk().describe());
                let jwe = jwe::JweBuilder::new(enc)
                    .add_recipient(&sender, alg, None)
                    .unwrap()
                    .encrypt(pt.as_bytes())
                    .unwrap();
                let tokens = [
                    jwe.compact().unwrap(),
                    jwe.flattened_json().unwrap(),
                    jwe.general_json().unwrap(),
                ];
                for token in &tokens {
                    let d = jwe::Decrypter::new(&[alg], &[enc])
                        .decrypt(token, &key)
                        .unwrap();
                    assert_eq!(d.plaintext(), pt.as_bytes(), "{alg} {enc}");
                    assert_eq!((d.alg(), d.enc()), (alg, enc));
                }
                // A different key of the same kind fails opaquely (dir: a different
                // secret; asymmetric: a fresh key on the same curve).
                let other = match alg {
                    Alg::RsaOaep | Alg::RsaOaep256 => None, // covered in jwe_security
                    _ => Some(match key.jwk().describe().as_str() {
                        "OKP X25519" => {
                            SoftwareKey::from_jwk(Jwk::generate_okp(OkpCurve::X25519).unwrap())
                                .unwrap()
                        }
                        "EC P-256" => SoftwareKey::generate_ec(EcCurve::P256).unwrap(),
                        "EC P-384" => SoftwareKey::generate_ec(EcCurve::P384).unwrap(),
                        "EC P-521" => SoftwareKey::generate_ec(EcCurve::P521).unwrap(),
                        _ => SoftwareKey::generate_oct(
                            key.jwk().describe()[4..].parse::<usize>().unwrap() / 8,
                        )
                        .unwrap(),
                    }),
                };
                if let Some(other) = other {
                    assert_decryption(
                        jwe::Decrypter::new(&[alg], &[enc]).decrypt(&tokens[0], &other),
                    );
                }
                pairs += 1;
            }
        }
    }
    // 13 algorithms x 6 encs, the 4 ECDH ones on 4 curves each.
    assert_eq!(pairs, (13 - 4) * 6 + 4 * 4 * 6);
}

#[test]
fn plaintext_lengths_around_block_boundaries() {
    let key = SoftwareKey::generate_oct(32).unwrap();
    for &enc in Enc::ALL {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 1000] {
            let pt = vec![0xA5u8; len];
            let token = jwe::encrypt_compact(&key, Alg::A256KW, enc, &pt, None).unwrap();
            let d = jwe::decrypt_compact(&token, &key, &[Alg::A256KW], &[enc]).unwrap();
            assert_eq!(d.plaintext(), pt.as_slice(), "{enc} {len}");
        }
    }
}

#[test]
fn general_json_with_four_kinds_of_recipient_and_all_headers() {
    let rsa = rsa_key();
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("ec");
    let kw = SoftwareKey::generate_oct(24).unwrap().with_kid("kw");
    let gcm = SoftwareKey::generate_oct(16).unwrap().with_kid("gcm");
    let (rsa_pub, ec_pub) = (public(&rsa), public(&ec));
    let jwe = jwe::JweBuilder::new(Enc::A192CbcHs384)
        .protected(Header::new().with("cty", "text/plain"))
        .unprotected(Header::new().with("jku", "https://example.com/keys"))
        .aad(b"shared, authenticated, not secret")
        .add_recipient(
            &rsa_pub,
            Alg::RsaOaep256,
            Some(Header::new().with("note", "rsa")),
        )
        .unwrap()
        .add_recipient(&ec_pub, Alg::EcdhEsA192KW, None)
        .unwrap()
        .add_recipient(&kw, Alg::A192KW, None)
        .unwrap()
        .add_recipient(&gcm, Alg::A128GCMKW, None)
        .unwrap()
        .encrypt(b"four ways")
        .unwrap();
    assert!(
        jwe.compact()
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Serialization(_)))),
        "several recipients have no compact form"
    );
    assert!(
        jwe.flattened_json()
            .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Serialization(_))))
    );
    let token = jwe.general_json().unwrap();
    let v: Value = serde_json::from_str(&token).unwrap();
    assert_eq!(v["recipients"].as_array().unwrap().len(), 4);
    // Per-recipient members went to the recipients' headers; enc is protected.
    assert_eq!(v["recipients"][1]["header"]["alg"], "ECDH-ES+A192KW");
    assert!(v["recipients"][1]["header"]["epk"].is_object());
    assert!(v["recipients"][3]["header"]["iv"].is_string());
    assert_eq!(v["recipients"][0]["header"]["note"], "rsa");

    let algs = [
        Alg::RsaOaep256,
        Alg::EcdhEsA192KW,
        Alg::A192KW,
        Alg::A128GCMKW,
    ];
    let d = jwe::Decrypter::new(&algs, &[Enc::A192CbcHs384]);
    for (key, alg) in [
        (&rsa, algs[0]),
        (&ec, algs[1]),
        (&kw, algs[2]),
        (&gcm, algs[3]),
    ] {
        let out = d.decrypt(&token, key).unwrap();
        assert_eq!(out.plaintext(), b"four ways");
        assert_eq!(out.alg(), alg);
        assert_eq!(out.header().cty(), Some("text/plain"));
        assert_eq!(
            out.unprotected().unwrap().get_str("jku"),
            Some("https://example.com/keys")
        );
        assert_eq!(out.aad(), Some(&b"shared, authenticated, not secret"[..]));
    }
    // A key set picks the recipient by kid.
    let mut set = jose_core::KeySet::new();
    set.push(SoftwareKey::from_jwk(kw.jwk().clone()).unwrap())
        .unwrap();
    assert_eq!(d.decrypt_with(&token, &set).unwrap().kid(), Some("kw"));
}

#[test]
fn header_names_must_be_disjoint() {
    let key = SoftwareKey::generate_oct(16).unwrap();
    let err = jwe::JweBuilder::new(Enc::A128Gcm)
        .protected(Header::new().with("cty", "a"))
        .unprotected(Header::new().with("cty", "b"))
        .add_recipient(&key, Alg::A128KW, None)
        .unwrap()
        .encrypt(b"x")
        .unwrap_err();
    assert!(
        matches!(err, Error::Malformed(Malformed::HeaderCollision(_))),
        "{err:?}"
    );

    // On the decrypting side too: a JSON JWE naming `cty` twice.
    let token = jwe::JweBuilder::new(Enc::A128Gcm)
        .protected(Header::new().with("cty", "a"))
        .add_recipient(&key, Alg::A128KW, None)
        .unwrap()
        .encrypt(b"x")
        .unwrap()
        .flattened_value()
        .unwrap();
    let mut forged = token.clone();
    forged["unprotected"] = serde_json::json!({"cty": "b"});
    let err =
        jwe::decrypt_json(&forged.to_string(), &key, &[Alg::A128KW], &[Enc::A128Gcm]).unwrap_err();
    assert!(
        matches!(err, Error::Malformed(Malformed::HeaderCollision(_))),
        "{err:?}"
    );
}

/// A stand-in for an HSM key: it holds the private key out of reach and exposes only the
/// `KeyBackend` operations, counting them.
#[derive(Debug)]
struct Device {
    inner: SoftwareKey,
    calls: AtomicUsize,
}

impl KeyBackend for Device {
    fn kid(&self) -> Option<&str> {
        self.inner.kid()
    }
    fn public_jwk(&self) -> Option<&Jwk> {
        self.inner.public_jwk()
    }
    fn algorithms(&self) -> &[Algorithm] {
        self.inner.algorithms()
    }
    fn permits(&self, op: KeyOp) -> bool {
        self.inner.permits(op)
    }
    fn describe(&self) -> String {
        format!("device {}", self.inner.describe())
    }
    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>, Error> {
        self.inner.sign(alg, input)
    }
    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<(), Error> {
        self.inner.verify(alg, input, sig)
    }
    fn unwrap_key(&self, alg: Alg, ek: &[u8], h: &Header, enc: Enc) -> Result<SecretBytes, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.unwrap_key(alg, ek, h, enc)
    }
    fn wrap_key(&self, alg: Alg, cek: &[u8]) -> Result<WrappedKey, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.wrap_key(alg, cek)
    }
    fn derive_ecdh(&self, epk: &Jwk) -> Result<SecretBytes, Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.derive_ecdh(epk)
    }
}

#[test]
fn hybrid_public_jwk_encrypts_private_backend_decrypts() {
    for (inner, alg) in [
        (rsa_key().with_kid("rsa-hsm"), Alg::RsaOaep),
        (
            SoftwareKey::generate_ec(EcCurve::P384)
                .unwrap()
                .with_kid("ec-hsm"),
            Alg::EcdhEs,
        ),
        (
            SoftwareKey::from_jwk(Jwk::generate_okp(OkpCurve::X25519).unwrap())
                .unwrap()
                .with_kid("x-hsm"),
            Alg::EcdhEsA256KW,
        ),
    ] {
        let device = Device {
            inner,
            calls: AtomicUsize::new(0),
        };
        // The sender has nothing but the published public JWK text.
        let published = device.public_jwk().unwrap().to_public_json().unwrap();
        let sender = SoftwareKey::from_json(&published).unwrap();
        assert!(!sender.is_private());
        let token = jwe::encrypt_compact(&sender, alg, Enc::A256Gcm, b"hybrid", None).unwrap();
        // A public key cannot decrypt.
        let err = jwe::decrypt_compact(&token, &sender, &[alg], &[Enc::A256Gcm]).unwrap_err();
        assert!(matches!(err, Error::Key(KeyError::PublicOnly)), "{err:?}");
        // The device does the private-key step, once.
        let d = jwe::decrypt_compact(&token, &device, &[alg], &[Enc::A256Gcm]).unwrap();
        assert_eq!(d.plaintext(), b"hybrid");
        assert_eq!(device.calls.load(Ordering::SeqCst), 1);
        assert_eq!(d.kid(), device.kid());
    }
}

#[test]
fn symmetric_recipients_wrap_through_the_backend() {
    for (len, alg) in [(16, Alg::A128KW), (32, Alg::A256GCMKW), (32, Alg::Dir)] {
        let device = Device {
            inner: SoftwareKey::generate_oct(len).unwrap(),
            calls: AtomicUsize::new(0),
        };
        let token = jwe::encrypt_compact(&device, alg, Enc::A128CbcHs256, b"sym", None).unwrap();
        assert_eq!(
            device.calls.load(Ordering::SeqCst),
            1,
            "{alg}: one wrap (or dir key) call"
        );
        let d = jwe::decrypt_compact(&token, &device, &[alg], &[Enc::A128CbcHs256]).unwrap();
        assert_eq!(d.plaintext(), b"sym");
    }
}

/// Splits a compact token into its five decoded parts.
fn parts(token: &str) -> Vec<Vec<u8>> {
    token
        .split('.')
        .map(|p| base64url::decode("t", p).unwrap())
        .collect()
}

fn join(parts: &[Vec<u8>]) -> String {
    parts
        .iter()
        .map(|p| base64url::encode(p))
        .collect::<Vec<_>>()
        .join(".")
}

#[test]
fn any_tampered_byte_fails_with_the_same_error() {
    let rsa = rsa_key();
    let ec = SoftwareKey::generate_ec(EcCurve::P256).unwrap();
    let cases: Vec<(SoftwareKey, Alg, Enc)> = vec![
        (rsa, Alg::RsaOaep, Enc::A128CbcHs256),
        (ec.clone_key(), Alg::EcdhEs, Enc::A256CbcHs512),
        (ec, Alg::EcdhEsA128KW, Enc::A128Gcm),
        (
            SoftwareKey::generate_oct(16).unwrap(),
            Alg::A128KW,
            Enc::A192Gcm,
        ),
        (
            SoftwareKey::generate_oct(24).unwrap(),
            Alg::A192GCMKW,
            Enc::A192CbcHs384,
        ),
        (
            SoftwareKey::generate_oct(32).unwrap(),
            Alg::Dir,
            Enc::A256Gcm,
        ),
    ];
    for (key, alg, enc) in cases {
        let sender = sender_view(&key);
        let token = jwe::encrypt_compact(
            &sender,
            alg,
            enc,
            b"do not touch",
            Some(&Header::new().with("cty", "text/plain")),
        )
        .unwrap();
        let open = |t: &str| jwe::decrypt_compact(t, &key, &[alg], &[enc]);
        assert!(open(&token).is_ok());
        let p = parts(&token);
        // Encrypted key, IV, ciphertext, tag: first, middle and last byte of each.
        for part in 1..5 {
            let len = p[part].len();
            if len == 0 {
                continue; // dir and ECDH-ES have no encrypted key
            }
            for at in [0, len / 2, len - 1] {
                let mut q = p.clone();
                q[part][at] ^= 0x01;
                assert_decryption(open(&join(&q)));
            }
        }
        // The protected header: a change that still parses fails at the tag...
        let mut header: serde_json::Map<String, Value> = serde_json::from_slice(&p[0]).unwrap();
        header.insert("cty".into(), "text/plaim".into());
        let mut q = p.clone();
        q[0] = serde_json::to_vec(&header).unwrap();
        assert_decryption(open(&join(&q)));
        // ...and one that no longer parses is a parse error, before any decryption.
        let mut q = p.clone();
        q[0][0] ^= 0x01;
        assert!(matches!(
            open(&join(&q)),
            Err(Error::Malformed(Malformed::Json { .. }))
        ));
        // Truncated and extended tags.
        for tag in [
            &p[4][..p[4].len() - 1],
            &[p[4].as_slice(), &[0]].concat()[..],
        ] {
            let mut q = p.clone();
            q[4] = tag.to_vec();
            assert_decryption(open(&join(&q)));
        }
    }
}

#[test]
fn tampered_aad_fails() {
    let key = SoftwareKey::generate_oct(16).unwrap();
    let v = jwe::JweBuilder::new(Enc::A128CbcHs256)
        .aad(b"context")
        .add_recipient(&key, Alg::A128KW, None)
        .unwrap()
        .encrypt(b"x")
        .unwrap()
        .flattened_value()
        .unwrap();
    let open =
        |v: &Value| jwe::decrypt_json(&v.to_string(), &key, &[Alg::A128KW], &[Enc::A128CbcHs256]);
    assert!(open(&v).is_ok());
    let mut t = v.clone();
    t["aad"] = base64url::encode(b"contexT").into();
    assert_decryption(open(&t));
    let mut t = v.clone();
    t.as_object_mut().unwrap().remove("aad");
    assert_decryption(open(&t));
}

trait CloneKey {
    fn clone_key(&self) -> SoftwareKey;
}

impl CloneKey for SoftwareKey {
    fn clone_key(&self) -> SoftwareKey {
        SoftwareKey::from_jwk(self.jwk().clone()).unwrap()
    }
}

#[test]
fn ecdh_party_info_binds_the_derived_key() {
    let key = SoftwareKey::generate_ec(EcCurve::P521).unwrap();
    let apu = base64url::encode(b"Alice");
    let apv = base64url::encode(b"Bob");
    let v = jwe::JweBuilder::new(Enc::A128Gcm)
        .add_recipient(
            &public(&key),
            Alg::EcdhEsA128KW,
            Some(Header::new().with("apu", apu.clone())),
        )
        .unwrap()
        .protected(Header::new().with("apv", apv))
        .encrypt(b"party info")
        .unwrap()
        .flattened_value()
        .unwrap();
    let open =
        |v: &Value| jwe::decrypt_json(&v.to_string(), &key, &[Alg::EcdhEsA128KW], &[Enc::A128Gcm]);
    assert_eq!(open(&v).unwrap().plaintext(), b"party info");
    // `apu` sits in the unprotected recipient header: changing it changes the KEK.
    let mut t = v.clone();
    t["header"]["apu"] = base64url::encode(b"Mallory").into();
    assert_decryption(open(&t));
    t["header"]["apu"] = "not base64!".into();
    assert!(matches!(
        open(&t),
        Err(Error::Malformed(Malformed::Base64("apu")))
    ));
}

#[test]
fn recipients_are_bounded_and_secrets_stay_out_of_debug() {
    let key = SoftwareKey::generate_oct(16).unwrap();
    let mut b = jwe::JweBuilder::new(Enc::A128Gcm);
    let keys: Vec<SoftwareKey> = (0..20)
        .map(|_| SoftwareKey::generate_oct(16).unwrap())
        .collect();
    for k in &keys {
        b = b.add_recipient(k, Alg::A128KW, None).unwrap();
    }
    let token = b.encrypt(b"x").unwrap().general_json().unwrap();
    let d = jwe::Decrypter::new(&[Alg::A128KW], &[Enc::A128Gcm]);
    assert!(matches!(
        d.decrypt(&token, &keys[19]),
        Err(Error::Malformed(Malformed::Serialization(_)))
    ));
    assert!(d.max_recipients(20).decrypt(&token, &keys[19]).is_ok());

    let builder = jwe::JweBuilder::new(Enc::A128Gcm).with_cek(&[0xAB; 16]);
    assert!(
        !format!("{builder:?}").contains("171"),
        "no CEK bytes in Debug"
    );
    let t = jwe::encrypt_compact(&key, Alg::A128KW, Enc::A128Gcm, b"top secret", None).unwrap();
    let opened = jwe::decrypt_compact(&t, &key, &[Alg::A128KW], &[Enc::A128Gcm]).unwrap();
    let shown = format!("{opened:?}");
    assert!(
        !shown.contains("116, 111, 112") && shown.contains("plaintext_len: 10"),
        "{shown}"
    );
}

/// A backend that implements only the required methods: `wrap_key` keeps its default
/// (`AlgorithmError::Unsupported`).
#[derive(Debug)]
struct SignOnly(SoftwareKey);

impl KeyBackend for SignOnly {
    fn kid(&self) -> Option<&str> {
        self.0.kid()
    }
    fn public_jwk(&self) -> Option<&Jwk> {
        self.0.public_jwk()
    }
    fn algorithms(&self) -> &[Algorithm] {
        self.0.algorithms()
    }
    fn permits(&self, op: KeyOp) -> bool {
        self.0.permits(op)
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.sign(alg, input)
    }
    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> Result<(), Error> {
        self.0.verify(alg, input, sig)
    }
}

#[test]
fn rsa_oaep_encrypts_with_the_backends_parsed_key_or_else_its_public_jwk() {
    let key = rsa_key();
    for alg in [Alg::RsaOaep, Alg::RsaOaep256] {
        // A `SoftwareKey` encrypts with the key it parsed once (through `wrap_key`)...
        let token = jwe::encrypt_compact(&key, alg, Enc::A128Gcm, b"parsed", None).unwrap();
        let d = jwe::decrypt_compact(&token, &key, &[alg], &[Enc::A128Gcm]).unwrap();
        assert_eq!(d.plaintext(), b"parsed");
        // ...and a backend without `wrap_key` is encrypted to from its public JWK.
        let public = SoftwareKey::from_jwk(key.jwk().to_public().unwrap()).unwrap();
        let bare = SignOnly(public);
        assert!(matches!(
            bare.wrap_key(alg, &[0; 16]),
            Err(Error::Algorithm(
                jose_core::error::AlgorithmError::Unsupported(_)
            ))
        ));
        let token = jwe::encrypt_compact(&bare, alg, Enc::A128Gcm, b"jwk", None).unwrap();
        let d = jwe::decrypt_compact(&token, &key, &[alg], &[Enc::A128Gcm]).unwrap();
        assert_eq!(d.plaintext(), b"jwk");
    }
}
