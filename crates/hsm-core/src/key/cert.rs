//! Certificates next to keys: X.509 certificate objects (`CKO_CERTIFICATE`,
//! `CKC_X_509`) with the key's `CKA_ID` and `CKA_LABEL`, as tokens and their tools keep them.
//!
//! hsm-core does not parse certificates: the caller gives the DER subject and issuer names
//! (`CKA_SUBJECT`, `CKA_ISSUER`) with the certificate, and a key's chain is followed through
//! those attributes. Certificates are public token objects (`CKA_PRIVATE` false), readable
//! before login like public keys. Because anyone may create public objects, a certificate from
//! the token is only as trustworthy as its check against the key: see
//! `jose_core::jwk::x5c::leaf_carries`, which hsm-jose applies before publishing a chain.

use cryptoki::context::Function;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use super::generate::config;
use super::{KeyInfo, hex};
use crate::error::{Error, Result};
use crate::trace::token_call;

/// How many certificates a chain read from the token may hold, leaf included.
pub const MAX_CHAIN: usize = 10;

/// A certificate to store: its DER encoding and the DER names the token indexes it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateObject {
    /// The certificate, DER (`CKA_VALUE`).
    pub der: Vec<u8>,
    /// The DER subject name (`CKA_SUBJECT`).
    pub subject: Vec<u8>,
    /// The DER issuer name (`CKA_ISSUER`).
    pub issuer: Vec<u8>,
    /// The DER serial number (`CKA_SERIAL_NUMBER`), if known.
    pub serial_number: Option<Vec<u8>>,
}

/// Stores an X.509 certificate as a token object with this label and id (those of its key for
/// a leaf; a CA certificate takes its own).
///
/// # Errors
/// [`Error::Config`] when a certificate with this label and id is already stored, or the
/// certificate is empty; token errors from `C_CreateObject` (a read-only session gives
/// `CKR_SESSION_READ_ONLY`).
pub fn store_certificate(
    session: &Session,
    certificate: &CertificateObject,
    label: &str,
    id: &[u8],
) -> Result<ObjectHandle> {
    if certificate.der.is_empty() || certificate.subject.is_empty() {
        return Err(config("a certificate needs its DER encoding and subject"));
    }
    if !key_certificates(session, label, id)?.is_empty() {
        return Err(config(format!(
            "the token already has a certificate with label {label:?}, id {}",
            hex(id)
        )));
    }
    let mut template = vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.to_vec()),
        Attribute::Subject(certificate.subject.clone()),
        Attribute::Issuer(certificate.issuer.clone()),
        Attribute::Value(certificate.der.clone()),
    ];
    if let Some(serial) = &certificate.serial_number {
        template.push(Attribute::SerialNumber(serial.clone()));
    }
    token_call(Function::CreateObject, None, || {
        session.create_object(&template)
    })
    .map_err(|e| Error::from_cryptoki("storing a certificate", e))
}

/// One certificate object read from the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCertificate {
    /// The object handle.
    pub handle: ObjectHandle,
    /// `CKA_LABEL`.
    pub label: String,
    /// `CKA_ID`.
    pub id: Vec<u8>,
    /// The certificate, DER (`CKA_VALUE`).
    pub der: Vec<u8>,
    /// `CKA_SUBJECT`.
    pub subject: Vec<u8>,
    /// `CKA_ISSUER` (empty when the token holds none).
    pub issuer: Vec<u8>,
}

fn read_certificate(session: &Session, handle: ObjectHandle) -> Result<StoredCertificate> {
    let attributes = token_call(Function::GetAttributeValue, None, || {
        session.get_attributes(
            handle,
            &[
                AttributeType::Label,
                AttributeType::Id,
                AttributeType::Value,
                AttributeType::Subject,
                AttributeType::Issuer,
            ],
        )
    })
    .map_err(|e| Error::from_cryptoki("reading a certificate", e))?;
    let mut stored = StoredCertificate {
        handle,
        label: String::new(),
        id: Vec::new(),
        der: Vec::new(),
        subject: Vec::new(),
        issuer: Vec::new(),
    };
    for attribute in attributes {
        match attribute {
            Attribute::Label(v) => stored.label = String::from_utf8_lossy(&v).into_owned(),
            Attribute::Id(v) => stored.id = v,
            Attribute::Value(v) => stored.der = v,
            Attribute::Subject(v) => stored.subject = v,
            Attribute::Issuer(v) => stored.issuer = v,
            _ => {}
        }
    }
    Ok(stored)
}

fn find_certificates(session: &Session, template: &[Attribute]) -> Result<Vec<StoredCertificate>> {
    let mut full = vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
    ];
    full.extend_from_slice(template);
    token_call(Function::FindObjects, None, || session.find_objects(&full))
        .map_err(|e| Error::from_cryptoki("searching for certificates", e))?
        .into_iter()
        .map(|h| read_certificate(session, h))
        .collect()
}

/// The X.509 certificates stored with this label and id (a key's leaf certificates: usually
/// one).
///
/// # Errors
/// Token errors only.
pub fn key_certificates(
    session: &Session,
    label: &str,
    id: &[u8],
) -> Result<Vec<StoredCertificate>> {
    find_certificates(
        session,
        &[
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.to_vec()),
        ],
    )
}

/// A key's certificate chain from the token, leaf first: the certificate with the key's label
/// and id, then each issuer found by `CKA_SUBJECT`, until a self-issued certificate, an
/// issuer the token does not hold, or [`MAX_CHAIN`] certificates. Empty when the key has no
/// certificate.
///
/// The same CA certificate may be stored several times (once with each key whose chain it
/// belongs to): copies with the same DER encoding count once, and among different
/// certificates with the issuer's subject, those stored with the key's `CKA_ID` are preferred.
///
/// # Errors
/// [`Error::AmbiguousKey`] when several certificates carry the key's label and id, or several
/// different certificates the same issuer subject (none or several of them with the key's
/// id); token errors.
pub fn certificate_chain(session: &Session, label: &str, id: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut leaves = key_certificates(session, label, id)?;
    let mut current = match leaves.len() {
        0 => return Ok(Vec::new()),
        1 => leaves.remove(0),
        count => {
            return Err(Error::AmbiguousKey {
                what: format!("certificate with label {label:?}, id {}", hex(id)),
                count,
            });
        }
    };
    let mut chain = Vec::new();
    loop {
        let issuer = std::mem::take(&mut current.issuer);
        let self_issued = issuer.is_empty() || issuer == current.subject;
        chain.push(std::mem::take(&mut current.der));
        if self_issued || chain.len() >= MAX_CHAIN {
            return Ok(chain);
        }
        let issuers = find_certificates(session, &[Attribute::Subject(issuer)])?;
        let mut issuers = distinct_issuers(issuers, id);
        current = match issuers.len() {
            0 => return Ok(chain),
            1 => issuers.remove(0),
            count => {
                return Err(Error::AmbiguousKey {
                    what: format!("issuer certificate of {label:?}"),
                    count,
                });
            }
        };
    }
}

/// The candidates for an issuer certificate: identical copies count once; when they still
/// differ, the ones stored with the key's `CKA_ID` win.
fn distinct_issuers(mut issuers: Vec<StoredCertificate>, id: &[u8]) -> Vec<StoredCertificate> {
    let mut distinct: Vec<StoredCertificate> = Vec::with_capacity(issuers.len());
    for issuer in issuers.drain(..) {
        match distinct.iter_mut().find(|d| d.der == issuer.der) {
            // Keep the copy stored with the key's id, if there is one.
            Some(copy) if copy.id != id && issuer.id == id => *copy = issuer,
            Some(_) => {}
            None => distinct.push(issuer),
        }
    }
    if distinct.len() > 1 && distinct.iter().any(|d| d.id == id) {
        distinct.retain(|d| d.id == id);
    }
    distinct
}

/// The certificate objects that belong to a key and go with it when it is deleted
/// ([`delete_key`](super::delete_key)): the X.509 certificates stored with the key's
/// `CKA_ID` (its leaf and the CA certificates imported with it).
///
/// Two narrower cases, so that another key's certificates are never taken along:
/// * a key with an empty `CKA_ID`: only the certificates with its label and the empty id;
/// * when another key object (private, public or secret, under another label) shares the
///   key's `CKA_ID`: only the certificates with the key's label and id.
///
/// # Errors
/// Token errors only.
pub fn certificates_of_key(session: &Session, key: &KeyInfo) -> Result<Vec<StoredCertificate>> {
    if key.id.is_empty() || id_is_shared(session, key)? {
        return key_certificates(session, &key.label, &key.id);
    }
    find_certificates(session, &[Attribute::Id(key.id.clone())])
}

/// Whether a key object outside `key` carries the same `CKA_ID`.
fn id_is_shared(session: &Session, key: &KeyInfo) -> Result<bool> {
    let own: Vec<ObjectHandle> = [key.private, key.public, key.secret]
        .into_iter()
        .flatten()
        .chain(key.mismatched_public.iter().copied())
        .collect();
    for class in [
        ObjectClass::PRIVATE_KEY,
        ObjectClass::PUBLIC_KEY,
        ObjectClass::SECRET_KEY,
    ] {
        let template = [Attribute::Class(class), Attribute::Id(key.id.clone())];
        let handles = token_call(Function::FindObjects, None, || {
            session.find_objects(&template)
        })
        .map_err(|e| Error::from_cryptoki("searching for keys with the same id", e))?;
        if handles.iter().any(|h| !own.contains(h)) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Destroys certificate objects (read with [`key_certificates`] or [`certificates_of_key`]).
/// Needs a read-write session.
///
/// # Errors
/// Token errors from `C_DestroyObject`; the certificates before the failing one are gone.
pub fn delete_certificates(session: &Session, certificates: &[StoredCertificate]) -> Result<()> {
    for certificate in certificates {
        token_call(Function::DestroyObject, None, || {
            session.destroy_object(certificate.handle)
        })
        .map_err(|e| Error::from_cryptoki("deleting a certificate", e))?;
    }
    Ok(())
}
