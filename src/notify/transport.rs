//! Where a message goes: an SMTP server (lettre's URL forms, with timeouts), or `.eml` files in
//! the outbox folder when no server is configured.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::NotifyError;
use crate::config::Email;

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// For messages: the URL without its password.
        server: String,
    },
    Outbox {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

impl std::fmt::Display for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { server, .. } => write!(f, "smtp {server}"),
            Mailer::Outbox { dir, .. } => write!(f, "outbox {}", dir.display()),
        }
    }
}

/// A server that accepts the connection and then says nothing must not hang a pass.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl Mailer {
    pub fn new(email: &Email, outbox: &Path) -> Result<Mailer, NotifyError> {
        match &email.smtp_url {
            Some(url) => {
                crate::fetch::init_tls();
                let server = redact(url);
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| NotifyError::Smtp {
                        server: server.clone(),
                        reason: e.to_string(),
                    })?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Ok(Mailer::Smtp { transport, server })
            }
            None => {
                std::fs::create_dir_all(outbox).map_err(|source| NotifyError::Outbox {
                    path: outbox.to_path_buf(),
                    source,
                })?;
                Ok(Mailer::Outbox {
                    transport: AsyncFileTransport::new(outbox),
                    dir: outbox.to_path_buf(),
                })
            }
        }
    }

    /// Sends one message; Ok only once the server accepted it (or the file is written).
    pub async fn send(&self, message: Message) -> Result<(), NotifyError> {
        match self {
            Mailer::Smtp { transport, server } => {
                transport.send(message).await.map_err(|e| NotifyError::Smtp {
                    server: server.clone(),
                    reason: error_chain(&e),
                })?;
            }
            Mailer::Outbox { transport, dir } => {
                transport.send(message).await.map_err(|e| NotifyError::Outbox {
                    path: dir.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            }
        }
        Ok(())
    }
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "(unparsable URL)".into(),
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        msg = format!("{msg}: {s}");
        cur = s.source();
    }
    msg
}
