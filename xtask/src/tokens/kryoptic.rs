//! kryoptic, a PKCS#11 soft token in Rust, built from its crates.io release.
//!
//! `cargo info kryoptic@VERSION` puts the crate into cargo's download cache (no other network
//! access); it is unpacked and built once into `target/token-cache/kryoptic-VERSION/`, and
//! later runs reuse the module there (the build directory is deleted once the module is cached). The build needs OpenSSL's development files,
//! `pkg-config` and libclang (bindgen), and takes a few minutes on two cores.
//!
//! Features: `minimal` (RSA, EC, AES, HMAC, SHA-2) with ECDH, OpenSSL linked dynamically.
//! EdDSA would need OpenSSL 3.2 or later, which Debian 12 does not have.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{Daemons, Running, SO_PIN, USER_PIN, init_with_tool, output, packages};

/// The kryoptic release the matrix uses (pinned: a new release is a deliberate change).
const VERSION: &str = "1.5.4";
const FEATURES: &str = "minimal,kryoptic-lib/dynamic,kryoptic-lib/ecdh";

pub(super) fn start(root: &Path, dir: &Path) -> crate::Result<Running> {
    let module = module(root)?;
    let conf = dir.join("kryoptic.conf");
    std::fs::write(
        &conf,
        format!(
            "# Written by `cargo xtask`; deleted and rewritten on every run.\n\
             [[slots]]\nslot = 42\ndbtype = \"sqlite\"\ndbargs = \"{}\"\n",
            dir.join("token.sql").display()
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    let env: Vec<(&'static str, OsString)> = vec![("KRYOPTIC_CONF", conf.into_os_string())];
    init_with_tool(&module, &env, None, SO_PIN, USER_PIN)?;
    Ok(Running {
        name: "kryoptic",
        module,
        module_env: env,
        user_pin: USER_PIN.into(),
        so_pin: SO_PIN.into(),
        dir: dir.to_path_buf(),
        _daemons: Daemons::new(dir)?,
    })
}

/// The cached module, built first if absent.
pub(crate) fn module(root: &Path) -> crate::Result<PathBuf> {
    let cache = root
        .join("target")
        .join("token-cache")
        .join(format!("kryoptic-{VERSION}"));
    let module = cache.join("libkryoptic_pkcs11.so");
    if module.exists() {
        return Ok(module);
    }
    packages::ensure(
        "building kryoptic",
        &["libssl-dev", "pkg-config", "libclang-dev"],
    )?;
    let started = Instant::now();
    let crate_file = download()?;
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create {}: {e}", cache.display()))?;
    output(
        "unpacking kryoptic",
        Command::new("tar")
            .arg("xzf")
            .arg(&crate_file)
            .arg("-C")
            .arg(&cache),
    )?;
    let src = cache.join(format!("kryoptic-{VERSION}"));
    // The unpacked crate sits inside this workspace's `target/`: make it its own workspace.
    let manifest = src.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    if !text.contains("\n[workspace]") {
        std::fs::write(&manifest, format!("{text}\n[workspace]\n"))
            .map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    }
    crate::run(
        &format!("cargo build --release kryoptic {VERSION} (a few minutes, once)"),
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&src)
            .args([
                "build",
                "--release",
                "--locked",
                "--no-default-features",
                "--features",
                FEATURES,
            ])
            .env("CARGO_TARGET_DIR", src.join("target"))
            .env_remove("RUSTFLAGS"),
    )?;
    let built = src
        .join("target")
        .join("release")
        .join("libkryoptic_pkcs11.so");
    std::fs::copy(&built, &module).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            built.display(),
            module.display()
        )
    })?;
    // The build directory (a few hundred MB) is not needed once the module is cached.
    let _ = std::fs::remove_dir_all(src.join("target"));
    eprintln!(
        "xtask: kryoptic {VERSION} built in {:.0} s, cached as {}",
        started.elapsed().as_secs_f64(),
        module.display()
    );
    Ok(module)
}

/// The `.crate` file of kryoptic VERSION in cargo's download cache, downloaded through cargo.
fn download() -> crate::Result<PathBuf> {
    let find = || -> Option<PathBuf> {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        let registries = std::fs::read_dir(home.join("registry").join("cache")).ok()?;
        registries
            .flatten()
            .map(|r| r.path().join(format!("kryoptic-{VERSION}.crate")))
            .find(|p| p.exists())
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    crate::run(
        &format!("cargo info kryoptic@{VERSION} (downloads the crate)"),
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["info", &format!("kryoptic@{VERSION}")])
            .current_dir(std::env::temp_dir()),
    )?;
    find().ok_or_else(|| {
        format!("cargo info kryoptic@{VERSION} left no kryoptic-{VERSION}.crate in cargo's cache")
    })
}
