//! The systemd notification protocol (`sd_notify(3)`): `KEY=value` lines sent as one datagram
//! to the Unix socket named by `$NOTIFY_SOCKET`, and the watchdog period from `$WATCHDOG_USEC`.
//!
//! Written here rather than taken from a crate: the protocol is one `sendto` on a datagram
//! socket, std has everything it needs (including Linux abstract socket names), and the crate
//! forbids `unsafe`, which rules out binding libsystemd. Without `$NOTIFY_SOCKET` (not under
//! systemd, or `Type=` other than notify) every call is a no-op.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::{debug, warn};

/// A connection to the service manager, or nothing when there is none.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET`. An unusable value is logged and treated as absent: the service
    /// still runs, and systemd will say that readiness never came.
    pub fn from_env() -> Notifier {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier { target: None };
        };
        match Self::connect(&path.to_string_lossy()) {
            Ok(target) => Notifier { target: Some(target) },
            Err(e) => {
                warn!(socket = %path.to_string_lossy(), error = %e, "cannot use NOTIFY_SOCKET; systemd will not hear from govwatch");
                Notifier { target: None }
            }
        }
    }

    fn connect(name: &str) -> std::io::Result<(UnixDatagram, SocketAddr)> {
        let addr = match name.strip_prefix('@') {
            // A leading '@' stands for the NUL byte of a Linux abstract socket name.
            Some(abstract_name) => abstract_addr(abstract_name.as_bytes())?,
            None if name.starts_with('/') => SocketAddr::from_pathname(name)?,
            None => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "neither an absolute path nor an abstract name starting with '@'",
                ));
            }
        };
        let socket = UnixDatagram::unbound()?;
        // A full receive queue must drop a status line, never stall the scheduler.
        socket.set_nonblocking(true)?;
        Ok((socket, addr))
    }

    /// Whether there is a service manager listening.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends newline-separated `KEY=value` assignments in one datagram.
    pub fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.target
            && let Err(e) = socket.send_to_addr(message.as_bytes(), addr)
        {
            debug!(error = %e, message, "sd_notify message not delivered");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn reloading(&self) {
        self.send("RELOADING=1\nSTATUS=reloading the config");
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping: finishing running checks");
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> std::io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt as _;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt as _;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> std::io::Result<SocketAddr> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "abstract socket names exist only on Linux",
    ))
}

/// A newline would start a new assignment; STATUS is one line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// How often systemd expects `WATCHDOG=1`, if it expects it from this process: `$WATCHDOG_USEC`,
/// when `$WATCHDOG_PID` is unset or is our pid (it is set for the main process only, so a
/// child that inherited the environment does not ping on the parent's behalf).
pub fn watchdog_period() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID")
        && pid.to_string_lossy().trim().parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_socket_path_is_refused() {
        let e = Notifier::connect("run/notify").unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn messages_arrive_on_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            target: Some(Notifier::connect(path.to_str().unwrap()).unwrap()),
        };
        n.ready("two\nlines");
        let mut buf = [0u8; 256];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=two lines");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn messages_arrive_on_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("govwatch-test-{}", std::process::id());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        let n = Notifier {
            target: Some(Notifier::connect(&format!("@{name}")).unwrap()),
        };
        n.watchdog();
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
    }
}
