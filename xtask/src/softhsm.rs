//! SoftHSM provisioning for `cargo xtask test-hsm` (and the demo).
//!
//! 1. Find the SoftHSM module; if it is missing, install the `softhsm2` Debian package when
//!    running as root, else print the command and stop.
//! 2. Delete `target/hsm` and write `target/hsm/softhsm2.conf` with the token directory
//!    `target/hsm/tokens`, so a run never reuses anything stale.
//! 3. Initialise one token per integration suite (`tests/tests/<stem>.rs` and
//!    `crates/hsm-jose-cli/tests/<stem>.rs` -> token `<stem>`) and generate the fixture keys in
//!    each, through `hsm-core`. SoftHSM keeps every token in its own subdirectory of the token
//!    directory, so suites never share state.
//!
//! SoftHSM reads `SOFTHSM2_CONF` when the module is initialised, and this process must not
//! change its own environment while other threads may read it, so step 3 runs in a child
//! process (this binary, hidden task `provision-tokens`) started with the variable set.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use hsm_core::key::generate_edwards_key_pair_with_params;
use hsm_core::{
    EdCurve, Module, Pin, SessionPool, admin, generate_key_pair, generate_secret_key, list_keys,
};

// One table of fixture keys for xtask and the tests (see the file's own docs for why a path).
#[allow(unreachable_pub)] // `pub` for the test crate, which exports it; private here.
#[path = "../../tests/src/fixture_keys.rs"]
pub(crate) mod fixture_keys;

use fixture_keys::{FIXTURE_KEYS, FixtureKey, FixtureSpec};

/// The user PIN of every test token (`HSM_PIN`).
pub(crate) const USER_PIN: &str = "test-user-pin-0000";
/// The security-officer PIN of every test token (`HSM_SO_PIN`).
pub(crate) const SO_PIN: &str = "test-so-pin-0000";

/// A provisioned SoftHSM: where the module is and how the tests reach it.
pub(crate) struct Provisioned {
    pub(crate) module: PathBuf,
    pub(crate) conf: PathBuf,
}

impl Provisioned {
    /// The environment the tests get.
    pub(crate) fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("SOFTHSM2_CONF", self.conf.clone().into_os_string()),
            ("HSM_MODULE", self.module.clone().into_os_string()),
            ("HSM_PIN", USER_PIN.into()),
            ("HSM_SO_PIN", SO_PIN.into()),
        ]
    }
}

/// Steps 1 to 3: a fresh SoftHSM with one token per suite.
pub(crate) fn provision_for_suites(root: &Path) -> crate::Result<Provisioned> {
    let labels = suite_labels(root)?;
    provision(root, labels)
}

/// Steps 1 to 3 for the given token labels, in `target/hsm`.
pub(crate) fn provision(root: &Path, labels: Vec<String>) -> crate::Result<Provisioned> {
    provision_in(&root.join("target").join("hsm"), labels)
}

/// Steps 1 to 3 in the directory `dir` (deleted first) instead of `target/hsm`: the bench keeps
/// its token apart from the suites' tokens.
pub(crate) fn provision_in(dir: &Path, labels: Vec<String>) -> crate::Result<Provisioned> {
    let module = module_path()?;
    let conf = fresh_config(dir)?;
    let started = Instant::now();
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the xtask binary: {e}"))?;
    crate::run(
        &format!("provision {} SoftHSM tokens", labels.len()),
        Command::new(exe)
            .arg("provision-tokens")
            .arg(&module)
            .args(&labels)
            .env("SOFTHSM2_CONF", &conf),
    )?;
    eprintln!(
        "xtask: tokens ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(Provisioned { module, conf })
}

/// Where integration suites live, each file getting its own token: the cross-crate suites, and
/// the command line's suites (in its own crate, where cargo builds the binary they drive and
/// tells them its path, `CARGO_BIN_EXE_hsm-jose`).
const SUITE_DIRS: &[&str] = &["tests/tests", "crates/hsm-jose-cli/tests"];

/// The token label of every integration suite: the stems of `*.rs` in [`SUITE_DIRS`]. A stem
/// may appear only once: two suites on one token would share state.
pub(crate) fn suite_labels(root: &Path) -> crate::Result<Vec<String>> {
    let mut labels = Vec::new();
    for dir in SUITE_DIRS {
        let dir = root.join(dir);
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .path();
            if path.extension().is_some_and(|x| x == "rs") && path.is_file() {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                if stem.is_empty() || stem.len() > 32 {
                    return Err(format!(
                        "{}: a suite name must be 1 to 32 bytes (token labels are)",
                        path.display()
                    ));
                }
                if labels.contains(&stem) {
                    return Err(format!(
                        "{}: another suite is already named {stem:?}; suites need distinct names \
                         (each names its own token)",
                        path.display()
                    ));
                }
                labels.push(stem);
            }
        }
    }
    labels.sort();
    Ok(labels)
}

/// The SoftHSM module, installing the Debian package first if needed.
pub(crate) fn module_path() -> crate::Result<PathBuf> {
    if let Some(path) = Module::default_path() {
        return Ok(path);
    }
    install()?;
    Module::default_path().ok_or_else(|| {
        format!(
            "softhsm2 is installed but its module is at none of {:?}",
            hsm_core::module::SOFTHSM_PATHS
        )
    })
}

/// True when this process runs as root (and may install Debian packages).
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn install() -> crate::Result {
    const COMMAND: &str = "apt-get update && apt-get install -y softhsm2";
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("cannot run `id -u`: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err(format!(
            "SoftHSM 2 is not installed. Install it as root, then run again:\n    sudo sh -c '{COMMAND}'"
        ));
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "SoftHSM 2 is not installed and this system has no apt-get. Install SoftHSM 2.6 with the \
             system's package manager (the module must be at one of {:?})",
            hsm_core::module::SOFTHSM_PATHS
        ));
    }
    eprintln!("xtask: SoftHSM 2 is not installed; running `{COMMAND}`");
    crate::run("apt-get update", Command::new("apt-get").arg("update"))?;
    crate::run(
        "apt-get install -y softhsm2",
        Command::new("apt-get")
            .args(["install", "-y", "softhsm2"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// Deletes `dir` (`target/hsm` for the suites) and writes a fresh `softhsm2.conf` there;
/// returns its path.
fn fresh_config(dir: &Path) -> crate::Result<PathBuf> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("cannot delete {}: {e}", dir.display()))?;
    }
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens)
        .map_err(|e| format!("cannot create {}: {e}", tokens.display()))?;
    let conf = dir.join("softhsm2.conf");
    let text = format!(
        "# Written by `cargo xtask`; deleted and rewritten on every run.\n\
         directories.tokendir = {}\n\
         objectstore.backend = file\n\
         log.level = ERROR\n",
        tokens.display()
    );
    std::fs::write(&conf, text).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    Ok(conf)
}

/// The hidden task `provision-tokens MODULE LABEL...`, run with `SOFTHSM2_CONF` set: initialise
/// the tokens, then generate the fixture keys in parallel (RSA-4096 generation dominates).
pub(crate) fn provision_tokens(args: &[String]) -> crate::Result {
    let (module_path, labels) = args
        .split_first()
        .ok_or("provision-tokens MODULE LABEL...")?;
    let module = Module::load(module_path).map_err(|e| e.to_string())?;
    let so_pin = Pin::new(SO_PIN);
    let user_pin = Pin::new(USER_PIN);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);

    let mut pools = BTreeMap::new();
    for label in labels {
        let slot = admin::init_token(&module, &so_pin, label)
            .map_err(|e| format!("token {label}: {e}"))?;
        admin::init_user_pin(&module, slot, &so_pin, &user_pin)
            .map_err(|e| format!("token {label}: {e}"))?;
        let pool = SessionPool::builder()
            .module(module_path)
            .token_label(label.as_str())
            .pin(user_pin.clone())
            .max_sessions(threads + 1)
            .build()
            .map_err(|e| format!("token {label}: {e}"))?;
        pools.insert(label.clone(), pool);
    }

    // One worker per token at a time: SoftHSM 2.6's file object store loses writes when one
    // token is written from several threads at once (C_GenerateKeyPair then fails with
    // CKR_GENERAL_ERROR now and then). Tokens are independent, so they are done in parallel.
    let queue = Mutex::new(pools.values().collect::<Vec<_>>());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let job = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                    let Some(pool) = job else { break };
                    for key in FIXTURE_KEYS {
                        if let Err(e) = generate(pool, key) {
                            let message =
                                format!("token {}: key {}: {e}", pool.token_label(), key.label);
                            failures.lock().map(|mut f| f.push(message)).ok();
                        }
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap_or_default();
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }

    // Check what was made: every fixture key, once, in every token.
    for (label, pool) in &pools {
        let session = pool.session().map_err(|e| e.to_string())?;
        let keys = list_keys(&session).map_err(|e| format!("token {label}: {e}"))?;
        if keys.len() != FIXTURE_KEYS.len() {
            return Err(format!(
                "token {label}: {} keys, expected {}",
                keys.len(),
                FIXTURE_KEYS.len()
            ));
        }
    }
    eprintln!(
        "xtask: {} tokens with {} fixture keys each: {}",
        labels.len(),
        FIXTURE_KEYS.len(),
        labels.join(", ")
    );
    Ok(())
}

pub(crate) fn generate(pool: &SessionPool, key: &FixtureKey) -> hsm_core::Result<()> {
    let session = pool.session_rw()?;
    match key.spec {
        FixtureSpec::Pair(spec) => generate_key_pair(&session, spec, key.label, key.id, key.usage)?,
        FixtureSpec::Secret(spec) => {
            generate_secret_key(&session, spec, key.label, key.id, key.usage)?
        }
        FixtureSpec::Ed25519Printable => generate_edwards_key_pair_with_params(
            &session,
            EdCurve::Ed25519.printable_ec_params(),
            key.label,
            key.id,
            key.usage,
        )?,
    };
    Ok(())
}
