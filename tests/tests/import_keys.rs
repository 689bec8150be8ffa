//! Key import against SoftHSM: PEM keys made by OpenSSL imported into the token sign JWS that
//! verify with the PEM's own public key (checked by OpenSSL or from OpenSSL's public key), a
//! PKCS#8 key wrapped under a token AES key is unwrapped inside the token, and keys whose
//! public part does not belong to the private part are refused (by jose-core for a JWK, by the
//! token's own sign/verify check for components) and leave nothing on the token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aes_kw::{KeyInit, KwpAes256};
use hsm_core::cryptoki::object::Attribute;
use hsm_core::key::{
    KeyUsage, PrivateKeyMaterial, SecretKind, UnwrapMechanism, WrappedKeyKind, import_key_pair,
    import_secret_key, unwrap_key_pair,
};
use hsm_core::{KeyKind, KeySelector, find_key};
use hsm_jose::jose_core::error::KeyError;
use hsm_jose::jose_core::{JwsAlgorithm, SoftwareKey, base64url, jws};
use hsm_jose::{HsmJwk, import};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

/// A scratch directory for OpenSSL's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("import-keys-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Splits a compact JWS into its signing input and its signature, writing both for OpenSSL.
/// OpenSSL's public key of a private-key PEM file, written next to it.
fn public_pem(key_file: &Path) -> PathBuf {
    let public = key_file.with_extension("pub.pem");
    openssl(&[
        "pkey",
        "-in",
        path(key_file),
        "-pubout",
        "-out",
        path(&public),
    ]);
    public
}

fn write_jws_parts(token: &str, dir: &Scratch) -> (PathBuf, PathBuf) {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let input_file = dir.path("input");
    let signature_file = dir.path("signature");
    std::fs::write(&input_file, input).unwrap();
    std::fs::write(
        &signature_file,
        base64url::decode("signature", signature).unwrap(),
    )
    .unwrap();
    (input_file, signature_file)
}

/// Removes what an earlier run of this suite left under `label`, so the suite can run again.
fn fresh(label: &str) {
    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    let template = [Attribute::Label(label.as_bytes().to_vec())];
    for handle in session.find_objects(&template).unwrap() {
        session.destroy_object(handle).unwrap();
    }
}

fn assert_hardened(label: &str) {
    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    let mut info = find_key(&session, &KeySelector::label(label)).unwrap();
    hsm_core::key::prove_public_key(&session, &mut info).unwrap();
    let p = info.protection;
    assert!(p.sensitive && !p.extractable && p.private, "{label}: {p:?}");
    assert!(info.public.is_some() && info.private.is_some(), "{label}");
    assert!(
        info.public_binding.is_some_and(|b| b.is_proven()),
        "{label}: {:?}",
        info.public_binding
    );
}

#[test]
fn an_imported_rsa_pem_key_signs_jws_that_openssl_verifies_with_the_pem() {
    let _guard = fixture::shared();
    let dir = Scratch::new("rsa");
    let key_file = dir.path("key.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        path(&key_file),
    ]);
    let pem = std::fs::read_to_string(&key_file).unwrap();
    assert!(pem.contains("BEGIN PRIVATE KEY"), "PKCS#8 PEM expected");
    let material = import::private_key_from_pem(&pem).unwrap();

    fresh("imported-rsa");
    let pool = token().pool();
    {
        let session = pool.session_rw().unwrap();
        let info = import_key_pair(
            &session,
            &material,
            "imported-rsa",
            &[0x71, 1],
            KeyUsage::SIGN,
        )
        .unwrap();
        assert_eq!(info.kind, KeyKind::Rsa { bits: 2048 });
    }
    assert_hardened("imported-rsa");

    let key = HsmJwk::from_label(&pool, "imported-rsa").unwrap();
    let public = public_pem(&key_file);
    for (alg, digest) in [
        (JwsAlgorithm::RS256, "-sha256"),
        (JwsAlgorithm::PS256, "-sha256"),
    ] {
        let token = jws::sign_compact(&key, alg, b"imported", None).unwrap();
        let (input, signature) = write_jws_parts(&token, &dir);
        let mut args = vec!["dgst", digest, "-verify", path(&public)];
        if alg == JwsAlgorithm::PS256 {
            args.extend([
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:32",
            ]);
        }
        args.extend(["-signature", path(&signature), path(&input)]);
        let verified = openssl(&args);
        assert_eq!(
            String::from_utf8_lossy(&verified).trim(),
            "Verified OK",
            "{alg:?}"
        );
    }
}

#[test]
fn an_imported_pkcs1_pem_key_is_read() {
    let _guard = fixture::shared();
    let dir = Scratch::new("pkcs1");
    let pkcs8 = dir.path("k8.pem");
    let pkcs1 = dir.path("k1.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        path(&pkcs8),
    ]);
    openssl(&[
        "rsa",
        "-in",
        path(&pkcs8),
        "-traditional",
        "-out",
        path(&pkcs1),
    ]);
    let pem = std::fs::read_to_string(&pkcs1).unwrap();
    assert!(pem.contains("BEGIN RSA PRIVATE KEY"), "PKCS#1 PEM expected");
    let from_pkcs1 = import::private_key_from_pem(&pem).unwrap();
    let from_pkcs8 =
        import::private_key_from_pem(&std::fs::read_to_string(&pkcs8).unwrap()).unwrap();
    assert_eq!(from_pkcs1, from_pkcs8);
}

/// The public key OpenSSL reads from a PEM, as a public JWK (x and y are the last bytes of the
/// SubjectPublicKeyInfo: the uncompressed point `04 || x || y`).
fn openssl_public_jwk(key_file: &Path, crv: &str, size: usize) -> SoftwareKey {
    let spki = openssl(&["pkey", "-in", path(key_file), "-pubout", "-outform", "DER"]);
    let point = &spki[spki.len() - (2 * size + 1)..];
    assert_eq!(point[0], 0x04);
    let json = serde_json::json!({
        "kty": "EC",
        "crv": crv,
        "x": base64url::encode(&point[1..=size]),
        "y": base64url::encode(&point[size + 1..]),
    });
    SoftwareKey::from_json(&json.to_string()).unwrap()
}

#[test]
fn imported_ec_pem_keys_sign_jws_that_verify_with_the_pem_public_key() {
    let _guard = fixture::shared();
    let dir = Scratch::new("ec");
    for (curve, crv, size, alg, label, traditional) in [
        (
            "P-256",
            "P-256",
            32,
            JwsAlgorithm::ES256,
            "imported-p256",
            false,
        ),
        (
            "P-384",
            "P-384",
            48,
            JwsAlgorithm::ES384,
            "imported-p384",
            true,
        ),
        (
            "P-521",
            "P-521",
            66,
            JwsAlgorithm::ES512,
            "imported-p521",
            false,
        ),
    ] {
        let key_file = dir.path(&format!("{label}.pem"));
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
            "-out",
            path(&key_file),
        ]);
        let pem_file = if traditional {
            // SEC1 ("EC PRIVATE KEY") as well as PKCS#8.
            let sec1 = dir.path(&format!("{label}.sec1.pem"));
            openssl(&["ec", "-in", path(&key_file), "-out", path(&sec1)]);
            sec1
        } else {
            key_file.clone()
        };
        let pem = std::fs::read_to_string(&pem_file).unwrap();
        let material = import::private_key_from_pem(&pem).unwrap();
        fresh(label);
        let pool = token().pool();
        {
            let session = pool.session_rw().unwrap();
            import_key_pair(&session, &material, label, label.as_bytes(), KeyUsage::SIGN).unwrap();
        }
        assert_hardened(label);
        let key = HsmJwk::from_label(&pool, label).unwrap();
        let jws = jws::sign_compact(&key, alg, b"imported", None).unwrap();
        let public = openssl_public_jwk(&key_file, crv, size);
        jws::verify_compact(&jws, &public, &[alg]).unwrap();
    }
}

#[test]
fn an_imported_ed25519_pem_key_signs_jws_that_openssl_verifies() {
    let _guard = fixture::shared();
    let dir = Scratch::new("ed");
    let key_file = dir.path("key.pem");
    let public_file = dir.path("pub.pem");
    openssl(&["genpkey", "-algorithm", "ED25519", "-out", path(&key_file)]);
    openssl(&[
        "pkey",
        "-in",
        path(&key_file),
        "-pubout",
        "-out",
        path(&public_file),
    ]);
    let material =
        import::private_key_from_pem(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    fresh("imported-ed25519");
    let pool = token().pool();
    {
        let session = pool.session_rw().unwrap();
        import_key_pair(
            &session,
            &material,
            "imported-ed25519",
            &[0x71, 3],
            KeyUsage::SIGN,
        )
        .unwrap();
    }
    assert_hardened("imported-ed25519");
    let key = HsmJwk::from_label(&pool, "imported-ed25519").unwrap();
    let token = jws::sign_compact(&key, JwsAlgorithm::EdDSA, b"imported", None).unwrap();
    let (input, signature) = write_jws_parts(&token, &dir);
    let verified = openssl(&[
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        path(&public_file),
        "-rawin",
        "-in",
        path(&input),
        "-sigfile",
        path(&signature),
    ]);
    assert!(
        String::from_utf8_lossy(&verified).contains("Signature Verified Successfully"),
        "{}",
        String::from_utf8_lossy(&verified)
    );
}

#[test]
fn a_pkcs8_key_wrapped_under_a_token_aes_key_is_unwrapped_in_the_token() {
    let _guard = fixture::shared();
    let dir = Scratch::new("wrapped");
    let key_file = dir.path("key.pem");
    let der_file = dir.path("key.der");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        path(&key_file),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        path(&key_file),
        "-outform",
        "DER",
        "-out",
        path(&der_file),
    ]);
    let pkcs8 = std::fs::read(&der_file).unwrap();

    // The key-encryption key, agreed with the sender: in the token as an unwrap-only AES key.
    let kek = [0x5a_u8; 32];
    let mut wrapped = vec![0_u8; pkcs8.len().div_ceil(8) * 8 + 8];
    let wrapped = KwpAes256::new(&kek.into())
        .wrap_key(&pkcs8, &mut wrapped)
        .unwrap()
        .to_vec();

    for label in ["import-kek", "unwrapped-rsa", "unwrapped-tampered"] {
        fresh(label);
    }
    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    let kek_info = import_secret_key(
        &session,
        SecretKind::Aes,
        &kek,
        "import-kek",
        &[0x71, 4],
        KeyUsage::WRAP,
    )
    .unwrap();
    assert!(kek_info.protection.sensitive && !kek_info.protection.extractable);
    let info = unwrap_key_pair(
        &session,
        kek_info.secret.unwrap(),
        UnwrapMechanism::AesKeyWrapPad,
        &wrapped,
        WrappedKeyKind::Rsa,
        None,
        "unwrapped-rsa",
        &[0x71, 5],
        KeyUsage::SIGN,
    )
    .unwrap();
    assert_eq!(info.kind, KeyKind::Rsa { bits: 2048 });
    drop(session);
    assert_hardened("unwrapped-rsa");

    let key = HsmJwk::from_label(&pool, "unwrapped-rsa").unwrap();
    let token = jws::sign_compact(&key, JwsAlgorithm::RS256, b"unwrapped", None).unwrap();
    let (input, signature) = write_jws_parts(&token, &dir);
    let verified = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        path(&public_pem(&key_file)),
        "-signature",
        path(&signature),
        path(&input),
    ]);
    assert_eq!(String::from_utf8_lossy(&verified).trim(), "Verified OK");

    // Wrapped data that is not a key under this KEK: the token refuses, nothing is created.
    let session = pool.session_rw().unwrap();
    let mut tampered = wrapped.clone();
    tampered[10] ^= 1;
    let refused = unwrap_key_pair(
        &session,
        kek_info.secret.unwrap(),
        UnwrapMechanism::AesKeyWrapPad,
        &tampered,
        WrappedKeyKind::Rsa,
        None,
        "unwrapped-tampered",
        &[0x71, 6],
        KeyUsage::SIGN,
    );
    assert!(
        matches!(refused, Err(hsm_core::Error::Pkcs11 { .. })),
        "{refused:?}"
    );
    assert!(matches!(
        find_key(&session, &KeySelector::label("unwrapped-tampered")),
        Err(hsm_core::Error::KeyNotFound { .. })
    ));
}

#[test]
fn a_jwk_whose_public_part_does_not_match_d_is_refused() {
    let _guard = fixture::shared();
    let a = SoftwareKey::generate_ec(hsm_jose::jose_core::jwk::EcCurve::P256).unwrap();
    let b = SoftwareKey::generate_ec(hsm_jose::jose_core::jwk::EcCurve::P256).unwrap();
    let a_json: serde_json::Value = serde_json::from_str(&a.jwk().to_private_json()).unwrap();
    let mut b_json: serde_json::Value = serde_json::from_str(&b.jwk().to_private_json()).unwrap();
    b_json["d"] = a_json["d"].clone();
    let mixed = hsm_jose::jose_core::Jwk::from_json(&b_json.to_string()).unwrap();
    let refused = import::private_key_from_jwk(&mixed);
    assert!(
        matches!(
            refused,
            Err(hsm_jose::Error::Jose(hsm_jose::jose_core::Error::Key(
                KeyError::Inconsistent
            )))
        ),
        "{refused:?}"
    );

    // A matching JWK imports and signs; the JWS verifies with the JWK's public key.
    let material = import::private_key_from_jwk(a.jwk()).unwrap();
    fresh("imported-jwk");
    let pool = token().pool();
    {
        let session = pool.session_rw().unwrap();
        import_key_pair(
            &session,
            &material,
            "imported-jwk",
            &[0x71, 7],
            KeyUsage::SIGN,
        )
        .unwrap();
    }
    let key = HsmJwk::from_label(&pool, "imported-jwk").unwrap();
    let token = jws::sign_compact(&key, JwsAlgorithm::ES256, b"jwk", None).unwrap();
    let public = SoftwareKey::from_json(&a.jwk().to_public_json().unwrap()).unwrap();
    jws::verify_compact(&token, &public, &[JwsAlgorithm::ES256]).unwrap();
}

#[test]
fn components_whose_public_key_does_not_match_are_refused_by_the_token_and_removed() {
    let _guard = fixture::shared();
    let a = import::private_key_from_jwk(
        SoftwareKey::generate_ec(hsm_jose::jose_core::jwk::EcCurve::P256)
            .unwrap()
            .jwk(),
    )
    .unwrap();
    let b = import::private_key_from_jwk(
        SoftwareKey::generate_ec(hsm_jose::jose_core::jwk::EcCurve::P256)
            .unwrap()
            .jwk(),
    )
    .unwrap();
    let (PrivateKeyMaterial::Ec { curve, d, .. }, PrivateKeyMaterial::Ec { x, y, .. }) = (a, b)
    else {
        panic!("EC keys expected")
    };
    let mixed = PrivateKeyMaterial::Ec { curve, d, x, y };
    fresh("imported-mixed");
    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    let refused = import_key_pair(
        &session,
        &mixed,
        "imported-mixed",
        &[0x71, 8],
        KeyUsage::SIGN,
    );
    assert!(
        matches!(refused, Err(hsm_core::Error::PublicKeyMismatch { .. })),
        "{refused:?}"
    );
    assert!(matches!(
        find_key(&session, &KeySelector::label("imported-mixed")),
        Err(hsm_core::Error::KeyNotFound { .. })
    ));
}

#[test]
fn pem_that_is_no_private_key_is_refused_with_a_reason() {
    let refused = import::private_key_from_pem(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    assert!(
        matches!(
            refused,
            Err(hsm_jose::Error::Import {
                reason: "the PEM block is not a private key"
            })
        ),
        "{refused:?}"
    );
    let refused = import::private_key_from_pem("no pem here");
    assert!(
        matches!(
            refused,
            Err(hsm_jose::Error::Import {
                reason: "no PEM block"
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_wrapped_ec_key_is_unwrapped_with_the_public_key_the_sender_gives() {
    let _guard = fixture::shared();
    for label in ["import-kek-ec", "unwrapped-p256", "unwrapped-p256-nopub"] {
        fresh(label);
    }
    let dir = Scratch::new("wrapped-ec");
    let key_file = dir.path("key.pem");
    let der_file = dir.path("key.der");
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        path(&key_file),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        path(&key_file),
        "-outform",
        "DER",
        "-out",
        path(&der_file),
    ]);
    let pkcs8 = std::fs::read(&der_file).unwrap();
    let kek = [0x3c_u8; 32];
    let mut buffer = vec![0_u8; pkcs8.len().div_ceil(8) * 8 + 8];
    let wrapped = KwpAes256::new(&kek.into())
        .wrap_key(&pkcs8, &mut buffer)
        .unwrap()
        .to_vec();
    let public = openssl_public_jwk(&key_file, "P-256", 32);
    let public = import::public_key_from_jwk(public.jwk()).unwrap();

    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    let kek = import_secret_key(
        &session,
        SecretKind::Aes,
        &kek,
        "import-kek-ec",
        &[0x71, 0x20],
        KeyUsage::WRAP,
    )
    .unwrap()
    .secret
    .unwrap();
    // Without the public key an EC key is refused before the token is asked.
    let refused = unwrap_key_pair(
        &session,
        kek,
        UnwrapMechanism::AesKeyWrapPad,
        &wrapped,
        WrappedKeyKind::Ec(hsm_core::EcCurve::P256),
        None,
        "unwrapped-p256-nopub",
        &[0x71, 0x21],
        KeyUsage::SIGN,
    );
    assert!(
        matches!(refused, Err(hsm_core::Error::Config { .. })),
        "{refused:?}"
    );
    let info = unwrap_key_pair(
        &session,
        kek,
        UnwrapMechanism::AesKeyWrapPad,
        &wrapped,
        WrappedKeyKind::Ec(hsm_core::EcCurve::P256),
        Some(&public),
        "unwrapped-p256",
        &[0x71, 0x22],
        KeyUsage::SIGN,
    )
    .unwrap();
    assert_eq!(info.kind, KeyKind::Ec(hsm_core::EcCurve::P256));
    assert_eq!(info.public_key.as_ref(), Some(&public));
    drop(session);
    assert_hardened("unwrapped-p256");
    let key = HsmJwk::from_label(&pool, "unwrapped-p256").unwrap();
    let jws = jws::sign_compact(&key, JwsAlgorithm::ES256, b"unwrapped", None).unwrap();
    let verifier = openssl_public_jwk(&key_file, "P-256", 32);
    jws::verify_compact(&jws, &verifier, &[JwsAlgorithm::ES256]).unwrap();
}
