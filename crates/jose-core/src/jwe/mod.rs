//! JSON Web Encryption (RFC 7516).

pub(crate) mod alg;
