//! Decrypting JWE under a caller's policy.

use zeroize::Zeroizing;

use crate::alg::{Algorithm, ContentEncryption, KeyManagementAlgorithm};
use crate::backend::{KeyBackend, KeyStore, check_key};
use crate::consume::{self, Keys, Serialization};
use crate::error::{AlgorithmError, Error, Malformed, Result};
use crate::header::{Header, check_crit};
use crate::jwe::alg::{direct, ecdh_es};
use crate::jwe::parse::{self, RawJwe, RawRecipient};
use crate::jwe::{DEFAULT_MAX_TOKEN_LEN, enc, zip_refused};
use crate::jwk::SecretBytes;
use crate::rng;

/// What a successful decryption returns: the plaintext and the headers of the recipient that
/// decrypted (and only that one).
#[derive(Clone)]
pub struct Decrypted {
    plaintext: SecretBytes,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    protected: Header,
    unprotected: Option<Header>,
    recipient: Option<Header>,
    /// The union of the headers, when there is more than the protected one.
    joint: Option<Header>,
    aad: Option<Vec<u8>>,
}

impl Decrypted {
    /// The decrypted plaintext.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// The plaintext, owned, in a buffer wiped when dropped.
    pub fn into_plaintext(self) -> SecretBytes {
        self.plaintext
    }

    /// The key management algorithm of the recipient that decrypted.
    pub fn alg(&self) -> KeyManagementAlgorithm {
        self.alg
    }

    /// The content encryption algorithm.
    pub fn enc(&self) -> ContentEncryption {
        self.enc
    }

    /// The protected header (empty when the JWE has none).
    pub fn protected(&self) -> &Header {
        &self.protected
    }

    /// The shared unprotected header (JSON serializations only).
    pub fn unprotected(&self) -> Option<&Header> {
        self.unprotected.as_ref()
    }

    /// The per-recipient header of the recipient that decrypted (JSON serializations only).
    pub fn recipient_header(&self) -> Option<&Header> {
        self.recipient.as_ref()
    }

    /// The union of the three headers for that recipient. Only the protected header's members
    /// are integrity protected.
    pub fn header(&self) -> &Header {
        self.joint.as_ref().unwrap_or(&self.protected)
    }

    /// The `kid` of that recipient, from any of its headers.
    pub fn kid(&self) -> Option<&str> {
        self.header().kid()
    }

    /// The additional authenticated data (JSON serializations only).
    pub fn aad(&self) -> Option<&[u8]> {
        self.aad.as_deref()
    }
}

impl std::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The plaintext is secret: only its length.
        f.debug_struct("Decrypted")
            .field("plaintext_len", &self.plaintext.len())
            .field("alg", &self.alg)
            .field("enc", &self.enc)
            .field("header", self.header())
            .finish_non_exhaustive()
    }
}

/// A decryption policy: the allowed key management and content encryption algorithms (both
/// required), understood critical extensions, a size limit and a limit on the number of
/// recipients (each may cost a private-key operation).
///
/// The token's `alg` and `enc` must be in the allowed lists and the key must serve `alg`,
/// otherwise nothing is decrypted. A JWE with `zip` is refused before any cryptography.
/// Failures of the decryption itself — a wrong key, a bad key unwrap, a bad tag, bad padding —
/// are all [`Error::Decryption`]; RSA-OAEP failures continue with a random content key (RFC 7516
/// section 11.5), so they take the same path as a bad tag.
///
/// ```
/// use jose_core::{jwe, ContentEncryption as Enc, KeyManagementAlgorithm as Alg, KeySet, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let old = SoftwareKey::generate_oct(16)?.with_kid("2025");
/// let new = SoftwareKey::generate_oct(16)?.with_kid("2026");
/// let token = jwe::encrypt_compact(&new, Alg::A128KW, Enc::A128Gcm, b"rotated", None)?;
///
/// let mut keys = KeySet::new();
/// keys.push(old)?;
/// keys.push(new)?;
/// let opened = jwe::Decrypter::new(&[Alg::A128KW], &[Enc::A128Gcm]).decrypt_with(&token, &keys)?;
/// assert_eq!(opened.plaintext(), b"rotated");
/// assert_eq!(opened.kid(), Some("2026"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Decrypter {
    algs: Vec<KeyManagementAlgorithm>,
    encs: Vec<ContentEncryption>,
    understood: Vec<String>,
    max_len: usize,
    max_recipients: usize,
}

/// The default limit on the number of recipients of a JWE given to a decrypter.
pub const DEFAULT_MAX_RECIPIENTS: usize = 16;

/// Decrypts a compact JWE with one key; `algs` and `encs` list the acceptable algorithms.
pub fn decrypt_compact(
    token: &str,
    key: &dyn KeyBackend,
    algs: &[KeyManagementAlgorithm],
    encs: &[ContentEncryption],
) -> Result<Decrypted> {
    Decrypter::new(algs, encs).decrypt_as(token, Serialization::Compact, Keys::One(key))
}

/// Decrypts a JWE in either JSON serialization with one key.
pub fn decrypt_json(
    token: &str,
    key: &dyn KeyBackend,
    algs: &[KeyManagementAlgorithm],
    encs: &[ContentEncryption],
) -> Result<Decrypted> {
    Decrypter::new(algs, encs).decrypt_as(token, Serialization::Json, Keys::One(key))
}

impl Decrypter {
    /// A decrypter accepting only these algorithms.
    pub fn new(algs: &[KeyManagementAlgorithm], encs: &[ContentEncryption]) -> Self {
        Self {
            algs: algs.to_vec(),
            encs: encs.to_vec(),
            understood: Vec::new(),
            max_len: DEFAULT_MAX_TOKEN_LEN,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
        }
    }

    /// Declares a critical header extension (a name in `crit`) that the caller processes.
    pub fn understand(mut self, name: impl Into<String>) -> Self {
        self.understood.push(name.into());
        self
    }

    /// Sets the largest token accepted, in bytes.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_len = len;
        self
    }

    /// Sets the largest number of recipients accepted in a JSON JWE.
    pub fn max_recipients(mut self, n: usize) -> Self {
        self.max_recipients = n;
        self
    }

    /// Decrypts a JWE (compact or JSON, detected) with one key.
    pub fn decrypt(&self, token: &str, key: &dyn KeyBackend) -> Result<Decrypted> {
        self.decrypt_as(token, Serialization::Detect, Keys::One(key))
    }

    /// Decrypts a JWE with the key its `kid` selects from `keys`. A recipient without `kid`
    /// is tried only when exactly one key in the store can serve its algorithm.
    pub fn decrypt_with(&self, token: &str, keys: &dyn KeyStore) -> Result<Decrypted> {
        self.decrypt_as(token, Serialization::Detect, Keys::Store(keys))
    }

    pub(crate) fn decrypt_as(
        &self,
        token: &str,
        form: Serialization,
        keys: Keys<'_>,
    ) -> Result<Decrypted> {
        let raw = consume::parse(token, self.max_len, form, parse::compact, parse::json)?;
        self.run(raw, keys)
    }

    fn run(&self, mut raw: RawJwe, keys: Keys<'_>) -> Result<Decrypted> {
        if self.algs.is_empty() || self.encs.is_empty() {
            return Err(AlgorithmError::NotAllowed("(the allowed list is empty)".into()).into());
        }
        if raw.recipients.len() > self.max_recipients {
            return Err(Malformed::Serialization(
                "the JWE has more recipients than this decrypter accepts",
            )
            .into());
        }
        // Refused up front, before any key is touched, whichever header carries it.
        let headers = std::iter::once(&raw.protected)
            .chain(raw.unprotected.as_ref())
            .chain(raw.recipients.iter().filter_map(|r| r.header.as_ref()));
        for h in headers {
            if h.contains("zip") {
                return Err(zip_refused());
            }
        }
        let several = raw.recipients.len() > 1;
        let (opened, i) = consume::first_success(
            raw.recipients.iter().enumerate(),
            || Error::Decryption,
            |(i, r)| Ok((self.one(&raw, r, keys, several)?, i)),
        )?;
        // The headers of the recipient that decrypted move into the result.
        let recipient = raw.recipients.swap_remove(i).header;
        Ok(Decrypted {
            plaintext: opened.plaintext,
            alg: opened.alg,
            enc: opened.enc,
            protected: raw.protected,
            unprotected: raw.unprotected,
            recipient,
            joint: opened.joint,
            aad: raw.aad,
        })
    }

    fn one(&self, raw: &RawJwe, r: &RawRecipient, keys: Keys<'_>, several: bool) -> Result<Opened> {
        let unprotected: Vec<&Header> = raw.unprotected.iter().chain(r.header.as_ref()).collect();
        // With the protected header alone (the compact form), the union is that header: no copy.
        let joint = if unprotected.is_empty() {
            None
        } else {
            Some(Header::joint(
                std::iter::once(&raw.protected).chain(unprotected.iter().copied()),
            )?)
        };
        let joint_ref = joint.as_ref().unwrap_or(&raw.protected);
        let understood: Vec<&str> = self.understood.iter().map(String::as_str).collect();
        check_crit(&raw.protected, &unprotected, &understood)?;

        let alg_name = joint_ref.alg().ok_or(AlgorithmError::Missing("alg"))?;
        let alg: KeyManagementAlgorithm = alg_name.parse()?;
        if !self.algs.contains(&alg) {
            return Err(AlgorithmError::NotAllowed(alg_name.to_owned()).into());
        }
        let enc_name = joint_ref.enc().ok_or(AlgorithmError::Missing("enc"))?;
        let enc: ContentEncryption = enc_name.parse()?;
        if !self.encs.contains(&enc) {
            return Err(AlgorithmError::NotAllowed(enc_name.to_owned()).into());
        }
        let key = keys.select(joint_ref.kid(), Algorithm::Jwe(alg), several)?;
        check_key(key, Algorithm::Jwe(alg), false)?;
        let cek = cek(key, alg, enc, joint_ref, &r.encrypted_key)?;
        let plaintext = enc::decrypt(
            key.provider(),
            enc,
            &cek,
            &raw.iv,
            &raw.additional_data(),
            &raw.ciphertext,
            &raw.tag,
        )?;
        Ok(Opened {
            plaintext,
            alg,
            enc,
            joint,
        })
    }
}

/// What one recipient's decryption gives, before the token's headers move into [`Decrypted`].
struct Opened {
    plaintext: SecretBytes,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    joint: Option<Header>,
}

/// Recovers the content key for one recipient.
fn cek(
    key: &dyn KeyBackend,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    joint: &Header,
    encrypted_key: &[u8],
) -> Result<SecretBytes> {
    use KeyManagementAlgorithm as K;
    if alg.has_empty_encrypted_key() != encrypted_key.is_empty() {
        return Err(if encrypted_key.is_empty() {
            Malformed::Empty("encrypted key").into()
        } else {
            direct::empty_required()
        });
    }
    // RFC 7516 section 11.5: a failed unwrap goes on with a random key and fails at the tag,
    // so neither the error nor the code path tells which step failed. The fallback is drawn
    // before the unwrap so every path of a key-wrapping algorithm does the same work (the
    // direct ones, `dir` and `ECDH-ES`, unwrap nothing and need none).
    let direct = matches!(alg, K::Dir | K::EcdhEs);
    let fallback = if direct {
        Zeroizing::new(Vec::new())
    } else {
        Zeroizing::new(rng::bytes(enc.key_len())?)
    };
    let unwrapped = match alg {
        K::Dir => {
            let k = key.unwrap_key(alg, encrypted_key, joint, enc)?;
            if k.len() != enc.key_len() {
                return Err(AlgorithmError::KeyMismatch {
                    alg: format!("dir with {enc}"),
                    key: key.describe(),
                }
                .into());
            }
            return Ok(k);
        }
        K::EcdhEs | K::EcdhEsA128KW | K::EcdhEsA192KW | K::EcdhEsA256KW => {
            let epk = ecdh_es::check_epk(joint, key.public_jwk())?;
            let z = key.derive_ecdh(&epk)?;
            let derived = ecdh_es::derive(alg, enc, &z, joint)?;
            if alg == K::EcdhEs {
                return Ok(derived);
            }
            key.provider().imp().aes_kw_unwrap(&derived, encrypted_key)
        }
        _ => key.unwrap_key(alg, encrypted_key, joint, enc),
    };
    match unwrapped {
        Ok(k) if k.len() == enc.key_len() => Ok(k),
        Ok(_) | Err(Error::Decryption) => Ok(fallback),
        Err(e) => Err(e),
    }
}
