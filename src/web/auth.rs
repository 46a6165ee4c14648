//! Who may see the pages. On a loopback address nobody logs in; on any other, `[[http.user]]`
//! entries do, with a form and a session cookie (HttpOnly, SameSite=Strict, Secure when
//! `public_url` is https). Every POST carries a CSRF token; failed logins in a row, from an
//! address or for a name, make the next attempt wait longer and longer.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::{Web, WebError};

/// The cookie that carries a session.
pub const COOKIE: &str = "govwatch_session";
/// A session lasts this long after login.
const SESSION_LIFE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Failed logins in a row allowed before the next one has to wait.
const FREE_FAILURES: u32 = 3;
/// The longest wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(300);
/// Every failed login is answered this late: guessing costs time even within the free ones.
const FAILURE_DELAY: Duration = Duration::from_millis(300);

/// A logged-in reader.
#[derive(Clone)]
struct Session {
    user: String,
    csrf: String,
    expires: Instant,
}

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Sessions and failed logins, in memory: a restart logs everyone out, which is acceptable for
/// a handful of analysts and keeps no secret on disk.
pub struct Auth {
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, Failures>>,
    /// The CSRF token of forms shown to nobody in particular (loopback, the login form).
    anonymous_csrf: String,
}

/// Who is asking, as the gate found out: put in the request for the pages.
#[derive(Clone, Debug, Default)]
pub struct Reader {
    /// `None` on a loopback address, where nobody logs in.
    pub user: Option<String>,
    pub csrf: String,
    session: Option<String>,
}

/// 32 random bytes, in hex.
fn token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How long after `n` failures in a row the next attempt must wait: nothing for the first few,
/// then doubling.
pub fn wait_after(n: u32) -> Duration {
    if n < FREE_FAILURES {
        return Duration::ZERO;
    }
    let secs = 1u64 << (n - FREE_FAILURES).min(16);
    Duration::from_secs(secs).min(MAX_WAIT)
}

/// A password's argon2id hash in PHC form, as `[[http.user]] password_hash` takes it.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches `phc`. A hash that does not parse matches nothing.
fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

impl Auth {
    pub fn new() -> Auth {
        Auth {
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            anonymous_csrf: token(),
        }
    }

    fn session(&self, id: &str) -> Option<Session> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get(id) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// The reader of a request: its session, if the cookie names a live one.
    fn reader(&self, headers: &HeaderMap) -> Option<Reader> {
        let id = cookie(headers, COOKIE)?;
        let s = self.session(&id)?;
        Some(Reader {
            user: Some(s.user),
            csrf: s.csrf,
            session: Some(id),
        })
    }

    fn anonymous(&self) -> Reader {
        Reader {
            user: None,
            csrf: self.anonymous_csrf.clone(),
            session: None,
        }
    }

    /// How long `keys` (an address, a name) must still wait before trying again, if at all.
    fn must_wait(&self, keys: &[String]) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| failures.get(k))
            .map(|f| wait_after(f.count).saturating_sub(f.last.elapsed()))
            .filter(|w| !w.is_zero())
            .max()
    }

    fn failed(&self, keys: &[String]) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Old entries go, so that guesses from many addresses cannot fill memory for ever.
        failures.retain(|_, f| f.last.elapsed() < MAX_WAIT * 2);
        for k in keys {
            let f = failures.entry(k.clone()).or_insert(Failures {
                count: 0,
                last: Instant::now(),
            });
            f.count += 1;
            f.last = Instant::now();
        }
    }

    fn succeeded(&self, keys: &[String], user: &str) -> (String, Session) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            failures.remove(k);
        }
        drop(failures);
        let session = Session {
            user: user.to_string(),
            csrf: token(),
            expires: Instant::now() + SESSION_LIFE,
        };
        let id = token();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, s| s.expires > Instant::now());
        sessions.insert(id.clone(), session.clone());
        (id, session)
    }

    fn end(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    }
}

impl Default for Auth {
    fn default() -> Auth {
        Auth::new()
    }
}

/// The value of cookie `name`, if the request has it.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Lets a request through to the pages, with its [`Reader`], or sends it to the login form.
/// A POST must carry its reader's CSRF token (checked by the form handlers, which read the
/// body). The stylesheet and the login form are open to all.
pub async fn gate(State(web): State<Arc<Web>>, mut req: Request, next: Next) -> Response {
    let open = matches!(req.uri().path(), "/login" | "/style.css");
    let reader = if web.config().http.needs_login() {
        match web.auth.reader(req.headers()) {
            Some(r) => r,
            None if open => web.auth.anonymous(),
            None if req.method() == Method::GET => {
                let next = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
                let to = format!(
                    "/login?next={}",
                    url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                return Redirect::to(&to).into_response();
            }
            None => return WebError::Forbidden("log in first".into()).into_response(),
        }
    } else {
        web.auth.anonymous()
    };
    req.extensions_mut().insert(reader);
    next.run(req).await
}

impl Reader {
    /// Refuses a form whose token is not this reader's.
    pub fn check_csrf(&self, token: &str) -> Result<(), WebError> {
        if same(token, &self.csrf) {
            Ok(())
        } else {
            Err(WebError::Forbidden(
                "this form has expired or did not come from these pages (CSRF token); go back, reload and try again"
                    .into(),
            ))
        }
    }
}

/// A local path to go back to after login: never another site.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_string(),
        _ => "/".to_string(),
    }
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

impl LoginForm {
    /// Where the reader was going.
    pub fn next(&self) -> &str {
        &self.next
    }
}

/// `POST /login`: a session cookie and back where the reader was going, or the form again.
pub async fn login(
    web: &Arc<Web>,
    reader: &Reader,
    peer: SocketAddr,
    form: LoginForm,
) -> Result<Result<Response, String>, WebError> {
    reader.check_csrf(&form.csrf)?;
    let config = web.config();
    let keys = vec![format!("ip:{}", ip_key(peer.ip())), format!("user:{}", form.name)];
    if let Some(wait) = web.auth.must_wait(&keys) {
        let secs = wait.as_secs().max(1);
        return Err(WebError::TooMany(
            format!("Too many failed logins: try again in {secs} seconds."),
            secs,
        ));
    }
    // Unknown names are checked against a hash too, so the time taken does not tell them apart.
    const DUMMY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$Z292YXRjaGR1bW15$8kB1V8VmV3l+3oKQm0cWqWn0vX8S3s0sJm0m0m0m0m0";
    let phc = config
        .http
        .users
        .iter()
        .find(|u| u.name == form.name)
        .map_or(DUMMY.to_string(), |u| u.password_hash.clone());
    let known = config.http.users.iter().any(|u| u.name == form.name);
    let password = form.password;
    let ok = tokio::task::spawn_blocking(move || verify(&password, &phc))
        .await
        .unwrap_or(false)
        && known;
    if !ok {
        web.auth.failed(&keys);
        tokio::time::sleep(FAILURE_DELAY).await;
        tracing::warn!(name = %form.name, peer = %peer.ip(), "failed login");
        return Ok(Err("Wrong name or password.".into()));
    }
    let (id, _) = web.auth.succeeded(&keys, &form.name);
    let secure = config
        .http
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    let cookie = format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_LIFE.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    tracing::info!(name = %form.name, "logged in");
    let mut resp = Redirect::to(&local_path(Some(&form.next))).into_response();
    if let Ok(v) = cookie.parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(Ok(resp))
}

/// `POST /logout`: the session ends and its cookie goes.
pub fn logout(web: &Web, reader: &Reader, csrf: &str) -> Result<Response, WebError> {
    reader.check_csrf(csrf)?;
    if let Some(id) = &reader.session {
        web.auth.end(id);
    }
    let mut resp = Redirect::to("/login").into_response();
    if let Ok(v) = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0").parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// An IPv6 client is counted by its /64, which one machine usually has whole.
fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[test]
    fn waits_grow_after_a_few_failures() {
        assert_eq!(wait_after(2), Duration::ZERO);
        assert_eq!(wait_after(3), Duration::from_secs(1));
        assert_eq!(wait_after(5), Duration::from_secs(4));
        assert_eq!(wait_after(40), MAX_WAIT);
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(local_path(Some("/event/3?x=1")), "/event/3?x=1");
        for bad in ["//evil.example/", "https://evil.example/", "/\\evil", "evil"] {
            assert_eq!(local_path(Some(bad)), "/", "{bad}");
        }
    }
}
