//! The JWKS client against a local issuer on 127.0.0.1: rotation, caching, failures, floods.

mod support;

use std::time::Duration;

use jose_core::error::KeyError;
use jose_jwks::{JwksClient, JwksError, SkipReason, VerifyError};
use support::*;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// Whether an error is the one a case expects.
type Expected = fn(&JwksError) -> bool;

fn is_kid_not_found(r: &Result<jose_core::jwt::Jwt, VerifyError>, kid: &str) -> bool {
    matches!(r, Err(VerifyError::Token(jose_core::Error::Key(KeyError::KidNotFound(k)))) if k == kid)
}

#[tokio::test]
async fn rotation_is_followed_within_one_refetch() {
    within(20, async {
        let (k1, k2) = (es256("k1"), es256("k2"));
        let issuer = Issuer::start(serve(&[&k1], Some("max-age=3600"))).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .unknown_kid_interval(MS(1000))
            .build()
            .unwrap();

        let jwt = client
            .verify(&token(&k1, "alice"), &validation())
            .await
            .unwrap();
        assert_eq!(jwt.claims().sub(), Some("alice"));
        client
            .verify(&token(&k1, "bob"), &validation())
            .await
            .unwrap();
        assert_eq!(
            issuer.jwks_hits(),
            1,
            "the cached set serves the second token"
        );

        // The issuer rotates: k2 replaces k1.
        issuer.set_mode(serve(&[&k2], Some("max-age=3600")));
        // Within the interval after the last fetch, an unknown kid does not refetch.
        let early = client.verify(&token(&k2, "carol"), &validation()).await;
        assert!(is_kid_not_found(&early, "k2"), "{early:?}");
        assert_eq!(issuer.jwks_hits(), 1);

        tokio::time::sleep(MS(1050)).await;
        let jwt = client
            .verify(&token(&k2, "carol"), &validation())
            .await
            .unwrap();
        assert_eq!(jwt.claims().sub(), Some("carol"));
        assert_eq!(issuer.jwks_hits(), 2, "one refetch follows the rotation");

        // k1 is gone from the new set.
        let old = client.verify(&token(&k1, "alice"), &validation()).await;
        assert!(is_kid_not_found(&old, "k1"), "{old:?}");
        assert_eq!(issuer.jwks_hits(), 2);
        assert_eq!(client.status().keys, 1);
    })
    .await;
}

#[tokio::test]
async fn cache_lifetime_follows_max_age_within_bounds() {
    within(20, async {
        let k1 = es256("k1");
        // max-age=0 is raised to the minimum lifetime.
        let issuer = Issuer::start(serve(&[&k1], Some("no-cache, max-age=0"))).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .min_ttl(MS(300))
            .max_ttl(Duration::from_secs(3600))
            .build()
            .unwrap();
        client.keys().await.unwrap();
        client.keys().await.unwrap();
        assert_eq!(issuer.jwks_hits(), 1, "fresh for the minimum lifetime");
        assert!(client.status().fresh);
        tokio::time::sleep(MS(350)).await;
        assert!(!client.status().fresh);
        client.keys().await.unwrap();
        assert_eq!(
            issuer.jwks_hits(),
            2,
            "fetched again once the minimum lifetime is over"
        );

        // max-age=86400 is lowered to the maximum lifetime.
        let issuer = Issuer::start(serve(&[&k1], Some("public, max-age=86400"))).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .min_ttl(Duration::ZERO)
            .max_ttl(MS(300))
            .build()
            .unwrap();
        client.keys().await.unwrap();
        client.keys().await.unwrap();
        assert_eq!(issuer.jwks_hits(), 1);
        tokio::time::sleep(MS(350)).await;
        client.keys().await.unwrap();
        assert_eq!(
            issuer.jwks_hits(),
            2,
            "fetched again once the maximum lifetime is over"
        );

        // No Cache-Control: the default lifetime, within the bounds.
        let issuer = Issuer::start(serve(&[&k1], None)).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .min_ttl(Duration::ZERO)
            .default_ttl(MS(300))
            .build()
            .unwrap();
        client.keys().await.unwrap();
        client.keys().await.unwrap();
        assert_eq!(issuer.jwks_hits(), 1);
        tokio::time::sleep(MS(350)).await;
        client.keys().await.unwrap();
        assert_eq!(issuer.jwks_hits(), 2);
    })
    .await;
}

#[tokio::test]
async fn server_down_serves_the_cached_set() {
    within(20, async {
        let k1 = es256("k1");
        let mut issuer = Issuer::start(serve(&[&k1], Some("max-age=0"))).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .min_ttl(MS(100))
            .max_ttl(MS(100))
            .retry_after_failure(Duration::from_secs(30))
            .build()
            .unwrap();
        client
            .verify(&token(&k1, "alice"), &validation())
            .await
            .unwrap();
        assert_eq!(issuer.jwks_hits(), 1);

        issuer.stop().await;
        tokio::time::sleep(MS(150)).await;
        // The set has expired and the issuer is down: the last good set still verifies.
        let jwt = client
            .verify(&token(&k1, "bob"), &validation())
            .await
            .unwrap();
        assert_eq!(jwt.claims().sub(), Some("bob"));
        let status = client.status();
        assert!(
            matches!(status.last_error, Some(JwksError::Connection { .. })),
            "{status:?}"
        );
        assert!(!status.fresh);
        assert_eq!(
            (status.keys, status.fetches, status.consecutive_failures),
            (1, 2, 1)
        );

        // Within the back-off, further verifications do not try the issuer again.
        for i in 0..20 {
            client
                .verify(&token(&k1, &format!("user{i}")), &validation())
                .await
                .unwrap();
        }
        assert_eq!(client.status().fetches, 2);
    })
    .await;
}

#[tokio::test]
async fn failures_and_garbage_keep_the_last_good_set() {
    within(30, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(serve(&[&k1], Some("max-age=0"))).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .min_ttl(Duration::ZERO)
            .max_ttl(Duration::ZERO)
            .retry_after_failure(Duration::ZERO)
            .timeout(MS(300))
            .max_body_bytes(64 * 1024)
            .max_keys(4)
            .build()
            .unwrap();
        client.verify(&token(&k1, "alice"), &validation()).await.unwrap();

        let rsa_1024 = r#"{"kty":"RSA","kid":"weak","e":"AQAB","n":"wlRmVn1ptBnuHv2tNuIXXAI4rG8ORpZQy4PPj5NQvWm4lbhW4bVKlPSxRpEPm1ZTPgAvaVgbeKZlfGT4Xf5ij2Nsw8EjHzNgdE6flk3M6l_-XS-H6SMlafL2K5z5D5ErtEZDj5FYsCIhqiBClrjDDTtZHaLpexkGfjbG7MtKn4c"}"#;
        let cases: Vec<(Mode, Expected)> = vec![
            (Mode::Status(500), |e| matches!(e, JwksError::Status { status: 500, .. })),
            (Mode::Status(404), |e| matches!(e, JwksError::Status { status: 404, .. })),
            (Mode::Garbage, |e| {
                matches!(e, JwksError::Document { expected: "a JWK Set", reason, .. } if reason.starts_with("not JSON"))
            }),
            (
                Mode::Serve { body: r#"{"kids":[]}"#.into(), cache_control: None },
                |e| matches!(e, JwksError::Document { reason, .. } if reason == "no `keys` array"),
            ),
            (
                Mode::Serve { body: format!(r#"{{"keys":[{rsa_1024}]}}"#), cache_control: None },
                |e| matches!(e, JwksError::Document { reason, .. } if reason.starts_with("no usable key; key 0 (kid `weak`)")),
            ),
            (Mode::Huge(1024 * 1024), |e| matches!(e, JwksError::TooLarge { limit: 65536, .. })),
            (
                serve(&[&es256("a"), &es256("b"), &es256("c"), &es256("d"), &es256("e")], None),
                |e| matches!(e, JwksError::Document { reason, .. } if reason == "more keys than the limit of 4"),
            ),
            (
                Mode::Slow { delay: Duration::from_secs(3), body: jwks(&[&k1]) },
                |e| matches!(e, JwksError::Timeout { timeout, .. } if *timeout == MS(300)),
            ),
        ];
        for (i, (mode, expected)) in cases.into_iter().enumerate() {
            issuer.set_mode(mode.clone());
            let started = std::time::Instant::now();
            let jwt = client.verify(&token(&k1, "bob"), &validation()).await.unwrap();
            assert_eq!(jwt.claims().sub(), Some("bob"));
            assert!(started.elapsed() < Duration::from_secs(2), "case {i} bounded by the timeout");
            let status = client.status();
            let error = status.last_error.as_ref().expect("the fetch failed");
            assert!(expected(error), "case {i} ({mode:?}): {error:?}");
            assert_eq!(status.consecutive_failures, i as u64 + 1);
            assert_eq!(status.keys, 1);
        }
        // The issuer recovers.
        issuer.set_mode(serve(&[&k1], None));
        client.keys().await.unwrap();
        assert!(client.status().last_error.is_none());
        assert_eq!(client.status().consecutive_failures, 0);
    })
    .await;
}

#[tokio::test]
async fn unknown_kid_floods_fetch_at_most_once_per_interval() {
    within(30, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(serve(&[&k1], Some("max-age=3600"))).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .unknown_kid_interval(MS(1000))
            .build()
            .unwrap();
        client.refresh().await.unwrap();
        assert_eq!(issuer.jwks_hits(), 1);
        let strangers: Vec<String> = (0..8)
            .map(|i| token(&es256(&format!("stranger-{i}")), "mallory"))
            .collect();

        for round in 1..=2 {
            tokio::time::sleep(MS(1050)).await;
            // 64 concurrent callers, then 64 more one after another, all within the interval.
            let mut tasks = Vec::new();
            for i in 0..64 {
                let (client, token) = (client.clone(), strangers[i % 8].clone());
                tasks.push(tokio::spawn(async move {
                    client.verify(&token, &validation()).await
                }));
            }
            for (i, task) in tasks.into_iter().enumerate() {
                let r = task.await.unwrap();
                assert!(
                    is_kid_not_found(&r, &format!("stranger-{}", i % 8)),
                    "{r:?}"
                );
            }
            for i in 0..64 {
                let r = client.verify(&strangers[i % 8], &validation()).await;
                assert!(
                    is_kid_not_found(&r, &format!("stranger-{}", i % 8)),
                    "{r:?}"
                );
            }
            assert_eq!(
                issuer.jwks_hits(),
                1 + round,
                "one fetch per interval (round {round})"
            );
            // Known keys keep verifying meanwhile.
            client
                .verify(&token(&k1, "alice"), &validation())
                .await
                .unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    within(20, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(Mode::Slow {
            delay: MS(300),
            body: jwks(&[&k1]),
        })
        .await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..32 {
            let (client, token) = (client.clone(), token(&k1, &format!("user{i}")));
            tasks.push(tokio::spawn(async move {
                client.verify(&token, &validation()).await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(issuer.jwks_hits(), 1);
    })
    .await;
}

#[tokio::test]
async fn only_the_fetching_caller_waits_for_a_slow_issuer() {
    within(20, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(serve(&[&k1], None)).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .min_ttl(MS(100))
            .max_ttl(MS(100))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        client.refresh().await.unwrap();
        issuer.set_mode(Mode::Slow {
            delay: Duration::from_secs(3),
            body: jwks(&[&k1]),
        });
        tokio::time::sleep(MS(150)).await;

        // The set is stale: the first caller fetches (and waits for the slow issuer)...
        let fetching = {
            let (client, token) = (client.clone(), token(&k1, "first"));
            tokio::spawn(async move { client.verify(&token, &validation()).await })
        };
        while issuer.jwks_hits() < 2 {
            tokio::time::sleep(MS(10)).await;
        }
        // ...while the others verify with the last good set at once.
        for i in 0..10 {
            let r = tokio::time::timeout(
                Duration::from_secs(1),
                client.verify(&token(&k1, &format!("user{i}")), &validation()),
            )
            .await;
            assert!(matches!(r, Ok(Ok(_))), "{r:?}");
        }
        assert!(!fetching.is_finished());
        fetching.await.unwrap().unwrap();
        assert_eq!(issuer.jwks_hits(), 2);
        assert!(client.status().last_error.is_none());
    })
    .await;
}

#[tokio::test]
async fn callers_that_give_up_do_not_cancel_the_fetch() {
    within(20, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(Mode::Slow {
            delay: MS(400),
            body: jwks(&[&k1]),
        })
        .await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (client, token) = (client.clone(), token(&k1, "alice"));
            tasks.push(tokio::spawn(async move {
                client.verify(&token, &validation()).await
            }));
        }
        tokio::time::sleep(MS(100)).await;
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            assert!(task.await.unwrap_err().is_cancelled());
        }
        // The fetch goes on without them; the next caller gets its set.
        client
            .verify(&token(&k1, "bob"), &validation())
            .await
            .unwrap();
        assert_eq!(issuer.jwks_hits(), 1);
        assert_eq!(client.status().fetches, 1);
    })
    .await;
}

#[tokio::test]
async fn no_set_at_all_is_keys_unavailable() {
    within(20, async {
        let url = closed_port_url().await;
        let client = JwksClient::builder(url)
            .allow_http(true)
            .retry_after_failure(Duration::from_secs(30))
            .build()
            .unwrap();
        let k1 = es256("k1");
        for _ in 0..5 {
            let r = client.verify(&token(&k1, "alice"), &validation()).await;
            assert!(
                matches!(
                    r,
                    Err(VerifyError::KeysUnavailable(JwksError::Connection { .. }))
                ),
                "{r:?}"
            );
        }
        assert_eq!(
            client.status().fetches,
            1,
            "the back-off holds off the other attempts"
        );
        assert!(matches!(
            client.refresh().await,
            Err(JwksError::Connection { .. })
        ));
        assert_eq!(client.status().fetches, 2, "refresh() tries at once");
        assert!(client.current().is_none());
    })
    .await;
}

#[tokio::test]
async fn discovery_finds_the_jwks_uri() {
    within(20, async {
        let k1 = es256("k1");
        let issuer = Issuer::start(serve(&[&k1], Some("max-age=3600"))).await;
        let client = JwksClient::discover(issuer.base())
            .allow_http(true)
            .build()
            .unwrap();
        let validation = validation();
        let claims = claims(ISSUER, "alice");
        let token = jose_core::jwt::sign(&claims, &k1, jose_core::JwsAlgorithm::ES256, None).unwrap();
        client.verify(&token, &validation).await.unwrap();
        client.verify(&token, &validation).await.unwrap();
        assert_eq!((issuer.config_hits(), issuer.jwks_hits()), (1, 1));
        assert_eq!(client.status().jwks_uri, Some(issuer.jwks_url()));

        // A configuration naming another issuer is refused.
        issuer.set_issuer_in_config("https://evil.test");
        let client = JwksClient::discover(issuer.base())
            .allow_http(true)
            .build()
            .unwrap();
        let r = client.refresh().await;
        assert!(
            matches!(&r, Err(JwksError::IssuerMismatch { found, .. }) if found == "https://evil.test"),
            "{r:?}"
        );
        assert_eq!(issuer.jwks_hits(), 1, "the set of a mismatched issuer is not fetched");
    })
    .await;
}

#[tokio::test]
async fn plain_http_needs_consent() {
    let r = JwksClient::builder("http://127.0.0.1:1/jwks.json").build();
    assert!(matches!(r, Err(JwksError::InsecureUrl(_))), "{r:?}");
    let r = JwksClient::discover("http://127.0.0.1:1").build();
    assert!(matches!(r, Err(JwksError::InsecureUrl(_))), "{r:?}");
    let r = JwksClient::builder("issuer.test/jwks.json").build();
    assert!(matches!(r, Err(JwksError::InvalidUrl { .. })), "{r:?}");
}

#[tokio::test]
async fn skipped_keys_are_reported_in_the_status() {
    within(20, async {
        let k1 = es256("k1");
        let set = format!(
            r#"{{"keys":[{{"kty":"XYZ","kid":"odd"}},{},{{"kty":"oct","kid":"mac","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMw"}}]}}"#,
            k1.jwk().to_public_json().unwrap()
        );
        let issuer = Issuer::start(Mode::Serve { body: set, cache_control: None }).await;
        let client = JwksClient::builder(issuer.jwks_url()).allow_http(true).build().unwrap();
        client.verify(&token(&k1, "alice"), &validation()).await.unwrap();
        let status = client.status();
        assert_eq!(status.keys, 1);
        let skipped: Vec<(usize, Option<&str>)> =
            status.skipped.iter().map(|s| (s.index, s.kid.as_deref())).collect();
        assert_eq!(skipped, [(0, Some("odd")), (2, Some("mac"))]);
        assert!(matches!(
            &status.skipped[0].reason,
            SkipReason::Invalid(jose_core::Error::Key(KeyError::UnsupportedKeyType(t))) if t == "XYZ"
        ));
        assert!(matches!(status.skipped[1].reason, SkipReason::Symmetric));
    })
    .await;
}

/// docs/security.md item 3: a token carrying its own key or key URL (`jku`, `jwk`) is never
/// trusted, and no URL from a token is fetched.
#[tokio::test]
async fn keys_and_urls_in_the_token_are_never_used() {
    within(20, async {
        let (k1, evil) = (es256("k1"), es256("evil"));
        let issuer = Issuer::start(serve(&[&k1], Some("max-age=3600"))).await;
        let attacker = Issuer::start(serve(&[&evil], None)).await;
        let client = JwksClient::builder(issuer.jwks_url())
            .allow_http(true)
            .unknown_kid_interval(Duration::ZERO)
            .build()
            .unwrap();
        let header = jose_core::Header::new()
            .with("jku", attacker.jwks_url())
            .with(
                "jwk",
                serde_json::from_str::<serde_json::Value>(&evil.jwk().to_public_json().unwrap())
                    .unwrap(),
            );
        let forged = jose_core::jwt::sign(
            &claims(ISSUER, "mallory"),
            &evil,
            jose_core::JwsAlgorithm::ES256,
            Some(&header),
        )
        .unwrap();
        let r = client.verify(&forged, &validation()).await;
        assert!(is_kid_not_found(&r, "evil"), "{r:?}");
        assert_eq!(attacker.jwks_hits(), 0, "the token's jku is never fetched");
        assert_eq!(
            issuer.jwks_hits(),
            2,
            "the unknown kid refetched the issuer's own set"
        );
    })
    .await;
}
