//! Scaffolding for the `faults_*` suites: each test runs in a child process of its own, with
//! hsm-core loading p11-fault's shim in place of SoftHSM.
//!
//! The shim reads `P11_FAULT_CONFIG` / `P11_FAULT_STATS` once per process, and hsm-core loads a
//! module path once per process, so a scenario that needs its own rules from the first call (a
//! locked PIN at the first login, a `C_Initialize` that says "already initialised") needs its own
//! process. [`isolated`] re-runs the test executable filtered to the one test, with the rules
//! file (written before the child starts), the stats file and `P11_FAULT_TARGET` (the SoftHSM
//! module `cargo xtask test-hsm` provisioned) in its environment; the child does the work
//! against the suite's token. The parent kills a child that runs longer than [`CHILD_TIMEOUT`]:
//! a hang fails the test instead of stalling the suite. This is the pattern of p11-fault's own
//! tests (`crates/p11-fault/tests/common`), with hsm-core's pool in the child.

#![allow(dead_code)] // each suite uses a different part of this
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hsm_core::PoolBuilder;
use hsm_jose_tests::fixture::{self, TokenFixture};
use p11_fault::harness::{self, ENV_CONFIG, ENV_STATS, ENV_TARGET, Stats};

/// A child that takes longer than this is killed and its test fails.
pub(crate) const CHILD_TIMEOUT: Duration = Duration::from_secs(180);

/// Set in a child: the name of the test it runs.
const ENV_CHILD: &str = "HSM_FAULT_TEST_CHILD";
/// Set in a child: its scratch directory.
const ENV_DIR: &str = "HSM_FAULT_TEST_DIR";

/// One scenario's files and token, as seen from the child.
pub(crate) struct Sandbox {
    /// The shim (load it as the pool's module).
    pub(crate) shim: PathBuf,
    /// The rules file.
    pub(crate) rules: PathBuf,
    /// The stats file (`stats-<pid>`: a forked child writes its own).
    stats_pattern: PathBuf,
    /// The suite's token, with the shim as its module.
    pub(crate) token: TokenFixture,
    /// The real module behind the shim.
    pub(crate) softhsm: PathBuf,
}

/// Runs `body` in a child process whose shim starts with `rules` (`""`: pass everything
/// through). `suite` is the suite's token label, `name` the calling `#[test]` function's name.
pub(crate) fn isolated(suite: &str, name: &str, rules: &str, body: impl FnOnce(&Sandbox)) {
    isolated_with_limit(suite, name, rules, CHILD_TIMEOUT, body);
}

/// [`isolated`] with another time limit for the child.
pub(crate) fn isolated_with_limit(
    suite: &str,
    name: &str,
    rules: &str,
    limit: Duration,
    body: impl FnOnce(&Sandbox),
) {
    if std::env::var(ENV_CHILD).as_deref() == Ok(name) {
        let dir = PathBuf::from(std::env::var_os(ENV_DIR).expect("child without a directory"));
        let mut token = fixture::token(suite);
        let softhsm = std::mem::replace(
            &mut token.module,
            harness::shim_path().expect("the shim vanished"),
        );
        body(&Sandbox {
            shim: token.module.clone(),
            rules: dir.join("rules"),
            stats_pattern: dir.join("stats-{pid}"),
            token,
            softhsm,
        });
        return;
    }

    // One child at a time: SoftHSM's file object store is not safe for several processes on
    // one token (a C_GetTokenInfo now and then fails with CKR_GENERAL_ERROR when two children
    // start at once), and the suites' tokens are shared by their tests.
    static ONE_CHILD_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_child = ONE_CHILD_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let softhsm = fixture::token(suite).module;
    assert!(
        harness::shim_path().is_some(),
        "libp11_fault.so not found next to the test executable (p11-fault is a dev-dependency \
         of this crate, so cargo builds it there)"
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("faults")
        .join(suite)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if !rules.is_empty() {
        std::fs::write(dir.join("rules"), rules).unwrap();
    }

    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            name,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(ENV_CHILD, name)
        .env(ENV_DIR, &dir)
        .env(ENV_TARGET, &softhsm)
        .env(ENV_CONFIG, dir.join("rules"))
        .env(ENV_STATS, dir.join("stats-{pid}"));
    let run = harness::run_child(command, limit).unwrap();
    if let Err(message) = run.check(name) {
        panic!("{message}");
    }
    println!("{}", run.output);
}

/// A `#[test]` whose body runs in a child process of its own (see [`isolated`]), optionally
/// with rules in force from the child's first PKCS#11 call.
#[macro_export]
macro_rules! fault_test {
    ($(#[doc = $doc:expr])* fn $name:ident($sandbox:ident) $body:block) => {
        $crate::fault_test!($(#[doc = $doc])* rules = "", fn $name($sandbox) $body);
    };
    ($(#[doc = $doc:expr])* rules = $rules:expr, fn $name:ident($sandbox:ident) $body:block) => {
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            fault_support::isolated(
                env!("CARGO_CRATE_NAME"),
                stringify!($name),
                $rules,
                |$sandbox: &fault_support::Sandbox| $body,
            );
        }
    };
}

impl Sandbox {
    /// Pool options for the suite's token through the shim.
    pub(crate) fn builder(&self) -> PoolBuilder {
        self.token.builder()
    }

    /// Replaces the rules; the shim follows them from its next call.
    pub(crate) fn set_rules(&self, rules: &str) {
        harness::write_rules(&self.rules, rules).unwrap();
    }

    /// Removes the rules: everything passes through again.
    pub(crate) fn clear_rules(&self) {
        harness::clear_rules(&self.rules).unwrap();
    }

    /// The stats file of process `pid`.
    pub(crate) fn stats_file(&self, pid: u32) -> PathBuf {
        PathBuf::from(
            self.stats_pattern
                .to_string_lossy()
                .replace("{pid}", &pid.to_string()),
        )
    }

    /// This process's shim counters now (all zero before the first PKCS#11 call).
    pub(crate) fn stats(&self) -> Stats {
        let file = self.stats_file(std::process::id());
        if file.exists() {
            Stats::read(&file).unwrap()
        } else {
            Stats::default()
        }
    }

    /// Sessions open through the shim in this process, as the shim counts them.
    pub(crate) fn sessions_open(&self) -> u64 {
        self.stats().sessions_open
    }
}

/// What an HSM operation came to: the kind of a typed error, for counting. A wrong result
/// (a signature that does not verify, another plaintext) is never an outcome: it panics.
pub(crate) fn error_kind(error: &jose_core::Error) -> String {
    let Some(hsm) = hsm_jose::hsm_error(error) else {
        // Only token failures may come out of a signing or decryption with a good input.
        panic!("not a token error: {error:?}");
    };
    match hsm {
        hsm_core::Error::Session { function, rv } => {
            format!("Session {function} {}", hsm_core::error::rv_name(*rv))
        }
        hsm_core::Error::Pkcs11 { function, rv } => {
            format!("Pkcs11 {function} {}", hsm_core::error::rv_name(*rv))
        }
        other => {
            let debug = format!("{other:?}");
            debug
                .split([' ', '{', '('])
                .next()
                .unwrap_or_default()
                .to_owned()
        }
    }
}

/// Signs `payload` with `key` (ES256, in the token through the shim) and verifies the result
/// with `public` in software. `Ok` only for a signature that verifies over this payload; a
/// typed token error gives its kind; anything else panics.
pub(crate) fn sign_and_verify(
    key: &hsm_jose::HsmJwk,
    public: &jose_core::SoftwareKey,
    alg: jose_core::JwsAlgorithm,
    payload: &[u8],
) -> Result<(), String> {
    match jose_core::jws::sign_compact(key, alg, payload, None) {
        Ok(token) => {
            let verified = jose_core::jws::verify_compact(&token, public, &[alg])
                .unwrap_or_else(|e| panic!("a signature from the token does not verify: {e}"));
            assert_eq!(
                verified.payload(),
                payload,
                "a signature over another payload"
            );
            Ok(())
        }
        Err(error) => Err(error_kind(&error)),
    }
}

/// The public half of an HSM key, as a software key.
pub(crate) fn public_of(key: &hsm_jose::HsmJwk) -> jose_core::SoftwareKey {
    jose_core::SoftwareKey::from_json(&key.public_json().unwrap()).unwrap()
}

/// Counts outcomes by kind (`"ok"` for success).
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally(pub(crate) std::collections::BTreeMap<String, u64>);

impl Tally {
    /// Counts one outcome.
    pub(crate) fn add(&mut self, outcome: Result<(), String>) {
        let kind = outcome.err().unwrap_or_else(|| "ok".to_owned());
        *self.0.entry(kind).or_default() += 1;
    }

    /// Adds another tally.
    pub(crate) fn merge(&mut self, other: &Tally) {
        for (kind, n) in &other.0 {
            *self.0.entry(kind.clone()).or_default() += n;
        }
    }

    /// Successes.
    pub(crate) fn ok(&self) -> u64 {
        self.0.get("ok").copied().unwrap_or(0)
    }

    /// Typed errors, all kinds.
    pub(crate) fn errors(&self) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| *k != "ok")
            .map(|(_, n)| n)
            .sum()
    }
}
