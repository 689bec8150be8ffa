//! One HTTP GET with a timeout over the whole exchange and a cap on the body, over rustls.

use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT, CONTENT_LENGTH, USER_AGENT};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cache_control;
use crate::error::JwksError;

/// A response body and the lifetime its `Cache-Control` gives it.
pub(crate) struct Fetched {
    pub(crate) body: Bytes,
    pub(crate) max_age: Option<Duration>,
}

/// The HTTP side of the client.
pub(crate) struct Fetcher {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
    max_body: usize,
    allow_http: bool,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl Fetcher {
    /// A fetcher trusting `tls`'s roots, or the operating system's when `tls` is `None`.
    pub(crate) fn new(
        tls: Option<rustls::ClientConfig>,
        timeout: Duration,
        max_body: usize,
        allow_http: bool,
    ) -> Result<Self, JwksError> {
        let mut http = HttpConnector::new();
        // The scheme is checked by the TLS connector (https_only) and by `parse_url`.
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = match tls {
            Some(config) => builder.with_tls_config(config),
            None => match builder.with_provider_and_native_roots(Arc::clone(&provider)) {
                Ok(builder) => builder,
                // A machine without trusted roots can still reach a plain-http source the
                // caller allowed; any https request then fails its certificate check.
                Err(_) if allow_http => {
                    hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(no_roots(provider)?)
                }
                Err(e) => {
                    return Err(JwksError::Tls(format!(
                        "loading the system's trusted roots: {e}"
                    )));
                }
            },
        };
        let builder = if allow_http {
            builder.https_or_http()
        } else {
            builder.https_only()
        };
        let connector = builder.enable_http1().wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self {
            client,
            timeout,
            max_body,
            allow_http,
        })
    }

    /// Parses and checks a URL this fetcher may request.
    pub(crate) fn parse_url(&self, url: &str) -> Result<Uri, JwksError> {
        parse_url(url, self.allow_http)
    }

    /// GETs `url`; headers and the whole body must arrive within the timeout.
    pub(crate) async fn get(&self, url: &Uri) -> Result<Fetched, JwksError> {
        match tokio::time::timeout(self.timeout, self.get_unbounded(url)).await {
            Ok(result) => result,
            Err(_elapsed) => Err(JwksError::Timeout {
                url: url.to_string(),
                timeout: self.timeout,
            }),
        }
    }

    async fn get_unbounded(&self, url: &Uri) -> Result<Fetched, JwksError> {
        let request = Request::get(url.clone())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, concat!("jose-jwks/", env!("CARGO_PKG_VERSION")))
            .body(Empty::new())
            .map_err(|_| JwksError::InvalidUrl {
                url: url.to_string(),
                reason: "not a valid request target",
            })?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| JwksError::Connection {
                url: url.to_string(),
                reason: error_chain(&e),
            })?;
        if response.status() != StatusCode::OK {
            return Err(JwksError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        let too_large = || JwksError::TooLarge {
            url: url.to_string(),
            limit: self.max_body,
        };
        let announced = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|len| len > self.max_body as u64) {
            return Err(too_large());
        }
        let max_age = cache_control::max_age(response.headers());
        let body = Limited::new(response.into_body(), self.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    too_large()
                } else {
                    JwksError::Connection {
                        url: url.to_string(),
                        reason: error_chain(e.as_ref()),
                    }
                }
            })?
            .to_bytes();
        Ok(Fetched { body, max_age })
    }
}

/// A TLS configuration that trusts nothing.
fn no_roots(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls::ClientConfig, JwksError> {
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| JwksError::Tls(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

/// An absolute `https` (or, when allowed, `http`) URL with a host.
pub(crate) fn parse_url(url: &str, allow_http: bool) -> Result<Uri, JwksError> {
    let invalid = |reason| JwksError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_http => {}
        Some("http") => return Err(JwksError::InsecureUrl(url.to_owned())),
        Some(_) => return Err(invalid("the scheme is neither https nor http")),
        None => return Err(invalid("not an absolute URL")),
    }
    match uri.host() {
        Some(host) if !host.is_empty() => Ok(uri),
        _ => Err(invalid("no host")),
    }
}

/// An error and its sources, joined: hyper's own messages are terse ("client error (Connect)").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(parse_url("https://issuer.example/jwks", false).is_ok());
        assert!(parse_url("http://127.0.0.1:8080/jwks", true).is_ok());
        assert!(matches!(
            parse_url("http://issuer.example/jwks", false),
            Err(JwksError::InsecureUrl(_))
        ));
        assert!(matches!(
            parse_url("ftp://issuer.example/jwks", true),
            Err(JwksError::InvalidUrl {
                reason: "the scheme is neither https nor http",
                ..
            })
        ));
        assert!(matches!(
            parse_url("/jwks", true),
            Err(JwksError::InvalidUrl {
                reason: "not an absolute URL",
                ..
            })
        ));
        assert!(matches!(
            parse_url("https://exa mple/", true),
            Err(JwksError::InvalidUrl {
                reason: "not a URL",
                ..
            })
        ));
    }
}
