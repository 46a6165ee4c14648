//! Who is told what, and how: `[[recipient]]` entries (address, what they follow, immediate
//! mail and/or a digest on a cron schedule in a time zone, an optional webhook), the SMTP
//! transport settings of `[email]`, and the Atom feed of `[feed]`.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::{ConfigError, Max, Validator, raw};

/// How an SMTP connection is secured. Read from the scheme and `?tls=` of `smtp_url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
    /// `smtp://…?tls=required`: STARTTLS, and no mail goes if the server does not offer it.
    StartTlsRequired,
    /// `smtp://…?tls=opportunistic`: STARTTLS when offered, plain text otherwise.
    StartTlsOpportunistic,
    /// `smtp://` without `tls`: plain text, for a relay on the same machine.
    None,
}

/// Where and how mail is sent.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    /// AUTH (PLAIN or LOGIN, as the server offers), from the URL's user and password.
    pub credentials: Option<(String, String)>,
    /// The URL without its password, for messages.
    pub display: String,
    /// Certificates (PEM) trusted besides the public roots: a server with a private or
    /// self-signed certificate.
    pub tls_ca: Option<PathBuf>,
    /// Connect, command and data timeout: a server that says nothing must not hang a pass.
    pub timeout: Duration,
    /// Connections kept open and reused between messages of one send.
    pub pool_size: u32,
}

/// DKIM signing of outgoing mail.
#[derive(Debug, Clone)]
pub struct Dkim {
    pub selector: String,
    /// The signing domain: the `from` address's.
    pub domain: String,
    /// The RSA private key, PEM (PKCS#1 or PKCS#8), read at validation.
    pub key_pem: String,
}

/// A digest schedule: a cron expression evaluated in an IANA time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub expr: String,
    pub tz: chrono_tz::Tz,
    cron: croner::Cron,
}

impl Schedule {
    /// The first scheduled time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` {}", self.expr, self.tz)
    }
}

/// One person (or list) that is told.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub address: lettre::message::Mailbox,
    /// Watches followed by name; with `tags` empty too, every watch.
    pub watches: Vec<String>,
    /// Watches followed by tag.
    pub tags: Vec<String>,
    /// One message per pass that found something.
    pub immediate: bool,
    /// A digest of what was found, at these times.
    pub digest: Option<Schedule>,
    /// Every event is also POSTed here as JSON.
    pub webhook: Option<Url>,
    /// The time zone the recipient reads times in (and digests are scheduled in); UTC for
    /// `[email] to`.
    pub timezone: chrono_tz::Tz,
}

impl Recipient {
    /// The address as stored in the outbox.
    pub fn key(&self) -> String {
        self.address.email.to_string()
    }

    /// Whether this recipient follows a watch with this name and these tags.
    pub fn follows(&self, watch: &str, tags: &[String]) -> bool {
        (self.watches.is_empty() && self.tags.is_empty())
            || self.watches.iter().any(|w| w == watch)
            || self.tags.iter().any(|t| tags.contains(t))
    }
}

/// `[feed]`: an Atom file the daemon keeps current.
#[derive(Debug, Clone)]
pub struct Feed {
    pub path: Option<PathBuf>,
    pub max_entries: usize,
    /// The feed's own link and id base.
    pub link: String,
}

impl Default for Feed {
    fn default() -> Feed {
        Feed {
            path: None,
            max_entries: 200,
            link: "urn:govwatch:feed".into(),
        }
    }
}

/// Settings of the sender that are not about a transport.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Wait before the first retry; doubled on each failure up to `retry_max`, with jitter.
    pub retry_after: Duration,
    pub retry_max: Duration,
    /// After this many failed attempts a delivery is failed for good (and says why).
    pub max_attempts: u32,
    /// Items shown in full in one message; the rest are listed by title, then counted.
    pub max_items: usize,
    /// About this many bytes of HTML at most: a bounded message stays readable and deliverable.
    pub max_bytes: usize,
}

impl Default for Delivery {
    fn default() -> Delivery {
        Delivery {
            retry_after: Duration::from_secs(60),
            retry_max: Duration::from_secs(6 * 3600),
            max_attempts: 30,
            max_items: 50,
            max_bytes: 512 * 1024,
        }
    }
}

impl Validator<'_> {
    pub(super) fn smtp(&self, e: &raw::RawEmail) -> Result<Option<Smtp>, ConfigError> {
        let Some(u) = &e.smtp_url else {
            return Ok(None);
        };
        let key = "email.smtp_url";
        let url =
            Url::parse(u.get_ref()).or_else(|err| self.err(key, u.span(), format!("not a URL ({err})")))?;
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtps", None) => SmtpSecurity::Implicit,
            ("smtp", Some("required")) => SmtpSecurity::StartTlsRequired,
            ("smtp", Some("opportunistic")) => SmtpSecurity::StartTlsOpportunistic,
            ("smtp", None) => SmtpSecurity::None,
            ("smtp" | "smtps", Some(other)) => {
                return self.err(
                    key,
                    u.span(),
                    format!("tls=`{other}`: use tls=required or tls=opportunistic (smtp://), or smtps:// for implicit TLS"),
                );
            }
            (scheme, _) => {
                return self.err(
                    key,
                    u.span(),
                    format!("scheme must be smtp or smtps, not `{scheme}`"),
                );
            }
        };
        let Some(host) = url.host_str().map(|h| h.trim_matches(['[', ']']).to_string()) else {
            return self.err(key, u.span(), "needs a host");
        };
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Implicit => 465,
            SmtpSecurity::StartTlsRequired | SmtpSecurity::StartTlsOpportunistic => 587,
            SmtpSecurity::None => 25,
        });
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let credentials = (!url.username().is_empty())
            .then(|| (decode(url.username()), decode(url.password().unwrap_or(""))));
        let mut shown = url.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        let tls_ca = match &e.tls_ca {
            Some(p) => {
                let path = self.relative(p.get_ref());
                match std::fs::read_to_string(&path) {
                    Ok(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Some(path),
                    Ok(_) => {
                        return self.err(
                            "email.tls_ca",
                            p.span(),
                            format!("{} holds no PEM certificate", path.display()),
                        );
                    }
                    Err(err) => {
                        return self.err(
                            "email.tls_ca",
                            p.span(),
                            format!("cannot read {}: {err}", path.display()),
                        );
                    }
                }
            }
            None => None,
        };
        Ok(Some(Smtp {
            host,
            port,
            security,
            credentials,
            display: shown.to_string(),
            tls_ca,
            timeout: match &e.timeout {
                Some(t) => self.duration("email.timeout", t, Max::HOUR)?,
                None => Duration::from_secs(30),
            },
            pool_size: match &e.pool_size {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err("email.pool_size", n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref(),
                None => 2,
            },
        }))
    }

    pub(super) fn dkim(
        &self,
        e: &raw::RawEmail,
        from: &lettre::message::Mailbox,
    ) -> Result<Option<Dkim>, ConfigError> {
        match (&e.dkim_selector, &e.dkim_key) {
            (None, None) => Ok(None),
            (Some(s), None) => self.err(
                "email.dkim_key",
                s.span(),
                "`dkim_selector` needs `dkim_key` (a PEM file)",
            ),
            (None, Some(k)) => self.err(
                "email.dkim_selector",
                k.span(),
                "`dkim_key` needs `dkim_selector`",
            ),
            (Some(s), Some(k)) => {
                let path = self.relative(k.get_ref());
                let key_pem = std::fs::read_to_string(&path).or_else(|err| {
                    self.err(
                        "email.dkim_key",
                        k.span(),
                        format!("cannot read {}: {err}", path.display()),
                    )
                })?;
                if lettre::message::dkim::DkimSigningKey::new(
                    &key_pem,
                    lettre::message::dkim::DkimSigningAlgorithm::Rsa,
                )
                .is_err()
                {
                    return self.err(
                        "email.dkim_key",
                        k.span(),
                        format!("{} is not an RSA private key in PEM", path.display()),
                    );
                }
                Ok(Some(Dkim {
                    selector: s.get_ref().trim().to_string(),
                    domain: from.email.domain().to_string(),
                    key_pem,
                }))
            }
        }
    }

    pub(super) fn delivery(&self, e: &raw::RawEmail) -> Result<Delivery, ConfigError> {
        let d = Delivery::default();
        let retry_after = match &e.retry_after {
            Some(t) => self.duration("email.retry_after", t, Max::DAY)?,
            None => d.retry_after,
        };
        Ok(Delivery {
            retry_after,
            retry_max: match &e.retry_max {
                Some(t) => self.duration("email.retry_max", t, Max::MONTH)?.max(retry_after),
                None => d.retry_max.max(retry_after),
            },
            max_attempts: match &e.max_attempts {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err("email.max_attempts", n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref(),
                None => d.max_attempts,
            },
            max_items: match &e.max_items {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err("email.max_items", n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref() as usize,
                None => d.max_items,
            },
            max_bytes: match &e.max_bytes {
                Some(n) if *n.get_ref() < 16 * 1024 => {
                    return self.err("email.max_bytes", n.span(), "must be at least 16384");
                }
                Some(n) => *n.get_ref() as usize,
                None => d.max_bytes,
            },
        })
    }

    pub(super) fn recipients(
        &self,
        raw: Vec<raw::RawRecipient>,
        simple: &[lettre::message::Mailbox],
        watches: &[super::Watch],
    ) -> Result<Vec<Recipient>, ConfigError> {
        // `[email] to` is the simple form: every watch, one message per pass.
        let mut out: Vec<Recipient> = simple
            .iter()
            .map(|a| Recipient {
                address: a.clone(),
                watches: Vec::new(),
                tags: Vec::new(),
                immediate: true,
                digest: None,
                webhook: None,
                timezone: chrono_tz::UTC,
            })
            .collect();
        for (i, r) in raw.into_iter().enumerate() {
            let key = |k: &str| format!("recipient[{i}].{k}");
            let address = self.mailbox(&key("address"), &r.address)?;
            if out.iter().any(|o| o.address.email == address.email) {
                return self.err(
                    &key("address"),
                    r.address.span(),
                    format!(
                        "`{}` is already a recipient (in `[email] to` or another [[recipient]])",
                        address.email
                    ),
                );
            }
            let mut names = Vec::new();
            for w in r.watches.into_iter().flatten() {
                if !watches.iter().any(|x| &x.name == w.get_ref()) {
                    return self.err(
                        &key("watches"),
                        w.span(),
                        format!("no watch is named `{}`", w.get_ref()),
                    );
                }
                names.push(w.into_inner());
            }
            let mode = r.mode.as_ref().map(|m| m.get_ref().trim().to_ascii_lowercase());
            let (immediate, wants_digest) = match mode.as_deref() {
                None if r.schedule.is_some() => (false, true),
                None | Some("immediate") => (true, false),
                Some("digest") => (false, true),
                Some("both") => (true, true),
                Some(other) => {
                    let m = r.mode.as_ref().expect("mode is set");
                    return self.err(
                        &key("mode"),
                        m.span(),
                        format!("`{other}` is not a mode; use immediate, digest or both"),
                    );
                }
            };
            let tz = match &r.timezone {
                Some(t) => t.get_ref().trim().parse::<chrono_tz::Tz>().or_else(|_| {
                    self.err(
                        &key("timezone"),
                        t.span(),
                        format!(
                            "`{}` is not an IANA time zone; write for example \"Europe/Berlin\" or \"UTC\"",
                            t.get_ref()
                        ),
                    )
                })?,
                None => chrono_tz::UTC,
            };
            let digest = match (&r.schedule, wants_digest) {
                (Some(s), true) => {
                    let cron = croner::parser::CronParser::builder()
                        .seconds(croner::parser::Seconds::Optional)
                        .build()
                        .parse(s.get_ref()).or_else(|e| {
                        self.err(
                            &key("schedule"),
                            s.span(),
                            format!("`{}` is not a cron expression ({e}); write for example \"0 7 * * 1-5\" (07:00 on weekdays)", s.get_ref()),
                        )
                    })?;
                    Some(Schedule {
                        expr: s.get_ref().trim().to_string(),
                        tz,
                        cron,
                    })
                }
                (None, true) => {
                    let span = r.mode.as_ref().map_or(r.address.span(), |m| m.span());
                    return self.err(
                        &key("schedule"),
                        span,
                        "a digest needs a `schedule` (cron expression)",
                    );
                }
                (Some(s), false) => {
                    return self.err(
                        &key("schedule"),
                        s.span(),
                        "a schedule is only used with mode = \"digest\" or \"both\"",
                    );
                }
                (None, false) => None,
            };
            let webhook = match &r.webhook {
                Some(u) => {
                    let url = Url::parse(u.get_ref().trim())
                        .or_else(|e| self.err(&key("webhook"), u.span(), format!("not a URL ({e})")))?;
                    if !matches!(url.scheme(), "http" | "https") {
                        return self.err(&key("webhook"), u.span(), "must be an http or https URL");
                    }
                    Some(url)
                }
                None => None,
            };
            out.push(Recipient {
                address,
                watches: names,
                tags: r.tags.unwrap_or_default(),
                immediate,
                digest,
                webhook,
                timezone: tz,
            });
        }
        Ok(out)
    }

    pub(super) fn feed(&self, raw: Option<raw::RawFeed>) -> Result<Feed, ConfigError> {
        let Some(f) = raw else {
            return Ok(Feed::default());
        };
        Ok(Feed {
            path: f.path.map(|p| self.relative_to_cwd(&p)),
            max_entries: match f.max_entries {
                Some(n) if *n.get_ref() == 0 => {
                    return self.err("feed.max_entries", n.span(), "must be at least 1");
                }
                Some(n) => *n.get_ref() as usize,
                None => 200,
            },
            link: f.link.unwrap_or_else(|| Feed::default().link),
        })
    }

    /// A path relative to the config file's folder (certificates and keys live beside it).
    fn relative(&self, p: &str) -> PathBuf {
        let p = PathBuf::from(p.trim());
        if p.is_absolute() {
            return p;
        }
        self.path.parent().map_or(p.clone(), |d| d.join(&p))
    }

    /// Output paths follow `storage.path`: relative to the working directory.
    fn relative_to_cwd(&self, p: &str) -> PathBuf {
        PathBuf::from(p.trim())
    }
}
