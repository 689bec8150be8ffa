//! `cargo xtask demo`: provisions a SoftHSM token (installing SoftHSM if needed), then runs the
//! demo program `crates/hsm-jose/examples/demo.rs` against it: the whole flow on HSM keys.
//!
//! The demo is an example of the hsm-jose crate rather than code in xtask, so that xtask stays
//! light to compile and the demo doubles as a runnable example for users.
//!
//! `cargo xtask demo --service` provisions the same token, then starts the issuer example
//! (`examples/issuer`, binary `hsm-jose-issuer`) on 127.0.0.1 with its key `ec-p256` (ES256),
//! prints curl commands to try and how to verify a token, and keeps running until Ctrl-C. The
//! issuer is stopped by PID: when xtask returns, and, after a Ctrl-C or a kill, by the reaper
//! of the token matrix's daemon guard (`tokens::daemons`).
//!
//! `--service --once` (run by `cargo xtask test-hsm`): starts the issuer, fetches the JWKS and
//! one token over HTTP/1.1 (std `TcpStream`), checks that the token's `kid` is in the JWKS,
//! prints both, and stops it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::softhsm;
use crate::tokens::daemons::Daemons;

/// The demo token's label.
const TOKEN: &str = "hsm-jose-demo";
/// The issuer's signing key in the demo token, and its algorithm.
const ISSUER_KEY: &str = "ec-p256";
const ISSUER_ALG: &str = "ES256";
/// Another key of the demo token, for trying a rotation.
const ROTATE_KEY: &str = "rsa-2048";
/// The bearer token of `/admin/rotate` in the demo (a demo: not a secret).
const ADMIN_TOKEN: &str = "demo-admin-token";
/// The daemon name of the issuer in the guard.
const ISSUER: &str = "hsm-jose-issuer";

pub(crate) fn run(args: &[String]) -> crate::Result {
    let mut service = false;
    let mut once = false;
    for arg in args {
        match arg.as_str() {
            "--service" => service = true,
            "--once" => once = true,
            other => {
                return Err(format!(
                    "demo takes only --service [--once] (got `{other}`)"
                ));
            }
        }
    }
    if once && !service {
        return Err("--once goes with --service".into());
    }
    let root = crate::root();
    let dir = root.join("target").join("hsm-demo");
    let hsm = softhsm::provision_in(&dir, vec![TOKEN.to_owned()])?;
    if !service {
        return crate::run(
            "cargo run --example demo",
            crate::cargo()
                .args(["run", "--quiet", "-p", "hsm-jose", "--example", "demo"])
                .envs(hsm.env())
                .env("HSM_TOKEN", TOKEN),
        );
    }

    // `--workspace --tests`: the feature resolution of `cargo test --workspace` (dev-dependencies
    // included), so that after test-hsm's test run this only links the binary.
    crate::run(
        "cargo build --bin hsm-jose-issuer",
        crate::cargo().args([
            "build",
            "--quiet",
            "--workspace",
            "--tests",
            "--bin",
            "hsm-jose-issuer",
        ]),
    )?;
    let exe = root.join("target").join("debug").join("hsm-jose-issuer");
    let addr = listen_address(once)?;
    let service_dir = dir.join("service");
    std::fs::create_dir_all(&service_dir)
        .map_err(|e| format!("cannot create {}: {e}", service_dir.display()))?;
    let log = service_dir.join("issuer.log");
    let mut daemons = Daemons::new(&service_dir)?;
    daemons.spawn(
        ISSUER,
        Command::new(&exe)
            .envs(hsm.env())
            .env("HSM_TOKEN", TOKEN)
            .env("ISSUER_KEY", ISSUER_KEY)
            .env("ISSUER_ALG", ISSUER_ALG)
            .env("ISSUER_ADDR", addr.to_string())
            .env("ISSUER_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("ISSUER_DEADLINE_MS", "2000"),
        &log,
    )?;
    crate::tokens::wait_for(&mut daemons, ISSUER, 30, || {
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
    })
    .map_err(|e| format!("{e} ({})", log.display()))?;

    if once {
        let outcome = exercise(addr);
        drop(daemons);
        return outcome;
    }
    print_commands(addr, &log);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(status) = daemons.exited(ISSUER) {
            return Err(format!("{ISSUER} exited ({status}); see {}", log.display()));
        }
    }
}

/// Where the issuer listens: `ISSUER_ADDR`, else 127.0.0.1:8080 when it is free (interactive),
/// else a free loopback port.
fn listen_address(once: bool) -> crate::Result<SocketAddr> {
    if !once {
        if let Ok(addr) = std::env::var("ISSUER_ADDR") {
            return addr.parse().map_err(|e| format!("ISSUER_ADDR={addr}: {e}"));
        }
        let default = SocketAddr::from(([127, 0, 0, 1], 8080));
        if TcpListener::bind(default).is_ok() {
            return Ok(default);
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

fn print_commands(addr: SocketAddr, log: &Path) {
    let base = format!("http://{addr}");
    println!(
        "\nhsm-jose-issuer serves on {base} with the key `{ISSUER_KEY}` ({ISSUER_ALG}) of the \
         SoftHSM token `{TOKEN}`\n(log: {}). Try:\n",
        log.display()
    );
    println!("  curl -s {base}/.well-known/jwks.json");
    println!(
        "  curl -s -X POST -H 'content-type: application/json' -d '{{\"sub\":\"alice\"}}' {base}/token"
    );
    println!("  curl -s {base}/status");
    println!("\nVerify a token with the command line, which holds only the published JWKS:\n");
    println!(
        "  curl -s -X POST -H 'content-type: application/json' -d '{{\"sub\":\"alice\"}}' {base}/token \\\n    \
         | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/' \\\n    \
         | cargo run -q -p hsm-jose-cli -- jwt verify --jwks-url {base}/.well-known/jwks.json --allow-http --iss {base}"
    );
    println!("\nRotate to another token key without a restart (the old key stays in the JWKS):\n");
    println!(
        "  curl -s -X POST -H 'authorization: Bearer {ADMIN_TOKEN}' -H 'content-type: application/json' \\\n    \
         -d '{{\"label\":\"{ROTATE_KEY}\",\"kid\":\"{ROTATE_KEY}\",\"alg\":\"RS256\"}}' {base}/admin/rotate"
    );
    println!("\nCtrl-C stops the issuer.");
}

/// The non-interactive run: the JWKS and one token over HTTP, checked and printed.
fn exercise(addr: SocketAddr) -> crate::Result {
    let (status, jwks) = http(addr, "GET", "/.well-known/jwks.json", None)?;
    if status != 200 {
        return Err(format!("GET /.well-known/jwks.json: HTTP {status}: {jwks}"));
    }
    let set: serde_json::Value =
        serde_json::from_str(&jwks).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .map(|keys| keys.iter().filter_map(|k| k["kid"].as_str()).collect())
        .unwrap_or_default();
    println!("GET {addr}/.well-known/jwks.json\n{jwks}");

    let (status, body) = http(addr, "POST", "/token", Some(r#"{"sub":"alice"}"#))?;
    if status != 200 {
        return Err(format!("POST /token: HTTP {status}: {body}"));
    }
    let answer: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("POST /token: not JSON: {e}"))?;
    let token = answer["access_token"]
        .as_str()
        .ok_or_else(|| format!("POST /token: no access_token in {body}"))?;
    println!("POST {addr}/token {{\"sub\":\"alice\"}}\n{body}");

    // The token is a compact JWS whose header names a key of the JWKS.
    let parts: Vec<&str> = token.split('.').collect();
    let [header, _, _] = parts.as_slice() else {
        return Err(format!("the access token has {} parts, not 3", parts.len()));
    };
    let header = Base64UrlUnpadded::decode_vec(header)
        .map_err(|e| format!("the token's header is not base64url: {e}"))?;
    let header: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| format!("the token's header is not JSON: {e}"))?;
    let kid = header["kid"].as_str().unwrap_or_default();
    if header["alg"] != ISSUER_ALG || !kids.contains(&kid) {
        return Err(format!(
            "the token's header {header} does not name an {ISSUER_ALG} key of the JWKS ({kids:?})"
        ));
    }
    println!("xtask: the token is signed with {ISSUER_ALG} by `{kid}`, a key of the JWKS");
    Ok(())
}

/// One HTTP/1.1 request (`Connection: close`); the status and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> crate::Result<(u16, String)> {
    let what = format!("{method} http://{addr}{path}");
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("{what}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| format!("{what}: {e}"))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{what}: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("{what}: {e}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{what}: no HTTP header in the answer"))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            format!(
                "{what}: no status in `{}`",
                head.lines().next().unwrap_or("")
            )
        })?;
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(rest).ok_or_else(|| format!("{what}: a malformed chunked body"))?
    } else {
        rest.to_owned()
    };
    Ok((status, body))
}

/// A chunked body's content.
fn dechunk(mut rest: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, tail) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(tail.get(..size)?);
        rest = tail.get(size..)?.strip_prefix("\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::dechunk;

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\n\r\n").as_deref(),
            Some("Wikipedia")
        );
    }

    #[test]
    fn malformed_chunks_are_refused() {
        // A chunk longer than what follows, and a size that is not hexadecimal.
        assert_eq!(dechunk("9\r\nWiki\r\n0\r\n\r\n"), None);
        assert_eq!(dechunk("zz\r\nWiki\r\n0\r\n\r\n"), None);
    }
}
