//! Daemons that `cargo xtask` starts, stopped by PID when the guard drops: on success, on an
//! error, on a panic (unwinding runs `Drop`), and on Ctrl-C or a kill (a reaper process in its
//! own session, which Ctrl-C does not reach, stops whatever is still listed once xtask is gone).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The daemons of one token implementation. Dropping it stops them, last started first.
pub(crate) struct Daemons {
    /// Every PID to stop, one a line, read by the reaper.
    pidfile: PathBuf,
    /// (name, pid, the child when xtask started it directly).
    running: Vec<(String, u32, Option<Child>)>,
    /// The reaper's PID.
    reaper: Option<u32>,
}

impl Daemons {
    /// A guard whose PID list lives in `dir/daemons.pids`; starts the reaper.
    pub(crate) fn new(dir: &Path) -> crate::Result<Self> {
        let pidfile = dir.join("daemons.pids");
        std::fs::write(&pidfile, "")
            .map_err(|e| format!("cannot write {}: {e}", pidfile.display()))?;
        // Waits for this process to end, then stops what the list still names.
        let script = format!(
            "while kill -0 {xtask} 2>/dev/null; do sleep 1; done; \
             f='{file}'; [ -s \"$f\" ] || exit 0; \
             for p in $(cat \"$f\"); do kill \"$p\" 2>/dev/null; done; sleep 3; \
             for p in $(cat \"$f\"); do kill -9 \"$p\" 2>/dev/null; done; rm -f \"$f\"",
            xtask = std::process::id(),
            file = pidfile.display()
        );
        let reaper = Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the daemon reaper (setsid sh): {e}"))?;
        Ok(Self {
            pidfile,
            running: Vec::new(),
            reaper: Some(reaper.id()),
        })
    }

    /// Starts `cmd` as a daemon named `name` (its output goes to `log`).
    pub(crate) fn spawn(&mut self, name: &str, cmd: &mut Command, log: &Path) -> crate::Result {
        let out = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
        eprintln!("xtask: starting {name} (log {})", log.display());
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id();
        self.running.push((name.to_owned(), pid, Some(child)));
        self.write_pids()
    }

    /// Takes charge of a daemon that forked away from xtask (known by its PID).
    pub(crate) fn adopt(&mut self, name: &str, pid: u32) -> crate::Result {
        eprintln!("xtask: {name} runs as PID {pid}");
        self.running.push((name.to_owned(), pid, None));
        self.write_pids()
    }

    /// Whether the daemon started as `name` has exited (with its status), for error messages.
    pub(crate) fn exited(&mut self, name: &str) -> Option<String> {
        let (_, pid, child) = self.running.iter_mut().find(|(n, _, _)| n == name)?;
        match child {
            Some(child) => match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                _ => None,
            },
            None => (!alive(*pid)).then(|| "gone".to_owned()),
        }
    }

    fn write_pids(&self) -> crate::Result {
        let text: String = self
            .running
            .iter()
            .map(|(_, pid, _)| format!("{pid}\n"))
            .collect();
        std::fs::write(&self.pidfile, text)
            .map_err(|e| format!("cannot write {}: {e}", self.pidfile.display()))
    }
}

fn alive(pid: u32) -> bool {
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Daemons {
    fn drop(&mut self) {
        while let Some((name, pid, child)) = self.running.pop() {
            signal(pid, "-TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            let gone = |child: &mut Option<Child>| match child {
                Some(c) => c.try_wait().map(|s| s.is_some()).unwrap_or(true),
                None => !alive(pid),
            };
            let mut child = child;
            while !gone(&mut child) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !gone(&mut child) {
                eprintln!("xtask: {name} (PID {pid}) ignored SIGTERM; killing it");
                signal(pid, "-KILL");
                if let Some(c) = child.as_mut() {
                    let _ = c.wait();
                }
            }
            eprintln!("xtask: stopped {name} (PID {pid})");
            let _ = self.write_pids();
        }
        let _ = std::fs::remove_file(&self.pidfile);
        if let Some(reaper) = self.reaper.take() {
            signal(reaper, "-TERM");
        }
    }
}
