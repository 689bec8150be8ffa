//! [`HsmJwk`]: a key in a PKCS#11 token, usable wherever jose-core takes a key.

use std::sync::Arc;

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use hsm_core::{EdCurve, KeyInfo, KeyKind, KeySelector, PoolKey, SessionPool};
use jose_core::KeyBackend;
use jose_core::error::{AlgorithmError, KeyError};
use jose_core::jwk::KeyOp;
use jose_core::{Algorithm, Jwk, JwsAlgorithm, KeyManagementAlgorithm, SoftwareKey, base64url};

use crate::Capabilities;
use crate::error::{Result, backend};
use crate::plan::{self, Call, Login, OaepSha256, Refusal};
use crate::public::{ec_curve, public_jwk, public_ops};

/// A key held in a PKCS#11 token, as a JOSE key.
///
/// The private (or secret) part never leaves the token: signing, RSA-OAEP decryption, AES key
/// unwrapping and ECDH agreement run in the token; verification and encryption to the key use
/// its public JWK in software (or, for HMAC keys and on request, the token).
///
/// Loading a key decides, once, which JOSE algorithms it offers: those the token can run for
/// it, directly or through a fallback, from the token's mechanism list
/// ([`Capabilities`]). Anything else is refused before any token call with
/// [`Error::NotSupported`](crate::Error::NotSupported) (or, in jose-core's terms,
/// `AlgorithmError::NotSupportedByDevice`) naming the mechanisms it would need.
///
/// An `HsmJwk` is `Send + Sync`: share one (in an `Arc` or by reference) across threads. Each
/// operation checks a session out of the pool for that one call; the key is looked up once, at
/// load time, and looked up again only if the token invalidates its handle.
///
/// ```no_run
/// use hsm_jose::jose_core::{jws, JwsAlgorithm};
/// use hsm_jose::{HsmJwk, SessionPool};
/// # fn main() -> Result<(), hsm_jose::Error> {
/// let pool = SessionPool::from_env()?; // HSM_MODULE, HSM_TOKEN, HSM_PIN
/// let key = HsmJwk::from_label(&pool, "signing-key")?.with_kid("2026-11");
/// let token = jws::sign_compact(&key, JwsAlgorithm::ES256, b"hello", None)?;
/// println!("{}", key.public_json()?); // {"kty":"EC","crv":"P-256",...,"kid":"2026-11"}
/// # Ok(()) }
/// ```
pub struct HsmJwk {
    pub(crate) key: PoolKey,
    pub(crate) info: Arc<KeyInfo>,
    /// The published public JWK (with `kid`, `use`, `key_ops`), `None` for a secret key.
    pub(crate) public: Option<Jwk>,
    /// The public key, parsed once, that verifies and encrypts in software.
    pub(crate) software: Option<SoftwareKey>,
    pub(crate) caps: Capabilities,
    pub(crate) oaep_sha256: OaepSha256,
    /// Whether every use needs the PIN again (`CKA_ALWAYS_AUTHENTICATE`).
    pub(crate) login: Login,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) kid: Option<String>,
    pub(crate) key_use: Option<String>,
    pub(crate) key_ops: Option<Vec<KeyOp>>,
    pub(crate) verify_in_token: bool,
}

/// The object handles an operation needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Handles {
    /// The private key, or the secret key.
    pub(crate) private: Option<ObjectHandle>,
    /// The public key object, when the token has one.
    pub(crate) public: Option<ObjectHandle>,
}

impl Handles {
    fn of(info: &KeyInfo) -> Self {
        Self {
            private: info.private_or_secret(),
            public: info.public,
        }
    }

    /// The private (or secret) key for `call`; its absence is reported as the call's first
    /// function failing with `CKR_KEY_HANDLE_INVALID` (which makes the pool look the key up
    /// again once).
    pub(crate) fn private(self, call: Call) -> Result<ObjectHandle, CkError> {
        self.private.ok_or(CkError::Pkcs11(
            RvError::KeyHandleInvalid,
            call.first_function(),
        ))
    }

    /// The key that verifies: the public object, else the secret key.
    pub(crate) fn verifying(self) -> Result<ObjectHandle, CkError> {
        self.public.or(self.private).ok_or(CkError::Pkcs11(
            RvError::KeyHandleInvalid,
            Call::Verify.first_function(),
        ))
    }
}

impl HsmJwk {
    /// Loads the key that `selector` names (one lookup in the token), with the token's
    /// mechanisms as its [`Capabilities`].
    pub fn load(pool: &SessionPool, selector: &KeySelector) -> Result<Self> {
        Self::load_with(pool, selector, Capabilities::from_token(pool))
    }

    /// Loads the key that `selector` names, planning its algorithms for `capabilities` instead
    /// of the token's full mechanism list (a mechanism that is not in the token's list is never
    /// used, whatever `capabilities` says: plans choose among both).
    pub fn load_with(
        pool: &SessionPool,
        selector: &KeySelector,
        capabilities: Capabilities,
    ) -> Result<Self> {
        Self::from_pool_key_with(PoolKey::find(pool, selector.clone())?, capabilities)
    }

    /// Loads the key with this label.
    pub fn from_label(pool: &SessionPool, label: &str) -> Result<Self> {
        Self::load(pool, &KeySelector::label(label))
    }

    /// Loads the key with this `CKA_ID`.
    pub fn from_id(pool: &SessionPool, id: &[u8]) -> Result<Self> {
        Self::load(pool, &KeySelector::id(id))
    }

    /// Loads the key a PKCS#11 URI names (`pkcs11:object=signing;type=private`).
    pub fn from_uri(pool: &SessionPool, uri: &str) -> Result<Self> {
        let uri: hsm_core::Pkcs11Uri = uri.parse()?;
        Self::load(pool, &KeySelector::from_uri(&uri)?)
    }

    /// Builds the key from a [`PoolKey`] (a key already found in a pool).
    pub fn from_pool_key(key: PoolKey) -> Result<Self> {
        let caps = Capabilities::from_token(key.pool());
        Self::from_pool_key_with(key, caps)
    }

    /// Builds the key from a [`PoolKey`], planning for `capabilities`.
    ///
    /// Loading parses the public key once, learns whether the token's RSA-OAEP takes SHA-256
    /// (a probe with a block the key's own public key encrypted: never from a JWE, so no
    /// ciphertext can change what is offered), and, where the token's attributes do not prove
    /// that the public key belongs to the private key, runs a one-time self-test (a signature
    /// verified in software, an RSA-OAEP block decrypted, or an ECDH agreement compared). Both
    /// run once per process for a key (token, label, id, public key): loading it again costs no
    /// token operation.
    ///
    /// # Errors
    /// [`Error::KeyBinding`](crate::Error::KeyBinding) when the self-test shows the public key
    /// is not the private key's; token failures as for any operation.
    pub fn from_pool_key_with(key: PoolKey, capabilities: Capabilities) -> Result<Self> {
        let info = key.info();
        // A mechanism the token does not list is never planned for.
        let token = Capabilities::from_token(key.pool());
        let mut caps = capabilities.within(&token);
        if crate::probe::ec_point(&key, &info)? == crate::probe::EcPoint::Unrepaired {
            caps = caps.with_ecdsa_up_to(384);
        }
        let public = public_jwk(&info)?;
        let software = match &public {
            Some(jwk) => Some(SoftwareKey::from_jwk(jwk.clone())?),
            None => None,
        };
        let login = Login::of(&info);
        let mut key = Self {
            key,
            info,
            public,
            software,
            caps,
            oaep_sha256: OaepSha256::Unsupported,
            login,
            algorithms: Vec::new(),
            kid: None,
            key_use: None,
            key_ops: None,
            verify_in_token: false,
        };
        key.oaep_sha256 = crate::probe::oaep_sha256(&key)?;
        key.algorithms = key.offered();
        crate::probe::self_test(&key)?;
        Ok(key)
    }

    /// Sets the `kid` published with the public key and put into headers.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        self.public = self.public.map(|p| p.with_kid(kid.clone()));
        self.kid = Some(kid);
        self
    }

    /// Restricts the key to `sig` or `enc` (published as the JWK's `use`).
    pub fn with_use(mut self, key_use: impl Into<String>) -> Self {
        let key_use = key_use.into();
        self.public = self.public.map(|p| p.with_use(key_use.clone()));
        self.key_use = Some(key_use);
        self
    }

    /// Restricts the key to these operations. The published public JWK's `key_ops` carries
    /// only those a public key performs (`verify`; `encrypt`, `wrapKey` for RSA; `deriveKey`,
    /// `deriveBits` for EC as the ECDH-ES sender's input), never `sign`, `decrypt` or
    /// `unwrapKey`.
    pub fn with_key_ops(mut self, ops: &[KeyOp]) -> Self {
        let published = public_ops(&self.info.kind, ops);
        self.public = self.public.map(|p| p.with_key_ops(&published));
        self.key_ops = Some(ops.to_vec());
        self
    }

    /// Verifies signatures in the token (`C_Verify`) instead of in software from the public
    /// key. Both give the same answers; software is faster and spares the token.
    pub fn verify_in_token(mut self, yes: bool) -> Self {
        self.verify_in_token = yes;
        self
    }

    /// The key's label in the token.
    pub fn label(&self) -> &str {
        &self.info.label
    }

    /// The key's `CKA_ID`.
    pub fn id(&self) -> &[u8] {
        &self.info.id
    }

    /// What the token reported about the key: kind, capabilities, protection.
    pub fn info(&self) -> &KeyInfo {
        &self.info
    }

    /// True when the token lets the private (or secret) key be wrapped out of it
    /// (`CKA_EXTRACTABLE=true`). hsm-jose never extracts it, but a key meant to stay in the
    /// token should not be extractable: a program may want to warn or refuse.
    pub fn is_extractable(&self) -> bool {
        self.info.protection.extractable
    }

    /// True when the token asks for the PIN again for every use of the private key
    /// (`CKA_ALWAYS_AUTHENTICATE`, common on smart cards). Such a key signs through mechanisms
    /// the token runs in parts (`CKM_SHA*_RSA_PKCS`, `CKM_SHA*_RSA_PKCS_PSS`, `CKM_ECDSA_SHA*`,
    /// `CKM_SHA*_HMAC`), with a context-specific login after each `C_SignInit`; RSA-OAEP,
    /// ECDH, AES key unwrapping and EdDSA are refused for it before any token call.
    pub fn needs_pin_for_every_use(&self) -> bool {
        self.login == Login::EveryUse
    }

    /// The mechanisms this key's plans choose from.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// The pool this key uses.
    pub fn pool(&self) -> &SessionPool {
        self.key.pool()
    }

    /// The public JWK as a JSON value. A secret (HMAC or AES) key has none.
    pub fn public_value(&self) -> Result<serde_json::Value> {
        let jwk = self
            .public
            .as_ref()
            .ok_or(jose_core::Error::Key(KeyError::NoPublicKey))?;
        Ok(jwk.to_public_value()?)
    }

    /// The public JWK as JSON text: `{"kty":"RSA","n":..,"e":"AQAB","kid":..}`.
    pub fn public_json(&self) -> Result<String> {
        Ok(self.public_value()?.to_string())
    }

    /// Always an error: the private key cannot be exported from the HSM (nothing ever reads a
    /// private attribute).
    pub fn private_json(&self) -> Result<String> {
        Err(jose_core::Error::Key(KeyError::NotExportable("the HSM")).into())
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> Option<String> {
        self.public.as_ref().map(Jwk::thumbprint)
    }

    /// Runs `op` with a pooled session and the key's handles. A lost session is replaced and
    /// a stale handle looked up again, each once, by [`PoolKey::run`].
    pub(crate) fn with_key<T>(
        &self,
        op: impl Fn(&Session, Handles) -> Result<T, CkError>,
    ) -> jose_core::Result<T> {
        self.key
            .run(|s, info| op(s, Handles::of(info)))
            .map_err(backend)
    }

    /// [`with_key`](Self::with_key) for a call that consumes data from the wire: a failure
    /// that [`Call::input_rejected`] attributes to the data is the opaque
    /// [`Decryption`](jose_core::Error::Decryption) error; device failures stay typed. The
    /// decision is made on cryptoki's typed function and return value, inside the operation.
    pub(crate) fn consuming<T>(
        &self,
        call: Call,
        op: impl Fn(&Session, Handles) -> Result<T, CkError>,
    ) -> jose_core::Result<T> {
        let outcome = self.with_key(|s, h| match op(s, h) {
            Ok(value) => Ok(Some(value)),
            Err(CkError::Pkcs11(rv, function)) if call.input_rejected(rv, function) => Ok(None),
            Err(e) => Err(e),
        })?;
        outcome.ok_or(jose_core::Error::Decryption)
    }

    /// Whether the private (or secret) object may do `op` at all (the token's flags).
    pub(crate) fn private_may(&self, op: KeyOp) -> bool {
        let caps = &self.info.capabilities;
        match op {
            KeyOp::Sign => caps.sign,
            KeyOp::Decrypt | KeyOp::UnwrapKey => caps.decrypt || caps.unwrap,
            KeyOp::DeriveKey | KeyOp::DeriveBits => caps.derive,
            _ => false,
        }
    }

    /// The algorithms offered: exactly those with a plan on this token. For a key pair whose
    /// private object may not sign (or decrypt) at all, the algorithms its public key serves in
    /// software are offered too (verification, encryption to it).
    fn offered(&self) -> Vec<Algorithm> {
        let kind = &self.info.kind;
        let public_only = |op| self.software.is_some() && !self.private_may(op);
        let mut out = Vec::new();
        for &alg in JwsAlgorithm::ALL {
            let offered = match plan::sign(alg, kind, &self.caps, self.login) {
                Ok(_) => true,
                Err(Refusal::NotSupportedByDevice { .. }) => {
                    public_only(KeyOp::Sign) && KeyBackend::permits(self, KeyOp::Verify)
                }
                Err(Refusal::KeyMismatch) => false,
            };
            if offered {
                out.push(Algorithm::Jws(alg));
            }
        }
        for &alg in KeyManagementAlgorithm::ALL {
            // The private half's operation, and the public side's (encrypting to the key).
            // ECDH needs the derive permission on both sides: a key whose private half may
            // not derive offers no ECDH at all.
            let (op, public_op) = if alg.is_ecdh() {
                (KeyOp::DeriveKey, KeyOp::DeriveKey)
            } else {
                (KeyOp::Decrypt, KeyOp::Encrypt)
            };
            let offered =
                match plan::key_management(alg, kind, &self.caps, self.oaep_sha256, self.login) {
                    Ok(_) => true,
                    Err(Refusal::NotSupportedByDevice { .. }) => {
                        public_only(op) && KeyBackend::permits(self, public_op)
                    }
                    Err(Refusal::KeyMismatch) => false,
                };
            if offered {
                out.push(Algorithm::Jwe(alg));
            }
        }
        out
    }

    /// The refusal for `alg`: the plan's reason, in jose-core's terms.
    pub(crate) fn refuse(&self, alg: Algorithm) -> jose_core::Error {
        let kind = &self.info.kind;
        let refusal = match alg {
            Algorithm::Jws(a) => plan::sign(a, kind, &self.caps, self.login).err(),
            Algorithm::Jwe(a) => {
                plan::key_management(a, kind, &self.caps, self.oaep_sha256, self.login).err()
            }
            #[allow(unreachable_patterns)]
            _ => None,
        };
        match refusal {
            Some(Refusal::NotSupportedByDevice { needs }) => AlgorithmError::NotSupportedByDevice {
                alg: alg.to_string(),
                key: self.describe_key(),
                needs,
            }
            .into(),
            Some(Refusal::KeyMismatch) | None => AlgorithmError::KeyMismatch {
                alg: alg.to_string(),
                key: self.describe_key(),
            }
            .into(),
        }
    }

    pub(crate) fn describe_key(&self) -> String {
        let kind = match &self.info.kind {
            KeyKind::Rsa { bits } => format!("RSA {bits}"),
            KeyKind::Ec(c) => format!("EC {}", ec_curve(*c).name()),
            KeyKind::Edwards(EdCurve::Ed25519) => "OKP Ed25519".into(),
            KeyKind::Edwards(EdCurve::Ed448) => "OKP Ed448".into(),
            KeyKind::Aes { bytes } => format!("AES-{}", bytes * 8),
            KeyKind::GenericSecret { bytes } => format!("secret {}", bytes * 8),
            KeyKind::Unsupported { key_type } => format!("unsupported {key_type}"),
            #[allow(unreachable_patterns)]
            _ => "key".into(),
        };
        format!("{kind} `{}` in the HSM", self.info.label)
    }
}

impl std::fmt::Debug for HsmJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HsmJwk")
            .field("label", &self.info.label)
            .field("id", &base64url::encode(&self.info.id))
            .field("kind", &self.info.kind)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn a_missing_private_handle_names_the_call_that_needed_it() {
        let none = Handles {
            private: None,
            public: None,
        };
        for (call, expected) in [
            (Call::Sign, "SignInit"),
            (Call::Decrypt, "DecryptInit"),
            (Call::UnwrapKey, "UnwrapKey"),
            (Call::DeriveKey, "DeriveKey"),
            (Call::WrapKey, "WrapKey"),
            (Call::Encrypt, "EncryptInit"),
        ] {
            let err = none.private(call).unwrap_err();
            let function = match err {
                CkError::Pkcs11(RvError::KeyHandleInvalid, function) => function,
                other => panic!("{other:?}"),
            };
            let name = match function {
                Function::SignInit => "SignInit",
                Function::DecryptInit => "DecryptInit",
                Function::UnwrapKey => "UnwrapKey",
                Function::DeriveKey => "DeriveKey",
                Function::WrapKey => "WrapKey",
                Function::EncryptInit => "EncryptInit",
                _ => "other",
            };
            assert_eq!(name, expected, "{call:?}");
        }
        assert!(matches!(
            none.verifying(),
            Err(CkError::Pkcs11(
                RvError::KeyHandleInvalid,
                Function::VerifyInit
            ))
        ));
    }
}
