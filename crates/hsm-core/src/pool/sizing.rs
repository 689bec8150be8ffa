//! [`pool_size`]: how many sessions a pool may open, from what was asked and what the token
//! says it allows (`ulMaxSessionCount` and `ulMaxRwSessionCount` of `CK_TOKEN_INFO`).
//!
//! The rule (`docs/sessions.md` shows it too):
//!
//! 1. The token's limit, when it states one (`Limit::Max(n)`); `CK_EFFECTIVELY_INFINITE` and
//!    `CK_UNAVAILABLE_INFORMATION` mean no limit. The pool leaves [`TOKEN_HEADROOM`] session of
//!    a stated limit to the token's other users (another pool, a tool, an operator's
//!    `pkcs11-tool`), unless the limit is 1: then the pool takes that one session.
//! 2. Without an explicit size, the pool opens up to [`default_max_sessions`] sessions, or the
//!    token's usable limit if that is smaller.
//! 3. An explicit size above the token's usable limit is clamped to it (the pool logs a `WARN`
//!    event with both numbers): the token would refuse the sessions above it with
//!    `CKR_SESSION_COUNT` anyway.
//! 4. Read-write sessions are capped the same way at `ulMaxRwSessionCount`, and never above
//!    the session limit.
//!
//! [`default_max_sessions`]: super::default_max_sessions

use cryptoki::slot::Limit;

/// Sessions of a token's stated limit that a pool leaves to the token's other users (unless the
/// limit is 1).
pub const TOKEN_HEADROOM: u64 = 1;

/// What [`pool_size`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolSize {
    /// Sessions the pool may open.
    pub sessions: usize,
    /// Of those, read-write sessions it may open.
    pub rw_sessions: usize,
    /// The explicit size asked for, when it was above the token's usable limit and clamped.
    pub clamped_from: Option<usize>,
}

/// The pool size for an explicit request (`Some`, at least 1) or the default `default` (at least
/// 1), on a token stating `max_sessions` and `max_rw_sessions`. See the [module
/// documentation](self) for the rule.
pub fn pool_size(
    requested: Option<usize>,
    default: usize,
    max_sessions: Limit,
    max_rw_sessions: Limit,
) -> PoolSize {
    let wanted = requested.unwrap_or(default).max(1);
    let sessions = match usable(max_sessions) {
        Some(limit) => wanted.min(limit),
        None => wanted,
    };
    let clamped_from = requested.filter(|&r| r > sessions);
    let rw_sessions = match usable(max_rw_sessions) {
        Some(limit) => sessions.min(limit),
        None => sessions,
    };
    PoolSize {
        sessions,
        rw_sessions,
        clamped_from,
    }
}

/// What a pool may use of a stated limit: `None` for no limit.
fn usable(limit: Limit) -> Option<usize> {
    match limit {
        Limit::Max(0) | Limit::Infinite | Limit::Unavailable => None,
        Limit::Max(1) => Some(1),
        Limit::Max(n) => Some(usize::try_from(n - TOKEN_HEADROOM).unwrap_or(usize::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(requested: Option<usize>, max: Limit, max_rw: Limit) -> (usize, usize, Option<usize>) {
        let s = pool_size(requested, 8, max, max_rw);
        (s.sessions, s.rw_sessions, s.clamped_from)
    }

    #[test]
    fn no_stated_limit_keeps_what_was_asked() {
        for max in [Limit::Infinite, Limit::Unavailable, Limit::Max(0)] {
            for max_rw in [Limit::Infinite, Limit::Unavailable, Limit::Max(0)] {
                assert_eq!(size(None, max, max_rw), (8, 8, None));
                assert_eq!(size(Some(1), max, max_rw), (1, 1, None));
                assert_eq!(size(Some(500), max, max_rw), (500, 500, None));
            }
        }
    }

    #[test]
    fn a_stated_limit_leaves_one_session_to_others() {
        // The default is lowered quietly.
        assert_eq!(size(None, Limit::Max(4), Limit::Infinite), (3, 3, None));
        assert_eq!(size(None, Limit::Max(9), Limit::Infinite), (8, 8, None));
        assert_eq!(size(None, Limit::Max(100), Limit::Infinite), (8, 8, None));
        // A limit of exactly one more than the default: the default fits.
        assert_eq!(size(None, Limit::Max(9), Limit::Max(9)), (8, 8, None));
        // A limit of 2 leaves 1; a limit of 1 is all the pool's.
        assert_eq!(size(None, Limit::Max(2), Limit::Infinite), (1, 1, None));
        assert_eq!(size(None, Limit::Max(1), Limit::Infinite), (1, 1, None));
        assert_eq!(size(Some(1), Limit::Max(1), Limit::Max(1)), (1, 1, None));
    }

    #[test]
    fn an_explicit_size_above_the_limit_is_clamped() {
        assert_eq!(
            size(Some(16), Limit::Max(4), Limit::Infinite),
            (3, 3, Some(16))
        );
        assert_eq!(
            size(Some(4), Limit::Max(4), Limit::Infinite),
            (3, 3, Some(4))
        );
        assert_eq!(size(Some(3), Limit::Max(4), Limit::Infinite), (3, 3, None));
        assert_eq!(
            size(Some(2), Limit::Max(1), Limit::Infinite),
            (1, 1, Some(2))
        );
        assert_eq!(
            size(Some(2), Limit::Max(u64::MAX), Limit::Infinite),
            (2, 2, None)
        );
    }

    #[test]
    fn read_write_sessions_have_their_own_limit() {
        assert_eq!(size(None, Limit::Infinite, Limit::Max(3)), (8, 2, None));
        assert_eq!(size(None, Limit::Max(4), Limit::Max(8)), (3, 3, None));
        assert_eq!(size(Some(6), Limit::Max(10), Limit::Max(1)), (6, 1, None));
        assert_eq!(
            size(Some(6), Limit::Unavailable, Limit::Max(2)),
            (6, 1, None)
        );
        // The rw limit never clamps the explicit size itself.
        assert_eq!(size(Some(6), Limit::Infinite, Limit::Max(2)).2, None);
    }

    /// Every request from 1 to 40 (and the default) against every limit from 1 to 40 and the
    /// unlimited answers, for both counts: the rule's invariants hold.
    #[test]
    fn the_rule_holds_for_every_small_combination() {
        let limits: Vec<Limit> = [Limit::Infinite, Limit::Unavailable]
            .into_iter()
            .chain((1..=40).map(Limit::Max))
            .collect();
        let usable_of = |limit: Limit| match limit {
            Limit::Max(n) if n > 1 => Some(n as usize - 1),
            Limit::Max(n) => Some(n as usize),
            Limit::Infinite | Limit::Unavailable => None,
        };
        for requested in std::iter::once(None).chain((1..=40).map(Some)) {
            for &max in &limits {
                for &max_rw in &limits {
                    let s = pool_size(requested, 8, max, max_rw);
                    let wanted = requested.unwrap_or(8);
                    let expected = usable_of(max).map_or(wanted, |u| wanted.min(u));
                    assert_eq!(s.sessions, expected, "{requested:?} {max:?}");
                    assert!(s.sessions >= 1);
                    let expected_rw = usable_of(max_rw).map_or(expected, |u| expected.min(u));
                    assert_eq!(
                        s.rw_sessions, expected_rw,
                        "{requested:?} {max:?} {max_rw:?}"
                    );
                    assert_eq!(
                        s.clamped_from,
                        requested.filter(|&r| r > expected),
                        "{requested:?} {max:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_is_never_a_size() {
        assert_eq!(size(Some(0), Limit::Infinite, Limit::Infinite).0, 1);
        assert_eq!(
            pool_size(None, 0, Limit::Infinite, Limit::Infinite).sessions,
            1
        );
    }
}
