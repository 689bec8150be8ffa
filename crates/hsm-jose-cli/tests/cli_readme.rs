//! The README's shell example, run as it is written: generate a key in the token, publish its
//! JWK Set, sign a JWT with it, verify the JWT with only the JWK Set, encrypt to the public
//! JWK, decrypt in the token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::{BIN, Cli, cli};

const README: &str = include_str!("../README.md");

/// The marker before the tested block, in the README.
const MARKER: &str = "<!-- tested by tests/cli_readme.rs -->";

/// The first ```sh block after the marker.
fn tested_block() -> String {
    let after = README
        .split_once(MARKER)
        .unwrap_or_else(|| panic!("README.md has no {MARKER:?}"))
        .1;
    let start = after
        .find("```sh\n")
        .expect("a ```sh block after the marker")
        + "```sh\n".len();
    let len = after[start..].find("\n```").expect("the end of the block");
    after[start..start + len + 1].to_owned()
}

#[test]
fn the_readme_example_runs_as_written() {
    let cli = cli("readme");
    let script = tested_block();
    for step in [
        "keys generate",
        "jwks --key",
        "jwt sign",
        "jwt verify --jwks",
        "encrypt --jwk",
        "decrypt --key",
    ] {
        assert!(script.contains(step), "the example lost its step `{step}`");
    }
    // The example's key, from an earlier run against the same token, if any.
    let _ = cli.run(&["keys", "delete", "--key", "service-2026", "--yes"], "");

    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut sh = Command::new("sh");
    cli.configure(&mut sh);
    sh.env("PATH", path).args(["-e", "-c", &script]);
    let run = Cli::run_command(sh, b"");
    assert_eq!(
        run.status, 0,
        "the README example failed:\n{script}\nstderr:\n{}",
        run.stderr
    );
    let out = run.text();
    // Step 4 prints the verified claims, step 6 the decrypted plaintext (no newline added).
    let claims: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(claims["iss"], "https://issuer.example");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "api");
    assert!(out.ends_with("\nfor the HSM only"), "{out:?}");
    // The files the example leaves behind.
    let jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cli.path("jwks.json")).unwrap()).unwrap();
    let jwk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cli.path("service.jwk")).unwrap()).unwrap();
    assert_eq!(jwks["keys"][0], jwk);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

/// The workspace README shows the same example: it must be the block tested above, to the byte.
#[test]
fn the_workspace_readme_shows_the_tested_example() {
    const ROOT_README: &str = include_str!("../../../README.md");
    let root = ROOT_README
        .split_once(MARKER)
        .expect("the workspace README has the marker")
        .1;
    let start = root.find("```sh\n").expect("a ```sh block") + "```sh\n".len();
    let len = root[start..].find("\n```").expect("the end of the block");
    assert_eq!(&root[start..start + len + 1], tested_block());
}
