//! `cargo xtask tokens-doc`: the compatibility tables of `docs/tokens.md`, from the files the
//! last conformance runs wrote (`target/conformance/<name>.tsv`) and the provisioning records
//! (`target/tokens/<name>/generation.tsv`). The text between the markers below is replaced.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::NAMES;

const BEGIN: &str = "<!-- conformance:begin (cargo xtask tokens-doc) -->";
const END: &str = "<!-- conformance:end -->";

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Shortens a failure for a table cell.
fn short(text: &str) -> String {
    let text = text.replace('|', "\\|");
    if text.chars().count() > 110 {
        format!("{}…", text.chars().take(110).collect::<String>())
    } else {
        text
    }
}

fn cell(route: &str, result: &str) -> String {
    let route = route.to_owned();
    if result == "ok" {
        route
    } else {
        format!(
            "**{}** ({route})",
            short(result.strip_prefix("FAIL: ").unwrap_or(result))
        )
    }
}

pub(crate) fn run(root: &Path) -> crate::Result {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut cells: BTreeMap<(String, String, &str), String> = BTreeMap::new();
    let mut missing = Vec::new();
    let mut generation: BTreeMap<(String, &str), String> = BTreeMap::new();
    let mut key_order: Vec<String> = Vec::new();
    for name in NAMES {
        let conformance = root.join("target/conformance").join(format!("{name}.tsv"));
        match read(&conformance) {
            Some(text) => {
                for line in text.lines() {
                    let f: Vec<&str> = line.split('\t').collect();
                    let [key, alg, route, result] = f[..] else {
                        continue;
                    };
                    let row = (key.to_owned(), alg.to_owned());
                    if !order.contains(&row) {
                        order.push(row.clone());
                    }
                    cells.insert((row.0, row.1, name), cell(route, result));
                }
            }
            None => missing.push(*name),
        }
        let records = root.join("target/tokens").join(name).join("generation.tsv");
        for line in read(&records).unwrap_or_default().lines() {
            if let Some((key, outcome)) = line.split_once('\t') {
                if !key_order.iter().any(|k| k == key) {
                    key_order.push(key.to_owned());
                }
                let outcome = outcome.replace('\t', ": ");
                generation.insert((key.to_owned(), name), short(&outcome));
            }
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "no conformance results for {} (run `cargo xtask test-hsm --token NAME` first)",
            missing.join(", ")
        ));
    }
    let mut md = String::new();
    let header = |md: &mut String, first: &str| {
        let _ = writeln!(md, "| {first} | {} |", NAMES.join(" | "));
        let _ = writeln!(md, "|---|{}", "---|".repeat(NAMES.len()));
    };
    md.push_str(
        "\n**Key generation through hsm-core** (provisioning of the `conformance` token):\n\n",
    );
    header(&mut md, "fixture key");
    for key in &key_order {
        let row: Vec<String> = NAMES
            .iter()
            .map(|n| {
                generation
                    .get(&(key.clone(), *n))
                    .cloned()
                    .unwrap_or_else(|| "—".into())
            })
            .collect();
        let _ = writeln!(md, "| `{key}` | {} |", row.join(" | "));
    }
    md.push_str(
        "\n**Operations** (key x algorithm; `direct`: the token runs the algorithm's own \
         mechanism; `fallback`: a lower-level mechanism with the JOSE work done in software; \
         `not offered`: refused before any token call; bold: what failed; —: the key is not on \
         that token):\n\n",
    );
    header(&mut md, "key, algorithm");
    for (key, alg) in &order {
        let row: Vec<String> = NAMES
            .iter()
            .map(|n| {
                cells
                    .get(&(key.clone(), alg.clone(), *n))
                    .cloned()
                    .unwrap_or_else(|| "—".into())
            })
            .collect();
        let _ = writeln!(md, "| `{key}` {alg} | {} |", row.join(" | "));
    }
    let doc = root.join("docs").join("tokens.md");
    let text = read(&doc).ok_or_else(|| format!("cannot read {}", doc.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!(
            "{} lacks the markers {BEGIN} ... {END}",
            doc.display()
        ));
    };
    let updated = format!("{}{BEGIN}\n{md}\n{}", &text[..b], &text[e..]);
    std::fs::write(&doc, updated).map_err(|e| format!("cannot write {}: {e}", doc.display()))?;
    eprintln!("xtask: {} updated", doc.display());
    Ok(())
}
