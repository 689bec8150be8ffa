//! Issue 13 item 10: every path that parses private key material wipes it. An allocator wrapper
//! looks at each block as it is freed: a block still holding the secret (base64url text or the
//! decoded bytes) is a copy that was freed unwiped.
//!
//! The check needs `unsafe`: a `GlobalAlloc` is an unsafe trait, and reading a block being
//! freed is a raw read. It lives in this test binary alone; the library stays
//! `#![forbid(unsafe_code)]`.
#![allow(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use jose_core::jwk::JwkSet;
use jose_core::{Jwk, SoftwareKey, base64url};

/// The marker the secret is made of: 48 bytes of it, so the base64url text and the bytes both
/// contain long runs no other data has.
const SECRET: [u8; 48] = [0xA5; 48];

static WATCHING: AtomicBool = AtomicBool::new(false);
static LEAKS: AtomicUsize = AtomicUsize::new(0);
/// One test at a time watches the allocator.
static SERIAL: Mutex<()> = Mutex::new(());

struct Watch;

fn holds_secret(block: &[u8], text: &[u8]) -> bool {
    let needle = &SECRET[..16];
    block.windows(needle.len()).any(|w| w == needle) || block.windows(16).any(|w| w == &text[..16])
}

// SAFETY: every call is forwarded to the system allocator with the same arguments.
unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if WATCHING.load(Ordering::Relaxed) && layout.size() >= 16 {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes until the call below.
            // Freed bytes that were never written are uninitialised in principle; the system
            // allocator hands out real memory, and only equality is tested.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if holds_secret(block, TEXT.as_bytes()) {
                LEAKS.fetch_add(1, Ordering::Relaxed);
            }
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Watch = Watch;

/// `SECRET` in base64url (48 bytes: 64 characters, no padding).
const TEXT: &str = "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWl";

/// Held by each test for its whole run: the watch sees every thread's frees, so no other test
/// may build or drop secrets while one is watching.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `f` with the allocator watching; returns how many freed blocks held the secret.
fn leaks(f: impl FnOnce()) -> usize {
    LEAKS.store(0, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
    f();
    WATCHING.store(false, Ordering::SeqCst);
    LEAKS.load(Ordering::SeqCst)
}

#[test]
fn wire_10_the_marker_is_what_the_watch_looks_for() {
    let _serial = serial();
    assert_eq!(base64url::encode(&SECRET), TEXT);
    // A copy of the secret freed without wiping is seen.
    assert_eq!(leaks(|| drop(String::from(TEXT))), 1);
}

#[test]
fn wire_10_parsing_a_jwk_set_wipes_private_members() {
    let _serial = serial();
    let text = format!(r#"{{"keys":[{{"kty":"oct","kid":"a","k":"{TEXT}"}}]}}"#);
    let text = zeroize::Zeroizing::new(text);
    assert_eq!(
        leaks(|| {
            let set = JwkSet::from_json(&text).unwrap();
            assert_eq!(set.len(), 1);
            let keys = jose_core::KeySet::from_jwk_set(&set).unwrap();
            assert_eq!(keys.len(), 1);
        }),
        0
    );
}

#[test]
fn wire_10_failed_parses_wipe_private_members() {
    let _serial = serial();
    for doc in [
        // A duplicate member: the parser stops with the first `k` read.
        format!(r#"{{"kty":"oct","k":"{TEXT}","k":"AA"}}"#),
        // An unsupported key type: `d` is never taken.
        format!(r#"{{"kty":"XYZ","d":"{TEXT}"}}"#),
        // A private member of another key type.
        format!(r#"{{"kty":"oct","k":"AAAA","d":"{TEXT}"}}"#),
        // A bad member after the secret was taken.
        format!(r#"{{"kty":"oct","k":"{TEXT}","key_ops":[1]}}"#),
    ] {
        let doc = zeroize::Zeroizing::new(doc);
        assert_eq!(leaks(|| drop(Jwk::from_json(&doc))), 0, "{}", &doc[..20]);
        let set = zeroize::Zeroizing::new(format!(r#"{{"keys":[{}]}}"#, doc.as_str()));
        assert_eq!(
            leaks(|| drop(JwkSet::from_json(&set))),
            0,
            "set of {}",
            &doc[..20]
        );
    }
}

#[test]
fn wire_10_software_keys_and_exports_wipe_private_members() {
    let _serial = serial();
    let doc = zeroize::Zeroizing::new(format!(r#"{{"kty":"oct","k":"{TEXT}"}}"#));
    assert_eq!(
        leaks(|| {
            let key = SoftwareKey::from_json(&doc).unwrap();
            let exported = key.jwk().to_private_json();
            assert!(exported.contains(TEXT));
            let mut set = JwkSet::new();
            set.push(key.jwk().clone().with_kid("a")).unwrap();
            set.push(key.jwk().clone().with_kid("b")).unwrap();
            assert!(set.to_private_json().contains(TEXT));
        }),
        0
    );
}
