//! Names of return values (`CKR_*`) and token flags (`CKF_*`), for the rules file.
//!
//! The tables hold every PKCS#11 2.40 return value and every `CK_TOKEN_INFO` flag, so a rule can
//! name any of them; a rule may also give a number (`0x32` or `50`) for anything else.

use cryptoki_sys::{CK_FLAGS, CK_RV};

/// Builds a `(name, value)` table from constant names, so a name can never drift from its value.
macro_rules! named {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), cryptoki_sys::$name)),*]
    };
}

/// Every PKCS#11 2.40 return value, by name.
const RETURN_VALUES: &[(&str, CK_RV)] = named![
    CKR_OK,
    CKR_CANCEL,
    CKR_HOST_MEMORY,
    CKR_SLOT_ID_INVALID,
    CKR_GENERAL_ERROR,
    CKR_FUNCTION_FAILED,
    CKR_ARGUMENTS_BAD,
    CKR_NO_EVENT,
    CKR_NEED_TO_CREATE_THREADS,
    CKR_CANT_LOCK,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_ACTION_PROHIBITED,
    CKR_DATA_INVALID,
    CKR_DATA_LEN_RANGE,
    CKR_DEVICE_ERROR,
    CKR_DEVICE_MEMORY,
    CKR_DEVICE_REMOVED,
    CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_FUNCTION_CANCELED,
    CKR_FUNCTION_NOT_PARALLEL,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_SIZE_RANGE,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_KEY_NOT_NEEDED,
    CKR_KEY_CHANGED,
    CKR_KEY_NEEDED,
    CKR_KEY_INDIGESTIBLE,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_NOT_WRAPPABLE,
    CKR_KEY_UNEXTRACTABLE,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_EXPIRED,
    CKR_PIN_LOCKED,
    CKR_SESSION_CLOSED,
    CKR_SESSION_COUNT,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    CKR_SESSION_READ_ONLY,
    CKR_SESSION_EXISTS,
    CKR_SESSION_READ_ONLY_EXISTS,
    CKR_SESSION_READ_WRITE_SO_EXISTS,
    CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_NOT_RECOGNIZED,
    CKR_TOKEN_WRITE_PROTECTED,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_SIZE_RANGE,
    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_NOT_LOGGED_IN,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_USER_TYPE_INVALID,
    CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    CKR_USER_TOO_MANY_TYPES,
    CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
    CKR_WRAPPING_KEY_HANDLE_INVALID,
    CKR_WRAPPING_KEY_SIZE_RANGE,
    CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_RANDOM_SEED_NOT_SUPPORTED,
    CKR_RANDOM_NO_RNG,
    CKR_DOMAIN_PARAMS_INVALID,
    CKR_CURVE_NOT_SUPPORTED,
    CKR_BUFFER_TOO_SMALL,
    CKR_SAVED_STATE_INVALID,
    CKR_INFORMATION_SENSITIVE,
    CKR_STATE_UNSAVEABLE,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CKR_MUTEX_BAD,
    CKR_MUTEX_NOT_LOCKED,
    CKR_NEW_PIN_MODE,
    CKR_NEXT_OTP,
    CKR_EXCEEDED_MAX_ITERATIONS,
    CKR_FIPS_SELF_TEST_FAILED,
    CKR_LIBRARY_LOAD_FAILED,
    CKR_PIN_TOO_WEAK,
    CKR_PUBLIC_KEY_INVALID,
    CKR_FUNCTION_REJECTED,
];

/// Every `CK_TOKEN_INFO` flag, by name.
const TOKEN_FLAGS: &[(&str, CK_FLAGS)] = named![
    CKF_RNG,
    CKF_WRITE_PROTECTED,
    CKF_LOGIN_REQUIRED,
    CKF_USER_PIN_INITIALIZED,
    CKF_RESTORE_KEY_NOT_NEEDED,
    CKF_CLOCK_ON_TOKEN,
    CKF_PROTECTED_AUTHENTICATION_PATH,
    CKF_DUAL_CRYPTO_OPERATIONS,
    CKF_TOKEN_INITIALIZED,
    CKF_SECONDARY_AUTHENTICATION,
    CKF_USER_PIN_COUNT_LOW,
    CKF_USER_PIN_FINAL_TRY,
    CKF_USER_PIN_LOCKED,
    CKF_USER_PIN_TO_BE_CHANGED,
    CKF_SO_PIN_COUNT_LOW,
    CKF_SO_PIN_FINAL_TRY,
    CKF_SO_PIN_LOCKED,
    CKF_SO_PIN_TO_BE_CHANGED,
    CKF_ERROR_STATE,
];

/// Parses a return value: a `CKR_*` name or a number (decimal, or hexadecimal with `0x`).
pub(crate) fn parse_rv(text: &str) -> Option<CK_RV> {
    lookup(RETURN_VALUES, text)
}

/// Parses token flags: `CKF_*` names or numbers, joined by `|`.
pub(crate) fn parse_token_flags(text: &str) -> Option<CK_FLAGS> {
    text.split('|')
        .map(|part| lookup(TOKEN_FLAGS, part.trim()))
        .try_fold(0, |acc, flag| flag.map(|flag| acc | flag))
}

/// The name of a return value, or its number in hexadecimal when it has no name here.
pub(crate) fn rv_name(rv: CK_RV) -> String {
    RETURN_VALUES
        .iter()
        .find(|(_, value)| *value == rv)
        .map_or_else(|| format!("{rv:#x}"), |(name, _)| (*name).to_owned())
}

fn lookup(table: &[(&str, CK_RV)], text: &str) -> Option<CK_RV> {
    if let Some((_, value)) = table.iter().find(|(name, _)| *name == text) {
        return Some(*value);
    }
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => CK_RV::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            parse_rv("CKR_PIN_LOCKED"),
            Some(cryptoki_sys::CKR_PIN_LOCKED)
        );
        assert_eq!(parse_rv("0x32"), Some(cryptoki_sys::CKR_DEVICE_REMOVED));
        assert_eq!(parse_rv("50"), Some(cryptoki_sys::CKR_DEVICE_REMOVED));
        assert_eq!(parse_rv("CKR_NOPE"), None);
        assert_eq!(parse_rv(""), None);
        assert_eq!(
            rv_name(cryptoki_sys::CKR_SESSION_COUNT),
            "CKR_SESSION_COUNT"
        );
        assert_eq!(rv_name(0x8000_0001), "0x80000001");
    }

    #[test]
    fn flags() {
        assert_eq!(
            parse_token_flags("CKF_USER_PIN_FINAL_TRY|CKF_USER_PIN_COUNT_LOW"),
            Some(cryptoki_sys::CKF_USER_PIN_FINAL_TRY | cryptoki_sys::CKF_USER_PIN_COUNT_LOW)
        );
        assert_eq!(
            parse_token_flags("CKF_USER_PIN_LOCKED"),
            Some(cryptoki_sys::CKF_USER_PIN_LOCKED)
        );
        assert_eq!(parse_token_flags("CKF_USER_PIN_LOCKED|bogus"), None);
        assert_eq!(parse_token_flags(""), None);
    }
}
