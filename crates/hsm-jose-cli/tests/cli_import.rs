//! `hsm-jose keys import`: OpenSSL-made keys imported from PEM and from a PKCS#8 file wrapped
//! under a token AES key (OpenSSL's `id-aes256-wrap-pad`, as a sender would) sign JWS that
//! verify with the key's own public key; a JWK whose public part does not belong to its `d` is
//! refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{Cli, cli};
use hsm_core::cryptoki::object::Attribute;
use hsm_core::key::{KeyUsage, SecretKind, import_secret_key};
use jose_core::{JwsAlgorithm, SoftwareKey, base64url, jws};

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Removes what an earlier run left under `label`, so the suite can run again.
fn fresh(cli: &Cli, label: &str) {
    let pool = cli.token.pool();
    let session = pool.session_rw().unwrap();
    let template = [Attribute::Label(label.as_bytes().to_vec())];
    for handle in session.find_objects(&template).unwrap() {
        session.destroy_object(handle).unwrap();
    }
}

#[test]
fn an_imported_pem_key_signs_jws_that_verify_with_the_pem_public_key() {
    let cli = cli("pem");
    fresh(&cli, "cli-imported-p256");
    let key = cli.path("key.pem");
    let key = key.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        key,
    ]);
    let run = cli.ok(
        &[
            "keys",
            "import",
            "--file",
            key,
            "--label",
            "cli-imported-p256",
            "--id",
            "7101",
        ],
        "",
    );
    assert!(
        run.stderr.contains("imported key `cli-imported-p256`"),
        "{}",
        run.stderr
    );
    let printed = run.json();
    assert!(printed.get("d").is_none(), "{printed}");

    // The printed JWK is OpenSSL's public key: the uncompressed point ends the SPKI.
    let spki = openssl(&["pkey", "-in", key, "-pubout", "-outform", "DER"]);
    let point = &spki[spki.len() - 65..];
    assert_eq!(printed["x"], base64url::encode(&point[1..33]));
    assert_eq!(printed["y"], base64url::encode(&point[33..]));

    let token = cli.ok(
        &["sign", "--key", "cli-imported-p256", "--alg", "ES256"],
        "payload",
    );
    let public = SoftwareKey::from_json(&printed.to_string()).unwrap();
    let verified =
        jws::verify_compact(token.text().trim(), &public, &[JwsAlgorithm::ES256]).unwrap();
    assert_eq!(verified.payload(), b"payload");
}

#[test]
fn a_key_wrapped_under_a_token_aes_key_is_unwrapped_in_the_token() {
    let cli = cli("wrapped");
    for label in ["cli-kek", "cli-unwrapped"] {
        fresh(&cli, label);
    }
    let kek = [0x5a_u8; 32];
    {
        let pool = cli.token.pool();
        let session = pool.session_rw().unwrap();
        import_secret_key(
            &session,
            SecretKind::Aes,
            &kek,
            "cli-kek",
            &[0x71, 0x10],
            KeyUsage::WRAP,
        )
        .unwrap();
    }
    let pem = cli.path("key.pem");
    let der = cli.path("key.der");
    let wrapped = cli.path("key.wrapped");
    let (pem, der, wrapped) = (
        pem.to_str().unwrap(),
        der.to_str().unwrap(),
        wrapped.to_str().unwrap(),
    );
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        pem,
    ]);
    openssl(&[
        "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER", "-out", der,
    ]);
    let hex_kek: String = kek.iter().map(|b| format!("{b:02x}")).collect();
    openssl(&[
        "enc",
        "-id-aes256-wrap-pad",
        "-K",
        &hex_kek,
        "-iv",
        "A65959A6",
        "-in",
        der,
        "-out",
        wrapped,
    ]);
    std::fs::remove_file(der).unwrap();

    // Without --format pkcs8 the wrapped key is refused before the token is asked.
    let run = cli.run(
        &[
            "keys",
            "import",
            "--file",
            wrapped,
            "--format",
            "pem",
            "--wrapped-by",
            "cli-kek",
            "--type",
            "rsa",
            "--label",
            "cli-unwrapped",
        ],
        "",
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--format pkcs8"), "{}", run.stderr);

    let run = cli.ok(
        &[
            "keys",
            "import",
            "--file",
            wrapped,
            "--format",
            "pkcs8",
            "--wrapped-by",
            "cli-kek",
            "--type",
            "rsa",
            "--label",
            "cli-unwrapped",
        ],
        "",
    );
    let printed = run.json();
    assert_eq!(printed["kty"], "RSA");
    let token = cli.ok(
        &["sign", "--key", "cli-unwrapped", "--alg", "RS256"],
        "payload",
    );
    let token = token.text();
    let (input, signature) = token.trim().rsplit_once('.').unwrap();
    let input_file = cli.write("input", input);
    let signature_file = cli.write(
        "signature",
        base64url::decode("signature", signature).unwrap(),
    );
    let public = cli.path("pub.pem");
    let public = public.to_str().unwrap();
    openssl(&["pkey", "-in", pem, "-pubout", "-out", public]);
    let verified = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        public,
        "-signature",
        &signature_file,
        &input_file,
    ]);
    assert_eq!(String::from_utf8_lossy(&verified).trim(), "Verified OK");
}

#[test]
fn a_jwk_whose_public_part_does_not_match_d_is_refused() {
    let cli = cli("mismatch");
    fresh(&cli, "cli-mismatch");
    let a = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256).unwrap();
    let b = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256).unwrap();
    let a_json: serde_json::Value = serde_json::from_str(&a.jwk().to_private_json()).unwrap();
    let mut mixed: serde_json::Value = serde_json::from_str(&b.jwk().to_private_json()).unwrap();
    mixed["d"] = a_json["d"].clone();
    let file = cli.write("mixed.jwk", mixed.to_string());
    let d = mixed["d"].as_str().unwrap().to_owned();
    let run = cli.run(
        &["keys", "import", "--file", &file, "--label", "cli-mismatch"],
        "",
    );
    common::assert_failed(
        &run,
        3,
        "the private key does not match the public key",
        "keys import of a mismatched JWK",
        &d,
    );
}
