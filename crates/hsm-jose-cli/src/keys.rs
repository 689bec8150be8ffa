//! Finding keys: HSM keys by reference (label, `id:HEX`, `pkcs11:` URI) through a session pool
//! opened only when one is needed, and software keys from JWK and JWK Set files.

use std::cell::OnceCell;

use hsm_core::{KeyInfo, KeySelector, Pin, PoolBuilder, SessionPool};
use hsm_jose::{HsmJwk, Pkcs11Uri};
use jose_core::{
    Algorithm, ContentEncryption, JwkSet, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, KeySet,
    KeyStore, SoftwareKey,
};

use crate::cli::{KeyChoice, KeySource, TokenArgs};
use crate::error::{self, CliError, Result};
use crate::io::{self, Stdin};

/// The token the options and environment name, opened on first use.
pub(crate) struct Hsm<'a> {
    args: &'a TokenArgs,
    pool: OnceCell<SessionPool>,
}

/// A key reference, as `--key` takes it.
#[derive(Debug)]
pub(crate) enum KeyRef {
    /// A label.
    Label(String),
    /// `id:HEX`.
    Id(Vec<u8>),
    /// A `pkcs11:` URI.
    Uri(Box<Pkcs11Uri>),
}

impl KeyRef {
    /// Parses `label`, `label:LABEL`, `id:HEX` or `pkcs11:...`.
    pub(crate) fn parse(reference: &str) -> Result<Self> {
        if reference.starts_with("pkcs11:") {
            let uri: Pkcs11Uri = reference.parse().map_err(|e| error::hsm(&e))?;
            // Fails early for a URI that names no key.
            KeySelector::from_uri(&uri).map_err(|e| error::hsm(&e))?;
            return Ok(KeyRef::Uri(Box::new(uri)));
        }
        if let Some(hex) = reference.strip_prefix("id:") {
            return parse_hex(hex).map(KeyRef::Id).map_err(|why| {
                CliError::usage(format!("--key {reference:?}: {why}"))
                    .hint("an id is hex digits, as `hsm-jose keys list` shows it: id:0a01")
            });
        }
        let label = reference.strip_prefix("label:").unwrap_or(reference);
        if label.is_empty() {
            return Err(CliError::usage(
                "--key needs a label, id:HEX or a pkcs11: URI",
            ));
        }
        Ok(KeyRef::Label(label.to_owned()))
    }

    fn selector(&self) -> Result<KeySelector> {
        Ok(match self {
            KeyRef::Label(label) => KeySelector::label(label.clone()),
            KeyRef::Id(id) => KeySelector::id(id.clone()),
            KeyRef::Uri(uri) => KeySelector::from_uri(uri).map_err(|e| error::hsm(&e))?,
        })
    }
}

/// Hex digits to bytes.
pub(crate) fn parse_hex(hex: &str) -> std::result::Result<Vec<u8>, &'static str> {
    if hex.is_empty() {
        return Err("an empty id");
    }
    if !hex.len().is_multiple_of(2) {
        return Err("an odd number of hex digits");
    }
    let digit = |c: u8| (c as char).to_digit(16).ok_or("not hex digits");
    hex.as_bytes()
        .chunks(2)
        .map(|pair| Ok((digit(pair[0])? * 16 + digit(pair[1])?) as u8))
        .collect()
}

/// Bytes as lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<'a> Hsm<'a> {
    pub(crate) fn new(args: &'a TokenArgs) -> Self {
        Self {
            args,
            pool: OnceCell::new(),
        }
    }

    /// The token label from --token or HSM_TOKEN.
    fn token_label(&self) -> Result<&str> {
        self.args
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CliError::setup("no token selected")
                    .hint("give --token LABEL or set HSM_TOKEN (or use a pkcs11: URI with token=)")
            })
    }

    /// The user PIN: --pin, else --pin-source, else HSM_PIN.
    fn pin(&self) -> Result<Pin> {
        if let Some(pin) = &self.args.pin {
            return Ok(Pin::new(pin.as_str()));
        }
        if let Some(source) = &self.args.pin_source {
            return Pin::from_source(source).map_err(|e| error::hsm(&e));
        }
        match std::env::var("HSM_PIN") {
            Ok(pin) if !pin.is_empty() => Ok(Pin::new(pin)),
            _ => Err(CliError::setup("no user PIN given").hint(
                "give --pin-source file:PATH, set HSM_PIN, or give --pin (visible to other users)",
            )),
        }
    }

    /// The pool on the token of the options and environment.
    pub(crate) fn pool(&self) -> Result<&SessionPool> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let mut builder = SessionPool::builder()
            .token_label(self.token_label()?)
            .pin(self.pin()?);
        if let Some(module) = &self.args.module {
            builder = builder.module(module);
        }
        let pool = builder.build().map_err(|e| error::opening(&e))?;
        Ok(self.pool.get_or_init(|| pool))
    }

    /// The pool for a key URI: its `token`, `module-path` and PIN attributes override the
    /// options; what it leaves out comes from the options and environment.
    fn pool_for_uri(&self, uri: &Pkcs11Uri) -> Result<SessionPool> {
        let names_token = uri.token().is_some()
            || uri.serial().is_some()
            || uri.manufacturer().is_some()
            || uri.model().is_some()
            || uri.slot_id().is_some();
        let names_module = uri.module_path().is_some() || uri.module_name().is_some();
        let names_pin = uri.pin_value().is_some() || uri.pin_source().is_some();
        if !(names_token || names_module || names_pin) {
            return self.pool().cloned();
        }
        let mut builder = PoolBuilder::from_uri(uri).map_err(|e| error::hsm(&e))?;
        if !names_module {
            if let Some(module) = &self.args.module {
                builder = builder.module(module);
            }
        }
        if !names_token {
            builder = builder.token_label(self.token_label()?);
        }
        if !names_pin {
            builder = builder.pin(self.pin()?);
        }
        builder.build().map_err(|e| error::opening(&e))
    }

    /// The pool and selector a key reference names.
    pub(crate) fn locate(&self, reference: &str) -> Result<(SessionPool, KeySelector)> {
        let key = KeyRef::parse(reference)?;
        let pool = match &key {
            KeyRef::Uri(uri) => self.pool_for_uri(uri)?,
            _ => self.pool()?.clone(),
        };
        Ok((pool, key.selector()?))
    }

    /// Loads an HSM key.
    pub(crate) fn load(&self, reference: &str) -> Result<HsmJwk> {
        let (pool, selector) = self.locate(reference)?;
        HsmJwk::load(&pool, &selector).map_err(error::hsm_jose)
    }
}

/// What a key is loaded for. Producers (publish, sign, encrypt) get a `kid` by default, so
/// that a JWK Set verifier finds the key; consumers (verify, decrypt) only when one is asked for
/// (a consumer's `kid` would make it skip recipients and signatures that name another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Print its public JWK.
    Publish,
    /// Sign (JWS, JWT).
    Sign,
    /// Encrypt to it (JWE, JWT).
    Encrypt,
    /// Verify signatures.
    Verify,
    /// Decrypt.
    Decrypt,
}

impl Purpose {
    fn produces(self) -> bool {
        match self {
            Purpose::Publish | Purpose::Sign | Purpose::Encrypt => true,
            Purpose::Verify | Purpose::Decrypt => false,
        }
    }

    /// Whether the private or secret part of `info` does the work: signing and decrypting
    /// always, and everything a secret (AES or HMAC) key does, since it has no public part.
    fn uses_secret(self, info: &KeyInfo) -> bool {
        match self {
            Purpose::Publish => false,
            Purpose::Sign | Purpose::Decrypt => true,
            Purpose::Encrypt | Purpose::Verify => info.secret.is_some(),
        }
    }
}

/// An HSM key with its `kid`: the one given, else (producing) its RFC 7638 thumbprint. When the
/// key's private or secret part will be used and the token lets it be wrapped out
/// (`CKA_EXTRACTABLE`), a warning says so on standard error.
pub(crate) fn hsm_key(
    hsm: &Hsm<'_>,
    reference: &str,
    kid: Option<&str>,
    purpose: Purpose,
) -> Result<HsmJwk> {
    let key = hsm.load(reference)?;
    if purpose.uses_secret(key.info()) {
        if let Some(warning) = extractable_warning(key.info()) {
            eprintln!("{warning}");
        }
    }
    let kid = match kid {
        Some(kid) => Some(kid.to_owned()),
        None if purpose.produces() => key.thumbprint(),
        None => None,
    };
    Ok(match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    })
}

/// The warning for a key whose private or secret part is extractable, if it is.
fn extractable_warning(info: &KeyInfo) -> Option<String> {
    info.protection.extractable.then(|| {
        format!(
            "warning: key `{}` (id {}) is extractable (CKA_EXTRACTABLE): the token lets its \
             secret part be wrapped out, so it may exist outside the HSM; `hsm-jose keys \
             generate` makes keys that never are",
            info.label,
            hex(&info.id)
        )
    })
}

/// A software key from a JWK file, with the `kid` given if any.
pub(crate) fn software_key(path: &str, stdin: Stdin, kid: Option<&str>) -> Result<SoftwareKey> {
    let text = io::read_small_file(path, stdin, "JWK")?;
    let key = SoftwareKey::from_json(&text).map_err(|e| {
        let error = CliError::setup(format!("the JWK {path} cannot be used: {e}"));
        if looks_like_a_set(&text) {
            error.hint("this file is a JWK Set: give it with --jwks")
        } else {
            error
        }
    })?;
    Ok(match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
    })
}

/// Software keys from a JWK Set file.
pub(crate) fn software_set(path: &str, stdin: Stdin) -> Result<KeySet> {
    let text = io::read_small_file(path, stdin, "JWK Set")?;
    let set = JwkSet::from_json(&text).map_err(|e| {
        let error = CliError::setup(format!("the JWK Set {path} cannot be used: {e}"));
        if looks_like_a_set(&text) {
            error
        } else {
            error.hint("a JWK Set is {\"keys\":[...]}; give a single JWK with --jwk")
        }
    })?;
    if set.is_empty() {
        return Err(CliError::setup(format!(
            "the JWK Set {path} holds no key this program supports"
        )));
    }
    KeySet::from_jwk_set(&set)
        .map_err(|e| CliError::setup(format!("the JWK Set {path} cannot be used: {e}")))
}

fn looks_like_a_set(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .is_some_and(|v| v.get("keys").is_some_and(serde_json::Value::is_array))
}

impl<R> KeyChoice<R> {
    /// One key that produces (`purpose`: publish, sign or encrypt), with the `kid` given if
    /// any; `stdin` says whether a JWK may come from standard input.
    pub(crate) fn producer(
        &self,
        hsm: &Hsm<'_>,
        stdin: Stdin,
        purpose: Purpose,
    ) -> Result<Box<dyn KeyBackend>> {
        match self.source() {
            KeySource::Hsm(reference) => {
                Ok(Box::new(hsm_key(hsm, reference, self.kid(), purpose)?))
            }
            KeySource::Jwk(path) => Ok(Box::new(software_key(path, stdin, self.kid())?)),
            KeySource::Jwks(_) | KeySource::JwksUrl(_) => Err(CliError::usage(
                "a JWK Set holds several keys: give the one key that signs or encrypts with --jwk",
            )),
        }
    }

    /// The keys that consume (`purpose`: verify or decrypt). Standard input carries the
    /// command's token, so no key file comes from there.
    pub(crate) fn consumer(&self, hsm: &Hsm<'_>, purpose: Purpose) -> Result<Consumer> {
        match self.source() {
            KeySource::Hsm(reference) => Ok(Consumer::One(Box::new(hsm_key(
                hsm,
                reference,
                self.kid(),
                purpose,
            )?))),
            KeySource::Jwk(path) => Ok(Consumer::One(Box::new(software_key(
                path,
                Stdin::Busy,
                self.kid(),
            )?))),
            KeySource::Jwks(path) => Ok(Consumer::Set(software_set(path, Stdin::Busy)?)),
            KeySource::JwksUrl(url) => Ok(Consumer::Set(crate::jwks_url::fetch(url, false)?)),
        }
    }
}

/// The keys that consume: one key, or a JWK Set whose keys are chosen by `kid`.
#[derive(Debug)]
pub(crate) enum Consumer {
    One(Box<dyn KeyBackend>),
    Set(KeySet),
}

impl Consumer {
    /// Runs the one-key form of an operation (`one`) or its key-store form (`set`), whichever
    /// fits: one key is used for whatever `kid` a token names, as jose-core does when it is
    /// given alone.
    pub(crate) fn apply<T>(
        &self,
        one: impl FnOnce(&dyn KeyBackend) -> T,
        set: impl FnOnce(&dyn KeyStore) -> T,
    ) -> T {
        match self {
            Self::One(key) => one(key.as_ref()),
            Self::Set(keys) => set(keys),
        }
    }

    /// The allowed JWS algorithms: those given, else every one the key (or set) serves.
    pub(crate) fn jws_algorithms(&self, given: &[JwsAlgorithm]) -> Result<Vec<JwsAlgorithm>> {
        self.algorithms(given, |alg| match alg {
            Algorithm::Jws(a) => Some(*a),
            _ => None,
        })
        .ok_or_else(|| CliError::setup("the key serves no signature algorithm"))
    }

    /// The allowed key management algorithms: those given, else every one the key serves.
    pub(crate) fn jwe_algorithms(
        &self,
        given: &[KeyManagementAlgorithm],
    ) -> Result<Vec<KeyManagementAlgorithm>> {
        self.algorithms(given, |alg| match alg {
            Algorithm::Jwe(a) => Some(*a),
            _ => None,
        })
        .ok_or_else(|| CliError::setup("the key serves no key management algorithm"))
    }

    /// `given`, else the algorithms of the keys that `pick` keeps, each once; `None` when that
    /// leaves none.
    fn algorithms<A: Copy + PartialEq>(
        &self,
        given: &[A],
        pick: impl Fn(&Algorithm) -> Option<A>,
    ) -> Option<Vec<A>> {
        if !given.is_empty() {
            return Some(given.to_vec());
        }
        let mut algs: Vec<A> = Vec::new();
        for alg in self.keys().iter().flat_map(|key| key.algorithms()) {
            if let Some(a) = pick(alg) {
                if !algs.contains(&a) {
                    algs.push(a);
                }
            }
        }
        (!algs.is_empty()).then_some(algs)
    }
}

/// The consumer as a key store, for operations that take stores only (a nested JWT whose two
/// sides are chosen differently): one key serves every `kid`.
impl KeyStore for Consumer {
    fn key_by_kid(&self, kid: &str) -> Option<&dyn KeyBackend> {
        match self {
            Self::One(key) => Some(key.as_ref()),
            Self::Set(keys) => keys.key_by_kid(kid),
        }
    }

    fn keys(&self) -> Vec<&dyn KeyBackend> {
        match self {
            Self::One(key) => vec![key.as_ref()],
            Self::Set(keys) => keys.keys(),
        }
    }
}

/// The allowed content encryption algorithms: those given, else all of them (none is weak;
/// the key management algorithm is what the key decides).
pub(crate) fn content_encryptions(given: &[ContentEncryption]) -> Vec<ContentEncryption> {
    if given.is_empty() {
        ContentEncryption::ALL.to_vec()
    } else {
        given.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_references() {
        assert!(matches!(KeyRef::parse("rsa-2048").unwrap(), KeyRef::Label(l) if l == "rsa-2048"));
        assert!(matches!(KeyRef::parse("label:id:x").unwrap(), KeyRef::Label(l) if l == "id:x"));
        assert!(matches!(KeyRef::parse("id:0A01").unwrap(), KeyRef::Id(id) if id == [0x0a, 0x01]));
        assert!(matches!(
            KeyRef::parse("pkcs11:token=t;object=k").unwrap(),
            KeyRef::Uri(_)
        ));
        for (bad, message) in [
            ("", "--key needs a label, id:HEX or a pkcs11: URI"),
            ("id:", "--key \"id:\": an empty id"),
            ("id:0", "--key \"id:0\": an odd number of hex digits"),
            ("id:zz", "--key \"id:zz\": not hex digits"),
            (
                "pkcs11:token=t",
                "invalid PKCS#11 URI: the URI names no key: it needs an object= or id= attribute",
            ),
            (
                "pkcs11:object=%zz",
                "invalid PKCS#11 URI: bad percent-encoding in object",
            ),
        ] {
            let e = KeyRef::parse(bad).unwrap_err();
            assert_eq!(e.exit(), crate::error::Exit::Usage, "{bad}");
            assert_eq!(e.message(), message, "{bad}");
        }
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&parse_hex("00ff10").unwrap()), "00ff10");
    }
}
