//! [`HsmJwk`] as jose-core's [`KeyBackend`]: each operation asks for its plan, then carries
//! it out in the token.

use cryptoki::context::Function as F;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::MechanismType;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use jose_core::jwk::{KeyMaterial, KeyOp};
use jose_core::{
    Algorithm, ContentEncryption, Header, Jwk, JwsAlgorithm, KeyBackend, KeyManagementAlgorithm,
    SecretBytes, WrappedKey, base64url,
};
use zeroize::Zeroizing;

use hsm_core::trace::token_call;

use crate::HsmJwk;
use crate::error::backend;
use crate::error::bad_output;
use crate::plan::{self, Call, KeyPlan, Login};
use crate::public::ec_curve;

impl HsmJwk {
    /// Signs `input` with `alg` in the token, following the plan (no refusal check by
    /// jose-core needed: a missing plan is refused here, before any token call).
    pub(crate) fn sign_in_token(
        &self,
        alg: JwsAlgorithm,
        input: &[u8],
    ) -> jose_core::Result<Vec<u8>> {
        let plan = plan::sign(alg, &self.info.kind, &self.caps, self.login)
            .map_err(|_| self.refuse(Algorithm::Jws(alg)))?;
        let data = plan.token_input(input);
        let signature = match self.login {
            Login::Session => self.with_key(|s, h| {
                let (mechanism, key) = (plan.mechanism(), h.private(Call::Sign)?);
                token_call(F::Sign, Some(mechanism.mechanism_type()), || {
                    s.sign(&mechanism, key, &data)
                })
            })?,
            // C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_SignUpdate, C_SignFinal: the plan
            // is one the token runs in parts (traced by hsm-core).
            Login::EveryUse => self
                .key
                .sign_authenticated(&plan.mechanism(), &data)
                .map_err(backend)?,
        };
        plan.shape(signature).ok_or_else(|| {
            bad_output(
                "signing",
                "not a signature of the expected length and range",
            )
        })
    }

    fn verify_in_token_with(
        &self,
        alg: JwsAlgorithm,
        input: &[u8],
        signature: &[u8],
    ) -> jose_core::Result<()> {
        // Verification uses the public object (or the HMAC key): no per-use PIN in the plan.
        let plan = plan::sign(alg, &self.info.kind, &self.caps, Login::Session)
            .map_err(|_| self.refuse(Algorithm::Jws(alg)))?;
        if signature.len() != plan.signature_len {
            return Err(jose_core::Error::Verification);
        }
        let data = plan.token_input(input);
        let valid = self.with_key(|s, h| {
            let (mechanism, key) = (plan.mechanism(), h.verifying()?);
            match token_call(F::Verify, Some(mechanism.mechanism_type()), || {
                s.verify(&mechanism, key, &data, signature)
            }) {
                Ok(()) => Ok(true),
                Err(CkError::Pkcs11(RvError::SignatureInvalid | RvError::SignatureLenRange, _)) => {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        })?;
        if valid {
            Ok(())
        } else {
            Err(jose_core::Error::Verification)
        }
    }

    fn key_plan(&self, alg: KeyManagementAlgorithm) -> jose_core::Result<KeyPlan> {
        plan::key_management(
            alg,
            &self.info.kind,
            &self.caps,
            self.oaep_sha256,
            self.login,
        )
        .map_err(|_| self.refuse(Algorithm::Jwe(alg)))
    }

    /// Decrypts an RSA-OAEP block in the token (the probe and the self-test use it too).
    pub(crate) fn oaep_decrypt(
        &self,
        hash: plan::OaepHash,
        block: &[u8],
    ) -> jose_core::Result<SecretBytes> {
        let call = KeyPlan::RsaOaep(hash).recipient_call();
        self.consuming(call, |s, h| {
            let (mechanism, key) = (KeyPlan::oaep(hash), h.private(call)?);
            token_call(F::Decrypt, Some(mechanism.mechanism_type()), || {
                s.decrypt(&mechanism, key, block)
            })
            .map(Zeroizing::new)
        })
    }
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
    let value = token_call(F::GetAttributeValue, None, || {
        s.get_attributes(obj, &[AttributeType::Value])
    });
    let destroyed = token_call(F::DestroyObject, None, || s.destroy_object(obj));
    let mut value = value?;
    destroyed?;
    match value.pop() {
        Some(Attribute::Value(mut v)) => Ok(Zeroizing::new(std::mem::take(&mut v))),
        _ => Err(CkError::Pkcs11(
            RvError::AttributeTypeInvalid,
            cryptoki::context::Function::GetAttributeValue,
        )),
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
        self.describe_key()
    }

    fn refusal(&self, alg: Algorithm) -> jose_core::Error {
        self.refuse(alg)
    }

    fn sign(&self, alg: JwsAlgorithm, input: &[u8]) -> jose_core::Result<Vec<u8>> {
        self.sign_in_token(alg, input)
    }

    fn verify(&self, alg: JwsAlgorithm, input: &[u8], sig: &[u8]) -> jose_core::Result<()> {
        match (&self.software, self.verify_in_token) {
            (Some(software), false) => software.verify(alg, input, sig),
            _ => self.verify_in_token_with(alg, input, sig),
        }
    }

    fn unwrap_key(
        &self,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
        header: &Header,
        _enc: ContentEncryption,
    ) -> jose_core::Result<SecretBytes> {
        match self.key_plan(alg)? {
            KeyPlan::RsaOaep(hash) => self.oaep_decrypt(hash, encrypted_key),
            plan @ KeyPlan::AesKeyWrap => {
                let call = plan.recipient_call();
                self.consuming(call, |s, h| {
                    let key = h.private(call)?;
                    let obj = token_call(F::UnwrapKey, Some(MechanismType::AES_KEY_WRAP), || {
                        s.unwrap_key(
                            &Mechanism::AesKeyWrap,
                            key,
                            encrypted_key,
                            &extractable_secret(None),
                        )
                    })?;
                    read_and_destroy(s, obj)
                })
            }
            plan @ KeyPlan::AesGcmKeyWrap => {
                let iv = header_bytes(header, "iv")?;
                let tag = header_bytes(header, "tag")?;
                if iv.len() != 12 || tag.len() != 16 {
                    return Err(jose_core::Error::Decryption);
                }
                let mut input = encrypted_key.to_vec();
                input.extend_from_slice(&tag);
                let call = plan.recipient_call();
                self.consuming(call, |s, h| {
                    let mut iv = iv.clone();
                    let params = GcmParams::new(&mut iv, &[], 128.into())?;
                    let key = h.private(call)?;
                    token_call(F::Decrypt, Some(MechanismType::AES_GCM), || {
                        s.decrypt(&Mechanism::AesGcm(params), key, &input)
                    })
                    .map(Zeroizing::new)
                })
            }
            // ECDH-ES runs through `derive_ecdh`; jose-core never unwraps with it.
            KeyPlan::EcdhDerive(_) => Err(jose_core::error::AlgorithmError::KeyMismatch {
                alg: alg.to_string(),
                key: self.describe_key(),
            }
            .into()),
        }
    }

    fn wrap_key(&self, alg: KeyManagementAlgorithm, cek: &[u8]) -> jose_core::Result<WrappedKey> {
        // Asymmetric keys: encrypt to the public key in software (parsed once, at load).
        if let Some(software) = &self.software {
            return software.wrap_key(alg, cek);
        }
        match self.key_plan(alg)? {
            KeyPlan::AesKeyWrap => {
                let encrypted_key = self.with_key(|s, h| {
                    let mut template = extractable_secret(None);
                    template.push(Attribute::Value(cek.to_vec()));
                    let obj = token_call(F::CreateObject, None, || s.create_object(&template))?;
                    // The object is destroyed whatever the wrap came to.
                    let wrapped = h.private(Call::WrapKey).and_then(|key| {
                        token_call(F::WrapKey, Some(MechanismType::AES_KEY_WRAP), || {
                            s.wrap_key(&Mechanism::AesKeyWrap, key, obj)
                        })
                    });
                    let destroyed = token_call(F::DestroyObject, None, || s.destroy_object(obj));
                    let wrapped = wrapped?;
                    destroyed?;
                    Ok(wrapped)
                })?;
                Ok(WrappedKey {
                    encrypted_key,
                    header: Default::default(),
                })
            }
            KeyPlan::AesGcmKeyWrap => {
                let mut iv = [0u8; 12];
                getrandom::fill(&mut iv).map_err(|_| jose_core::Error::Rng)?;
                let out = self.with_key(|s, h| {
                    let mut iv = iv;
                    let params = GcmParams::new(&mut iv, &[], 128.into())?;
                    let key = h.private(Call::Encrypt)?;
                    token_call(F::Encrypt, Some(MechanismType::AES_GCM), || {
                        s.encrypt(&Mechanism::AesGcm(params), key, cek)
                    })
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
            KeyPlan::RsaOaep(_) | KeyPlan::EcdhDerive(_) => {
                Err(jose_core::error::AlgorithmError::KeyMismatch {
                    alg: alg.to_string(),
                    key: self.describe_key(),
                }
                .into())
            }
        }
    }

    fn derive_ecdh(&self, epk: &Jwk) -> jose_core::Result<SecretBytes> {
        let KeyPlan::EcdhDerive(curve) = self.key_plan(KeyManagementAlgorithm::EcdhEs)? else {
            return Err(self.refuse(Algorithm::Jwe(KeyManagementAlgorithm::EcdhEs)));
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
        self.consuming(Call::DeriveKey, |s, h| {
            let params = Ecdh1DeriveParams::new(EcKdf::null(), &public);
            let key = h.private(Call::DeriveKey)?;
            let obj = token_call(F::DeriveKey, Some(MechanismType::ECDH1_DERIVE), || {
                s.derive_key(
                    &Mechanism::Ecdh1Derive(params),
                    key,
                    &extractable_secret(Some(len)),
                )
            })?;
            read_and_destroy(s, obj)
        })
    }
}
