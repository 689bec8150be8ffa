//! `hsm-jose-issuer`: the issuer example as a program.
//!
//! ```text
//! HSM_MODULE=/usr/lib/softhsm/libsofthsm2.so HSM_TOKEN=demo HSM_PIN=1234 \
//! ISSUER_KEY=ec-p256 ISSUER_ALG=ES256 ISSUER_ADMIN_TOKEN=change-me \
//!     cargo run -p hsm-jose-issuer
//! ```
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `HSM_MODULE`, `HSM_TOKEN`, `HSM_PIN` | the token (see `SessionPool::from_env`) | required |
//! | `ISSUER_KEY` | label of the signing key | `issuer-signing` |
//! | `ISSUER_KID` | its published `kid` | the label |
//! | `ISSUER_ALG` | JWS algorithm | `ES256` |
//! | `ISSUER_ADDR` | listen address | `127.0.0.1:8080` |
//! | `ISSUER_NAME` | `iss` | `http://<ISSUER_ADDR>` |
//! | `ISSUER_AUDIENCE` | default `aud` | none |
//! | `ISSUER_TTL` | token lifetime, seconds | `300` |
//! | `ISSUER_ADMIN_TOKEN` | bearer token of `/admin/rotate` | unset: no admin routes |
//! | `ISSUER_DEADLINE_MS` | deadline of each HSM operation | the pool's wait timeout |

use std::process::ExitCode;
use std::time::Duration;

use hsm_jose::SessionPool;
use hsm_jose::jose_core::JwsAlgorithm;
use hsm_jose::service::AsyncHsm;
use hsm_jose_issuer::{Config, Issuer, SigningKey, serve};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("hsm-jose-issuer: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let addr = env("ISSUER_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
    let label = env("ISSUER_KEY").unwrap_or_else(|| "issuer-signing".into());
    let alg: JwsAlgorithm = env("ISSUER_ALG")
        .unwrap_or_else(|| "ES256".into())
        .parse()
        .map_err(|e| format!("ISSUER_ALG: {e}"))?;
    let ttl = match env("ISSUER_TTL") {
        Some(s) => s
            .parse()
            .map_err(|_| "ISSUER_TTL: not a number of seconds")?,
        None => 300,
    };

    let pool = SessionPool::from_env().map_err(|e| e.to_string())?;
    let mut builder = AsyncHsm::builder(&pool);
    if let Some(ms) = env("ISSUER_DEADLINE_MS") {
        let ms: u64 = ms.parse().map_err(|_| "ISSUER_DEADLINE_MS: not a number")?;
        builder = builder.deadline(Duration::from_millis(ms));
    }
    let hsm = builder.build().map_err(|e| e.to_string())?;

    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let config = Config {
        issuer: env("ISSUER_NAME").unwrap_or_else(|| format!("http://{local}")),
        default_audience: env("ISSUER_AUDIENCE"),
        ttl: Duration::from_secs(ttl),
        admin_token: env("ISSUER_ADMIN_TOKEN"),
        ..Config::default()
    };
    let admin = config.admin_token.is_some();
    let key = SigningKey {
        kid: env("ISSUER_KID").unwrap_or_else(|| label.clone()),
        label,
        alg,
    };
    let issuer = Issuer::start(hsm, config, key)
        .await
        .map_err(|e| format!("cannot load the signing key: {e}"))?;

    println!("hsm-jose-issuer on http://{local} (Ctrl-C stops it). Try:");
    println!("  curl -s http://{local}/.well-known/jwks.json");
    println!(
        "  curl -s -X POST -H 'content-type: application/json' -d '{{\"sub\":\"alice\"}}' http://{local}/token"
    );
    println!("  curl -s http://{local}/status");
    if admin {
        println!(
            "  curl -s -X POST -H \"authorization: Bearer $ISSUER_ADMIN_TOKEN\" -H 'content-type: application/json' \\\n       -d '{{\"label\":\"<another key>\",\"kid\":\"<its kid>\"}}' http://{local}/admin/rotate"
        );
    }

    serve(listener, issuer, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}
