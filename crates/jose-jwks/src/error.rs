//! The errors of the JWKS client and of verification through it.

use std::time::Duration;

/// Why the client could not obtain a usable JWK Set from the issuer.
///
/// A client that already holds a set keeps serving it when a refresh fails with one of these;
/// the error is then visible in [`JwksStatus::last_error`](crate::JwksStatus::last_error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The configured URL (or a `jwks_uri` from discovery) is not an absolute `http(s)` URL.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A plain `http` URL where the client requires `https` (see
    /// [`JwksClientBuilder::allow_http`](crate::JwksClientBuilder::allow_http)).
    #[error("`{0}` is not https; plain http is refused unless allowed explicitly")]
    InsecureUrl(String),
    /// The TLS configuration could not be built (for instance no trusted roots were found).
    #[error("TLS setup: {0}")]
    Tls(String),
    /// The request did not complete (headers and whole body) within the timeout.
    #[error("the request to `{url}` did not complete within {timeout:?}")]
    Timeout {
        /// The URL requested.
        url: String,
        /// The configured request timeout.
        timeout: Duration,
    },
    /// The connection failed or broke (refused, reset, DNS, TLS handshake).
    #[error("the request to `{url}` failed: {reason}")]
    Connection {
        /// The URL requested.
        url: String,
        /// What the HTTP stack said.
        reason: String,
    },
    /// The server answered with a status other than 200 (redirects are not followed).
    #[error("`{url}` answered HTTP {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The response body is larger than the configured cap.
    #[error("the response from `{url}` exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The configured cap.
        limit: usize,
    },
    /// The body is not a JWK Set (`{"keys":[...]}`) or not an OpenID Provider configuration.
    #[error("the document from `{url}` is not {expected}: {reason}")]
    Document {
        /// The URL requested.
        url: String,
        /// `a JWK Set` or `an OpenID Provider configuration`.
        expected: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The discovery document names another issuer than the one configured (OpenID Connect
    /// Discovery 1.0, section 4.3).
    #[error("the discovery document names issuer `{found}`, expected `{expected}`")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The `issuer` member of the document.
        found: String,
    },
}

/// Why a bearer token was not accepted by [`JwksClient::verify`](crate::JwksClient::verify).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token was rejected: malformed, an algorithm not allowed, no key with its `kid` even
    /// after a refetch, a bad signature ([`jose_core::Error::Verification`], with no detail), or
    /// claims that do not validate.
    #[error("token rejected: {0}")]
    Token(#[from] jose_core::Error),
    /// No key set could be obtained at all (the issuer has never answered with a usable set):
    /// the token could not be checked. This is the server's failure, not the token's.
    #[error("no JWK Set is available: {0}")]
    KeysUnavailable(#[from] JwksError),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant prints a sentence that names the URL and what went wrong.
    #[test]
    fn messages() {
        let url = || "https://issuer.test/jwks.json".to_owned();
        let cases = [
            (
                JwksError::InvalidUrl {
                    url: url(),
                    reason: "no host",
                },
                "invalid URL `https://issuer.test/jwks.json`: no host",
            ),
            (
                JwksError::InsecureUrl("http://issuer.test/jwks.json".into()),
                "`http://issuer.test/jwks.json` is not https; plain http is refused unless allowed explicitly",
            ),
            (JwksError::Tls("no roots".into()), "TLS setup: no roots"),
            (
                JwksError::Timeout {
                    url: url(),
                    timeout: Duration::from_secs(5),
                },
                "the request to `https://issuer.test/jwks.json` did not complete within 5s",
            ),
            (
                JwksError::Connection {
                    url: url(),
                    reason: "refused".into(),
                },
                "the request to `https://issuer.test/jwks.json` failed: refused",
            ),
            (
                JwksError::Status {
                    url: url(),
                    status: 503,
                },
                "`https://issuer.test/jwks.json` answered HTTP 503",
            ),
            (
                JwksError::TooLarge {
                    url: url(),
                    limit: 10,
                },
                "the response from `https://issuer.test/jwks.json` exceeds the limit of 10 bytes",
            ),
            (
                JwksError::Document {
                    url: url(),
                    expected: "a JWK Set",
                    reason: "not JSON".into(),
                },
                "the document from `https://issuer.test/jwks.json` is not a JWK Set: not JSON",
            ),
            (
                JwksError::IssuerMismatch {
                    expected: "a".into(),
                    found: "b".into(),
                },
                "the discovery document names issuer `b`, expected `a`",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
        assert_eq!(
            VerifyError::Token(jose_core::Error::Verification).to_string(),
            "token rejected: signature verification failed"
        );
    }
}
