//! Algorithm identifiers (RFC 7518, RFC 8037).
//!
//! Parsing is strict: `none` and `RSA1_5` are refused outright (they cannot be enabled), and any
//! unknown name is an error. There is no way to construct an "unsecured" JWS.

use std::fmt;
use std::str::FromStr;

use crate::error::{AlgorithmError, Error};

/// Names refused on principle, compared case-insensitively.
const REFUSED: &[&str] = &["none", "RSA1_5"];

fn refused_or_unknown(name: &str) -> Error {
    if REFUSED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        AlgorithmError::Refused(name.to_owned()).into()
    } else {
        AlgorithmError::Unknown(name.to_owned()).into()
    }
}

macro_rules! names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        $vis enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The registered name, as it appears in a header.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(refused_or_unknown(other)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// A JWS signature or MAC algorithm (RFC 7518 section 3, RFC 8037 for `EdDSA`).
    pub enum JwsAlgorithm {
        /// HMAC with SHA-256.
        HS256 = "HS256",
        /// HMAC with SHA-384.
        HS384 = "HS384",
        /// HMAC with SHA-512.
        HS512 = "HS512",
        /// RSASSA-PKCS1-v1_5 with SHA-256.
        RS256 = "RS256",
        /// RSASSA-PKCS1-v1_5 with SHA-384.
        RS384 = "RS384",
        /// RSASSA-PKCS1-v1_5 with SHA-512.
        RS512 = "RS512",
        /// RSASSA-PSS with SHA-256, MGF1-SHA-256, salt of 32 bytes.
        PS256 = "PS256",
        /// RSASSA-PSS with SHA-384, MGF1-SHA-384, salt of 48 bytes.
        PS384 = "PS384",
        /// RSASSA-PSS with SHA-512, MGF1-SHA-512, salt of 64 bytes.
        PS512 = "PS512",
        /// ECDSA on P-256 with SHA-256.
        ES256 = "ES256",
        /// ECDSA on P-384 with SHA-384.
        ES384 = "ES384",
        /// ECDSA on P-521 with SHA-512.
        ES512 = "ES512",
        /// EdDSA (Ed25519 or Ed448, chosen by the key's curve).
        EdDSA = "EdDSA",
    }
}

names! {
    /// A JWE key management algorithm (RFC 7518 section 4).
    pub enum KeyManagementAlgorithm {
        /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
        RsaOaep = "RSA-OAEP",
        /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
        RsaOaep256 = "RSA-OAEP-256",
        /// AES-128 key wrap (RFC 3394).
        A128KW = "A128KW",
        /// AES-192 key wrap (RFC 3394).
        A192KW = "A192KW",
        /// AES-256 key wrap (RFC 3394).
        A256KW = "A256KW",
        /// AES-128-GCM key encryption.
        A128GCMKW = "A128GCMKW",
        /// AES-192-GCM key encryption.
        A192GCMKW = "A192GCMKW",
        /// AES-256-GCM key encryption.
        A256GCMKW = "A256GCMKW",
        /// Direct use of a shared symmetric key as the content encryption key.
        Dir = "dir",
        /// ECDH-ES key agreement; the agreed key is the content encryption key.
        EcdhEs = "ECDH-ES",
        /// ECDH-ES key agreement, then AES-128 key wrap.
        EcdhEsA128KW = "ECDH-ES+A128KW",
        /// ECDH-ES key agreement, then AES-192 key wrap.
        EcdhEsA192KW = "ECDH-ES+A192KW",
        /// ECDH-ES key agreement, then AES-256 key wrap.
        EcdhEsA256KW = "ECDH-ES+A256KW",
    }
}

names! {
    /// A JWE content encryption algorithm (RFC 7518 section 5).
    pub enum ContentEncryption {
        /// AES-128-CBC with HMAC-SHA-256 truncated to 128 bits.
        A128CbcHs256 = "A128CBC-HS256",
        /// AES-192-CBC with HMAC-SHA-384 truncated to 192 bits.
        A192CbcHs384 = "A192CBC-HS384",
        /// AES-256-CBC with HMAC-SHA-512 truncated to 256 bits.
        A256CbcHs512 = "A256CBC-HS512",
        /// AES-128-GCM.
        A128Gcm = "A128GCM",
        /// AES-192-GCM.
        A192Gcm = "A192GCM",
        /// AES-256-GCM.
        A256Gcm = "A256GCM",
    }
}

impl JwsAlgorithm {
    /// Whether this is an HMAC algorithm (symmetric key).
    pub const fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// The size in bytes of the SHA-2 digest this algorithm uses (none for EdDSA, which hashes
    /// internally).
    pub const fn digest_len(self) -> Option<usize> {
        match self {
            Self::HS256 | Self::RS256 | Self::PS256 | Self::ES256 => Some(32),
            Self::HS384 | Self::RS384 | Self::PS384 | Self::ES384 => Some(48),
            Self::HS512 | Self::RS512 | Self::PS512 | Self::ES512 => Some(64),
            Self::EdDSA => None,
        }
    }
}

impl KeyManagementAlgorithm {
    /// The AES key-wrap key size in bytes for the `*KW` algorithms (including `ECDH-ES+A*KW`).
    pub const fn aes_kw_key_len(self) -> Option<usize> {
        match self {
            Self::A128KW | Self::EcdhEsA128KW => Some(16),
            Self::A192KW | Self::EcdhEsA192KW => Some(24),
            Self::A256KW | Self::EcdhEsA256KW => Some(32),
            Self::RsaOaep
            | Self::RsaOaep256
            | Self::A128GCMKW
            | Self::A192GCMKW
            | Self::A256GCMKW
            | Self::Dir
            | Self::EcdhEs => None,
        }
    }

    /// The AES-GCM key size in bytes for the `*GCMKW` algorithms.
    pub const fn aes_gcm_kw_key_len(self) -> Option<usize> {
        match self {
            Self::A128GCMKW => Some(16),
            Self::A192GCMKW => Some(24),
            Self::A256GCMKW => Some(32),
            Self::RsaOaep
            | Self::RsaOaep256
            | Self::A128KW
            | Self::A192KW
            | Self::A256KW
            | Self::Dir
            | Self::EcdhEs
            | Self::EcdhEsA128KW
            | Self::EcdhEsA192KW
            | Self::EcdhEsA256KW => None,
        }
    }

    /// Whether this is one of the ECDH-ES family.
    pub const fn is_ecdh(self) -> bool {
        matches!(
            self,
            Self::EcdhEs | Self::EcdhEsA128KW | Self::EcdhEsA192KW | Self::EcdhEsA256KW
        )
    }

    /// Whether the JWE carries no `encrypted_key` (it is empty) with this algorithm.
    pub const fn has_empty_encrypted_key(self) -> bool {
        matches!(self, Self::Dir | Self::EcdhEs)
    }
}

impl ContentEncryption {
    /// The content encryption key size in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::A128Gcm => 16,
            Self::A192Gcm => 24,
            Self::A256Gcm | Self::A128CbcHs256 => 32,
            Self::A192CbcHs384 => 48,
            Self::A256CbcHs512 => 64,
        }
    }

    /// The initialization vector size in bytes.
    pub const fn iv_len(self) -> usize {
        match self {
            Self::A128Gcm | Self::A192Gcm | Self::A256Gcm => 12,
            Self::A128CbcHs256 | Self::A192CbcHs384 | Self::A256CbcHs512 => 16,
        }
    }

    /// The authentication tag size in bytes.
    pub const fn tag_len(self) -> usize {
        match self {
            Self::A128Gcm | Self::A192Gcm | Self::A256Gcm | Self::A128CbcHs256 => 16,
            Self::A192CbcHs384 => 24,
            Self::A256CbcHs512 => 32,
        }
    }
}

/// Any algorithm a key may serve: a JWS algorithm or a JWE key management algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// A JWS signature or MAC algorithm.
    Jws(JwsAlgorithm),
    /// A JWE key management algorithm.
    Jwe(KeyManagementAlgorithm),
}

impl Algorithm {
    /// The registered name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jws(a) => a.as_str(),
            Self::Jwe(a) => a.as_str(),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<JwsAlgorithm> for Algorithm {
    fn from(a: JwsAlgorithm) -> Self {
        Self::Jws(a)
    }
}

impl From<KeyManagementAlgorithm> for Algorithm {
    fn from(a: KeyManagementAlgorithm) -> Self {
        Self::Jwe(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in JwsAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<JwsAlgorithm>().unwrap(), *a);
        }
        for a in KeyManagementAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<KeyManagementAlgorithm>().unwrap(), *a);
        }
        for a in ContentEncryption::ALL {
            assert_eq!(a.as_str().parse::<ContentEncryption>().unwrap(), *a);
        }
    }

    #[test]
    fn none_is_refused_in_any_case() {
        for name in ["none", "None", "NONE", "nOnE"] {
            let err = name.parse::<JwsAlgorithm>().unwrap_err();
            assert!(
                matches!(err, Error::Algorithm(AlgorithmError::Refused(_))),
                "{name}"
            );
        }
    }

    #[test]
    fn rsa1_5_is_refused() {
        let err = "RSA1_5".parse::<KeyManagementAlgorithm>().unwrap_err();
        assert!(matches!(err, Error::Algorithm(AlgorithmError::Refused(_))));
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(matches!(
            "HS257".parse::<JwsAlgorithm>(),
            Err(Error::Algorithm(AlgorithmError::Unknown(_)))
        ));
        assert!(
            "PBES2-HS256+A128KW"
                .parse::<KeyManagementAlgorithm>()
                .is_err_and(|e| matches!(e, Error::Algorithm(AlgorithmError::Unknown(_))))
        );
        assert!(
            "a128gcm"
                .parse::<ContentEncryption>()
                .is_err_and(|e| matches!(e, Error::Algorithm(AlgorithmError::Unknown(_))))
        );
    }
}
