//! hsm-core against SoftHSM: loading modules, finding tokens, mechanisms, configuration from the
//! environment and from URIs, token administration.

// Every function of this test crate is test code, helpers included; clippy.toml's
// allow-*-in-tests only covers #[test] functions themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use hsm_core::cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use hsm_core::cryptoki::mechanism::MechanismType;
use hsm_core::key::{KeySelector, find_key};
use hsm_core::pool::PoolBuilder;
use hsm_core::{
    Error, KeySpec, KeyUsage, Module, Pin, Pkcs11Uri, SessionPool, admin, generate_key_pair,
};
use hsm_jose_tests::fixture::{self, TokenFixture};
use hsm_jose_tests::suite_token;

fn token() -> TokenFixture {
    suite_token!()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_missing_module_is_reported_with_its_path() {
    let _token = fixture::shared();
    let path = "/nonexistent/dir/libpkcs11-missing.so";
    let error = Module::load(path).unwrap_err();
    assert!(
        matches!(&error, Error::ModuleLoad { path: p, .. } if p == Path::new(path)),
        "{error:?}"
    );
    assert!(error.to_string().contains(path), "{error}");
    let error = SessionPool::new(path, "whatever", Pin::new("1234")).unwrap_err();
    assert!(matches!(error, Error::ModuleLoad { .. }), "{error:?}");
}

#[test]
fn a_file_that_is_not_a_library_is_reported_with_its_path() {
    let _token = fixture::shared();
    let file = scratch_dir("not-a-library").join("hostname.so");
    std::fs::write(&file, "just some text\n").unwrap();
    for path in [file.as_path(), Path::new("/etc/hostname")] {
        if !path.exists() {
            continue; // /etc/hostname is absent in some containers; the scratch file is not.
        }
        let error = Module::load(path).unwrap_err();
        assert!(matches!(error, Error::ModuleLoad { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }
}

#[test]
fn a_library_that_is_not_a_pkcs11_module_is_reported() {
    let _token = fixture::shared();
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
        "/usr/lib/aarch64-linux-gnu/libc.so.6",
        "/lib64/libc.so.6",
        "/usr/lib/libc.so.6",
    ]
    .into_iter()
    .map(Path::new)
    .find(|p| p.exists())
    .expect("a libc to load");
    let error = Module::load(libc).unwrap_err();
    println!("{error}");
    assert!(matches!(error, Error::ModuleLoad { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&libc.display().to_string()), "{message}");
    assert!(message.contains("not a PKCS#11 module"), "{message}");
}

#[test]
fn pools_on_one_module_share_one_instance() {
    let _token = fixture::shared();
    let token = token();
    let a = token.pool();
    let b = token.builder().max_sessions(2).build().unwrap();
    assert!(a.module().same_instance(b.module()));
    assert!(
        Module::load(&token.module)
            .unwrap()
            .same_instance(a.module())
    );
    // Through a symlink the canonical path is the same, and so is the instance.
    let link = scratch_dir("module-link").join("libsofthsm2-link.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(a.module().path(), &link).unwrap();
    assert!(Module::load(&link).unwrap().same_instance(a.module()));
    assert!(
        !a.module().is_adopted(),
        "hsm-core initialised SoftHSM in this process itself"
    );
    assert_eq!(a.slot(), b.slot());
}

#[test]
fn an_already_initialised_module_is_adopted() {
    // A second SoftHSM instance reads the token directory: not while a token is being created.
    let _token = fixture::exclusive();
    let token = token();
    // A private copy of the library is a separate instance, which nobody in this process has
    // initialised yet: initialise it the way another library would, then load it.
    let copy = scratch_dir("module-copy").join("libsofthsm2-copy.so");
    std::fs::copy(std::fs::canonicalize(&token.module).unwrap(), &copy).unwrap();
    let other_library = Pkcs11::new(&copy).unwrap();
    other_library
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let module = Module::load(&copy).unwrap();
    assert!(module.is_adopted());
    assert!(
        module
            .tokens()
            .unwrap()
            .iter()
            .any(|t| t.label == token.label)
    );
    // Loading again returns the same adopted instance.
    assert!(Module::load(&copy).unwrap().same_instance(&module));
}

#[test]
fn tokens_are_listed_and_found_by_label() {
    let _token = fixture::shared();
    let token = token();
    let module = Module::load(&token.module).unwrap();
    let tokens = module.tokens().unwrap();
    let mine = tokens
        .iter()
        .find(|t| t.label == token.label)
        .expect("the suite's token");
    assert!(mine.initialized);
    assert!(!mine.serial.is_empty());
    assert!(
        tokens.iter().any(|t| !t.initialized),
        "SoftHSM always offers a free slot"
    );
    assert_eq!(module.find_token(&token.label).unwrap(), mine.slot);
    let slots = module.slots().unwrap();
    assert!(tokens.iter().all(|t| slots.contains(&t.slot)), "{slots:?}");
}

#[test]
fn an_unknown_token_label_lists_the_labels_present() {
    let _token = fixture::shared();
    let token = token();
    let error = SessionPool::new(&token.module, "no-such-token", token.pin.clone()).unwrap_err();
    println!("{error}");
    match &error {
        Error::TokenNotFound {
            label,
            available,
            unreadable,
        } => {
            assert_eq!(label, "no-such-token");
            assert!(available.contains(&token.label), "{available:?}");
            assert!(unreadable.is_empty(), "{unreadable:?}");
        }
        other => panic!("expected TokenNotFound, got {other:?}"),
    }
    assert!(error.to_string().contains(&token.label), "{error}");
    assert!(error.is_not_found());
}

#[test]
fn mechanisms_are_read_once_and_queried() {
    let _token = fixture::shared();
    let token = token();
    let pool = token.pool();
    for mechanism in [
        MechanismType::RSA_PKCS_OAEP,
        MechanismType::EDDSA,
        MechanismType::ECDSA,
        MechanismType::ECDH1_DERIVE,
        MechanismType::AES_GCM,
        MechanismType::AES_KEY_WRAP,
        MechanismType::SHA256_HMAC,
        MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
    ] {
        assert!(pool.supports(mechanism), "{mechanism}");
        pool.require(mechanism).unwrap();
    }
    let listed = pool.module().mechanisms(pool.slot()).unwrap();
    assert_eq!(listed.as_slice(), pool.mechanisms());
    // What the token says about each mechanism (C_GetMechanismInfo, read once): the
    // operations and the key sizes.
    let ecdsa = pool.mechanism_info(MechanismType::ECDSA).unwrap();
    assert!(ecdsa.sign() && ecdsa.verify() && !ecdsa.decrypt());
    assert!(
        ecdsa.min_key_size() <= 256 && ecdsa.max_key_size() >= 521,
        "{ecdsa:?}"
    );
    let oaep = pool.mechanism_info(MechanismType::RSA_PKCS_OAEP).unwrap();
    assert!(oaep.decrypt() && oaep.encrypt() && !oaep.sign());
    assert!(
        oaep.min_key_size() <= 2048 && oaep.max_key_size() >= 4096,
        "{oaep:?}"
    );
    let derive = pool.mechanism_info(MechanismType::ECDH1_DERIVE).unwrap();
    assert!(derive.derive() && !derive.sign());
    let generate = pool
        .mechanism_info(MechanismType::ECC_EDWARDS_KEY_PAIR_GEN)
        .unwrap();
    assert!(generate.generate_key_pair());
    assert!(
        pool.mechanism_info(MechanismType::ML_DSA_KEY_PAIR_GEN)
            .is_none()
    );
    let missing = MechanismType::ML_DSA_KEY_PAIR_GEN;
    assert!(!pool.supports(missing));
    let error = pool.require(missing).unwrap_err();
    assert!(
        matches!(error, Error::MechanismNotSupported { .. }),
        "{error:?}"
    );
    println!("{error}");
}

#[test]
fn a_pool_from_the_environment() {
    let _token = fixture::shared();
    let token = token();
    // The suite's token is not in HSM_TOKEN (each suite has its own); the rest comes from the
    // real environment that cargo xtask test-hsm set.
    let lookup = |name: &str| match name {
        "HSM_TOKEN" => Some(token.label.clone()),
        other => std::env::var(other).ok(),
    };
    let pool = PoolBuilder::from_env_with(lookup)
        .unwrap()
        .max_sessions(2)
        .build()
        .unwrap();
    assert_eq!(pool.token_label(), token.label);
    let session = pool.session().unwrap();
    find_key(&session, &KeySelector::label("ec-p256")).unwrap();
    // Without HSM_TOKEN the error names the variable.
    if std::env::var_os("HSM_TOKEN").is_none() {
        let error = SessionPool::from_env().unwrap_err();
        assert!(error.to_string().contains("HSM_TOKEN"), "{error}");
    }
}

#[test]
fn a_pool_from_a_uri_with_pin_value_or_pin_source() {
    let _token = fixture::shared();
    let token = token();
    let with_value: Pkcs11Uri = format!(
        "pkcs11:token={};object=ec-p256?module-path={}&pin-value={}",
        token.label,
        token.module.display(),
        token.pin.expose_secret()
    )
    .parse()
    .unwrap();
    assert!(!with_value.to_string().contains(token.pin.expose_secret()));
    let pool = SessionPool::from_uri(&with_value).unwrap();
    let session = pool.session().unwrap();
    let key = find_key(&session, &KeySelector::from_uri(&with_value).unwrap()).unwrap();
    assert!(
        key.private.is_some(),
        "logged in: the private key is visible"
    );

    let pin_file = scratch_dir("pin-source").join("pin");
    std::fs::write(&pin_file, format!("{}\n", token.pin.expose_secret())).unwrap();
    let with_source = token.uri();
    let with_source: Pkcs11Uri = format!("{with_source}&pin-source=file:{}", pin_file.display())
        .parse()
        .unwrap();
    let pool = SessionPool::from_uri(&with_source).unwrap();
    let session = pool.session().unwrap();
    assert!(
        find_key(&session, &KeySelector::label("rsa-2048"))
            .unwrap()
            .private
            .is_some()
    );

    let unknown: Pkcs11Uri = format!("pkcs11:token=nope?module-path={}", token.module.display())
        .parse()
        .unwrap();
    assert!(matches!(
        SessionPool::from_uri(&unknown).unwrap_err(),
        Error::TokenNotFound { .. }
    ));
}

#[test]
fn a_pool_needs_a_token_and_a_sane_limit() {
    let _token = fixture::shared();
    let token = token();
    let no_token = SessionPool::builder()
        .module(&token.module)
        .build()
        .unwrap_err();
    assert!(matches!(no_token, Error::Config { .. }), "{no_token:?}");
    let zero = token.builder().max_sessions(0).build().unwrap_err();
    assert!(matches!(zero, Error::Config { .. }), "{zero:?}");
    // SoftHSM states no session limit, so the requested one stands.
    assert_eq!(
        token
            .builder()
            .max_sessions(3)
            .build()
            .unwrap()
            .max_sessions(),
        3
    );
}

#[test]
fn tokens_are_initialised_and_used() {
    // Changes the slot list that other tests read.
    let _token = fixture::exclusive();
    let token = token();
    let module = Module::load(&token.module).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let label = format!("extra-{}-{nanos}", std::process::id());
    let so_pin = Pin::new("extra-so-pin");
    let user_pin = Pin::new("extra-user-pin");
    let slot = admin::init_token(&module, &so_pin, &label).unwrap();
    assert_eq!(module.find_token(&label).unwrap(), slot);
    assert!(
        module.tokens().unwrap().iter().any(|t| !t.initialized),
        "a new free slot appears after initialisation"
    );
    admin::init_user_pin(&module, slot, &so_pin, &user_pin).unwrap();
    let wrong_so =
        admin::init_user_pin(&module, slot, &Pin::new("not-the-so-pin"), &user_pin).unwrap_err();
    assert!(matches!(wrong_so, Error::PinIncorrect), "{wrong_so:?}");

    let pool = SessionPool::new(&token.module, &label, user_pin).unwrap();
    let session = pool.session_rw().unwrap();
    let key = generate_key_pair(&session, KeySpec::Ed25519, "k", &[1], KeyUsage::SIGN).unwrap();
    assert!(key.private.is_some());

    let again = admin::init_token(&module, &so_pin, &label).unwrap_err();
    assert!(matches!(again, Error::Config { .. }), "{again:?}");
    let long = admin::init_token(&module, &so_pin, &"x".repeat(33)).unwrap_err();
    assert!(matches!(long, Error::Config { .. }), "{long:?}");
}
