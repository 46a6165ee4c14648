//! Nodes: the govwatch nodes that share this database and what each one's config watches (the
//! `nodes` table), so that two nodes whose configs differ are told apart before they surprise
//! anyone. Nodes may watch different things (that is allowed), but a node must never decide for
//! a watch it does not have: `config check` and `run` say which watches differ (only here, only
//! on another node, or with other settings), and the outbox leaves the events of a watch this
//! config lacks to a live node whose config has it (see `notify::adopt_orphans`).
//!
//! `govwatch run` records its node at start and on every reload, and stamps `seen_at` every
//! [`RENEW_EVERY`](super::RENEW_EVERY) while it runs (src/daemon). A node is live while it was seen within
//! [`NODE_LIVE`]; one stopped for longer no longer holds on to its watches, so a node retired for
//! good does not keep the others from settling its events forever. On SQLite the times are the
//! caller's `now` (the store never reads a clock); on PostgreSQL, the server's (src/store/pg/nodes.rs).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rusqlite::params;
use serde_json::{Value, json};

use super::{LEASE, Result, SqliteStore, StoreError};
use crate::config::{Config, Watch};
use crate::model::Timestamp;

/// A node not seen for this long is taken to be stopped. Several leases: a node is stamped every
/// [`RENEW_EVERY`](super::RENEW_EVERY), so a few missed stamps (a database busy for a minute) or a restart for an
/// upgrade must not make it look gone and let another node settle its events meanwhile.
pub const NODE_LIVE: Duration = Duration::from_secs(LEASE.as_secs() * 3);

/// A watch's settings, by their config key, as recorded for its node: those that change what is
/// fetched and stored, and who is told. Values rather than a struct, so that a node of another
/// govwatch version (with a setting more or less) can still be read and compared.
pub type WatchSettings = BTreeMap<String, Value>;

/// A node's watches: name -> settings.
pub type NodeWatches = BTreeMap<String, WatchSettings>;

/// The settings of `w` that two nodes must agree on to treat its documents alike.
pub fn watch_settings(w: &Watch) -> WatchSettings {
    let duration = |d: Duration| json!(humantime::format_duration(d).to_string());
    [
        ("url", json!(w.url.as_str())),
        ("kind", json!(w.kind.as_str())),
        ("every", duration(w.every)),
        ("max_documents", json!(w.max_documents)),
        ("topics", json!(w.topics)),
        ("robots", json!(w.robots)),
        ("tags", json!(w.tags)),
        ("failing_notice_after", duration(w.failing_notice_after)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// What `config` watches, as its node records it: each watch's settings and who is told of
/// it. A node's check writes the deliveries of what it finds to its own config's recipients, so
/// two nodes that tell different people of one watch are a difference to be said.
pub fn node_watches(config: &Config) -> NodeWatches {
    // Any time: only when a digest is due depends on it, and that is not recorded.
    let now = crate::model::Timestamp::parse("2000-01-01T00:00:00Z").expect("a valid time");
    config
        .watches
        .iter()
        .map(|w| {
            let mut settings = watch_settings(w);
            let mut told: Vec<String> = super::targets_at(config, &w.name, &w.tags, now)
                .iter()
                .map(|t| {
                    let kinds: Vec<&str> = t.kinds.kinds().into_iter().map(|k| k.as_str()).collect();
                    format!(
                        "{} {} {} ({})",
                        t.recipient,
                        t.channel.as_str(),
                        t.mode.as_str(),
                        kinds.join(",")
                    )
                })
                .collect();
            told.sort();
            settings.insert("recipients".to_string(), json!(told));
            (w.name.clone(), settings)
        })
        .collect()
}

/// A node as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub name: String,
    /// The process that recorded it last.
    pub holder: String,
    pub watches: NodeWatches,
    pub seen_at: Timestamp,
}

impl NodeRow {
    /// A row as read, its watches parsed from their JSON.
    pub(super) fn read(name: String, holder: String, watches: &str, seen_at: Timestamp) -> Result<NodeRow> {
        let watches = serde_json::from_str(watches).map_err(|e| {
            StoreError::Unsupported(format!(
                "the watches recorded for node {name} are not readable: {e}"
            ))
        })?;
        Ok(NodeRow {
            name,
            holder,
            watches,
            seen_at,
        })
    }
}

/// `watches` as stored.
pub(super) fn watches_json(watches: &NodeWatches) -> String {
    serde_json::to_string(watches).expect("JSON values serialize")
}

/// How one watch differs between this config and another live node's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchDifference {
    /// This config watches it; the node does not.
    OnlyHere { node: String, watch: String },
    /// The node watches it; this config does not.
    OnlyThere { node: String, watch: String },
    /// Both watch it, with these settings different: (key, here, there).
    Settings {
        node: String,
        watch: String,
        settings: Vec<(String, String, String)>,
    },
}

impl fmt::Display for WatchDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WatchDifference::OnlyHere { node, watch } => {
                write!(f, "watch `{watch}` is in this config, not in node {node}'s")
            }
            WatchDifference::OnlyThere { node, watch } => {
                write!(f, "watch `{watch}` is in node {node}'s config, not in this one")
            }
            WatchDifference::Settings {
                node,
                watch,
                settings,
            } => {
                write!(f, "watch `{watch}` is set differently on node {node}: ")?;
                for (i, (key, here, there)) in settings.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}{key} {here} here, {there} there")?;
                }
                Ok(())
            }
        }
    }
}

/// How `mine` (this config's watches, node `me`) differs from the watches of each of `nodes`
/// but `me` itself, by node, then watch. A setting only one side records (another govwatch
/// version) is not a difference: that version would not know what to do with it.
pub fn differences(me: &str, mine: &NodeWatches, nodes: &[NodeRow]) -> Vec<WatchDifference> {
    let mut out = Vec::new();
    for n in nodes.iter().filter(|n| n.name != me) {
        let node = || n.name.clone();
        for (watch, here) in mine {
            let Some(there) = n.watches.get(watch) else {
                out.push(WatchDifference::OnlyHere {
                    node: node(),
                    watch: watch.clone(),
                });
                continue;
            };
            let settings: Vec<_> = here
                .iter()
                .filter_map(|(k, h)| {
                    let t = there.get(k)?;
                    (t != h).then(|| (k.clone(), h.to_string(), t.to_string()))
                })
                .collect();
            if !settings.is_empty() {
                out.push(WatchDifference::Settings {
                    node: node(),
                    watch: watch.clone(),
                    settings,
                });
            }
        }
        for watch in n.watches.keys().filter(|w| !mine.contains_key(*w)) {
            out.push(WatchDifference::OnlyThere {
                node: node(),
                watch: watch.clone(),
            });
        }
    }
    out
}

impl SqliteStore {
    /// Records node `node` as this process, with `watches` (its config's), seen `now`: at the
    /// start of `run` and after a reload. One row per node name: the latest process of a node
    /// speaks for it.
    pub fn record_node(&mut self, node: &str, watches: &NodeWatches, now: Timestamp) -> Result<()> {
        let tx = self.conn.savepoint()?;
        tx.execute(
            "INSERT INTO nodes (name, holder, watches, seen_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET holder = ?2, watches = ?3, seen_at = ?4",
            params![node, self.holder, watches_json(watches), now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Stamps node `node` seen `now`, by this process: `run`'s heartbeat. False if the node was
    /// never recorded (then [`SqliteStore::record_node`] is due).
    pub fn node_seen(&mut self, node: &str, now: Timestamp) -> Result<bool> {
        let tx = self.conn.savepoint()?;
        let n = tx.execute(
            "UPDATE nodes SET holder = ?2, seen_at = ?3 WHERE name = ?1",
            params![node, self.holder, now],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// The nodes seen within [`NODE_LIVE`] of `now`, by name.
    pub fn live_nodes(&self, now: Timestamp) -> Result<Vec<NodeRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, holder, watches, seen_at FROM nodes WHERE seen_at >= ?1 ORDER BY name",
        )?;
        let rows = stmt
            .query_map([now.minus(NODE_LIVE)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(name, holder, watches, seen_at)| NodeRow::read(name, holder, &watches, seen_at))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RENEW_EVERY;

    fn settings(url: &str, every: &str) -> WatchSettings {
        [("url", json!(url)), ("every", json!(every))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    fn node(name: &str, watches: &[(&str, WatchSettings)]) -> NodeRow {
        NodeRow {
            name: name.into(),
            holder: format!("{name}:1:2:3"),
            watches: watches.iter().map(|(w, s)| (w.to_string(), s.clone())).collect(),
            seen_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
        }
    }

    /// Two configs that watch the same page but tell different people differ in `recipients`:
    /// a node mails what it finds to its own config's recipients.
    #[test]
    fn who_is_told_of_a_watch_is_part_of_it() {
        let config = |to: &str| {
            let text = format!(
                "[email]\nfrom = \"gw@example.org\"\nto = [\"{to}\"]\n\n\
                 [[watch]]\nname = \"w\"\nurl = \"https://a.example/\"\n"
            );
            node_watches(&Config::parse(&text, std::path::Path::new("govwatch.toml")).unwrap())
        };
        let (a, b) = (config("a@example.org"), config("b@example.org"));
        assert_eq!(a["w"]["url"], b["w"]["url"]);
        let told = a["w"]["recipients"].to_string();
        assert!(told.contains("a@example.org email immediate"), "{told}");
        let found: Vec<String> = differences("alpha", &a, &[node("beta", &[("w", b["w"].clone())])])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("set differently on node beta: recipients"),
            "{found:?}"
        );
    }

    /// Each kind of difference is named with its node and watch; this node's own row (an
    /// earlier run of its config) is not another node; a setting one side does not record is
    /// no difference.
    #[test]
    fn differences_name_the_node_and_the_watch() {
        let mine: NodeWatches = [
            ("both".to_string(), settings("https://a.example/", "1h")),
            ("mine".to_string(), settings("https://m.example/", "1h")),
        ]
        .into();
        let mut older = settings("https://a.example/", "30m");
        older.remove("every");
        let nodes = [
            node("alpha", &[("stale", settings("https://s.example/", "1h"))]),
            node(
                "beta",
                &[
                    ("both", settings("https://b.example/", "1h")),
                    ("theirs", settings("https://t.example/", "1h")),
                ],
            ),
            node(
                "gamma",
                &[("both", older), ("mine", settings("https://m.example/", "1h"))],
            ),
        ];
        let found: Vec<String> = differences("alpha", &mine, &nodes)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            found,
            [
                "watch `both` is set differently on node beta: url \"https://a.example/\" here, \"https://b.example/\" there",
                "watch `mine` is in this config, not in node beta's",
                "watch `theirs` is in node beta's config, not in this one",
            ]
        );
    }

    /// A node is live while seen within [`NODE_LIVE`] of the caller's now, and not after;
    /// recording it again replaces its watches.
    #[test]
    fn a_node_not_seen_for_long_is_no_longer_live() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("g.db")).unwrap();
        let t0 = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let mine: NodeWatches = [("w".to_string(), settings("https://a.example/", "1h"))].into();
        assert!(!s.node_seen("alpha", t0).unwrap(), "not recorded yet");
        s.record_node("alpha", &mine, t0).unwrap();
        let live = s.live_nodes(t0.plus(NODE_LIVE)).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].name.as_str(), &live[0].watches), ("alpha", &mine));
        assert!(s.live_nodes(t0.plus(NODE_LIVE + RENEW_EVERY)).unwrap().is_empty());
        // A heartbeat keeps it live.
        assert!(s.node_seen("alpha", t0.plus(NODE_LIVE)).unwrap());
        assert_eq!(s.live_nodes(t0.plus(NODE_LIVE + RENEW_EVERY)).unwrap().len(), 1);
        s.record_node("alpha", &NodeWatches::new(), t0.plus(NODE_LIVE))
            .unwrap();
        assert!(s.live_nodes(t0.plus(NODE_LIVE)).unwrap()[0].watches.is_empty());
    }
}
