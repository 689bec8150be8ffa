//! The client over TLS (rustls, ring): a local HTTPS issuer on 127.0.0.1 whose self-signed
//! certificate (tests/fixtures/localhost.cert.pem, test-only, valid until 2126) is trusted
//! through `tls_config`, and refused without it.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use jose_jwks::{JwksClient, JwksError, VerifyError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::*;

const CERT: &[u8] = include_bytes!("fixtures/localhost.cert.pem");
const KEY: &[u8] = include_bytes!("fixtures/localhost.key.pem");

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Serves `body` as the JWK Set over HTTPS; returns the URL and the request counter.
async fn https_issuer(body: String) -> (String, Arc<AtomicUsize>) {
    let cert = CertificateDer::from_pem_slice(CERT).unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    // Ends with the test's runtime.
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, body, counter) = (acceptor.clone(), body.clone(), Arc::clone(&counter));
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let body = body.clone();
                    async move { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body)))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (format!("https://{addr}/jwks.json"), hits)
}

#[tokio::test]
async fn https_with_a_trusted_root() {
    within(20, async {
        let k1 = es256("k1");
        let (url, hits) = https_issuer(jwks(&[&k1])).await;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(CERT).unwrap())
            .unwrap();
        let tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = JwksClient::builder(url).tls_config(tls).build().unwrap();
        let jwt = client
            .verify(&token(&k1, "alice"), &validation())
            .await
            .unwrap();
        assert_eq!(jwt.claims().sub(), Some("alice"));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test]
async fn https_with_an_unknown_certificate_is_refused() {
    within(20, async {
        let k1 = es256("k1");
        let (url, hits) = https_issuer(jwks(&[&k1])).await;
        // A client whose roots do not include the test certificate (here: no roots at all,
        // so that the test does not depend on the machine's trust store).
        let tls = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let client = JwksClient::builder(url).tls_config(tls).build().unwrap();
        let r = client.verify(&token(&k1, "alice"), &validation()).await;
        assert!(
            matches!(&r, Err(VerifyError::KeysUnavailable(JwksError::Connection { reason, .. })) if reason.contains("certificate")),
            "{r:?}"
        );
        assert_eq!(hits.load(Ordering::SeqCst), 0, "no request is sent over an untrusted connection");
    })
    .await;
}
