//! The rules file: parsing, and deciding whether a rule fires for a call.
//!
//! The format is documented in the crate docs (`lib.rs`) and the README. In short, one rule a
//! line: `FUNCTION SELECTOR... ACTION...`, `#` starts a comment, and a line that does not parse is
//! reported and skipped, never fatal.

use std::time::Duration;

use cryptoki_sys::{CK_FLAGS, CK_RV};

use crate::functions::{COUNT, Func};
use crate::names::{parse_rv, parse_token_flags};

/// Which calls of the rule's function(s) a rule fires on. A rule fires when all its selectors do.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Selector {
    /// Every call.
    Always,
    /// Only the Nth call (1-based).
    Nth(u64),
    /// Every call after the first N.
    After(u64),
    /// Calls N, 2N, 3N, ...
    Every(u64),
    /// Each call with probability P, drawn from the rule's seeded generator.
    Random(f64),
    /// While at least N sessions are open through the shim (opened minus closed).
    MaxOpen(u64),
}

/// What a rule does when it fires.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Action {
    /// Return this value instead of the real one.
    pub(crate) rv: Option<CK_RV>,
    /// Call the real function first anyway (its result is dropped in favour of `rv`).
    pub(crate) passthrough: bool,
    /// Sleep this long before going on.
    pub(crate) delay: Option<Duration>,
    /// `C_GetTokenInfo` only: flags ORed into the real answer.
    pub(crate) flags_set: CK_FLAGS,
    /// `C_GetTokenInfo` only: flags cleared from the real answer.
    pub(crate) flags_clear: CK_FLAGS,
    /// `C_GetTokenInfo` only: set `CKF_CLOCK_ON_TOKEN` and blank out `utcTime`.
    pub(crate) garble_utc_time: bool,
}

/// One parsed rule with its own counters.
///
/// Counting starts when the rule is loaded: rewriting the rules file starts every count, and
/// every random sequence, again.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    /// The function it applies to; `None` for `*` (every function).
    target: Option<Func>,
    selectors: Vec<Selector>,
    pub(crate) action: Action,
    /// Calls of each function that this rule has seen since it was loaded.
    seen: [u64; COUNT],
    /// The generator behind `random=`, seeded by `seed=` (0 when not given).
    rng: SplitMix64,
}

impl Rule {
    /// Counts a call of `func` and says whether this rule fires on it.
    ///
    /// `open_sessions` is the number of sessions open through the shim, for `max_open=`.
    /// Every selector is evaluated (none short-circuits), so a random draw is made on every call
    /// of the rule's function: the sequence depends only on the seed and the order of calls.
    pub(crate) fn fires(&mut self, func: Func, open_sessions: u64) -> bool {
        if self.target.is_some_and(|target| target != func) {
            return false;
        }
        let seen = &mut self.seen[func.index()];
        *seen = seen.saturating_add(1);
        let n = *seen;
        let mut fires = true;
        for selector in &self.selectors {
            let hit = match *selector {
                Selector::Always => true,
                Selector::Nth(k) => n == k,
                Selector::After(k) => n > k,
                Selector::Every(k) => n.is_multiple_of(k),
                Selector::Random(p) => self.rng.next_f64() < p,
                Selector::MaxOpen(k) => open_sessions >= k,
            };
            fires &= hit;
        }
        fires
    }
}

/// SplitMix64: tiny, fast, and the same sequence for the same seed on every platform.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in `[0, 1)` from the top 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Parses a whole rules file: the rules that parsed, and one message per line that did not
/// (`line N: why`). Bad lines are skipped; the others still apply.
pub(crate) fn parse(text: &str) -> (Vec<Rule>, Vec<String>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(rule) => rules.push(rule),
            Err(why) => errors.push(format!("line {}: {why}: `{line}`", index + 1)),
        }
    }
    (rules, errors)
}

fn parse_line(line: &str) -> Result<Rule, String> {
    let mut words = line.split_whitespace();
    let function = words.next().unwrap_or_default();
    let target = match function {
        "*" => None,
        name => Some(Func::from_name(name).ok_or_else(|| format!("unknown function `{name}`"))?),
    };

    let mut selectors = Vec::new();
    let mut seed = None;
    let mut action = Action::default();
    let mut has_flags = false;
    for word in words {
        let (key, value) = match word.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (word, None),
        };
        let number = |what: &str| -> Result<u64, String> {
            value
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("`{key}=` needs {what}"))
        };
        let selector = match (key, value) {
            ("always", None) => Some(Selector::Always),
            ("nth", _) => Some(Selector::Nth(positive(number("a count from 1")?, key)?)),
            ("after", _) => Some(Selector::After(number("a count")?)),
            ("every", _) => Some(Selector::Every(positive(number("a count from 1")?, key)?)),
            ("max_open", _) => Some(Selector::MaxOpen(number("a session count")?)),
            ("random", _) => {
                let p = value
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|p| (0.0..=1.0).contains(p))
                    .ok_or("`random=` needs a probability from 0 to 1")?;
                Some(Selector::Random(p))
            }
            _ => None,
        };
        if let Some(selector) = selector {
            if selectors.iter().any(|s| same_kind(s, &selector)) {
                return Err(format!("`{key}` given twice"));
            }
            selectors.push(selector);
            continue;
        }
        match (key, value) {
            ("seed", _) => set_once(&mut seed, number("a number")?, key)?,
            ("rv", Some(v)) => set_once(
                &mut action.rv,
                parse_rv(v).ok_or_else(|| format!("unknown return value `{v}`"))?,
                key,
            )?,
            ("delay_ms", _) => {
                set_once(
                    &mut action.delay,
                    Duration::from_millis(number("milliseconds")?),
                    key,
                )?;
            }
            ("passthrough", None) => {
                if action.passthrough {
                    return Err("`passthrough` given twice".into());
                }
                action.passthrough = true;
            }
            ("garble_utc_time", None) => {
                if action.garble_utc_time {
                    return Err("`garble_utc_time` given twice".into());
                }
                action.garble_utc_time = true;
                has_flags = true;
            }
            ("flags+" | "flags-", Some(v)) => {
                let flags = parse_token_flags(v).ok_or_else(|| {
                    format!("unknown token flag in `{v}` (use CKF_* names joined by |)")
                })?;
                if key == "flags+" {
                    action.flags_set |= flags;
                } else {
                    action.flags_clear |= flags;
                }
                has_flags = true;
            }
            _ => return Err(format!("unknown word `{word}`")),
        }
    }

    if seed.is_some() && !selectors.iter().any(|s| matches!(s, Selector::Random(_))) {
        return Err("`seed=` without `random=`".into());
    }
    if action.passthrough && action.rv.is_none() {
        return Err("`passthrough` without `rv=`".into());
    }
    if has_flags && target.is_some_and(|f| f != Func::C_GetTokenInfo) {
        return Err(
            "`flags+=` / `flags-=` / `garble_utc_time` apply to C_GetTokenInfo only".into(),
        );
    }
    if action.rv.is_none() && action.delay.is_none() && !has_flags {
        return Err("no action (`rv=`, `delay_ms=`, `flags+=` or `garble_utc_time`)".into());
    }
    Ok(Rule {
        target,
        selectors,
        action,
        seen: [0; COUNT],
        rng: SplitMix64(seed.unwrap_or(0)),
    })
}

fn positive(n: u64, key: &str) -> Result<u64, String> {
    if n == 0 {
        Err(format!("`{key}=` counts from 1"))
    } else {
        Ok(n)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &str) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("`{key}` given twice"));
    }
    *slot = Some(value);
    Ok(())
}

fn same_kind(a: &Selector, b: &Selector) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;

    fn one(line: &str) -> Rule {
        let (mut rules, errors) = parse(line);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 1);
        rules.remove(0)
    }

    fn pattern(rule: &mut Rule, func: Func, calls: usize) -> Vec<bool> {
        (0..calls).map(|_| rule.fires(func, 0)).collect()
    }

    #[test]
    fn the_documented_examples_parse() {
        let text = "\
# function  selector            action
C_Sign      nth=3               rv=CKR_DEVICE_REMOVED
C_Sign      every=100           rv=CKR_SESSION_HANDLE_INVALID
C_Login     always              rv=CKR_PIN_LOCKED
C_OpenSession after=4           rv=CKR_SESSION_COUNT
*           random=0.01 seed=7  rv=CKR_DEVICE_MEMORY
C_Sign      always              delay_ms=200
C_Initialize always             rv=CKR_CRYPTOKI_ALREADY_INITIALIZED passthrough
C_GetTokenInfo always           flags+=CKF_USER_PIN_FINAL_TRY
C_OpenSession max_open=2        rv=CKR_SESSION_COUNT   # trailing comment
C_GetTokenInfo always           flags+=CKF_USER_PIN_COUNT_LOW|CKF_USER_PIN_LOCKED flags-=CKF_LOGIN_REQUIRED
";
        let (rules, errors) = parse(text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules.len(), 10);
        assert_eq!(rules[0].action.rv, Some(CKR_DEVICE_REMOVED));
        assert_eq!(rules[5].action.delay, Some(Duration::from_millis(200)));
        assert!(rules[6].action.passthrough);
        assert_eq!(rules[7].action.flags_set, CKF_USER_PIN_FINAL_TRY);
        assert_eq!(
            rules[9].action.flags_set,
            CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED
        );
        assert_eq!(rules[9].action.flags_clear, CKF_LOGIN_REQUIRED);
        assert!(!rules[9].action.garble_utc_time);
        assert!(
            one("C_GetTokenInfo always garble_utc_time")
                .action
                .garble_utc_time
        );
        assert!(
            parse("C_Sign always garble_utc_time").1[0].contains("C_GetTokenInfo only"),
            "garbling is for token information"
        );
    }

    #[test]
    fn bad_lines_are_reported_and_skipped() {
        let text = "\
C_Sgin always rv=CKR_DEVICE_ERROR
C_Sign always rv=CKR_NOT_A_THING
C_Sign nth=0 rv=CKR_DEVICE_ERROR
C_Sign always
C_Sign always passthrough
C_Sign seed=3 rv=CKR_DEVICE_ERROR
C_Sign random=1.5 rv=CKR_DEVICE_ERROR
C_Sign always flags+=CKF_USER_PIN_LOCKED
C_Sign nth=1 nth=2 rv=CKR_DEVICE_ERROR
C_Sign always rv=CKR_DEVICE_ERROR rv=CKR_DEVICE_REMOVED
C_Sign always bogus rv=CKR_DEVICE_ERROR
C_GetTokenInfo always flags+=CKF_NOPE
C_Sign always rv=CKR_DEVICE_ERROR
";
        let (rules, errors) = parse(text);
        assert_eq!(rules.len(), 1, "only the last line is good");
        assert_eq!(errors.len(), 12, "{errors:#?}");
        assert!(errors[0].starts_with("line 1: unknown function `C_Sgin`"));
        assert!(errors[3].contains("no action"));
    }

    #[test]
    fn counting_selectors() {
        let mut nth = one("C_Sign nth=3 rv=CKR_DEVICE_REMOVED");
        assert_eq!(
            pattern(&mut nth, Func::C_Sign, 5),
            [false, false, true, false, false]
        );
        assert!(
            !nth.fires(Func::C_SignInit, 0),
            "other functions neither fire nor count"
        );

        let mut after = one("C_Sign after=2 rv=CKR_DEVICE_REMOVED");
        assert_eq!(
            pattern(&mut after, Func::C_Sign, 4),
            [false, false, true, true]
        );

        let mut every = one("C_Sign every=2 rv=CKR_DEVICE_REMOVED");
        assert_eq!(
            pattern(&mut every, Func::C_Sign, 4),
            [false, true, false, true]
        );

        let mut both = one("C_Sign after=2 every=2 rv=CKR_DEVICE_REMOVED");
        assert_eq!(
            pattern(&mut both, Func::C_Sign, 6),
            [false, false, false, true, false, true]
        );
    }

    #[test]
    fn star_counts_each_function_separately() {
        let mut rule = one("* nth=2 rv=CKR_DEVICE_ERROR");
        assert!(!rule.fires(Func::C_Sign, 0));
        assert!(!rule.fires(Func::C_Login, 0));
        assert!(rule.fires(Func::C_Sign, 0));
        assert!(rule.fires(Func::C_Login, 0));
    }

    #[test]
    fn max_open_looks_at_open_sessions() {
        let mut rule = one("C_OpenSession max_open=2 rv=CKR_SESSION_COUNT");
        assert!(!rule.fires(Func::C_OpenSession, 1));
        assert!(rule.fires(Func::C_OpenSession, 2));
        assert!(rule.fires(Func::C_OpenSession, 3));
    }

    #[test]
    fn random_is_reproducible_and_roughly_right() {
        let draw = |line: &str| pattern(&mut one(line), Func::C_Sign, 10_000);
        let a = draw("C_Sign random=0.25 seed=7 rv=CKR_DEVICE_MEMORY");
        assert_eq!(a, draw("C_Sign random=0.25 seed=7 rv=CKR_DEVICE_MEMORY"));
        assert_ne!(a, draw("C_Sign random=0.25 seed=8 rv=CKR_DEVICE_MEMORY"));
        let hits = a.iter().filter(|hit| **hit).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
        assert!(!draw("C_Sign random=0 rv=CKR_DEVICE_MEMORY").contains(&true));
        assert!(!draw("C_Sign random=1 rv=CKR_DEVICE_MEMORY").contains(&false));
    }
}
