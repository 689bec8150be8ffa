//! Finding keys: HSM keys by reference (label, `id:HEX`, `pkcs11:` URI) through a session pool
//! opened only when one is needed, and software keys from JWK and JWK Set files.

use std::cell::OnceCell;

use hsm_core::{KeySelector, Pin, PoolBuilder, SessionPool};
use hsm_jose::{HsmJwk, Pkcs11Uri};
use jose_core::{
    Algorithm, ContentEncryption, JwkSet, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, KeySet,
    KeyStore, SoftwareKey,
};

use crate::cli::{ConsumerArgs, TokenArgs};
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
        let pool = builder.build().map_err(|e| error::hsm(&e))?;
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
        builder.build().map_err(|e| error::hsm(&e))
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

/// What a key is loaded for: producers get a `kid` by default (so that a JWK Set verifier finds
/// the key), consumers only when one is asked for (a consumer's `kid` would make it skip
/// recipients and signatures that name another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Produce,
    Consume,
}

/// An HSM key with its `kid`: the one given, else (producing) its RFC 7638 thumbprint.
pub(crate) fn hsm_key(
    hsm: &Hsm<'_>,
    reference: &str,
    kid: Option<&str>,
    role: Role,
) -> Result<HsmJwk> {
    let key = hsm.load(reference)?;
    let kid = match (kid, role) {
        (Some(kid), _) => Some(kid.to_owned()),
        (None, Role::Produce) => key.thumbprint(),
        (None, Role::Consume) => None,
    };
    Ok(match kid {
        Some(kid) => key.with_kid(kid),
        None => key,
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

/// One key that produces: an HSM key or a JWK file.
pub(crate) fn producer(
    hsm: &Hsm<'_>,
    key: Option<&str>,
    jwk: Option<&str>,
    kid: Option<&str>,
    stdin: Stdin,
) -> Result<Box<dyn KeyBackend>> {
    match (key, jwk) {
        (Some(reference), _) => Ok(Box::new(hsm_key(hsm, reference, kid, Role::Produce)?)),
        (None, Some(path)) => Ok(Box::new(software_key(path, stdin, kid)?)),
        (None, None) => Err(CliError::usage("give --key REF or --jwk FILE")),
    }
}

/// The keys that consume: one key, or a JWK Set whose keys are chosen by `kid`.
pub(crate) enum Consumer {
    One(Box<dyn KeyBackend>),
    Set(KeySet),
}

impl Consumer {
    /// Loads the key a command's `--key | --jwk | --jwks` group names.
    pub(crate) fn from_args(hsm: &Hsm<'_>, args: &ConsumerArgs) -> Result<Self> {
        Self::load(
            hsm,
            args.key.as_deref(),
            args.jwk.as_deref(),
            args.jwks.as_deref(),
        )
    }

    /// Loads `--key`, `--jwk` or `--jwks` (standard input is the command's: never `-`).
    pub(crate) fn load(
        hsm: &Hsm<'_>,
        key: Option<&str>,
        jwk: Option<&str>,
        jwks: Option<&str>,
    ) -> Result<Self> {
        match (key, jwk, jwks) {
            (Some(reference), _, _) => Ok(Self::One(Box::new(hsm_key(
                hsm,
                reference,
                None,
                Role::Consume,
            )?))),
            (None, Some(path), _) => {
                Ok(Self::One(Box::new(software_key(path, Stdin::Busy, None)?)))
            }
            (None, None, Some(path)) => Ok(Self::Set(software_set(path, Stdin::Busy)?)),
            (None, None, None) => Err(CliError::usage("give --key REF, --jwk FILE or --jwks FILE")),
        }
    }

    fn keys(&self) -> Vec<&dyn KeyBackend> {
        match self {
            Self::One(key) => vec![key.as_ref()],
            Self::Set(set) => set.keys(),
        }
    }

    /// The keys as a key store; one key serves whatever `kid` a token names, as when it is
    /// given alone.
    pub(crate) fn store(&self) -> Box<dyn KeyStore + '_> {
        match self {
            Self::One(key) => Box::new(Single(key.as_ref())),
            Self::Set(set) => Box::new(StoreRef(set)),
        }
    }

    /// The allowed JWS algorithms: those given, else every one the key (or set) serves.
    pub(crate) fn jws_algorithms(&self, given: &[JwsAlgorithm]) -> Result<Vec<JwsAlgorithm>> {
        if !given.is_empty() {
            return Ok(given.to_vec());
        }
        let mut algs: Vec<JwsAlgorithm> = Vec::new();
        for key in self.keys() {
            for alg in key.algorithms() {
                if let Algorithm::Jws(a) = alg {
                    if !algs.contains(a) {
                        algs.push(*a);
                    }
                }
            }
        }
        if algs.is_empty() {
            return Err(CliError::setup("the key serves no signature algorithm"));
        }
        Ok(algs)
    }

    /// The allowed key management algorithms: those given, else every one the key serves.
    pub(crate) fn jwe_algorithms(
        &self,
        given: &[KeyManagementAlgorithm],
    ) -> Result<Vec<KeyManagementAlgorithm>> {
        if !given.is_empty() {
            return Ok(given.to_vec());
        }
        let mut algs: Vec<KeyManagementAlgorithm> = Vec::new();
        for key in self.keys() {
            for alg in key.algorithms() {
                if let Algorithm::Jwe(a) = alg {
                    if !algs.contains(a) {
                        algs.push(*a);
                    }
                }
            }
        }
        if algs.is_empty() {
            return Err(CliError::setup(
                "the key serves no key management algorithm",
            ));
        }
        Ok(algs)
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

/// One key as a key store: it serves every `kid`.
struct Single<'k>(&'k dyn KeyBackend);

impl KeyStore for Single<'_> {
    fn key_by_kid(&self, _kid: &str) -> Option<&dyn KeyBackend> {
        Some(self.0)
    }

    fn keys(&self) -> Vec<&dyn KeyBackend> {
        vec![self.0]
    }
}

/// A borrowed key set as a key store.
struct StoreRef<'k>(&'k KeySet);

impl KeyStore for StoreRef<'_> {
    fn key_by_kid(&self, kid: &str) -> Option<&dyn KeyBackend> {
        self.0.key_by_kid(kid)
    }

    fn keys(&self) -> Vec<&dyn KeyBackend> {
        self.0.keys()
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
        for bad in [
            "",
            "id:",
            "id:0",
            "id:zz",
            "pkcs11:token=t",
            "pkcs11:object=%zz",
        ] {
            let e = KeyRef::parse(bad).unwrap_err();
            assert_eq!(e.exit(), crate::error::Exit::Usage, "{bad}");
        }
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&parse_hex("00ff10").unwrap()), "00ff10");
    }
}
