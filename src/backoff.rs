//! How long to wait before trying again after failures in a row: the one rule behind a check's
//! retry and a delivery's (in the outbox). Pure: the random draw
//! that spreads retries is passed in, so the rule is unit-tested exactly.

use std::ops::RangeInclusive;
use std::time::Duration;

/// `first` doubled per step, capped at `cap`, then scaled by a factor from `jitter`, so that
/// many things failing together (a site or a mail server down) do not all come back in the same
/// second.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub jitter: RangeInclusive<f64>,
}

impl Backoff {
    /// The wait after `steps` doublings; `random` is a draw in `0.0..1.0` that picks the factor
    /// in `jitter`.
    pub fn wait(&self, steps: u32, random: f64) -> Duration {
        // 2^30 times any interval the config allows is far past any cap.
        let base = self.first.saturating_mul(1 << steps.min(30)).min(self.cap);
        let (lo, hi) = (*self.jitter.start(), *self.jitter.end());
        base.mul_f64(lo + (hi - lo) * random.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_stops_at_the_cap_and_jitters_within_its_range() {
        let b = Backoff {
            first: Duration::from_secs(60),
            cap: Duration::from_secs(3600),
            jitter: 1.0..=1.25,
        };
        assert_eq!(b.wait(0, 0.0), Duration::from_secs(60));
        assert_eq!(b.wait(3, 0.0), Duration::from_secs(480));
        assert_eq!(b.wait(10, 0.0), Duration::from_secs(3600));
        assert_eq!(b.wait(u32::MAX, 1.0), Duration::from_secs(4500));
        assert_eq!(b.wait(1, 0.5), Duration::from_secs(135));
    }
}
