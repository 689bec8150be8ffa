//! One plan per operation: how a JOSE algorithm runs on a key in a token.
//!
//! [`sign`] and [`key_management`] are the only places that map (JOSE algorithm, key kind,
//! token capabilities) to PKCS#11: the mechanism and its parameters, what is hashed in software
//! first, how the token's output is shaped, and which calls run. Everything else in this crate
//! asks for a plan and carries it out; [`HsmJwk::algorithms`](crate::HsmJwk) is derived from
//! which plans exist, so an algorithm is offered exactly when a plan exists.
//!
//! Each algorithm has an ordered list of candidates: the direct mechanism first, then the
//! fallbacks real tokens need (RS* through `CKM_RSA_PKCS` on a DigestInfo built in software,
//! PS* through `CKM_RSA_PKCS_PSS` on a software digest). The first candidate whose mechanism the
//! token lists is the plan; when the key's kind fits but no candidate's mechanism is listed, the
//! refusal names them all.
//!
//! A plan is plain data (`Copy`, `Send`, `Sync`). cryptoki's `Mechanism` is neither `Send` nor
//! `Sync`, so the plan builds it where the call is made ([`SignPlan::mechanism`],
//! [`KeyPlan::oaep`]).

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use hsm_core::{EcCurve, EdCurve, KeyKind};
use jose_core::{JwsAlgorithm, KeyManagementAlgorithm};
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::Capabilities;
use crate::capabilities::MechanismUse;

/// Why no plan exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The key's kind (type, curve, size) cannot serve the algorithm on any token.
    KeyMismatch,
    /// The key would fit, but the token lists none of the mechanisms that could run it.
    NotSupportedByDevice {
        /// The mechanisms that would do (`CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS`).
        needs: String,
    },
}

/// The PKCS#11 call that carries out a plan's main step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `C_SignInit`, `C_Sign`.
    Sign,
    /// `C_VerifyInit`, `C_Verify`.
    Verify,
    /// `C_DecryptInit`, `C_Decrypt`.
    Decrypt,
    /// `C_EncryptInit`, `C_Encrypt`.
    Encrypt,
    /// `C_UnwrapKey`.
    UnwrapKey,
    /// `C_WrapKey` (after `C_CreateObject` of the key to wrap).
    WrapKey,
    /// `C_DeriveKey`.
    DeriveKey,
}

impl Call {
    /// The first function of the call, which is the one that fails when the key is missing.
    pub(crate) fn first_function(self) -> Function {
        match self {
            Call::Sign => Function::SignInit,
            Call::Verify => Function::VerifyInit,
            Call::Decrypt => Function::DecryptInit,
            Call::Encrypt => Function::EncryptInit,
            Call::UnwrapKey => Function::UnwrapKey,
            Call::WrapKey => Function::WrapKey,
            Call::DeriveKey => Function::DeriveKey,
        }
    }

    /// True when `function` is the step of this call that consumes data from the wire (the
    /// encrypted key, the ephemeral public key), so that its failure is the data's fault.
    fn consumes_input(self, function: Function) -> bool {
        matches!(
            (self, function),
            (Call::Decrypt, Function::Decrypt)
                | (Call::UnwrapKey, Function::UnwrapKey)
                | (Call::DeriveKey, Function::DeriveKey)
        )
    }

    /// True when a token failure means "the input was rejected", which the caller reports as
    /// the one opaque decryption error, never as a token failure.
    ///
    /// The data-class return values count from any step. `CKR_GENERAL_ERROR` and
    /// `CKR_FUNCTION_FAILED` count only from the step that consumes the input: SoftHSM 2.6.1
    /// answers a tampered RSA-OAEP block, a block for another RSA key and a tampered AES key
    /// wrap or AES-GCM key with `CKR_GENERAL_ERROR`; reporting that as a token failure would
    /// tell a bad key block from a bad tag (RFC 7516 section 11.5). From any other step (an
    /// init, a key lookup) the same codes are device failures and stay typed.
    pub(crate) fn input_rejected(self, rv: RvError, function: Function) -> bool {
        match rv {
            RvError::EncryptedDataInvalid
            | RvError::EncryptedDataLenRange
            | RvError::WrappedKeyInvalid
            | RvError::WrappedKeyLenRange
            | RvError::DataInvalid
            | RvError::DataLenRange
            | RvError::UnwrappingKeyHandleInvalid
            | RvError::KeySizeRange => true,
            RvError::GeneralError | RvError::FunctionFailed => self.consumes_input(function),
            _ => false,
        }
    }
}

/// A hash of the JWS algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigHash {
    Sha256,
    Sha384,
    Sha512,
}

impl SigHash {
    fn digest(self, input: &[u8]) -> Vec<u8> {
        match self {
            SigHash::Sha256 => Sha256::digest(input).to_vec(),
            SigHash::Sha384 => Sha384::digest(input).to_vec(),
            SigHash::Sha512 => Sha512::digest(input).to_vec(),
        }
    }

    /// The RFC 8017 section 9.2 DigestInfo prefix, as the `rsa` crate builds it from the
    /// digest's OID.
    fn digest_info_prefix(self) -> Box<[u8]> {
        match self {
            SigHash::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>().prefix,
            SigHash::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>().prefix,
            SigHash::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>().prefix,
        }
    }

    fn len(self) -> usize {
        match self {
            SigHash::Sha256 => 32,
            SigHash::Sha384 => 48,
            SigHash::Sha512 => 64,
        }
    }

    fn mechanism(self) -> MechanismType {
        match self {
            SigHash::Sha256 => MechanismType::SHA256,
            SigHash::Sha384 => MechanismType::SHA384,
            SigHash::Sha512 => MechanismType::SHA512,
        }
    }

    fn mgf(self) -> PkcsMgfType {
        match self {
            SigHash::Sha256 => PkcsMgfType::MGF1_SHA256,
            SigHash::Sha384 => PkcsMgfType::MGF1_SHA384,
            SigHash::Sha512 => PkcsMgfType::MGF1_SHA512,
        }
    }
}

/// The token mechanism of a signature plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignMechanism {
    /// `CKM_SHA*_RSA_PKCS`: the token hashes and pads.
    RsaPkcsHashing(SigHash),
    /// `CKM_RSA_PKCS` on a DigestInfo built in software: the token pads.
    RsaPkcsRaw,
    /// `CKM_SHA*_RSA_PKCS_PSS`: the token hashes and pads (salt = hash length).
    RsaPssHashing(SigHash),
    /// `CKM_RSA_PKCS_PSS` on a digest computed in software.
    RsaPssRaw(SigHash),
    /// `CKM_ECDSA` on a digest computed in software.
    Ecdsa,
    /// `CKM_ECDSA_SHA*`: the token hashes (the plan for keys that need the PIN for every use,
    /// and for tokens without `CKM_ECDSA`).
    EcdsaHashing(SigHash),
    /// `CKM_EDDSA` on the message.
    Eddsa(EdCurve),
    /// `CKM_SHA*_HMAC`.
    Hmac(SigHash),
}

impl SignMechanism {
    /// The mechanism type, as the token's mechanism list names it.
    pub(crate) fn mechanism_type(self) -> MechanismType {
        match self {
            SignMechanism::RsaPkcsHashing(SigHash::Sha256) => MechanismType::SHA256_RSA_PKCS,
            SignMechanism::RsaPkcsHashing(SigHash::Sha384) => MechanismType::SHA384_RSA_PKCS,
            SignMechanism::RsaPkcsHashing(SigHash::Sha512) => MechanismType::SHA512_RSA_PKCS,
            SignMechanism::RsaPkcsRaw => MechanismType::RSA_PKCS,
            SignMechanism::RsaPssHashing(SigHash::Sha256) => MechanismType::SHA256_RSA_PKCS_PSS,
            SignMechanism::RsaPssHashing(SigHash::Sha384) => MechanismType::SHA384_RSA_PKCS_PSS,
            SignMechanism::RsaPssHashing(SigHash::Sha512) => MechanismType::SHA512_RSA_PKCS_PSS,
            SignMechanism::RsaPssRaw(_) => MechanismType::RSA_PKCS_PSS,
            SignMechanism::Ecdsa => MechanismType::ECDSA,
            SignMechanism::EcdsaHashing(SigHash::Sha256) => MechanismType::ECDSA_SHA256,
            SignMechanism::EcdsaHashing(SigHash::Sha384) => MechanismType::ECDSA_SHA384,
            SignMechanism::EcdsaHashing(SigHash::Sha512) => MechanismType::ECDSA_SHA512,
            SignMechanism::Eddsa(_) => MechanismType::EDDSA,
            SignMechanism::Hmac(SigHash::Sha256) => MechanismType::SHA256_HMAC,
            SignMechanism::Hmac(SigHash::Sha384) => MechanismType::SHA384_HMAC,
            SignMechanism::Hmac(SigHash::Sha512) => MechanismType::SHA512_HMAC,
        }
    }
}

impl SignMechanism {
    /// True when PKCS#11 defines the mechanism for multi-part signing (`C_SignUpdate`,
    /// `C_SignFinal`): the mechanisms that hash in the token. Raw RSA, raw PSS, `CKM_ECDSA` and
    /// `CKM_EDDSA` are single-part only.
    pub(crate) fn runs_in_parts(self) -> bool {
        match self {
            SignMechanism::RsaPkcsHashing(_)
            | SignMechanism::RsaPssHashing(_)
            | SignMechanism::EcdsaHashing(_)
            | SignMechanism::Hmac(_) => true,
            SignMechanism::RsaPkcsRaw
            | SignMechanism::RsaPssRaw(_)
            | SignMechanism::Ecdsa
            | SignMechanism::Eddsa(_) => false,
        }
    }
}

/// How often the key needs the PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Login {
    /// The pool's login covers every use of the key.
    Session,
    /// Every use needs the PIN again (`CKA_ALWAYS_AUTHENTICATE`): `C_Login(CKU_CONTEXT_SPECIFIC)`
    /// between the operation's init and its data. hsm-core can place that login only before a
    /// multi-part operation's data (`cryptoki` 0.12 wraps single-part `C_Sign` and `C_Decrypt`
    /// only together with their own init), so such a key signs only through mechanisms the token
    /// runs in parts, and no key management plan exists for it.
    EveryUse,
}

impl Login {
    /// What the token says about the key.
    pub(crate) fn of(info: &hsm_core::KeyInfo) -> Self {
        if info.protection.always_authenticate {
            Login::EveryUse
        } else {
            Login::Session
        }
    }
}

/// The text that [`Login::EveryUse`] adds to a refusal.
const EVERY_USE: &str = "run in parts, because the key needs the PIN for every use \
                         (CKA_ALWAYS_AUTHENTICATE) and hsm-jose can log in for one operation only \
                         before multi-part data";

/// What the token is given to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignInput {
    /// The JWS signing input itself.
    Message,
    /// Its digest, computed in software.
    Digest(SigHash),
    /// The DER DigestInfo (RFC 8017 section 9.2) of its digest, built in software.
    DigestInfo(SigHash),
}

/// How the token's signature becomes the JWS signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignOutput {
    /// As it is.
    AsIs,
    /// An RSA signature: left-padded with zeros to the modulus length when a token drops its
    /// leading zero bytes (RFC 8017 I2OSP; JWS needs the full length).
    RsaFullLength,
    /// Fixed-length `r || s`, S normalised to the lower half of the curve order (low-S).
    EcdsaLowS(EcCurve),
}

/// How one JWS algorithm is signed (and verified in the token) with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SignPlan {
    pub(crate) mechanism: SignMechanism,
    pub(crate) input: SignInput,
    pub(crate) output: SignOutput,
    /// The exact length of the signature the token returns.
    pub(crate) signature_len: usize,
}

impl SignPlan {
    /// The mechanism to call the token with (built here: `Mechanism` is not `Send`).
    pub(crate) fn mechanism(&self) -> Mechanism<'static> {
        let pss = |hash: SigHash| PkcsPssParams {
            hash_alg: hash.mechanism(),
            mgf: hash.mgf(),
            s_len: (hash.len() as u64).into(),
        };
        match self.mechanism {
            SignMechanism::RsaPkcsHashing(SigHash::Sha256) => Mechanism::Sha256RsaPkcs,
            SignMechanism::RsaPkcsHashing(SigHash::Sha384) => Mechanism::Sha384RsaPkcs,
            SignMechanism::RsaPkcsHashing(SigHash::Sha512) => Mechanism::Sha512RsaPkcs,
            SignMechanism::RsaPkcsRaw => Mechanism::RsaPkcs,
            SignMechanism::RsaPssHashing(h @ SigHash::Sha256) => {
                Mechanism::Sha256RsaPkcsPss(pss(h))
            }
            SignMechanism::RsaPssHashing(h @ SigHash::Sha384) => {
                Mechanism::Sha384RsaPkcsPss(pss(h))
            }
            SignMechanism::RsaPssHashing(h @ SigHash::Sha512) => {
                Mechanism::Sha512RsaPkcsPss(pss(h))
            }
            SignMechanism::RsaPssRaw(h) => Mechanism::RsaPkcsPss(pss(h)),
            SignMechanism::Ecdsa => Mechanism::Ecdsa,
            SignMechanism::EcdsaHashing(SigHash::Sha256) => Mechanism::EcdsaSha256,
            SignMechanism::EcdsaHashing(SigHash::Sha384) => Mechanism::EcdsaSha384,
            SignMechanism::EcdsaHashing(SigHash::Sha512) => Mechanism::EcdsaSha512,
            SignMechanism::Eddsa(EdCurve::Ed25519) => {
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure))
            }
            SignMechanism::Eddsa(EdCurve::Ed448) => {
                Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed448(&[])))
            }
            SignMechanism::Hmac(SigHash::Sha256) => Mechanism::Sha256Hmac,
            SignMechanism::Hmac(SigHash::Sha384) => Mechanism::Sha384Hmac,
            SignMechanism::Hmac(SigHash::Sha512) => Mechanism::Sha512Hmac,
        }
    }

    /// What the token is given, from the JWS signing input.
    pub(crate) fn token_input(&self, signing_input: &[u8]) -> Vec<u8> {
        match self.input {
            SignInput::Message => signing_input.to_vec(),
            SignInput::Digest(hash) => hash.digest(signing_input),
            SignInput::DigestInfo(hash) => {
                let mut info = hash.digest_info_prefix().into_vec();
                info.extend_from_slice(&hash.digest(signing_input));
                info
            }
        }
    }

    /// The JWS signature from the token's output, or `None` when the token returned something
    /// that is not a signature of this plan (wrong length, `r` or `s` out of range).
    pub(crate) fn shape(&self, signature: Vec<u8>) -> Option<Vec<u8>> {
        match self.output {
            SignOutput::RsaFullLength if signature.len() < self.signature_len => {
                let mut full = vec![0u8; self.signature_len - signature.len()];
                full.extend_from_slice(&signature);
                Some(full)
            }
            _ if signature.len() != self.signature_len => None,
            SignOutput::AsIs | SignOutput::RsaFullLength => Some(signature),
            SignOutput::EcdsaLowS(curve) => low_s(curve, &signature),
        }
    }
}

/// `r || s` with S replaced by `n - s` when it is in the upper half of the curve order, so that
/// every signature this crate makes has the one low-S form (jose-core's
/// [`ecdsa_normalize_s`](jose_core::jws::ecdsa_normalize_s) does the arithmetic with the curve
/// crates, and refuses `r` or `s` out of range).
fn low_s(curve: EcCurve, rs: &[u8]) -> Option<Vec<u8>> {
    let alg = match curve {
        EcCurve::P256 => JwsAlgorithm::ES256,
        EcCurve::P384 => JwsAlgorithm::ES384,
        EcCurve::P521 => JwsAlgorithm::ES512,
    };
    jose_core::jws::ecdsa_normalize_s(alg, rs).ok()
}

/// The byte length of an RSA signature (the modulus length).
fn rsa_len(bits: usize) -> usize {
    bits.div_ceil(8)
}

/// ECDSA: `CKM_ECDSA` on a software digest first, then `CKM_ECDSA_SHA*` (the token hashes).
fn ecdsa_plans(curve: EcCurve, hash: SigHash) -> Vec<SignPlan> {
    let plan = |mechanism, input| SignPlan {
        mechanism,
        input,
        output: SignOutput::EcdsaLowS(curve),
        signature_len: 2 * curve.coordinate_size(),
    };
    vec![
        plan(SignMechanism::Ecdsa, SignInput::Digest(hash)),
        plan(SignMechanism::EcdsaHashing(hash), SignInput::Message),
    ]
}

/// The candidate plans for `alg` on `kind`, the direct mechanism first; empty when the key's
/// kind cannot serve the algorithm.
fn sign_candidates(alg: JwsAlgorithm, kind: &KeyKind) -> Vec<SignPlan> {
    use JwsAlgorithm as A;
    let rsa_hash = match alg {
        A::RS256 | A::PS256 => Some(SigHash::Sha256),
        A::RS384 | A::PS384 => Some(SigHash::Sha384),
        A::RS512 | A::PS512 => Some(SigHash::Sha512),
        _ => None,
    };
    match (alg, kind) {
        (A::RS256 | A::RS384 | A::RS512, KeyKind::Rsa { bits }) => {
            let Some(hash) = rsa_hash else {
                return Vec::new();
            };
            let signature_len = rsa_len(*bits);
            vec![
                SignPlan {
                    mechanism: SignMechanism::RsaPkcsHashing(hash),
                    input: SignInput::Message,
                    output: SignOutput::RsaFullLength,
                    signature_len,
                },
                SignPlan {
                    mechanism: SignMechanism::RsaPkcsRaw,
                    input: SignInput::DigestInfo(hash),
                    output: SignOutput::RsaFullLength,
                    signature_len,
                },
            ]
        }
        (A::PS256 | A::PS384 | A::PS512, KeyKind::Rsa { bits }) => {
            let Some(hash) = rsa_hash else {
                return Vec::new();
            };
            let signature_len = rsa_len(*bits);
            vec![
                SignPlan {
                    mechanism: SignMechanism::RsaPssHashing(hash),
                    input: SignInput::Message,
                    output: SignOutput::RsaFullLength,
                    signature_len,
                },
                SignPlan {
                    mechanism: SignMechanism::RsaPssRaw(hash),
                    input: SignInput::Digest(hash),
                    output: SignOutput::RsaFullLength,
                    signature_len,
                },
            ]
        }
        (A::ES256, KeyKind::Ec(curve @ EcCurve::P256)) => ecdsa_plans(*curve, SigHash::Sha256),
        (A::ES384, KeyKind::Ec(curve @ EcCurve::P384)) => ecdsa_plans(*curve, SigHash::Sha384),
        (A::ES512, KeyKind::Ec(curve @ EcCurve::P521)) => ecdsa_plans(*curve, SigHash::Sha512),
        (A::EdDSA, KeyKind::Edwards(curve)) => {
            let signature_len = match curve {
                EdCurve::Ed25519 => 64,
                EdCurve::Ed448 => 114,
            };
            vec![SignPlan {
                mechanism: SignMechanism::Eddsa(*curve),
                input: SignInput::Message,
                output: SignOutput::AsIs,
                signature_len,
            }]
        }
        (A::HS256 | A::HS384 | A::HS512, KeyKind::GenericSecret { bytes }) => {
            let hash = match alg {
                A::HS256 => SigHash::Sha256,
                A::HS384 => SigHash::Sha384,
                A::HS512 => SigHash::Sha512,
                _ => return Vec::new(),
            };
            // RFC 7518 section 3.2: a key at least as long as the hash output.
            if *bytes < hash.len() {
                return Vec::new();
            }
            vec![SignPlan {
                mechanism: SignMechanism::Hmac(hash),
                input: SignInput::Message,
                output: SignOutput::AsIs,
                signature_len: hash.len(),
            }]
        }
        // Every other pairing: the key's kind does not serve the algorithm (no fallback to
        // another curve, hash or size).
        _ => Vec::new(),
    }
}

/// The plan to sign (or verify in the token) `alg` with a key of `kind` on a token with `caps`.
/// A key that needs the PIN for every use ([`Login::EveryUse`]) signs only through the
/// candidates the token runs in parts.
pub(crate) fn sign(
    alg: JwsAlgorithm,
    kind: &KeyKind,
    caps: &Capabilities,
    login: Login,
) -> Result<SignPlan, Refusal> {
    let candidates = sign_candidates(alg, kind);
    let mechanism = |p: &SignPlan| p.mechanism.mechanism_type();
    match login {
        Login::Session => choose(&candidates, kind, caps, MechanismUse::Sign, mechanism),
        Login::EveryUse => {
            let in_parts: Vec<SignPlan> = candidates
                .iter()
                .copied()
                .filter(|p| p.mechanism.runs_in_parts())
                .collect();
            if in_parts.is_empty() && !candidates.is_empty() {
                let single: Vec<String> = candidates
                    .iter()
                    .map(|p| mechanism(p).to_string())
                    .collect();
                return Err(Refusal::NotSupportedByDevice {
                    needs: format!(
                        "{} {EVERY_USE}; the token runs these in one part only",
                        single.join(" or ")
                    ),
                });
            }
            choose(&in_parts, kind, caps, MechanismUse::Sign, mechanism).map_err(|refusal| {
                match refusal {
                    Refusal::NotSupportedByDevice { needs } => Refusal::NotSupportedByDevice {
                        needs: format!("{needs} {EVERY_USE}"),
                    },
                    other => other,
                }
            })
        }
    }
}

/// The key's size in the unit PKCS#11 mechanism information uses for its kind: bits for RSA
/// (modulus) and EC (field) keys, bytes for AES and generic secret keys. EdDSA keys have two
/// sizes, because tokens differ: the curve's (255, 448) and the encoded key's in bits (256,
/// 456, as SoftHSM reports); a range that contains either takes the key.
fn key_sizes(kind: &KeyKind) -> Option<[usize; 2]> {
    match kind {
        KeyKind::Rsa { bits } => Some([*bits; 2]),
        KeyKind::Ec(EcCurve::P256) => Some([256; 2]),
        KeyKind::Ec(EcCurve::P384) => Some([384; 2]),
        KeyKind::Ec(EcCurve::P521) => Some([521; 2]),
        KeyKind::Edwards(EdCurve::Ed25519) => Some([255, 256]),
        KeyKind::Edwards(EdCurve::Ed448) => Some([448, 456]),
        KeyKind::Aes { bytes } | KeyKind::GenericSecret { bytes } => Some([*bytes; 2]),
        _ => None,
    }
}

/// The first candidate the token can run for this key; else why not.
fn choose<P: Copy>(
    candidates: &[P],
    kind: &KeyKind,
    caps: &Capabilities,
    usage: MechanismUse,
    mechanism: impl Fn(&P) -> MechanismType,
) -> Result<P, Refusal> {
    if candidates.is_empty() {
        return Err(Refusal::KeyMismatch);
    }
    let sizes = key_sizes(kind);
    let size = sizes.map(|[size, _]| size);
    let runs = |m: MechanismType| {
        caps.serves(m, usage)
            && sizes.is_none_or(|sizes| sizes.iter().any(|s| caps.takes_key_size(m, *s)))
    };
    if let Some(plan) = candidates.iter().find(|p| runs(mechanism(p))) {
        return Ok(*plan);
    }
    let names: Vec<String> = candidates
        .iter()
        .map(|p| {
            let m = mechanism(p);
            match (caps.supports(m), caps.serves(m, usage), size) {
                // Listed, but its information does not allow this operation.
                (true, false, _) => format!("{m} with {}", usage.flag()),
                // Listed, but not for keys of this size.
                (true, true, Some(size)) => format!("{m} for a key of size {size}"),
                _ => m.to_string(),
            }
        })
        .collect();
    Err(Refusal::NotSupportedByDevice {
        needs: names.join(" or "),
    })
}

/// The OAEP hash of an RSA-OAEP algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OaepHash {
    Sha1,
    Sha256,
}

/// How one key management algorithm runs with one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyPlan {
    /// `CKM_RSA_PKCS_OAEP` decryption (`C_Decrypt`); the sender encrypts in software to the
    /// public key.
    RsaOaep(OaepHash),
    /// `CKM_AES_KEY_WRAP`: `C_UnwrapKey` to a session object read once and destroyed, and
    /// `C_WrapKey` of a session object holding the CEK.
    AesKeyWrap,
    /// `CKM_AES_GCM` key encryption: `C_Decrypt` and `C_Encrypt` of the CEK.
    AesGcmKeyWrap,
    /// `CKM_ECDH1_DERIVE` with the null KDF (`C_DeriveKey`), the shared secret `Z` read once
    /// from a session object of the coordinate length and destroyed.
    EcdhDerive(EcCurve),
}

impl KeyPlan {
    /// The `C_GetMechanismInfo` flag the recipient's call needs.
    fn usage(self) -> MechanismUse {
        match self {
            KeyPlan::RsaOaep(_) | KeyPlan::AesGcmKeyWrap => MechanismUse::Decrypt,
            KeyPlan::AesKeyWrap => MechanismUse::Unwrap,
            KeyPlan::EcdhDerive(_) => MechanismUse::Derive,
        }
    }

    fn mechanism_type(self) -> MechanismType {
        match self {
            KeyPlan::RsaOaep(_) => MechanismType::RSA_PKCS_OAEP,
            KeyPlan::AesKeyWrap => MechanismType::AES_KEY_WRAP,
            KeyPlan::AesGcmKeyWrap => MechanismType::AES_GCM,
            KeyPlan::EcdhDerive(_) => MechanismType::ECDH1_DERIVE,
        }
    }

    /// The recipient's call, the one that consumes the encrypted key or the ephemeral key.
    pub(crate) fn recipient_call(self) -> Call {
        match self {
            KeyPlan::RsaOaep(_) | KeyPlan::AesGcmKeyWrap => Call::Decrypt,
            KeyPlan::AesKeyWrap => Call::UnwrapKey,
            KeyPlan::EcdhDerive(_) => Call::DeriveKey,
        }
    }

    /// The RSA-OAEP mechanism with this hash and the matching MGF1, empty label.
    pub(crate) fn oaep(hash: OaepHash) -> Mechanism<'static> {
        let (hash, mgf) = match hash {
            OaepHash::Sha1 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
            OaepHash::Sha256 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        };
        Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()))
    }
}

/// Whether the token's RSA-OAEP takes SHA-256 (RSA-OAEP-256). Learned once per key at load by
/// a probe of the token with a block the key's own public key encrypted (never from a JWE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OaepSha256 {
    /// The probe decrypted the block.
    Supported,
    /// The token refused the SHA-256 parameters, or no probe could run.
    Unsupported,
}

/// The plan for key management algorithm `alg` with a key of `kind` on a token with `caps`.
///
/// A key that needs the PIN for every use ([`Login::EveryUse`]) has no key management plan:
/// RSA-OAEP decryption is single-part, and `C_UnwrapKey` and `C_DeriveKey` have no init after
/// which a context-specific login could go.
pub(crate) fn key_management(
    alg: KeyManagementAlgorithm,
    kind: &KeyKind,
    caps: &Capabilities,
    oaep_sha256: OaepSha256,
    login: Login,
) -> Result<KeyPlan, Refusal> {
    use KeyManagementAlgorithm as K;
    let candidate = match (alg, kind) {
        (K::RsaOaep, KeyKind::Rsa { .. }) => KeyPlan::RsaOaep(OaepHash::Sha1),
        (K::RsaOaep256, KeyKind::Rsa { .. }) => {
            let plan = KeyPlan::RsaOaep(OaepHash::Sha256);
            if caps.serves(plan.mechanism_type(), plan.usage())
                && oaep_sha256 == OaepSha256::Unsupported
            {
                return Err(Refusal::NotSupportedByDevice {
                    needs: "CKM_RSA_PKCS_OAEP with SHA-256 (this token's RSA-OAEP refused \
                            SHA-256 parameters)"
                        .into(),
                });
            }
            plan
        }
        (K::EcdhEs | K::EcdhEsA128KW | K::EcdhEsA192KW | K::EcdhEsA256KW, KeyKind::Ec(curve)) => {
            KeyPlan::EcdhDerive(*curve)
        }
        (K::A128KW, KeyKind::Aes { bytes: 16 })
        | (K::A192KW, KeyKind::Aes { bytes: 24 })
        | (K::A256KW, KeyKind::Aes { bytes: 32 }) => KeyPlan::AesKeyWrap,
        (K::A128GCMKW, KeyKind::Aes { bytes: 16 })
        | (K::A192GCMKW, KeyKind::Aes { bytes: 24 })
        | (K::A256GCMKW, KeyKind::Aes { bytes: 32 }) => KeyPlan::AesGcmKeyWrap,
        // Every other pairing (including `dir`, which needs the key's value): no plan.
        _ => return Err(Refusal::KeyMismatch),
    };
    if login == Login::EveryUse {
        return Err(Refusal::NotSupportedByDevice {
            needs: format!(
                "{} with a context-specific login inside the call, which PKCS#11 defines only \
                 for multi-part operations (the key needs the PIN for every use, \
                 CKA_ALWAYS_AUTHENTICATE)",
                candidate.mechanism_type()
            ),
        });
    }
    choose(&[candidate], kind, caps, candidate.usage(), |p| {
        p.mechanism_type()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Capabilities {
        Capabilities::from_mechanisms([
            MechanismType::SHA256_RSA_PKCS,
            MechanismType::SHA384_RSA_PKCS,
            MechanismType::SHA512_RSA_PKCS,
            MechanismType::RSA_PKCS,
            MechanismType::SHA256_RSA_PKCS_PSS,
            MechanismType::RSA_PKCS_PSS,
            MechanismType::ECDSA,
            MechanismType::EDDSA,
            MechanismType::SHA256_HMAC,
            MechanismType::RSA_PKCS_OAEP,
            MechanismType::ECDH1_DERIVE,
            MechanismType::AES_KEY_WRAP,
            MechanismType::AES_GCM,
        ])
    }

    const RSA: KeyKind = KeyKind::Rsa { bits: 2048 };

    #[test]
    fn the_direct_mechanism_comes_first() {
        let plan = sign(JwsAlgorithm::RS256, &RSA, &all(), Login::Session).unwrap();
        assert_eq!(
            plan.mechanism,
            SignMechanism::RsaPkcsHashing(SigHash::Sha256)
        );
        assert_eq!(plan.input, SignInput::Message);
        assert_eq!(plan.signature_len, 256);
    }

    #[test]
    fn rs256_falls_back_to_rsa_pkcs_with_a_software_digest_info() {
        let caps = all().without(MechanismType::SHA256_RSA_PKCS);
        let plan = sign(JwsAlgorithm::RS256, &RSA, &caps, Login::Session).unwrap();
        assert_eq!(plan.mechanism, SignMechanism::RsaPkcsRaw);
        assert_eq!(plan.input, SignInput::DigestInfo(SigHash::Sha256));
        // RFC 8017 section 9.2, note 1: the SHA-256 DigestInfo prefix.
        let info = plan.token_input(b"abc");
        let prefix = [
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        assert_eq!(&info[..19], &prefix);
        assert_eq!(&info[19..], Sha256::digest(b"abc").as_slice());
    }

    #[test]
    fn an_rsa_signature_without_its_leading_zero_is_padded_back() {
        let plan = sign(JwsAlgorithm::RS256, &RSA, &all(), Login::Session).unwrap();
        let shaped = plan.shape(vec![1u8; 255]).unwrap();
        assert_eq!(shaped.len(), 256);
        assert_eq!((shaped[0], shaped[1]), (0, 1));
        assert_eq!(plan.shape(vec![1u8; 257]), None);
    }

    #[test]
    fn ps384_falls_back_to_rsa_pkcs_pss_on_a_software_digest() {
        let plan = sign(JwsAlgorithm::PS384, &RSA, &all(), Login::Session).unwrap();
        assert_eq!(plan.mechanism, SignMechanism::RsaPssRaw(SigHash::Sha384));
        assert_eq!(plan.input, SignInput::Digest(SigHash::Sha384));
        assert_eq!(plan.token_input(b"abc").len(), 48);
    }

    #[test]
    fn a_kind_that_does_not_fit_is_a_key_mismatch() {
        let p256 = KeyKind::Ec(EcCurve::P256);
        assert_eq!(
            sign(JwsAlgorithm::ES384, &p256, &all(), Login::Session),
            Err(Refusal::KeyMismatch)
        );
        assert_eq!(
            sign(JwsAlgorithm::RS256, &p256, &all(), Login::Session),
            Err(Refusal::KeyMismatch)
        );
        let short = KeyKind::GenericSecret { bytes: 32 };
        assert_eq!(
            sign(JwsAlgorithm::HS384, &short, &all(), Login::Session),
            Err(Refusal::KeyMismatch)
        );
        let aes = KeyKind::Aes { bytes: 16 };
        assert_eq!(
            key_management(
                KeyManagementAlgorithm::A256KW,
                &aes,
                &all(),
                OaepSha256::Supported,
                Login::Session
            ),
            Err(Refusal::KeyMismatch)
        );
    }

    #[test]
    fn a_token_without_any_candidate_names_them_all() {
        let caps = all()
            .without(MechanismType::SHA512_RSA_PKCS)
            .without(MechanismType::RSA_PKCS);
        assert_eq!(
            sign(JwsAlgorithm::RS512, &RSA, &caps, Login::Session),
            Err(Refusal::NotSupportedByDevice {
                needs: "CKM_SHA512_RSA_PKCS or CKM_RSA_PKCS".into()
            })
        );
    }

    #[test]
    fn a_mechanism_limited_to_smaller_keys_is_no_plan() {
        // tpm2-pkcs11 style: CKM_ECDSA up to P-384 only.
        let caps = all().with_key_sizes(MechanismType::ECDSA, 256..=384);
        assert!(
            sign(
                JwsAlgorithm::ES384,
                &KeyKind::Ec(EcCurve::P384),
                &caps,
                Login::Session
            )
            .is_ok()
        );
        assert_eq!(
            sign(
                JwsAlgorithm::ES512,
                &KeyKind::Ec(EcCurve::P521),
                &caps,
                Login::Session
            ),
            Err(Refusal::NotSupportedByDevice {
                needs: "CKM_ECDSA for a key of size 521 or CKM_ECDSA_SHA512".into()
            })
        );
        // The key's own limit (`Capabilities::with_ecdsa_up_to`) covers the hashing ECDSA too.
        let capped =
            Capabilities::from_mechanisms([MechanismType::ECDSA, MechanismType::ECDSA_SHA512])
                .with_ecdsa_up_to(384);
        assert_eq!(
            sign(
                JwsAlgorithm::ES512,
                &KeyKind::Ec(EcCurve::P521),
                &capped,
                Login::Session
            ),
            Err(Refusal::NotSupportedByDevice {
                needs: "CKM_ECDSA for a key of size 521 or CKM_ECDSA_SHA512 for a key of size 521"
                    .into()
            })
        );
        // RSA up to 3072 bits through the hashing mechanism, any size through CKM_RSA_PKCS.
        let caps = all().with_key_sizes(MechanismType::SHA256_RSA_PKCS, 1024..=3072);
        let plan = sign(
            JwsAlgorithm::RS256,
            &KeyKind::Rsa { bits: 4096 },
            &caps,
            Login::Session,
        )
        .unwrap();
        assert_eq!(plan.mechanism, SignMechanism::RsaPkcsRaw);
    }

    #[test]
    fn a_mechanism_whose_flags_lack_the_operation_is_no_plan() {
        // tpm2-pkcs11 style: CKM_ECDH1_DERIVE listed without CKF_DERIVE.
        let caps = all().serving_only(MechanismType::ECDH1_DERIVE, MechanismUse::Sign);
        assert_eq!(
            key_management(
                KeyManagementAlgorithm::EcdhEs,
                &KeyKind::Ec(EcCurve::P256),
                &caps,
                OaepSha256::Unsupported,
                Login::Session
            ),
            Err(Refusal::NotSupportedByDevice {
                needs: "CKM_ECDH1_DERIVE with CKF_DERIVE".into()
            })
        );
        // A hashing RSA mechanism that does not sign: the CKM_RSA_PKCS fallback.
        let caps = all().serving_only(MechanismType::SHA256_RSA_PKCS, MechanismUse::Decrypt);
        let plan = sign(JwsAlgorithm::RS256, &RSA, &caps, Login::Session).unwrap();
        assert_eq!(plan.mechanism, SignMechanism::RsaPkcsRaw);
        // AES key wrap needs CKF_UNWRAP, AES-GCM key wrap CKF_DECRYPT.
        let aes = KeyKind::Aes { bytes: 32 };
        let caps = all().serving_only(MechanismType::AES_KEY_WRAP, MechanismUse::Decrypt);
        assert_eq!(
            key_management(
                KeyManagementAlgorithm::A256KW,
                &aes,
                &caps,
                OaepSha256::Unsupported,
                Login::Session
            ),
            Err(Refusal::NotSupportedByDevice {
                needs: "CKM_AES_KEY_WRAP with CKF_UNWRAP".into()
            })
        );
        let caps = all().serving_only(MechanismType::AES_GCM, MechanismUse::Decrypt);
        assert_eq!(
            key_management(
                KeyManagementAlgorithm::A256GCMKW,
                &aes,
                &caps,
                OaepSha256::Unsupported,
                Login::Session
            ),
            Ok(KeyPlan::AesGcmKeyWrap)
        );
    }

    #[test]
    fn an_eddsa_range_in_either_unit_takes_the_key() {
        let ed25519 = KeyKind::Edwards(EdCurve::Ed25519);
        let ed448 = KeyKind::Edwards(EdCurve::Ed448);
        // SoftHSM: the encoded key's bits.
        let caps = all().with_key_sizes(MechanismType::EDDSA, 256..=456);
        assert!(sign(JwsAlgorithm::EdDSA, &ed25519, &caps, Login::Session).is_ok());
        assert!(sign(JwsAlgorithm::EdDSA, &ed448, &caps, Login::Session).is_ok());
        // The curves' sizes.
        let caps = all().with_key_sizes(MechanismType::EDDSA, 255..=255);
        assert!(sign(JwsAlgorithm::EdDSA, &ed25519, &caps, Login::Session).is_ok());
        assert_eq!(
            sign(JwsAlgorithm::EdDSA, &ed448, &caps, Login::Session),
            Err(Refusal::NotSupportedByDevice {
                needs: "CKM_EDDSA for a key of size 448".into()
            })
        );
    }

    #[test]
    fn rsa_oaep_256_needs_the_probe() {
        let k = KeyManagementAlgorithm::RsaOaep256;
        assert_eq!(
            key_management(k, &RSA, &all(), OaepSha256::Supported, Login::Session),
            Ok(KeyPlan::RsaOaep(OaepHash::Sha256))
        );
        assert!(matches!(
            key_management(k, &RSA, &all(), OaepSha256::Unsupported, Login::Session),
            Err(Refusal::NotSupportedByDevice { .. })
        ));
    }

    #[test]
    fn ecdsa_signatures_come_out_low_s() {
        // r = 1, s = n - 1 (high): normalised to s = 1.
        let n = hex_p256_order();
        let mut rs = vec![0u8; 64];
        rs[31] = 1;
        let mut s = n;
        s[31] -= 1;
        rs[32..].copy_from_slice(&s);
        let plan = ecdsa_plans(EcCurve::P256, SigHash::Sha256)[0];
        let out = plan.shape(rs).unwrap();
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(&out[32..], &one);
        assert_eq!(plan.shape(vec![0u8; 63]), None);
    }

    fn hex_p256_order() -> [u8; 32] {
        let hex = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn input_rejection_is_decided_by_typed_functions() {
        assert!(Call::Decrypt.input_rejected(RvError::GeneralError, Function::Decrypt));
        assert!(!Call::Decrypt.input_rejected(RvError::GeneralError, Function::DecryptInit));
        assert!(Call::UnwrapKey.input_rejected(RvError::WrappedKeyInvalid, Function::UnwrapKey));
        assert!(!Call::Decrypt.input_rejected(RvError::KeyHandleInvalid, Function::Decrypt));
        assert!(matches!(
            Call::DeriveKey.first_function(),
            Function::DeriveKey
        ));
        assert!(matches!(
            Call::Decrypt.first_function(),
            Function::DecryptInit
        ));
    }

    #[test]
    fn a_key_that_needs_the_pin_for_every_use_signs_only_in_parts() {
        let rs = sign(JwsAlgorithm::RS256, &RSA, &all(), Login::EveryUse).unwrap();
        assert_eq!(rs.mechanism, SignMechanism::RsaPkcsHashing(SigHash::Sha256));
        let ps = sign(JwsAlgorithm::PS256, &RSA, &all(), Login::EveryUse).unwrap();
        assert_eq!(ps.mechanism, SignMechanism::RsaPssHashing(SigHash::Sha256));
        // Only the raw fallback listed: no plan, and the refusal says why.
        let raw_only = Capabilities::from_mechanisms([MechanismType::RSA_PKCS]);
        assert!(sign(JwsAlgorithm::RS256, &RSA, &raw_only, Login::Session).is_ok());
        match sign(JwsAlgorithm::RS256, &RSA, &raw_only, Login::EveryUse) {
            Err(Refusal::NotSupportedByDevice { needs }) => {
                assert!(needs.starts_with("CKM_SHA256_RSA_PKCS "), "{needs}");
                assert!(needs.contains("CKA_ALWAYS_AUTHENTICATE"), "{needs}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ecdsa_hashing_in_the_token_serves_keys_that_need_the_pin_for_every_use() {
        let p256 = KeyKind::Ec(EcCurve::P256);
        // `all()` lists CKM_ECDSA only: the software digest for a plain key, no plan for a key
        // that needs the PIN for every use.
        let plain = sign(JwsAlgorithm::ES256, &p256, &all(), Login::Session).unwrap();
        assert_eq!(plain.mechanism, SignMechanism::Ecdsa);
        assert_eq!(plain.input, SignInput::Digest(SigHash::Sha256));
        match sign(JwsAlgorithm::ES256, &p256, &all(), Login::EveryUse) {
            Err(Refusal::NotSupportedByDevice { needs }) => {
                assert!(needs.starts_with("CKM_ECDSA_SHA256 "), "{needs}")
            }
            other => panic!("{other:?}"),
        }
        let hashing = Capabilities::from_mechanisms([MechanismType::ECDSA_SHA256]);
        for login in [Login::Session, Login::EveryUse] {
            let plan = sign(JwsAlgorithm::ES256, &p256, &hashing, login).unwrap();
            assert_eq!(plan.mechanism, SignMechanism::EcdsaHashing(SigHash::Sha256));
            assert_eq!(plan.input, SignInput::Message);
            assert_eq!(plan.output, SignOutput::EcdsaLowS(EcCurve::P256));
            assert_eq!(plan.signature_len, 64);
        }
    }

    #[test]
    fn single_part_mechanisms_have_no_plan_for_keys_that_need_the_pin_for_every_use() {
        match sign(
            JwsAlgorithm::EdDSA,
            &KeyKind::Edwards(EdCurve::Ed25519),
            &all(),
            Login::EveryUse,
        ) {
            Err(Refusal::NotSupportedByDevice { needs }) => {
                assert!(needs.contains("in one part only"), "{needs}")
            }
            other => panic!("{other:?}"),
        }
        for alg in [
            KeyManagementAlgorithm::RsaOaep,
            KeyManagementAlgorithm::RsaOaep256,
        ] {
            match key_management(alg, &RSA, &all(), OaepSha256::Supported, Login::EveryUse) {
                Err(Refusal::NotSupportedByDevice { needs }) => {
                    assert!(needs.starts_with("CKM_RSA_PKCS_OAEP "), "{needs}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            key_management(
                KeyManagementAlgorithm::EcdhEs,
                &KeyKind::Ec(EcCurve::P256),
                &all(),
                OaepSha256::Unsupported,
                Login::EveryUse
            ),
            Err(Refusal::NotSupportedByDevice { .. })
        ));
        // A kind that does not fit stays a mismatch, whatever the login.
        assert_eq!(
            key_management(
                KeyManagementAlgorithm::A128KW,
                &RSA,
                &all(),
                OaepSha256::Unsupported,
                Login::EveryUse
            ),
            Err(Refusal::KeyMismatch)
        );
    }
}
