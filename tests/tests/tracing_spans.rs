//! The `tracing` spans of token calls and pool events, captured on SoftHSM around a login, a
//! signature and a decryption: they are there, with their fields, and carry no secret (the PIN,
//! the signature, the plaintext, the content key).
//!
//! Each test runs in a child process of its own (see `fault_support`), through p11-fault's
//! shim over SoftHSM: the process's first pool makes a real `C_Login`, and p11-fault injects
//! the failures whose events are captured.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fault_support::{public_of, sign_and_verify};
use hsm_core::Error;
use hsm_core::trace::{POOL_TARGET, TOKEN_TARGET};
use hsm_jose::HsmJwk;
use jose_core::{
    ContentEncryption, JwsAlgorithm, KeyManagementAlgorithm, SoftwareKey, base64url, jwe, jws,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One span (its fields as recorded by the end) or event, as text.
#[derive(Debug, Clone, Default)]
struct Captured {
    kind: &'static str,
    name: String,
    target: String,
    level: String,
    fields: Vec<(String, String)>,
}

impl Captured {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Visit for Captured {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.fields
            .push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields
            .push((field.name().to_owned(), value.to_owned()));
    }
}

/// Records every span and event into a shared list. Spans are stored at creation and their
/// later `record` calls are added to the same entry.
#[derive(Clone, Default)]
struct Capture {
    records: Arc<Mutex<Vec<Captured>>>,
    /// Span id -> index in `records`.
    spans: Arc<Mutex<Vec<(u64, usize)>>>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        let mut captured = Captured {
            kind: "span",
            name: meta.name().to_owned(),
            target: meta.target().to_owned(),
            level: meta.level().to_string(),
            fields: Vec::new(),
        };
        attrs.record(&mut captured);
        let mut records = self.records.lock().unwrap();
        records.push(captured);
        self.spans
            .lock()
            .unwrap()
            .push((id.into_u64(), records.len() - 1));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let index = self
            .spans
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(span, _)| *span == id.into_u64())
            .map(|(_, index)| *index);
        if let Some(index) = index {
            values.record(&mut self.records.lock().unwrap()[index]);
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut captured = Captured {
            kind: "event",
            name: meta.name().to_owned(),
            target: meta.target().to_owned(),
            level: meta.level().to_string(),
            fields: Vec::new(),
        };
        event.record(&mut captured);
        self.records.lock().unwrap().push(captured);
    }
}

fault_test! {
    /// A login, a signature and a decryption (in a child process of its own, through p11-fault
    /// passing every call to SoftHSM): the spans, their fields, no secret.
    fn token_calls_are_spans_with_their_fields_and_no_secrets(sandbox) {
    let pin = sandbox.token.pin.expose_secret().to_owned();
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let plaintext = "the plaintext nobody may log: 7f3a9c";
    let payload = b"a payload to sign";

    let (signature, cek_b64, slot) = tracing::subscriber::with_default(subscriber, || {
        // Login (at the pool's build), a signature and a decryption, all in the token.
        let pool = sandbox.builder().max_sessions(2).build().unwrap();
        let ec = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let compact = jws::sign_compact(&ec, JwsAlgorithm::ES256, payload, None).unwrap();
        let rsa = HsmJwk::from_label(&pool, "rsa-2048").unwrap();
        let public = SoftwareKey::from_json(&rsa.public_json().unwrap()).unwrap();
        let alg = KeyManagementAlgorithm::RsaOaep;
        let enc = ContentEncryption::A256Gcm;
        let encrypted =
            jwe::encrypt_compact(&public, alg, enc, plaintext.as_bytes(), None).unwrap();
        let decrypted = jwe::decrypt_compact(&encrypted, &rsa, &[alg], &[enc]).unwrap();
        assert_eq!(decrypted.plaintext(), plaintext.as_bytes());
        // AES key wrap in the token: the CEK goes in and out as a session object.
        let aes = HsmJwk::from_label(&pool, "aes-256").unwrap();
        let kw = KeyManagementAlgorithm::A256KW;
        let wrapped = jwe::encrypt_compact(&aes, kw, enc, plaintext.as_bytes(), None).unwrap();
        let unwrapped = jwe::decrypt_compact(&wrapped, &aes, &[kw], &[enc]).unwrap();
        assert_eq!(unwrapped.plaintext(), plaintext.as_bytes());
        let signature = compact.rsplit('.').next().unwrap().to_owned();
        // The encrypted key of the JWE (what C_Decrypt consumed).
        let encrypted_key = encrypted.split('.').nth(1).unwrap().to_owned();
        (signature, encrypted_key, pool.slot().id().to_string())
    });

    let records = capture.records.lock().unwrap().clone();
    let token_spans: Vec<&Captured> = records
        .iter()
        .filter(|r| r.kind == "span" && r.target == TOKEN_TARGET)
        .collect();
    let names: Vec<&str> = token_spans
        .iter()
        .filter_map(|s| s.field("function"))
        .collect();
    println!("token calls: {names:?}");
    assert!(token_spans.iter().all(|s| s.name == "pkcs11"));

    let find = |function: &str, mechanism: Option<&str>| -> &Captured {
        token_spans
            .iter()
            .copied()
            .find(|s| s.field("function") == Some(function) && s.field("mechanism") == mechanism)
            .unwrap_or_else(|| panic!("no {function} span with mechanism {mechanism:?}: {names:?}"))
    };
    // The login: no mechanism, the pool's slot, accepted.
    let login = find("C_Login", None);
    assert_eq!(login.level, "DEBUG");
    assert_eq!(login.field("slot"), Some(slot.as_str()));
    assert_eq!(login.field("rv"), Some("CKR_OK"));
    assert!(login.field("duration_us").is_some());
    // The signature (ECDSA over the SHA-256 digest) and the OAEP decryption of the CEK. The
    // key's first use also probes OAEP with SHA-256 by a C_Decrypt that SoftHSM 2.6 refuses
    // (CKR_ARGUMENTS_BAD): traced as well, as every token call is.
    let oaep_decrypts: Vec<Option<&str>> = token_spans
        .iter()
        .filter(|s| {
            s.field("function") == Some("C_Decrypt")
                && s.field("mechanism") == Some("CKM_RSA_PKCS_OAEP")
        })
        .map(|s| s.field("rv"))
        .collect();
    assert_eq!(
        oaep_decrypts,
        [Some("CKR_ARGUMENTS_BAD"), Some("CKR_OK")],
        "the probe, then the decryption"
    );
    for (function, mechanism) in [("C_Sign", "CKM_ECDSA"), ("C_Decrypt", "CKM_RSA_PKCS_OAEP")] {
        let span = token_spans
            .iter()
            .copied()
            .find(|s| {
                s.field("function") == Some(function)
                    && s.field("mechanism") == Some(mechanism)
                    && s.field("rv") == Some("CKR_OK")
            })
            .unwrap_or_else(|| panic!("no successful {function} span: {names:?}"));
        assert_eq!(span.level, "DEBUG");
        assert_eq!(span.field("slot"), Some(slot.as_str()), "{span:?}");
        let duration: u64 = span.field("duration_us").unwrap().parse().unwrap();
        assert!(duration < 60_000_000, "{span:?}");
    }
    // The AES key wrap: the CEK object created, wrapped and destroyed; on the way back,
    // unwrapped, read and destroyed.
    for (function, mechanism) in [
        ("C_CreateObject", None),
        ("C_WrapKey", Some("CKM_AES_KEY_WRAP")),
        ("C_UnwrapKey", Some("CKM_AES_KEY_WRAP")),
        ("C_DestroyObject", None),
    ] {
        let span = find(function, mechanism);
        assert_eq!(span.field("rv"), Some("CKR_OK"), "{span:?}");
    }
    let destroyed = token_spans
        .iter()
        .filter(|s| s.field("function") == Some("C_DestroyObject"))
        .count();
    assert_eq!(destroyed, 2, "{names:?}");
    // Opening a session and reading attributes are there too; reads at TRACE.
    assert_eq!(find("C_OpenSession", None).field("rv"), Some("CKR_OK"));
    assert_eq!(find("C_GetAttributeValue", None).level, "TRACE");
    // Each token call ends with one event carrying its return value.
    let call_events = records
        .iter()
        .filter(|r| r.kind == "event" && r.target == TOKEN_TARGET)
        .count();
    assert_eq!(call_events, token_spans.len());
    // The pool's events: the session opened, the login (its user type only).
    let pool_events: Vec<&Captured> = records
        .iter()
        .filter(|r| r.kind == "event" && r.target == POOL_TARGET)
        .collect();
    assert!(
        pool_events
            .iter()
            .any(|e| e.field("message") == Some("session opened"))
    );
    let logged_in = pool_events
        .iter()
        .find(|e| e.field("message") == Some("logged in"))
        .expect("a login event");
    assert_eq!(logged_in.field("user_type"), Some("CKU_USER"));

    // No secret anywhere: not the PIN, not the signature (as sent, or its bytes in hex or as
    // a byte list), not the plaintext, not the encrypted key.
    let signature_bytes = base64url::decode("signature", &signature).unwrap();
    let hex: String = signature_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let byte_list = format!("{:?}", &signature_bytes[..8]);
    let byte_list = &byte_list[1..byte_list.len() - 1];
    let forbidden = [
        pin.as_str(),
        signature.as_str(),
        hex.as_str(),
        byte_list,
        plaintext,
        "7f3a9c",
        cek_b64.as_str(),
    ];
    for record in &records {
        let text = format!("{} {:?}", record.name, record.fields);
        for secret in forbidden {
            assert!(
                !text.contains(secret),
                "a recorded {} {} carries a secret: {text}",
                record.kind,
                record.name
            );
        }
    }
}
}

/// The events of `target` with `message`.
fn events<'a>(records: &'a [Captured], target: &str, message: &str) -> Vec<&'a Captured> {
    records
        .iter()
        .filter(|r| r.kind == "event" && r.target == target && r.field("message") == Some(message))
        .collect()
}

fault_test! {
    /// A lost session: the failed call's span has its return value, the pool warns with the
    /// classification and reports the recovery; a wait and a timeout are reported too.
    fn lost_sessions_waits_and_timeouts_are_events(sandbox) {
        let pool = sandbox.builder().max_sessions(1).build().unwrap();
        let key = HsmJwk::from_label(&pool, "ec-p256").unwrap();
        let public = public_of(&key);
        sandbox.set_rules("C_SignInit nth=1 rv=CKR_SESSION_HANDLE_INVALID\n");
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::with_default(subscriber, || {
            sign_and_verify(&key, &public, JwsAlgorithm::ES256, b"payload").unwrap();
        });
        sandbox.clear_rules();
        let records = capture.records.lock().unwrap().clone();
        let failed = records
            .iter()
            .find(|r| r.kind == "span" && r.field("rv") == Some("CKR_SESSION_HANDLE_INVALID"))
            .unwrap_or_else(|| panic!("no failed token call: {records:?}"));
        assert_eq!(failed.field("function"), Some("C_Sign"));
        assert_eq!(failed.field("mechanism"), Some("CKM_ECDSA"));
        let lost = events(&records, POOL_TARGET, "session or login lost: recovering");
        assert_eq!(lost.len(), 1, "{records:?}");
        assert_eq!(lost[0].level, "WARN");
        assert_eq!(lost[0].field("recovery"), Some("NewSession"));
        assert_eq!(lost[0].field("function"), Some("C_SignInit"));
        assert_eq!(lost[0].field("rv"), Some("CKR_SESSION_HANDLE_INVALID"));
        let recovered = events(&records, POOL_TARGET, "recovered: the operation ran on a new session");
        assert_eq!(recovered.len(), 1, "{records:?}");
        assert_eq!(recovered[0].level, "INFO");
        assert_eq!(recovered[0].field("recovery"), Some("NewSession"));

        // A wait that ends in a timeout.
        let short = sandbox
            .builder()
            .max_sessions(1)
            .wait_timeout(Duration::from_millis(20))
            .build()
            .unwrap();
        let held = short.session().unwrap();
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let outcome = tracing::subscriber::with_default(subscriber, || short.session().map(drop));
        assert!(matches!(outcome, Err(Error::PoolTimeout { .. })));
        drop(held);
        let records = capture.records.lock().unwrap().clone();
        let waiting = events(&records, POOL_TARGET, "every session busy: waiting");
        assert_eq!(waiting.len(), 1, "{records:?}");
        assert_eq!(waiting[0].level, "DEBUG");
        let timeout = events(&records, POOL_TARGET, "no session free within the wait timeout");
        assert_eq!(timeout.len(), 1, "{records:?}");
        assert_eq!(timeout[0].level, "WARN");
        assert_eq!(timeout[0].field("wait_timeout_ms"), Some("20"));
        let ended = events(&records, POOL_TARGET, "wait ended");
        assert_eq!(ended.len(), 1, "{records:?}");
        let waited: u64 = ended[0].field("waited_us").unwrap().parse().unwrap();
        assert!(waited >= 20_000, "{waited}");
    }
}

fault_test! {
    /// A refused PIN: the C_Login span has the return value, the pool warns with the kind of
    /// refusal, and the PIN is in neither.
    rules = "C_Login rv=CKR_PIN_INCORRECT\n",
    fn a_refused_login_is_a_warning_without_the_pin(sandbox) {
        let pin = sandbox.token.pin.expose_secret().to_owned();
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        let built = tracing::subscriber::with_default(subscriber, || sandbox.builder().build());
        assert!(matches!(built, Err(Error::PinIncorrect)));
        let records = capture.records.lock().unwrap().clone();
        let login = records
            .iter()
            .find(|r| r.kind == "span" && r.field("function") == Some("C_Login"))
            .unwrap_or_else(|| panic!("no C_Login span: {records:?}"));
        assert_eq!(login.field("rv"), Some("CKR_PIN_INCORRECT"));
        let refused = events(&records, POOL_TARGET, "login refused");
        assert_eq!(refused.len(), 1, "{records:?}");
        assert_eq!(refused[0].level, "WARN");
        assert_eq!(refused[0].field("user_type"), Some("CKU_USER"));
        assert!(refused[0].field("error").unwrap().contains("refused the user PIN"));
        for record in &records {
            let text = format!("{} {:?}", record.name, record.fields);
            assert!(!text.contains(&pin), "the PIN in {text}");
        }
    }
}
