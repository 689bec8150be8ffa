//! Helpers for tests that load the shim: find the `.so`, change the rules, read the stats.
//!
//! Nothing here touches the loaded module; these are plain file operations.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable naming the rules file.
pub const ENV_CONFIG: &str = crate::engine::ENV_CONFIG;
/// The environment variable naming the stats file (`{pid}` in it stands for the process id).
pub const ENV_STATS: &str = crate::engine::ENV_STATS;
/// The environment variable naming the real module (default: SoftHSM's usual paths).
pub const ENV_TARGET: &str = crate::ffi::ENV_TARGET;
/// The rules file is looked at no more often than this; a change is seen by the first call
/// made at least this long after the previous look.
pub const RELOAD_INTERVAL: Duration = crate::engine::RELOAD_INTERVAL;
/// Where the shim looks for SoftHSM when `P11_FAULT_TARGET` is not set: hsm-core's table
/// (`hsm_core::module::SOFTHSM_PATHS`), the same file included.
pub const SOFTHSM_PATHS: &[&str] = crate::search::SOFTHSM_PATHS;

/// The SoftHSM module the shim forwards to when `P11_FAULT_TARGET` is not set: the first of
/// [`SOFTHSM_PATHS`] that exists.
pub fn softhsm_path() -> Option<PathBuf> {
    crate::search::softhsm_path()
}

/// The shim's file name.
pub const SHIM_FILE_NAME: &str = "libp11_fault.so";

/// Finds the built shim from inside a test executable.
///
/// Test executables live in `target/<profile>/deps/`. When cargo builds this crate for tests
/// (its own integration tests, or another crate's that depends on it), it writes the `cdylib`
/// to that same `deps/` directory; only `cargo build` copies it up to `target/<profile>/`, where
/// it may be stale. Both places are looked at and the newer file wins. Returns `None` when
/// neither exists.
pub fn shim_path() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    let profile = deps.parent()?;
    [deps.join(SHIM_FILE_NAME), profile.join(SHIM_FILE_NAME)]
        .into_iter()
        .filter_map(|path| {
            let modified = fs::metadata(&path)
                .ok()
                .filter(|m| m.is_file())?
                .modified()
                .ok()?;
            Some((modified, path))
        })
        .max_by_key(|(modified, _)| *modified)
        .map(|(_, path)| path)
}

/// Replaces the rules file at `path` with `rules`, atomically (a write to a temporary file,
/// then a rename), and waits until the shim is sure to see it: its next call will follow the
/// new rules, with fresh counters.
pub fn write_rules(path: &Path, rules: &str) -> io::Result<()> {
    crate::engine::write_atomically(path, rules)?;
    std::thread::sleep(RELOAD_INTERVAL * 2);
    Ok(())
}

/// Removes the rules file, so that everything passes through, and waits as [`write_rules`]
/// does. A file that is already gone is fine.
pub fn clear_rules(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    std::thread::sleep(RELOAD_INTERVAL * 2);
    Ok(())
}

/// Counters of one function.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls that reached the shim.
    pub calls: u64,
    /// Calls answered with an injected return value.
    pub faults: u64,
    /// Calls delayed by `delay_ms=`.
    pub delayed: u64,
}

/// The stats file, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The process that wrote it.
    pub pid: u64,
    /// How often the rules were (re)loaded, the removal of the file included.
    pub reloads: u64,
    /// Rules in force.
    pub rules: u64,
    /// Lines of the rules file that were ignored as malformed.
    pub rule_errors: u64,
    /// Sessions open through the shim now.
    pub sessions_open: u64,
    /// Sessions opened through the shim since the process started.
    pub sessions_opened: u64,
    /// Sessions closed through the shim (`C_CloseSession`, `C_CloseAllSessions`, `C_Finalize`).
    pub sessions_closed: u64,
    /// Counters by function name (`"C_Sign"`); functions never called are absent.
    pub functions: BTreeMap<String, Counts>,
}

impl Stats {
    /// Reads and parses the stats file.
    pub fn read(path: &Path) -> io::Result<Stats> {
        Stats::parse(&fs::read_to_string(path)?)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a p11-fault stats file"))
    }

    /// Parses the stats file's text; `None` if a line does not fit the format.
    pub fn parse(text: &str) -> Option<Stats> {
        let mut stats = Stats::default();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let mut words = line.split_whitespace();
            let key = words.next()?;
            if key.starts_with("C_") {
                let mut counts = Counts::default();
                for word in words {
                    let (name, value) = word.split_once('=')?;
                    let value = value.parse().ok()?;
                    match name {
                        "calls" => counts.calls = value,
                        "faults" => counts.faults = value,
                        "delayed" => counts.delayed = value,
                        _ => {} // a newer shim's counter: ignored
                    }
                }
                stats.functions.insert(key.to_owned(), counts);
                continue;
            }
            let value = words.next()?.parse().ok()?;
            match key {
                "pid" => stats.pid = value,
                "reloads" => stats.reloads = value,
                "rules" => stats.rules = value,
                "rule_errors" => stats.rule_errors = value,
                "sessions_open" => stats.sessions_open = value,
                "sessions_opened" => stats.sessions_opened = value,
                "sessions_closed" => stats.sessions_closed = value,
                _ => {}
            }
        }
        Some(stats)
    }

    /// The counters of one function (all zero if it was never called).
    pub fn function(&self, name: &str) -> Counts {
        self.functions.get(name).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_engine_writes() {
        let text = "# p11-fault stats: rewritten whole after every call\npid 7\nreloads 2\nrules 1\n\
                    rule_errors 0\nsessions_open 1\nsessions_opened 3\nsessions_closed 2\n\
                    C_Sign calls=4 faults=1 delayed=0\n";
        let stats = Stats::parse(text).unwrap();
        assert_eq!(stats.pid, 7);
        assert_eq!(stats.sessions_open, 1);
        assert_eq!(
            stats.function("C_Sign"),
            Counts {
                calls: 4,
                faults: 1,
                delayed: 0
            }
        );
        assert_eq!(stats.function("C_Login"), Counts::default());
        assert_eq!(Stats::parse("pid seven\n"), None);
    }
}

/// A test executable re-run as a child process by [`run_child`].
#[derive(Debug)]
pub struct ChildRun {
    /// The exit status; `None` when the child was still running at the time limit and was killed.
    pub status: Option<std::process::ExitStatus>,
    /// Its standard output and standard error, labelled.
    pub output: String,
}

impl ChildRun {
    /// `Ok` when the child finished in time, exited successfully and really ran one test (a
    /// filter that matched nothing would "pass" too); otherwise the message to fail with.
    pub fn check(&self, name: &str) -> Result<(), String> {
        let output = &self.output;
        match self.status {
            None => Err(format!(
                "{name}: child still running at the time limit, killed (a hang)\n{output}"
            )),
            Some(status) if !status.success() => {
                Err(format!("{name}: child failed ({status})\n{output}"))
            }
            Some(_) if !output.contains("1 passed") => {
                Err(format!("{name}: the child ran no test\n{output}"))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Runs `command` with standard input closed and its output collected, killing it if it is
/// still running after `limit`. For tests that run one of their own cases in a child process,
/// so that it gets a module and environment of its own.
pub fn run_child(mut command: std::process::Command, limit: Duration) -> io::Result<ChildRun> {
    use std::io::Read as _;
    use std::process::Stdio;

    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = format!(
        "--- child stdout ---\n{}--- child stderr ---\n{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    Ok(ChildRun { status, output })
}
