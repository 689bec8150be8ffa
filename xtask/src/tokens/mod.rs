//! The token matrix of `cargo xtask test-hsm`: five PKCS#11 implementations, each provisioned
//! with a token `conformance` under `target/tokens/<name>/`, its daemons started here and
//! stopped by PID when the returned [`Running`] drops (see [`daemons`]).
//!
//! | name           | module                                 | daemons                               |
//! |----------------|----------------------------------------|---------------------------------------|
//! | `softhsm`      | SoftHSM 2 (`softhsm2`)                 | none                                  |
//! | `kryoptic`     | kryoptic, built from crates.io, cached | none                                  |
//! | `opencryptoki` | openCryptoki, soft token (slot 3)      | `pkcsslotd`                           |
//! | `tpm2`         | tpm2-pkcs11                            | swtpm, a private D-Bus, `tpm2-abrmd`  |
//! | `p11kit`       | p11-kit's client module                | `p11-kit server` over SoftHSM         |
//!
//! Keys are generated through hsm-core by the hidden task `provision-conformance`, run in a
//! child process with the module's environment (modules read it when initialised). A key whose
//! generation fails is recorded in `target/tokens/<name>/generation.tsv` with the exact error,
//! and the conformance suite reports it; provisioning itself goes on.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hsm_core::{Pin, SessionPool};

pub(crate) mod daemons;
pub(crate) mod doc;
mod kryoptic;
pub(crate) mod packages;

use daemons::Daemons;

use crate::softhsm::fixture_keys::{self, CONFORMANCE_TOKEN, TokenProfile};

/// The implementations, in the order `test-hsm` runs them.
pub(crate) const NAMES: &[&str] = &["softhsm", "kryoptic", "opencryptoki", "tpm2", "p11kit"];

/// A provisioned, running token implementation. Dropping it stops its daemons.
pub(crate) struct Running {
    /// `softhsm`, `kryoptic`...
    pub(crate) name: &'static str,
    /// The PKCS#11 module a client loads.
    pub(crate) module: PathBuf,
    /// What the module needs in the environment (configuration, daemon addresses).
    pub(crate) module_env: Vec<(&'static str, OsString)>,
    user_pin: String,
    so_pin: String,
    dir: PathBuf,
    _daemons: Daemons,
}

impl Running {
    /// The environment of the conformance suite and the bench: the module's own (with
    /// `HSM_SLOT` where the token must be selected by slot id), then
    /// `HSM_MODULE`, `HSM_TOKEN`, `HSM_PIN`, `HSM_SO_PIN`, `HSM_IMPLEMENTATION` and
    /// `HSM_GENERATION_REPORT`.
    pub(crate) fn env(&self) -> Vec<(&'static str, OsString)> {
        let mut env = self.module_env.clone();
        env.extend([
            ("HSM_MODULE", self.module.clone().into_os_string()),
            ("HSM_TOKEN", CONFORMANCE_TOKEN.into()),
            ("HSM_PIN", self.user_pin.clone().into()),
            ("HSM_SO_PIN", self.so_pin.clone().into()),
            ("HSM_IMPLEMENTATION", self.name.into()),
            (
                "HSM_GENERATION_REPORT",
                self.dir.join("generation.tsv").into_os_string(),
            ),
        ]);
        env
    }
}

/// The profile (fixture keys) of `name`, or an error listing the names.
pub(crate) fn profile(name: &str) -> crate::Result<&'static TokenProfile> {
    fixture_keys::token_profile(name).ok_or_else(|| {
        format!(
            "unknown token `{name}`; the token implementations are {}",
            NAMES.join(", ")
        )
    })
}

/// Installs what `name` needs, starts it with fresh state and provisions its token.
pub(crate) fn start(root: &Path, name: &str) -> crate::Result<Running> {
    let profile = profile(name)?;
    let started = Instant::now();
    let dir = root.join("target").join("tokens").join(profile.name);
    fresh_dir(&dir)?;
    packages::ensure("the token matrix", &["opensc"])?;
    let running = match profile.name {
        "softhsm" => softhsm(&dir)?,
        "kryoptic" => kryoptic::start(root, &dir)?,
        "opencryptoki" => opencryptoki(&dir)?,
        "tpm2" => tpm2(&dir)?,
        "p11kit" => p11kit(&dir)?,
        other => return Err(format!("no provisioning for token `{other}`")),
    };
    eprintln!(
        "xtask: {} is up in {:.1} s; generating its fixture keys",
        profile.name,
        started.elapsed().as_secs_f64()
    );
    let keys = Instant::now();
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the xtask binary: {e}"))?;
    crate::run(
        &format!("provision-conformance {}", profile.name),
        Command::new(exe)
            .args(["provision-conformance", profile.name])
            .envs(running.env()),
    )?;
    for tool_key in profile.tool_keys {
        let outcome = pkcs11_tool(
            &running,
            &[
                "--token-label",
                CONFORMANCE_TOKEN,
                "--login",
                "--pin",
                &running.user_pin,
                "--keypairgen",
                "--key-type",
                &format!("EC:{}", openssl_curve(tool_key.curve)),
                "--label",
                tool_key.label,
                "--id",
                &hex(tool_key.id),
                "--usage-sign",
            ],
        );
        let line = match outcome {
            Ok(_) => format!("{}\tgenerated by pkcs11-tool\n", tool_key.label),
            Err(e) => format!("{}\tfailed\t{}\n", tool_key.label, one_line(&e)),
        };
        append(&running.dir.join("generation.tsv"), &line)?;
    }
    eprintln!(
        "xtask: {} fixture keys in {:.1} s (see {})",
        profile.name,
        keys.elapsed().as_secs_f64(),
        running.dir.join("generation.tsv").display()
    );
    Ok(running)
}

fn openssl_curve(curve: hsm_core::EcCurve) -> &'static str {
    match curve {
        hsm_core::EcCurve::P256 => "prime256v1",
        hsm_core::EcCurve::P384 => "secp384r1",
        hsm_core::EcCurve::P521 => "secp521r1",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn append(path: &Path, line: &str) -> crate::Result {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Deletes and recreates `dir`.
pub(crate) fn fresh_dir(dir: &Path) -> crate::Result {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| format!("cannot delete {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// Runs a command to completion and returns its standard output; an error carries its stderr.
fn output(what: &str, cmd: &mut Command) -> crate::Result<String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            if stdout.trim().is_empty() {
                String::new()
            } else {
                format!(" / {}", stdout.trim())
            }
        ))
    }
}

/// `pkcs11-tool --module MODULE ARGS` in the token's environment.
fn pkcs11_tool(running: &Running, args: &[&str]) -> crate::Result<String> {
    tool_with(&running.module, &running.module_env, args)
}

fn tool_with(module: &Path, env: &[(&str, OsString)], args: &[&str]) -> crate::Result<String> {
    let what = format!(
        "pkcs11-tool {}",
        // The first three arguments: never a PIN (they come later), so errors can show them.
        args.iter().take(3).copied().collect::<Vec<_>>().join(" ")
    );
    output(
        &what,
        Command::new("pkcs11-tool")
            .arg("--module")
            .arg(module)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v))),
    )
}

/// Initialises the token `conformance` and its user PIN with `pkcs11-tool`.
fn init_with_tool(
    module: &Path,
    env: &[(&str, OsString)],
    slot: Option<&str>,
    so_pin: &str,
    user_pin: &str,
) -> crate::Result {
    let mut args = vec![];
    if let Some(slot) = slot {
        args.extend(["--slot", slot]);
    }
    args.extend([
        "--init-token",
        "--label",
        CONFORMANCE_TOKEN,
        "--so-pin",
        so_pin,
    ]);
    tool_with(module, env, &args)?;
    tool_with(
        module,
        env,
        &[
            "--token-label",
            CONFORMANCE_TOKEN,
            "--login",
            "--login-type",
            "so",
            "--so-pin",
            so_pin,
            "--init-pin",
            "--new-pin",
            user_pin,
        ],
    )?;
    Ok(())
}

/// A module in the system's PKCS#11 directories.
fn system_module(file: &str, package: &str) -> crate::Result<PathBuf> {
    const DIRS: &[&str] = &[
        "/usr/lib/x86_64-linux-gnu/pkcs11",
        "/usr/lib/aarch64-linux-gnu/pkcs11",
        "/usr/lib64/pkcs11",
        "/usr/lib/pkcs11",
    ];
    DIRS.iter()
        .map(|d| Path::new(d).join(file))
        .find(|p| p.exists())
        .ok_or_else(|| format!("{file} (package {package}) is in none of {DIRS:?}"))
}

/// Waits up to `secs` for `ready`, failing early when `daemon` exits.
pub(crate) fn wait_for(
    daemons: &mut Daemons,
    daemon: &str,
    secs: u64,
    mut ready: impl FnMut() -> bool,
) -> crate::Result {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if ready() {
            return Ok(());
        }
        if let Some(status) = daemons.exited(daemon) {
            return Err(format!("{daemon} exited ({status}); see its log"));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{daemon} was not ready after {secs} s; see its log"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two consecutive TCP ports on the loopback interface that nothing listens on now (the swtpm
/// TCTI expects the control port right after the server port).
fn free_port_pair() -> crate::Result<(u16, u16)> {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("cannot find a free loopback port: {e}"))?;
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return Ok((port, port + 1));
        }
    }
    Err("cannot find two consecutive free loopback ports".into())
}

fn softhsm_conf(dir: &Path) -> crate::Result<PathBuf> {
    let tokens = dir.join("softhsm-tokens");
    std::fs::create_dir_all(&tokens)
        .map_err(|e| format!("cannot create {}: {e}", tokens.display()))?;
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "# Written by `cargo xtask`; deleted and rewritten on every run.\n\
             directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    Ok(conf)
}

const USER_PIN: &str = "11112222";
const SO_PIN: &str = "12345678";

fn softhsm(dir: &Path) -> crate::Result<Running> {
    let module = crate::softhsm::module_path()?;
    let conf = softhsm_conf(dir)?;
    let env = vec![("SOFTHSM2_CONF", conf.into_os_string())];
    init_with_tool(&module, &env, None, SO_PIN, USER_PIN)?;
    Ok(Running {
        name: "softhsm",
        module,
        module_env: env,
        user_pin: USER_PIN.into(),
        so_pin: SO_PIN.into(),
        dir: dir.to_path_buf(),
        _daemons: Daemons::new(dir)?,
    })
}

/// openCryptoki's soft token keeps its state in `/var/lib/opencryptoki/swtok` (3.8 has no
/// setting for another place), so provisioning resets that directory.
const OCK_SWTOK: &str = "/var/lib/opencryptoki/swtok";
const OCK_PIDFILE: &str = "/run/pkcsslotd.pid";
/// The soft token's slot in the shipped `opencryptoki.conf`.
const OCK_SLOT: &str = "3";
/// The SO PIN of a freshly reset openCryptoki token.
const OCK_DEFAULT_SO_PIN: &str = "87654321";

fn pid_in(file: &str) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// True when process `pid` runs the program `name` (its `/proc/PID/comm`): a PID file left by a
/// killed daemon may name a PID the kernel has since given to another process.
fn process_is(pid: u32, name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name)
}

fn opencryptoki(dir: &Path) -> crate::Result<Running> {
    packages::ensure("openCryptoki", &["opencryptoki", "libopencryptoki0"])?;
    match pid_in(OCK_PIDFILE) {
        Some(pid) if process_is(pid, "pkcsslotd") => {
            return Err(format!(
                "pkcsslotd is already running (PID {pid}, not started by this run). The \
                 openCryptoki run resets the soft token in {OCK_SWTOK}: stop that pkcsslotd first"
            ));
        }
        // A PID file left by a pkcsslotd that was killed: pkcsslotd would take its PID, now
        // another process's, for itself already running.
        Some(_) => {
            std::fs::remove_file(OCK_PIDFILE)
                .map_err(|e| format!("cannot remove the stale {OCK_PIDFILE}: {e}"))?;
        }
        None => {}
    }
    ock_directories()?;
    reset_swtok()?;
    let mut daemons = Daemons::new(dir)?;
    let log = dir.join("pkcsslotd.log");
    output(
        "pkcsslotd",
        Command::new("/usr/sbin/pkcsslotd").stderr(
            std::fs::File::create(&log)
                .map_err(|e| format!("cannot create {}: {e}", log.display()))?,
        ),
    )?;
    let mut pid = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid.is_none() && Instant::now() < deadline {
        pid = pid_in(OCK_PIDFILE).filter(|p| process_is(*p, "pkcsslotd"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = pid.ok_or_else(|| format!("pkcsslotd did not write {OCK_PIDFILE}"))?;
    daemons.adopt("pkcsslotd", pid)?;
    let module = system_module("libopencryptoki.so", "libopencryptoki0")?;
    tool_with(
        &module,
        &[],
        &[
            "--slot",
            OCK_SLOT,
            "--init-token",
            "--label",
            CONFORMANCE_TOKEN,
            "--so-pin",
            OCK_DEFAULT_SO_PIN,
        ],
    )?;
    output(
        "pkcsconf (SO PIN)",
        Command::new("pkcsconf").args([
            "-c",
            OCK_SLOT,
            "-P",
            "-S",
            OCK_DEFAULT_SO_PIN,
            "-n",
            SO_PIN,
        ]),
    )?;
    output(
        "pkcsconf (user PIN)",
        Command::new("pkcsconf").args(["-c", OCK_SLOT, "-u", "-S", SO_PIN, "-n", USER_PIN]),
    )?;
    Ok(Running {
        name: "opencryptoki",
        module,
        // The soft token's information does not parse (a blank clock), so its label cannot
        // be matched: the suite and provisioning select it by slot id.
        module_env: vec![("HSM_SLOT", OCK_SLOT.into())],
        user_pin: USER_PIN.into(),
        so_pin: SO_PIN.into(),
        dir: dir.to_path_buf(),
        _daemons: daemons,
    })
}

/// The directories the package's `tmpfiles.d` entry makes at boot: absent where nothing ran
/// `systemd-tmpfiles` since (a container, `/run` being a fresh tmpfs).
fn ock_directories() -> crate::Result {
    const DIRS: &[&str] = &[
        "/var/lock/opencryptoki/swtok",
        "/var/lib/opencryptoki/swtok/TOK_OBJ",
    ];
    if DIRS.iter().all(|d| Path::new(d).is_dir()) {
        return Ok(());
    }
    for d in DIRS {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {d}: {e}"))?;
    }
    for d in [
        "/var/lock/opencryptoki",
        "/var/lock/opencryptoki/swtok",
        "/var/lib/opencryptoki",
        "/var/lib/opencryptoki/swtok",
        "/var/lib/opencryptoki/swtok/TOK_OBJ",
    ] {
        output(
            &format!("chgrp pkcs11 {d}"),
            Command::new("chgrp").args(["pkcs11", d]),
        )?;
        output(
            &format!("chmod 0770 {d}"),
            Command::new("chmod").args(["0770", d]),
        )?;
    }
    Ok(())
}

/// Empties the soft token's directory (keeping `TOK_OBJ/`, which the token needs).
fn reset_swtok() -> crate::Result {
    let swtok = Path::new(OCK_SWTOK);
    let clear = |d: &Path| -> crate::Result {
        let entries =
            std::fs::read_dir(d).map_err(|e| format!("cannot list {}: {e}", d.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "TOK_OBJ") {
                continue;
            }
            let r = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            r.map_err(|e| format!("cannot delete {}: {e}", path.display()))?;
        }
        Ok(())
    };
    clear(swtok)?;
    clear(&swtok.join("TOK_OBJ"))?;
    // pkcsslotd keeps token state in shared memory too; it is rebuilt when absent.
    if let Ok(entries) = std::fs::read_dir("/dev/shm") {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().contains("opencryptoki") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

fn tpm2(dir: &Path) -> crate::Result<Running> {
    packages::ensure(
        "tpm2-pkcs11",
        &[
            "libtpm2-pkcs11-1",
            "libtpm2-pkcs11-tools",
            "tpm2-tools",
            "swtpm",
            "swtpm-tools",
            "tpm2-abrmd",
            "libtss2-tcti-tabrmd0",
            "dbus",
        ],
    )?;
    let mut daemons = Daemons::new(dir)?;
    let state = dir.join("swtpm");
    let store = dir.join("store");
    for d in [&state, &store] {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let (server, ctrl) = free_port_pair()?;
    daemons.spawn(
        "swtpm",
        Command::new("swtpm")
            .args(["socket", "--tpm2", "--tpmstate"])
            .arg(format!("dir={}", state.display()))
            .arg("--server")
            .arg(format!("type=tcp,port={server},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"))
            .args(["--flags", "not-need-init,startup-clear"]),
        &dir.join("swtpm.log"),
    )?;
    wait_for(&mut daemons, "swtpm", 20, || {
        std::net::TcpStream::connect(("127.0.0.1", server)).is_ok()
    })?;
    // A private session bus on a socket in the state directory.
    let bus = dir.join("dbus.sock");
    let printed = output(
        "dbus-daemon",
        Command::new("dbus-daemon")
            .args(["--session", "--fork", "--print-pid=1", "--nosyslog"])
            .arg(format!("--address=unix:path={}", bus.display())),
    )?;
    let dbus_pid: u32 = printed
        .trim()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| format!("dbus-daemon printed no PID ({printed:?})"))?;
    daemons.adopt("dbus-daemon", dbus_pid)?;
    let bus_address: OsString = format!("unix:path={}", bus.display()).into();
    daemons.spawn(
        "tpm2-abrmd",
        Command::new("tpm2-abrmd")
            .args(["--session", "--allow-root", "--flush-all"])
            .arg(format!("--tcti=swtpm:host=127.0.0.1,port={server}"))
            .env("DBUS_SESSION_BUS_ADDRESS", &bus_address),
        &dir.join("tpm2-abrmd.log"),
    )?;
    let tcti: OsString = "tabrmd:bus_type=session".into();
    let env = vec![
        ("DBUS_SESSION_BUS_ADDRESS", bus_address),
        ("TPM2TOOLS_TCTI", tcti.clone()),
        ("TPM2_PKCS11_TCTI", tcti),
        ("TPM2_PKCS11_STORE", store.clone().into_os_string()),
    ];
    wait_for(&mut daemons, "tpm2-abrmd", 30, || {
        Command::new("tpm2_getcap")
            .arg("properties-fixed")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .is_ok_and(|o| o.status.success())
    })?;
    let ptool = |args: &[&str]| {
        output(
            &format!("tpm2_ptool {}", args.first().copied().unwrap_or_default()),
            Command::new("tpm2_ptool")
                .args(args)
                .arg(format!("--path={}", store.display()))
                .envs(env.iter().map(|(k, v)| (k, v))),
        )
    };
    ptool(&["init"])?;
    ptool(&[
        "addtoken",
        "--pid=1",
        &format!("--label={CONFORMANCE_TOKEN}"),
        &format!("--sopin={SO_PIN}"),
        &format!("--userpin={USER_PIN}"),
    ])?;
    Ok(Running {
        name: "tpm2",
        module: system_module("libtpm2_pkcs11.so", "libtpm2-pkcs11-1")?,
        module_env: env,
        user_pin: USER_PIN.into(),
        so_pin: SO_PIN.into(),
        dir: dir.to_path_buf(),
        _daemons: daemons,
    })
}

fn p11kit(dir: &Path) -> crate::Result<Running> {
    let softhsm = crate::softhsm::module_path()?;
    let conf = softhsm_conf(dir)?;
    let softhsm_env = vec![("SOFTHSM2_CONF", conf.clone().into_os_string())];
    init_with_tool(&softhsm, &softhsm_env, None, SO_PIN, USER_PIN)?;
    let server = p11kit_server(dir, &conf, CONFORMANCE_TOKEN)?;
    Ok(Running {
        name: "p11kit",
        module: server.module,
        module_env: server.module_env,
        user_pin: USER_PIN.into(),
        so_pin: SO_PIN.into(),
        dir: dir.to_path_buf(),
        _daemons: server.daemons,
    })
}

/// A `p11-kit server` exporting one SoftHSM token over a Unix socket, stopped by PID when
/// dropped (also on Ctrl-C, by the reaper of [`Daemons`]).
pub(crate) struct P11KitServer {
    /// p11-kit's client module, which a PKCS#11 application loads to reach the server.
    pub(crate) module: PathBuf,
    /// What the client module needs (`P11_KIT_SERVER_ADDRESS`).
    pub(crate) module_env: Vec<(&'static str, OsString)>,
    daemons: Daemons,
}

/// Starts `p11-kit server` in `dir` (its socket, log and PID list there) exporting the token
/// labelled `token` of the SoftHSM configured by `conf`; installs p11-kit if needed.
pub(crate) fn p11kit_server(dir: &Path, conf: &Path, token: &str) -> crate::Result<P11KitServer> {
    packages::ensure("p11-kit", &["p11-kit", "p11-kit-modules"])?;
    let softhsm = crate::softhsm::module_path()?;
    let mut daemons = Daemons::new(dir)?;
    let socket = dir.join("p11kit.sock");
    daemons.spawn(
        "p11-kit server",
        Command::new("p11-kit")
            .args(["server", "-f", "-s", "-n"])
            .arg(&socket)
            .arg("--provider")
            .arg(&softhsm)
            .arg(format!("pkcs11:token={token}"))
            .env("XDG_RUNTIME_DIR", dir)
            .env("SOFTHSM2_CONF", conf),
        &dir.join("p11-kit-server.log"),
    )?;
    wait_for(&mut daemons, "p11-kit server", 20, || socket.exists())?;
    Ok(P11KitServer {
        module: system_module("p11-kit-client.so", "p11-kit-modules")?,
        module_env: vec![(
            "P11_KIT_SERVER_ADDRESS",
            format!("unix:path={}", socket.display()).into(),
        )],
        daemons,
    })
}

/// The hidden task `provision-conformance NAME`, run with the token's environment (see
/// [`Running::env`]): generates the profile's fixture keys through hsm-core and records each
/// outcome in `HSM_GENERATION_REPORT` (`label<TAB>generated` or `label<TAB>failed<TAB>error`).
pub(crate) fn provision_conformance(args: &[String]) -> crate::Result {
    let [name] = args else {
        return Err("provision-conformance NAME".into());
    };
    let profile = profile(name)?;
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let module = var("HSM_MODULE")?;
    let report = PathBuf::from(var("HSM_GENERATION_REPORT")?);
    let pin = Pin::new(var("HSM_PIN")?);
    std::fs::write(&report, "").map_err(|e| format!("cannot write {}: {e}", report.display()))?;
    let builder = SessionPool::builder()
        .module(&module)
        .pin(pin)
        .max_sessions(2);
    // `HSM_SLOT`: a token whose information cannot be read is selected by slot id.
    let builder = match std::env::var("HSM_SLOT") {
        Ok(slot) => builder.slot_id(
            slot.parse()
                .map_err(|e| format!("HSM_SLOT={slot} is not a slot id: {e}"))?,
        ),
        Err(_) => builder.token_label(CONFORMANCE_TOKEN),
    };
    let pool = builder.build();
    for label in profile.keys {
        let key = fixture_keys::fixture_key(label)
            .ok_or_else(|| format!("profile {name}: no fixture key {label}"))?;
        let started = Instant::now();
        let outcome = match &pool {
            Ok(pool) => crate::softhsm::generate(pool, key).map_err(|e| e.to_string()),
            Err(e) => Err(format!("opening a pool on the token: {e}")),
        };
        let line = match outcome {
            Ok(()) => format!("{label}\tgenerated\n"),
            Err(e) => format!("{label}\tfailed\t{}\n", one_line(&e)),
        };
        eprint!(
            "xtask: {name}: {label} ({:.1} s): {line}",
            started.elapsed().as_secs_f64()
        );
        append(&report, &line)?;
    }
    Ok(())
}
