//! How long a response may be reused, from its `Cache-Control` header.

use std::time::Duration;

use http::HeaderMap;
use http::header::CACHE_CONTROL;

/// The lifetime the server gives a response: `max-age=N` as `Some(N seconds)`, `no-store` or
/// `no-cache` as `Some(0)` (the client's minimum lifetime then applies), and `None` when the
/// header says neither (the client's default lifetime applies). Unparsable directives are
/// ignored; when several `max-age` appear, the smallest wins.
pub(crate) fn max_age(headers: &HeaderMap) -> Option<Duration> {
    let mut found: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let directive = directive.trim();
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            let seconds = if name.eq_ignore_ascii_case("max-age") {
                arg.and_then(|a| a.parse::<u64>().ok())
            } else if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache")
            {
                Some(0)
            } else {
                None
            };
            if let Some(s) = seconds {
                found = Some(found.map_or(s, |f| f.min(s)));
            }
        }
    }
    found.map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CACHE_CONTROL, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn directives() {
        assert_eq!(max_age(&headers(&[])), None);
        assert_eq!(
            max_age(&headers(&["public, max-age=300"])),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            max_age(&headers(&["MAX-AGE=\"42\""])),
            Some(Duration::from_secs(42))
        );
        assert_eq!(max_age(&headers(&["no-store"])), Some(Duration::ZERO));
        assert_eq!(
            max_age(&headers(&["max-age=600", "no-cache"])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            max_age(&headers(&["max-age=600, max-age=60"])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(max_age(&headers(&["max-age=soon, public"])), None);
        assert_eq!(max_age(&headers(&["max-age=-5"])), None);
        assert_eq!(
            max_age(&headers(&["max-age=99999999999999999999999"])),
            None,
            "an overflowing value is ignored, not wrapped"
        );
    }
}
