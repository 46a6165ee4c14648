//! The daemon: one scheduler loop that runs a pass over what is due on every tick, mails what
//! it found, and stops cleanly on SIGTERM or SIGINT (running checks finish, none start).

use std::time::Duration;

use tokio::time::{MissedTickBehavior, interval};
use tracing::{error, info, warn};

use crate::notify::{self, NotifyError, Sent};
use crate::pipeline::{Context, Selection, StopFlag, run_pass};

/// How often the loop looks for due work: often enough for the shortest `every`, at most 30 s.
fn tick_period(ctx: &Context) -> Duration {
    let shortest = ctx
        .config
        .watches
        .iter()
        .map(|w| w.every)
        .min()
        .unwrap_or(Duration::from_secs(60));
    (shortest / 2).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

/// Runs until a stop signal; returns once in-flight work is done.
pub async fn run(ctx: Context) {
    spawn_signal_listener(ctx.stop.clone());
    let mut ticks = interval(tick_period(&ctx));
    // After a long pass, run the next one at once rather than a burst of catch-up passes.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    info!(watches = ctx.config.watches.len(), tick = ?ticks.period(), "govwatch running");
    // Mail that failed is retried after passes that checked something, and otherwise at this
    // pace, so a mail server that is down is not hammered every tick.
    let mut mail_retry_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = ctx.stop.stopped() => break,
        }
        let checked = match run_pass(&ctx, &Selection::default()).await {
            Ok(report) => report.checked > 0,
            // The database is what failed; the next tick tries again rather than dying, so a
            // full disk that is freed later heals by itself.
            Err(e) => {
                error!(error = %e, "pass failed");
                false
            }
        };
        if (checked || tokio::time::Instant::now() >= mail_retry_at) && !mail(&ctx).await {
            mail_retry_at = tokio::time::Instant::now() + MAIL_RETRY;
        }
        if ctx.stop.is_stopped() {
            break;
        }
    }
    info!("govwatch stopped");
}

const MAIL_RETRY: Duration = Duration::from_secs(300);

/// Sends what is pending; a failure is logged and the events stay pending. False on failure.
pub async fn mail(ctx: &Context) -> bool {
    match notify::send_pending(&ctx.store, &ctx.config).await {
        Ok(Sent::Nothing) | Err(NotifyError::NotConfigured) => true,
        Ok(Sent::Message { events, .. }) => {
            info!(events, "mail sent");
            true
        }
        Err(e) => {
            warn!(error = %e, "mail not sent; it stays pending");
            false
        }
    }
}

fn spawn_signal_listener(stop: StopFlag) {
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("stop requested; finishing running checks");
        stop.stop();
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
