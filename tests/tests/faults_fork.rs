//! `fork` with a pool in use: the child uses the HSM (the module is initialised again in the
//! child, the parent's sessions are left alone), and the parent keeps working.
//!
//! The test runs in a child process of its own (see `fault_support`), through p11-fault's
//! shim, whose stats file is per process (`stats-<pid>`): the forked child's file tells what
//! the child did (its `C_Initialize`, the sessions it opened and closed) apart from the parent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fault_support::{Sandbox, public_of, sign_and_verify};
use hsm_core::SessionPool;
use hsm_jose::HsmJwk;
use jose_core::{JwsAlgorithm, SoftwareKey};
use p11_fault::harness::Stats;

const ES256: JwsAlgorithm = JwsAlgorithm::ES256;

/// `fork()`: `Some(child pid)` in the parent, `None` in the child.
#[allow(unsafe_code)]
fn fork() -> Option<libc::pid_t> {
    // SAFETY: fork has no memory-safety preconditions of its own. The child goes on with a copy
    // of this one thread; the caller makes sure no other thread is inside the PKCS#11 library
    // or holds a pool lock at this moment (the test's other thread is libtest's main thread,
    // blocked waiting for the test), and the child leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    (pid > 0).then_some(pid)
}

/// Ends the forked child at once, without running the parent's exit handlers or destructors
/// a second time.
#[allow(unsafe_code)]
fn exit_child(code: i32) -> ! {
    // SAFETY: _exit only ends the process.
    unsafe { libc::_exit(code) }
}

/// Waits for the child up to `limit`; kills it after that. Its exit code, or `None` if it was
/// killed or died of a signal.
#[allow(unsafe_code)]
fn wait_child(pid: libc::pid_t, limit: Duration) -> Option<i32> {
    let started = Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid place for waitpid to write; `pid` is our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid failed");
        if done == pid {
            break;
        }
        if started.elapsed() > limit {
            // SAFETY: as above; the child is ours and still running.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status))
}

/// The handles of the pool's sessions, all checked out at once (then returned).
fn session_handles(pool: &SessionPool) -> HashSet<u64> {
    let guards: Vec<_> = (0..pool.max_sessions())
        .map(|_| pool.session().unwrap())
        .collect();
    guards.iter().map(|g| g.handle()).collect()
}

/// What the forked child does; a panic here becomes its exit code 1.
fn in_the_child(
    sandbox: &Sandbox,
    pool: SessionPool,
    key: HsmJwk,
    public: &SoftwareKey,
    at_fork: &Stats,
    parent_handles: &HashSet<u64>,
) {
    // The inherited pool and key work: the pool sees the new process, initialises the module
    // again, drops the parent's sessions unclosed, and finds the key's handles again.
    for i in 0..20u8 {
        sign_and_verify(&key, public, ES256, &[i; 20]).unwrap();
    }
    let child = sandbox.stats();
    assert_ne!(child.pid, at_fork.pid, "the child writes its own stats");
    assert_eq!(
        child.function("C_Initialize").calls,
        at_fork.function("C_Initialize").calls + 1,
        "C_Initialize again in the child"
    );
    let child_handles = session_handles(&pool);
    assert!(
        child_handles.is_disjoint(parent_handles),
        "the child uses sessions of its own: {child_handles:?} vs {parent_handles:?}"
    );

    // A pool made in the child works too (Module::load finds the instance initialised here).
    let fresh = SessionPool::builder()
        .module(&sandbox.shim)
        .token_label(&sandbox.token.label)
        .pin(sandbox.token.pin.clone())
        .max_sessions(2)
        .build()
        .unwrap();
    assert!(fresh.module().same_instance(pool.module()));
    let other = HsmJwk::from_label(&fresh, "ed25519").unwrap();
    sign_and_verify(&other, &public_of(&other), JwsAlgorithm::EdDSA, b"child").unwrap();
    assert_eq!(
        sandbox.stats().function("C_Initialize").calls,
        child.function("C_Initialize").calls
    );

    drop((key, pool, other, fresh));
    // The child closed the sessions it opened, and none of its parent's.
    let end = sandbox.stats();
    let opened = end.sessions_opened - at_fork.sessions_opened;
    let closed = end.sessions_closed - at_fork.sessions_closed;
    assert!(opened >= 2, "{opened}");
    assert_eq!(closed, opened, "closed exactly what the child opened");
    eprintln!("child: opened and closed {opened} sessions of its own; parent's left alone");
}

fault_test! {
    /// A process forks while its pool holds idle, logged-in sessions. The child signs with the
    /// inherited key and with a pool of its own; the parent signs on while the child runs and
    /// after it has exited, on its own sessions, which the child never closed.
    fn a_forked_child_uses_the_hsm_and_the_parent_keeps_working(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        sign_and_verify(&key, &public, ES256, b"before the fork").unwrap();
        let parent_handles = session_handles(&pool);
        assert_eq!(parent_handles.len(), 2);
        let at_fork = sandbox.stats();

        let Some(child) = fork() else {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                in_the_child(sandbox, pool, key, &public, &at_fork, &parent_handles);
            }));
            exit_child(if outcome.is_ok() { 0 } else { 1 });
        };

        // The parent goes on while the child works...
        for i in 0..50u8 {
            sign_and_verify(&key, &public, ES256, &[i; 30]).unwrap();
        }
        let code = wait_child(child, Duration::from_secs(60));
        assert_eq!(code, Some(0), "the forked child failed or hung (see its stderr)");
        // ...and after it is gone, on the same sessions as before.
        for i in 0..50u8 {
            sign_and_verify(&key, &public, ES256, &[i; 31]).unwrap();
        }
        assert_eq!(session_handles(&pool), parent_handles);
        let stats = sandbox.stats();
        assert_eq!(stats.pid, u64::from(std::process::id()));
        assert_eq!(stats.function("C_Initialize").calls, 1, "the parent initialised once");
        assert_eq!(stats.sessions_open, 2);
        drop((key, pool));
        assert_eq!(sandbox.sessions_open(), 0);
    }
}
