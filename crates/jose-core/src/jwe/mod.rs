//! JSON Web Encryption (RFC 7516, algorithms of RFC 7518 and RFC 8037).
//!
//! * Produce: [`encrypt_compact`] for the common case, [`JweBuilder`] for JSON serializations,
//!   several recipients, shared and per-recipient unprotected headers and `aad`.
//! * Consume: [`decrypt_compact`] / [`decrypt_json`] for the common case, [`Decrypter`] for
//!   policies (critical extensions, key sets, size limit).
//!
//! Key management (`alg`): `RSA-OAEP`, `RSA-OAEP-256`, `A128KW`/`A192KW`/`A256KW`,
//! `A128GCMKW`/`A192GCMKW`/`A256GCMKW`, `dir`, `ECDH-ES` and `ECDH-ES+A128KW`/`+A192KW`/`+A256KW`
//! on P-256, P-384, P-521 and X25519. Content encryption (`enc`): `A128GCM`/`A192GCM`/`A256GCM`
//! and `A128CBC-HS256`/`A192CBC-HS384`/`A256CBC-HS512`. Not offered: `RSA1_5` (refused by name),
//! PBES2, and compression: a JWE with a `zip` header is rejected before anything else.
//!
//! Private-key work goes through [`KeyBackend`](crate::KeyBackend), so the recipient's key may
//! live in an HSM: the sender needs only the recipient's *public* JWK (RSA, EC, X25519), and the
//! recipient's key performs [`unwrap_key`](crate::KeyBackend::unwrap_key) or
//! [`derive_ecdh`](crate::KeyBackend::derive_ecdh); the rest (Concat KDF, content decryption)
//! runs in software. Content keys and intermediate secrets are wiped when dropped.
//!
//! ```
//! use jose_core::{jwe, ContentEncryption as Enc, KeyManagementAlgorithm as Alg, SoftwareKey};
//! # fn main() -> Result<(), jose_core::Error> {
//! // The recipient publishes its public key; the private key may be in an HSM.
//! let recipient = SoftwareKey::generate_rsa(2048)?.with_kid("rsa-enc");
//! let published = recipient.jwk().to_public_json()?;
//!
//! // Anyone encrypts with the public JWK...
//! let sender_view = SoftwareKey::from_json(&published)?;
//! let token = jwe::encrypt_compact(&sender_view, Alg::RsaOaep256, Enc::A256Gcm, b"to the HSM", None)?;
//!
//! // ...and only the private key's holder decrypts, under an explicit policy.
//! let opened = jwe::decrypt_compact(&token, &recipient, &[Alg::RsaOaep256], &[Enc::A256Gcm])?;
//! assert_eq!(opened.plaintext(), b"to the HSM");
//! assert_eq!(opened.header().kid(), Some("rsa-enc"));
//! # Ok(()) }
//! ```

pub(crate) mod alg;
mod compact;
mod decrypt;
pub(crate) mod enc;
mod encrypt;
pub(crate) mod parse;

pub use decrypt::{DEFAULT_MAX_RECIPIENTS, Decrypted, Decrypter, decrypt_compact, decrypt_json};
pub use encrypt::{Jwe, JweBuilder, encrypt_compact};

use crate::error::{Error, Malformed};

/// The default limit on the size of a token given to a decrypter (16 MiB).
pub const DEFAULT_MAX_TOKEN_LEN: usize = crate::jws::DEFAULT_MAX_TOKEN_LEN;

/// The error for a JWE that asks for compression.
pub(crate) fn zip_refused() -> Error {
    Malformed::Header {
        member: "zip".into(),
        reason: "compression is not supported by jose-core",
    }
    .into()
}
