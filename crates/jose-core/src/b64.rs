//! Unpadded base64url (RFC 7515 section 2), strict: no padding, no whitespace, canonical
//! trailing bits. Encoding and decoding are constant-time (base64ct).

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::error::{Malformed, Result};

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes unpadded base64url; `part` names the input in the error.
pub fn decode(part: &'static str, text: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| Malformed::Base64(part).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn round_trip() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
            assert_eq!(decode("x", &encode(&bytes)).unwrap(), bytes);
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
}
