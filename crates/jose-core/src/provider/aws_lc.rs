//! The aws-lc-rs provider (cargo feature `aws-lc-rs`): AWS-LC for RSA (PKCS#1 v1.5, PSS,
//! OAEP), ECDSA on P-256/384/521, Ed25519, ECDH on P-256/384/521 and X25519, AES-GCM, AES key
//! wrap (128 and 256-bit) and randomness.
//!
//! Kept on the RustCrypto implementation inside this provider, and why:
//! * Ed448 (signing and verification): AWS-LC has no Ed448.
//! * Ed25519 verification with a small-order (weak) public key: ed25519-dalek's strict check
//!   refuses every signature under it, AWS-LC would not. (For other keys AWS-LC verifies, after
//!   jose-core has refused a small-order `R`, as ed25519-dalek's strict check does.)
//! * HMAC: RustCrypto's prepared states (wiped on drop; `aws_lc_rs::hmac::Key::new` keeps a
//!   context this crate cannot wipe and panics where it cannot allocate).
//! * AES-CBC-HMAC: RustCrypto's AES-CBC with AES-NI decrypts a 1 KiB token 8% faster than
//!   AWS-LC's through aws-lc-rs (whose cipher keys are set up per call), measured with the
//!   bench; the HMAC is RustCrypto's as above.
//! * AES-192 key wrap: AWS-LC has none.
//! * ECDH-ES with an ephemeral key the caller gives (test vectors): RustCrypto. Otherwise both
//!   sides are AWS-LC's: the sender's ephemeral key is made and agreed by AWS-LC, and a
//!   recipient key's agreement object is made once, with the key.
//! * RSA keys over 8192 bits (jose-core accepts up to 16384): AWS-LC's limit.
//!
//! Every key is prepared once, when it is built: AWS-LC's own key objects, so no operation
//! parses a key.

use std::sync::OnceLock;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement;
use aws_lc_rs::key_wrap::{self, KeyEncryptionKey, KeyWrap};
use aws_lc_rs::rand;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey, RsaKeyPair,
};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use zeroize::Zeroizing;

use super::{Prepared as AnyPrepared, Primitives, ProviderKey, rust_crypto};
use crate::alg::KeyManagementAlgorithm;
use crate::backend::public_only;
use crate::error::{Error, KeyError, Malformed, Result};
use crate::jwe::alg::aeskw;
use crate::jwe::alg::ecdh_es;
use crate::jwe::enc::{Sealed, aes_gcm};
use crate::jwk::parsed::Parsed;
use crate::jwk::{EcCurve, Jwk, KeyMaterial, OkpCurve, OkpKey, SecretBytes, ec_material};
use crate::jws::alg::{Family, Sha2};

/// The aws-lc-rs provider.
#[derive(Debug)]
pub(crate) struct AwsLc;

/// AWS-LC's key objects for one key (boxed as a whole in [`AnyPrepared`], so the variants'
/// sizes do not matter). `Other` keys (Ed448, RSA over 8192 bits) are served by the RustCrypto
/// parse.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Prepared {
    Rsa(Rsa),
    Ec {
        curve: EcCurve,
        public: ParsedPublicKey,
        pair: Option<EcdsaKeyPair>,
        /// The private key for ECDH-ES (recipient side).
        agreement: Option<agreement::PrivateKey>,
    },
    /// An X25519 key's private part for ECDH-ES (recipient side).
    X25519(Option<agreement::PrivateKey>),
    Ed25519 {
        pair: Option<Ed25519KeyPair>,
        /// `None` for a small-order (weak) key, which ed25519-dalek's strict check serves.
        public: Option<ParsedPublicKey>,
    },
    /// HMAC stays on RustCrypto's prepared states (SHA-NI on x86-64, as fast as AWS-LC's here):
    /// they are wiped on drop, and `aws_lc_rs::hmac::Key::new` panics where it cannot
    /// allocate.
    Hmac(Option<rust_crypto::HmacKeys>),
    Other,
}

/// An RSA key: the public key parsed per signature scheme on first use, the private key for
/// signing and for OAEP.
pub(crate) struct Rsa {
    spki: Vec<u8>,
    /// RS256, RS384, RS512, PS256, PS384, PS512.
    verifiers: [OnceLock<Option<ParsedPublicKey>>; 6],
    encrypting: OaepPublicEncryptingKey,
    private: Option<(RsaKeyPair, OaepPrivateDecryptingKey)>,
}

const RSA_PARAMS: [&sig::RsaParameters; 6] = [
    &sig::RSA_PKCS1_2048_8192_SHA256,
    &sig::RSA_PKCS1_2048_8192_SHA384,
    &sig::RSA_PKCS1_2048_8192_SHA512,
    &sig::RSA_PSS_2048_8192_SHA256,
    &sig::RSA_PSS_2048_8192_SHA384,
    &sig::RSA_PSS_2048_8192_SHA512,
];

/// The index into [`RSA_PARAMS`] and the signing encoding of an RSA family.
fn rsa_scheme(family: Family) -> Option<(usize, &'static dyn sig::RsaEncoding)> {
    Some(match family {
        Family::RsaPkcs1(Sha2::Sha256) => (0, &sig::RSA_PKCS1_SHA256),
        Family::RsaPkcs1(Sha2::Sha384) => (1, &sig::RSA_PKCS1_SHA384),
        Family::RsaPkcs1(Sha2::Sha512) => (2, &sig::RSA_PKCS1_SHA512),
        Family::RsaPss(Sha2::Sha256) => (3, &sig::RSA_PSS_SHA256),
        Family::RsaPss(Sha2::Sha384) => (4, &sig::RSA_PSS_SHA384),
        Family::RsaPss(Sha2::Sha512) => (5, &sig::RSA_PSS_SHA512),
        Family::Hmac(_) | Family::Ecdsa(_) | Family::EdDsa => return None,
    })
}

fn rejected(member: &'static str) -> Error {
    KeyError::InvalidMember {
        member,
        reason: "is refused by the aws-lc-rs provider",
    }
    .into()
}

fn prepare_rsa(parsed: &Parsed) -> Result<Prepared> {
    let Parsed::Rsa { public, private } = parsed else {
        return Ok(Prepared::Other);
    };
    let bits = rsa::traits::PublicKeyParts::n_bits_precision(public);
    if bits > 8192 {
        // Above AWS-LC's limit: the RustCrypto implementation serves this key.
        return Ok(Prepared::Other);
    }
    let spki = public
        .to_public_key_der()
        .map_err(|_| rejected("n"))?
        .into_vec();
    let encrypting = PublicEncryptingKey::from_der(&spki)
        .ok()
        .and_then(|k| OaepPublicEncryptingKey::new(k).ok())
        .ok_or_else(|| rejected("n"))?;
    let private = match private {
        Some(key) => {
            let der = key.to_pkcs8_der().map_err(|_| rejected("d"))?;
            let pair = RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|_| rejected("d"))?;
            let decrypting = PrivateDecryptingKey::from_pkcs8(der.as_bytes())
                .ok()
                .and_then(|k| OaepPrivateDecryptingKey::new(k).ok())
                .ok_or_else(|| rejected("d"))?;
            Some((pair, decrypting))
        }
        None => None,
    };
    Ok(Prepared::Rsa(Rsa {
        spki,
        verifiers: Default::default(),
        encrypting,
        private,
    }))
}

fn prepare_ec(material: &KeyMaterial) -> Result<Prepared> {
    let KeyMaterial::Ec(k) = material else {
        return Ok(Prepared::Other);
    };
    let (verify, signing): (&'static sig::EcdsaVerificationAlgorithm, _) = match k.crv {
        EcCurve::P256 => (
            &sig::ECDSA_P256_SHA256_FIXED,
            &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
        ),
        EcCurve::P384 => (
            &sig::ECDSA_P384_SHA384_FIXED,
            &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
        ),
        EcCurve::P521 => (
            &sig::ECDSA_P521_SHA512_FIXED,
            &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
        ),
    };
    let agreement = match &k.d {
        Some(d) => Some(
            agreement::PrivateKey::from_private_key(ecdh_algorithm(k.crv), d)
                .map_err(|_| rejected("d"))?,
        ),
        None => None,
    };
    let mut point = Vec::with_capacity(1 + k.x.len() + k.y.len());
    point.push(4);
    point.extend_from_slice(&k.x);
    point.extend_from_slice(&k.y);
    let public = ParsedPublicKey::new(verify, &point).map_err(|_| rejected("x"))?;
    let pair = match &k.d {
        Some(d) => Some(
            EcdsaKeyPair::from_private_key_and_public_key(signing, d, &point)
                .map_err(|_| rejected("d"))?,
        ),
        None => None,
    };
    Ok(Prepared::Ec {
        curve: k.crv,
        public,
        pair,
        agreement,
    })
}

impl Primitives for AwsLc {
    fn name(&self) -> &'static str {
        "aws-lc-rs"
    }

    fn prepare(&self, material: &KeyMaterial, parsed: &Parsed) -> Result<AnyPrepared> {
        let prepared = match parsed {
            Parsed::Rsa { .. } => prepare_rsa(parsed)?,
            Parsed::P256 { .. } | Parsed::P384 { .. } | Parsed::P521 { .. } => {
                prepare_ec(material)?
            }
            Parsed::Ed25519 { private, public } => Prepared::Ed25519 {
                pair: match private {
                    Some(sk) => Some(
                        Ed25519KeyPair::from_seed_and_public_key(
                            &Zeroizing::new(sk.to_bytes())[..],
                            public.as_bytes(),
                        )
                        .map_err(|_| rejected("d"))?,
                    ),
                    None => None,
                },
                public: if public.is_weak() {
                    None
                } else {
                    ParsedPublicKey::new(&sig::ED25519, public.as_bytes()).ok()
                },
            },
            Parsed::Oct(k) => Prepared::Hmac(rust_crypto::HmacKeys::new(k)),
            Parsed::X25519 { private, .. } => Prepared::X25519(match private {
                Some(sk) => Some(
                    agreement::PrivateKey::from_private_key(
                        &agreement::X25519,
                        &Zeroizing::new(sk.to_bytes())[..],
                    )
                    .map_err(|_| rejected("d"))?,
                ),
                None => None,
            }),
            Parsed::Ed448 { .. } => Prepared::Other,
        };
        Ok(AnyPrepared::AwsLc(Box::new(prepared)))
    }

    fn sign(&self, key: &ProviderKey, family: Family, input: &[u8]) -> Option<Result<Vec<u8>>> {
        let rng = SystemRandom::new();
        match (ours(key), family) {
            (Some(Prepared::Hmac(Some(h))), Family::Hmac(sha)) => Some(Ok(h.tag(sha, input))),
            (Some(Prepared::Rsa(rsa)), Family::RsaPkcs1(_) | Family::RsaPss(_)) => {
                let (_, encoding) = rsa_scheme(family)?;
                let Some((pair, _)) = &rsa.private else {
                    return Some(Err(public_only()));
                };
                let mut out = vec![0u8; pair.public_modulus_len()];
                Some(
                    pair.sign(encoding, &rng, input, &mut out)
                        .map(|()| out)
                        .map_err(|_| Error::Rng),
                )
            }
            (Some(Prepared::Ec { curve, pair, .. }), Family::Ecdsa(want)) if *curve == want => {
                let Some(pair) = pair else {
                    return Some(Err(public_only()));
                };
                Some(
                    pair.sign(&rng, input)
                        .map(|s| s.as_ref().to_vec())
                        .map_err(|_| Error::Rng),
                )
            }
            (Some(Prepared::Ed25519 { pair, .. }), Family::EdDsa) => {
                let Some(pair) = pair else {
                    return Some(Err(public_only()));
                };
                Some(Ok(pair.sign(input).as_ref().to_vec()))
            }
            // Ed448, RSA over 8192 bits, and every mismatch (decided by the RustCrypto match).
            _ => rust_crypto::sign(&key.parsed, family, input),
        }
    }

    fn verify(&self, key: &ProviderKey, family: Family, input: &[u8], sig: &[u8]) -> Option<bool> {
        match (ours(key), family) {
            (Some(Prepared::Hmac(Some(h))), Family::Hmac(sha)) => Some(h.verify(sha, input, sig)),
            (Some(Prepared::Rsa(rsa)), Family::RsaPkcs1(_) | Family::RsaPss(_)) => {
                let (i, _) = rsa_scheme(family)?;
                let slot = rsa.verifiers.get(i)?;
                let parsed = slot.get_or_init(|| {
                    let params = RSA_PARAMS.get(i)?;
                    ParsedPublicKey::new(*params, &rsa.spki).ok()
                });
                match parsed {
                    Some(p) => Some(p.verify_sig(input, sig).is_ok()),
                    None => rust_crypto::verify(&key.parsed, family, input, sig),
                }
            }
            (Some(Prepared::Ec { curve, public, .. }), Family::Ecdsa(want)) if *curve == want => {
                Some(public.verify_sig(input, sig).is_ok())
            }
            (
                Some(Prepared::Ed25519 {
                    public: Some(public),
                    ..
                }),
                Family::EdDsa,
            ) => Some(ed25519_strict(public, input, sig)),
            // Ed25519 with a weak key stays on ed25519-dalek's strict check; Ed448, RSA over
            // 8192 bits and mismatches likewise.
            _ => rust_crypto::verify(&key.parsed, family, input, sig),
        }
    }

    fn rsa_oaep_encrypt(
        &self,
        key: &ProviderKey,
        alg: KeyManagementAlgorithm,
        cek: &[u8],
    ) -> Option<Result<Vec<u8>>> {
        let Some(Prepared::Rsa(rsa)) = ours(key) else {
            return rust_crypto::rsa_oaep_encrypt(&key.parsed, alg, cek);
        };
        let algorithm = oaep(alg)?;
        let mut out = vec![0u8; rsa.encrypting.ciphertext_size()];
        Some(
            rsa.encrypting
                .encrypt(algorithm, cek, &mut out, None)
                .map(|c| c.to_vec())
                // The CEK always fits a 2048-bit modulus; the remaining failure is the RNG.
                .map_err(|_| Error::Rng),
        )
    }

    fn rsa_oaep_decrypt(
        &self,
        key: &ProviderKey,
        alg: KeyManagementAlgorithm,
        encrypted_key: &[u8],
    ) -> Option<Result<SecretBytes>> {
        let Some(Prepared::Rsa(rsa)) = ours(key) else {
            return rust_crypto::rsa_oaep_decrypt(&key.parsed, alg, encrypted_key);
        };
        let algorithm = oaep(alg)?;
        let Some((_, decrypting)) = &rsa.private else {
            return Some(Err(public_only()));
        };
        // The ciphertext is exactly the modulus length (RFC 8017 section 7.1.2 step 1).
        if encrypted_key.len() != decrypting.key_size_bytes() {
            return Some(Err(Error::Decryption));
        }
        let mut out = Zeroizing::new(vec![0u8; decrypting.min_output_size()]);
        Some(
            decrypting
                .decrypt(algorithm, encrypted_key, &mut out, None)
                .map(|p| Zeroizing::new(p.to_vec()))
                .map_err(|_| Error::Decryption),
        )
    }

    fn ecdh(&self, key: &ProviderKey, peer: &Parsed) -> Result<SecretBytes> {
        let z = |z: &[u8]| Ok(Zeroizing::new(z.to_vec()));
        match (ours(key), peer) {
            (
                Some(Prepared::Ec {
                    curve,
                    agreement: Some(private),
                    ..
                }),
                _,
            ) => {
                // The peer was parsed, so its point is on the curve; another curve is
                // RustCrypto's mismatch error.
                let point = match (curve, peer) {
                    (EcCurve::P256, Parsed::P256 { public, .. }) => public.to_sec1_bytes(),
                    (EcCurve::P384, Parsed::P384 { public, .. }) => public.to_sec1_bytes(),
                    (EcCurve::P521, Parsed::P521 { public, .. }) => public.to_sec1_bytes(),
                    _ => return ecdh_es::agree(&key.parsed, peer),
                };
                let peer = agreement::UnparsedPublicKey::new(ecdh_algorithm(*curve), &point[..]);
                agreement::agree(private, peer, refused_point(), z)
            }
            (Some(Prepared::X25519(Some(private))), Parsed::X25519 { public, .. }) => {
                let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, public.as_bytes());
                // AWS-LC refuses the all-zero output of a low-order point (RFC 7748 section
                // 6.1), as the RustCrypto path does: the same error.
                agreement::agree(private, peer, ecdh_es::low_order_x25519(), z)
            }
            _ => ecdh_es::agree(&key.parsed, peer),
        }
    }

    fn aes_kw_wrap(&self, kek: &[u8], cek: &[u8]) -> Result<Vec<u8>> {
        // AWS-LC has no AES-192 key wrap; content keys of lengths RFC 3394 does not wrap get
        // RustCrypto's error.
        let (Some(cipher), true) = (
            kw_cipher(kek),
            cek.len() >= 16 && cek.len().is_multiple_of(8),
        ) else {
            return aeskw::wrap(kek, cek);
        };
        let kek = KeyEncryptionKey::new(cipher, kek).map_err(|_| aeskw::bad_key())?;
        let mut out = vec![0u8; cek.len() + aeskw::ICV_LEN];
        let len = kek.wrap(cek, &mut out).map_err(|_| aeskw::bad_key())?.len();
        out.truncate(len);
        Ok(out)
    }

    fn aes_kw_unwrap(&self, kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes> {
        let Some(cipher) = kw_cipher(kek) else {
            return aeskw::unwrap(kek, wrapped);
        };
        if wrapped.len() < 3 * aeskw::ICV_LEN || !wrapped.len().is_multiple_of(aeskw::ICV_LEN) {
            return Err(Error::Decryption);
        }
        let kek = KeyEncryptionKey::new(cipher, kek).map_err(|_| Error::Decryption)?;
        let mut out = Zeroizing::new(vec![0u8; wrapped.len() - aeskw::ICV_LEN]);
        let len = kek
            .unwrap(wrapped, &mut out)
            .map_err(|_| Error::Decryption)?
            .len();
        out.truncate(len);
        Ok(out)
    }

    fn ecdh_ephemeral(&self, recipient: &Parsed) -> Option<Result<(SecretBytes, Jwk)>> {
        let (algorithm, peer, curve): (_, Box<[u8]>, _) = match recipient {
            Parsed::P256 { public, .. } => (
                &agreement::ECDH_P256,
                public.to_sec1_bytes(),
                Some(EcCurve::P256),
            ),
            Parsed::P384 { public, .. } => (
                &agreement::ECDH_P384,
                public.to_sec1_bytes(),
                Some(EcCurve::P384),
            ),
            Parsed::P521 { public, .. } => (
                &agreement::ECDH_P521,
                public.to_sec1_bytes(),
                Some(EcCurve::P521),
            ),
            Parsed::X25519 { public, .. } => {
                (&agreement::X25519, public.as_bytes()[..].into(), None)
            }
            _ => return None,
        };
        let agreed = || {
            let private = agreement::PrivateKey::generate(algorithm).map_err(|_| Error::Rng)?;
            let public = private.compute_public_key().map_err(|_| Error::Rng)?;
            // The recipient's point was validated when it was parsed; X25519's low-order points
            // pass that and give an all-zero output, which AWS-LC refuses: RustCrypto's error.
            let refused = match curve {
                Some(_) => refused_point(),
                None => ecdh_es::low_order_x25519(),
            };
            let peer = agreement::UnparsedPublicKey::new(algorithm, &peer[..]);
            let z = agreement::agree(&private, peer, refused, |z| Ok(Zeroizing::new(z.to_vec())))?;
            let material = match curve {
                Some(crv) => ec_material(crv, public.as_ref(), None)?,
                None => KeyMaterial::Okp(OkpKey {
                    crv: OkpCurve::X25519,
                    x: public.as_ref().to_vec(),
                    d: None,
                }),
            };
            Ok((z, Jwk::new(material)?))
        };
        Some(agreed())
    }

    fn aes_gcm_seal(&self, key: &[u8], iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed> {
        let key = gcm_key(key).ok_or_else(bad_aes_key)?;
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| bad_aes_key())?;
        let mut buf = plaintext.to_vec();
        let tag = key
            .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| {
                Error::from(Malformed::TooLarge {
                    what: "plaintext",
                    limit: (1 << 36) - 32,
                })
            })?;
        Ok(Sealed {
            ciphertext: buf,
            tag: tag.as_ref().to_vec(),
        })
    }

    fn aes_gcm_open(
        &self,
        key: &[u8],
        iv: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<SecretBytes> {
        if tag.len() != aes_gcm::TAG_LEN {
            return Err(Error::Decryption);
        }
        let key = gcm_key(key).ok_or(Error::Decryption)?;
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| Error::Decryption)?;
        let mut out = Zeroizing::new(vec![0u8; ciphertext.len()]);
        key.open_separate_gather(nonce, Aad::from(aad), ciphertext, tag, &mut out)
            .map_err(|_| Error::Decryption)?;
        Ok(out)
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<()> {
        rand::fill(buf).map_err(|_| Error::Rng)
    }
}

/// Ed25519 verification with ed25519-dalek's `verify_strict` semantics: AWS-LC checks the
/// equation by re-encoding `R` (so an `R` off the curve or non-canonical fails) and refuses
/// `S >= L`; jose-core refuses a small-order `R` first, as ed25519-dalek does (small-order
/// public keys were kept on ed25519-dalek when the key was prepared).
fn ed25519_strict(public: &ParsedPublicKey, input: &[u8], sig: &[u8]) -> bool {
    let Some(r) = sig.get(..32).and_then(|r| <[u8; 32]>::try_from(r).ok()) else {
        return false;
    };
    if sig.len() != 64 {
        return false;
    }
    // AWS-LC accepts only an `R` equal to the canonical encoding of `R'`, so a small-order `R`
    // it could accept is one of the eight canonical encodings (a table lookup instead of a
    // point decompression per call).
    if crate::jws::alg::eddsa::is_small_order_encoding(&r) {
        return false;
    }
    public.verify_sig(input, sig).is_ok()
}

/// This provider's preparation of `key` (`None` for a key prepared by another provider, which
/// the RustCrypto parse then serves).
fn ours(key: &ProviderKey) -> Option<&Prepared> {
    match &key.prepared {
        AnyPrepared::AwsLc(p) => Some(p),
        AnyPrepared::RustCrypto(_) => None,
    }
}

fn oaep(alg: KeyManagementAlgorithm) -> Option<&'static aws_lc_rs::rsa::OaepAlgorithm> {
    match alg {
        KeyManagementAlgorithm::RsaOaep => Some(&OAEP_SHA1_MGF1SHA1),
        KeyManagementAlgorithm::RsaOaep256 => Some(&OAEP_SHA256_MGF1SHA256),
        _ => None,
    }
}

/// The error for a validated NIST-curve point AWS-LC's key agreement still refuses (none is
/// known: every point that parses is on the curve and not the identity).
fn refused_point() -> Error {
    KeyError::InvalidMember {
        member: "x",
        reason: "is not a point the key agreement accepts",
    }
    .into()
}

/// AWS-LC's ECDH on a NIST curve.
fn ecdh_algorithm(curve: EcCurve) -> &'static agreement::Algorithm {
    match curve {
        EcCurve::P256 => &agreement::ECDH_P256,
        EcCurve::P384 => &agreement::ECDH_P384,
        EcCurve::P521 => &agreement::ECDH_P521,
    }
}

/// AWS-LC's AES key wrap for a key-encryption key of this length (no AES-192).
fn kw_cipher(kek: &[u8]) -> Option<&'static key_wrap::AesBlockCipher> {
    match kek.len() {
        16 => Some(&key_wrap::AES_128),
        32 => Some(&key_wrap::AES_256),
        _ => None,
    }
}

fn gcm_key(key: &[u8]) -> Option<LessSafeKey> {
    let algorithm = match key.len() {
        16 => &aead::AES_128_GCM,
        24 => &aead::AES_192_GCM,
        32 => &aead::AES_256_GCM,
        _ => return None,
    };
    UnboundKey::new(algorithm, key).ok().map(LessSafeKey::new)
}

fn bad_aes_key() -> Error {
    KeyError::InvalidMember {
        member: "k",
        reason: "is not an AES-128, AES-192 or AES-256 key",
    }
    .into()
}
