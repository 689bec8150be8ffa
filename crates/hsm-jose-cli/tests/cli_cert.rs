//! `hsm-jose cert`: a self-signed certificate made in the token verifies with OpenSSL, is
//! stored next to its key and shown as PEM and as `x5c` in the key's JWK; a CSR verifies with
//! OpenSSL; the certificate an OpenSSL CA issues for the CSR is imported with the CA's and
//! published leaf first; `keys delete` takes the certificates along.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{Cli, cli};
use hsm_core::cryptoki::object::{Attribute, ObjectClass};
use jose_core::Jwk;
use jose_core::jwk::x5c;

/// Runs OpenSSL; returns its exit success and everything it printed.
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A fresh key generated through the command line (what an earlier run left is removed).
fn fresh_key(cli: &Cli, label: &str) {
    {
        let pool = cli.token.pool();
        let session = pool.session_rw().unwrap();
        let template = [Attribute::Label(label.as_bytes().to_vec())];
        for handle in session.find_objects(&template).unwrap() {
            session.destroy_object(handle).unwrap();
        }
    }
    cli.ok(
        &[
            "keys", "generate", "--type", "ec-p256", "--label", label, "--usage", "sign",
        ],
        "",
    );
}

#[test]
fn a_self_signed_certificate_verifies_with_openssl_and_is_shown_as_pem_and_x5c() {
    let cli = cli("self-sign");
    fresh_key(&cli, "cli-cert");
    let run = cli.ok(
        &[
            "cert",
            "self-sign",
            "--key",
            "cli-cert",
            "--subject",
            "CN=cli-cert,O=hsm-jose tests",
            "--days",
            "30",
        ],
        "",
    );
    assert!(
        run.stderr.contains("stored the certificate"),
        "{}",
        run.stderr
    );
    let pem = run.text();
    let file = cli.write("cert.pem", &pem);
    let (ok, text) = openssl(&["verify", "-CAfile", &file, &file]);
    assert!(ok && text.contains(": OK"), "{text}");

    let shown = cli.ok(&["cert", "show", "--key", "cli-cert"], "");
    assert_eq!(shown.text(), pem);

    let jwk = cli
        .ok(&["cert", "show", "--key", "cli-cert", "--jwk"], "")
        .json();
    let jwk = Jwk::from_value(&jwk).unwrap();
    assert_eq!(x5c::chain(&jwk).unwrap().len(), 1);
    assert!(matches!(x5c::check_x5c(&jwk), Ok(())));
    assert!(jwk.extra("x5t#S256").is_some());

    // The JWK Set carries it when asked (--x5c), and only then.
    for args in [
        &["jwks", "--key", "cli-cert", "--x5c"][..],
        &["jwks", "--all", "--x5c"][..],
    ] {
        let set = cli.ok(args, "").json();
        let with = set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k.get("x5c").is_some())
            .map(|k| Jwk::from_value(k).unwrap())
            .find(|k| k.thumbprint() == jwk.thumbprint())
            .unwrap_or_else(|| panic!("{args:?}: no x5c for cli-cert in {set}"));
        assert_eq!(
            x5c::chain(&with).unwrap(),
            x5c::chain(&jwk).unwrap(),
            "{args:?}"
        );
    }
    let plain = cli.ok(&["jwks", "--key", "cli-cert"], "").json();
    assert!(plain["keys"][0].get("x5c").is_none(), "{plain}");

    // A second self-signed certificate for the key is refused (one leaf per key).
    let again = cli.run(
        &[
            "cert",
            "self-sign",
            "--key",
            "cli-cert",
            "--subject",
            "CN=again",
        ],
        "",
    );
    assert_eq!(again.status, 3, "{}", again.stderr);
    assert!(
        again.stderr.contains("already has a certificate"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_csr_verifies_with_openssl() {
    let cli = cli("csr");
    fresh_key(&cli, "cli-csr");
    let run = cli.ok(
        &[
            "cert",
            "csr",
            "--key",
            "cli-csr",
            "--subject",
            "CN=cli-csr.example,C=DE",
        ],
        "",
    );
    let file = cli.write("request.pem", run.stdout);
    let (ok, text) = openssl(&["req", "-in", &file, "-verify", "-noout"]);
    assert!(ok && text.contains("verify OK"), "{text}");
    // The key has no certificate: show says so.
    let none = cli.run(&["cert", "show", "--key", "cli-csr"], "");
    assert_eq!(none.status, 3, "{}", none.stderr);
    assert!(
        none.stderr.contains("has no certificate"),
        "{}",
        none.stderr
    );
}

#[test]
fn a_malformed_subject_is_a_usage_error() {
    let cli = cli("subject");
    let run = cli.run(
        &["cert", "csr", "--key", "ec-p256", "--subject", "nonsense"],
        "",
    );
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("NAME=value"), "{}", run.stderr);
}

/// The certificate objects on the suite's token with this id.
fn certificates_with_id(cli: &Cli, id: &[u8]) -> usize {
    let pool = cli.token.pool();
    let session = pool.session().unwrap();
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(id.to_vec()),
        ])
        .unwrap()
        .len()
}

/// The base64 of every PEM block, without line breaks: PEM texts compared by content.
fn pem_bodies(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>()
}

/// Issue 16: the request `cert csr` makes is signed by an OpenSSL CA; `cert import` stores the
/// returned certificate and the CA's (replacing the self-signed one), `cert show` and
/// `jwks --x5c` give them leaf first; a certificate for another key and garbage are refused;
/// `keys delete` lists and deletes the certificates with the key.
#[test]
fn a_certificate_from_a_ca_is_imported_with_its_chain_and_deleted_with_the_key() {
    let cli = cli("import");
    fresh_key(&cli, "cli-import-cert");
    let id = {
        let pool = cli.token.pool();
        let session = pool.session().unwrap();
        let key =
            hsm_core::find_key(&session, &hsm_core::KeySelector::label("cli-import-cert")).unwrap();
        key.id
    };
    // Left by an earlier run under this id: certificates labelled with the CA's subject.
    {
        let pool = cli.token.pool();
        let session = pool.session_rw().unwrap();
        for handle in session
            .find_objects(&[
                Attribute::Class(ObjectClass::CERTIFICATE),
                Attribute::Id(id.clone()),
            ])
            .unwrap()
        {
            session.destroy_object(handle).unwrap();
        }
    }
    let request = cli
        .ok(
            &[
                "cert",
                "csr",
                "--key",
                "cli-import-cert",
                "--subject",
                "CN=cli-import.example",
            ],
            "",
        )
        .stdout;
    let request_file = cli.write("request.pem", request);
    let ca_key = cli.path("ca.key").to_string_lossy().into_owned();
    let ca_file = cli.path("ca.pem").to_string_lossy().into_owned();
    let leaf_file = cli.path("leaf.pem").to_string_lossy().into_owned();
    let (ok, text) = openssl(&[
        "req",
        "-x509",
        "-newkey",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        &ca_key,
        "-out",
        &ca_file,
        "-subj",
        "/CN=hsm-jose CLI test CA",
        "-days",
        "30",
    ]);
    assert!(ok, "{text}");
    let (ok, text) = openssl(&[
        "x509",
        "-req",
        "-in",
        &request_file,
        "-CA",
        &ca_file,
        "-CAkey",
        &ca_key,
        "-set_serial",
        "0x1234",
        "-days",
        "30",
        "-out",
        &leaf_file,
    ]);
    assert!(ok, "{text}");
    let ca_pem = std::fs::read_to_string(&ca_file).unwrap();
    let leaf_pem = std::fs::read_to_string(&leaf_file).unwrap();
    let chain_file = cli.write("chain.pem", format!("{leaf_pem}{ca_pem}"));

    // The key has a self-signed certificate: import refuses to add a second leaf...
    cli.ok(
        &[
            "cert",
            "self-sign",
            "--key",
            "cli-import-cert",
            "--subject",
            "CN=self",
        ],
        "",
    );
    let refused = cli.fails(
        3,
        &["cert", "import", "--key", "cli-import-cert", &chain_file],
        "",
        "already has a certificate",
    );
    assert!(refused.contains("--replace"), "{refused}");
    // ... and replaces it when asked.
    let stored = cli
        .ok(
            &[
                "cert",
                "import",
                "--key",
                "cli-import-cert",
                "--replace",
                &chain_file,
            ],
            "",
        )
        .text();
    assert!(
        stored.starts_with("stored 2 certificates") && stored.contains("replacing 1"),
        "{stored}"
    );

    let shown = cli
        .ok(&["cert", "show", "--key", "cli-import-cert"], "")
        .text();
    assert_eq!(
        pem_bodies(&shown),
        pem_bodies(&format!("{leaf_pem}{ca_pem}"))
    );
    let set = cli
        .ok(&["jwks", "--key", "cli-import-cert", "--x5c"], "")
        .json();
    let jwk = Jwk::from_value(&set["keys"][0]).unwrap();
    let chain = x5c::chain(&jwk).unwrap();
    assert_eq!(chain.len(), 2, "{set}");
    assert!(matches!(x5c::check_x5c(&jwk), Ok(())));
    assert_eq!(
        set["keys"][0]["x5c"][0].as_str().unwrap(),
        pem_bodies(&leaf_pem)
    );
    assert_eq!(
        set["keys"][0]["x5c"][1].as_str().unwrap(),
        pem_bodies(&ca_pem)
    );

    // The CA's own certificate carries another key; garbage is not a certificate.
    cli.fails(
        3,
        &[
            "cert",
            "import",
            "--key",
            "cli-import-cert",
            "--replace",
            &ca_file,
        ],
        "",
        "does not carry the public key of key `cli-import-cert`",
    );
    let garbage = cli.write("garbage.pem", "not a certificate\n");
    cli.fails(
        3,
        &["cert", "import", "--key", "cli-import-cert", &garbage],
        "",
        "the certificates cannot be read",
    );
    // Refused imports changed nothing.
    assert_eq!(certificates_with_id(&cli, &id), 2);

    // keys delete lists the certificates and deletes them with the key.
    let deleted = cli
        .ok(&["keys", "delete", "--key", "cli-import-cert", "--yes"], "")
        .text();
    assert!(
        deleted.starts_with("deleted EC P-256 key `cli-import-cert`")
            && deleted.contains("private key, public key, 2 certificates"),
        "{deleted}"
    );
    assert_eq!(certificates_with_id(&cli, &id), 0);
}
