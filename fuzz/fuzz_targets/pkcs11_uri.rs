//! PKCS#11 URI (RFC 7512) parsing: any input. No panic; a parsed URI prints (never with its
//! `pin-value`) to a URI that parses back to the same printed form and the same attributes,
//! and a key selector can be made from it or refused cleanly.
#![no_main]

use hsm_core::Pkcs11Uri;
use hsm_core::key::KeySelector;
use hsm_jose_fuzz::text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(input) = text(data) else { return };
    let Ok(uri) = input.parse::<Pkcs11Uri>() else {
        return;
    };
    let printed = uri.to_string();
    let back: Pkcs11Uri = printed
        .parse()
        .unwrap_or_else(|e| panic!("{printed:?}, printed from {input:?}, does not parse: {e}"));
    assert_eq!(back.to_string(), printed);
    assert_eq!(back.token(), uri.token());
    assert_eq!(back.object(), uri.object());
    assert_eq!(back.id(), uri.id());
    assert_eq!(back.object_type(), uri.object_type());
    assert_eq!(back.serial(), uri.serial());
    assert_eq!(back.slot_id(), uri.slot_id());
    assert_eq!(back.module_path(), uri.module_path());
    assert_eq!(back.vendor_attributes(), uri.vendor_attributes());
    if uri.pin_value().is_some() {
        assert!(back.pin_value().is_none(), "pin-value printed");
    }
    let _ = KeySelector::from_uri(&uri);
    let _ = format!("{uri:?}");
});
