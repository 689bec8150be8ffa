//! The shim's state: the rules (re-read when the file changes), call counters, the sessions open
//! through the shim, and the stats file.
//!
//! One [`Engine`] per process lives behind a mutex that is held only to decide and to count,
//! never across a call into the real module or a sleep, so the real module sees the same
//! concurrency the application creates.

use std::collections::HashMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant, SystemTime};

use cryptoki_sys::{CK_FLAGS, CK_RV, CK_SESSION_HANDLE, CK_SLOT_ID};

use crate::functions::{COUNT, Func};
use crate::rules::{self, Rule};

/// The environment variable naming the rules file.
pub(crate) const ENV_CONFIG: &str = "P11_FAULT_CONFIG";
/// The environment variable naming the stats file.
pub(crate) const ENV_STATS: &str = "P11_FAULT_STATS";
/// The rules file is looked at (one `stat`) at most this often.
pub(crate) const RELOAD_INTERVAL: Duration = Duration::from_millis(5);

/// What to do with one call, from all the rules that fired on it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Decision {
    /// The first firing rule with `rv=` decides the value returned.
    pub(crate) inject: Option<Injection>,
    /// The sum of the firing rules' delays.
    pub(crate) delay: Duration,
    /// `C_GetTokenInfo`: the union of the firing rules' `flags+=`.
    pub(crate) flags_set: CK_FLAGS,
    /// `C_GetTokenInfo`: the union of the firing rules' `flags-=`.
    pub(crate) flags_clear: CK_FLAGS,
    /// `C_GetTokenInfo`: a firing rule says `garble_utc_time`.
    pub(crate) garble_utc_time: bool,
}

/// A return value to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Injection {
    pub(crate) rv: CK_RV,
    /// Call the real function first anyway.
    pub(crate) passthrough: bool,
}

impl Injection {
    /// Whether the real function is still called.
    pub(crate) fn calls_through(inject: Option<Injection>) -> bool {
        inject.is_none_or(|i| i.passthrough)
    }
}

/// Identifies one version of the rules file, cheaply (one `stat`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl Fingerprint {
    fn of(meta: &fs::Metadata) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        Fingerprint {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode: meta.ino(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    calls: u64,
    faults: u64,
    delayed: u64,
}

/// The per-process state.
#[derive(Debug)]
pub(crate) struct Engine {
    config: Option<PathBuf>,
    last_check: Option<Instant>,
    /// The version of the file the rules came from; `None` when there is no file.
    loaded: Option<Fingerprint>,
    rules: Vec<Rule>,
    rule_errors: usize,
    reloads: u64,
    counts: [Counts; COUNT],
    /// Sessions open through the shim, with their slot (for `C_CloseAllSessions`).
    sessions: HashMap<CK_SESSION_HANDLE, CK_SLOT_ID>,
    /// `C_OpenSession` calls on their way to the real module: they count against `max_open=`
    /// so that concurrent opens cannot overshoot the limit.
    pending_opens: u64,
    opened: u64,
    closed: u64,
}

impl Engine {
    pub(crate) fn new(config: Option<PathBuf>) -> Self {
        Engine {
            config,
            last_check: None,
            loaded: None,
            rules: Vec::new(),
            rule_errors: 0,
            reloads: 0,
            counts: [Counts::default(); COUNT],
            sessions: HashMap::new(),
            pending_opens: 0,
            opened: 0,
            closed: 0,
        }
    }

    /// Counts a call of `func`, re-reading the rules first if they may have changed, and
    /// decides what to do with it.
    ///
    /// A `C_OpenSession` that will reach the real module is counted as pending until
    /// [`Engine::open_finished`]; the caller must call that exactly once for it.
    pub(crate) fn decide(&mut self, func: Func, now: Instant) -> Decision {
        self.refresh(now);
        let open = self.open_sessions();
        let mut decision = Decision::default();
        for rule in &mut self.rules {
            if !rule.fires(func, open) {
                continue;
            }
            let action = &rule.action;
            if let Some(delay) = action.delay {
                decision.delay = decision.delay.saturating_add(delay);
            }
            if func == Func::C_GetTokenInfo {
                decision.flags_set |= action.flags_set;
                decision.flags_clear |= action.flags_clear;
                decision.garble_utc_time |= action.garble_utc_time;
            }
            if decision.inject.is_none() {
                decision.inject = action.rv.map(|rv| Injection {
                    rv,
                    passthrough: action.passthrough,
                });
            }
        }

        let counts = &mut self.counts[func.index()];
        counts.calls += 1;
        counts.faults += u64::from(decision.inject.is_some());
        counts.delayed += u64::from(!decision.delay.is_zero());
        if func == Func::C_OpenSession && Injection::calls_through(decision.inject) {
            self.pending_opens += 1;
        }
        decision
    }

    /// Ends a pending `C_OpenSession`: `opened` is the new session and its slot, if the real
    /// module opened one.
    pub(crate) fn open_finished(&mut self, opened: Option<(CK_SESSION_HANDLE, CK_SLOT_ID)>) {
        self.pending_opens = self.pending_opens.saturating_sub(1);
        if let Some((session, slot)) = opened {
            self.sessions.insert(session, slot);
            self.opened += 1;
        }
    }

    /// The real module closed `session` (or says it does not exist).
    pub(crate) fn session_closed(&mut self, session: CK_SESSION_HANDLE) {
        if self.sessions.remove(&session).is_some() {
            self.closed += 1;
        }
    }

    /// The real module closed every session of `slot`.
    pub(crate) fn slot_closed(&mut self, slot: CK_SLOT_ID) {
        let before = self.sessions.len();
        self.sessions.retain(|_, s| *s != slot);
        self.closed += (before - self.sessions.len()) as u64;
    }

    /// The real module was initialised or finalised: no session exists.
    pub(crate) fn all_closed(&mut self) {
        self.closed += self.sessions.len() as u64;
        self.sessions.clear();
    }

    fn open_sessions(&self) -> u64 {
        self.sessions.len() as u64 + self.pending_opens
    }

    /// Re-reads the rules if the file changed (looked at no more than every
    /// [`RELOAD_INTERVAL`]). No file means no rules.
    fn refresh(&mut self, now: Instant) {
        let Some(path) = &self.config else { return };
        if self
            .last_check
            .is_some_and(|last| now.duration_since(last) < RELOAD_INTERVAL)
        {
            return;
        }
        self.last_check = Some(now);
        let Ok(meta) = fs::metadata(path) else {
            if self.loaded.take().is_some() {
                self.rules.clear();
                self.rule_errors = 0;
                self.reloads += 1;
            }
            return;
        };
        let fingerprint = Fingerprint::of(&meta);
        if self.loaded.as_ref() == Some(&fingerprint) {
            return;
        }
        // The fingerprint is taken before reading: if a writer is still at work, the next look
        // sees another fingerprint and reads the file again.
        let (rules, errors) = match fs::read_to_string(path) {
            Ok(text) => rules::parse(&text),
            Err(err) => (Vec::new(), vec![format!("cannot read it: {err}")]),
        };
        for error in &errors {
            log(&format!(
                "{ENV_CONFIG} {}: {error}; ignored",
                path.display()
            ));
        }
        self.rules = rules;
        self.rule_errors = errors.len();
        self.loaded = Some(fingerprint);
        self.reloads += 1;
    }

    /// The stats file's text; see the crate docs for the format.
    pub(crate) fn stats(&self) -> String {
        let mut out = String::from("# p11-fault stats: rewritten whole after every call\n");
        let mut line = |key: &str, value: u64| out.push_str(&format!("{key} {value}\n"));
        line("pid", u64::from(std::process::id()));
        line("reloads", self.reloads);
        line("rules", self.rules.len() as u64);
        line("rule_errors", self.rule_errors as u64);
        line("sessions_open", self.sessions.len() as u64);
        line("sessions_opened", self.opened);
        line("sessions_closed", self.closed);
        for func in Func::ALL {
            let c = self.counts[func.index()];
            if c.calls > 0 {
                out.push_str(&format!(
                    "{} calls={} faults={} delayed={}\n",
                    func.name(),
                    c.calls,
                    c.faults,
                    c.delayed
                ));
            }
        }
        out
    }
}

/// Writes one line to stderr, ignoring failure (a closed stderr must not become a panic).
pub(crate) fn log(message: &str) {
    let _ = writeln!(std::io::stderr(), "p11-fault: {message}");
}

static ENGINE: LazyLock<Mutex<Engine>> =
    LazyLock::new(|| Mutex::new(Engine::new(std::env::var_os(ENV_CONFIG).map(PathBuf::from))));

/// The process's engine. A panic while it was held cannot leave it inconsistent enough to
/// matter to a test tool, so a poisoned lock is simply taken over.
pub(crate) fn engine() -> MutexGuard<'static, Engine> {
    ENGINE.lock().unwrap_or_else(PoisonError::into_inner)
}

static STATS_PATH: LazyLock<Option<PathBuf>> =
    LazyLock::new(|| std::env::var_os(ENV_STATS).map(PathBuf::from));
static STATS_DIRTY: AtomicBool = AtomicBool::new(false);
static STATS_WRITER: Mutex<()> = Mutex::new(());

/// Writes the stats file if `P11_FAULT_STATS` is set.
///
/// One thread writes at a time; a thread that finds the writer busy leaves a dirty mark that
/// the writer picks up before it leaves, so the file always ends at the latest state without
/// callers queueing behind each other's file writes.
pub(crate) fn publish_stats() {
    let Some(path) = STATS_PATH.as_deref() else {
        return;
    };
    STATS_DIRTY.store(true, Ordering::SeqCst);
    loop {
        let writer = match STATS_WRITER.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        while STATS_DIRTY.swap(false, Ordering::SeqCst) {
            let text = engine().stats();
            if let Err(err) = write_atomically(&stats_path_for_this_process(path), &text) {
                log(&format!(
                    "cannot write {ENV_STATS} {}: {err}",
                    path.display()
                ));
            }
        }
        drop(writer);
        if !STATS_DIRTY.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// `{pid}` in the stats path stands for the process id, so that forked children (which
/// initialise the module again) write their own file.
fn stats_path_for_this_process(path: &Path) -> PathBuf {
    match path.to_str() {
        Some(text) if text.contains("{pid}") => {
            PathBuf::from(text.replace("{pid}", &std::process::id().to_string()))
        }
        _ => path.to_path_buf(),
    }
}

/// Writes `text` to a temporary file beside `path` and renames it over `path`, so a reader
/// never sees half a file.
pub(crate) fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;

    /// A fresh directory for one test, removed when the returned guard drops.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(test: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("p11-fault-unit-{}-{test}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn reload_follows_the_file() {
        let dir = Scratch::new("reload");
        let path = dir.file("rules");
        let mut engine = Engine::new(Some(path.clone()));
        let mut now = Instant::now();
        let mut next = |engine: &mut Engine, func| {
            now += RELOAD_INTERVAL;
            engine.decide(func, now)
        };

        assert_eq!(
            next(&mut engine, Func::C_Sign),
            Decision::default(),
            "no file: pass through"
        );

        write_atomically(&path, "C_Sign always rv=CKR_DEVICE_ERROR\nC_Bad x\n").unwrap();
        let d = next(&mut engine, Func::C_Sign);
        assert_eq!(
            d.inject,
            Some(Injection {
                rv: CKR_DEVICE_ERROR,
                passthrough: false
            })
        );
        assert_eq!(engine.rule_errors, 1);

        write_atomically(
            &path,
            "C_Sign always delay_ms=7 rv=CKR_DEVICE_REMOVED passthrough\n",
        )
        .unwrap();
        let d = next(&mut engine, Func::C_Sign);
        assert_eq!(
            d.inject,
            Some(Injection {
                rv: CKR_DEVICE_REMOVED,
                passthrough: true
            })
        );
        assert_eq!(d.delay, Duration::from_millis(7));

        fs::remove_file(&path).unwrap();
        assert_eq!(
            next(&mut engine, Func::C_Sign),
            Decision::default(),
            "file gone: rules gone"
        );
        assert_eq!(engine.reloads, 3);
        let stats = engine.stats();
        assert!(
            stats.contains("\nC_Sign calls=4 faults=2 delayed=1\n"),
            "{stats}"
        );
    }

    #[test]
    fn rules_combine() {
        let dir = Scratch::new("combine");
        let path = dir.file("rules");
        write_atomically(
            &path,
            "C_GetTokenInfo always flags+=CKF_USER_PIN_FINAL_TRY\n\
             * always delay_ms=1\n\
             C_GetTokenInfo nth=2 rv=CKR_DEVICE_ERROR\n\
             * always rv=CKR_GENERAL_ERROR\n\
             * always flags-=CKF_LOGIN_REQUIRED\n",
        )
        .unwrap();
        let mut engine = Engine::new(Some(path));
        let now = Instant::now();
        let first = engine.decide(Func::C_GetTokenInfo, now);
        assert_eq!(first.inject.map(|i| i.rv), Some(CKR_GENERAL_ERROR));
        assert_eq!(first.flags_set, CKF_USER_PIN_FINAL_TRY);
        assert_eq!(first.flags_clear, CKF_LOGIN_REQUIRED);
        let second = engine.decide(Func::C_GetTokenInfo, now);
        assert_eq!(
            second.inject.map(|i| i.rv),
            Some(CKR_DEVICE_ERROR),
            "first rv= wins"
        );
        let other = engine.decide(Func::C_Login, now);
        assert_eq!(
            (other.flags_set, other.flags_clear),
            (0, 0),
            "flags only on C_GetTokenInfo"
        );
        assert_eq!(other.delay, Duration::from_millis(1));
    }

    #[test]
    fn sessions_are_tracked_and_pending_opens_count() {
        let dir = Scratch::new("sessions");
        let path = dir.file("rules");
        write_atomically(&path, "C_OpenSession max_open=2 rv=CKR_SESSION_COUNT\n").unwrap();
        let mut engine = Engine::new(Some(path));
        let now = Instant::now();
        // Two opens in flight at once: the second already counts the first.
        assert_eq!(engine.decide(Func::C_OpenSession, now).inject, None);
        assert_eq!(engine.decide(Func::C_OpenSession, now).inject, None);
        assert!(engine.decide(Func::C_OpenSession, now).inject.is_some());
        engine.open_finished(Some((1, 0)));
        engine.open_finished(None); // the real module refused this one
        assert_eq!(engine.open_sessions(), 1);
        assert_eq!(engine.decide(Func::C_OpenSession, now).inject, None);
        engine.open_finished(Some((2, 5)));
        engine.session_closed(42); // unknown: no effect
        engine.slot_closed(5);
        assert_eq!(engine.open_sessions(), 1);
        engine.all_closed();
        assert_eq!(engine.open_sessions(), 0);
        let stats = engine.stats();
        assert!(stats.contains("\nsessions_open 0\nsessions_opened 2\nsessions_closed 2\n"));
    }

    #[test]
    fn pid_in_stats_path() {
        let pid = std::process::id();
        assert_eq!(
            stats_path_for_this_process(Path::new("/t/stats-{pid}.txt")),
            PathBuf::from(format!("/t/stats-{pid}.txt"))
        );
        assert_eq!(
            stats_path_for_this_process(Path::new("/t/s")),
            PathBuf::from("/t/s")
        );
    }
}
