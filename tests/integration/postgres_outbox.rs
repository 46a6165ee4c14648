//! The outbox, origin leases and claims on PostgreSQL, against the real server at
//! 127.0.0.1:5432 (see tests/common/pg.rs): the same answers as SQLite for the same calls, and
//! what SQLite's one writer never had to face: several nodes at once, on real threads, and
//! nodes whose clocks disagree.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use crate::common::pg::Schema;
use futures_util::future::BoxFuture;
use govwatch::config::Config;
use govwatch::fetch::{Fetcher, Validators, Want};
use govwatch::model::{DocRole, EventKind, KindSet, Timestamp};
use govwatch::polite::{Gated, Hosts, OriginLeases, Request};
use govwatch::store::copy::copy;
use govwatch::store::{
    Channel, CheckRecord, Due, LEASE, Lease, Mode, NewEvent, PgStore, RetryRefusal, Store, StoreError, Target,
};
use time::OffsetDateTime;

fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn t0() -> Timestamp {
    at("2026-01-01T00:00:00Z")
}

fn wall_now() -> Timestamp {
    Timestamp::from_datetime(OffsetDateTime::now_utc())
}

fn due_now(now: Timestamp) -> Due {
    Due {
        retries_until: Some(now),
        digests_until: Some(now),
    }
}

fn everything() -> Due {
    Due {
        retries_until: None,
        digests_until: None,
    }
}

fn event(kind: EventKind, watch: &str, significance: f64, relevant: bool) -> NewEvent {
    NewEvent {
        kind,
        watch: watch.into(),
        url: format!("https://example.org/{watch}"),
        title: None,
        source: None,
        overlap: None,
        added: None,
        removed: None,
        relevant,
        significance,
        details: None,
    }
}

/// A SQLite database with these events (one document each, no deliveries yet: the outbox's
/// orphans), and the same rows copied into a fresh PostgreSQL schema with `store copy`, ids and
/// all. Returns both stores and the events' ids.
fn twins(schema: &Schema, dir: &std::path::Path, events: Vec<NewEvent>) -> (Store, PgStore, Vec<i64>) {
    let path = dir.join("g.db");
    let mut s = Store::open(&path).unwrap();
    for (i, e) in events.into_iter().enumerate() {
        let doc = s
            .ensure_watch_document(&e.watch, &format!("https://example.org/{i}"), DocRole::Page, t0())
            .unwrap();
        let record = CheckRecord {
            document_id: doc.id,
            etag: None,
            last_modified: None,
            next_due_at: t0(),
            snapshot: None,
            corpus: None,
            events: vec![e],
            targets: Vec::new(),
            template_blocks: None,
            body_hash: None,
        };
        s.commit_check(record, t0()).unwrap();
    }
    let to = Store::Postgres(PgStore::open(&schema.parsed()).unwrap());
    copy(&s, &to).unwrap();
    let Store::Postgres(p) = to else { unreachable!() };
    let ids = p.orphan_events().unwrap().iter().map(|e| e.0).collect();
    (s, p, ids)
}

fn target(recipient: &str, channel: Channel, mode: Mode, due_at: Timestamp) -> Target {
    Target {
        recipient: recipient.into(),
        channel,
        mode,
        due_at,
        kinds: KindSet::mailed_by_default(),
    }
}

/// Runs the same call on the SQLite store `$s` and the PostgreSQL store `$p`, and asserts that
/// both give the same result (compared as printed); returns SQLite's.
macro_rules! same {
    ($s:expr, $p:expr, |$st:ident| $call:expr) => {{
        let sqlite = {
            let $st = &mut $s;
            $call
        }
        .unwrap();
        let postgres = {
            let $st = &$p;
            $call
        }
        .unwrap();
        assert_eq!(
            format!("{sqlite:?}"),
            format!("{postgres:?}"),
            "{}",
            stringify!($call)
        );
        sqlite
    }};
}

/// What the events' rows say about mail, on either side: (id, notified_at, message_id).
fn events_mail_sqlite(path: &std::path::Path) -> Vec<(i64, Option<String>, Option<String>)> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut stmt = c
        .prepare("SELECT id, notified_at, message_id FROM events ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn events_mail_pg(schema: &Schema) -> Vec<(i64, Option<String>, Option<String>)> {
    schema
        .client()
        .query("SELECT id, notified_at, message_id FROM events ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

// ----------------------------------------------------------------------- same as SQLite

/// Every outbox method, called in the same order with the same arguments on a SQLite database
/// and on its copy on PostgreSQL, answers the same and leaves the events in the same state:
/// routing, digests not due before their time, claims, a send, a retried and a permanent
/// failure, retries by hand, and the refusals of retries that make no sense.
#[test]
fn the_outbox_on_postgres_answers_as_on_sqlite() {
    let Some(schema) = Schema::new("outbox_same") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut s, p, ids) = twins(
        &schema,
        dir.path(),
        vec![
            event(EventKind::New, "w1", 0.9, true),
            event(EventKind::Changed, "w1", 0.2, true),
            event(EventKind::New, "w2", 0.5, true),
            event(EventKind::Duplicate, "w2", 0.7, true),
            event(EventKind::New, "w3", 0.5, false),
            event(EventKind::Changed, "w3", 0.6, true),
        ],
    );
    let path = dir.path().join("g.db");
    assert_eq!(ids.len(), 5, "the irrelevant event is no orphan");

    let orphans = same!(s, p, |st| st.orphan_events());
    // a@ gets everything at once; b@ a digest at 07:00; c@ a webhook. Nobody wants a duplicate
    // (it is settled at once); the last event nobody follows.
    let digest_at = at("2026-01-01T07:00:00Z");
    let targets = vec![
        target("a@example.org", Channel::Email, Mode::Immediate, t0()),
        target("b@example.org", Channel::Email, Mode::Digest, digest_at),
        target("c", Channel::Webhook, Mode::Immediate, t0()),
    ];
    let (routed, unfollowed): (Vec<_>, Vec<_>) = orphans.iter().partition(|(_, watch, _)| watch != "w3");
    let items: Vec<(i64, EventKind, Vec<Target>)> = routed
        .iter()
        .map(|(id, _, kind)| (*id, *kind, targets.clone()))
        .collect();
    let unfollowed: Vec<i64> = unfollowed.iter().map(|(id, _, _)| *id).collect();
    same!(s, p, |st| st.settle_unfollowed(&unfollowed, t0()));
    same!(s, p, |st| st.enqueue(&items, t0()));
    same!(s, p, |st| st.orphan_events());
    same!(s, p, |st| st.deliveries());
    same!(s, p, |st| st.next_delivery_due());

    // The digest is not due a second before its time, and is at it.
    let early = same!(s, p, |st| st.due_batches(&due_now(at("2026-01-01T06:59:59Z"))));
    assert!(early.iter().all(|b| b.mode == Mode::Immediate), "{early:?}");
    same!(s, p, |st| st.due_batches(&due_now(digest_at)));
    same!(s, p, |st| st.due_batches(&everything()));

    // Claimed: the immediate batches now, not again while held; the digest at its time.
    let now = at("2026-01-01T00:00:10Z");
    let batches = same!(s, p, |st| st.claim_due_batches(&due_now(now), now));
    assert_eq!(batches.len(), 2, "{batches:?}");
    assert!(same!(s, p, |st| st.claim_due_batches(&due_now(now), now)).is_empty());
    let mail = batches.iter().find(|b| b.channel == Channel::Email).unwrap();
    let hook = batches.iter().find(|b| b.channel == Channel::Webhook).unwrap();

    // The mail goes out under the Message-ID fixed before it; the webhook fails, to be retried.
    same!(s, p, |st| st.assign_batch(&mail.delivery_ids, "<m1@example.org>"));
    same!(s, p, |st| st.assign_batch(&hook.delivery_ids, "<h1@example.org>"));
    same!(s, p, |st| st.mark_sent(
        &mail.delivery_ids,
        "<m1@example.org>",
        now
    ));
    let retry_at = at("2026-01-01T00:01:10Z");
    same!(s, p, |st| st.mark_failed(
        &hook.delivery_ids,
        "502 bad gateway",
        false,
        3,
        retry_at,
        now
    ));
    assert!(same!(s, p, |st| st.due_batches(&due_now(now))).is_empty());
    let retried = same!(s, p, |st| st.claim_due_batches(&due_now(retry_at), retry_at));
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].message_id.as_deref(), Some("<h1@example.org>"));
    assert_eq!(retried[0].attempts, 1);
    // Not got to (a sender that broke): let go, and claimed again at once.
    same!(s, p, |st| st.release_deliveries(&retried[0].delivery_ids));
    let retried = same!(s, p, |st| st.claim_due_batches(&due_now(retry_at), retry_at));
    same!(s, p, |st| st.mark_failed(
        &retried[0].delivery_ids,
        "410 gone",
        true,
        3,
        retry_at,
        retry_at
    ));

    // The digest: claimed at its time, failed for good on its last attempt.
    let digest = same!(s, p, |st| st.claim_due_batches(&due_now(digest_at), digest_at));
    assert_eq!(digest.len(), 1);
    assert_eq!(digest[0].mode, Mode::Digest);
    same!(s, p, |st| st.mark_failed(
        &digest[0].delivery_ids,
        "550 no such user",
        false,
        1,
        digest_at,
        digest_at
    ));

    same!(s, p, |st| st.outbox_counts());
    let rows = same!(s, p, |st| st.deliveries());
    same!(s, p, |st| st.next_delivery_due());
    let all: Vec<i64> = rows.iter().map(|r| r.event_id).collect();
    same!(s, p, |st| st
        .deliveries_of_events(&all)
        .map(|m| m.into_iter().collect::<BTreeMap<_, _>>()));
    assert_eq!(events_mail_sqlite(&path), events_mail_pg(&schema));

    // Retries by hand: refused for a sent row and an unknown id, then one, then the rest.
    let failed: Vec<i64> = rows
        .iter()
        .filter(|r| r.state == "failed")
        .map(|r| r.id)
        .collect();
    let sent = rows.iter().find(|r| r.state == "sent").unwrap().id;
    let refusals = same!(s, p, |st| st.retry_refusals(&[failed[0], sent, 9999]));
    assert!(matches!(
        refusals[..],
        [RetryRefusal::NotFailed { .. }, RetryRefusal::Unknown(9999)]
    ));
    let later = at("2026-01-02T00:00:00Z");
    assert_eq!(
        same!(s, p, |st| st.retry_failed(Some(&failed[..1]), later)),
        failed[..1]
    );
    assert_eq!(same!(s, p, |st| st.retry_failed(None, later)), failed[1..]);
    assert_eq!(events_mail_sqlite(&path), events_mail_pg(&schema));
    same!(s, p, |st| st.deliveries());
    same!(s, p, |st| st.outbox_counts());
    same!(s, p, |st| st.due_batches(&everything()));

    // And everything requeued goes out.
    for b in same!(s, p, |st| st.claim_due_batches(&due_now(later), later)) {
        same!(s, p, |st| st.mark_sent(
            &b.delivery_ids,
            "<m2@example.org>",
            later
        ));
    }
    same!(s, p, |st| st.outbox_counts());
    same!(s, p, |st| st.deliveries());
    assert_eq!(events_mail_sqlite(&path), events_mail_pg(&schema));
    assert!(same!(s, p, |st| st.next_delivery_due()).is_none());
}

/// robots.txt facts and a pause written on one node are what every node reads.
#[test]
fn host_facts_on_postgres_answer_as_on_sqlite_and_a_pause_holds_for_every_node() {
    let Some(schema) = Schema::new("hosts_same") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut s, p, _) = twins(&schema, dir.path(), Vec::new());
    let robots = govwatch::store::HostRow {
        origin: "https://gov.example".into(),
        robots_status: Some(200),
        robots: Some("User-agent: *\nDisallow: /private\n".into()),
        robots_error: None,
        robots_fetched_at: Some(t0().to_string()),
        not_before: None,
        not_before_reason: None,
    };
    same!(s, p, |st| st.save_robots(&robots));
    same!(s, p, |st| st.save_not_before(
        "https://gov.example",
        "2026-01-01T00:10:00Z",
        "HTTP 429"
    ));
    same!(s, p, |st| st.save_not_before(
        "https://other.example",
        "2026-01-01T00:05:00Z",
        "HTTP 503"
    ));
    same!(s, p, |st| st.not_before("https://gov.example"));
    same!(s, p, |st| st.not_before("https://nowhere.example"));
    let mut rows = same!(s, p, |st| st.hosts().map(|mut h| {
        h.sort_by(|a, b| a.origin.cmp(&b.origin));
        h
    }));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.remove(0).robots_status, Some(200));

    // Another node sees the pause, whenever it asks and when it takes the origin.
    let other = PgStore::open(&schema.parsed())
        .unwrap()
        .with_holder("node-b".into());
    assert_eq!(
        other.not_before("https://gov.example").unwrap(),
        Some(("2026-01-01T00:10:00Z".into(), "HTTP 429".into()))
    );
    match other.take_origin("https://gov.example", t0()).unwrap() {
        Lease::Granted { not_before, .. } => {
            assert_eq!(
                not_before.map(|(t, why)| (Timestamp::from_datetime(t), why)),
                Some((at("2026-01-01T00:10:00Z"), "HTTP 429".into()))
            );
        }
        held => panic!("{held:?}"),
    }
}

// ------------------------------------------------------------------ several nodes at once

/// Events for `recipients` recipients, `per` each, as orphans (no deliveries yet), and what
/// routes each to its recipient by mail and by webhook: separate batches, so that nodes
/// contend for many.
fn orphans_for(
    schema: &Schema,
    dir: &std::path::Path,
    recipients: usize,
    per: usize,
) -> (PgStore, Vec<(i64, EventKind, Vec<Target>)>) {
    let events: Vec<NewEvent> = (0..recipients * per)
        .map(|i| event(EventKind::New, &format!("w{i}"), (i % 10) as f64 / 10.0, true))
        .collect();
    let (_, p, ids) = twins(schema, dir, events);
    let items = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let r = format!("r{}@example.org", i % recipients);
            (
                *id,
                EventKind::New,
                vec![
                    target(&r, Channel::Email, Mode::Immediate, t0()),
                    target(&r, Channel::Webhook, Mode::Immediate, t0()),
                ],
            )
        })
        .collect();
    (p, items)
}

/// The same, enqueued at once; returns the deliveries' ids.
fn busy_outbox(schema: &Schema, dir: &std::path::Path, recipients: usize, per: usize) -> Vec<i64> {
    let (p, items) = orphans_for(schema, dir, recipients, per);
    p.enqueue(&items, t0()).unwrap();
    p.deliveries().unwrap().iter().map(|d| d.id).collect()
}

/// Three nodes claim, send and settle due batches on threads of their own while mail keeps
/// arriving (a fourth thread enqueues events a few at a time, as passes find them), until
/// nothing is left: every delivery is claimed by exactly one node, all are sent, every event
/// is settled, and the nodes shared the work (each new handful is raced for).
#[test]
fn nodes_claiming_due_batches_at_once_never_get_the_same_delivery() {
    let Some(schema) = Schema::new("outbox_nodes") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (feeder, items) = orphans_for(&schema, dir.path(), 40, 5);
    let fed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Arc::new(Barrier::new(4));
    let nodes: Vec<_> = (0..3)
        .map(|n| {
            let (url, start, fed) = (schema.parsed(), start.clone(), fed.clone());
            std::thread::spawn(move || {
                let node = PgStore::open(&url).unwrap().with_holder(format!("node-{n}"));
                start.wait();
                let (mut mine, mut idle) = (Vec::new(), 0);
                while idle < 3 {
                    let now = wall_now();
                    let batches = node.claim_due_batches(&due_now(now), now).unwrap();
                    if batches.is_empty() {
                        // Done once the feeder is and nothing more comes.
                        if fed.load(Ordering::SeqCst) {
                            idle += 1;
                        }
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    idle = 0;
                    for b in batches {
                        node.mark_sent(&b.delivery_ids, &format!("<{n}.{}@x>", b.delivery_ids[0]), now)
                            .unwrap();
                        mine.extend(b.delivery_ids);
                    }
                }
                mine
            })
        })
        .collect();
    start.wait();
    for chunk in items.chunks(5) {
        feeder.enqueue(chunk, t0()).unwrap();
        std::thread::sleep(Duration::from_millis(5));
    }
    fed.store(true, Ordering::SeqCst);
    let per_node: Vec<Vec<i64>> = nodes.into_iter().map(|n| n.join().unwrap()).collect();
    let mut claimed: Vec<i64> = per_node.iter().flatten().copied().collect();
    claimed.sort_unstable();
    let all: Vec<i64> = feeder.deliveries().unwrap().iter().map(|d| d.id).collect();
    assert_eq!(all.len(), 400);
    assert_eq!(claimed, all, "every delivery claimed exactly once");
    let shares: Vec<usize> = per_node.iter().map(Vec::len).collect();
    assert!(
        shares.iter().filter(|n| **n > 0).count() >= 2,
        "the nodes shared the work: {shares:?}"
    );
    let counts = feeder.outbox_counts().unwrap();
    assert_eq!((counts.pending, counts.sent), (0, 400));
    let unsettled: i64 = schema
        .client()
        .query_one("SELECT count(*) FROM events WHERE notified_at IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(unsettled, 0, "every event settled");
}

/// Two nodes send the two deliveries of each event (one by mail, one by webhook) at the same
/// moment: each event is settled all the same, by whichever finishes last. Without the event's
/// row locked first, each node would see the other's delivery still pending and leave the event
/// waiting for mail forever.
#[test]
fn two_nodes_finishing_an_events_last_deliveries_at_once_settle_it() {
    let Some(schema) = Schema::new("outbox_settle") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    busy_outbox(&schema, dir.path(), 1, 300);
    let p = PgStore::open(&schema.parsed()).unwrap();
    let rows = p.deliveries().unwrap();
    let by_channel = |channel: &str| -> Vec<i64> {
        let mut v: Vec<(i64, i64)> = rows
            .iter()
            .filter(|d| d.channel == channel)
            .map(|d| (d.event_id, d.id))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id).collect()
    };
    let start = Arc::new(Barrier::new(2));
    let nodes: Vec<_> = [by_channel("email"), by_channel("webhook")]
        .into_iter()
        .enumerate()
        .map(|(n, ids)| {
            let (url, start) = (schema.parsed(), start.clone());
            std::thread::spawn(move || {
                let node = PgStore::open(&url).unwrap().with_holder(format!("node-{n}"));
                start.wait();
                // Event by event, in the same order on both: the two meet on most events.
                for id in ids {
                    node.mark_sent(&[id], &format!("<{n}.{id}@x>"), wall_now())
                        .unwrap();
                }
            })
        })
        .collect();
    for n in nodes {
        n.join().unwrap();
    }
    assert_eq!(p.outbox_counts().unwrap().sent, 600);
    let unsettled: i64 = schema
        .client()
        .query_one("SELECT count(*) FROM events WHERE notified_at IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(unsettled, 0, "every event settled");
}

/// A batch that already has a Message-ID goes out whole or waits: while another node holds one
/// of its rows, claiming passes over the whole batch, never sending part of it under that id.
#[test]
fn a_batch_with_a_message_id_is_claimed_whole_or_not_at_all() {
    let Some(schema) = Schema::new("outbox_whole") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    busy_outbox(&schema, dir.path(), 1, 3);
    let a = PgStore::open(&schema.parsed()).unwrap().with_holder("a".into());
    let b = PgStore::open(&schema.parsed()).unwrap().with_holder("b".into());
    let now = wall_now();
    let mail = a
        .claim_due_batches(&due_now(now), now)
        .unwrap()
        .into_iter()
        .find(|b| b.channel == Channel::Email)
        .unwrap();
    assert_eq!(mail.delivery_ids.len(), 3);
    a.assign_batch(&mail.delivery_ids, "<whole@x>").unwrap();
    a.mark_failed(&mail.delivery_ids, "421 busy", false, 5, t0(), now)
        .unwrap();

    // Another transaction holds one of its rows (a node in the middle of claiming it).
    let mut other = schema.client();
    let mut tx = other.transaction().unwrap();
    tx.execute(
        "SELECT 1 FROM deliveries WHERE id = $1 FOR UPDATE",
        &[&mail.delivery_ids[1]],
    )
    .unwrap();
    let got = b.claim_due_batches(&due_now(now), now).unwrap();
    assert!(got.iter().all(|g| g.message_id.is_none()), "{got:?}");
    tx.rollback().unwrap();
    let got = b.claim_due_batches(&due_now(now), now).unwrap();
    let whole = got.iter().find(|g| g.message_id.is_some()).unwrap();
    assert_eq!(whole.delivery_ids, mail.delivery_ids);
    assert_eq!(whole.message_id.as_deref(), Some("<whole@x>"));
}

// ------------------------------------------------------------------------- origin leases

/// Origin leases as the politeness gate of one node sees them: its store's, on a blocking thread.
struct PgLeases(Arc<Mutex<PgStore>>);

impl OriginLeases for PgLeases {
    fn take(&self, origin: &str) -> BoxFuture<'static, Result<Lease, StoreError>> {
        let (store, origin) = (self.0.clone(), origin.to_string());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || store.lock().unwrap().take_origin(&origin, wall_now()))
                .await
                .unwrap()
        })
    }

    fn release(
        &self,
        origin: &str,
        last_request_at: Option<OffsetDateTime>,
    ) -> BoxFuture<'static, Result<(), StoreError>> {
        let (store, origin) = (self.0.clone(), origin.to_string());
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                store.lock().unwrap().release_origin(&origin, last_request_at)
            })
            .await
            .unwrap()
        })
    }
}

/// A site that notes when each request arrived and how many were in flight at most: `/slow/..`
/// answers after `slow`, anything else at once.
struct CountingSite {
    addr: SocketAddr,
    starts: Arc<Mutex<Vec<Instant>>>,
    max_in_flight: Arc<AtomicUsize>,
}

impl CountingSite {
    fn start(slow: Duration) -> CountingSite {
        let starts = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_in_flight = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (s, f, m) = (starts.clone(), in_flight, max_in_flight.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
                    let (s, f, m) = (s.clone(), f.clone(), m.clone());
                    async move {
                        s.lock().unwrap().push(Instant::now());
                        let now = f.fetch_add(1, Ordering::SeqCst) + 1;
                        m.fetch_max(now, Ordering::SeqCst);
                        if uri.path().starts_with("/slow/") {
                            tokio::time::sleep(slow).await;
                        }
                        f.fetch_sub(1, Ordering::SeqCst);
                        (
                            [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                            "<html><body><p>A page.</p></body></html>",
                        )
                    }
                });
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        CountingSite {
            addr,
            starts,
            max_in_flight,
        }
    }
}

/// Two nodes, each with its own politeness gate and store on real threads, fetch from one
/// origin at the same time: across both, never more than `per_host_concurrency` requests in
/// flight, and every start at least `per_host_delay` after the one before, also when the origin
/// passes from one node to the other right after a request (the next holder waits out the
/// delay after the last holder's last request, handed over through the database).
#[test]
fn two_nodes_on_one_origin_keep_its_concurrency_and_delay_together() {
    let Some(schema) = Schema::new("origin_nodes") else {
        return;
    };
    govwatch::fetch::init_tls();
    let slow = Duration::from_millis(1500);
    let site = CountingSite::start(slow);
    let mut fetch = Config::parse("", std::path::Path::new("t.toml")).unwrap().fetch;
    fetch.per_host_concurrency = 2;
    fetch.per_host_delay = Duration::from_millis(600);
    PgStore::open(&schema.parsed()).unwrap();
    let start = Arc::new(Barrier::new(2));
    let nodes: Vec<_> = ["node-a", "node-b"]
        .into_iter()
        .map(|name| {
            let (url, start, fetch, base) = (
                schema.parsed(),
                start.clone(),
                fetch.clone(),
                format!("http://{}", site.addr),
            );
            std::thread::spawn(move || {
                let store = PgStore::open(&url).unwrap().with_holder(name.into());
                let leases: Arc<dyn OriginLeases> = Arc::new(PgLeases(Arc::new(Mutex::new(store))));
                let hosts = Hosts::new(&fetch, Vec::new()).with_leases(leases);
                let fetcher = Fetcher::new(&fetch).unwrap();
                let global = Arc::new(tokio::sync::Semaphore::new(8));
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                start.wait();
                rt.block_on(async {
                    let get = |path: String| {
                        let (hosts, fetcher, global) = (&hosts, &fetcher, &global);
                        let url = url::Url::parse(&format!("{base}{path}")).unwrap();
                        async move {
                            let v = Validators::default();
                            let req = Request {
                                url: &url,
                                validators: &v,
                                want: Want::Page,
                                robots: false,
                            };
                            match hosts.fetch(fetcher, req, global, std::future::pending()).await {
                                Gated::Fetched(..) => {}
                                Gated::Failed(e) => panic!("{name} {url}: {e}"),
                                Gated::Deferred { why, .. } => panic!("{name} {url}: deferred: {why}"),
                                _ => panic!("{name} {url}: not fetched"),
                            }
                        }
                    };
                    // Three slow requests at once: the gate lets two go together, no more.
                    let burst = (0..3).map(|i| get(format!("/slow/{name}/{i}")));
                    futures_util::future::join_all(burst).await;
                    hosts.release_idle(Duration::ZERO).await;
                    // Quick requests, the origin let go right after each: the other node, waiting
                    // for it, takes it at once and must still wait out the delay.
                    for round in 0..2 {
                        get(format!("/quick/{name}/{round}")).await;
                        hosts.release_idle(Duration::ZERO).await;
                    }
                })
            })
        })
        .collect();
    for n in nodes {
        n.join().unwrap();
    }
    let mut starts = site.starts.lock().unwrap().clone();
    assert_eq!(starts.len(), 10);
    starts.sort();
    assert!(
        site.max_in_flight.load(Ordering::SeqCst) <= 2,
        "{} in flight at once",
        site.max_in_flight.load(Ordering::SeqCst)
    );
    // Measured where the requests arrive: a little less than the delay may show between two
    // requests whose trips took different times (more on a loaded machine), never a start that
    // skipped the delay (a node that did not wait after the other's last request starts within
    // a poll of the lease, 250 ms).
    let tolerance = Duration::from_millis(150);
    for w in starts.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap + tolerance >= fetch.per_host_delay,
            "two starts {gap:?} apart: {:?}",
            starts.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()
        );
    }
}

/// The start of the last request crosses from one node to the next as an age on the server's
/// clock, so the next node gets it back on its own clock (here the same clock: within the
/// round trips).
#[test]
fn the_last_request_is_handed_to_the_next_holder() {
    let Some(schema) = Schema::new("origin_handover") else {
        return;
    };
    let a = PgStore::open(&schema.parsed()).unwrap().with_holder("a".into());
    let b = PgStore::open(&schema.parsed()).unwrap().with_holder("b".into());
    let origin = "http://gov.example";
    assert!(matches!(
        a.take_origin(origin, wall_now()).unwrap(),
        Lease::Granted {
            last_request_at: None,
            not_before: None
        }
    ));
    assert!(matches!(b.take_origin(origin, wall_now()).unwrap(), Lease::Held { ref by, .. } if by == "a"));
    assert_eq!(a.origin_holder(origin, wall_now()).unwrap().as_deref(), Some("a"));
    let last = OffsetDateTime::now_utc() - Duration::from_millis(300);
    a.release_origin(origin, Some(last)).unwrap();
    assert_eq!(a.origin_holder(origin, wall_now()).unwrap(), None);
    let Lease::Granted {
        last_request_at: Some(got),
        ..
    } = b.take_origin(origin, wall_now()).unwrap()
    else {
        panic!("b takes the origin a let go of");
    };
    assert!(
        (got - last).abs() < Duration::from_millis(100),
        "{got} for {last}"
    );
    // A holder's own lease is its own again, and letting go without a request keeps the last.
    assert!(matches!(
        b.take_origin(origin, wall_now()).unwrap(),
        Lease::Granted { .. }
    ));
    b.release_origin(origin, None).unwrap();
    let Lease::Granted {
        last_request_at: Some(again),
        ..
    } = a.take_origin(origin, wall_now()).unwrap()
    else {
        panic!("a takes it back");
    };
    assert!(
        (again - last).abs() < Duration::from_millis(100),
        "{again} for {last}"
    );
}

// ------------------------------------------------------------------------- clocks that disagree

/// Leases are stamped and judged on the server's clock: a node whose clock runs ten minutes
/// ahead can neither take another node's lease early (on its own clock that lease ran out long
/// ago) nor, holding one, keep it ten minutes longer than the others think; a node ten minutes
/// behind cannot take one early either. Origins, documents and deliveries alike.
#[test]
fn a_node_whose_clock_is_ten_minutes_ahead_takes_and_keeps_no_lease_early() {
    let Some(schema) = Schema::new("clock_skew") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    busy_outbox(&schema, dir.path(), 2, 1);
    let ahead = PgStore::open(&schema.parsed())
        .unwrap()
        .with_holder("ahead".into());
    let right = PgStore::open(&schema.parsed())
        .unwrap()
        .with_holder("right".into());
    let behind = PgStore::open(&schema.parsed())
        .unwrap()
        .with_holder("behind".into());
    let skew = Duration::from_secs(600);
    let now_ahead = || wall_now().plus(skew);
    let now_behind = || wall_now().minus(skew);
    let origin = "http://gov.example";

    // Held by the node with the right time: the others, whatever their clocks say, wait.
    assert!(matches!(
        right.take_origin(origin, wall_now()).unwrap(),
        Lease::Granted { .. }
    ));
    for (node, now) in [(&ahead, now_ahead()), (&behind, now_behind())] {
        match node.take_origin(origin, now).unwrap() {
            Lease::Held { by, until } => {
                assert_eq!(by, "right");
                // Told on its own clock's terms: the lease's end is a LEASE from now here too.
                let left = Timestamp::from_datetime(until).since(wall_now());
                assert!(
                    left <= LEASE && left + Duration::from_secs(5) >= LEASE,
                    "{left:?}"
                );
            }
            granted => panic!("{} took a held lease early: {granted:?}", node.holder()),
        }
    }

    // Taken by the node ahead: stamped a LEASE from the server's now, not from its clock.
    right.release_origin(origin, None).unwrap();
    assert!(matches!(
        ahead.take_origin(origin, now_ahead()).unwrap(),
        Lease::Granted { .. }
    ));
    let lease_left = |table: &str, holder_column: &str, until_column: &str, who: &str| -> Duration {
        let until: String = schema
            .client()
            .query_one(
                &format!("SELECT max({until_column}) FROM {table} WHERE {holder_column} = $1"),
                &[&who],
            )
            .unwrap()
            .get(0);
        at(&until).since(wall_now())
    };
    let left = lease_left("hosts", "lease_holder", "lease_until", "ahead");
    assert!(
        left <= LEASE && left + Duration::from_secs(5) >= LEASE,
        "{left:?}"
    );
    assert!(matches!(
        right.take_origin(origin, wall_now()).unwrap(),
        Lease::Held { .. }
    ));
    assert!(matches!(
        behind.take_origin(origin, now_behind()).unwrap(),
        Lease::Held { .. }
    ));
    // Renewed from its clock ten minutes ahead: still a LEASE from the server's now.
    assert!(ahead.renew_claims(now_ahead()).unwrap() >= 1);
    let left = lease_left("hosts", "lease_holder", "lease_until", "ahead");
    assert!(
        left <= LEASE && left + Duration::from_secs(5) >= LEASE,
        "{left:?}"
    );

    // Documents: claimed by the node with the right time, not by the others.
    let doc = right
        .ensure_document("w", "https://example.org/skewed", wall_now())
        .unwrap();
    assert_eq!(right.claim_documents(&[(doc, None)], wall_now()).unwrap(), [doc]);
    assert!(
        ahead
            .claim_documents(&[(doc, None)], now_ahead())
            .unwrap()
            .is_empty()
    );
    assert!(
        behind
            .claim_documents(&[(doc, None)], now_behind())
            .unwrap()
            .is_empty()
    );
    assert!(!ahead.may_write(doc, now_ahead()).unwrap());

    // Deliveries: claimed by the node ahead, for a LEASE of the server's time; the others,
    // however late their clocks, do not get them.
    let batches = ahead
        .claim_due_batches(&due_now(now_ahead()), now_ahead())
        .unwrap();
    assert_eq!(batches.len(), 4, "{batches:?}");
    let left = lease_left("deliveries", "claimed_by", "claimed_until", "ahead");
    assert!(
        left <= LEASE && left + Duration::from_secs(5) >= LEASE,
        "{left:?}"
    );
    assert!(
        right
            .claim_due_batches(&everything(), wall_now())
            .unwrap()
            .is_empty()
    );
    assert!(
        behind
            .claim_due_batches(&everything(), now_behind())
            .unwrap()
            .is_empty()
    );

    // Once the server's clock says the leases ran out (moved back by hand: a LEASE is two
    // minutes), the others take over, whatever their own clocks say.
    let mut c = schema.client();
    c.batch_execute(
        "UPDATE hosts SET lease_until = '2000-01-01T00:00:00Z';
         UPDATE deliveries SET claimed_until = '2000-01-01T00:00:00Z' WHERE claimed_by IS NOT NULL;",
    )
    .unwrap();
    assert!(matches!(
        behind.take_origin(origin, now_behind()).unwrap(),
        Lease::Granted { .. }
    ));
    assert_eq!(
        behind
            .claim_due_batches(&everything(), now_behind())
            .unwrap()
            .len(),
        4
    );

    // `status`'s view: who holds what.
    let holders = right.lease_holders(wall_now()).unwrap();
    let held: Vec<(String, usize, usize, usize)> = holders
        .iter()
        .map(|h| (h.node.clone(), h.documents, h.deliveries, h.origins))
        .collect();
    assert_eq!(
        held,
        [("behind".to_string(), 0, 4, 1), ("right".to_string(), 1, 0, 0)]
    );
}
