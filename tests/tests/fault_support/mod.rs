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

/// What an HSM operation came to, for counting: success, or a typed token error by variant
/// (with the function and return value where the variant has them). A wrong result (a
/// signature that does not verify, another plaintext) is [`Outcome::Wrong`] in the soak, and a
/// panic elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    /// `hsm_core::Error::Session`: a lost session or login that the one retry did not absorb.
    Session(Call),
    /// `hsm_core::Error::Pkcs11`: a failure that is not retried (a device failure).
    Pkcs11(Call),
    PoolTimeout,
    PinIncorrect,
    PinLocked,
    PinFinalTry,
    KeyNotFound,
    TokenBusy,
    /// Another variant of `hsm_core::Error` (none is expected from these suites).
    OtherHsm,
    /// A signature that does not verify, over another payload, or another plaintext.
    Wrong(&'static str),
}

/// A PKCS#11 function and its return value, by their C names (from the typed values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Call {
    pub(crate) function: &'static str,
    pub(crate) rv: hsm_core::cryptoki::error::RvError,
}

impl Call {
    /// `function` returning `rv`.
    pub(crate) fn new(
        function: hsm_core::cryptoki::context::Function,
        rv: hsm_core::cryptoki::error::RvError,
    ) -> Self {
        Call {
            function: hsm_core::error::c_name(function),
            rv,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let call = |f: &mut std::fmt::Formatter<'_>, what: &str, c: &Call| {
            write!(
                f,
                "{what} {} {}",
                c.function,
                hsm_core::error::rv_name(c.rv)
            )
        };
        match self {
            Outcome::Ok => f.write_str("ok"),
            Outcome::Session(c) => call(f, "Session", c),
            Outcome::Pkcs11(c) => call(f, "Pkcs11", c),
            Outcome::Wrong(what) => write!(f, "WRONG: {what}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The outcome of a typed error from an HSM operation.
pub(crate) fn error_kind(error: &jose_core::Error) -> Outcome {
    let Some(hsm) = hsm_jose::hsm_error(error) else {
        // Only token failures may come out of a signing or decryption with a good input.
        panic!("not a token error: {error:?}");
    };
    match hsm {
        hsm_core::Error::Session { function, rv } => Outcome::Session(Call::new(*function, *rv)),
        hsm_core::Error::Pkcs11 { function, rv } => Outcome::Pkcs11(Call::new(*function, *rv)),
        hsm_core::Error::PoolTimeout { .. } => Outcome::PoolTimeout,
        hsm_core::Error::PinIncorrect => Outcome::PinIncorrect,
        hsm_core::Error::PinLocked => Outcome::PinLocked,
        hsm_core::Error::PinFinalTry => Outcome::PinFinalTry,
        hsm_core::Error::KeyNotFound { .. } => Outcome::KeyNotFound,
        hsm_core::Error::TokenBusy { .. } => Outcome::TokenBusy,
        _ => Outcome::OtherHsm,
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
) -> Result<(), Outcome> {
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

/// Counts outcomes.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally(pub(crate) Vec<(Outcome, u64)>);

impl Tally {
    fn count(&mut self, outcome: Outcome, n: u64) {
        match self.0.iter_mut().find(|(k, _)| *k == outcome) {
            Some((_, count)) => *count += n,
            None => self.0.push((outcome, n)),
        }
    }

    /// Counts one outcome.
    pub(crate) fn add(&mut self, outcome: Result<(), Outcome>) {
        self.count(outcome.err().unwrap_or(Outcome::Ok), 1);
    }

    /// Adds another tally.
    pub(crate) fn merge(&mut self, other: &Tally) {
        for (kind, n) in &other.0 {
            self.count(*kind, *n);
        }
    }

    /// The outcomes seen.
    pub(crate) fn kinds(&self) -> impl Iterator<Item = Outcome> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }

    /// Successes.
    pub(crate) fn ok(&self) -> u64 {
        self.sum(|k| *k == Outcome::Ok)
    }

    /// Typed errors, all kinds (wrong results not included).
    pub(crate) fn errors(&self) -> u64 {
        self.sum(|k| !matches!(k, Outcome::Ok | Outcome::Wrong(_)))
    }

    /// Wrong results.
    pub(crate) fn wrong(&self) -> u64 {
        self.sum(|k| matches!(k, Outcome::Wrong(_)))
    }

    fn sum(&self, which: impl Fn(&Outcome) -> bool) -> u64 {
        self.0
            .iter()
            .filter(|(k, _)| which(k))
            .map(|(_, n)| n)
            .sum()
    }

    /// The kinds seen, successes excepted, as text, sorted: `{"Session C_Sign CKR_...": 3}`.
    pub(crate) fn report(&self) -> std::collections::BTreeMap<String, u64> {
        self.0
            .iter()
            .filter(|(k, _)| *k != Outcome::Ok)
            .map(|(k, n)| (k.to_string(), *n))
            .collect()
    }
}
