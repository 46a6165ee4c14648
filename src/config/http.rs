//! `[http]`: where the daemon (and `govwatch serve`) listens, the address readers reach the pages
//! at, the time zone pages show dates in, and who may log in (`[[http.user]]`).

use std::net::SocketAddr;

use argon2::password_hash::PasswordHash;
use url::Url;

use super::raw::{RawHttp, RawHttpUser};
use super::{ConfigError, Validator};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http {
    /// Where /metrics, /healthz and the pages are served; `None`: no HTTP server.
    pub listen: Option<SocketAddr>,
    /// The address readers reach the pages at (behind a proxy, say): mails and the feed link to
    /// event pages under it, and the session cookie is `Secure` when it is https.
    pub public_url: Option<Url>,
    /// Dates on the pages are shown in this zone.
    pub timezone: chrono_tz::Tz,
    /// Who may log in; none needed on a loopback address.
    pub users: Vec<HttpUser>,
}

impl Default for Http {
    fn default() -> Http {
        Http {
            listen: None,
            public_url: None,
            timezone: chrono_tz::UTC,
            users: Vec::new(),
        }
    }
}

impl Http {
    /// Whether pages ask for a login: on any address but a loopback one.
    pub fn needs_login(&self) -> bool {
        self.listen.is_some_and(|a| !a.ip().is_loopback())
    }

    /// The page of event `id` under `public_url`, if one is set.
    pub fn event_url(&self, id: i64) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|u| format!("{}/event/{id}", u.as_str().trim_end_matches('/')))
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct HttpUser {
    pub name: String,
    /// An argon2id hash in PHC form (`$argon2id$v=19$m=…`), as `govwatch hash-password` prints.
    pub password_hash: String,
}

impl std::fmt::Debug for HttpUser {
    /// The hash is not printed: logs and error messages are no place for it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpUser")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Validator<'_> {
    pub(super) fn http(&self, raw: Option<RawHttp>) -> Result<Http, ConfigError> {
        let Some(raw) = raw else {
            return Ok(Http::default());
        };
        let listen = match &raw.listen {
            Some(a) => Some(a.get_ref().trim().parse::<SocketAddr>().or_else(|e| {
                self.err(
                    "http.listen",
                    a.span(),
                    format!(
                        "`{}` is not an address and port ({e}); write for example \"127.0.0.1:9184\"",
                        a.get_ref()
                    ),
                )
            })?),
            None => None,
        };
        let public_url = match &raw.public_url {
            Some(u) => {
                let url = Url::parse(u.get_ref().trim()).or_else(|e| {
                    self.err(
                        "http.public_url",
                        u.span(),
                        format!("`{}` is not a URL ({e})", u.get_ref()),
                    )
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return self.err("http.public_url", u.span(), "must be an http or https URL");
                }
                Some(url)
            }
            None => None,
        };
        let timezone = match &raw.timezone {
            Some(t) => t.get_ref().trim().parse::<chrono_tz::Tz>().or_else(|_| {
                self.err(
                    "http.timezone",
                    t.span(),
                    format!(
                        "`{}` is not a time zone; write an IANA name such as \"Europe/Berlin\"",
                        t.get_ref()
                    ),
                )
            })?,
            None => chrono_tz::UTC,
        };
        let users = self.http_users(raw.user.as_deref().unwrap_or_default())?;
        let http = Http {
            listen,
            public_url,
            timezone,
            users,
        };
        if let (true, Some(a), Some(addr)) =
            (http.needs_login() && http.users.is_empty(), &raw.listen, listen)
        {
            return self.err(
                "http.user",
                a.span(),
                format!(
                    "{addr} is not a loopback address, so the pages need a login: add an [[http.user]] \
                     with `name` and `password_hash` (from `govwatch hash-password`), or listen on 127.0.0.1"
                ),
            );
        }
        Ok(http)
    }
}

impl Validator<'_> {
    /// `[[http.user]]`: names unique and not empty, hashes argon2id in PHC form.
    fn http_users(&self, raw: &[RawHttpUser]) -> Result<Vec<HttpUser>, ConfigError> {
        let mut users: Vec<HttpUser> = Vec::new();
        for (i, u) in raw.iter().enumerate() {
            let key = |k: &str| format!("http.user[{i}].{k}");
            let name = u.name.get_ref().trim().to_string();
            if name.is_empty() {
                return self.err(&key("name"), u.name.span(), "must not be empty");
            }
            if users.iter().any(|o| o.name == name) {
                return self.err(
                    &key("name"),
                    u.name.span(),
                    format!("`{name}` is used by another user"),
                );
            }
            let hash = u.password_hash.get_ref().trim();
            match PasswordHash::new(hash) {
                Ok(h) if h.algorithm.as_str() == "argon2id" => {}
                _ => {
                    return self.err(
                        &key("password_hash"),
                        u.password_hash.span(),
                        "is not an argon2id hash ($argon2id$v=19$…); make one with `govwatch hash-password`",
                    );
                }
            }
            users.push(HttpUser {
                name,
                password_hash: hash.to_string(),
            });
        }
        Ok(users)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(s: &str) -> Result<Config, crate::config::ConfigError> {
        Config::parse(s, Path::new("t.toml"))
    }

    const HASH: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$Hk0DgzAjQjGEVK8HOxYJrx2VmP4u2Z7m0RZfnqkqTYQ";

    #[test]
    fn a_public_address_without_users_is_refused_naming_the_key() {
        let e = parse("[http]\nlisten = \"0.0.0.0:9184\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`http.user`") && e.contains("t.toml:2"), "{e}");
        let c = parse(&format!(
            "[http]\nlisten = \"0.0.0.0:9184\"\n\n[[http.user]]\nname = \"ana\"\npassword_hash = \"{HASH}\"\n"
        ))
        .unwrap();
        assert!(c.http.needs_login());
        assert_eq!(c.http.users[0].name, "ana");
        // Loopback: no login, no users needed.
        assert!(
            !parse("[http]\nlisten = \"127.0.0.1:9184\"\n")
                .unwrap()
                .http
                .needs_login()
        );
        assert!(
            !parse("[http]\nlisten = \"[::1]:9184\"\n")
                .unwrap()
                .http
                .needs_login()
        );
    }

    #[test]
    fn bad_hashes_urls_and_zones_name_their_key() {
        let e = parse("[[http.user]]\nname = \"a\"\npassword_hash = \"hunter2\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("http.user[0].password_hash") && !e.contains("hunter2"),
            "{e}"
        );
        let bcrypt =
            "[[http.user]]\nname = \"a\"\npassword_hash = \"$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$YWJj\"\n";
        assert!(parse(bcrypt).unwrap_err().to_string().contains("argon2id"));
        let e = parse("[http]\npublic_url = \"ftp://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.public_url"), "{e}");
        let e = parse("[http]\ntimezone = \"Mars/Olympus\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http.timezone"), "{e}");
        let c = parse("[http]\ntimezone = \"Asia/Shanghai\"\npublic_url = \"https://gw.example.org/x/\"\n")
            .unwrap();
        assert_eq!(c.http.timezone, chrono_tz::Asia::Shanghai);
        assert_eq!(c.http.event_url(7).unwrap(), "https://gw.example.org/x/event/7");
    }
}
