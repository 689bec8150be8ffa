//! hsm-jose's async face on a slow token, through p11-fault's shim: the runtime's threads never
//! wait for the token, operations wait their turn with back-pressure and deadlines, and futures
//! dropped at any point leak no session and spoil no other result.
//!
//! Every test runs in a child process of its own (see `fault_support`), with its own runtime.
//! Each ends with the shim's count of open sessions equal to the pool's, and zero once the
//! pool closes its idle sessions.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod async_support;
mod fault_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_support::{Where, all_on_workers};
use fault_support::public_of;
use hsm_jose::jose_core::{
    ContentEncryption as E, JwsAlgorithm, KeyManagementAlgorithm as K, jwe, jws,
};
use hsm_jose::service::{AsyncHsm, ServiceError};
use hsm_jose::{HsmJwk, SessionPool};

const ES256: JwsAlgorithm = JwsAlgorithm::ES256;

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Waits (on the runtime) until no job runs or waits.
async fn settle(hsm: &AsyncHsm) {
    let start = Instant::now();
    while hsm.running() > 0 || hsm.waiting() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "jobs still running after 30 s: running {}, waiting {}",
            hsm.running(),
            hsm.waiting()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every session the pool opened is idle, the shim sees exactly those, and none is left once
/// they are closed.
fn assert_no_session_leaked(sandbox: &fault_support::Sandbox, pool: &SessionPool) {
    let open = pool.open_sessions();
    assert!(open <= pool.max_sessions(), "{open} sessions open");
    assert_eq!(pool.idle_sessions(), open, "a session is still checked out");
    assert_eq!(
        sandbox.sessions_open(),
        open as u64,
        "the shim sees other sessions"
    );
    pool.close_idle();
    assert_eq!(pool.open_sessions(), 0);
    assert_eq!(
        sandbox.sessions_open(),
        0,
        "a session leaked into the token"
    );
}

fault_test! {
    /// A single-threaded runtime keeps serving a ticking task while 64 signatures wait on a
    /// token that takes 200 ms per C_Sign: no tick is late by anything like a token call, and
    /// every signature is made on an hsm-jose worker and verifies in software.
    fn a_single_thread_runtime_keeps_ticking_while_64_signatures_wait(sandbox) {
        let pool = sandbox.builder().max_sessions(8).build().unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        let public = Arc::new(public_of(&key));
        let recorded = Arc::new(Where::new(Arc::clone(&key)));
        let hsm = AsyncHsm::builder(&pool).deadline(Duration::from_secs(60)).build().unwrap();
        assert_eq!(hsm.workers(), 8);
        // cryptoki's sign is two C_Sign calls (length, then signature): 400 ms a signature.
        sandbox.set_rules("C_Sign always delay_ms=200\n");
        let signs_before = sandbox.stats().functions["C_Sign"].calls; // the load's self-test

        let rt = current_thread_runtime();
        let (ticks, max_gap, max_running, max_waiting, elapsed) = rt.block_on(async {
            let stop = Arc::new(AtomicBool::new(false));
            let max_running = Arc::new(AtomicUsize::new(0));
            let max_waiting = Arc::new(AtomicUsize::new(0));
            let ticker = {
                let (stop, hsm) = (Arc::clone(&stop), hsm.clone());
                let (max_running, max_waiting) = (Arc::clone(&max_running), Arc::clone(&max_waiting));
                tokio::spawn(async move {
                    let mut interval = tokio::time::interval(Duration::from_millis(5));
                    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    let (mut ticks, mut max_gap, mut last) = (0u32, Duration::ZERO, Instant::now());
                    while !stop.load(Ordering::Acquire) {
                        interval.tick().await;
                        let now = Instant::now();
                        max_gap = max_gap.max(now - last);
                        last = now;
                        ticks += 1;
                        max_running.fetch_max(hsm.running(), Ordering::Relaxed);
                        max_waiting.fetch_max(hsm.waiting(), Ordering::Relaxed);
                    }
                    (ticks, max_gap)
                })
            };
            // Let the ticker start before the load arrives.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let start = Instant::now();
            let signers: Vec<_> = (0..64u32)
                .map(|i| {
                    let (hsm, key) = (hsm.clone(), Arc::clone(&recorded));
                    tokio::spawn(async move {
                        let payload = format!("signature {i}").into_bytes();
                        (i, hsm.sign_compact(&key, ES256, payload, None).await)
                    })
                })
                .collect();
            for signer in signers {
                let (i, token) = signer.await.unwrap();
                let token = token.unwrap_or_else(|e| panic!("signature {i}: {e}"));
                let verified = jws::verify_compact(&token, &*public, &[ES256]).unwrap();
                assert_eq!(verified.payload(), format!("signature {i}").as_bytes());
            }
            let elapsed = start.elapsed();
            stop.store(true, Ordering::Release);
            let (ticks, max_gap) = ticker.await.unwrap();
            settle(&hsm).await;
            (
                ticks,
                max_gap,
                max_running.load(Ordering::Relaxed),
                max_waiting.load(Ordering::Relaxed),
                elapsed,
            )
        });
        println!(
            "64 signatures in {elapsed:?}; {ticks} ticks, longest gap {max_gap:?}; \
             at most {max_running} running and {max_waiting} waiting"
        );
        // 64 signatures on 8 sessions at 400 ms each: 8 rounds, at least 3.2 s.
        assert!(elapsed >= Duration::from_millis(3000), "{elapsed:?}");
        // A runtime thread blocked on one C_Sign would leave a gap of 200 ms at least.
        assert!(max_gap < Duration::from_millis(150), "a tick was {max_gap:?} late");
        assert!(u128::from(ticks) >= elapsed.as_millis() / 5 / 3, "{ticks} ticks in {elapsed:?}");
        assert_eq!(max_running, 8, "every session was busy at some point");
        assert!(max_waiting >= 8, "operations queued without a thread: {max_waiting}");
        let threads = recorded.threads();
        assert_eq!(threads.len(), 64);
        assert!(all_on_workers(&threads), "signed on {threads:?}");
        assert_eq!(sandbox.stats().functions["C_Sign"].calls - signs_before, 128);
        assert_no_session_leaked(sandbox, &pool);
    }
}

fault_test! {
    /// On a token slower than the deadline: the running operation ends in DeadlineRunning (and
    /// finishes in the background), those waiting in DeadlineWaiting without a token call, and
    /// one more than the waiting line holds in Busy at once.
    fn deadlines_and_back_pressure_are_typed(sandbox) {
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let key = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        let public = public_of(&key);
        let hsm = AsyncHsm::builder(&pool)
            .workers(1)
            .max_waiting(2)
            .deadline(Duration::from_millis(100))
            .build()
            .unwrap();
        sandbox.set_rules("C_Sign always delay_ms=300\n");
        let signs_before = sandbox.stats().functions["C_Sign"].calls; // the load's self-test

        let rt = current_thread_runtime();
        rt.block_on(async {
            let sign = |n: u8| hsm.sign_compact(&key, ES256, vec![n; 8], None);
            let started = Instant::now();
            let (running, waiting_1, waiting_2, refused) = tokio::join!(sign(1), sign(2), sign(3), sign(4));
            assert!(
                matches!(running, Err(ServiceError::DeadlineRunning { deadline }) if deadline == Duration::from_millis(100)),
                "{running:?}"
            );
            assert!(matches!(waiting_1, Err(ServiceError::DeadlineWaiting { .. })), "{waiting_1:?}");
            assert!(matches!(waiting_2, Err(ServiceError::DeadlineWaiting { .. })), "{waiting_2:?}");
            assert!(matches!(refused, Err(ServiceError::Busy { limit: 2 })), "{refused:?}");
            assert!(running.unwrap_err().is_overload());
            let stats = hsm.stats();
            assert_eq!((stats.busy, stats.deadline_waiting, stats.deadline_running), (1, 2, 1));
            // Deadlines are kept to within the runtime's timer resolution.
            // (the first operation alone takes 600 ms).
            assert!(started.elapsed() < Duration::from_millis(450), "{:?}", started.elapsed());

            // The late operation finishes on its worker and frees its session.
            settle(&hsm).await;
            assert_eq!(
                sandbox.stats().functions["C_Sign"].calls - signs_before,
                2,
                "only the first one ran"
            );

            // A longer deadline on the same workers succeeds.
            let patient = hsm.with_deadline(Duration::from_secs(10));
            let token = patient.sign_compact(&key, ES256, b"patient".to_vec(), None).await.unwrap();
            jws::verify_compact(&token, &public, &[ES256]).unwrap();
        });
        assert_no_session_leaked(sandbox, &pool);
    }
}

/// A small deterministic generator for the drop points.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What happened to one operation of the drop run.
enum Outcome {
    Completed,
    Dropped,
}

fault_test! {
    /// 10,000 signatures and ECDH decryptions on 4 sessions, 8 at a time, a fifth of the token
    /// calls slowed down by 2 ms,
    /// futures dropped before their first poll, after one poll, after a few yields or after a
    /// random time: every operation that completes is correct (verified in software), every
    /// operation awaited to the end completes, and no session is leaked or left busy.
    fn dropping_futures_at_random_points_leaks_no_session(sandbox) {
        const OPS: u32 = 10_000;
        let pool = sandbox.builder().max_sessions(4).build().unwrap();
        let signer = Arc::new(HsmJwk::from_label(&pool, "ec-p256").unwrap());
        let public = Arc::new(public_of(&signer));
        // ECDH-ES JWEs to the same key: a C_DeriveKey and the software half of JWE.
        let jwes: Arc<Vec<String>> = Arc::new(
            (0..8u8)
                .map(|i| jwe::encrypt_compact(&*public, K::EcdhEs, E::A128Gcm, &[i; 16], None).unwrap())
                .collect(),
        );
        let hsm = AsyncHsm::builder(&pool).deadline(Duration::from_secs(60)).build().unwrap();
        sandbox.set_rules(
            "C_Sign random=0.2 seed=11 delay_ms=2\nC_DeriveKey random=0.2 seed=12 delay_ms=2\n",
        );

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let calls = |f: &str| sandbox.stats().functions.get(f).map_or(0, |c| c.calls);
        let (sign_inits, signs) = (calls("C_SignInit"), calls("C_Sign"));
        let (completed, dropped, completed_signatures) = rt.block_on(async {
            let limit = Arc::new(tokio::sync::Semaphore::new(8));
            let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
            let mut tasks = Vec::with_capacity(OPS as usize);
            for i in 0..OPS {
                let choice = rng.next();
                let permit = Arc::clone(&limit).acquire_owned().await.unwrap();
                let (hsm, signer, public, jwes) =
                    (hsm.clone(), Arc::clone(&signer), Arc::clone(&public), Arc::clone(&jwes));
                tasks.push(tokio::spawn(async move {
                    let _permit = permit;
                    let decrypt = i % 5 == 0;
                    let op = async {
                        if decrypt {
                            let n = (i / 5) as usize % jwes.len();
                            let d = hsm
                                .decrypt_compact(&signer, jwes[n].clone(), vec![K::EcdhEs], vec![E::A128Gcm])
                                .await
                                .unwrap_or_else(|e| panic!("decryption {i}: {e}"));
                            assert_eq!(d.plaintext(), &[n as u8; 16], "decryption {i}");
                        } else {
                            let payload = format!("op {i}").into_bytes();
                            let token = hsm
                                .sign_compact(&signer, ES256, payload.clone(), None)
                                .await
                                .unwrap_or_else(|e| panic!("signature {i}: {e}"));
                            let verified = jws::verify_compact(&token, &*public, &[ES256]).unwrap();
                            assert_eq!(verified.payload(), payload.as_slice(), "signature {i}");
                        }
                    };
                    match choice % 5 {
                        // Awaited to the end: must complete.
                        0 => {
                            op.await;
                            Outcome::Completed
                        }
                        // Never polled.
                        1 => {
                            drop(op);
                            Outcome::Dropped
                        }
                        // Polled once, then dropped unless already done.
                        2 => match tokio::time::timeout(Duration::ZERO, op).await {
                            Ok(()) => Outcome::Completed,
                            Err(_) => Outcome::Dropped,
                        },
                        // Dropped after a few turns of the scheduler.
                        3 => {
                            let turns = (choice >> 8) % 6;
                            tokio::select! {
                                () = op => Outcome::Completed,
                                () = async {
                                    for _ in 0..turns {
                                        tokio::task::yield_now().await;
                                    }
                                } => Outcome::Dropped,
                            }
                        }
                        // Dropped after up to 2 ms.
                        _ => {
                            let micros = (choice >> 8) % 2_000;
                            match tokio::time::timeout(Duration::from_micros(micros), op).await {
                                Ok(()) => Outcome::Completed,
                                Err(_) => Outcome::Dropped,
                            }
                        }
                    }
                }));
            }
            let (mut completed, mut dropped, mut completed_signatures) = (0u32, 0u32, 0u64);
            for (i, task) in tasks.into_iter().enumerate() {
                match task.await.unwrap() {
                    Outcome::Completed => {
                        completed += 1;
                        if i % 5 != 0 {
                            completed_signatures += 1;
                        }
                    }
                    Outcome::Dropped => dropped += 1,
                }
            }
            settle(&hsm).await;
            (completed, dropped, completed_signatures)
        });
        let (sign_inits, signs) = (calls("C_SignInit") - sign_inits, calls("C_Sign") - signs);
        println!(
            "{OPS} operations: {completed} completed, {dropped} dropped; \
             {sign_inits} C_SignInit, {signs} C_Sign for {completed_signatures} signatures delivered"
        );
        // Every signature begun in a session was finished there (C_SignInit, then C_Sign for
        // the length and for the signature): none was left half-initialised in a pooled session.
        assert_eq!(signs, 2 * sign_inits);
        // Many futures were dropped while their signature ran (about a thousand on the
        // development machine): each ran to its end all the same.
        let stats = hsm.stats();
        println!("{stats:?}");
        assert_eq!(stats.started, stats.finished, "every job that started finished");
        assert!(stats.abandoned >= 100, "{stats:?}");
        assert_eq!((stats.busy, stats.deadline_waiting, stats.deadline_running), (0, 0, 0));
        assert!(
            sign_inits >= completed_signatures + 100,
            "too few drops while running: {sign_inits} begun, {completed_signatures} delivered"
        );
        assert_eq!(completed + dropped, OPS);
        // Those awaited to the end (a fifth) complete; the others seldom do.
        assert!(completed >= OPS / 10, "{completed} completed");
        assert!(dropped >= OPS / 5, "{dropped} dropped");
        assert_no_session_leaked(sandbox, &pool);

        // The pool still works after the run, synchronously too.
        let token = jws::sign_compact(&*signer, ES256, b"after", None).unwrap();
        jws::verify_compact(&token, &*public, &[ES256]).unwrap();
    }
}
