//! JWT claim validation: times with leeway at the edges, audiences, issuer, subject, required
//! claims, wrong types, `typ`, deserialization, key sets, and RFC 7520 section 6 through the
//! JWT API.
// Helpers outside `#[test]` functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod jwe_support;

use jose_core::error::{AlgorithmError, ClaimsError, Malformed};
use jose_core::jwt::{self, Claims, Validation};
use jose_core::{
    ContentEncryption as Enc, Error, Header, JwsAlgorithm, KeyManagementAlgorithm as Alg, KeySet,
    SoftwareKey, jws,
};
use jwe_support::*;
use serde_json::json;

const NOW: i64 = 1_700_000_000;

fn hmac() -> SoftwareKey {
    SoftwareKey::from_json(r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#).unwrap()
}

fn v() -> Validation {
    Validation::new()
        .jws_algorithms(&[JwsAlgorithm::HS256])
        .at_time(NOW)
}

fn token(claims: &Claims) -> String {
    jwt::sign(claims, &hmac(), JwsAlgorithm::HS256, None).unwrap()
}

/// Validates `claims` (signed with the test key) under `v`.
fn check(v: &Validation, claims: Claims) -> Result<jwt::Jwt, Error> {
    v.verify(&token(&claims), &hmac())
}

/// A token over a raw payload, for claims the `Claims` type would refuse to build.
fn raw(payload: &str) -> String {
    jws::sign_compact(&hmac(), JwsAlgorithm::HS256, payload.as_bytes(), None).unwrap()
}

#[track_caller]
fn claims_err<T: std::fmt::Debug>(r: Result<T, Error>, want: ClaimsError) {
    match r {
        Err(Error::Claims(got)) => assert_eq!(got, want),
        other => panic!("expected {want:?}, got {other:?}"),
    }
}

#[test]
fn exp_with_default_leeway_edges() {
    let exp = |t| check(&v(), Claims::new().expires_at(t));
    claims_err(exp(NOW - 60), ClaimsError::Expired);
    claims_err(exp(NOW - 1000), ClaimsError::Expired);
    assert!(exp(NOW - 59).is_ok());
    assert!(exp(NOW + 3600).is_ok());
}

#[test]
fn exp_with_configured_leeway_edges() {
    let exp = |l, t| check(&v().leeway(l), Claims::new().expires_at(t));
    claims_err(exp(0, NOW), ClaimsError::Expired);
    assert!(exp(0, NOW + 1).is_ok());
    claims_err(exp(300, NOW - 300), ClaimsError::Expired);
    assert!(exp(300, NOW - 299).is_ok());
    // Fractional NumericDates are compared as they are.
    let t = raw(&format!(r#"{{"exp":{}.5}}"#, NOW));
    assert!(v().leeway(0).verify(&t, &hmac()).is_ok());
    let t = raw(&format!(r#"{{"exp":{}.5}}"#, NOW - 1));
    claims_err(v().leeway(0).verify(&t, &hmac()), ClaimsError::Expired);
}

#[test]
fn nbf_edges() {
    let base = || Claims::new().expires_at(NOW + 3600);
    assert!(check(&v(), base().not_before(NOW + 60)).is_ok());
    claims_err(
        check(&v(), base().not_before(NOW + 61)),
        ClaimsError::NotYetValid,
    );
    assert!(check(&v().leeway(0), base().not_before(NOW)).is_ok());
    claims_err(
        check(&v().leeway(0), base().not_before(NOW + 1)),
        ClaimsError::NotYetValid,
    );
}

#[test]
fn iat_not_in_the_future() {
    let base = || Claims::new().expires_at(NOW + 3600);
    assert!(check(&v(), base().issued_at(NOW - 10)).is_ok());
    assert!(check(&v(), base().issued_at(NOW + 60)).is_ok());
    claims_err(
        check(&v(), base().issued_at(NOW + 61)),
        ClaimsError::IssuedInFuture,
    );
    claims_err(
        check(&v().leeway(0), base().issued_at(NOW + 1)),
        ClaimsError::IssuedInFuture,
    );
}

#[test]
fn exp_is_required_by_default_and_other_claims_on_request() {
    claims_err(
        check(&v(), Claims::new().subject("s")),
        ClaimsError::Missing("exp".into()),
    );
    assert!(check(&v().required_claims(&[]), Claims::new().subject("s")).is_ok());
    let c = Claims::new().expires_at(NOW + 10);
    claims_err(
        check(&v().require("jti"), c.clone()),
        ClaimsError::Missing("jti".into()),
    );
    assert!(check(&v().require("jti"), c.jwt_id("1")).is_ok());
}

#[test]
fn audience_string_or_array() {
    let c = || Claims::new().expires_at(NOW + 10);
    let api = v().audience("api");
    assert!(check(&api, c().audience("api")).is_ok());
    assert!(check(&api, c().audiences(["other", "api"])).is_ok());
    assert!(check(&v().audience("x").audience("api"), c().audience("api")).is_ok());
    claims_err(
        check(&api, c().audience("apis")),
        ClaimsError::Mismatch("aud"),
    );
    claims_err(
        check(&api, c().audiences(["other"])),
        ClaimsError::Mismatch("aud"),
    );
    claims_err(
        check(&api, c().audiences(Vec::<String>::new())),
        ClaimsError::Mismatch("aud"),
    );
    claims_err(check(&api, c()), ClaimsError::Missing("aud".into()));
    // A token meant for an audience is refused by a caller that names none (RFC 7519 4.1.3).
    claims_err(
        check(&v(), c().audience("api")),
        ClaimsError::Mismatch("aud"),
    );
}

#[test]
fn issuer_and_subject() {
    let c = || Claims::new().expires_at(NOW + 10);
    let iss = v().issuer("https://a.example").issuer("https://b.example");
    assert!(check(&iss, c().issuer("https://b.example")).is_ok());
    claims_err(
        check(&iss, c().issuer("https://c.example")),
        ClaimsError::Mismatch("iss"),
    );
    claims_err(check(&iss, c()), ClaimsError::Missing("iss".into()));
    let sub = v().subject("alice");
    assert!(check(&sub, c().subject("alice")).is_ok());
    claims_err(
        check(&sub, c().subject("Alice")),
        ClaimsError::Mismatch("sub"),
    );
    claims_err(check(&sub, c()), ClaimsError::Missing("sub".into()));
}

#[test]
fn wrong_claim_types_are_rejected_not_ignored() {
    let lax = v().required_claims(&[]);
    for (payload, claim) in [
        (r#"{"exp":"never"}"#, "exp"),
        (r#"{"nbf":"999"}"#, "nbf"),
        (r#"{"iat":true}"#, "iat"),
        (r#"{"exp":null}"#, "exp"),
        (r#"{"iss":5}"#, "iss"),
        (r#"{"sub":{"id":1}}"#, "sub"),
        (r#"{"jti":[]}"#, "jti"),
        (r#"{"aud":5}"#, "aud"),
        (r#"{"aud":["a",1]}"#, "aud"),
    ] {
        claims_err(
            lax.verify(&raw(payload), &hmac()),
            ClaimsError::WrongType(claim.into()),
        );
    }
    // Producers cannot emit them either.
    let err = jwt::sign(
        &Claims::new().with("exp", "never"),
        &hmac(),
        JwsAlgorithm::HS256,
        None,
    );
    claims_err(err, ClaimsError::WrongType("exp".into()));
}

#[test]
fn claims_must_be_a_strict_json_object() {
    let lax = v().required_claims(&[]);
    claims_err(lax.verify(&raw("[1,2]"), &hmac()), ClaimsError::NotAnObject);
    claims_err(lax.verify(&raw("\"x\""), &hmac()), ClaimsError::NotAnObject);
    assert!(matches!(
        lax.verify(&raw("not json"), &hmac()),
        Err(Error::Malformed(Malformed::Json { .. }))
    ));
    assert!(matches!(
        lax.verify(&raw(r#"{"sub":"a","sub":"b"}"#), &hmac()),
        Err(Error::Malformed(Malformed::DuplicateMember { .. }))
    ));
}

#[test]
fn typ_is_checked_on_request() {
    let c = Claims::new().expires_at(NOW + 10);
    // jwt::sign sets typ JWT.
    assert!(check(&v().typ("JWT"), c.clone()).is_ok());
    assert!(check(&v().typ("application/jwt"), c.clone()).is_ok());
    let at = jwt::sign(
        &c,
        &hmac(),
        JwsAlgorithm::HS256,
        Some(&Header::new().with("typ", "at+jwt")),
    )
    .unwrap();
    claims_err(v().typ("JWT").verify(&at, &hmac()), ClaimsError::Type);
    assert!(v().typ("at+JWT").verify(&at, &hmac()).is_ok());
    let untyped =
        jws::sign_compact(&hmac(), JwsAlgorithm::HS256, c.to_json().as_bytes(), None).unwrap();
    claims_err(v().typ("JWT").verify(&untyped, &hmac()), ClaimsError::Type);
    assert!(
        v().verify(&untyped, &hmac()).is_ok(),
        "typ is not required unless asked"
    );
}

#[derive(Debug, serde::Deserialize, PartialEq)]
struct Access {
    sub: String,
    exp: i64,
    roles: Vec<String>,
    #[serde(default)]
    tenant: Option<String>,
}

#[test]
fn claims_deserialize_into_a_struct() {
    let c = Claims::new()
        .subject("alice")
        .expires_at(NOW + 10)
        .with("roles", json!(["admin", "ops"]));
    let jwt = check(&v(), c).unwrap();
    let access: Access = jwt.deserialize().unwrap();
    assert_eq!(
        access,
        Access {
            sub: "alice".into(),
            exp: NOW + 10,
            roles: vec!["admin".into(), "ops".into()],
            tenant: None
        }
    );
    assert_eq!(jwt.claims().get("roles").unwrap()[1], "ops");
    // A shape that does not fit is a clear error.
    let no_roles = check(&v(), Claims::new().subject("a").expires_at(NOW + 10)).unwrap();
    assert!(matches!(
        no_roles.deserialize::<Access>(),
        Err(Error::Claims(ClaimsError::Deserialize(_)))
    ));
    // And the other way: claims from a struct.
    #[derive(serde::Serialize)]
    struct Out {
        sub: &'static str,
        exp: i64,
    }
    let c = Claims::from_serialize(&Out {
        sub: "s",
        exp: NOW + 5,
    })
    .unwrap();
    assert_eq!(check(&v(), c).unwrap().claims().sub(), Some("s"));
    assert!(
        Claims::from_serialize(&[1, 2])
            .is_err_and(|e| matches!(e, Error::Claims(ClaimsError::NotAnObject)))
    );
}

#[test]
fn algorithms_come_from_the_caller() {
    let t = token(&Claims::new().expires_at(NOW + 10));
    let err = Validation::new()
        .at_time(NOW)
        .verify(&t, &hmac())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Algorithm(AlgorithmError::NotAllowed(_))
    ));
    let err = v()
        .jws_algorithms(&[JwsAlgorithm::HS384])
        .verify(&t, &hmac())
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Algorithm(AlgorithmError::NotAllowed(_))
    ));
    let enc = jwt::encrypt(
        &Claims::new().expires_at(NOW + 10),
        &hmac(),
        Alg::Dir,
        Enc::A256CbcHs512,
        None,
    )
    .unwrap();
    let err = v().decrypt(&enc, &hmac()).unwrap_err();
    assert!(matches!(
        err,
        Error::Algorithm(AlgorithmError::NotAllowed(_))
    ));
}

#[test]
fn encrypted_jwt_round_trip_with_key_sets() {
    let key = SoftwareKey::generate_oct(16).unwrap().with_kid("enc-1");
    let claims = Claims::new().issuer("me").expires_at(NOW + 10);
    let t = jwt::encrypt(&claims, &key, Alg::A128KW, Enc::A128CbcHs256, None).unwrap();
    let val = v()
        .jwe_algorithms(&[Alg::A128KW], &[Enc::A128CbcHs256])
        .issuer("me")
        .typ("JWT");
    let jwt = val.decrypt(&t, &key).unwrap();
    assert_eq!(jwt.claims().iss(), Some("me"));
    assert_eq!(jwt.encryption_header().unwrap().kid(), Some("enc-1"));
    let mut set = KeySet::new();
    set.push(SoftwareKey::generate_oct(16).unwrap().with_kid("enc-0"))
        .unwrap();
    set.push(key).unwrap();
    assert!(val.decrypt_with(&t, &set).is_ok());
    // Claim checks apply to encrypted JWTs too.
    claims_err(
        val.clone().at_time(NOW + 100).decrypt_with(&t, &set),
        ClaimsError::Expired,
    );

    let signer = SoftwareKey::generate_ed25519().unwrap().with_kid("sig-1");
    let t = jwt::sign(&claims, &signer, JwsAlgorithm::EdDSA, None).unwrap();
    let mut set = KeySet::new();
    set.push(SoftwareKey::from_jwk(signer.jwk().to_public().unwrap()).unwrap())
        .unwrap();
    assert!(
        v().jws_algorithms(&[JwsAlgorithm::EdDSA])
            .verify_with(&t, &set)
            .is_ok()
    );
}

#[test]
fn nested_jwt_round_trip() {
    let signer = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)
        .unwrap()
        .with_kid("s");
    let recipient = rsa_key().with_kid("r");
    let claims = Claims::new().subject("bob").expires_at(NOW + 10);
    let t = jwt::sign_then_encrypt(
        &claims,
        &signer,
        JwsAlgorithm::ES256,
        &public(&recipient),
        Alg::RsaOaep256,
        Enc::A256Gcm,
    )
    .unwrap();
    let val = v()
        .jws_algorithms(&[JwsAlgorithm::ES256])
        .jwe_algorithms(&[Alg::RsaOaep256], &[Enc::A256Gcm])
        .subject("bob")
        .typ("JWT");
    let jwt = val
        .decrypt_and_verify(&t, &recipient, &public(&signer))
        .unwrap();
    assert_eq!(jwt.header().kid(), Some("s"));
    assert_eq!(jwt.encryption_header().unwrap().cty(), Some("JWT"));
    assert_eq!(jwt.encryption_header().unwrap().kid(), Some("r"));
    let (mut dk, mut vk) = (KeySet::new(), KeySet::new());
    dk.push(rsa_key().with_kid("r")).unwrap();
    vk.push(public(&signer)).unwrap();
    assert!(val.decrypt_and_verify_with(&t, &dk, &vk).is_ok());
    claims_err(
        val.clone()
            .subject("eve")
            .decrypt_and_verify(&t, &recipient, &public(&signer)),
        ClaimsError::Mismatch("sub"),
    );
}

#[test]
fn rfc7520_6_nested_jwt_through_the_jwt_api() {
    let vec6 = vector("6");
    let signer = key(&vec6["sign"]["input"]["key"]);
    let recipient = key(&vec6["encrypt"]["input"]["key"]);
    let token = vec6["encrypt"]["output"]["compact"].as_str().unwrap();
    let exp = 1_300_819_380;
    let val = Validation::new()
        .jws_algorithms(&[JwsAlgorithm::PS256])
        .jwe_algorithms(&[Alg::RsaOaep], &[Enc::A128Gcm])
        .issuer("hobbiton.example")
        .typ("JWT")
        .at_time(exp - 100);
    let jwt = val
        .decrypt_and_verify(token, &recipient, &public(&signer))
        .unwrap();
    assert_eq!(jwt.claims().exp(), Some(exp));
    assert_eq!(
        jwt.claims().get("http://example.com/is_root"),
        Some(&json!(true))
    );
    // The example's token expired in 2011.
    claims_err(
        val.clone()
            .at_time(exp + 60)
            .decrypt_and_verify(token, &recipient, &public(&signer)),
        ClaimsError::Expired,
    );
    assert!(
        Validation::new()
            .jws_algorithms(&[JwsAlgorithm::PS256])
            .jwe_algorithms(&[Alg::RsaOaep], &[Enc::A128Gcm])
            .decrypt_and_verify(token, &recipient, &public(&signer))
            .is_err_and(|e| matches!(e, Error::Claims(ClaimsError::Expired)))
    );
}
