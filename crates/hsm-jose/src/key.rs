//! [`HsmJwk`]: a key in a PKCS#11 token, usable wherever jose-core takes a key.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use hsm_core::{
    EcCurve as HsmEcCurve, EdCurve, KeyInfo, KeyKind, KeySelector, PoolKey, PublicKeyMaterial,
    SessionPool,
};
use jose_core::error::{AlgorithmError, KeyError};
use jose_core::jwk::{EcCurve, EcKey, KeyMaterial, KeyOp, OkpCurve, OkpKey, RsaKey};
use jose_core::{
    Algorithm, ContentEncryption, Header, Jwk, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm,
    SecretBytes, SoftwareKey, WrappedKey, base64url,
};
use zeroize::Zeroizing;

use crate::error::{Error, Result, backend};
use crate::mechanism::{self, SignPlan};

/// A key held in a PKCS#11 token, as a JOSE key.
///
/// The private (or secret) part never leaves the token: signing, RSA-OAEP decryption, AES key
/// unwrapping and ECDH agreement run in the token; verification and encryption to the key use
/// its public JWK in software (or, for HMAC keys and on request, the token).
///
/// An `HsmJwk` is `Send + Sync`: share one (in an `Arc` or by reference) across threads. Each
/// operation checks a session out of the pool for that one call; the key is looked up once, at
/// load time, and looked up again only if the token invalidates its handle.
///
/// ```no_run
/// use hsm_jose::{HsmJwk, SessionPool};
/// use jose_core::{jws, JwsAlgorithm};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = SessionPool::from_env()?; // HSM_MODULE, HSM_TOKEN, HSM_PIN
/// let key = HsmJwk::from_label(&pool, "signing-key")?.with_kid("2026-11");
/// let token = jws::sign_compact(&key, JwsAlgorithm::ES256, b"hello", None)?;
/// println!("{}", key.public_json()?); // {"kty":"EC","crv":"P-256",...,"kid":"2026-11"}
/// # Ok(()) }
/// ```
pub struct HsmJwk {
    key: PoolKey,
    info: Arc<KeyInfo>,
    public: Option<Jwk>,
    software: Option<SoftwareKey>,
    algorithms: Vec<Algorithm>,
    kid: Option<String>,
    key_use: Option<String>,
    key_ops: Option<Vec<KeyOp>>,
    verify_in_token: bool,
    oaep256_unsupported: AtomicBool,
}

/// The object handles an operation needs.
#[derive(Debug, Clone, Copy)]
struct Handles {
    /// The private key, or the secret key.
    private: Option<ObjectHandle>,
    /// The public key object, when the token has one.
    public: Option<ObjectHandle>,
}

impl Handles {
    fn of(info: &KeyInfo) -> Self {
        Self {
            private: info.private_or_secret(),
            public: info.public,
        }
    }
}

impl HsmJwk {
    /// Loads the key that `selector` names (one lookup in the token).
    pub fn load(pool: &SessionPool, selector: &KeySelector) -> Result<Self> {
        Self::from_pool_key(PoolKey::find(pool, selector.clone())?)
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
        let info = key.info();
        let public = public_jwk(&info)?;
        let software = match &public {
            Some(jwk) => Some(SoftwareKey::from_jwk(jwk.clone())?),
            None => None,
        };
        let algorithms = algorithms(key.pool(), &info);
        Ok(Self {
            key,
            info,
            public,
            software,
            algorithms,
            kid: None,
            key_use: None,
            key_ops: None,
            verify_in_token: false,
            oaep256_unsupported: AtomicBool::new(false),
        })
    }

    /// Sets the `kid` published with the public key and put into headers.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        self.public = self.public.map(|p| p.with_kid(kid.clone()));
        self.software = self.software.map(|s| s.with_kid(kid.clone()));
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

    /// Restricts the key to these operations (published as the JWK's `key_ops`).
    pub fn with_key_ops(mut self, ops: &[KeyOp]) -> Self {
        self.public = self.public.map(|p| p.with_key_ops(ops));
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
    fn with_key<T>(
        &self,
        op: impl Fn(&Session, Handles) -> Result<T, CkError>,
    ) -> jose_core::Result<T> {
        self.key
            .run(|s, info| op(s, Handles::of(info)))
            .map_err(backend)
    }

    fn private_handle(h: Handles) -> Result<ObjectHandle, CkError> {
        h.private.ok_or(CkError::Pkcs11(
            RvError::KeyHandleInvalid,
            cryptoki::context::Function::SignInit,
        ))
    }

    fn mismatch(&self, alg: impl fmt::Display) -> jose_core::Error {
        AlgorithmError::KeyMismatch {
            alg: alg.to_string(),
            key: self.describe(),
        }
        .into()
    }

    fn unwrap_in_token(
        &self,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
        header: &Header,
    ) -> jose_core::Result<SecretBytes> {
        use KeyManagementAlgorithm as K;
        match alg {
            K::RsaOaep | K::RsaOaep256 => {
                if alg == K::RsaOaep256 && self.oaep256_unsupported.load(Ordering::Relaxed) {
                    return Err(oaep256_unsupported());
                }
                let r = self.with_key(|s, h| {
                    s.decrypt(
                        &mechanism::oaep(alg),
                        Self::private_handle(h)?,
                        encrypted_key,
                    )
                });
                match r {
                    Ok(cek) => Ok(Zeroizing::new(cek)),
                    Err(e)
                        if alg == K::RsaOaep256
                            && is_rv(
                                &e,
                                &[RvError::ArgumentsBad, RvError::MechanismParamInvalid],
                            ) =>
                    {
                        self.oaep256_unsupported.store(true, Ordering::Relaxed);
                        Err(oaep256_unsupported())
                    }
                    Err(e) => Err(decryption_or_device(e)),
                }
            }
            K::A128KW | K::A192KW | K::A256KW => {
                let r = self.with_key(|s, h| {
                    let obj = s.unwrap_key(
                        &Mechanism::AesKeyWrap,
                        Self::private_handle(h)?,
                        encrypted_key,
                        &extractable_secret(None),
                    )?;
                    read_and_destroy(s, obj)
                });
                r.map_err(decryption_or_device)
            }
            K::A128GCMKW | K::A192GCMKW | K::A256GCMKW => {
                let iv = header_bytes(header, "iv")?;
                let tag = header_bytes(header, "tag")?;
                if iv.len() != 12 || tag.len() != 16 {
                    return Err(jose_core::Error::Decryption);
                }
                let mut input = encrypted_key.to_vec();
                input.extend_from_slice(&tag);
                let r = self.with_key(|s, h| {
                    let mut iv = iv.clone();
                    let params = GcmParams::new(&mut iv, &[], 128.into())?;
                    s.decrypt(&Mechanism::AesGcm(params), Self::private_handle(h)?, &input)
                });
                r.map(Zeroizing::new).map_err(decryption_or_device)
            }
            other => Err(self.mismatch(other)),
        }
    }
}

fn oaep256_unsupported() -> jose_core::Error {
    AlgorithmError::Unsupported(
        "RSA-OAEP-256 (not supported by this token: its RSA-OAEP takes only SHA-1)".into(),
    )
    .into()
}

fn header_bytes(header: &Header, name: &'static str) -> jose_core::Result<Vec<u8>> {
    let text = header.get_str(name).ok_or(jose_core::Error::Decryption)?;
    base64url::decode("header member", text).map_err(|_| jose_core::Error::Decryption)
}

/// A template for a short-lived session object whose value may be read: the CEK or ECDH
/// secret that leaves the token by design (the private key never does).
fn extractable_secret(len: Option<usize>) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    if let Some(len) = len {
        t.push(Attribute::ValueLen((len as u64).into()));
    }
    t
}

fn read_and_destroy(s: &Session, obj: ObjectHandle) -> Result<SecretBytes, CkError> {
    let value = s.get_attributes(obj, &[AttributeType::Value]);
    let destroyed = s.destroy_object(obj);
    let mut value = value?;
    destroyed?;
    match value.pop() {
        Some(Attribute::Value(mut v)) => {
            let out = Zeroizing::new(std::mem::take(&mut v));
            Ok(out)
        }
        _ => Err(CkError::Pkcs11(
            RvError::AttributeTypeInvalid,
            cryptoki::context::Function::GetAttributeValue,
        )),
    }
}

fn rv_of(e: &hsm_core::Error) -> Option<RvError> {
    e.rv()
}

fn is_rv(e: &jose_core::Error, rvs: &[RvError]) -> bool {
    crate::error::hsm_error(e)
        .and_then(rv_of)
        .is_some_and(|rv| rvs.contains(&rv))
}

/// A failure of the decryption itself is the opaque error; a device failure stays typed.
///
/// `CKR_GENERAL_ERROR` and `CKR_FUNCTION_FAILED` from the call that consumes the encrypted data
/// (`C_Decrypt`, `C_UnwrapKey`, `C_DeriveKey`) count as decryption failures: SoftHSM 2.6.1
/// answers a tampered RSA-OAEP block, a block for another RSA key and a tampered AES key-wrap or
/// AES-GCM key with `CKR_GENERAL_ERROR`. Reporting that as a token failure would tell a bad key
/// block from a bad tag (checklist item 17, RFC 7516 section 11.5). From any other call (a key
/// lookup, a login) the same codes are device failures and stay typed.
fn decryption_or_device(e: jose_core::Error) -> jose_core::Error {
    const DATA: &[RvError] = &[
        RvError::EncryptedDataInvalid,
        RvError::EncryptedDataLenRange,
        RvError::WrappedKeyInvalid,
        RvError::WrappedKeyLenRange,
        RvError::DataInvalid,
        RvError::DataLenRange,
        RvError::UnwrappingKeyHandleInvalid,
        RvError::KeySizeRange,
    ];
    use cryptoki::context::Function;
    let Some(hsm) = crate::error::hsm_error(&e) else {
        return e;
    };
    let data_call = matches!(
        hsm.function(),
        Some(Function::Decrypt | Function::UnwrapKey | Function::DeriveKey)
    );
    match hsm.rv() {
        Some(rv) if DATA.contains(&rv) => jose_core::Error::Decryption,
        Some(RvError::GeneralError | RvError::FunctionFailed) if data_call => {
            jose_core::Error::Decryption
        }
        _ => e,
    }
}

impl fmt::Debug for HsmJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HsmJwk")
            .field("label", &self.info.label)
            .field("id", &base64url::encode(&self.info.id))
            .field("kind", &self.info.kind)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl KeyBackend for HsmJwk {
    fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn public_jwk(&self) -> Option<&Jwk> {
        self.public.as_ref()
    }

    fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    fn permits(&self, op: KeyOp) -> bool {
        let caps = &self.info.capabilities;
        let asymmetric = self.public.is_some();
        let capable = match op {
            KeyOp::Sign => caps.sign,
            KeyOp::Verify => asymmetric || caps.verify,
            KeyOp::Decrypt => caps.decrypt,
            KeyOp::UnwrapKey => caps.unwrap || caps.decrypt,
            KeyOp::Encrypt => asymmetric || caps.encrypt,
            KeyOp::WrapKey => asymmetric || caps.wrap || caps.encrypt,
            KeyOp::DeriveKey | KeyOp::DeriveBits => caps.derive,
            _ => false,
        };
        let use_ok = self.key_use.as_deref().is_none_or(|u| u == op.key_use());
        let ops_ok = self.key_ops.as_ref().is_none_or(|ops| ops.contains(&op));
        capable && use_ok && ops_ok
    }

    fn describe(&self) -> String {
        let kind = match &self.info.kind {
            KeyKind::Rsa { bits } => format!("RSA {bits}"),
            KeyKind::Ec(c) => format!("EC {}", ec_curve(*c).name()),
            KeyKind::Edwards(EdCurve::Ed25519) => "OKP Ed25519".into(),
            KeyKind::Edwards(EdCurve::Ed448) => "OKP Ed448".into(),
            KeyKind::Aes { bytes } => format!("AES-{}", bytes * 8),
            KeyKind::GenericSecret { bytes } => format!("secret {}", bytes * 8),
            #[allow(unreachable_patterns)]
            _ => "key".into(),
        };
        format!("{kind} `{}` in the HSM", self.info.label)
    }

    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> jose_core::Result<Vec<u8>> {
        let kind = &self.info.kind;
        let (_, plan) = mechanism::jws_mechanism(alg, kind).ok_or_else(|| self.mismatch(alg))?;
        let digest;
        let data = match plan {
            SignPlan::EcdsaDigest { .. } => {
                digest = mechanism::ecdsa_digest(alg, input);
                digest.as_slice()
            }
            SignPlan::Direct | SignPlan::Eddsa => input,
        };
        let sig = self.with_key(|s, h| {
            s.sign(
                &mechanism::jws_sign_mechanism(alg, kind),
                Self::private_handle(h)?,
                data,
            )
        })?;
        if let SignPlan::EcdsaDigest { coordinate_len } = plan {
            if sig.len() != 2 * coordinate_len {
                let e = hsm_core::Error::Pkcs11 {
                    function: cryptoki::context::Function::Sign,
                    rv: RvError::SignatureLenRange,
                };
                return Err(backend(e));
            }
        }
        Ok(sig)
    }

    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> jose_core::Result<()> {
        match (&self.software, self.verify_in_token) {
            (Some(software), false) => software.verify(alg, input, sig),
            _ => {
                let kind = &self.info.kind;
                let (_, plan) =
                    mechanism::jws_mechanism(alg, kind).ok_or_else(|| self.mismatch(alg))?;
                let digest;
                let data = match plan {
                    SignPlan::EcdsaDigest { coordinate_len } => {
                        if sig.len() != 2 * coordinate_len {
                            return Err(jose_core::Error::Verification);
                        }
                        digest = mechanism::ecdsa_digest(alg, input);
                        digest.as_slice()
                    }
                    _ => input,
                };
                let r = self.with_key(|s, h| {
                    let handle = h.public.or(h.private).ok_or(CkError::Pkcs11(
                        RvError::KeyHandleInvalid,
                        cryptoki::context::Function::VerifyInit,
                    ))?;
                    s.verify(&mechanism::jws_sign_mechanism(alg, kind), handle, data, sig)
                });
                match r {
                    Ok(()) => Ok(()),
                    Err(e)
                        if is_rv(&e, &[RvError::SignatureInvalid, RvError::SignatureLenRange]) =>
                    {
                        Err(jose_core::Error::Verification)
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    fn unwrap_key(
        &self,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
        header: &Header,
        _enc: ContentEncryption,
    ) -> jose_core::Result<SecretBytes> {
        if mechanism::jwe_mechanism(alg, &self.info.kind).is_none() || alg.is_ecdh() {
            return Err(self.mismatch(alg));
        }
        self.unwrap_in_token(alg, encrypted_key, header)
    }

    fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> jose_core::Result<WrappedKey> {
        use KeyManagementAlgorithm as K;
        match alg {
            K::A128KW | K::A192KW | K::A256KW
                if mechanism::jwe_mechanism(alg, &self.info.kind).is_some() =>
            {
                let encrypted_key = self.with_key(|s, h| {
                    let mut template = extractable_secret(None);
                    template.push(Attribute::Value(cek.to_vec()));
                    let obj = s.create_object(&template)?;
                    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, Self::private_handle(h)?, obj);
                    let destroyed = s.destroy_object(obj);
                    let wrapped = wrapped?;
                    destroyed?;
                    Ok(wrapped)
                })?;
                Ok(WrappedKey {
                    encrypted_key,
                    header: Default::default(),
                })
            }
            K::A128GCMKW | K::A192GCMKW | K::A256GCMKW
                if mechanism::jwe_mechanism(alg, &self.info.kind).is_some() =>
            {
                let mut iv = [0u8; 12];
                getrandom::fill(&mut iv).map_err(|_| jose_core::Error::Rng)?;
                let out = self.with_key(|s, h| {
                    let mut iv = iv;
                    let params = GcmParams::new(&mut iv, &[], 128.into())?;
                    s.encrypt(&Mechanism::AesGcm(params), Self::private_handle(h)?, cek)
                })?;
                let split = out.len().saturating_sub(16);
                let mut header = serde_json::Map::new();
                header.insert("iv".into(), base64url::encode(&iv).into());
                header.insert("tag".into(), base64url::encode(&out[split..]).into());
                Ok(WrappedKey {
                    encrypted_key: out[..split].to_vec(),
                    header,
                })
            }
            // Asymmetric keys: encrypt to the public key in software.
            _ => match &self.software {
                Some(software) => software.wrap_key(alg, cek),
                None => Err(self.mismatch(alg)),
            },
        }
    }

    fn derive_ecdh(&self, epk: &Jwk) -> jose_core::Result<SecretBytes> {
        let KeyKind::Ec(curve) = self.info.kind else {
            return Err(self.mismatch("ECDH-ES"));
        };
        let KeyMaterial::Ec(point) = epk.material() else {
            return Err(jose_core::Error::Decryption);
        };
        if point.crv != ec_curve(curve) {
            return Err(jose_core::Error::Decryption);
        }
        let mut public = Vec::with_capacity(1 + point.x.len() * 2);
        public.push(4);
        public.extend_from_slice(&point.x);
        public.extend_from_slice(&point.y);
        let len = ec_curve(curve).coordinate_len();
        let z = self.with_key(|s, h| {
            let params = Ecdh1DeriveParams::new(EcKdf::null(), &public);
            let obj = s.derive_key(
                &Mechanism::Ecdh1Derive(params),
                Self::private_handle(h)?,
                &extractable_secret(Some(len)),
            )?;
            read_and_destroy(s, obj)
        });
        z.map_err(decryption_or_device)
    }
}

fn ec_curve(c: HsmEcCurve) -> EcCurve {
    match c {
        HsmEcCurve::P256 => EcCurve::P256,
        HsmEcCurve::P384 => EcCurve::P384,
        _ => EcCurve::P521,
    }
}

/// The public JWK of a token key (no `kid` yet), or `None` for a secret key.
fn public_jwk(info: &KeyInfo) -> Result<Option<Jwk>> {
    let unsupported = |reason| Error::UnsupportedKey {
        label: info.label.clone(),
        reason,
    };
    let material = match (&info.kind, &info.public_key) {
        (KeyKind::Aes { .. } | KeyKind::GenericSecret { .. }, _) => return Ok(None),
        (_, None) => return Err(unsupported("the token does not reveal its public key")),
        (_, Some(PublicKeyMaterial::Rsa { n, e })) => KeyMaterial::Rsa(RsaKey {
            n: n.clone(),
            e: e.clone(),
            private: None,
        }),
        (_, Some(PublicKeyMaterial::Ec { curve, x, y })) => KeyMaterial::Ec(EcKey {
            crv: ec_curve(*curve),
            x: x.clone(),
            y: y.clone(),
            d: None,
        }),
        (_, Some(PublicKeyMaterial::Edwards { curve, point })) => {
            let crv = match curve {
                EdCurve::Ed25519 => OkpCurve::Ed25519,
                _ => OkpCurve::Ed448,
            };
            KeyMaterial::Okp(OkpKey {
                crv,
                x: point.clone(),
                d: None,
            })
        }
        #[allow(unreachable_patterns)]
        _ => return Err(unsupported("unknown public key type")),
    };
    Ok(Some(Jwk::new(material)?))
}

/// The algorithms the key can serve: its kind, the token's mechanisms, its capabilities.
fn algorithms(pool: &SessionPool, info: &KeyInfo) -> Vec<Algorithm> {
    let caps = &info.capabilities;
    let has_public = info.public_key.is_some();
    let mut out = Vec::new();
    for &alg in JwsAlgorithm::ALL {
        if let Some((mech, _)) = mechanism::jws_mechanism(alg, &info.kind) {
            // Signing needs the token's mechanism; verifying a public key needs only software.
            if (caps.sign && pool.supports(mech))
                || has_public
                || (caps.verify && pool.supports(mech))
            {
                out.push(Algorithm::Jws(alg));
            }
        }
    }
    for &alg in KeyManagementAlgorithm::ALL {
        if let Some(mech) = mechanism::jwe_mechanism(alg, &info.kind) {
            if pool.supports(mech) || has_public {
                out.push(Algorithm::Jwe(alg));
            }
        }
    }
    out
}
