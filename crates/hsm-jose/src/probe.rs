//! What loading a key learns once from the token: whether its RSA-OAEP takes SHA-256, and
//! whether the public key belongs to the private key.
//!
//! Both questions are answered with data this crate makes itself (a random block encrypted to
//! the key's own public key, a random message, an ephemeral ECDH key), never with data from
//! the wire: no JWE can change what a key offers, and no ciphertext can flip a flag.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::MechanismType;
use hsm_core::error::{rv_is_handle_invalid, rv_is_session_invalid};
use hsm_core::key::Binding;
use hsm_core::{EcCurve, KeyInfo, KeyKind, PoolKey, PublicKeyMaterial};
use jose_core::jwk::KeyOp;
use jose_core::{JwsAlgorithm, KeyBackend, KeyManagementAlgorithm, SoftwareKey};
use zeroize::Zeroizing;

use crate::HsmJwk;
use crate::capabilities::MechanismUse;
use crate::error::{Error, Result};
use crate::plan::{self, KeyPlan, Login, OaepHash, OaepSha256};
use crate::public::ec_curve;

/// Return values that a probe must not read as "the token refuses these parameters": the
/// session, login or handle is gone (the pool recovers), or the device itself failed.
fn must_propagate(rv: RvError) -> bool {
    rv_is_session_invalid(rv)
        || rv_is_handle_invalid(rv)
        || matches!(
            rv,
            RvError::DeviceError | RvError::DeviceMemory | RvError::HostMemory
        )
}

/// A key as the process has seen it: the token (module and slot), the key's label and id, and
/// the public key the token showed for it. A public object replaced on the token is another
/// identity, so nothing learned about the old one carries over.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    module: PathBuf,
    slot: u64,
    label: String,
    id: Vec<u8>,
    public: Option<PublicKeyMaterial>,
}

impl Identity {
    fn of(key: &HsmJwk) -> Self {
        Self::of_key(key.pool(), &key.info)
    }

    fn of_key(pool: &hsm_core::SessionPool, info: &KeyInfo) -> Self {
        Self {
            module: pool.module().path().to_path_buf(),
            slot: pool.slot().id(),
            label: info.label.clone(),
            id: info.id.clone(),
            public: info.public_key.clone(),
        }
    }
}

/// What the probes learned, once per process and key identity, so that loading a key again
/// (a service that loads per request, the bench) costs no token operation.
#[derive(Debug, Default)]
struct Learned {
    proven: Vec<Identity>,
    oaep_sha256: Vec<(Identity, OaepSha256)>,
    /// P-521 key pairs whose `CKA_EC_POINT` the token reads (as found, or once rewritten).
    readable_p521: Vec<Identity>,
}

static LEARNED: Mutex<Learned> = Mutex::new(Learned {
    proven: Vec::new(),
    oaep_sha256: Vec::new(),
    readable_p521: Vec::new(),
});

fn learned() -> MutexGuard<'static, Learned> {
    LEARNED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn random_block() -> Result<Zeroizing<[u8; 32]>> {
    let mut block = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *block).map_err(|_| jose_core::Error::Rng)?;
    Ok(block)
}

/// Whether the token can read back the public point of a P-521 key (see [`ec_point`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EcPoint {
    /// In a form the token reads, or not an EC P-521 key pair.
    Readable,
    /// In tpm2-pkcs11's short-form encoding, and the token refused to have it rewritten: the
    /// token cannot sign with the key.
    Unrepaired,
}

/// tpm2-pkcs11 (1.9 and, as of its current source, later) stores a P-521 key's
/// `CKA_EC_POINT` with a short-form length (`04 85 ...` where DER needs `04 81 85 ...`) and
/// then fails every `C_SignInit` with the key (`CKR_HOST_MEMORY`), for keys it generates and
/// keys `pkcs11-tool` makes alike. For a P-521 key pair this reads the attribute of the key's
/// objects (one `C_GetAttributeValue` each; other keys cost nothing) and, when it has that
/// form and holds a valid point, rewrites the same point in DER
/// ([`hsm_core::key::repair_ec_point`], a read-write session, read back). A token that
/// refuses the rewrite leaves the key [`EcPoint::Unrepaired`]: no ECDSA plan for it. A lost
/// session or a device failure is an error of the load.
pub(crate) fn ec_point(key: &PoolKey, info: &KeyInfo) -> Result<EcPoint> {
    if info.kind != KeyKind::Ec(EcCurve::P521) || info.private.is_none() {
        return Ok(EcPoint::Readable);
    }
    // Once readable, a key pair of the same identity stays so: loading it again reads nothing.
    // (An unrepaired key is looked at again on its next load: the token may take the rewrite
    // by then.)
    let identity = Identity::of_key(key.pool(), info);
    if learned().readable_p521.contains(&identity) {
        return Ok(EcPoint::Readable);
    }
    let answer = check_ec_point(key, info)?;
    if answer == EcPoint::Readable {
        learned().readable_p521.push(identity);
    }
    Ok(answer)
}

fn check_ec_point(key: &PoolKey, info: &KeyInfo) -> Result<EcPoint> {
    let needs_repair = {
        let session = key.pool().session()?;
        hsm_core::key::ec_point_needs_repair(&session, info)?
    };
    if !needs_repair {
        return Ok(EcPoint::Readable);
    }
    let repaired = key
        .pool()
        .session_rw()
        .and_then(|rw| hsm_core::key::repair_ec_point(&rw, info));
    match repaired {
        Ok(_) => Ok(EcPoint::Readable),
        Err(e) if e.rv().is_some_and(must_propagate) => Err(e.into()),
        Err(_) => Ok(EcPoint::Unrepaired),
    }
}

/// Whether the token's RSA-OAEP takes SHA-256 for this key (RSA-OAEP-256).
///
/// A random block is encrypted in software to the key's public key with RSA-OAEP-256 and
/// decrypted once in the token with SHA-256/MGF1-SHA-256 parameters. SoftHSM 2.6.1 refuses the
/// parameters at `C_DecryptInit` (no operation is left active); a token that decrypts the block
/// correctly supports it. Any other answer from the token (a refusal of the parameters, a wrong
/// result) means "not supported"; a lost session, a stale handle or a device failure is an
/// error of the load, so that a transient failure never silently hides the algorithm.
pub(crate) fn oaep_sha256(key: &HsmJwk) -> Result<OaepSha256> {
    let (KeyKind::Rsa { .. }, Some(software)) = (&key.info.kind, &key.software) else {
        return Ok(OaepSha256::Unsupported);
    };
    if !key
        .caps
        .serves(MechanismType::RSA_PKCS_OAEP, MechanismUse::Decrypt)
        || !key.private_may(KeyOp::Decrypt)
        || key.info.private.is_none()
        || key.login == Login::EveryUse
    {
        return Ok(OaepSha256::Unsupported);
    }
    let identity = Identity::of(key);
    if let Some((_, known)) = learned().oaep_sha256.iter().find(|(i, _)| *i == identity) {
        return Ok(*known);
    }
    let answer = probe_oaep_sha256(key, software)?;
    learned().oaep_sha256.push((identity, answer));
    Ok(answer)
}

fn probe_oaep_sha256(key: &HsmJwk, software: &SoftwareKey) -> Result<OaepSha256> {
    let block = random_block()?;
    let wrapped = software.wrap_key(KeyManagementAlgorithm::RsaOaep256, &*block)?;
    let call = KeyPlan::RsaOaep(OaepHash::Sha256).recipient_call();
    let decrypted = key.with_key(|s, h| {
        let mechanism = KeyPlan::oaep(OaepHash::Sha256);
        let key = h.private(call)?;
        let decrypted = hsm_core::trace::token_call(
            cryptoki::context::Function::Decrypt,
            Some(mechanism.mechanism_type()),
            || s.decrypt(&mechanism, key, &wrapped.encrypted_key),
        );
        match decrypted {
            Ok(out) => Ok(Some(Zeroizing::new(out))),
            Err(CkError::Pkcs11(rv, _)) if !must_propagate(rv) => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    Ok(match decrypted {
        Some(out) if out.as_slice() == block.as_slice() => OaepSha256::Supported,
        _ => OaepSha256::Unsupported,
    })
}

/// True when hsm-core could not prove from the token's own attributes that the public key
/// belongs to the private key ([`Binding::Unproven`]): a lone public object with the key's label
/// and id (which anyone with a read-write session can create, without logging in).
fn binding_unproven(info: &KeyInfo) -> bool {
    info.public_binding == Some(Binding::Unproven)
}

/// The one-time self-test (once per process and key identity) of a key pair whose binding is
/// unproven: a signature made in the
/// token must verify with the public key; else an RSA-OAEP block encrypted to the public key
/// must decrypt in the token; else an ECDH agreement with an ephemeral key must give the same
/// secret in the token and in software. A key whose private half may do none of these is not
/// tested (nothing this crate does with it involves the private key).
pub(crate) fn self_test(key: &HsmJwk) -> Result<()> {
    let Some(software) = &key.software else {
        return Ok(());
    };
    if !binding_unproven(&key.info) {
        return Ok(());
    }
    let identity = Identity::of(key);
    if learned().proven.contains(&identity) {
        return Ok(());
    }
    prove(key, software)?;
    learned().proven.push(identity);
    Ok(())
}

/// Runs the self-test (see [`self_test`]).
fn prove(key: &HsmJwk, software: &SoftwareKey) -> Result<()> {
    let mismatch = |reason| Error::KeyBinding {
        label: key.info.label.clone(),
        reason,
    };
    let kind = &key.info.kind;
    let message = random_block()?;

    if key.private_may(KeyOp::Sign) {
        let alg = JwsAlgorithm::ALL
            .iter()
            .copied()
            .find(|alg| plan::sign(*alg, kind, &key.caps, key.login).is_ok());
        if let Some(alg) = alg {
            let signature = key.sign_in_token(alg, &*message)?;
            return match software.verify(alg, &*message, &signature) {
                Ok(()) => Ok(()),
                Err(jose_core::Error::Verification) => Err(mismatch(
                    "a signature made by the private key does not verify with it",
                )),
                Err(e) => Err(e.into()),
            };
        }
    }

    // A key that needs the PIN for every use decrypts and derives nothing here (no plan).
    if key.login == Login::EveryUse {
        return Ok(());
    }

    if matches!(kind, KeyKind::Rsa { .. })
        && key.private_may(KeyOp::Decrypt)
        && key
            .caps
            .serves(MechanismType::RSA_PKCS_OAEP, MechanismUse::Decrypt)
    {
        let wrapped = software.wrap_key(KeyManagementAlgorithm::RsaOaep, &*message)?;
        return match key.oaep_decrypt(OaepHash::Sha1, &wrapped.encrypted_key) {
            Ok(out) if out.as_slice() == message.as_slice() => Ok(()),
            Ok(_) | Err(jose_core::Error::Decryption) => Err(mismatch(
                "a block encrypted to it does not decrypt with the private key",
            )),
            Err(e) => Err(e.into()),
        };
    }

    if let KeyKind::Ec(curve) = kind {
        if key.private_may(KeyOp::DeriveKey)
            && key
                .caps
                .serves(MechanismType::ECDH1_DERIVE, MechanismUse::Derive)
        {
            let ephemeral = SoftwareKey::generate_ec(ec_curve(*curve))?;
            let ephemeral_public = ephemeral.public_jwk().ok_or(jose_core::Error::Key(
                jose_core::error::KeyError::NoPublicKey,
            ))?;
            let published = software.public_jwk().ok_or(jose_core::Error::Key(
                jose_core::error::KeyError::NoPublicKey,
            ))?;
            let in_software = ephemeral.derive_ecdh(published)?;
            return match key.derive_ecdh(ephemeral_public) {
                Ok(in_token) if in_token.as_slice() == in_software.as_slice() => Ok(()),
                Ok(_) | Err(jose_core::Error::Decryption) => Err(mismatch(
                    "an ECDH agreement with it differs from the private key's",
                )),
                Err(e) => Err(e.into()),
            };
        }
    }
    Ok(())
}
