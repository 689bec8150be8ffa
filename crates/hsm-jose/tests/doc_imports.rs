//! Every code example a user of hsm-jose reads (rustdoc, the README, `examples/`) imports only
//! what a crate that depends on hsm-jose alone can name: `hsm_jose::...`, including its
//! re-exports `hsm_jose::jose_core`, `hsm_jose::hsm_core` (and through it `cryptoki`).
//!
//! The doctests compile with hsm-jose's own dependencies in scope, so `use jose_core::...` would
//! compile there and fail in a user's crate; this test reads the examples and refuses such paths.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

/// Crates that hsm-jose depends on but a user of hsm-jose does not.
const DIRECT: &[&str] = &["jose_core", "hsm_core", "cryptoki"];

/// The code lines of the rustdoc examples (```` ``` ```` blocks in `///` and `//!` comments) of
/// a Rust source, or of the code blocks of a Markdown file.
fn example_lines(text: &str, markdown: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let doc = if markdown {
            Some(trimmed)
        } else {
            trimmed
                .strip_prefix("///")
                .or_else(|| trimmed.strip_prefix("//!"))
        };
        let Some(doc) = doc else {
            in_code = false;
            continue;
        };
        let doc = doc.trim_start();
        if doc.starts_with("```") {
            let lang = doc.trim_start_matches('`');
            // Only Rust blocks: ```, ```rust, ```no_run, ```rust,no_run, ```ignore...
            in_code = !in_code
                && (lang.is_empty()
                    || lang.starts_with("rust")
                    || lang.starts_with("no_run")
                    || lang.starts_with("ignore")
                    || lang.starts_with("compile_fail"));
            continue;
        }
        if in_code {
            out.push(doc.to_owned());
        }
    }
    out
}

/// The paths in `line` that name one of [`DIRECT`] without going through `hsm_jose::`.
fn direct_paths(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    for name in DIRECT {
        let needle = format!("{name}::");
        let mut start = 0;
        while let Some(at) = line[start..].find(&needle) {
            let at = start + at;
            let before = &line[..at];
            let qualified = before.ends_with("hsm_jose::")
                || before.ends_with("hsm_core::")
                || before.ends_with("jose_core::");
            let part_of_word = before
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if !qualified && !part_of_word {
                found.push(format!("{name}::"));
            }
            start = at + needle.len();
        }
    }
    found
}

fn check(path: &Path, offences: &mut Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let markdown = path.extension().is_some_and(|e| e == "md");
    let is_example = path.parent().is_some_and(|p| p.ends_with("examples"));
    let lines: Vec<String> = if is_example {
        text.lines().map(str::to_owned).collect()
    } else {
        example_lines(&text, markdown)
    };
    for line in lines {
        for p in direct_paths(&line) {
            offences.push(format!("{}: `{p}` in `{}`", path.display(), line.trim()));
        }
    }
}

#[test]
fn the_checker_finds_a_direct_import_and_accepts_the_re_export() {
    let source = "/// ```no_run\n/// use jose_core::{jws, JwsAlgorithm};\n/// use hsm_jose::jose_core::jwe;\n/// ```\nfn f() { jose_core::x(); }\n";
    let lines = example_lines(source, false);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(direct_paths(&lines[0]), ["jose_core::"]);
    assert!(direct_paths(&lines[1]).is_empty());
    let md = "text jose_core::x\n```rust\nuse hsm_core::Pin;\n```\n";
    assert_eq!(example_lines(md, true), ["use hsm_core::Pin;"]);
}

#[test]
fn every_example_imports_only_through_hsm_jose() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    for dir in ["src", "examples"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 10, "{files:?}");
    let mut offences = Vec::new();
    for file in &files {
        check(file, &mut offences);
    }
    assert!(
        offences.is_empty(),
        "examples that a crate depending on hsm-jose alone cannot compile:\n{}",
        offences.join("\n")
    );
}
