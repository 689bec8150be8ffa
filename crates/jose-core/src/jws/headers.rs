//! The header rules of one JWS signature, applied alike by the verifier and by the builder, so
//! that the builder never produces a token its own verifier refuses.

use std::borrow::Cow;

use crate::error::{Malformed, Result};
use crate::header::{Header, check_crit};

/// Checks the protected and unprotected headers of one signature and returns their union.
///
/// * No member appears in both headers (RFC 7515 section 7.2.1).
/// * `b64` and `crit` are integrity protected, and a `b64` member is listed in `crit`
///   (RFC 7797 section 6).
/// * `crit` lists only unregistered names present in the protected header, each in
///   `understood` (RFC 7515 section 4.1.11).
pub(crate) fn check<'h>(
    protected: &'h Header,
    unprotected: Option<&Header>,
    understood: &[&str],
) -> Result<Cow<'h, Header>> {
    // Without an unprotected header (the compact form) the joint header is the protected one:
    // no copy, and no collision to check.
    let joint = match unprotected {
        None => Cow::Borrowed(protected),
        Some(u) => Cow::Owned(Header::joint([protected, u])?),
    };
    if unprotected.is_some_and(|u| u.contains("b64")) {
        return Err(Malformed::Header {
            member: "b64".into(),
            reason: "must be integrity protected",
        }
        .into());
    }
    if protected.contains("b64") && !protected.crit().is_some_and(|c| c.contains(&"b64")) {
        return Err(Malformed::Header {
            member: "b64".into(),
            reason: "must be listed in `crit`",
        }
        .into());
    }
    let unprotected: Vec<&Header> = unprotected.into_iter().collect();
    check_crit(protected, &unprotected, understood)?;
    Ok(joint)
}
