//! Nodes on PostgreSQL: the `nodes` table of src/store/nodes.rs (same columns, same meaning),
//! with `seen_at` stamped and judged on the server's clock, as leases are (see [`super::time`]):
//! whether a node is live is a judgement between nodes, and a node whose clock ran ahead would
//! otherwise see the others as stopped and settle the events of their watches. The caller's
//! `now` is taken only to keep SQLite's signatures.

use super::PgStore;
use super::time::{PgTime, server_now, server_now_plus};
use crate::model::Timestamp;
use crate::store::Result;
use crate::store::nodes::{NODE_LIVE, NodeRow, NodeWatches, watches_json};

impl PgStore {
    /// As [`crate::store::Store::record_node`].
    pub fn record_node(&self, node: &str, watches: &NodeWatches, _now: Timestamp) -> Result<()> {
        self.execute(
            concat!(
                "INSERT INTO nodes (name, holder, watches, seen_at) VALUES ($1, $2, $3, ",
                server_now!(),
                ") ON CONFLICT (name) DO UPDATE
                   SET holder = excluded.holder, watches = excluded.watches, seen_at = excluded.seen_at"
            ),
            &[&node, &self.holder, &watches_json(watches)],
        )?;
        Ok(())
    }

    /// As [`crate::store::Store::node_seen`].
    pub fn node_seen(&self, node: &str, _now: Timestamp) -> Result<bool> {
        let n = self.execute(
            concat!(
                "UPDATE nodes SET holder = $2, seen_at = ",
                server_now!(),
                " WHERE name = $1"
            ),
            &[&node, &self.holder],
        )?;
        Ok(n == 1)
    }

    /// As [`crate::store::Store::live_nodes`]: seen within [`NODE_LIVE`] of the server's now.
    pub fn live_nodes(&self, _now: Timestamp) -> Result<Vec<NodeRow>> {
        let since = -(NODE_LIVE.as_secs() as i64);
        self.query(
            concat!(
                "SELECT name, holder, watches, seen_at FROM nodes WHERE seen_at >= ",
                server_now_plus!("$1"), // $1 negative: that long ago
                " ORDER BY name"
            ),
            &[&since],
        )?
        .iter()
        .map(|r| {
            NodeRow::read(
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get::<_, PgTime>(3)?.0,
            )
        })
        .collect()
    }
}
