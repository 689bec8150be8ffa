//! The lenient parse for verifiers (issue 16's gateway test): a set with an unusable key and
//! an unsupported key type verifies tokens signed by the other keys and reports the skipped
//! ones with index, kid and reason.

use jose_core::error::KeyError;
use jose_core::jwk::EcCurve;
use jose_core::jwt::{self, Claims, Validation};
use jose_core::{JwsAlgorithm, SoftwareKey};
use jose_jwks::{NotAJwkSetError, SkipReason, parse_jwk_set};

/// A 1024-bit RSA modulus (odd, top bit set): below jose-core's 2048-bit minimum.
const RSA_1024: &str = r#"{"kty":"RSA","kid":"legacy-1024","e":"AQAB","n":"h1huUY8wVCRfBPivbwDF5c0csC_6cXZiunPjl4NHwzdutJC5q27aKIljBajUsfD-Jsd5bC65PrUmllyyoZ3J6NwcU07iPrTMZTfyRhZGdOX1LlE7rps6NAMwJ3Wb-yaspL6juQG9-VAhgQAh2TzlC45NmwHqv_ev7REi2zXoazc"}"#;

fn token(key: &SoftwareKey, alg: JwsAlgorithm) -> String {
    let claims = Claims::new().subject("alice").expires_at(4_000_000_000);
    jwt::sign(&claims, key, alg, None).unwrap()
}

#[test]
fn unusable_keys_are_skipped_and_reported_the_others_verify() {
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("ec-1");
    let ed = SoftwareKey::generate_ed25519().unwrap().with_kid("ed-1");
    let set = format!(
        r#"{{"keys":[{ec},{RSA_1024},{{"kty":"PQC","kid":"ml-dsa-1","pub":"AAAA"}},{ed},{ec2},{{"kty":"oct","k":"c2VjcmV0"}},17]}}"#,
        ec = ec.jwk().to_public_json().unwrap(),
        ed = ed.jwk().to_public_json().unwrap(),
        // A second key under an existing kid: the first one stays.
        ec2 = SoftwareKey::generate_ec(EcCurve::P256)
            .unwrap()
            .with_kid("ec-1")
            .jwk()
            .to_public_json()
            .unwrap(),
    );
    let parsed = parse_jwk_set(set.as_bytes()).unwrap();
    assert_eq!(parsed.keys.len(), 2);

    let validation = Validation::new().jws_algorithms(&[JwsAlgorithm::ES256, JwsAlgorithm::EdDSA]);
    let jwt = validation
        .verify_with(&token(&ec, JwsAlgorithm::ES256), &parsed.keys)
        .unwrap();
    assert_eq!(jwt.claims().sub(), Some("alice"));
    validation
        .verify_with(&token(&ed, JwsAlgorithm::EdDSA), &parsed.keys)
        .unwrap();

    let skipped: Vec<(usize, Option<&str>)> = parsed
        .skipped
        .iter()
        .map(|s| (s.index, s.kid.as_deref()))
        .collect();
    assert_eq!(
        skipped,
        [
            (1, Some("legacy-1024")),
            (2, Some("ml-dsa-1")),
            (4, Some("ec-1")),
            (5, None),
            (6, None)
        ]
    );
    let reasons: Vec<&SkipReason> = parsed.skipped.iter().map(|s| &s.reason).collect();
    assert!(
        matches!(
            reasons[0],
            SkipReason::Invalid(jose_core::Error::Key(KeyError::RsaModulusTooSmall(1024)))
        ),
        "{:?}",
        reasons[0]
    );
    assert!(
        matches!(reasons[1], SkipReason::Invalid(jose_core::Error::Key(KeyError::UnsupportedKeyType(t))) if t == "PQC")
    );
    assert!(matches!(reasons[2], SkipReason::DuplicateKid));
    assert!(matches!(reasons[3], SkipReason::Symmetric));
    assert!(
        matches!(
            reasons[4],
            SkipReason::Invalid(jose_core::Error::Key(KeyError::Json(_)))
        ),
        "{:?}",
        reasons[4]
    );
    assert_eq!(
        parsed.skipped[0].to_string(),
        "key 1 (kid `legacy-1024`): key: RSA modulus of 1024 bits is below the 2048-bit minimum"
    );
}

#[test]
fn private_members_are_dropped() {
    let ec = SoftwareKey::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("leaked");
    let set = format!(r#"{{"keys":[{}]}}"#, ec.jwk().to_private_json().as_str());
    let parsed = parse_jwk_set(set.as_bytes()).unwrap();
    assert!(parsed.skipped.is_empty());
    let key = jose_core::KeyStore::key_by_kid(&parsed.keys, "leaked").unwrap();
    assert!(!key.public_jwk().unwrap().is_private());
    let r = key.sign(JwsAlgorithm::ES256, b"input");
    assert!(
        matches!(r, Err(jose_core::Error::Key(KeyError::PublicOnly))),
        "{r:?}"
    );
}

#[test]
fn documents_that_are_no_set_at_all() {
    for (body, reason) in [
        (&b"[]"[..], "not a JSON object"),
        (b"{\"keys\":{}}", "no `keys` array"),
        (b"{}", "no `keys` array"),
    ] {
        assert_eq!(
            parse_jwk_set(body).unwrap_err(),
            NotAJwkSetError(reason.into())
        );
    }
    assert!(
        matches!(parse_jwk_set(b"<html>"), Err(NotAJwkSetError(r)) if r.starts_with("not JSON"))
    );
}
