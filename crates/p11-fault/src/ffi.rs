//! The C side: the exported `C_GetFunctionList`, the shim's function list, one wrapper per
//! PKCS#11 function, and the loading of the real module.
//!
//! This is the only module that may use `unsafe` (see `lib.rs`). Every wrapper goes through
//! [`intercept`], which catches panics (none may cross into C), asks the engine what to do,
//! and then returns an injected value, sleeps, or calls the real function with the caller's
//! arguments unchanged.

#![allow(non_snake_case)] // the wrappers carry the C names, so the function list reads 1:1

use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::ptr;
use std::sync::OnceLock;
use std::time::Instant;

use cryptoki_sys::*;

use crate::engine::{self, Decision, Injection, engine, log};
use crate::functions::{Func, pkcs11_functions};

/// The environment variable naming the real module.
pub(crate) const ENV_TARGET: &str = "P11_FAULT_TARGET";

/// Decrypted or signed output larger than this is not drained into a scratch buffer (see
/// [`end_single`]); no test needs more.
const MAX_SCRATCH: usize = 64 << 20;

/// Returns the shim's function list: every entry is a wrapper around the real module's.
///
/// This succeeds even when the real module cannot be loaded (the reason is logged to stderr);
/// every other function then returns `CKR_GENERAL_ERROR`. Rules for `C_GetFunctionList`
/// apply to this call too.
///
/// # Safety
///
/// `list` must be null or valid for writing one pointer, as PKCS#11 requires. The list
/// written there is read-only: writing through it is undefined behaviour.
#[unsafe(no_mangle)]
#[allow(unreachable_pub)] // exported by symbol name from the .so, not as a Rust path
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    // SAFETY: the same contract, passed on unchanged.
    unsafe { wrappers::C_GetFunctionList(list) }
}

/// The real module, loaded once per process and never unloaded.
struct Target {
    /// Kept so the module stays loaded for as long as the process runs (statics are never
    /// dropped), which is what makes `list` valid for `'static`.
    _library: libloading::Library,
    list: &'static CK_FUNCTION_LIST,
}

static TARGET: OnceLock<Option<Target>> = OnceLock::new();

/// The real module's function list, loading the module on first use; `None` (logged once)
/// when it cannot be loaded.
fn real_functions() -> Option<&'static CK_FUNCTION_LIST> {
    TARGET
        .get_or_init(load_target)
        .as_ref()
        .map(|target| target.list)
}

fn load_target() -> Option<Target> {
    let path = match std::env::var_os(ENV_TARGET) {
        Some(path) => PathBuf::from(path),
        // Where the real module is looked for when `P11_FAULT_TARGET` is not set: SoftHSM at
        // the paths hsm-core looks at (one table, shared through `crate::search`).
        None => match crate::search::softhsm_path() {
            Some(path) => path,
            None => {
                log(&format!(
                    "no real PKCS#11 module: set {ENV_TARGET} (SoftHSM is not in {:?}); \
                     every call will return CKR_GENERAL_ERROR",
                    crate::search::SOFTHSM_PATHS
                ));
                return None;
            }
        },
    };
    let fail = |why: String| {
        log(&format!(
            "cannot use {ENV_TARGET} module {}: {why}; every call will return CKR_GENERAL_ERROR",
            path.display()
        ));
        None
    };
    // SAFETY: loading a library runs its initialisers. The library is the PKCS#11 module the
    // test configuration names, loaded exactly as any PKCS#11 application would load it.
    let library = match unsafe { libloading::Library::new(&path) } {
        Ok(library) => library,
        Err(err) => return fail(err.to_string()),
    };
    type GetFunctionList = unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV;
    // SAFETY: every PKCS#11 module exports `C_GetFunctionList` with exactly this signature.
    // The function pointer is copied out; it stays valid because `library` is kept loaded.
    let get_function_list = match unsafe { library.get::<GetFunctionList>(b"C_GetFunctionList\0") }
    {
        Ok(symbol) => *symbol,
        Err(err) => return fail(err.to_string()),
    };
    // Forwarding to ourselves would recurse (and first re-enter this very initialisation): loading
    // the shim's own path again yields the same library, so its `C_GetFunctionList` is ours.
    if ptr::fn_addr_eq(get_function_list, C_GetFunctionList as GetFunctionList) {
        return fail("that is this shim itself".to_owned());
    }
    let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
    // SAFETY: `list` is a valid place for the module to write one pointer.
    let rv = unsafe { get_function_list(&mut list) };
    if rv != CKR_OK || list.is_null() {
        return fail(format!(
            "C_GetFunctionList returned {}",
            crate::names::rv_name(rv)
        ));
    }
    // SAFETY: the module returned CKR_OK and a non-null pointer to its function list, which it
    // owns and keeps for as long as it is loaded; `library` is kept loaded for good (above).
    // PKCS#11 forbids the application to change the list, and nothing here does.
    let list: &'static CK_FUNCTION_LIST = unsafe { &*list };
    Some(Target {
        _library: library,
        list,
    })
}

/// Runs `f`, turning a panic into `CKR_GENERAL_ERROR`: unwinding into C is undefined
/// behaviour (Rust aborts the process instead), and a test tool must fail cleanly.
fn guarded(f: impl FnOnce() -> CK_RV) -> CK_RV {
    // AssertUnwindSafe: after a panic nothing of `f`'s is looked at again; the engine's mutex
    // tolerates poisoning (see `engine::engine`).
    let rv = panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or(CKR_GENERAL_ERROR);
    // Publishing touches files only; a panic there must not escape either.
    let _ = panic::catch_unwind(engine::publish_stats);
    rv
}

/// The heart of every wrapper.
///
/// `call` calls the real function (with the caller's arguments) and does any bookkeeping on
/// its result; it gets the decision for `flags+=`. `end_operation` runs when an error is
/// injected without calling through, to end the real module's operation the way a real
/// token's error would (PKCS#11 says an error from `C_Sign`, `C_SignUpdate`, ... terminates
/// the operation; without this the real module would answer the next `C_SignInit` with
/// `CKR_OPERATION_ACTIVE`). `CKR_BUFFER_TOO_SMALL` does not end an operation.
fn intercept(
    func: Func,
    call: impl FnOnce(&'static CK_FUNCTION_LIST, &Decision) -> CK_RV,
    end_operation: impl FnOnce(&'static CK_FUNCTION_LIST),
) -> CK_RV {
    guarded(|| {
        let Some(real) = real_functions() else {
            return CKR_GENERAL_ERROR;
        };
        let decision = engine().decide(func, Instant::now());
        if !decision.delay.is_zero() {
            std::thread::sleep(decision.delay);
        }
        match decision.inject {
            None => call(real, &decision),
            Some(Injection {
                rv,
                passthrough: true,
            }) => {
                call(real, &decision);
                rv
            }
            Some(Injection {
                rv,
                passthrough: false,
            }) => {
                if rv != CKR_BUFFER_TOO_SMALL {
                    end_operation(real);
                }
                rv
            }
        }
    })
}

/// Calls `real.$name(args...)`, or returns `CKR_FUNCTION_NOT_SUPPORTED` if the real module
/// left that entry empty.
macro_rules! forward {
    ($real:ident . $name:ident ( $($arg:expr),* )) => {
        match $real.$name {
            // SAFETY: the real module's own function, called with the arguments the caller gave
            // the shim, unchanged and within the caller's call: the caller's PKCS#11
            // obligations for this call are exactly the real function's preconditions.
            Some(f) => unsafe { f($($arg),*) },
            None => CKR_FUNCTION_NOT_SUPPORTED,
        }
    };
}

/// A single-part operation with output (`C_Sign`, `C_Decrypt`, ...): finishes it into a
/// scratch buffer, so the real module's operation ends as the injected error says it did.
fn end_single(f: CK_C_Sign, session: CK_SESSION_HANDLE, data: *mut CK_BYTE, data_len: CK_ULONG) {
    let Some(f) = f else { return };
    let mut len: CK_ULONG = 0;
    // SAFETY: `data`/`data_len` are the caller's input for this very call, still valid; a null
    // output pointer asks only for the length, written to a local.
    if unsafe { f(session, data, data_len, ptr::null_mut(), &mut len) } != CKR_OK {
        return; // an error has ended the operation already
    }
    let Some(mut scratch) = scratch(len) else {
        return;
    };
    // SAFETY: as above, and `scratch` is writable for `len` bytes.
    unsafe { f(session, data, data_len, scratch.as_mut_ptr(), &mut len) };
    scratch.fill(0);
}

/// The end of a multi-part operation with output (`C_SignFinal`, ...), into a scratch buffer.
fn end_final(f: CK_C_SignFinal, session: CK_SESSION_HANDLE) {
    let Some(f) = f else { return };
    let mut len: CK_ULONG = 0;
    // SAFETY: a null output pointer asks only for the length, written to a local.
    if unsafe { f(session, ptr::null_mut(), &mut len) } != CKR_OK {
        return;
    }
    let Some(mut scratch) = scratch(len) else {
        return;
    };
    // SAFETY: `scratch` is writable for `len` bytes.
    unsafe { f(session, scratch.as_mut_ptr(), &mut len) };
    scratch.fill(0);
}

/// Ends a multi-part verification with an empty signature, which the module must reject,
/// ending the operation.
fn end_verify(f: CK_C_VerifyFinal, session: CK_SESSION_HANDLE) {
    let Some(f) = f else { return };
    let mut empty = [0u8; 1];
    // SAFETY: `empty` is valid for reading the 0 bytes announced (non-null, as some modules
    // reject a null signature before ending the operation).
    unsafe { f(session, empty.as_mut_ptr(), 0) };
}

fn scratch(len: CK_ULONG) -> Option<Vec<u8>> {
    let len = usize::try_from(len)
        .ok()
        .filter(|len| *len <= MAX_SCRATCH)?;
    Some(vec![0; len.max(1)])
}

/// One wrapper, by kind (see `functions.rs`).
macro_rules! wrapper {
    (special $name:ident ($($arg:ident : $ty:ty),*)) => {};
    (plain $name:ident ($($arg:ident : $ty:ty),*)) => {
        pub(super) unsafe extern "C" fn $name($($arg: $ty),*) -> CK_RV {
            intercept(Func::$name, |real, _| forward!(real.$name($($arg),*)), |_| {})
        }
    };
    (input $name:ident ($($arg:ident : $ty:ty),*)) => {
        pub(super) unsafe extern "C" fn $name($($arg: $ty),*) -> CK_RV {
            intercept(
                Func::$name,
                |real, _| forward!(real.$name($($arg),*)),
                // Inputs only, nothing written back: calling it as given ends the operation.
                |real| { forward!(real.$name($($arg),*)); },
            )
        }
    };
    (single $name:ident ($session:ident : $t1:ty, $data:ident : $t2:ty, $data_len:ident : $t3:ty,
                         $out:ident : $t4:ty, $out_len:ident : $t5:ty)) => {
        pub(super) unsafe extern "C" fn $name(
            $session: $t1, $data: $t2, $data_len: $t3, $out: $t4, $out_len: $t5,
        ) -> CK_RV {
            intercept(
                Func::$name,
                |real, _| forward!(real.$name($session, $data, $data_len, $out, $out_len)),
                |real| end_single(real.$name, $session, $data, $data_len),
            )
        }
    };
    (finish $name:ident ($session:ident : $t1:ty, $out:ident : $t2:ty, $out_len:ident : $t3:ty)) => {
        pub(super) unsafe extern "C" fn $name($session: $t1, $out: $t2, $out_len: $t3) -> CK_RV {
            intercept(
                Func::$name,
                |real, _| forward!(real.$name($session, $out, $out_len)),
                |real| end_final(real.$name, $session),
            )
        }
    };
    (update(C_VerifyFinal) $name:ident ($session:ident : $t1:ty $(, $arg:ident : $ty:ty)*)) => {
        pub(super) unsafe extern "C" fn $name($session: $t1 $(, $arg: $ty)*) -> CK_RV {
            intercept(
                Func::$name,
                |real, _| forward!(real.$name($session $(, $arg)*)),
                |real| end_verify(real.C_VerifyFinal, $session),
            )
        }
    };
    (update($final:ident) $name:ident ($session:ident : $t1:ty $(, $arg:ident : $ty:ty)*)) => {
        pub(super) unsafe extern "C" fn $name($session: $t1 $(, $arg: $ty)*) -> CK_RV {
            intercept(
                Func::$name,
                |real, _| forward!(real.$name($session $(, $arg)*)),
                |real| end_final(real.$final, $session),
            )
        }
    };
}

/// All wrappers, and the function list that points at them.
macro_rules! define_wrappers {
    ($($kind:ident $(($final:ident))? $name:ident ($($arg:ident : $ty:ty),* $(,)?);)*) => {
        /// One `unsafe extern "C"` wrapper per PKCS#11 function. Each has the contract of the
        /// PKCS#11 function it is named after.
        mod wrappers {
            use super::*;

            $(wrapper!($kind $(($final))? $name ($($arg : $ty),*));)*

            pub(super) unsafe extern "C" fn C_GetFunctionList(
                list: *mut *mut CK_FUNCTION_LIST,
            ) -> CK_RV {
                guarded(|| {
                    // Load the real module now, so that a bad target is reported at once.
                    let _ = real_functions();
                    let decision = engine().decide(Func::C_GetFunctionList, Instant::now());
                    if !decision.delay.is_zero() {
                        std::thread::sleep(decision.delay);
                    }
                    if let Some(Injection { rv, passthrough: false }) = decision.inject {
                        return rv;
                    }
                    if list.is_null() {
                        return CKR_ARGUMENTS_BAD;
                    }
                    // SAFETY: the caller passed a non-null place for one pointer (PKCS#11).
                    // The list is a static, valid for the life of the process.
                    unsafe { *list = (&raw const FUNCTION_LIST).cast_mut() };
                    decision.inject.map_or(CKR_OK, |i| i.rv)
                })
            }

            pub(super) unsafe extern "C" fn C_Initialize(init_args: *mut c_void) -> CK_RV {
                intercept(
                    Func::C_Initialize,
                    |real, _| {
                        // Always forwarded, with no "already initialised" state kept here: a
                        // forked child's C_Initialize must reach the real module.
                        let rv = forward!(real.C_Initialize(init_args));
                        if rv == CKR_OK {
                            engine().all_closed();
                        }
                        rv
                    },
                    |_| {},
                )
            }

            pub(super) unsafe extern "C" fn C_Finalize(reserved: *mut c_void) -> CK_RV {
                intercept(
                    Func::C_Finalize,
                    |real, _| {
                        let rv = forward!(real.C_Finalize(reserved));
                        if rv == CKR_OK {
                            engine().all_closed();
                        }
                        rv
                    },
                    |_| {},
                )
            }

            pub(super) unsafe extern "C" fn C_GetTokenInfo(
                slot: CK_SLOT_ID,
                info: *mut CK_TOKEN_INFO,
            ) -> CK_RV {
                intercept(
                    Func::C_GetTokenInfo,
                    |real, decision| {
                        let rv = forward!(real.C_GetTokenInfo(slot, info));
                        let change = decision.flags_set | decision.flags_clear != 0
                            || decision.garble_utc_time;
                        if rv == CKR_OK && change && !info.is_null() {
                            // SAFETY: the caller gave `info` for the module to fill, and the
                            // real module has just filled it (CKR_OK): it is a valid, writable
                            // CK_TOKEN_INFO, and no one else touches it during this call.
                            let info = unsafe { &mut *info };
                            info.flags = (info.flags | decision.flags_set) & !decision.flags_clear;
                            if decision.garble_utc_time {
                                // What openCryptoki's soft token answers: a clock on the
                                // token, and a time of blanks.
                                info.flags |= CKF_CLOCK_ON_TOKEN;
                                info.utcTime = [b' '; 16];
                            }
                        }
                        rv
                    },
                    |_| {},
                )
            }

            pub(super) unsafe extern "C" fn C_OpenSession(
                slot: CK_SLOT_ID,
                flags: CK_FLAGS,
                application: *mut c_void,
                notify: CK_NOTIFY,
                session: *mut CK_SESSION_HANDLE,
            ) -> CK_RV {
                intercept(
                    Func::C_OpenSession,
                    |real, _| {
                        let rv =
                            forward!(real.C_OpenSession(slot, flags, application, notify, session));
                        let opened = (rv == CKR_OK && !session.is_null()).then(|| {
                            // SAFETY: the real module returned CKR_OK, so it wrote the new
                            // handle to the caller's non-null `session`.
                            (unsafe { *session }, slot)
                        });
                        // Called exactly once per call that went through (engine contract).
                        engine().open_finished(opened);
                        rv
                    },
                    |_| {},
                )
            }

            pub(super) unsafe extern "C" fn C_CloseSession(session: CK_SESSION_HANDLE) -> CK_RV {
                intercept(
                    Func::C_CloseSession,
                    |real, _| {
                        let rv = forward!(real.C_CloseSession(session));
                        if matches!(rv, CKR_OK | CKR_SESSION_HANDLE_INVALID | CKR_SESSION_CLOSED) {
                            engine().session_closed(session);
                        }
                        rv
                    },
                    |_| {},
                )
            }

            pub(super) unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
                intercept(
                    Func::C_CloseAllSessions,
                    |real, _| {
                        let rv = forward!(real.C_CloseAllSessions(slot));
                        if rv == CKR_OK {
                            engine().slot_closed(slot);
                        }
                        rv
                    },
                    |_| {},
                )
            }
        }

        /// The shim's function list, as `C_GetFunctionList` hands it out.
        static FUNCTION_LIST: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
            version: CK_VERSION { major: 2, minor: 40 },
            $($name: Some(wrappers::$name),)*
        };
    };
}
pkcs11_functions!(define_wrappers);
