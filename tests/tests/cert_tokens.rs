//! Certificates for token keys against SoftHSM: self-signed certificates and CSRs signed in the
//! token verify with OpenSSL; a stored certificate appears as `x5c` / `x5t#S256` in the key's
//! JWK and in the JWK Set; a certificate that carries another key is never stored nor
//! published.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

use hsm_core::cryptoki::object::Attribute;
use hsm_core::key::{CertificateObject, KeySpec, KeyUsage, certificate_chain, store_certificate};
use hsm_core::{EcCurve, generate_key_pair};
use hsm_jose::jose_core::error::KeyError;
use hsm_jose::jose_core::jwk::x5c;
use hsm_jose::jose_core::{Jwk, JwkSet};
use hsm_jose::{HsmJwk, HsmJwkSet, KidSource, cert};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

/// A scratch directory for OpenSSL's files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("cert-tokens-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, file: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(file);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

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

/// A fresh key pair under `label` (what an earlier run left there is removed first).
fn fresh_key(label: &str, id: &[u8], spec: KeySpec) -> HsmJwk {
    let pool = token().pool();
    {
        let session = pool.session_rw().unwrap();
        let template = [Attribute::Label(label.as_bytes().to_vec())];
        for handle in session.find_objects(&template).unwrap() {
            session.destroy_object(handle).unwrap();
        }
        generate_key_pair(&session, spec, label, id, KeyUsage::SIGN).unwrap();
    }
    HsmJwk::from_label(&pool, label).unwrap()
}

#[test]
fn a_self_signed_certificate_made_in_the_token_verifies_with_openssl() {
    let _guard = fixture::shared();
    let dir = Scratch::new("self-signed");
    for (label, spec) in [
        ("cert-p256", KeySpec::Ec(EcCurve::P256)),
        ("cert-p384", KeySpec::Ec(EcCurve::P384)),
        ("cert-rsa", KeySpec::Rsa(2048)),
        ("cert-ed25519", KeySpec::Ed25519),
    ] {
        let key = fresh_key(label, label.as_bytes(), spec);
        let params = cert::params(&format!("CN={label},O=hsm-jose tests"), 30).unwrap();
        let certificate = cert::self_signed(&key, &params).unwrap();
        let file = dir.write(&format!("{label}.pem"), certificate.pem());
        let (ok, text) = openssl(&["verify", "-CAfile", &file, &file]);
        assert!(ok && text.contains(": OK"), "{label}: {text}");
        let (ok, subject) = openssl(&["x509", "-in", &file, "-noout", "-subject"]);
        assert!(ok && subject.contains(label), "{label}: {subject}");
        // The certificate carries the token key's public key.
        assert!(
            x5c::leaf_carries(
                &Jwk::from_json(&key.public_json().unwrap()).unwrap(),
                certificate.der()
            )
            .unwrap(),
            "{label}"
        );
    }
}

#[test]
fn a_csr_made_in_the_token_verifies_with_openssl() {
    let _guard = fixture::shared();
    let dir = Scratch::new("csr");
    let key = fresh_key("csr-p256", b"csr-p256", KeySpec::Ec(EcCurve::P256));
    let params = cert::params("CN=csr.example,O=hsm-jose tests,C=DE", 30).unwrap();
    let csr = cert::signing_request(&key, &params).unwrap();
    let file = dir.write("csr.pem", csr.pem().unwrap());
    let (ok, text) = openssl(&["req", "-in", &file, "-verify", "-noout"]);
    assert!(ok && text.contains("verify OK"), "{text}");
}

#[test]
fn a_stored_certificate_is_published_as_x5c_in_the_jwk_and_the_jwks() {
    // Alone: the set of the whole token must not see the planted certificate of the test below.
    let _guard = fixture::exclusive();
    let key = fresh_key("x5c-p256", b"x5c-p256", KeySpec::Ec(EcCurve::P256));
    let params = cert::params("CN=x5c.example", 30).unwrap();
    let certificate = cert::self_signed(&key, &params).unwrap();
    cert::store(&key, certificate.der()).unwrap();

    // Storing it twice is refused.
    let again = cert::store(&key, certificate.der());
    assert!(
        matches!(again, Err(hsm_jose::Error::Token(ref e)) if matches!(**e, hsm_core::Error::Config { .. })),
        "{again:?}"
    );

    let pool = token().pool();
    {
        let session = pool.session().unwrap();
        let chain = certificate_chain(&session, "x5c-p256", b"x5c-p256").unwrap();
        assert_eq!(chain, vec![certificate.der().to_vec()]);
    }

    let with = key.with_certificates().unwrap();
    let public = Jwk::from_json(&with.public_json().unwrap()).unwrap();
    assert_eq!(
        x5c::chain(&public).unwrap(),
        vec![certificate.der().to_vec()]
    );
    assert_eq!(
        public.extra("x5t#S256").and_then(|v| v.as_str()),
        Some(x5c::thumbprint_s256(certificate.der()).as_str())
    );
    assert!(matches!(x5c::check_x5c(&public), Ok(())));

    // The token's JWK Set, asked for certificates, carries it too.
    let set = HsmJwkSet::from_token(&pool, KidSource::Label)
        .unwrap()
        .with_certificates()
        .unwrap();
    let jwks = JwkSet::from_json(&set.jwks_json()).unwrap();
    let published = jwks
        .keys()
        .iter()
        .find(|k| k.kid() == Some("x5c-p256"))
        .expect("the key is in the set");
    assert_eq!(
        x5c::chain(published).unwrap(),
        vec![certificate.der().to_vec()]
    );
    assert!(matches!(x5c::check_x5c(published), Ok(())));
    // Keys without certificates have no x5c.
    let plain = jwks
        .keys()
        .iter()
        .find(|k| k.kid() == Some("ec-p256"))
        .unwrap();
    assert!(plain.extra("x5c").is_none());
}

#[test]
fn a_certificate_that_carries_another_key_is_never_stored_nor_published() {
    let _guard = fixture::exclusive();
    let key = fresh_key("planted-cert", b"planted-cert", KeySpec::Ec(EcCurve::P256));
    let other = fresh_key(
        "planted-other",
        b"planted-other",
        KeySpec::Ec(EcCurve::P256),
    );
    let params = cert::params("CN=other", 30).unwrap();
    let foreign = cert::self_signed(&other, &params).unwrap();

    let refused = cert::store(&key, foreign.der());
    assert!(
        matches!(
            refused,
            Err(hsm_jose::Error::Jose(hsm_jose::jose_core::Error::Key(
                KeyError::InvalidMember { member: "x5c", .. }
            )))
        ),
        "{refused:?}"
    );

    // Planted directly on the token (certificates are public objects): never published.
    {
        let pool = token().pool();
        let session = pool.session_rw().unwrap();
        store_certificate(
            &session,
            &CertificateObject {
                der: foreign.der().to_vec(),
                subject: b"\x30\x00".to_vec(),
                issuer: b"\x30\x00".to_vec(),
                serial_number: None,
            },
            "planted-cert",
            b"planted-cert",
        )
        .unwrap();
    }
    let published = key.with_certificates();
    assert!(
        matches!(
            published,
            Err(hsm_jose::Error::Jose(hsm_jose::jose_core::Error::Key(
                KeyError::InvalidMember {
                    member: "x5c",
                    reason: "leaf certificate carries another public key"
                }
            )))
        ),
        "{:?}",
        published.as_ref().map(|_| ())
    );
    // The token's JWK Set, asked for certificates, refuses to publish it.
    let pool = token().pool();
    let set = HsmJwkSet::from_token(&pool, KidSource::Label)
        .unwrap()
        .with_certificates();
    assert!(
        matches!(
            set,
            Err(hsm_jose::Error::Jose(hsm_jose::jose_core::Error::Key(
                KeyError::InvalidMember { member: "x5c", .. }
            )))
        ),
        "{:?}",
        set.as_ref().map(|_| ())
    );
    // Leave the token without the planted certificate for the other tests.
    let session = pool.session_rw().unwrap();
    let template = [Attribute::Label(b"planted-cert".to_vec())];
    for handle in session.find_objects(&template).unwrap() {
        session.destroy_object(handle).unwrap();
    }
}

#[test]
fn ed448_and_p521_keys_are_refused_with_a_reason() {
    let _guard = fixture::shared();
    let key = fresh_key("cert-p521", b"cert-p521", KeySpec::Ec(EcCurve::P521));
    let params = cert::params("CN=p521", 30).unwrap();
    let refused = cert::self_signed(&key, &params);
    assert!(
        matches!(refused, Err(hsm_jose::Error::Certificate { .. })),
        "{:?}",
        refused.as_ref().map(|_| ())
    );
    assert!(matches!(
        cert::params("", 30),
        Err(hsm_jose::Error::Certificate {
            reason: "the subject is empty"
        })
    ));
    assert!(matches!(
        cert::params("XX=1", 30),
        Err(hsm_jose::Error::Certificate { .. })
    ));
}

#[test]
fn a_chain_issued_by_a_token_ca_is_read_back_leaf_first_and_verifies_with_openssl() {
    // Alone: stores certificates that the token's JWK Set would publish.
    let _guard = fixture::exclusive();
    let dir = Scratch::new("chain");
    let ca = fresh_key("chain-ca", b"chain-ca", KeySpec::Ec(EcCurve::P384));
    let leaf = fresh_key("chain-leaf", b"chain-leaf", KeySpec::Rsa(2048));
    let mut ca_params = cert::params("CN=hsm-jose test CA,O=hsm-jose tests", 30).unwrap();
    ca_params.is_ca = cert::rcgen::IsCa::Ca(cert::rcgen::BasicConstraints::Unconstrained);
    let ca_certificate = cert::self_signed(&ca, &ca_params).unwrap();
    cert::store(&ca, ca_certificate.der()).unwrap();
    let leaf_params = cert::params("CN=chain-leaf", 30).unwrap();
    let leaf_certificate = cert::signed_by(&leaf, &leaf_params, &ca, &ca_params).unwrap();
    cert::store(&leaf, leaf_certificate.der()).unwrap();

    let ca_file = dir.write("ca.pem", ca_certificate.pem());
    let leaf_file = dir.write("leaf.pem", leaf_certificate.pem());
    let (ok, text) = openssl(&["verify", "-CAfile", &ca_file, &leaf_file]);
    assert!(ok && text.contains(": OK"), "{text}");

    assert_eq!(
        cert::chain(&leaf).unwrap(),
        vec![
            leaf_certificate.der().to_vec(),
            ca_certificate.der().to_vec()
        ]
    );
    let published =
        Jwk::from_json(&leaf.with_certificates().unwrap().public_json().unwrap()).unwrap();
    assert_eq!(x5c::chain(&published).unwrap().len(), 2);
    assert!(matches!(x5c::check_x5c(&published), Ok(())));

    // Leave no certificates behind for the JWK Set test.
    let pool = token().pool();
    let session = pool.session_rw().unwrap();
    for label in ["chain-ca", "chain-leaf"] {
        let template = [Attribute::Label(label.as_bytes().to_vec())];
        for handle in session.find_objects(&template).unwrap() {
            session.destroy_object(handle).unwrap();
        }
    }
}
