//! JWT claims validation. The input is used twice: as a token (signed, encrypted or nested,
//! checked against the RFC keys), and as the claims of a JWT signed with a valid HS256
//! signature, which reaches claim validation. Accepted claims always satisfy the policy:
//! `exp` present and not past (with the leeway), `nbf` and `iat` not in the future, the issuer
//! and the audience the ones required.
#![no_main]

use hsm_jose_fuzz::{ALL_ENC, ALL_JWS, ALL_KM, dir_key, hmac_key, text};
use jose_core::jwt::{Claims, Validation};
use jose_core::{JwsAlgorithm, KeyBackend, base64url};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000;
const LEEWAY: i64 = 30;

fuzz_target!(|data: &[u8]| {
    let key = hmac_key();
    let v = Validation::new()
        .jws_algorithms(ALL_JWS)
        .jwe_algorithms(ALL_KM, ALL_ENC)
        .at_time(NOW)
        .leeway(LEEWAY as u64)
        .issuer("issuer")
        .audience("audience");

    if let Some(input) = text(data) {
        let _ = v.verify(input, key);
        let _ = v.decrypt(input, &dir_key().1);
        let _ = v.decrypt_and_verify(input, &dir_key().1, key);
        if let Ok(claims) = Claims::from_json(input) {
            let _ = v.validate_claims(&claims);
            let _ = claims.to_json();
        }
    }

    let header = base64url::encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", base64url::encode(data));
    let Ok(signature) = key.sign(JwsAlgorithm::HS256, input.as_bytes()) else {
        return;
    };
    let token = format!("{input}.{}", base64url::encode(&signature));
    let Ok(jwt) = v.verify(&token, key) else {
        return;
    };
    let claims = jwt.claims();
    let exp = claims.exp().expect("exp is required");
    assert!(
        i128::from(NOW) < i128::from(exp) + i128::from(LEEWAY),
        "expired, accepted"
    );
    if let Some(nbf) = claims.nbf() {
        assert!(
            i128::from(nbf) <= i128::from(NOW) + i128::from(LEEWAY),
            "not yet valid, accepted"
        );
    }
    if let Some(iat) = claims.iat() {
        assert!(
            i128::from(iat) <= i128::from(NOW) + i128::from(LEEWAY),
            "issued in the future"
        );
    }
    assert_eq!(claims.iss(), Some("issuer"));
    assert!(claims.aud().contains(&"audience"), "another audience");
});
