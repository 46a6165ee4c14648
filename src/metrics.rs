//! Process-wide counters for `/metrics`: checks by outcome, failures by reason, events by kind,
//! mail, and a fetch-latency histogram, rendered in the Prometheus text format.
//!
//! They are plain atomics in a static, so the pipeline and the mailer bump them with one call and
//! no handle to thread through; they count since the process started, which is what Prometheus
//! counters mean (a restart shows as a reset, which `rate()` handles).
//!
//! Every sample carries the node's name (`[daemon] node`) as a `node` label: several nodes on one
//! database are scraped side by side, and their lines must not be taken for one another's even
//! where the scraper adds no `instance` label of its own (a push gateway, a federated server).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::model::{CheckLabel, EventKind, FailureReason};

/// Upper bounds of the fetch-latency buckets, in seconds: a fast site, a slow one, a timeout.
pub const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

struct Metrics {
    checks: [AtomicU64; CheckLabel::ALL.len()],
    failures: [AtomicU64; FailureReason::ALL.len()],
    events: [AtomicU64; EventKind::ALL.len()],
    passes: AtomicU64,
    mails_sent: AtomicU64,
    mail_failures: AtomicU64,
    /// Cumulative counts are computed when rendering; each slot counts its own bucket only.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)] // used only to initialise the arrays below
const ZERO: AtomicU64 = AtomicU64::new(0);

static METRICS: Metrics = Metrics {
    checks: [ZERO; CheckLabel::ALL.len()],
    failures: [ZERO; FailureReason::ALL.len()],
    events: [ZERO; EventKind::ALL.len()],
    passes: ZERO,
    mails_sent: ZERO,
    mail_failures: ZERO,
    latency: [ZERO; LATENCY_BUCKETS.len() + 1],
    latency_sum_micros: ZERO,
};

/// Bumps the counter of `label` in `counters`, which are in the order of `all`. Labels are
/// enums, so every one has its counter: a kind added to the model is counted, never dropped.
fn bump<T: PartialEq + Copy>(all: &[T], counters: &[AtomicU64], label: T) {
    let i = all
        .iter()
        .position(|l| *l == label)
        .expect("every label is in its ALL list");
    counters[i].fetch_add(1, Relaxed);
}

/// One finished check, by outcome.
pub fn check(outcome: CheckLabel) {
    bump(&CheckLabel::ALL, &METRICS.checks, outcome);
}

/// One failed check, by reason; also counts it as a `failed` check.
pub fn failure(reason: FailureReason) {
    check(CheckLabel::Failed);
    bump(&FailureReason::ALL, &METRICS.failures, reason);
}

/// One event recorded.
pub fn event(kind: EventKind) {
    bump(&EventKind::ALL, &METRICS.events, kind);
}

pub fn pass() {
    METRICS.passes.fetch_add(1, Relaxed);
}

/// A digest accepted by the server (or written to the outbox), carrying this many events.
pub fn mail_sent() {
    METRICS.mails_sent.fetch_add(1, Relaxed);
}

pub fn mail_failed() {
    METRICS.mail_failures.fetch_add(1, Relaxed);
}

/// How long one fetch took, answered or not.
pub fn fetch_latency(d: Duration) {
    let secs = d.as_secs_f64();
    let slot = LATENCY_BUCKETS
        .iter()
        .position(|b| secs <= *b)
        .unwrap_or(LATENCY_BUCKETS.len());
    METRICS.latency[slot].fetch_add(1, Relaxed);
    METRICS
        .latency_sum_micros
        .fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
}

/// Figures that live outside the counters, read when `/metrics` is asked for.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub watches: usize,
    /// Events recorded but not yet mailed.
    pub mail_pending: usize,
    /// Unix time of the end of the last pass, if one has run.
    pub last_pass_unix: Option<u64>,
    /// Whether the scheduler loop and the database answer (what `/healthz` says).
    pub healthy: bool,
    /// `[daemon] node`, the `node` label of every sample; none when empty. The config allows
    /// only letters, digits, `.`, `_` and `-` in it, so it needs no escaping.
    pub node: String,
}

/// A sample's name suffix and labels with the node's label first: `{outcome="x"}` becomes
/// `{node="n",outcome="x"}`, and a sample without labels gets `{node="n"}`.
fn with_node(suffix: &str, node: &str) -> String {
    if node.is_empty() {
        return suffix.to_string();
    }
    match suffix.split_once('{') {
        Some((name, labels)) => format!("{name}{{node=\"{node}\",{labels}"),
        None => format!("{suffix}{{node=\"{node}\"}}"),
    }
}

/// Everything, in the Prometheus text exposition format (version 0.0.4).
pub fn render(g: &Gauges) -> String {
    let mut out = String::new();
    // A family's HELP and TYPE lines, then its samples, contiguous as the format requires.
    let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (suffix, value) in samples {
            let _ = writeln!(out, "{name}{} {value}", with_node(&suffix, &g.node));
        }
    };
    let labelled = |label: &str, names: &[&str], counters: &[AtomicU64]| {
        names
            .iter()
            .zip(counters)
            .map(|(n, c)| (format!("{{{label}=\"{n}\"}}"), c.load(Relaxed).to_string()))
            .collect::<Vec<_>>()
    };
    let single = |v: String| vec![(String::new(), v)];

    family(
        "govwatch_checks_total",
        "counter",
        "Checks finished, by outcome.",
        labelled(
            "outcome",
            &CheckLabel::ALL.map(CheckLabel::as_str),
            &METRICS.checks,
        ),
    );
    family(
        "govwatch_check_failures_total",
        "counter",
        "Failed checks, by reason.",
        labelled(
            "reason",
            &FailureReason::ALL.map(FailureReason::as_str),
            &METRICS.failures,
        ),
    );
    family(
        "govwatch_events_total",
        "counter",
        "Events recorded, by kind.",
        labelled("kind", &EventKind::ALL.map(EventKind::as_str), &METRICS.events),
    );
    family(
        "govwatch_passes_total",
        "counter",
        "Scheduler passes run.",
        single(METRICS.passes.load(Relaxed).to_string()),
    );
    family(
        "govwatch_mails_sent_total",
        "counter",
        "Digests sent or written to the outbox.",
        single(METRICS.mails_sent.load(Relaxed).to_string()),
    );
    family(
        "govwatch_mail_failures_total",
        "counter",
        "Attempts to send a digest that failed (its events stay pending).",
        single(METRICS.mail_failures.load(Relaxed).to_string()),
    );
    family(
        "govwatch_mail_pending",
        "gauge",
        "Events recorded and not yet mailed.",
        single(g.mail_pending.to_string()),
    );
    family(
        "govwatch_watches",
        "gauge",
        "Watches in the loaded config.",
        single(g.watches.to_string()),
    );
    family(
        "govwatch_last_pass_timestamp_seconds",
        "gauge",
        "Unix time the last pass finished (0: none yet).",
        single(g.last_pass_unix.unwrap_or(0).to_string()),
    );
    family(
        "govwatch_up",
        "gauge",
        "1 while the scheduler loop and the database answer.",
        single(u8::from(g.healthy).to_string()),
    );

    let mut samples = Vec::new();
    let mut cumulative = 0;
    for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
        cumulative += METRICS.latency[i].load(Relaxed);
        samples.push((format!("_bucket{{le=\"{bound}\"}}"), cumulative.to_string()));
    }
    cumulative += METRICS.latency[LATENCY_BUCKETS.len()].load(Relaxed);
    samples.push(("_bucket{le=\"+Inf\"}".into(), cumulative.to_string()));
    let sum = METRICS.latency_sum_micros.load(Relaxed) as f64 / 1e6;
    samples.push(("_sum".into(), sum.to_string()));
    samples.push(("_count".into(), cumulative.to_string()));
    family(
        "govwatch_fetch_duration_seconds",
        "histogram",
        "Time to fetch a page, headers and body, answered or failed.",
        samples,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_families_are_contiguous() {
        fetch_latency(Duration::from_millis(30));
        fetch_latency(Duration::from_secs(3));
        fetch_latency(Duration::from_secs(120));
        let text = render(&Gauges::default());
        let get = |prefix: &str| -> u64 {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        // Other tests in this process may fetch too, so compare relations, not totals.
        let fast = get("govwatch_fetch_duration_seconds_bucket{le=\"0.05\"}");
        let five = get("govwatch_fetch_duration_seconds_bucket{le=\"5\"}");
        let inf = get("govwatch_fetch_duration_seconds_bucket{le=\"+Inf\"}");
        assert!(fast >= 1 && five > fast && inf > five, "{text}");
        assert_eq!(inf, get("govwatch_fetch_duration_seconds_count"));
        // Every sample line comes after its family's TYPE line and before the next family's.
        let mut current = String::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                current = rest.split(' ').next().unwrap().to_string();
            } else if !l.starts_with('#') {
                assert!(l.starts_with(&current), "{l} outside {current}");
            }
        }
    }

    /// A node's name is a label of every sample, first, with the sample's own labels after it.
    #[test]
    fn every_sample_names_the_node() {
        let g = Gauges {
            node: "alpha-1".into(),
            ..Gauges::default()
        };
        let text = render(&g);
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(l.contains("{node=\"alpha-1\"") && !l.contains(",}"), "{l}");
        }
        assert!(text.contains("govwatch_watches{node=\"alpha-1\"} 0\n"), "{text}");
        assert!(
            text.contains("govwatch_fetch_duration_seconds_bucket{node=\"alpha-1\",le=\"+Inf\"}"),
            "{text}"
        );
        assert!(
            text.contains("govwatch_fetch_duration_seconds_sum{node=\"alpha-1\"}"),
            "{text}"
        );
    }

    #[test]
    fn every_label_is_counted() {
        // Kinds that were once dropped for want of a label.
        failure(FailureReason::Robots);
        check(CheckLabel::Deferred);
        event(EventKind::Revision);
        event(EventKind::Quotes);
        let text = render(&Gauges::default());
        for sample in [
            "govwatch_check_failures_total{reason=\"robots\"}",
            "govwatch_checks_total{outcome=\"deferred\"}",
            "govwatch_events_total{kind=\"revision\"}",
            "govwatch_events_total{kind=\"quotes\"}",
        ] {
            let line = text
                .lines()
                .find(|l| l.starts_with(sample))
                .unwrap_or_else(|| panic!("no {sample}"));
            assert_ne!(line.rsplit(' ').next(), Some("0"), "{line}");
        }
    }
}
