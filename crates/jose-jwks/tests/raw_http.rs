//! Issuers that misbehave below the HTTP framework: a raw TCP server on 127.0.0.1 that
//! streams a chunked body with no `Content-Length` past the cap, or drips its body byte by
//! byte. The cap and the timeout hold without any help from the server.

mod support;

use std::time::{Duration, Instant};

use jose_jwks::{JwksClient, JwksError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections and hands each one to `answer`; ends with the test's runtime.
async fn raw_server<F, Fut>(answer: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the request head (a GET has no body).
                let mut buf = [0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                answer(tcp).await;
            });
        }
    });
    format!("http://{addr}/jwks.json")
}

/// 64 KiB chunks, up to 4 MiB in all (bounded even if the client never stops reading).
async fn endless_chunked(mut tcp: TcpStream) {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    if tcp.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let chunk = format!("{:x}\r\n{}\r\n", 65536, " ".repeat(65536));
    for _ in 0..64 {
        if tcp.write_all(chunk.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Headers at once, then one byte every 100 ms (30 bytes at most).
async fn dripping(mut tcp: TcpStream) {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 30\r\n\r\n";
    if tcp.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if tcp.write_all(b" ").await.is_err() {
            return;
        }
    }
}

#[tokio::test]
async fn a_body_without_length_is_capped() {
    support::within(20, async {
        let url = raw_server(endless_chunked).await;
        let client = JwksClient::builder(url)
            .allow_http(true)
            .max_body_bytes(100_000)
            .build()
            .unwrap();
        let r = client.refresh().await;
        assert!(
            matches!(r, Err(JwksError::TooLarge { limit: 100_000, .. })),
            "{r:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_timeout_covers_the_whole_body() {
    support::within(20, async {
        let url = raw_server(dripping).await;
        let client = JwksClient::builder(url)
            .allow_http(true)
            .timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        let started = Instant::now();
        let r = client.refresh().await;
        assert!(
            matches!(r, Err(JwksError::Timeout { timeout, .. }) if timeout == Duration::from_millis(500)),
            "{r:?}"
        );
        // The drip would take 3 s; the timeout ends it long before.
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    })
    .await;
}
