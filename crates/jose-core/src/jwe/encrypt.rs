//! Producing JWE: compact, flattened and general JSON serializations.

use serde_json::{Map, Value};

use crate::alg::{Algorithm, ContentEncryption, KeyManagementAlgorithm};
use crate::b64;
use crate::backend::{KeyBackend, WrappedKey, check_key};
use crate::error::{AlgorithmError, Error, KeyError, Malformed, Result};
use crate::header::Header;
use crate::jwe::alg::rsaes::OaepHash;
use crate::jwe::alg::{ecdh_es, rsaes};
use crate::jwe::parse::additional_data;
use crate::jwe::{enc, zip_refused};
use crate::jwk::parsed::{self, Parsed};
use crate::jwk::{Jwk, SecretBytes};
use crate::rng;

/// Encrypts `plaintext` to one key and returns the compact serialization.
///
/// `extra_protected` adds protected members (`cty`, `typ`, `apu`/`apv`, extensions); `alg` and
/// `enc` are set from the arguments, `kid` from the key when the header has none. For an
/// asymmetric key only its public part is used, so a public JWK is enough to encrypt.
///
/// ```
/// use jose_core::{jwe, ContentEncryption, KeyManagementAlgorithm as Alg, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let recipient = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P256)?.with_kid("ec-enc");
///
/// // The sender needs only the recipient's public JWK.
/// let public = SoftwareKey::from_jwk(recipient.jwk().to_public()?)?;
/// let token = jwe::encrypt_compact(&public, Alg::EcdhEsA128KW, ContentEncryption::A256Gcm, b"secret", None)?;
///
/// let opened = jwe::decrypt_compact(&token, &recipient, &[Alg::EcdhEsA128KW], &[ContentEncryption::A256Gcm])?;
/// assert_eq!(opened.plaintext(), b"secret");
/// assert_eq!(opened.kid(), Some("ec-enc"));
/// # Ok(()) }
/// ```
pub fn encrypt_compact(
    key: &dyn KeyBackend,
    alg: KeyManagementAlgorithm,
    enc: ContentEncryption,
    plaintext: &[u8],
    extra_protected: Option<&Header>,
) -> Result<String> {
    use super::compact::{self, OnePass};
    let extra = extra_protected.filter(|h| !h.is_empty());
    // The one-pass path, unless the key wrap added header members: the builder places those,
    // with the content key and wrapped key already made.
    let wrapped = if compact::serves(alg, extra) {
        match compact::encrypt(key, alg, enc, plaintext, extra, None)? {
            OnePass::Token(token) => return Ok(token),
            OnePass::Builder(cek, wrapped) => Some((cek, wrapped)),
        }
    } else {
        None
    };
    let mut builder = JweBuilder::new(enc)
        .protected(extra.cloned().unwrap_or_default())
        .add_recipient(key, alg, None)?;
    if let Some((cek, wrapped)) = wrapped {
        builder = builder.with_cek(&cek).with_wrapped_key(wrapped);
    }
    builder.encrypt(plaintext)?.compact()
}

/// Builds a JWE for one or more recipients.
///
/// Headers: the protected header (integrity protected, shared), the shared unprotected header
/// (`unprotected`) and each recipient's header (`header`). A member name may appear in only one
/// of them. Unless the caller places them, `alg`, `kid` (from the key) and the members the
/// algorithm adds (`epk`; `iv` and `tag` of `*GCMKW`) go into the protected header when there
/// is one recipient and into the recipient's header when there are several; `enc` goes into
/// the protected header. Members keep the order in which they were set.
///
/// `zip` is refused: jose-core does not compress (compression before encryption leaks the
/// plaintext's content through its length).
///
/// ```
/// use jose_core::{jwe, ContentEncryption, Header, KeyManagementAlgorithm as Alg, SoftwareKey};
/// # fn main() -> Result<(), jose_core::Error> {
/// let alice = SoftwareKey::generate_oct(32)?.with_kid("alice");
/// let bob = SoftwareKey::generate_ec(jose_core::jwk::EcCurve::P384)?.with_kid("bob");
///
/// let token = jwe::JweBuilder::new(ContentEncryption::A128CbcHs256)
///     .unprotected(Header::new().with("cty", "text/plain"))
///     .aad(b"metadata")
///     .add_recipient(&alice, Alg::A256KW, None)?
///     .add_recipient(&bob, Alg::EcdhEsA256KW, None)?
///     .encrypt(b"for both")?
///     .general_json()?;
///
/// // Each recipient decrypts with its own key.
/// let d = jwe::Decrypter::new(&[Alg::A256KW, Alg::EcdhEsA256KW], &[ContentEncryption::A128CbcHs256]);
/// for key in [&alice, &bob] {
///     let opened = d.decrypt(&token, key)?;
///     assert_eq!(opened.plaintext(), b"for both");
///     assert_eq!(opened.aad(), Some(&b"metadata"[..]));
///     assert_eq!(opened.kid(), key.jwk().kid());
/// }
/// # Ok(()) }
/// ```
pub struct JweBuilder<'k> {
    enc: ContentEncryption,
    protected: Header,
    unprotected: Option<Header>,
    aad: Option<Vec<u8>>,
    recipients: Vec<Recipient<'k>>,
    cek: Option<SecretBytes>,
    iv: Option<Vec<u8>>,
}

impl std::fmt::Debug for JweBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No content key or IV, even injected ones.
        f.debug_struct("JweBuilder")
            .field("enc", &self.enc)
            .field("protected", &self.protected)
            .field("unprotected", &self.unprotected)
            .field("recipients", &self.recipients)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Recipient<'k> {
    key: &'k dyn KeyBackend,
    alg: KeyManagementAlgorithm,
    header: Option<Header>,
    ephemeral: Option<Jwk>,
    wrapped: Option<WrappedKey>,
}

/// Where a member goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Home {
    Protected,
    Unprotected,
    Recipient,
}

fn refuse_zip(h: &Header) -> Result<()> {
    if h.contains("zip") {
        return Err(zip_refused());
    }
    Ok(())
}

/// Inserts `members` into `map` at `index`, in order.
fn insert_at(map: &mut Map<String, Value>, index: usize, members: Map<String, Value>) {
    for (i, (k, v)) in members.into_iter().enumerate() {
        map.shift_insert((index + i).min(map.len()), k, v);
    }
}

/// The index just after `name`, if `map` has it.
fn after(map: &Map<String, Value>, name: &str) -> Option<usize> {
    map.keys().position(|k| k == name).map(|i| i + 1)
}

impl<'k> JweBuilder<'k> {
    /// A JWE whose content is encrypted with `enc`.
    pub fn new(enc: ContentEncryption) -> Self {
        Self {
            enc,
            protected: Header::new(),
            unprotected: None,
            aad: None,
            recipients: Vec::new(),
            cek: None,
            iv: None,
        }
    }

    /// Sets members of the protected header (`cty`, `typ`, `apu`, `apv`, extensions...).
    pub fn protected(mut self, header: Header) -> Self {
        self.protected = header;
        self
    }

    /// Sets the shared unprotected header (JSON serializations only).
    pub fn unprotected(mut self, header: Header) -> Self {
        self.unprotected = Some(header);
        self
    }

    /// Sets additional authenticated data (JSON serializations only): integrity protected,
    /// not encrypted.
    pub fn aad(mut self, aad: &[u8]) -> Self {
        self.aad = Some(aad.to_vec());
        self
    }

    /// Adds a recipient: `key` with key management algorithm `alg`, and optionally a
    /// per-recipient unprotected header.
    ///
    /// The key must serve `alg` and permit encryption. For RSA and ECDH only its public JWK is
    /// used; symmetric keys wrap the content key themselves ([`KeyBackend::wrap_key`]), and
    /// for `dir` the key's [`KeyBackend::unwrap_key`] gives the shared key (the CEK).
    pub fn add_recipient(
        mut self,
        key: &'k dyn KeyBackend,
        alg: KeyManagementAlgorithm,
        header: Option<Header>,
    ) -> Result<Self> {
        check_key(key, Algorithm::Jwe(alg), true)?;
        if let Some(h) = &header {
            refuse_zip(h)?;
        }
        let asymmetric = alg.is_ecdh()
            || matches!(
                alg,
                KeyManagementAlgorithm::RsaOaep | KeyManagementAlgorithm::RsaOaep256
            );
        if asymmetric && key.public_jwk().is_none() {
            return Err(KeyError::NoPublicKey.into());
        }
        self.recipients.push(Recipient {
            key,
            alg,
            header,
            ephemeral: None,
            wrapped: None,
        });
        Ok(self)
    }

    /// **For test vectors only**: the content encryption key to use instead of a random one.
    /// Reusing a key and IV pair destroys the confidentiality of AES-GCM.
    #[doc(hidden)]
    pub fn with_cek(mut self, cek: &[u8]) -> Self {
        self.cek = Some(zeroize::Zeroizing::new(cek.to_vec()));
        self
    }

    /// **For test vectors only**: the content encryption IV to use instead of a random one.
    #[doc(hidden)]
    pub fn with_iv(mut self, iv: &[u8]) -> Self {
        self.iv = Some(iv.to_vec());
        self
    }

    /// **For test vectors only**: the ephemeral private key of the last ECDH-ES recipient.
    #[doc(hidden)]
    pub fn with_ephemeral_key(mut self, ephemeral: Jwk) -> Self {
        if let Some(r) = self.recipients.last_mut() {
            r.ephemeral = Some(ephemeral);
        }
        self
    }

    /// **For test vectors only**: the wrapped key (and its header members) of the last
    /// recipient, instead of asking the key to wrap (whose `*GCMKW` IV is random).
    #[doc(hidden)]
    pub fn with_wrapped_key(mut self, wrapped: WrappedKey) -> Self {
        if let Some(r) = self.recipients.last_mut() {
            r.wrapped = Some(wrapped);
        }
        self
    }

    /// Encrypts `plaintext` for every recipient.
    pub fn encrypt(self, plaintext: &[u8]) -> Result<Jwe> {
        let enc = self.enc;
        let n = self.recipients.len();
        if n == 0 {
            return Err(Malformed::Serialization("no recipient was added").into());
        }
        let unprotected = self.unprotected.clone().unwrap_or_default();
        self.check_headers(&unprotected)?;

        let mut protected = self.protected.to_map();
        let mut shared = unprotected.to_map();
        let mut outs: Vec<(Map<String, Value>, Vec<u8>)> = Vec::with_capacity(n);

        // The content key: from the key (`dir`), from the agreement (`ECDH-ES`), or fresh.
        let mut cek: Option<SecretBytes> = None;
        let mut agreed_epk: Option<Value> = None;
        if let [only] = self.recipients.as_slice() {
            match only.alg {
                KeyManagementAlgorithm::Dir => {
                    let k = only.key.unwrap_key(
                        KeyManagementAlgorithm::Dir,
                        &[],
                        &Header::new(),
                        enc,
                    )?;
                    if k.len() != enc.key_len() {
                        return Err(AlgorithmError::KeyMismatch {
                            alg: format!("dir with {enc}"),
                            key: only.key.describe(),
                        }
                        .into());
                    }
                    cek = Some(k);
                }
                KeyManagementAlgorithm::EcdhEs => {
                    let joint = self.joint_for(only, &unprotected)?;
                    let public = only.key.public_jwk().ok_or(KeyError::NoPublicKey)?;
                    let agreement = ecdh_es::sender(
                        public,
                        only.alg,
                        enc,
                        &joint,
                        only.ephemeral.as_ref(),
                        only.key.provider(),
                    )?;
                    cek = Some(agreement.derived);
                    agreed_epk = Some(agreement.epk);
                }
                _ => {}
            }
        }
        let cek = match (cek, self.cek.clone()) {
            (Some(k), _) => k,
            (None, Some(k)) => {
                if k.len() != enc.key_len() {
                    return Err(KeyError::InvalidMember {
                        member: "k",
                        reason: "the injected content key has the wrong length",
                    }
                    .into());
                }
                k
            }
            (None, None) => zeroize::Zeroizing::new(rng::bytes(enc.key_len())?),
        };

        for r in &self.recipients {
            let mut added = Map::new();
            let mut encrypted_key = Vec::new();
            match (r.alg, &r.wrapped) {
                (KeyManagementAlgorithm::Dir, _) => {}
                (KeyManagementAlgorithm::EcdhEs, _) => {
                    if let Some(epk) = agreed_epk.take() {
                        added.insert("epk".into(), epk);
                    }
                }
                (_, Some(w)) => {
                    encrypted_key = w.encrypted_key.clone();
                    added = w.header.clone();
                }
                (a, None) if a.is_ecdh() => {
                    let joint = self.joint_for(r, &unprotected)?;
                    let public = r.key.public_jwk().ok_or(KeyError::NoPublicKey)?;
                    let agreement = ecdh_es::sender(
                        public,
                        a,
                        enc,
                        &joint,
                        r.ephemeral.as_ref(),
                        r.key.provider(),
                    )?;
                    encrypted_key = r
                        .key
                        .provider()
                        .imp()
                        .aes_kw_wrap(&agreement.derived, &cek)?;
                    added.insert("epk".into(), agreement.epk);
                }
                (
                    a @ (KeyManagementAlgorithm::RsaOaep | KeyManagementAlgorithm::RsaOaep256),
                    None,
                ) => {
                    // Hybrid use: encrypt to the public key, wherever the private key lives.
                    // A backend holding the parsed public key (`SoftwareKey`, hsm-jose's keys)
                    // encrypts with it; one that does not implement `wrap_key` is served from
                    // its public JWK.
                    encrypted_key = match r.key.wrap_key(a, &cek) {
                        Ok(w) => w.encrypted_key,
                        Err(Error::Algorithm(AlgorithmError::Unsupported(_))) => {
                            rsa_oaep_to_jwk(r.key, a, &cek)?
                        }
                        Err(e) => return Err(e),
                    };
                }
                (a, None) => {
                    let w = r.key.wrap_key(a, &cek)?;
                    encrypted_key = w.encrypted_key;
                    added = w.header;
                }
            }
            let mut own = r.header.as_ref().map(|h| h.to_map()).unwrap_or_default();
            Self::place(r, n, &mut protected, &mut shared, &mut own, added)?;
            outs.push((own, encrypted_key));
        }
        if !protected.contains_key("enc") && !shared.contains_key("enc") {
            protected.insert("enc".into(), enc.as_str().into());
        }

        let protected = Header::from_map(protected)?;
        let unprotected = if self.unprotected.is_some() || !shared.is_empty() {
            Some(Header::from_map(shared)?)
        } else {
            None
        };
        let mut recipients = Vec::with_capacity(n);
        for (own, encrypted_key) in outs {
            let header = if own.is_empty() {
                None
            } else {
                Some(Header::from_map(own)?)
            };
            // RFC 7516 section 7.2.1: the three headers are disjoint.
            Header::joint(
                std::iter::once(&protected)
                    .chain(unprotected.as_ref())
                    .chain(header.as_ref()),
            )?;
            recipients.push(JweRecipient {
                header,
                encrypted_key,
            });
        }

        let iv = match self.iv {
            Some(iv) if iv.len() == enc.iv_len() => iv,
            Some(_) => {
                return Err(
                    Malformed::Serialization("the injected IV has the wrong length").into(),
                );
            }
            None => rng::bytes(enc.iv_len())?,
        };
        let protected_b64 = if protected.is_empty() {
            String::new()
        } else {
            b64::encode(protected.to_json().as_bytes())
        };
        let aad_b64 = self.aad.as_deref().map(b64::encode);
        // The content encryption runs on the first recipient's provider.
        let provider = self
            .recipients
            .first()
            .map_or_else(crate::provider::default_provider, |r| r.key.provider());
        let sealed = enc::encrypt(
            provider,
            enc,
            &cek,
            &iv,
            &additional_data(&protected_b64, aad_b64.as_deref()),
            plaintext,
        )?;
        Ok(Jwe {
            protected_b64,
            protected,
            unprotected,
            recipients,
            aad_b64,
            iv,
            ciphertext: sealed.ciphertext,
            tag: sealed.tag,
        })
    }

    /// Refuses headers that cannot be produced: `zip` anywhere, `crit` or `enc` outside the
    /// shared headers, an `enc` that contradicts the algorithm, `dir`/`ECDH-ES` among several
    /// recipients.
    fn check_headers(&self, unprotected: &Header) -> Result<()> {
        let own = || self.recipients.iter().filter_map(|r| r.header.as_ref());
        for h in [&self.protected, unprotected].into_iter().chain(own()) {
            refuse_zip(h)?;
        }
        let unprotected_crit = unprotected.contains("crit") || own().any(|h| h.contains("crit"));
        if unprotected_crit {
            return Err(Malformed::Header {
                member: "crit".into(),
                reason: "must be integrity protected",
            }
            .into());
        }
        if own().any(|h| h.contains("enc")) {
            return Err(Malformed::Header {
                member: "enc".into(),
                reason: "belongs in a shared header",
            }
            .into());
        }
        for h in [&self.protected, unprotected] {
            if h.get("enc")
                .is_some_and(|e| e.as_str() != Some(self.enc.as_str()))
            {
                return Err(Malformed::Header {
                    member: "enc".into(),
                    reason: "contradicts the content encryption algorithm",
                }
                .into());
            }
        }
        if self.recipients.len() > 1
            && self
                .recipients
                .iter()
                .any(|r| r.alg.has_empty_encrypted_key())
        {
            return Err(Malformed::Serialization(
                "`dir` and `ECDH-ES` determine the content key: they allow only one recipient",
            )
            .into());
        }
        Ok(())
    }

    /// The joint header a recipient will have, as far as the caller set it (for `apu`/`apv`).
    fn joint_for(&self, r: &Recipient<'_>, unprotected: &Header) -> Result<Header> {
        Header::joint(
            [Some(&self.protected), Some(unprotected), r.header.as_ref()]
                .into_iter()
                .flatten(),
        )
    }

    /// Places `alg`, `kid` and the algorithm's members for one recipient.
    fn place(
        r: &Recipient<'_>,
        n: usize,
        protected: &mut Map<String, Value>,
        shared: &mut Map<String, Value>,
        own: &mut Map<String, Value>,
        added: Map<String, Value>,
    ) -> Result<()> {
        let alg = r.alg.as_str();
        let existing = [&*protected, &*shared, &*own]
            .into_iter()
            .zip([Home::Protected, Home::Unprotected, Home::Recipient])
            .find_map(|(m, home)| m.get("alg").map(|v| (v.clone(), home)));
        let alg_home = match existing {
            Some((v, home)) => {
                if v.as_str() != Some(alg) {
                    return Err(Malformed::Header {
                        member: "alg".into(),
                        reason: "contradicts the recipient's key management algorithm",
                    }
                    .into());
                }
                home
            }
            None => {
                let home = if n == 1 {
                    Home::Protected
                } else {
                    Home::Recipient
                };
                let map = if home == Home::Protected {
                    &mut *protected
                } else {
                    &mut *own
                };
                let mut m = Map::new();
                m.insert("alg".into(), alg.into());
                insert_at(map, 0, m);
                home
            }
        };
        // Per-recipient members cannot sit in a header that several recipients share.
        let home = if n > 1 && alg_home != Home::Recipient {
            Home::Recipient
        } else {
            alg_home
        };
        let has_kid = [&*protected, &*shared, &*own]
            .iter()
            .any(|m| m.contains_key("kid"));
        let map = match home {
            Home::Protected => protected,
            Home::Unprotected => shared,
            Home::Recipient => own,
        };
        if let (false, Some(kid)) = (has_kid, r.key.kid()) {
            let at = after(map, "alg").unwrap_or(0);
            let mut m = Map::new();
            m.insert("kid".into(), kid.into());
            insert_at(map, at, m);
        }
        let at = after(map, "kid")
            .or_else(|| after(map, "alg"))
            .unwrap_or(map.len());
        for name in added.keys() {
            if map.contains_key(name) {
                return Err(Malformed::HeaderCollision(name.clone()).into());
            }
        }
        insert_at(map, at, added);
        Ok(())
    }
}

/// One recipient of a produced JWE.
#[derive(Debug, Clone)]
struct JweRecipient {
    header: Option<Header>,
    encrypted_key: Vec<u8>,
}

/// An encrypted JWE, ready to be serialized.
#[derive(Debug, Clone)]
pub struct Jwe {
    protected_b64: String,
    protected: Header,
    unprotected: Option<Header>,
    recipients: Vec<JweRecipient>,
    aad_b64: Option<String>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

impl Jwe {
    /// The protected header.
    pub fn protected(&self) -> &Header {
        &self.protected
    }

    /// The shared unprotected header, if any.
    pub fn unprotected(&self) -> Option<&Header> {
        self.unprotected.as_ref()
    }

    /// The number of recipients.
    pub fn recipient_count(&self) -> usize {
        self.recipients.len()
    }

    /// The compact serialization: one recipient, everything in the protected header, no `aad`.
    pub fn compact(&self) -> Result<String> {
        let [r] = self.recipients.as_slice() else {
            return Err(
                Malformed::Serialization("the compact form has exactly one recipient").into(),
            );
        };
        if self.unprotected.is_some() || r.header.is_some() || self.protected_b64.is_empty() {
            return Err(
                Malformed::Serialization("the compact form has only a protected header").into(),
            );
        }
        if self.aad_b64.is_some() {
            return Err(Malformed::Serialization("the compact form has no `aad`").into());
        }
        Ok(join_compact(
            &self.protected_b64,
            [&r.encrypted_key, &self.iv, &self.ciphertext, &self.tag],
        ))
    }

    fn recipient_members(r: &JweRecipient, m: &mut Map<String, Value>) {
        if let Some(h) = &r.header {
            m.insert("header".into(), Value::Object(h.to_map()));
        }
        // RFC 7516 section 7.2.1: absent when the encrypted key is empty.
        if !r.encrypted_key.is_empty() {
            m.insert("encrypted_key".into(), b64::encode(&r.encrypted_key).into());
        }
    }

    fn shared_members(&self, m: &mut Map<String, Value>) {
        if !self.protected_b64.is_empty() {
            m.insert("protected".into(), self.protected_b64.clone().into());
        }
        if let Some(u) = &self.unprotected {
            m.insert("unprotected".into(), Value::Object(u.to_map()));
        }
    }

    fn content_members(&self, m: &mut Map<String, Value>) {
        if let Some(aad) = &self.aad_b64 {
            m.insert("aad".into(), aad.clone().into());
        }
        m.insert("iv".into(), b64::encode(&self.iv).into());
        m.insert("ciphertext".into(), b64::encode(&self.ciphertext).into());
        m.insert("tag".into(), b64::encode(&self.tag).into());
    }

    /// The flattened JSON serialization (one recipient) as a JSON value.
    pub fn flattened_value(&self) -> Result<Value> {
        let [r] = self.recipients.as_slice() else {
            return Err(
                Malformed::Serialization("the flattened form has exactly one recipient").into(),
            );
        };
        let mut m = Map::new();
        self.shared_members(&mut m);
        Self::recipient_members(r, &mut m);
        self.content_members(&mut m);
        Ok(Value::Object(m))
    }

    /// The flattened JSON serialization (one recipient).
    pub fn flattened_json(&self) -> Result<String> {
        Ok(self.flattened_value()?.to_string())
    }

    /// The general JSON serialization as a JSON value.
    pub fn general_value(&self) -> Value {
        let mut m = Map::new();
        self.shared_members(&mut m);
        let recipients = self
            .recipients
            .iter()
            .map(|r| {
                let mut o = Map::new();
                Self::recipient_members(r, &mut o);
                Value::Object(o)
            })
            .collect();
        m.insert("recipients".into(), Value::Array(recipients));
        self.content_members(&mut m);
        Value::Object(m)
    }

    /// The general JSON serialization.
    pub fn general_json(&self) -> Result<String> {
        Ok(self.general_value().to_string())
    }
}

/// RSAES-OAEP encryption of `cek` to the public JWK of `key`.
/// The compact serialization: the encoded protected header, then the encrypted key, IV,
/// ciphertext and tag, each encoded in place into one buffer of the final size.
pub(crate) fn join_compact(protected_b64: &str, parts: [&[u8]; 4]) -> String {
    let len = parts.iter().fold(protected_b64.len(), |n, p| {
        n + 1 + b64::encoded_len(p.len())
    });
    let mut out = String::with_capacity(len);
    out.push_str(protected_b64);
    for part in parts {
        out.push('.');
        b64::encode_into(part, &mut out);
    }
    out
}

pub(crate) fn rsa_oaep_to_jwk(
    key: &dyn KeyBackend,
    alg: KeyManagementAlgorithm,
    cek: &[u8],
) -> Result<Vec<u8>> {
    let mismatch = || AlgorithmError::KeyMismatch {
        alg: alg.to_string(),
        key: key.describe(),
    };
    let public = key.public_jwk().ok_or(KeyError::NoPublicKey)?;
    let Parsed::Rsa { public, .. } = parsed::parse(public.material())? else {
        return Err(mismatch().into());
    };
    let hash = OaepHash::of(alg).ok_or_else(mismatch)?;
    rsaes::encrypt(&public, hash, cek)
}
