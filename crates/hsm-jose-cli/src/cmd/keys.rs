//! `keys list`, `keys generate`, `keys delete`.

use clap::ValueEnum;
use hsm_core::key::{certificates_of_key, delete_key};
use hsm_core::{
    Capabilities, EcCurve, KeyInfo, KeyKind, KeySelector, KeySpec, KeyUsage, PoolKey, SecretSpec,
    SessionPool, find_key, generate_key_pair, generate_secret_key, list_keys,
};
use hsm_jose::HsmJwk;
use jose_core::KeyBackend;
use serde_json::{Value, json};

use crate::cli::{DeleteArgs, GenerateArgs, KeyType, ListArgs, Usage};
use crate::error::{self, CliError, Result};
use crate::io::{self, Counter, Spinner};
use crate::keys::{Hsm, hex, parse_hex};
use crate::publish::public_jwk;

/// One row of `keys list`.
struct Row {
    info: KeyInfo,
    algorithms: Result<Vec<String>, String>,
}

pub(crate) fn list(hsm: &Hsm<'_>, args: &ListArgs) -> Result<()> {
    let pool = hsm.pool()?;
    let infos = {
        let session = pool.session().map_err(|e| error::hsm(&e))?;
        list_keys(&session).map_err(|e| error::hsm(&e))?
    };
    let mut progress = Counter::new("reading keys", infos.len());
    let mut rows = Vec::with_capacity(infos.len());
    for info in infos {
        let algorithms = algorithms(pool, &info);
        progress.tick();
        rows.push(Row { info, algorithms });
    }
    drop(progress);
    if args.json {
        let values: Vec<Value> = rows.iter().map(row_json).collect();
        io::print_line(&Value::Array(values).to_string())
    } else {
        io::write_stdout(table(&rows).as_bytes())
    }
}

/// The JOSE algorithms a key serves, as hsm-jose's `KeyBackend` reports them (from the listing:
/// the token is not searched again).
fn algorithms(pool: &SessionPool, info: &KeyInfo) -> Result<Vec<String>, String> {
    HsmJwk::from_pool_key(PoolKey::from_info(pool, info.clone()))
        .map(|key| {
            key.algorithms()
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect()
        })
        .map_err(|e| e.to_string())
}

pub(crate) fn kind_name(kind: &KeyKind) -> String {
    match kind {
        KeyKind::Rsa { bits } => format!("RSA {bits}"),
        KeyKind::Ec(curve) => format!("EC {}", curve.jwk_name()),
        KeyKind::Edwards(curve) => curve.jwk_name().to_owned(),
        KeyKind::Aes { bytes } => format!("AES-{}", bytes * 8),
        KeyKind::GenericSecret { bytes } => format!("HMAC secret {}", bytes * 8),
        KeyKind::Unsupported { key_type } => format!("unsupported ({key_type})"),
        #[allow(unreachable_patterns)]
        _ => "unknown".to_owned(),
    }
}

fn capabilities(c: &Capabilities) -> Vec<&'static str> {
    [
        (c.sign, "sign"),
        (c.verify, "verify"),
        (c.encrypt, "encrypt"),
        (c.decrypt, "decrypt"),
        (c.wrap, "wrap"),
        (c.unwrap, "unwrap"),
        (c.derive, "derive"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

fn protection(info: &KeyInfo) -> Vec<&'static str> {
    let p = &info.protection;
    [
        (hsm_jose::has_roca_fingerprint(info), "ROCA-WEAK"),
        (p.sensitive, "sensitive"),
        (p.extractable, "EXTRACTABLE"),
        (p.always_sensitive, "always-sensitive"),
        (p.never_extractable, "never-extractable"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

fn objects(info: &KeyInfo) -> Vec<&'static str> {
    [
        (info.private.is_some(), "private"),
        (info.public.is_some(), "public"),
        (info.secret.is_some(), "secret"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

fn row_json(row: &Row) -> Value {
    let info = &row.info;
    let p = &info.protection;
    let mut value = json!({
        "kind": kind_name(&info.kind),
        "label": info.label,
        "id": hex(&info.id),
        "objects": objects(info),
        "capabilities": capabilities(&info.capabilities),
        "protection": {
            "sensitive": p.sensitive,
            "extractable": p.extractable,
            "always_sensitive": p.always_sensitive,
            "never_extractable": p.never_extractable,
            "roca_fingerprint": hsm_jose::has_roca_fingerprint(info),
        },
    });
    match &row.algorithms {
        Ok(algs) => value["algorithms"] = json!(algs),
        Err(why) => {
            value["algorithms"] = json!([]);
            value["note"] = json!(why);
        }
    }
    value
}

fn join_or_dash(items: &[&str], sep: &str) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(sep)
    }
}

fn table(rows: &[Row]) -> String {
    let mut lines = vec![[
        "KIND".to_owned(),
        "LABEL".to_owned(),
        "ID".to_owned(),
        "CAPABILITIES".to_owned(),
        "PROTECTION".to_owned(),
        "ALGORITHMS".to_owned(),
    ]];
    for row in rows {
        let info = &row.info;
        let algorithms = match &row.algorithms {
            Ok(algs) if algs.is_empty() => "-".to_owned(),
            Ok(algs) => algs.join(","),
            Err(why) => format!("- ({why})"),
        };
        lines.push([
            kind_name(&info.kind),
            info.label.clone(),
            hex(&info.id),
            join_or_dash(&capabilities(&info.capabilities), ","),
            join_or_dash(&protection(info), ","),
            algorithms,
        ]);
    }
    let mut widths = [0usize; 6];
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for line in &lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

/// What `keys generate` makes, and how.
enum Spec {
    Pair(KeySpec),
    Secret(SecretSpec),
}

/// The usages each family of keys may have, as hsm-core allows them; checked here too so that a
/// wrong `--usage` is a usage error that names the choices.
fn allowed_usages(key_type: KeyType) -> &'static [Usage] {
    use KeyType as T;
    match key_type {
        T::Rsa2048 | T::Rsa3072 | T::Rsa4096 => &[Usage::Sign, Usage::Encrypt, Usage::Wrap],
        T::EcP256 | T::EcP384 | T::EcP521 => &[Usage::Sign, Usage::Derive],
        T::Ed25519 | T::Ed448 => &[Usage::Sign],
        T::Aes128 | T::Aes192 | T::Aes256 => {
            &[Usage::Encrypt, Usage::Wrap, Usage::Sign, Usage::Derive]
        }
        T::Hmac256 | T::Hmac384 | T::Hmac512 => &[Usage::Sign, Usage::Derive],
    }
}

fn value_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

fn spec(key_type: KeyType) -> (Spec, KeyUsage) {
    use KeyType as T;
    let rsa = KeyUsage::SIGN | KeyUsage::ENCRYPT;
    let ec = KeyUsage::SIGN | KeyUsage::DERIVE;
    let aes = KeyUsage::ENCRYPT | KeyUsage::WRAP;
    match key_type {
        T::Rsa2048 => (Spec::Pair(KeySpec::Rsa(2048)), rsa),
        T::Rsa3072 => (Spec::Pair(KeySpec::Rsa(3072)), rsa),
        T::Rsa4096 => (Spec::Pair(KeySpec::Rsa(4096)), rsa),
        T::EcP256 => (Spec::Pair(KeySpec::Ec(EcCurve::P256)), ec),
        T::EcP384 => (Spec::Pair(KeySpec::Ec(EcCurve::P384)), ec),
        T::EcP521 => (Spec::Pair(KeySpec::Ec(EcCurve::P521)), ec),
        T::Ed25519 => (Spec::Pair(KeySpec::Ed25519), KeyUsage::SIGN),
        T::Ed448 => (Spec::Pair(KeySpec::Ed448), KeyUsage::SIGN),
        T::Aes128 => (Spec::Secret(SecretSpec::Aes(16)), aes),
        T::Aes192 => (Spec::Secret(SecretSpec::Aes(24)), aes),
        T::Aes256 => (Spec::Secret(SecretSpec::Aes(32)), aes),
        T::Hmac256 => (Spec::Secret(SecretSpec::Hmac(32)), KeyUsage::SIGN),
        T::Hmac384 => (Spec::Secret(SecretSpec::Hmac(48)), KeyUsage::SIGN),
        T::Hmac512 => (Spec::Secret(SecretSpec::Hmac(64)), KeyUsage::SIGN),
    }
}

pub(super) fn usage_of(usages: &[Usage]) -> KeyUsage {
    usages.iter().fold(KeyUsage::default(), |acc, u| {
        acc | match u {
            Usage::Sign => KeyUsage::SIGN,
            Usage::Encrypt => KeyUsage::ENCRYPT,
            Usage::Wrap => KeyUsage::WRAP,
            Usage::Derive => KeyUsage::DERIVE,
        }
    })
}

pub(super) fn usage_names(usage: KeyUsage) -> String {
    [
        (usage.sign, "sign"),
        (usage.encrypt, "encrypt"),
        (usage.wrap, "wrap"),
        (usage.derive, "derive"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect::<Vec<_>>()
    .join(",")
}

pub(crate) fn generate(hsm: &Hsm<'_>, args: &GenerateArgs) -> Result<()> {
    let (spec, default_usage) = spec(args.key_type);
    let type_name = value_name(&args.key_type);
    let allowed = allowed_usages(args.key_type);
    if let Some(bad) = args.usage.iter().find(|u| !allowed.contains(u)) {
        let names: Vec<String> = allowed.iter().map(value_name).collect();
        return Err(CliError::usage(format!(
            "{type_name} keys cannot have usage {}; they can have: {}",
            value_name(bad),
            names.join(", ")
        )));
    }
    let usage = if args.usage.is_empty() {
        default_usage
    } else {
        usage_of(&args.usage)
    };
    if args.label.is_empty() {
        return Err(CliError::usage("--label must not be empty"));
    }
    let id = match &args.id {
        Some(text) => parse_hex(text).map_err(|why| {
            CliError::usage(format!("--id {text:?}: {why}")).hint("an id is hex digits: 0a01")
        })?,
        None => {
            let mut id = vec![0u8; 8];
            getrandom::fill(&mut id)
                .map_err(|e| CliError::setup(format!("the random number generator failed: {e}")))?;
            id
        }
    };
    let pool = hsm.pool()?;
    // A token without the generation mechanism is told so before any call.
    match spec {
        Spec::Pair(spec) => spec.check_supported(pool.mechanisms()),
        Spec::Secret(spec) => spec.check_supported(pool.mechanisms()),
    }
    .map_err(|e| error::hsm(&e))?;
    let info = {
        let session = pool.session_rw().map_err(|e| error::hsm(&e))?;
        let _spinner = Spinner::start(format!(
            "generating {type_name} `{}` in token {}",
            args.label,
            pool.token_label()
        ));
        match spec {
            Spec::Pair(spec) => generate_key_pair(&session, spec, &args.label, &id, usage),
            Spec::Secret(spec) => generate_secret_key(&session, spec, &args.label, &id, usage),
        }
        .map_err(|e| error::hsm(&e))?
    };
    if info.public_key.is_none() {
        return io::print_line(&format!(
            "generated {} key `{}` (id {}) in token {}: usage {}; sensitive, never extractable",
            kind_name(&info.kind),
            info.label,
            hex(&info.id),
            pool.token_label(),
            usage_names(usage)
        ));
    }
    let selector = KeySelector::label_and_id(info.label.clone(), info.id.clone());
    let key = HsmJwk::load(pool, &selector).map_err(error::hsm_jose)?;
    let key = match key.thumbprint() {
        Some(kid) => key.with_kid(kid),
        None => key,
    };
    io::print_line(&public_jwk(&key, None)?.to_string())
}

pub(crate) fn delete(hsm: &Hsm<'_>, args: &DeleteArgs) -> Result<()> {
    // Without --yes, a terminal to ask on is needed before the token is even opened.
    let ask = !args.yes;
    if ask && !io::stdin_is_terminal() {
        return Err(CliError::usage(
            "keys delete needs --yes when standard input is not a terminal to confirm on",
        )
        .hint("deleting a key cannot be undone: check `hsm-jose keys list`, then add --yes"));
    }
    let (pool, selector) = hsm.locate(&args.key)?;
    let session = pool.session_rw().map_err(|e| error::hsm(&e))?;
    let info = find_key(&session, &selector).map_err(|e| error::hsm(&e))?;
    let certificates = certificates_of_key(&session, &info).map_err(|e| error::hsm(&e))?;
    let objects = deleted_objects(&info, certificates.len());
    if ask {
        let question = format!(
            "delete {} key `{}` (id {}) from token {}: {objects}; for good?",
            kind_name(&info.kind),
            info.label,
            hex(&info.id),
            pool.token_label()
        );
        if !io::confirm(&question)? {
            return Err(CliError::usage("not deleted: not confirmed"));
        }
    }
    delete_key(&session, &info).map_err(|e| error::hsm(&e))?;
    drop(session);
    io::print_line(&format!(
        "deleted {} key `{}` (id {}) from token {}: {objects}",
        kind_name(&info.kind),
        info.label,
        hex(&info.id),
        pool.token_label()
    ))
}

/// What deleting a key removes from the token: "private key, public key, 1 certificate".
fn deleted_objects(info: &KeyInfo, certificates: usize) -> String {
    let mut objects: Vec<String> = Vec::new();
    if info.private.is_some() {
        objects.push("private key".into());
    }
    if info.public.is_some() {
        objects.push("public key".into());
    }
    if info.secret.is_some() {
        objects.push("secret key".into());
    }
    match certificates {
        0 => {}
        1 => objects.push("1 certificate".into()),
        n => objects.push(format!("{n} certificates")),
    }
    objects.join(", ")
}
