//! A fault-injecting PKCS#11 module, for tests.
//!
//! `libp11_fault.so` is a PKCS#11 2.40 module that forwards every call to a real module
//! (SoftHSM) and, by rule, makes chosen calls fail, slow down, or report other token flags.
//! Tests load it in place of SoftHSM to prove that a library recovers from token failures, or
//! fails cleanly: a typed error, no panic, no hang, no leaked session.
//!
//! # Environment
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `P11_FAULT_TARGET` | the real module | the first of SoftHSM's usual paths that exists (`/usr/lib/softhsm/libsofthsm2.so`, ...) |
//! | `P11_FAULT_CONFIG` | the rules file | none: everything passes through |
//! | `P11_FAULT_STATS` | where to write counters; `{pid}` in it stands for the process id | none: no file is written |
//!
//! The variables are read once per process, on first use. The real module is loaded on the
//! first call (normally `C_GetFunctionList`). If it cannot be loaded, the shim says why on
//! stderr, `C_GetFunctionList` still succeeds, and every other function returns
//! `CKR_GENERAL_ERROR`. No panic crosses into C: a panic becomes `CKR_GENERAL_ERROR`.
//!
//! # Rules
//!
//! One rule a line, `FUNCTION SELECTOR... ACTION...`; `#` starts a comment:
//!
//! ```text
//! # function     selector            action
//! C_Sign         nth=3               rv=CKR_DEVICE_REMOVED
//! C_Sign         every=100           rv=CKR_SESSION_HANDLE_INVALID
//! C_Login        always              rv=CKR_PIN_LOCKED
//! C_OpenSession  after=4             rv=CKR_SESSION_COUNT
//! *              random=0.01 seed=7  rv=CKR_DEVICE_MEMORY
//! C_Sign         always              delay_ms=200
//! C_Initialize   always              rv=CKR_CRYPTOKI_ALREADY_INITIALIZED passthrough
//! C_GetTokenInfo always              flags+=CKF_USER_PIN_FINAL_TRY
//! C_OpenSession  max_open=2          rv=CKR_SESSION_COUNT
//! ```
//!
//! **Function**: a PKCS#11 name (`C_Sign`), or `*` for every function.
//!
//! **Selectors** (a rule fires when all of its selectors do; none means `always`):
//! - `always`: every call;
//! - `nth=N`: only the Nth call (1-based); `after=N`: every call after the first N;
//!   `every=N`: calls N, 2N, 3N, ...;
//! - `random=P seed=S`: each call with probability P (0 to 1), from a generator seeded with S
//!   (0 if absent): the same seed and the same order of calls give the same faults;
//! - `max_open=N`: while N or more sessions are open through the shim (opened minus closed,
//!   opens in flight included): with `rv=CKR_SESSION_COUNT` on `C_OpenSession`, a token that
//!   allows N sessions.
//!
//! Calls are counted per rule and per function, from the moment the rule was loaded: with `*`,
//! `nth=2` fires on the second `C_Sign` and on the second `C_Login`. Counts are of calls as the
//! module sees them: cryptoki's `Session::sign` makes two `C_Sign` calls (length, then
//! signature) after one `C_SignInit`.
//!
//! **Actions**:
//! - `rv=NAME`: return `NAME` (any PKCS#11 2.40 `CKR_*` name, or a number such as `0x32`)
//!   without calling the real function;
//! - `passthrough` (with `rv=`): call the real function first, then return `NAME` anyway: the
//!   session really was closed, the module really was initialised;
//! - `delay_ms=N`: sleep N ms, then go on (call through, or return the injected value);
//! - `flags+=CKF_A|CKF_B` / `flags-=...` (`C_GetTokenInfo` or `*`): set or clear token flags
//!   in the real answer, e.g. `CKF_USER_PIN_FINAL_TRY`, `CKF_USER_PIN_LOCKED`,
//!   `CKF_USER_PIN_COUNT_LOW`.
//! - `garble_utc_time` (`C_GetTokenInfo` or `*`): answer as openCryptoki's soft token does,
//!   with `CKF_CLOCK_ON_TOKEN` set and a `utcTime` of sixteen blanks, which no parser of the
//!   `YYYYMMDDhhmmss00` format accepts.
//!
//! When several rules fire on one call, delays add up, flags combine, and the first rule with
//! `rv=` (in file order) decides the value returned.
//!
//! An injected error that ends an operation in PKCS#11 (`C_Sign`, `C_Decrypt`, `C_SignUpdate`,
//! `C_SignFinal`, `C_Verify`, ... but not `CKR_BUFFER_TOO_SMALL`) also ends it in the real
//! module (the shim finishes it into a scratch buffer), so the next `C_SignInit` works as on a
//! real token instead of failing with `CKR_OPERATION_ACTIVE`.
//!
//! A line that does not parse is reported on stderr (one line, with its number) and ignored;
//! the other rules still apply.
//!
//! ## Changing the rules mid-run
//!
//! The shim looks at the file's modification time, length and inode at most every
//! [`harness::RELOAD_INTERVAL`] (5 ms) and re-reads it when they change; a missing file means
//! no rules. Replace the file atomically (write a temporary file, rename it over) so the shim
//! never reads half a file: [`harness::write_rules`] does that and waits until the change is
//! sure to be seen. A reload starts every rule's counters (and random sequence) afresh.
//!
//! # Stats
//!
//! With `P11_FAULT_STATS` set, the shim rewrites that file (atomically) after every call:
//!
//! ```text
//! # p11-fault stats: rewritten whole after every call
//! pid 4242
//! reloads 2
//! rules 1
//! rule_errors 0
//! sessions_open 1
//! sessions_opened 5
//! sessions_closed 4
//! C_Initialize calls=1 faults=0 delayed=0
//! C_OpenSession calls=5 faults=0 delayed=0
//! ```
//!
//! `sessions_open` counts sessions opened through the shim and not yet closed (by
//! `C_CloseSession`, `C_CloseAllSessions`, `C_Finalize`, or a new `C_Initialize`), as the real
//! module reports them: a session opened with `passthrough` and an injected error is open. A
//! function line appears once the function has been called; `faults` counts injected return
//! values, `delayed` delayed calls. [`harness::Stats`] reads the file.
//!
//! # Fork
//!
//! No "initialised" state is kept: every `C_Initialize` (a forked child's included) reaches the
//! real module, and a successful one forgets the sessions the shim knew of.
//!
//! # Finding the module in a test
//!
//! `cargo test` builds the `cdylib` before the tests into `target/<profile>/deps/`, beside the
//! test executables (for this crate's tests, and for a crate that dev-depends on this one);
//! only `cargo build` copies it up to `target/<profile>/`, where it can be stale.
//! [`harness::shim_path`] looks in both places, relative to `std::env::current_exe()`, and
//! takes the newer file.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod engine;
// The C interface cannot be written without unsafe code; it is confined to this module, each
// block with its safety argument. Everything else stays under the workspace's `deny`.
#[allow(unsafe_code)]
mod ffi;
mod functions;
pub mod harness;
mod names;
mod rules;
// The table of SoftHSM's install paths, shared with hsm-core (`hsm_core::module::search`):
// the same file, included rather than depended on, so that the shim that tests hsm-core does
// not link the code under test. The file uses `std` only.
#[path = "../../hsm-core/src/module/search.rs"]
#[allow(dead_code, unreachable_pub)] // the shim and its harness use the SoftHSM part only
mod search;
