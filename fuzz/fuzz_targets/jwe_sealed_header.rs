//! Any protected header behind a valid AES-GCM tag: the input is a header (first line) and a
//! plaintext (the rest), sealed as a compact `dir` JWE with the RFC 7520 section 5.6 key
//! (A128GCM). This reaches the header rules (`alg`, `enc`, `zip`, `crit`, duplicates) that
//! random tags never get past. Accepted only as dir + A128GCM, to the sealed plaintext; never
//! with `zip`; and a flipped tag bit is always refused.
#![no_main]

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use hsm_jose_fuzz::{ALL_ENC, ALL_KM, dir_key, split_line};
use jose_core::{ContentEncryption, KeyManagementAlgorithm, base64url, jwe};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, plaintext) = split_line(data);
    let (raw, key) = dir_key();
    let protected = base64url::encode(header);
    let iv = [7u8; 12];
    let cipher = Aes128Gcm::new_from_slice(raw).expect("a 16-byte key");
    let mut ciphertext = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::try_from(&iv[..]).expect("12 bytes"),
            protected.as_bytes(),
            ciphertext.as_mut_slice().into(),
        )
        .expect("a small plaintext");
    let token = |tag: &[u8]| {
        format!(
            "{protected}..{}.{}.{}",
            base64url::encode(&iv),
            base64url::encode(&ciphertext),
            base64url::encode(tag)
        )
    };
    let Ok(decrypted) = jwe::decrypt_compact(&token(&tag), key, ALL_KM, ALL_ENC) else {
        return;
    };
    assert_eq!(
        decrypted.plaintext(),
        plaintext,
        "another plaintext than the sealed one"
    );
    assert_eq!(decrypted.alg(), KeyManagementAlgorithm::Dir);
    assert_eq!(decrypted.enc(), ContentEncryption::A128Gcm);
    assert!(!decrypted.protected().contains("zip"), "zip accepted");
    for bit in [0, 64, 127] {
        let mut forged = tag.to_vec();
        forged[bit / 8] ^= 1 << (bit % 8);
        assert!(
            jwe::decrypt_compact(&token(&forged), key, ALL_KM, ALL_ENC).is_err(),
            "a forged tag opened"
        );
    }
});
