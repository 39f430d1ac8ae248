//! Tests of the limits: what counts, for whom, and how two pods' tables share a budget.

use std::time::Instant;

use mcpgw_shared::ServerId;
use mcpgw_shared::model::{LimitScope, RateLimit};

use super::table::{CounterKey, Report, Table, Window};
use super::*;

fn limit(by: LimitScope) -> RateLimit {
    RateLimit {
        by,
        tools: vec![],
        per_minute: None,
        per_hour: None,
        per_day: None,
        concurrent: None,
    }
}

fn caller<'a>(key: &'a str, user: Option<&'a str>) -> Caller<'a> {
    Caller {
        key,
        user,
        workspace: Some("w1"),
        server: "s1",
    }
}

fn compile(limits: &[RateLimit]) -> ServerLimits {
    ServerLimits::compile(ServerId::new(), limits).unwrap()
}

#[test]
fn a_key_limit_counts_each_key_apart_and_says_when_to_retry() {
    let limits = compile(&[RateLimit {
        per_minute: Some(3),
        ..limit(LimitScope::Key)
    }]);
    let limiter = RateLimiter::new();
    for _ in 0..3 {
        drop(limiter.admit(&[&limits], caller("k1", None), None).unwrap());
    }
    let refused = limiter
        .admit(&[&limits], caller("k1", None), Some("search"))
        .unwrap_err();
    assert_eq!((refused.index, refused.by, refused.bound), (0, "key", 3));
    assert_eq!(refused.window, "per minute");
    let wait = refused.retry_after.as_secs();
    assert!((1..=60).contains(&wait), "retry after {wait}s");
    assert!(limiter.admit(&[&limits], caller("k2", None), None).is_ok());
}

#[test]
fn a_user_limit_spans_the_users_keys_and_a_service_key_is_its_own_user() {
    let limits = compile(&[RateLimit {
        per_hour: Some(2),
        ..limit(LimitScope::User)
    }]);
    let limiter = RateLimiter::new();
    drop(limiter.admit(&[&limits], caller("k1", Some("alice")), None));
    drop(limiter.admit(&[&limits], caller("k2", Some("alice")), None));
    let refused = limiter
        .admit(&[&limits], caller("k3", Some("alice")), None)
        .unwrap_err();
    assert_eq!(refused.window, "per hour");
    assert!(
        limiter
            .admit(&[&limits], caller("k1", Some("bob")), None)
            .is_ok()
    );
    assert!(limiter.admit(&[&limits], caller("svc", None), None).is_ok());
    assert!(limiter.admit(&[&limits], caller("svc", None), None).is_ok());
    assert!(
        limiter
            .admit(&[&limits], caller("svc", None), None)
            .is_err()
    );
}

#[test]
fn a_tool_limit_counts_only_calls_of_its_tools_each_tool_apart() {
    let limits = compile(&[RateLimit {
        tools: vec!["search*".into()],
        per_day: Some(1),
        ..limit(LimitScope::Tool)
    }]);
    let limiter = RateLimiter::new();
    let anyone = caller("k1", None);
    for _ in 0..5 {
        assert!(
            limiter.admit(&[&limits], anyone, None).is_ok(),
            "tools/list"
        );
        assert!(
            limiter.admit(&[&limits], anyone, Some("echo")).is_ok(),
            "echo"
        );
    }
    assert!(
        limiter
            .admit(&[&limits], anyone, Some("search_web"))
            .is_ok()
    );
    assert!(
        limiter
            .admit(&[&limits], anyone, Some("search_docs"))
            .is_ok()
    );
    let refused = limiter
        .admit(&[&limits], caller("k2", None), Some("search_web"))
        .unwrap_err();
    assert_eq!((refused.by, refused.window), ("tool", "per day"));
}

#[test]
fn a_refused_request_counts_against_no_limit() {
    let limits = compile(&[
        RateLimit {
            per_minute: Some(10),
            ..limit(LimitScope::Server)
        },
        RateLimit {
            per_minute: Some(1),
            ..limit(LimitScope::Key)
        },
    ]);
    let limiter = RateLimiter::new();
    assert!(limiter.admit(&[&limits], caller("k1", None), None).is_ok());
    for _ in 0..20 {
        assert_eq!(
            limiter
                .admit(&[&limits], caller("k1", None), None)
                .unwrap_err()
                .index,
            1
        );
    }
    // The server's budget lost only k1's one request.
    for key in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] {
        assert!(
            limiter.admit(&[&limits], caller(key, None), None).is_ok(),
            "{key}"
        );
    }
    assert_eq!(
        limiter
            .admit(&[&limits], caller("j", None), None)
            .unwrap_err()
            .index,
        0
    );
}

#[test]
fn a_concurrency_limit_frees_a_place_when_the_call_ends() {
    let limits = compile(&[RateLimit {
        concurrent: Some(2),
        ..limit(LimitScope::Workspace)
    }]);
    let limiter = RateLimiter::new();
    let first = limiter.admit(&[&limits], caller("k1", None), None).unwrap();
    let _second = limiter.admit(&[&limits], caller("k2", None), None).unwrap();
    let refused = limiter
        .admit(&[&limits], caller("k3", None), None)
        .unwrap_err();
    assert_eq!(
        (refused.window, refused.retry_after.as_secs()),
        ("concurrent", 1)
    );
    drop(first);
    assert!(limiter.admit(&[&limits], caller("k3", None), None).is_ok());
}

#[test]
fn a_changed_limit_starts_its_counts_afresh() {
    let server = ServerId::new();
    let before = ServerLimits::compile(
        server,
        &[RateLimit {
            per_minute: Some(1),
            ..limit(LimitScope::Key)
        }],
    )
    .unwrap();
    let after = ServerLimits::compile(
        server,
        &[RateLimit {
            per_minute: Some(2),
            ..limit(LimitScope::Key)
        }],
    )
    .unwrap();
    let limiter = RateLimiter::new();
    assert!(limiter.admit(&[&before], caller("k", None), None).is_ok());
    assert!(limiter.admit(&[&before], caller("k", None), None).is_err());
    assert!(limiter.admit(&[&after], caller("k", None), None).is_ok());
    assert_ne!(before, after);
}

fn key() -> CounterKey {
    CounterKey {
        id: [1; 16],
        window: Window::Minute,
        start: 0,
    }
}

/// Two pods tick and exchange their reports, as the gossip task does.
fn sync(a: &mut Table, b: &mut Table, now: Instant) {
    let from_a = a.tick(now, 1, false);
    let from_b = b.tick(now, 1, false);
    a.absorb(2, &from_b, now, 1);
    b.absorb(1, &from_a, now, 1);
}

fn burst(table: &mut Table, limit: u32, now: Instant) -> u64 {
    let mut admitted = 0;
    while table.charge(&[(key(), limit)], now).is_ok() {
        admitted += 1;
    }
    admitted
}

#[test]
fn a_pod_alone_spends_the_whole_budget_at_once() {
    let mut table = Table::default();
    assert_eq!(burst(&mut table, 100, Instant::now()), 100);
}

#[test]
fn two_pods_bursting_together_stay_within_the_stated_bound() {
    let (mut a, mut b) = (Table::default(), Table::default());
    let now = Instant::now();
    // They know each other from their heartbeats.
    a.absorb(2, &[], now, 1);
    b.absorb(1, &[], now, 1);
    let limit = 100;
    let mut admitted = 0;
    for _ in 0..20 {
        admitted += burst(&mut a, limit, now) + burst(&mut b, limit, now);
        sync(&mut a, &mut b, now);
    }
    // Each spends half of what remained per interval: together exactly the budget.
    assert_eq!(admitted, 100);
    assert_eq!(a.total(&key()), 100);
    assert_eq!(b.total(&key()), 100);
}

#[test]
fn reports_that_cross_a_burst_overshoot_no_more_than_the_bound() {
    let (mut a, mut b) = (Table::default(), Table::default());
    let now = Instant::now();
    a.absorb(2, &[], now, 1);
    b.absorb(1, &[], now, 1);
    let limit: u64 = 10;
    // a ticks and reports before b spends; b ticks before it hears a's spending.
    let mut admitted = burst(&mut a, 10, now);
    let from_a = a.tick(now, 1, false);
    let from_b = b.tick(now, 1, false);
    admitted += burst(&mut b, 10, now);
    b.absorb(1, &from_a, now, 1);
    a.absorb(2, &from_b, now, 1);
    for _ in 0..10 {
        admitted += burst(&mut a, 10, now) + burst(&mut b, 10, now);
        sync(&mut a, &mut b, now);
    }
    let pods = 2;
    let bound = limit + (pods - 1) * limit.div_ceil(pods);
    assert!(admitted <= bound, "{admitted} admitted, bound {bound}");
    assert!(
        admitted >= limit,
        "{admitted} admitted: the budget was not spent"
    );
}

#[test]
fn a_silent_pods_calls_in_flight_stop_counting_but_its_requests_do_not() {
    let mut table = Table::default();
    let then = Instant::now();
    let concurrent = CounterKey {
        id: [2; 16],
        window: Window::Concurrent,
        start: 0,
    };
    table.absorb(
        9,
        &[
            Report {
                key: concurrent,
                count: 5,
            },
            Report {
                key: key(),
                count: 7,
            },
        ],
        then,
        1,
    );
    assert_eq!(table.total(&concurrent), 5);
    let later = then + table::PEER_SILENCE + std::time::Duration::from_millis(1);
    table.tick(later, 1, false);
    assert_eq!(table.total(&concurrent), 0);
    assert_eq!(table.total(&key()), 7);
    // Once the window has ended, it is forgotten.
    table.tick(later, 61, false);
    assert_eq!(table.total(&key()), 0);
}
