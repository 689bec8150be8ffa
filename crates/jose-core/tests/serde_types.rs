//! serde for Jwk, JwkSet, Header and Claims (issue 16): round trips in a configuration
//! struct, private members absent unless asked for, and deserialization as strict as
//! `from_json` (invalid keys and repeated members refused).

use jose_core::Header;
use jose_core::error::{ClaimsError, KeyError};
use jose_core::jwk::{EcCurve, Jwk, JwkSet, OkpCurve};
use jose_core::jwt::Claims;
use serde::{Deserialize, Serialize};

const RSA_1024: &str = r#"{"kty":"RSA","kid":"legacy-1024","e":"AQAB","n":"h1huUY8wVCRfBPivbwDF5c0csC_6cXZiunPjl4NHwzdutJC5q27aKIljBajUsfD-Jsd5bC65PrUmllyyoZ3J6NwcU07iPrTMZTfyRhZGdOX1LlE7rps6NAMwJ3Wb-yaspL6juQG9-VAhgQAh2TzlC45NmwHqv_ev7REi2zXoazc"}"#;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct VerifierConfig {
    issuer: String,
    key: Jwk,
    trusted: JwkSet,
    header: Header,
    defaults: Claims,
}

#[derive(Serialize, Deserialize)]
struct SignerConfig {
    #[serde(with = "jose_core::jwk::with_private")]
    key: Jwk,
    #[serde(with = "jose_core::jwk::with_private")]
    hmac: JwkSet,
}

fn config() -> VerifierConfig {
    let key = Jwk::generate_ec(EcCurve::P256)
        .unwrap()
        .with_kid("k1")
        .to_public()
        .unwrap();
    let mut trusted = JwkSet::new();
    trusted
        .push(
            Jwk::generate_okp(OkpCurve::Ed25519)
                .unwrap()
                .with_kid("e1")
                .to_public()
                .unwrap(),
        )
        .unwrap();
    let mut header = Header::new();
    header.set("typ", "JWT").set("kid", "k1");
    VerifierConfig {
        issuer: "https://issuer.example".into(),
        key,
        trusted,
        header,
        defaults: Claims::new().audience("api").with("scope", "read"),
    }
}

#[test]
fn round_trip_in_a_config_struct() {
    let config = config();
    let text = serde_json::to_string(&config).unwrap();
    let again: VerifierConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(again, config);
    assert_eq!(again.key.thumbprint(), config.key.thumbprint());
    assert_eq!(again.header.kid(), Some("k1"));
    assert_eq!(again.defaults.aud(), vec!["api"]);
    // The same value as the crate's own JSON.
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value["key"].to_string(),
        config.key.to_public_json().unwrap()
    );
    assert_eq!(
        value["trusted"].to_string(),
        config.trusted.to_public_json()
    );
    assert_eq!(value["header"].to_string(), config.header.to_json());
    assert_eq!(value["defaults"].to_string(), config.defaults.to_json());
}

#[test]
fn private_members_are_absent_unless_asked_for() {
    let private = Jwk::generate_ec(EcCurve::P256).unwrap().with_kid("s1");
    let text = serde_json::to_string(&private).unwrap();
    assert!(!text.contains(r#""d""#), "{text}");
    assert_eq!(text, private.to_public_json().unwrap());

    let mut set = JwkSet::new();
    set.push(private.clone()).unwrap();
    set.push(Jwk::generate_oct(32).unwrap().with_kid("h1"))
        .unwrap();
    let text = serde_json::to_string(&set).unwrap();
    assert!(
        !text.contains(r#""d""#) && !text.contains(r#""k""#),
        "{text}"
    );
    assert_eq!(text, set.to_public_json());

    // A symmetric key alone has no public part.
    let err = serde_json::to_string(&Jwk::generate_oct(32).unwrap()).unwrap_err();
    assert!(err.to_string().contains("with_private"), "{err}");

    // On the explicit path, everything round-trips.
    let mut hmac = JwkSet::new();
    hmac.push(Jwk::generate_oct(32).unwrap().with_kid("h1"))
        .unwrap();
    let signer = SignerConfig {
        key: private.clone(),
        hmac,
    };
    let text = zeroize::Zeroizing::new(serde_json::to_string(&signer).unwrap());
    assert!(text.contains(r#""d":"#) && text.contains(r#""k":"#));
    let again: SignerConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(again.key, private);
    assert!(again.hmac.get("h1").unwrap().is_private());
}

#[test]
fn private_keys_are_refused_on_the_public_path() {
    let private = Jwk::generate_ec(EcCurve::P256).unwrap();
    let refused = KeyError::InvalidMember {
        member: "d",
        reason: "private key members are (de)serialized only through jose_core::jwk::with_private",
    }
    .to_string();
    let err = serde_json::from_str::<Jwk>(&private.to_private_json()).unwrap_err();
    assert!(err.to_string().starts_with(&refused), "{err}");
    let set = format!(r#"{{"keys":[{}]}}"#, private.to_private_json().as_str());
    let err = serde_json::from_str::<JwkSet>(&set).unwrap_err();
    assert!(err.to_string().starts_with(&refused), "{err}");
    let oct = r#"{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}"#;
    let err = serde_json::from_str::<Jwk>(oct).unwrap_err();
    assert!(
        err.to_string().starts_with(
            &KeyError::InvalidMember {
                member: "k",
                reason:
                    "private key members are (de)serialized only through jose_core::jwk::with_private",
            }
            .to_string()
        ),
        "{err}"
    );
}

#[test]
fn deserialization_validates_as_from_json() {
    // An invalid key: the error is the one from_json gives.
    assert!(matches!(
        Jwk::from_json(RSA_1024),
        Err(jose_core::Error::Key(KeyError::RsaModulusTooSmall(1024)))
    ));
    let expected = jose_core::Error::from(KeyError::RsaModulusTooSmall(1024)).to_string();
    let err = serde_json::from_str::<Jwk>(RSA_1024).unwrap_err();
    assert!(
        err.to_string().starts_with(&expected),
        "{err} vs {expected}"
    );
    let err = serde_json::from_str::<JwkSet>(&format!(r#"{{"keys":[{RSA_1024}]}}"#)).unwrap_err();
    assert!(err.to_string().starts_with(&expected), "{err}");
    // An unsupported kty in a set is skipped, as from_json skips it.
    let set: JwkSet = serde_json::from_str(r#"{"keys":[{"kty":"PQC"}]}"#).unwrap();
    assert!(set.is_empty());

    // Claims and headers are type-checked.
    let expected = jose_core::Error::from(ClaimsError::WrongType("exp".into())).to_string();
    let err = serde_json::from_str::<Claims>(r#"{"exp":"never"}"#).unwrap_err();
    assert!(err.to_string().starts_with(&expected), "{err}");
    let err = serde_json::from_str::<Header>(r#"{"kid":7}"#).unwrap_err();
    assert!(matches!(
        Header::from_map(serde_json::from_str(r#"{"kid":7}"#).unwrap()),
        Err(jose_core::Error::Malformed(_))
    ));
    assert!(err.to_string().contains("kid"), "{err}");
}

#[test]
fn repeated_members_stay_an_error() {
    for (text, which) in [
        (r#"{"alg":"HS256","alg":"none"}"#, "header"),
        (r#"{"sub":"a","sub":"b"}"#, "claims"),
        (r#"{"kty":"EC","kty":"oct"}"#, "jwk"),
        (
            r#"{"keys":[{"kty":"EC","crv":"P-256","crv":"P-384"}]}"#,
            "set",
        ),
    ] {
        let err = match which {
            "header" => serde_json::from_str::<Header>(text).map(drop).unwrap_err(),
            "claims" => serde_json::from_str::<Claims>(text).map(drop).unwrap_err(),
            "jwk" => serde_json::from_str::<Jwk>(text).map(drop).unwrap_err(),
            _ => serde_json::from_str::<JwkSet>(text).map(drop).unwrap_err(),
        };
        let name = if which == "set" { "crv" } else { &text[2..5] };
        assert!(
            err.to_string()
                .starts_with(&format!("duplicate member: {name} at line 1")),
            "{which}: {err}"
        );
    }
}
