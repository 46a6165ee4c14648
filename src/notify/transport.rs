//! Where a message goes: an SMTP server (implicit TLS, STARTTLS required or opportunistic, or
//! plain; AUTH; timeouts; a pool of connections; optional DKIM signing), or `.eml` files in the
//! outbox folder when no server is configured.

use std::path::{Path, PathBuf};

use lettre::message::dkim::{DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::NotifyError;
use crate::config::{Email, Smtp, SmtpSecurity};

pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// For messages: the URL without its password.
        server: String,
        dkim: Option<DkimConfig>,
    },
    Outbox {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
        dkim: Option<DkimConfig>,
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

/// Why one message did not go.
#[derive(Debug, Clone)]
pub struct SendFailure {
    pub reason: String,
    /// The server refused this message or recipient for good (5xx): retrying cannot help.
    pub permanent: bool,
}

impl Mailer {
    pub fn new(email: &Email, outbox: &Path) -> Result<Mailer, NotifyError> {
        let dkim = match &email.dkim {
            Some(d) => {
                let key = DkimSigningKey::new(&d.key_pem, DkimSigningAlgorithm::Rsa)
                    .map_err(|e| NotifyError::Build(format!("DKIM key: {e}")))?;
                Some(DkimConfig::default_config(
                    d.selector.clone(),
                    d.domain.clone(),
                    key,
                ))
            }
            None => None,
        };
        match &email.smtp {
            Some(smtp) => Ok(Mailer::Smtp {
                transport: smtp_transport(smtp)?,
                server: smtp.display.clone(),
                dkim,
            }),
            None => {
                std::fs::create_dir_all(outbox).map_err(|source| NotifyError::Outbox {
                    path: outbox.to_path_buf(),
                    source,
                })?;
                Ok(Mailer::Outbox {
                    transport: AsyncFileTransport::new(outbox),
                    dir: outbox.to_path_buf(),
                    dkim,
                })
            }
        }
    }

    /// Sends one message; Ok only once the server answered 250 to its data (or the file is
    /// written).
    pub async fn send(&self, message: Message) -> Result<(), SendFailure> {
        self.send_answered(message).await.map(|_| ())
    }

    /// [`Mailer::send`], returning what the server answered to the data ("250 2.0.0 queued as
    /// …"), or where the file went: `govwatch test-mail` shows it, since that answer is what
    /// tells a relay that queued the message from one that silently dropped it.
    pub async fn send_answered(&self, mut message: Message) -> Result<String, SendFailure> {
        match self {
            Mailer::Smtp { transport, dkim, .. } => {
                if let Some(d) = dkim {
                    message.sign(d);
                }
                let answer = transport.send(message).await.map_err(|e| {
                    // 53x is about our login, not this message: fixing the config fixes it.
                    let auth = e.status().is_some_and(|c| c.to_string().starts_with("53"));
                    SendFailure {
                        permanent: e.is_permanent() && !auth,
                        reason: error_chain(&e),
                    }
                })?;
                let lines: Vec<&str> = answer.message().collect();
                Ok(format!("{} {}", answer.code(), lines.join(" ")))
            }
            Mailer::Outbox { transport, dkim, dir } => {
                if let Some(d) = dkim {
                    message.sign(d);
                }
                transport.send(message).await.map_err(|e| SendFailure {
                    permanent: false,
                    reason: error_chain(&e),
                })?;
                Ok(format!("written to the outbox folder {}", dir.display()))
            }
        }
    }
}

fn smtp_transport(smtp: &Smtp) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
    crate::fetch::init_tls();
    let fail = |reason: String| NotifyError::Smtp {
        server: smtp.display.clone(),
        reason,
    };
    let tls = || -> Result<TlsParameters, NotifyError> {
        let mut b = TlsParameters::builder(smtp.host.clone());
        if let Some(path) = &smtp.tls_ca {
            let pem = std::fs::read(path).map_err(|e| fail(format!("tls_ca {}: {e}", path.display())))?;
            let cert =
                Certificate::from_pem(&pem).map_err(|e| fail(format!("tls_ca {}: {e}", path.display())))?;
            b = b.add_root_certificate(cert);
        }
        b.build_rustls().map_err(|e| fail(error_chain(&e)))
    };
    let security = match smtp.security {
        SmtpSecurity::Implicit => Tls::Wrapper(tls()?),
        SmtpSecurity::StartTlsRequired => Tls::Required(tls()?),
        SmtpSecurity::StartTlsOpportunistic => Tls::Opportunistic(tls()?),
        SmtpSecurity::None => Tls::None,
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.clone())
        .port(smtp.port)
        .tls(security)
        .timeout(Some(smtp.timeout))
        .pool_config(PoolConfig::new().max_size(smtp.pool_size));
    if let Some((user, pass)) = &smtp.credentials {
        b = b
            .credentials(Credentials::new(user.clone(), pass.clone()))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
    }
    Ok(b.build())
}

pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let next = s.to_string();
        if !msg.contains(&next) {
            msg = format!("{msg}: {next}");
        }
        cur = s.source();
    }
    msg
}
