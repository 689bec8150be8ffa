//! What the consuming side shares: JWS verification, JWE decryption and JWT validation all
//! take one key or a key store, bound the token's size, accept a trailing newline on a compact
//! token, and try each signature or recipient in turn with one opaque failure at the end.

use crate::alg::Algorithm;
use crate::backend::{KeyBackend, KeyStore, select_key};
use crate::error::{Error, KeyError, Result};

/// The key(s) a token is checked with.
#[derive(Clone, Copy)]
pub(crate) enum Keys<'k> {
    /// One key, whatever the token's `kid`.
    One(&'k dyn KeyBackend),
    /// The key the token's `kid` selects (or the one key able to serve `alg`).
    Store(&'k dyn KeyStore),
}

impl<'k> Keys<'k> {
    /// The key for a signature or recipient naming `kid` with `alg`: the store's key for the
    /// `kid`; the one key, except that among `several` signatures or recipients it serves only
    /// those that name its `kid` (or name none), so it is not tried against every one.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        several: bool,
    ) -> Result<&'k dyn KeyBackend> {
        match *self {
            Keys::One(k) => match (several, kid, k.kid()) {
                (true, Some(want), Some(have)) if want != have => {
                    Err(KeyError::KidNotFound(want.to_owned()).into())
                }
                _ => Ok(k),
            },
            Keys::Store(store) => select_key(store, kid, alg),
        }
    }
}

/// A compact token as read from a file or a line: one trailing `\n` or `\r\n` removed.
pub(crate) fn strip_newline(token: &str) -> &str {
    token
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(token)
}

/// Which serialization to parse a token as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serialization {
    Compact,
    Json,
    /// JSON when the token is a JSON object, compact otherwise.
    Detect,
}

/// Refuses a token over `max_len` bytes, then parses it with `compact` or `json`.
pub(crate) fn parse<'t, T>(
    token: &'t str,
    max_len: usize,
    form: Serialization,
    compact: fn(&'t str) -> Result<T>,
    json: fn(&'t str) -> Result<T>,
) -> Result<T> {
    crate::json::check_token_len(token, max_len)?;
    let is_json = match form {
        Serialization::Compact => false,
        Serialization::Json => true,
        Serialization::Detect => crate::json::is_json_serialization(token),
    };
    if is_json {
        json(token)
    } else {
        compact(strip_newline(token))
    }
}

/// `token.splitn(n, '.')` with a vectorised search for the dots (a token is a few hundred
/// bytes to megabytes of base64url).
pub(crate) fn split_dots(token: &str, n: usize) -> impl Iterator<Item = &str> {
    let mut rest = Some(token);
    let mut left = n;
    std::iter::from_fn(move || {
        let part = rest.filter(|_| left > 0)?;
        left -= 1;
        match memchr::memchr(b'.', part.as_bytes()).filter(|_| left > 0) {
            // A `.` is ASCII: both sides are at character boundaries.
            Some(at) => {
                rest = part.get(at + 1..);
                part.get(..at)
            }
            None => {
                rest = None;
                Some(part)
            }
        }
    })
}

/// Tries `attempt` on each item in turn and returns the first success.
///
/// When every attempt fails, the result is `failure` (the opaque [`Error::Verification`] or
/// [`Error::Decryption`]) as soon as one attempt reached the cryptography and failed there;
/// only when none did is the first policy error (algorithm not allowed, no key for the `kid`)
/// returned, so a caller learns why nothing was tried but never which cryptographic step failed.
pub(crate) fn first_success<I, T>(
    items: impl IntoIterator<Item = I>,
    failure: fn() -> Error,
    mut attempt: impl FnMut(I) -> Result<T>,
) -> Result<T> {
    let mut first_error = None;
    let mut attempted = false;
    for item in items {
        match attempt(item) {
            Ok(v) => return Ok(v),
            Err(e) if std::mem::discriminant(&e) == std::mem::discriminant(&failure()) => {
                attempted = true;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match (attempted, first_error) {
        (false, Some(e)) => Err(e),
        _ => Err(failure()),
    }
}

/// Refuses, for verification, a set of keys holding both symmetric keys (no public part: HMAC)
/// and asymmetric ones: a verifier given such a set cannot tell which kind a token should use,
/// and a token naming a symmetric `alg` must never meet a key that was published.
pub(crate) fn one_kind<'k>(keys: impl IntoIterator<Item = &'k dyn KeyBackend>) -> Result<()> {
    let name = |k: &dyn KeyBackend| match k.kid() {
        Some(kid) => format!("kid `{kid}`"),
        None => k.describe(),
    };
    let (mut symmetric, mut asymmetric) = (None, None);
    for k in keys {
        let slot = if k.public_jwk().is_some() {
            &mut asymmetric
        } else {
            &mut symmetric
        };
        if slot.is_none() {
            *slot = Some(name(k));
        }
        if let (Some(s), Some(a)) = (&symmetric, &asymmetric) {
            return Err(KeyError::MixedKeyKinds {
                symmetric: s.clone(),
                asymmetric: a.clone(),
            }
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split_dots;

    /// The same parts as `str::splitn`, for every limit and dots anywhere (leading, trailing,
    /// doubled, none).
    #[test]
    fn split_dots_is_splitn() {
        for token in [
            "",
            ".",
            "..",
            "a",
            "a.b",
            ".a",
            "a.",
            "a..b",
            "h.p.s",
            "h.p.s.x",
            "a.b.c.d.e.f.g",
            "é.ü..ß",
        ] {
            for n in 0..8 {
                let ours: Vec<&str> = split_dots(token, n).collect();
                let std: Vec<&str> = token.splitn(n, '.').collect();
                assert_eq!(ours, std, "{token:?} into {n}");
            }
        }
    }
}
