//! Reading what a module says about its slots and tokens: the token list, token information
//! and mechanisms, as tokens really answer.
//!
//! Two things real tokens do that this module absorbs:
//!
//! - **Busy**: SoftHSM rereads its token files without locking, so while another process writes
//!   the same token, `C_GetTokenInfo` may answer `CKR_GENERAL_ERROR` and a token may be
//!   momentarily missing from the slot list. Reads classified
//!   [`Recovery::ReadAgain`](crate::pool::Recovery::ReadAgain) are tried [`READ_ATTEMPTS`]
//!   times, 10, 20, 40 and 80 ms apart; then [`Error::TokenBusy`] says so (not "token not
//!   found").
//! - **Unparsable**: openCryptoki's soft token fills `utcTime` with blanks while setting
//!   `CKF_CLOCK_ON_TOKEN`, and `cryptoki` then fails the whole `C_GetTokenInfo`. Such a slot is
//!   listed as an [`UnreadableSlot`] with the reason; it never hides the other tokens, and it
//!   can still be selected by slot id.

use std::time::Duration;

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::mechanism::{MechanismInfo, MechanismType};
use cryptoki::slot::{Slot, TokenInfo};

use super::Module;
use crate::error::{Error, Result};
use crate::pool::{Recovery, recovery};
use crate::trace::traced;

/// How many times a read of token information is tried when the token looks busy.
pub const READ_ATTEMPTS: u32 = 5;

/// The pause before the second attempt; it doubles for each further one.
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// One slot with a token, as [`Module::tokens`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSummary {
    /// The slot holding the token.
    pub slot: Slot,
    /// The token label, trailing blanks removed.
    pub label: String,
    /// The serial number.
    pub serial: String,
    /// The manufacturer.
    pub manufacturer: String,
    /// The model.
    pub model: String,
    /// False for a blank token (SoftHSM always offers one free, uninitialised slot).
    pub initialized: bool,
}

/// A slot with a token whose information could not be read.
#[derive(Debug, Clone)]
pub struct UnreadableSlot {
    /// The slot.
    pub slot: Slot,
    /// Why, in words (`cryptoki`'s parse error, or the return value).
    pub reason: String,
    /// `Some` when the token looked busy for every attempt (the function and its last return
    /// value); `None` when the answer came but could not be parsed.
    pub busy: Option<(Function, RvError)>,
}

/// Every slot with a token: those read, and those that could not be.
#[derive(Debug, Clone, Default)]
pub struct TokenScan {
    /// The tokens whose information was read.
    pub tokens: Vec<TokenSummary>,
    /// The slots whose token information could not be read or parsed.
    pub unreadable: Vec<UnreadableSlot>,
}

impl TokenScan {
    fn describe_unreadable(&self) -> Vec<String> {
        self.unreadable
            .iter()
            .map(|u| format!("slot {}: {}", u.slot.id(), u.reason))
            .collect()
    }
}

/// Runs `read` until it succeeds, fails in a way that is not
/// [`ReadAgain`](Recovery::ReadAgain), or has been tried `max_attempts` times
/// ([`Error::TokenBusy`]).
pub(crate) fn read_again<T>(
    context: &'static str,
    max_attempts: u32,
    mut read: impl FnMut() -> std::result::Result<T, cryptoki::error::Error>,
) -> Result<T> {
    let mut pause = FIRST_PAUSE;
    let mut attempts = 0;
    loop {
        attempts += 1;
        match read() {
            Ok(value) => return Ok(value),
            Err(cryptoki::error::Error::Pkcs11(rv, function))
                if recovery(function, rv) == Recovery::ReadAgain =>
            {
                if attempts >= max_attempts {
                    return Err(Error::TokenBusy {
                        function,
                        rv,
                        attempts,
                    });
                }
                std::thread::sleep(pause);
                pause *= 2;
            }
            Err(other) => return Err(Error::from_cryptoki(context, other)),
        }
    }
}

impl Module {
    /// Every slot that holds a token, initialised or not, with its token's identity. Slots
    /// whose token information cannot be read are left out: [`scan`](Module::scan) lists them.
    pub fn tokens(&self) -> Result<Vec<TokenSummary>> {
        Ok(self.scan()?.tokens)
    }

    /// Every slot that holds a token: the tokens read, and the slots whose token information
    /// could not be read or parsed (with the reason). One slot never hides the others.
    ///
    /// # Errors
    /// Only when the slot list itself cannot be read ([`Error::TokenBusy`] after
    /// [`READ_ATTEMPTS`] tries, or the module's error).
    pub fn scan(&self) -> Result<TokenScan> {
        let slots = read_again("listing slots", READ_ATTEMPTS, || {
            traced(None, None, Function::GetSlotList, None, || {
                self.pkcs11().get_slots_with_token()
            })
        })?;
        let mut scan = TokenScan::default();
        for slot in slots {
            // Once one slot stayed busy through every attempt, the module is busy: the other
            // slots get one try each, so that a busy module costs one round of pauses.
            let attempts = if scan.unreadable.iter().any(|u| u.busy.is_some()) {
                1
            } else {
                READ_ATTEMPTS
            };
            match read_again("reading token information", attempts, || {
                traced(Some(slot), None, Function::GetTokenInfo, None, || {
                    self.pkcs11().get_token_info(slot)
                })
            }) {
                Ok(info) => scan.tokens.push(summary(slot, &info)),
                // A token removed between the two calls is simply not there.
                Err(e)
                    if matches!(
                        e.rv(),
                        Some(
                            RvError::TokenNotPresent
                                | RvError::SlotIdInvalid
                                | RvError::DeviceRemoved
                        )
                    ) => {}
                Err(Error::TokenBusy { function, rv, .. }) => {
                    scan.unreadable.push(UnreadableSlot {
                        slot,
                        reason: format!(
                            "token information unreadable ({} returned {})",
                            crate::error::c_name(function),
                            crate::error::rv_name(rv)
                        ),
                        busy: Some((function, rv)),
                    })
                }
                // The token answered, but cryptoki cannot parse the answer.
                Err(unparsable @ Error::Cryptoki { .. }) => scan.unreadable.push(UnreadableSlot {
                    slot,
                    reason: format!("token information unparsable ({unparsable})"),
                    busy: None,
                }),
                Err(other) => scan.unreadable.push(UnreadableSlot {
                    slot,
                    reason: format!("token information unreadable ({other})"),
                    busy: None,
                }),
            }
        }
        Ok(scan)
    }

    /// The slot of the initialised token with this label.
    ///
    /// # Errors
    /// [`Error::TokenNotFound`] listing the labels present; [`Error::Config`] when several
    /// tokens carry the label; [`Error::TokenBusy`] when the token list could not be read.
    pub fn find_token(&self, label: &str) -> Result<Slot> {
        self.find_token_matching(label, |t| t.label == label, None)
    }

    /// The slot of the one initialised token accepted by `matches`; `what` describes the
    /// search for error messages. `slot_only` is the slot id when that is the only criterion:
    /// a slot whose token information cannot be parsed can still be selected that way.
    ///
    /// When nothing matches and no initialised token is listed at all, the list is read again,
    /// up to [`READ_ATTEMPTS`] times: parallel processes make SoftHSM report no token for a
    /// moment. When a slot stayed busy, the answer is [`Error::TokenBusy`].
    pub(crate) fn find_token_matching(
        &self,
        what: &str,
        matches: impl Fn(&TokenSummary) -> bool,
        slot_only: Option<u64>,
    ) -> Result<Slot> {
        let mut pause = FIRST_PAUSE;
        let mut scans = 0;
        loop {
            scans += 1;
            let scan = self.scan()?;
            let initialized: Vec<&TokenSummary> =
                scan.tokens.iter().filter(|t| t.initialized).collect();
            let found: Vec<&TokenSummary> =
                initialized.iter().copied().filter(|t| matches(t)).collect();
            match found.as_slice() {
                [one] => return Ok(one.slot),
                [] => {}
                several => {
                    return Err(Error::Config {
                        reason: format!(
                            "{} tokens match {what:?} (serials {}); select one by serial",
                            several.len(),
                            several
                                .iter()
                                .map(|t| t.serial.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
            if let Some(id) = slot_only
                && let Some(unreadable) = scan.unreadable.iter().find(|u| u.slot.id() == id)
                && unreadable.busy.is_none()
            {
                return Ok(unreadable.slot);
            }
            // Every slot was already read again while busy: that is the answer.
            if let Some((function, rv)) = scan.unreadable.iter().find_map(|u| u.busy) {
                return Err(Error::TokenBusy {
                    function,
                    rv,
                    attempts: READ_ATTEMPTS,
                });
            }
            // No initialised token at all: SoftHSM lists none for a moment while another
            // process rewrites its files. Look again before saying it is not there.
            if initialized.is_empty() && scan.unreadable.is_empty() && scans < READ_ATTEMPTS {
                std::thread::sleep(pause);
                pause *= 2;
                continue;
            }
            return Err(Error::TokenNotFound {
                label: what.to_owned(),
                available: initialized.iter().map(|t| t.label.clone()).collect(),
                unreadable: scan.describe_unreadable(),
            });
        }
    }

    /// `C_GetTokenInfo` for a slot, tried again while the token looks busy.
    ///
    /// # Errors
    /// [`Error::TokenBusy`] after [`READ_ATTEMPTS`] tries; [`Error::Cryptoki`] when the
    /// answer cannot be parsed (see [`readable_token_info`](Module::readable_token_info)).
    pub fn token_info(&self, slot: Slot) -> Result<TokenInfo> {
        read_again("reading token information", READ_ATTEMPTS, || {
            traced(Some(slot), None, Function::GetTokenInfo, None, || {
                self.pkcs11().get_token_info(slot)
            })
        })
    }

    /// [`token_info`](Module::token_info), or `None` when the token answered but `cryptoki`
    /// cannot parse the answer (openCryptoki's blank `utcTime`): the token works, its
    /// information is just unknown.
    pub fn readable_token_info(&self, slot: Slot) -> Result<Option<TokenInfo>> {
        match self.token_info(slot) {
            Ok(info) => Ok(Some(info)),
            Err(Error::Cryptoki { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The mechanisms the token in `slot` supports (`C_GetMechanismList`).
    pub fn mechanisms(&self, slot: Slot) -> Result<Vec<MechanismType>> {
        traced(Some(slot), None, Function::GetMechanismList, None, || {
            self.pkcs11().get_mechanism_list(slot)
        })
        .map_err(|e| Error::from_cryptoki("listing mechanisms", e))
    }

    /// The mechanisms of the token in `slot` with what the token says about each
    /// (`C_GetMechanismList`, then `C_GetMechanismInfo` for each): the operations it serves
    /// (sign, decrypt, derive, wrap, generate, ...) and the key sizes. A mechanism whose
    /// information cannot be read is listed with `None`.
    pub fn mechanism_infos(
        &self,
        slot: Slot,
    ) -> Result<Vec<(MechanismType, Option<MechanismInfo>)>> {
        let pkcs11 = self.pkcs11();
        Ok(self
            .mechanisms(slot)?
            .into_iter()
            .map(|mechanism| {
                let info = traced(
                    Some(slot),
                    None,
                    Function::GetMechanismInfo,
                    Some(mechanism),
                    || pkcs11.get_mechanism_info(slot, mechanism),
                );
                (mechanism, info.ok())
            })
            .collect())
    }
}

fn summary(slot: Slot, info: &TokenInfo) -> TokenSummary {
    TokenSummary {
        slot,
        label: info.label().to_owned(),
        serial: info.serial_number().to_owned(),
        manufacturer: info.manufacturer_id().to_owned(),
        model: info.model().to_owned(),
        initialized: info.token_initialized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> cryptoki::error::Error {
        cryptoki::error::Error::Pkcs11(RvError::GeneralError, Function::GetTokenInfo)
    }

    #[test]
    fn a_busy_token_is_read_again_then_reported_as_busy() {
        let mut calls = 0;
        let value = read_again("reading", READ_ATTEMPTS, || {
            calls += 1;
            if calls < 3 { Err(busy()) } else { Ok(calls) }
        });
        assert!(matches!(value, Ok(3)), "{value:?}");

        let mut calls = 0;
        let error = read_again("reading", READ_ATTEMPTS, || {
            calls += 1;
            Err::<(), _>(busy())
        })
        .unwrap_err();
        assert_eq!(calls, READ_ATTEMPTS);
        assert!(
            matches!(
                error,
                Error::TokenBusy {
                    function: Function::GetTokenInfo,
                    rv: RvError::GeneralError,
                    attempts: READ_ATTEMPTS
                }
            ),
            "{error:?}"
        );
    }

    #[test]
    fn other_failures_are_not_read_again() {
        let mut calls = 0;
        let error = read_again("reading", READ_ATTEMPTS, || {
            calls += 1;
            Err::<(), _>(cryptoki::error::Error::Pkcs11(
                RvError::SlotIdInvalid,
                Function::GetTokenInfo,
            ))
        })
        .unwrap_err();
        assert_eq!(calls, 1);
        assert!(
            matches!(
                error,
                Error::Pkcs11 {
                    function: Function::GetTokenInfo,
                    rv: RvError::SlotIdInvalid
                }
            ),
            "{error:?}"
        );
        let unparsable = read_again("reading", READ_ATTEMPTS, || {
            Err::<(), _>(cryptoki::error::Error::InvalidValue)
        })
        .unwrap_err();
        assert!(
            matches!(unparsable, Error::Cryptoki { .. }),
            "{unparsable:?}"
        );
    }
}
