//! Unpadded base64url (RFC 7515 section 2), strict: no padding, no whitespace, canonical
//! trailing bits.
//!
//! Two implementations with the same strictness, chosen by what the bytes are:
//! * [`encode`]/[`decode`] for PUBLIC bytes (JWS headers, payloads and signatures; JWE headers,
//!   IVs, ciphertexts, tags, encrypted keys): `base64-simd`, which picks AVX2, SSE4.1 or NEON at
//!   run time (a table otherwise). On this project's bench machine it encodes 1.3 KB in 0.20 µs
//!   and decodes it in 0.27 µs, where the table-driven `base64` crate took 0.75 and 0.81 µs: the
//!   difference is a tenth of the JOSE work around a 20 µs RSA verification. Nothing secret
//!   passes through it: a JWE's plaintext and content key never exist in base64.
//! * [`encode_secret`]/[`decode_secret`] for SECRETS (private JWK members, symmetric keys):
//!   `base64ct`, constant-time, so the timing of parsing a key does not depend on its bits.

use base64_simd::URL_SAFE_NO_PAD;
use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::{Malformed, Result};

/// Encodes public bytes as unpadded base64url (fast, not constant-time).
pub(crate) fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode_to_string(bytes)
}

/// Appends the unpadded base64url of public bytes to `out` (fast, not constant-time).
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    URL_SAFE_NO_PAD.encode_append(bytes, out);
}

/// The length of the unpadded base64url of `len` bytes.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len / 3 * 4
        + match len % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Decodes public unpadded base64url (fast, not constant-time); `part` names the input in the
/// error. The same strictness as [`decode_secret`]: no padding, no whitespace, canonical
/// trailing bits.
pub(crate) fn decode(part: &'static str, text: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode_to_vec(text)
        .map_err(|_| Malformed::Base64(part).into())
}

/// Encodes secret bytes as unpadded base64url, in constant time.
pub fn encode_secret(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes secret unpadded base64url, in constant time; `part` names the input in the error.
pub fn decode_secret(part: &'static str, text: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| Malformed::Base64(part).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn round_trip() {
        // Past 100 bytes: the SIMD paths take the long inputs, the scalar ones the tails.
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            assert_eq!(decode("x", &encode(&bytes)).unwrap(), bytes);
            assert_eq!(decode_secret("x", &encode_secret(&bytes)).unwrap(), bytes);
            assert_eq!(encode(&bytes), encode_secret(&bytes), "both codecs agree");
            assert_eq!(encoded_len(bytes.len()), encode(&bytes).len());
            let mut appended = String::from("x.");
            encode_into(&bytes, &mut appended);
            assert_eq!(appended, format!("x.{}", encode(&bytes)));
        }
    }

    #[test]
    fn both_codecs_refuse_the_same_inputs() {
        for bad in ["AQ==", "AQ=", " AQ", "A Q", "+/8", "AR", "A", "AQ\n", "A=Q"] {
            let public = decode("x", bad);
            let secret = decode_secret("x", bad);
            assert!(
                matches!(
                    (&public, &secret),
                    (
                        Err(crate::error::Error::Malformed(
                            crate::error::Malformed::Base64("x")
                        )),
                        Err(crate::error::Error::Malformed(
                            crate::error::Malformed::Base64("x")
                        ))
                    )
                ),
                "{bad:?}: public {public:?}, secret {secret:?}"
            );
        }
    }

    #[test]
    fn rejects_padding_whitespace_standard_alphabet_and_non_canonical_bits() {
        for bad in ["AQ==", "AQ=", " AQ", "A Q", "+/8", "AR", "AQI", "A"] {
            // "AR" decodes to 0x01 with non-zero unused bits; "A" is an impossible length.
            if bad == "AQI" {
                // AQI is canonical for [1, 2]: a control that must decode.
                assert_eq!(decode("x", bad).unwrap(), vec![1, 2]);
                continue;
            }
            assert!(
                decode("x", bad)
                    .is_err_and(|e| matches!(e, Error::Malformed(Malformed::Base64("x")))),
                "{bad:?} must be rejected"
            );
        }
    }

    /// The fast codec and the constant-time one accept exactly the same short texts (every
    /// text of up to 5 characters over an alphabet with both base64 alphabets' special
    /// characters, padding, whitespace and bytes whose unused bits are non-zero) and decode
    /// them to the same bytes; longer texts are covered by the token tests and the property
    /// tests.
    #[test]
    fn both_codecs_agree_on_every_short_text() {
        const CHARS: &[u8] = b"AQgw_-+/= 9z.";
        let mut text = Vec::new();
        for len in 1..=5u32 {
            for n in 0..CHARS.len().pow(len) {
                text.clear();
                let mut k = n;
                for _ in 0..len {
                    text.push(CHARS[k % CHARS.len()]);
                    k /= CHARS.len();
                }
                let t = std::str::from_utf8(&text).unwrap();
                let (fast, ct) = (decode("x", t).ok(), decode_secret("x", t).ok());
                assert_eq!(fast, ct, "{t:?}");
            }
        }
    }
}
