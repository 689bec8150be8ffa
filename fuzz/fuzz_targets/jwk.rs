//! JWK and JWK Set parsing: any input, as a key and as a set. No panic; what parses prints
//! back (public and private forms) to JSON that parses to a key with the same RFC 7638
//! thumbprint, and the public form holds no private member.
#![no_main]

use hsm_jose_fuzz::text;
use jose_core::{Jwk, JwkSet, KeySet, SoftwareKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = text(data) else { return };
    if let Ok(jwk) = Jwk::from_json(input) {
        let thumbprint = jwk.thumbprint();
        if let Ok(public) = jwk.to_public_json() {
            let back = Jwk::from_json(&public).expect("a public JWK we printed parses");
            assert_eq!(back.thumbprint(), thumbprint);
            assert!(!back.is_private(), "the public form is private");
        }
        let private = jwk.to_private_json();
        let back = Jwk::from_json(&private).expect("a JWK we printed parses");
        assert_eq!(back.thumbprint(), thumbprint);
        assert_eq!(back.is_private(), jwk.is_private());
        let _ = SoftwareKey::from_jwk(jwk);
    }
    if let Ok(set) = JwkSet::from_json(input) {
        let public = set.to_public_json();
        let back = JwkSet::from_json(&public).expect("a public JWK Set we printed parses");
        assert!(back.iter().all(|k| !k.is_private()));
        let _ = set.duplicate_kids();
        let _ = KeySet::from_jwk_set(&set);
    }
});
