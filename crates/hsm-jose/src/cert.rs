//! X.509 certificates for token keys: self-signed certificates and CSRs whose signature the
//! token computes, and certificates a CA issued (with their CA chain, from PEM:
//! [`import_pem`], [`store_chain`]), stored next to the key and published as `x5c` /
//! `x5t#S256`.
//!
//! [`TokenSigner`] is an [`HsmJwk`] as an `rcgen` signing key: rcgen builds the certificate or
//! request, and the token signs it (RSA PKCS#1 v1.5 with SHA-256, ECDSA P-256 and P-384 with
//! the curve's hash, Ed25519). No private key ever leaves the token and rcgen runs without a crypto
//! backend of its own.
//!
//! ```no_run
//! use hsm_jose::{cert, HsmJwk, SessionPool};
//!
//! # fn main() -> Result<(), hsm_jose::Error> {
//! let pool = SessionPool::from_env()?;
//! let key = HsmJwk::from_label(&pool, "signing-2026")?;
//! let params = cert::params("CN=issuer.example,O=Example", 365)?;
//! let certificate = cert::self_signed(&key, &params)?;
//! cert::store(&key, certificate.der())?;
//! // The public JWK now carries x5c and x5t#S256.
//! let key = key.with_certificates()?;
//! println!("{}", key.public_json()?);
//! # Ok(())
//! # }
//! ```

use std::time::{Duration, SystemTime};

use hsm_core::key::{
    CertificateObject, certificate_chain, certificates_of_key, delete_certificates,
    store_certificate,
};
use hsm_core::{EcCurve, EdCurve, KeyKind};
use jose_core::jwk::x5c;
use jose_core::{Jwk, JwsAlgorithm, KeyBackend};
use rcgen::{
    CertificateParams, DistinguishedName, DnType, PublicKeyData, SerialNumber, SignatureAlgorithm,
    SigningKey,
};
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};

use crate::HsmJwk;
use crate::error::{Error, Result};

pub use rcgen;

fn refuse(reason: &'static str) -> Error {
    Error::Certificate { reason }
}

/// The [`Error::Certificate`] reason for a P-521 key: rcgen 0.14 signs ECDSA on P-521 only with
/// its own aws-lc backend compiled in, which hsm-jose does not enable.
pub const P521_UNSUPPORTED: &str =
    "P-521 certificates are not supported: rcgen has ECDSA on P-521 only with its aws-lc backend";

/// The [`Error::Certificate`] reason for an Ed448 key: rcgen 0.14 has no Ed448.
pub const ED448_UNSUPPORTED: &str = "Ed448 certificates are not supported: rcgen has no Ed448";

/// An [`HsmJwk`] as rcgen's [`SigningKey`]: the token signs the certificate or request.
pub struct TokenSigner<'k> {
    key: &'k HsmJwk,
    alg: JwsAlgorithm,
    algorithm: &'static SignatureAlgorithm,
    /// The subjectPublicKey bits: an RSAPublicKey, an uncompressed EC point, an EdDSA key.
    public_key: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("key", &self.key.label())
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl<'k> TokenSigner<'k> {
    /// The signer for a key pair: RSA (RS256), EC P-256 and P-384 (ES256, ES384), Ed25519.
    ///
    /// # Errors
    /// [`Error::Certificate`] for a secret key, a key without a public key, P-521
    /// ([`P521_UNSUPPORTED`]) or Ed448 ([`ED448_UNSUPPORTED`]): rcgen names the first only with
    /// a crypto backend of its own, the second not at all.
    pub fn new(key: &'k HsmJwk) -> Result<Self> {
        use rcgen::{
            PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, PKCS_RSA_SHA256,
        };
        let public = key
            .public
            .as_ref()
            .ok_or_else(|| refuse("a certificate needs a key pair with a public key"))?;
        let (alg, algorithm): (JwsAlgorithm, &'static SignatureAlgorithm) = match key.info.kind {
            KeyKind::Rsa { .. } => (JwsAlgorithm::RS256, &PKCS_RSA_SHA256),
            KeyKind::Ec(EcCurve::P256) => (JwsAlgorithm::ES256, &PKCS_ECDSA_P256_SHA256),
            KeyKind::Ec(EcCurve::P384) => (JwsAlgorithm::ES384, &PKCS_ECDSA_P384_SHA384),
            // rcgen 0.14 defines PKCS_ECDSA_P521_SHA512 only with its aws-lc backend compiled
            // in (feature `aws_lc_rs`), which this crate does not enable.
            KeyKind::Ec(EcCurve::P521) => {
                return Err(refuse(P521_UNSUPPORTED));
            }
            KeyKind::Edwards(EdCurve::Ed25519) => (JwsAlgorithm::EdDSA, &PKCS_ED25519),
            KeyKind::Edwards(EdCurve::Ed448) => {
                return Err(refuse(ED448_UNSUPPORTED));
            }
            _ => return Err(refuse("a certificate needs an RSA, EC or Ed25519 key pair")),
        };
        Ok(Self {
            key,
            alg,
            algorithm,
            public_key: subject_public_key(public)?,
        })
    }
}

/// The subjectPublicKey bits of a public JWK.
fn subject_public_key(jwk: &Jwk) -> Result<Vec<u8>> {
    use jose_core::jwk::KeyMaterial;
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    match jwk.material() {
        KeyMaterial::Rsa(k) => {
            let public = rsa::PublicKey::new(
                rsa::BoxedUint::from_be_slice_vartime(&k.n),
                rsa::BoxedUint::from_be_slice_vartime(&k.e),
            )
            .map_err(|_| refuse("the RSA public key is not usable"))?;
            public
                .to_pkcs1_der()
                .map(|der| der.as_bytes().to_vec())
                .map_err(|_| refuse("the RSA public key cannot be encoded"))
        }
        KeyMaterial::Ec(k) => {
            let mut point = Vec::with_capacity(1 + k.x.len() + k.y.len());
            point.push(0x04);
            point.extend_from_slice(&k.x);
            point.extend_from_slice(&k.y);
            Ok(point)
        }
        KeyMaterial::Okp(k) => Ok(k.x.clone()),
        _ => Err(refuse("a certificate needs an RSA, EC or Ed25519 key pair")),
    }
}

impl PublicKeyData for TokenSigner<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.algorithm
    }
}

impl SigningKey for TokenSigner<'_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        let signature = self
            .key
            .sign(self.alg, msg)
            .map_err(|_| rcgen::Error::RemoteKeyError)?;
        // X.509 carries ECDSA signatures as a DER ECDSA-Sig-Value; JWS as r || s.
        let der = match self.alg {
            JwsAlgorithm::ES256 => p256::ecdsa::Signature::from_slice(&signature)
                .map(|s| s.to_der().as_bytes().to_vec()),
            JwsAlgorithm::ES384 => p384::ecdsa::Signature::from_slice(&signature)
                .map(|s| s.to_der().as_bytes().to_vec()),
            _ => return Ok(signature),
        };
        der.map_err(|_| rcgen::Error::RemoteKeyError)
    }
}

/// Certificate parameters for `subject` (`CN=name,O=org,OU=unit,C=country,ST=state,L=city`;
/// no escaped commas), valid from a minute ago for `days` days, with a random serial number.
///
/// # Errors
/// [`Error::Certificate`] for an empty or malformed subject or an unknown attribute name.
pub fn params(subject: &str, days: u32) -> Result<CertificateParams> {
    let mut name = DistinguishedName::new();
    for part in subject.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, value) = part
            .split_once('=')
            .ok_or_else(|| refuse("a subject is NAME=value pairs: CN=issuer.example,O=Example"))?;
        let kind = match kind.trim().to_ascii_uppercase().as_str() {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "C" => DnType::CountryName,
            "ST" => DnType::StateOrProvinceName,
            "L" => DnType::LocalityName,
            _ => return Err(refuse("subject attributes are CN, O, OU, C, ST and L")),
        };
        name.push(kind, value.trim());
    }
    if name.iter().next().is_none() {
        return Err(refuse("the subject is empty"));
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = name;
    let now = SystemTime::now();
    params.not_before = (now - Duration::from_secs(60)).into();
    params.not_after = (now + Duration::from_secs(u64::from(days) * 86_400)).into();
    let mut serial = [0_u8; 16];
    getrandom::fill(&mut serial).map_err(|_| refuse("the random number generator failed"))?;
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
    Ok(params)
}

/// A self-signed certificate for `key`, signed in the token.
///
/// # Errors
/// [`Error::Certificate`] for a key that cannot sign certificates or parameters rcgen refuses;
/// the token's failure to sign travels as [`Error::Certificate`] with reason
/// `"the token did not sign"`.
pub fn self_signed(key: &HsmJwk, params: &CertificateParams) -> Result<rcgen::Certificate> {
    let signer = TokenSigner::new(key)?;
    params.self_signed(&signer).map_err(rcgen_error)
}

/// A certificate for `key` issued by `issuer_key` (a CA key in a token, whose certificate was
/// made from `issuer_params`), both signatures computed in their tokens: a CA kept in an HSM
/// issuing for another token key. `issuer_params` must describe the CA certificate (its
/// subject becomes the issuer name); mark it `is_ca` when making the CA's own certificate.
///
/// # Errors
/// As [`self_signed`], for either key.
pub fn signed_by(
    key: &HsmJwk,
    params: &CertificateParams,
    issuer_key: &HsmJwk,
    issuer_params: &CertificateParams,
) -> Result<rcgen::Certificate> {
    let subject = TokenSigner::new(key)?;
    let issuer = rcgen::Issuer::from_params(issuer_params, TokenSigner::new(issuer_key)?);
    params.signed_by(&subject, &issuer).map_err(rcgen_error)
}

/// A certificate signing request (PKCS#10) for `key`, signed in the token. The serial number
/// and validity of `params` are left out (the issuer sets them).
///
/// # Errors
/// As [`self_signed`].
pub fn signing_request(
    key: &HsmJwk,
    params: &CertificateParams,
) -> Result<rcgen::CertificateSigningRequest> {
    let signer = TokenSigner::new(key)?;
    // The issuer chooses the serial number and validity; a request carries neither.
    let mut params = params.clone();
    params.serial_number = None;
    params.serialize_request(&signer).map_err(rcgen_error)
}

fn rcgen_error(e: rcgen::Error) -> Error {
    match e {
        rcgen::Error::RemoteKeyError => refuse("the token did not sign"),
        _ => refuse("rcgen refused the certificate parameters"),
    }
}

/// Stores `certificate_der` on the token next to `key` (same `CKA_LABEL` and `CKA_ID`), after
/// checking that it carries the key's public key.
///
/// # Errors
/// `Error::Jose(jose_core::Error::Key(KeyError::InvalidMember { member: "x5c", .. }))` for a
/// certificate that does not parse or carries another key; [`Error::Token`] for the token's
/// refusals (e.g. a certificate already stored for the key).
pub fn store(key: &HsmJwk, certificate_der: &[u8]) -> Result<()> {
    let public = key
        .public
        .as_ref()
        .ok_or_else(|| refuse("a certificate needs a key pair with a public key"))?;
    if !x5c::leaf_carries(public, certificate_der)? {
        return Err(
            jose_core::Error::Key(jose_core::error::KeyError::InvalidMember {
                member: "x5c",
                reason: "leaf certificate carries another public key",
            })
            .into(),
        );
    }
    let parsed = Certificate::from_der(certificate_der)
        .map_err(|_| refuse("the certificate is not DER X.509"))?;
    let tbs = parsed.tbs_certificate();
    let encode = |r: std::result::Result<Vec<u8>, x509_cert::der::Error>| {
        r.map_err(|_| refuse("the certificate's names cannot be encoded"))
    };
    let object = CertificateObject {
        der: certificate_der.to_vec(),
        subject: encode(tbs.subject().to_der())?,
        issuer: encode(tbs.issuer().to_der())?,
        serial_number: Some(encode(tbs.serial_number().to_der())?),
    };
    let session = key.pool().session_rw()?;
    store_certificate(&session, &object, key.label(), key.id())?;
    Ok(())
}

/// The most certificates [`read_pem_chain`] and [`store_chain`] take: a leaf and its CA chain
/// (the token's chain is read back up to [`hsm_core::key::MAX_CHAIN`] certificates).
pub const MAX_IMPORTED_CHAIN: usize = hsm_core::key::MAX_CHAIN;

fn parse_error(position: Option<usize>, reason: &'static str) -> Error {
    Error::CertificateParse { position, reason }
}

/// Reads the certificates of a PEM file (`-----BEGIN CERTIFICATE-----` blocks, in file order:
/// the leaf first, then its CA chain) as DER, each checked to be an X.509 certificate. Text
/// outside the blocks (such as OpenSSL's `subject=` lines) is ignored.
///
/// # Errors
/// [`Error::CertificateParse`] for input without a certificate, a PEM block of another type
/// (a private key in a certificate file is refused, not skipped), a block that is not valid
/// PEM or not DER X.509, or more than [`MAX_IMPORTED_CHAIN`] certificates.
pub fn read_pem_chain(pem: &str) -> Result<Vec<Vec<u8>>> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END CERTIFICATE-----";
    let mut chain = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(BEGIN) {
        let position = chain.len() + 1;
        let block = &rest[start..];
        if !block.starts_with("-----BEGIN CERTIFICATE-----") {
            return Err(parse_error(
                Some(position),
                "a PEM block that is not a CERTIFICATE (a certificate file holds certificates only)",
            ));
        }
        let end = block
            .find(END)
            .ok_or_else(|| parse_error(Some(position), "the PEM block has no END line"))?
            + END.len();
        if chain.len() == MAX_IMPORTED_CHAIN {
            return Err(parse_error(
                Some(position),
                "too many certificates: a leaf and its CA chain are at most 10",
            ));
        }
        let (_, der) = x509_cert::der::pem::decode_vec(&block.as_bytes()[..end])
            .map_err(|_| parse_error(Some(position), "the PEM block is not valid base64 PEM"))?;
        check_der(&der, position)?;
        chain.push(der);
        rest = &block[end..];
    }
    if chain.is_empty() {
        return Err(parse_error(None, "no -----BEGIN CERTIFICATE----- block"));
    }
    Ok(chain)
}

fn check_der(der: &[u8], position: usize) -> Result<Certificate> {
    Certificate::from_der(der)
        .map_err(|_| parse_error(Some(position), "not a DER X.509 certificate"))
}

/// What the token indexes a certificate by: its DER subject, issuer and serial number.
fn certificate_object(der: &[u8], parsed: &Certificate) -> Result<CertificateObject> {
    let tbs = parsed.tbs_certificate();
    let encode = |r: std::result::Result<Vec<u8>, x509_cert::der::Error>| {
        r.map_err(|_| refuse("the certificate's names cannot be encoded"))
    };
    Ok(CertificateObject {
        der: der.to_vec(),
        subject: encode(tbs.subject().to_der())?,
        issuer: encode(tbs.issuer().to_der())?,
        serial_number: Some(encode(tbs.serial_number().to_der())?),
    })
}

/// Stores a certificate chain for `key`: `chain[0]` is the key's own certificate (for example
/// the one a CA returned for a [`signing_request`]), the rest its CA chain, each followed by
/// its issuer. All are stored as X.509 certificate objects with the key's `CKA_ID` (and
/// subject, issuer and serial number from the certificate): the leaf with the key's
/// `CKA_LABEL`, each CA certificate labelled with its subject name. Read back by
/// [`chain`] and published by [`HsmJwk::with_certificates`] in the same order, leaf first.
/// Deleting the key ([`hsm_core::key::delete_key`]) deletes them too.
///
/// Nothing is stored unless every check passes, and a failure while storing removes what was
/// stored.
///
/// # Errors
/// * [`Error::CertificateParse`] for an empty chain or a certificate that is not DER X.509
///   (`position` counts from 1);
/// * [`Error::CertificateKeyMismatch`] when the leaf does not carry the key's public key;
/// * [`Error::Certificate`] for a secret key, more than [`MAX_IMPORTED_CHAIN`] certificates,
///   or a chain out of order (a certificate not followed by its issuer, or a self-issued one
///   before the end);
/// * [`Error::Token`] with `hsm_core::Error::Config` when the key already has a certificate
///   (store in its place with [`replace_chain`]), other token errors.
pub fn store_chain(key: &HsmJwk, chain: &[Vec<u8>]) -> Result<()> {
    let objects = check_chain(key, chain)?;
    store_checked(key, &objects)
}

/// [`store_chain`] in place of the certificates the key has ([`remove`]): every check runs
/// before anything is deleted, so a refused chain leaves the old one in place. Returns how
/// many certificates were replaced.
///
/// # Errors
/// As [`store_chain`] (except that an existing certificate is replaced, not refused).
pub fn replace_chain(key: &HsmJwk, chain: &[Vec<u8>]) -> Result<usize> {
    let objects = check_chain(key, chain)?;
    let removed = remove(key)?;
    store_checked(key, &objects)?;
    Ok(removed)
}

/// Parses every certificate of the chain and checks the leaf's key and the order.
fn check_chain(key: &HsmJwk, chain: &[Vec<u8>]) -> Result<Vec<(CertificateObject, Certificate)>> {
    let public = key
        .public
        .as_ref()
        .ok_or_else(|| refuse("a certificate needs a key pair with a public key"))?;
    let Some(leaf) = chain.first() else {
        return Err(parse_error(None, "no certificate to store"));
    };
    if chain.len() > MAX_IMPORTED_CHAIN {
        return Err(refuse(
            "too many certificates: a leaf and its CA chain are at most 10",
        ));
    }
    let mut objects = Vec::with_capacity(chain.len());
    for (index, der) in chain.iter().enumerate() {
        let parsed = check_der(der, index + 1)?;
        objects.push((certificate_object(der, &parsed)?, parsed));
    }
    let carries = x5c::leaf_carries(public, leaf)
        .map_err(|_| parse_error(Some(1), "not a DER X.509 certificate"))?;
    if !carries {
        return Err(Error::CertificateKeyMismatch {
            label: key.label().to_owned(),
        });
    }
    for pair in objects.windows(2) {
        let (certificate, next) = (&pair[0].0, &pair[1].0);
        if certificate.issuer == certificate.subject {
            return Err(refuse(
                "the chain is out of order: a self-issued certificate must come last",
            ));
        }
        if certificate.issuer != next.subject {
            return Err(refuse(
                "the chain is out of order: each certificate must be followed by its issuer",
            ));
        }
    }
    Ok(objects)
}

/// Stores a checked chain; a failure removes what was stored.
fn store_checked(key: &HsmJwk, objects: &[(CertificateObject, Certificate)]) -> Result<()> {
    let session = key.pool().session_rw()?;
    let mut stored = Vec::with_capacity(objects.len());
    for (index, (object, parsed)) in objects.iter().enumerate() {
        let label = if index == 0 {
            key.label().to_owned()
        } else {
            ca_label(key, parsed, index)
        };
        match store_certificate(&session, object, &label, key.id()) {
            Ok(handle) => stored.push(handle),
            Err(e) => {
                for handle in stored {
                    // Best effort: the first error is the one to report.
                    let _ = hsm_core::trace::token_call(
                        cryptoki::context::Function::DestroyObject,
                        None,
                        || session.destroy_object(handle),
                    );
                }
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// A CA certificate's label: its subject name (RFC 4514), unless that is the key's own label
/// (the leaf's), or empty.
fn ca_label(key: &HsmJwk, parsed: &Certificate, index: usize) -> String {
    let subject = parsed.tbs_certificate().subject().to_string();
    if subject.is_empty() || subject == key.label() {
        format!("{} issuer {index}", key.label())
    } else {
        subject
    }
}

/// Reads a PEM file of certificates ([`read_pem_chain`]) and stores them for `key`
/// ([`store_chain`]); returns how many were stored.
///
/// ```no_run
/// use hsm_jose::{cert, HsmJwk, SessionPool};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = SessionPool::from_env()?;
/// let key = HsmJwk::from_label(&pool, "signing-2026")?;
/// // The certificate a CA issued for `cert::signing_request`, followed by the CA's own.
/// let pem = std::fs::read_to_string("signing-2026-chain.pem")?;
/// let stored = cert::import_pem(&key, &pem)?;
/// assert_eq!(cert::chain(&key)?.len(), stored);
/// // In place of a certificate the key had (a self-signed one made earlier):
/// cert::replace_chain(&key, &cert::read_pem_chain(&pem)?)?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// As [`read_pem_chain`] and [`store_chain`].
pub fn import_pem(key: &HsmJwk, pem: &str) -> Result<usize> {
    let chain = read_pem_chain(pem)?;
    store_chain(key, &chain)?;
    Ok(chain.len())
}

/// Deletes the key's certificates from the token: those stored with its `CKA_ID` (its leaf
/// and the CA certificates stored with it; see [`hsm_core::key::certificates_of_key`]).
/// Returns how many were deleted.
///
/// # Errors
/// Token errors.
pub fn remove(key: &HsmJwk) -> Result<usize> {
    let session = key.pool().session_rw()?;
    let certificates = certificates_of_key(&session, key.info())?;
    delete_certificates(&session, &certificates)?;
    Ok(certificates.len())
}

/// The key's certificate chain from the token (DER, leaf first), checked: the leaf carries the
/// key's public key. Empty when the key has no certificate.
///
/// # Errors
/// As [`HsmJwk::with_certificates`].
pub fn chain(key: &HsmJwk) -> Result<Vec<Vec<u8>>> {
    let chain = {
        let session = key.pool().session()?;
        certificate_chain(&session, key.label(), key.id())?
    };
    if let (Some(leaf), Some(public)) = (chain.first(), &key.public) {
        if !x5c::leaf_carries(public, leaf)? {
            return Err(
                jose_core::Error::Key(jose_core::error::KeyError::InvalidMember {
                    member: "x5c",
                    reason: "leaf certificate carries another public key",
                })
                .into(),
            );
        }
    }
    Ok(chain)
}

/// A DER certificate as PEM (`-----BEGIN CERTIFICATE-----`).
///
/// # Errors
/// [`Error::Certificate`] if the encoding fails (it does not for any byte string).
pub fn to_pem(der: &[u8]) -> Result<String> {
    x509_cert::der::pem::encode_string("CERTIFICATE", x509_cert::der::pem::LineEnding::LF, der)
        .map_err(|_| refuse("the certificate cannot be encoded as PEM"))
}

impl HsmJwk {
    /// The key with its certificate chain from the token in its public JWK: `x5c` (leaf
    /// first, standard base64 DER) and `x5t#S256` (the leaf's SHA-256 thumbprint). The leaf is
    /// the certificate with the key's label and id, its issuers are followed by subject name
    /// (see [`hsm_core::key::certificate_chain`]). A key without a certificate is returned
    /// unchanged.
    ///
    /// # Errors
    /// `Error::Jose(jose_core::Error::Key(KeyError::InvalidMember { member: "x5c", .. }))`
    /// when the leaf does not carry the key's public key (certificates are public objects that
    /// anyone can create: such a chain is never published); token errors.
    pub fn with_certificates(mut self) -> Result<Self> {
        let Some(public) = &self.public else {
            return Ok(self);
        };
        let chain = {
            let session = self.pool().session()?;
            certificate_chain(&session, self.label(), self.id())?
        };
        let Some(leaf) = chain.first() else {
            return Ok(self);
        };
        let mut value = public.to_public_value()?;
        if let Some(members) = value.as_object_mut() {
            use base64ct::Encoding as _;
            let entries: Vec<serde_json::Value> = chain
                .iter()
                .map(|der| base64ct::Base64::encode_string(der).into())
                .collect();
            members.insert("x5c".into(), entries.into());
            members.insert("x5t#S256".into(), x5c::thumbprint_s256(leaf).into());
        }
        let with_chain = Jwk::from_value(&value)?;
        x5c::check_x5c(&with_chain)?;
        self.public = Some(with_chain);
        Ok(self)
    }
}
