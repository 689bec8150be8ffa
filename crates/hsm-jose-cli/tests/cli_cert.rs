//! `hsm-jose cert`: a self-signed certificate made in the token verifies with OpenSSL, is
//! stored next to its key and shown as PEM and as `x5c` in the key's JWK; a CSR verifies with
//! OpenSSL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{Cli, cli};
use hsm_core::cryptoki::object::Attribute;
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
