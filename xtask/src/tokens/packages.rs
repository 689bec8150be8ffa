//! Debian packages the token matrix needs, installed with `apt-get` when missing (as root; else
//! the command to run is printed). `apt-get update` runs at most once per xtask run.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

static UPDATED: AtomicBool = AtomicBool::new(false);

/// Whether dpkg says `package` is installed.
fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
}

/// Installs whichever of `packages` is missing.
pub(crate) fn ensure(what: &str, packages: &[&str]) -> crate::Result {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing.join(" ");
    let command = format!("apt-get update && apt-get install -y {list}");
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "{what} needs the Debian packages {list} (or your system's equivalents); this system \
             has no apt-get: install them, then run again"
        ));
    }
    if !crate::softhsm::is_root() {
        return Err(format!(
            "{what} needs the Debian packages {list}. Install them as root, then run again:\n    \
             sudo sh -c '{command}'"
        ));
    }
    eprintln!("xtask: {what} needs {list}; installing");
    if !UPDATED.swap(true, Ordering::SeqCst) {
        crate::run("apt-get update", Command::new("apt-get").arg("update"))?;
    }
    crate::run(
        &format!("apt-get install -y {list}"),
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
