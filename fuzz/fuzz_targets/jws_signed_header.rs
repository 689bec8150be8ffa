//! Any protected header behind a valid HS256 signature: the input is a header (first line)
//! and a payload (the rest), signed with the RFC 7520 section 4.4 key. This reaches the header
//! rules (`alg`, `crit`, `b64`, duplicates, types) that random signatures never get past.
//! The payload goes in both base64url-encoded and raw. Accepted only as HS256, with the
//! signed payload read as the header says, with `b64:false` only under `crit`; and a flipped
//! signature bit is always refused.
#![no_main]

use hsm_jose_fuzz::{hmac_key, split_line, text};
use jose_core::{JwsAlgorithm, KeyBackend, base64url, jws};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, payload) = split_line(data);
    let key = hmac_key();
    let protected = base64url::encode(header);
    let verifier = jws::Verifier::new(&[JwsAlgorithm::HS256]).allow_unencoded_payload();
    for encoded in [true, false] {
        let payload_part = if encoded {
            base64url::encode(payload)
        } else {
            match text(payload) {
                Some(p) if !p.contains('.') => p.to_owned(),
                _ => continue,
            }
        };
        let input = format!("{protected}.{payload_part}");
        let Ok(signature) = key.sign(JwsAlgorithm::HS256, input.as_bytes()) else {
            return;
        };
        let token = format!("{input}.{}", base64url::encode(&signature));
        let Ok(verified) = verifier.verify(&token, key) else {
            continue;
        };
        assert_eq!(verified.alg(), JwsAlgorithm::HS256);
        // The payload is the signed one, read as the header says: base64url unless b64:false.
        let b64 = verified.protected().b64();
        let expected = if b64 {
            base64url::decode("payload", &payload_part).expect("verified, so base64url")
        } else {
            payload_part.as_bytes().to_vec()
        };
        assert_eq!(
            verified.payload(),
            expected,
            "another payload than the signed one"
        );
        if encoded && b64 {
            assert_eq!(verified.payload(), payload);
        }
        if !b64 {
            let crit = verified.protected().crit().unwrap_or_default();
            assert!(crit.contains(&"b64"), "b64:false accepted without crit");
        }
        for bit in [0, 7, 8 * signature.len() - 1] {
            let mut forged = signature.clone();
            forged[bit / 8] ^= 1 << (bit % 8);
            let forged = format!("{input}.{}", base64url::encode(&forged));
            assert!(
                verifier.verify(&forged, key).is_err(),
                "a forged signature verified"
            );
        }
    }
});
