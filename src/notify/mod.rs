//! Mail: pending events become one digest (text + HTML), sent by SMTP or written as an `.eml`
//! file to the outbox folder. Events are marked sent only after the server accepted the message,
//! so mail that cannot go stays pending and goes with a later pass.

mod digest;
mod transport;

use std::sync::{Arc, Mutex};

pub use digest::{Digest, one_line};
pub use transport::Mailer;

use crate::config::Config;
use crate::pipeline::with_store;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("cannot build the message: {0}")]
    Build(String),
    #[error("SMTP server {server}: {reason}")]
    Smtp { server: String, reason: String },
    #[error("cannot write to the outbox {path}: {source}")]
    Outbox {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("no [email] section in the config: nothing can be sent")]
    NotConfigured,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a send attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Nothing,
    /// A message went out carrying this many events.
    Message {
        events: usize,
        message_id: String,
    },
}

/// The digest that would go out now, if anything is pending.
pub async fn preview(store: &Arc<Mutex<Store>>, config: &Config) -> Result<Option<Digest>, NotifyError> {
    let pending = with_store(store, |s| s.pending_events()).await?;
    Ok(Digest::build(&pending, config.email.as_ref()))
}

/// Sends everything pending as one message and marks it sent.
pub async fn send_pending(store: &Arc<Mutex<Store>>, config: &Config) -> Result<Sent, NotifyError> {
    let email = config.email.as_ref().ok_or(NotifyError::NotConfigured)?;
    let pending = with_store(store, |s| s.pending_events()).await?;
    let Some(digest) = Digest::build(&pending, Some(email)) else {
        return Ok(Sent::Nothing);
    };
    let mailer = Mailer::new(email, &config.storage.outbox_dir())?;
    let message = digest.message(email)?;
    mailer.send(message).await?;
    let ids: Vec<i64> = pending.iter().map(|e| e.id).collect();
    let message_id = digest.message_id.clone();
    with_store(store, move |s| s.mark_notified(&ids, &message_id)).await?;
    tracing::info!(events = pending.len(), via = %mailer, message_id = %digest.message_id, "digest sent");
    Ok(Sent::Message {
        events: pending.len(),
        message_id: digest.message_id,
    })
}
