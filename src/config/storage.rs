//! `[storage]`: where the database is, a SQLite file (`path`, the default) or a PostgreSQL
//! server (`url`), validated into [`Storage`]. The URL is taken apart here, into plain fields,
//! so that the config knows nothing of the PostgreSQL client (src/store/postgres connects).

use std::fmt;
use std::path::PathBuf;

use super::{ConfigError, Storage, Validator, default_db_path, raw::RawStorage};

/// `[storage] url`, checked: `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...]`.
/// Shown (Display and Debug) without its password, so that it can be logged and printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    /// libpq's `options`: settings for the session (`-c search_path=...`).
    pub options: Option<String>,
    pub application_name: Option<String>,
    /// libpq's `sslrootcert`: the certificates (PEM) a server's chain is checked against, in
    /// place of the Mozilla roots: a database's own certificate authority, or a self-signed
    /// server certificate.
    pub sslrootcert: Option<PathBuf>,
}

/// libpq's `sslmode`, with libpq's meanings: `prefer` and `require` encrypt without checking
/// whose certificate it is (a server's self-signed certificate works, as with psql);
/// `verify-ca` checks the chain against the roots (`sslrootcert`, else the Mozilla roots), and
/// `verify-full` the host name too. `allow` is taken as `prefer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    /// TLS if the server offers it, else plain (libpq's default).
    Prefer,
    /// TLS or no connection.
    Require,
    /// TLS with the server's certificate chain checked, not its name.
    VerifyCa,
    /// TLS with the server's certificate chain and name checked.
    VerifyFull,
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "postgres://{}@{}:{}/{}",
            self.user, self.host, self.port, self.dbname
        )
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} (sslmode {:?})", self.sslmode)
    }
}

impl PostgresUrl {
    /// Whether `s` is meant as a PostgreSQL URL rather than a file name.
    pub fn looks_like(s: &str) -> bool {
        let lower = s.trim().to_ascii_lowercase();
        lower.starts_with("postgres://") || lower.starts_with("postgresql://")
    }

    /// Parses a URL; the error says what is wrong, for the caller to place (a key and a line, or
    /// a command-line option).
    pub fn parse(s: &str) -> Result<PostgresUrl, String> {
        let s = s.trim();
        if !PostgresUrl::looks_like(s) {
            return Err(format!(
                "`{}` is not a PostgreSQL URL: write postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                redact(s)
            ));
        }
        let url = url::Url::parse(s).map_err(|e| match e {
            url::ParseError::EmptyHost => format!(
                "`{}` names no host: write postgres://USER@HOST:PORT/DATABASE",
                redact(s)
            ),
            e => format!("`{}` is not a URL ({e})", redact(s)),
        })?;
        let decode =
            |part: &str| percent_decode(part).ok_or_else(|| format!("`{}`: bad percent-encoding", redact(s)));
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_string(),
            _ => {
                return Err(format!(
                    "`{}` names no host: write postgres://USER@HOST:PORT/DATABASE (Unix sockets are not supported)",
                    redact(s)
                ));
            }
        };
        let user = decode(url.username())?;
        if user.is_empty() {
            return Err(format!(
                "`{}` names no user: write postgres://USER@{host}/...",
                redact(s)
            ));
        }
        let password = url.password().map(decode).transpose()?;
        let dbname = decode(url.path().trim_start_matches('/'))?;
        if dbname.is_empty() || dbname.contains('/') {
            return Err(format!(
                "`{}` names no database: write postgres://{user}@{host}:PORT/DATABASE",
                redact(s)
            ));
        }
        let mut out = PostgresUrl {
            host,
            port: url.port().unwrap_or(5432),
            user,
            password,
            dbname,
            sslmode: SslMode::Prefer,
            options: None,
            application_name: None,
            sslrootcert: None,
        };
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "sslmode" => {
                    out.sslmode = match v.as_ref() {
                        "disable" => SslMode::Disable,
                        "prefer" | "allow" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                            ));
                        }
                    }
                }
                "options" => out.options = Some(v.into_owned()),
                "sslrootcert" => {
                    let path = PathBuf::from(v.as_ref());
                    if !path.is_file() {
                        return Err(format!(
                            "sslrootcert `{}` is not a file (the server's CA certificates, PEM)",
                            path.display()
                        ));
                    }
                    out.sslrootcert = Some(path);
                }
                "application_name" => out.application_name = Some(v.into_owned()),
                other => {
                    return Err(format!(
                        "URL parameter `{other}` is not supported (known: sslmode, sslrootcert, options, application_name)"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The URL with its password replaced, for messages; by hand when it does not parse.
fn redact(s: &str) -> String {
    if let Ok(mut u) = url::Url::parse(s) {
        if u.password().is_some() {
            let _ = u.set_password(Some("***"));
        }
        return u.to_string();
    }
    let Some(start) = s.find("://").map(|i| i + 3) else {
        return s.to_string();
    };
    let authority_end = s[start..].find(['/', '?']).map_or(s.len(), |i| start + i);
    match s[start..authority_end].rfind('@') {
        Some(at) => match s[start..start + at].find(':') {
            Some(colon) => format!("{}***{}", &s[..start + colon + 1], &s[start + at..]),
            None => s.to_string(),
        },
        None => s.to_string(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Validator<'_> {
    pub(super) fn storage(&self, raw: Option<RawStorage>) -> Result<Storage, ConfigError> {
        let (path, url) = raw.map(|s| (s.path, s.url)).unwrap_or_default();
        if let (Some(_), Some(url)) = (&path, &url) {
            return self.err(
                "storage.url",
                url.span(),
                "set either `path` (a SQLite file) or `url` (PostgreSQL), not both",
            );
        }
        let postgres = match url {
            Some(u) => match PostgresUrl::parse(u.get_ref()) {
                Ok(p) => Some(p),
                Err(e) => return self.err("storage.url", u.span(), e),
            },
            None => None,
        };
        let path = match path {
            Some(p) if p.get_ref().trim().is_empty() => {
                return self.err("storage.path", p.span(), "must not be empty");
            }
            Some(p) => PathBuf::from(p.into_inner()),
            None => default_db_path(),
        };
        Ok(Storage { path, postgres })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart_and_shown_without_password() {
        let u =
            PostgresUrl::parse("postgresql://gw:s%40cret@db.example:6543/news?sslmode=verify-full").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.user.as_str(),
                u.password.as_deref(),
                u.dbname.as_str()
            ),
            ("db.example", 6543, "gw", Some("s@cret"), "news")
        );
        assert_eq!(u.sslmode, SslMode::VerifyFull);
        assert_eq!(u.to_string(), "postgres://gw@db.example:6543/news");
        assert!(!format!("{u:?}").contains("cret"));
        let d = PostgresUrl::parse("postgres://postgres@127.0.0.1/test").unwrap();
        assert_eq!((d.port, d.sslmode), (5432, SslMode::Prefer));
        let ca = tempfile::NamedTempFile::new().unwrap();
        let url = format!(
            "postgres://gw@db.example/news?sslmode=verify-ca&sslrootcert={}",
            ca.path().display()
        );
        let v = PostgresUrl::parse(&url).unwrap();
        assert_eq!(
            (v.sslmode, v.sslrootcert.as_deref()),
            (SslMode::VerifyCa, Some(ca.path()))
        );
    }

    #[test]
    fn bad_urls_say_what_is_missing_and_hide_the_password() {
        for (url, says) in [
            ("mysql://a@b/c", "is not a PostgreSQL URL"),
            ("postgres://a:topsecret@/c", "names no host"),
            ("postgres://a:topsecret@h.example:99999/c", "is not a URL"),
            ("postgres://h.example/c", "names no user"),
            ("postgres://a:topsecret@h.example", "names no database"),
            (
                "postgres://a@h.example/c?sslmode=sometimes",
                "sslmode `sometimes`",
            ),
            ("postgres://a@h.example/c?pool=3", "parameter `pool`"),
            (
                "postgres://a@h.example/c?sslmode=verify-ca&sslrootcert=/no/such/ca.pem",
                "sslrootcert `/no/such/ca.pem` is not a file",
            ),
        ] {
            let e = PostgresUrl::parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
            assert!(!e.contains("topsecret"), "{e}");
        }
    }
}
