//! Issue 12, points 1, 7 and 8, against real servers on loopback: a Retry-After never stalls a
//! pass and is stored when learnt; every redirect hop passes the gate of its own origin; every
//! failure names its cause.

use crate::common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn article(n: usize) -> String {
    let (title, paras) = corpus_doc(["000", "001", "003", "004"][n % 4]);
    page("ministry-article.html", &title, "2023-05-25", &paras, 1, &[])
}

fn watch(name: &str, url: &str, extra: &str) -> String {
    format!("[[watch]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n")
}

/// Starts `govwatch args`, its output going to a file in the installation's folder.
fn spawn(gw: &Govwatch, args: &[&str], out: &str) -> Child {
    let file = std::fs::File::create(gw.dir.path().join(out)).unwrap();
    gw.command_with(args)
        .stdout(Stdio::from(file))
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Runs `govwatch args` and returns its output; fails the test if it has not finished within
/// `limit` (killing it: a frozen pass must not freeze the test too).
fn run_within(gw: &Govwatch, args: &[&str], limit: Duration) -> String {
    let mut child = spawn(gw, args, "out.txt");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = std::fs::read_to_string(gw.dir.path().join("out.txt")).unwrap();
            assert!(status.success(), "govwatch {args:?}: {status}\n{out}");
            return out;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let out = std::fs::read_to_string(gw.dir.path().join("out.txt")).unwrap();
            panic!("govwatch {args:?} still running after {limit:?}: the pass froze\n{out}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------ point 1: pauses

#[test]
fn a_429_defers_the_rest_of_its_origin_at_once_and_the_next_pass_leaves_it_alone() {
    let a = Site::start_on("127.0.0.1");
    let b = Site::start_on("127.0.0.2");
    // Every page of A answers 429, so whichever of them is asked first (the order in which
    // checks reach the origin's slot is the scheduler's), its answer pauses the other two.
    for p in ["/a1.html", "/a2.html", "/a3.html"] {
        a.set(p, Resp::status(429, &[("retry-after", "3600")]));
    }
    b.set("/b1.html", Resp::html(article(0)));
    b.set("/b2.html", Resp::html(article(3)));
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"1s\"\n\n{}{}{}{}{}",
        watch("a1", &a.url("/a1.html"), ""),
        watch("a2", &a.url("/a2.html"), ""),
        watch("a3", &a.url("/a3.html"), ""),
        watch("b1", &b.url("/b1.html"), ""),
        watch("b2", &b.url("/b2.html"), ""),
    ));
    // robots.txt and a page a second apart on each host: about two seconds of work.
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(15));
    assert!(
        out.contains("2 baseline") && out.contains("1 failed, 2 deferred"),
        "{out}"
    );
    assert!(out.contains("retry after 1h"), "{out}");
    let deferred = out
        .lines()
        .filter(|l| l.contains(&format!("deferred {}", a.url("/a"))) && l.contains("HTTP 429"))
        .count();
    assert_eq!(deferred, 2, "{out}");
    let asked: usize = ["/a1.html", "/a2.html", "/a3.html"]
        .iter()
        .map(|p| a.hits(p))
        .sum();
    assert_eq!(asked, 1, "pages of A were asked for during the pause");
    assert_eq!(b.hits("/b1.html") + b.hits("/b2.html"), 2);

    // The pause was stored: the next pass does not ask origin A for anything, robots.txt included.
    let before = a.all_hits().len();
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(15));
    assert!(out.contains("3 deferred"), "{out}");
    assert_eq!(a.all_hits().len(), before, "{:?}", a.all_hits());
    assert_eq!(
        b.hits("/b1.html") + b.hits("/b2.html"),
        4,
        "origin B keeps its schedule"
    );
}

#[test]
fn a_pause_is_stored_when_learnt_so_a_killed_pass_still_honours_it() {
    let a = Site::start_on("127.0.0.1");
    a.set("/a1.html", Resp::status(429, &[("retry-after", "3600")]));
    a.set("/a2.html", Resp::html(article(1)));
    // A server that keeps the pass busy for the whole total timeout.
    let drip = dripping_server();
    let origin_a = format!(
        "{}{}",
        watch("a1", &a.url("/a1.html"), ""),
        watch("a2", &a.url("/a2.html"), ""),
    );
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"0s\"\ntimeout = \"60s\"\n\n{origin_a}{}",
        watch("slow", &format!("http://{drip}/slow.html"), "robots = false"),
    ));
    let mut child = spawn(&gw, &["check", "--all"], "killed.txt");
    let started = Instant::now();
    while a.hits("/a1.html") == 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "no request to A");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the pass must still be running when it is killed"
    );
    child.kill().unwrap(); // SIGKILL: nothing at the end of the pass runs
    child.wait().unwrap();

    a.set("/a1.html", Resp::html(article(0)));
    gw.set_config(&format!("[fetch]\nper_host_delay = \"0s\"\n\n{origin_a}"));
    let before = a.all_hits().len();
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(15));
    assert!(out.contains("2 deferred"), "{out}");
    assert_eq!(a.all_hits().len(), before, "{:?}", a.all_hits());
    let status = gw.ok(&["status"]);
    assert!(status.contains("host paused until"), "{status}");
}

#[test]
fn a_pause_asked_on_robots_txt_defers_the_origin_and_is_stored() {
    let a = Site::start();
    a.set("/robots.txt", Resp::status(503, &[("retry-after", "3600")]));
    a.set("/a1.html", Resp::html(article(0)));
    a.set("/a2.html", Resp::html(article(1)));
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"1s\"\n\n{}{}",
        watch("a1", &a.url("/a1.html"), ""),
        watch("a2", &a.url("/a2.html"), ""),
    ));
    // Not a failure of the pages (a closed site): the server asked for a pause.
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(15));
    assert!(out.contains("0 failed, 2 deferred"), "{out}");
    assert!(out.contains("HTTP 503"), "{out}");
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(15));
    assert!(out.contains("2 deferred"), "{out}");
    assert_eq!(a.all_hits().len(), 1, "{:?}", a.all_hits());
}

// ------------------------------------------------------------------ point 7: redirects

#[test]
fn each_redirect_hop_passes_the_gate_of_its_own_origin() {
    let a = Site::start_on("127.0.0.1");
    let b = Site::start_on("127.0.0.2");
    b.set(
        "/robots.txt",
        Resp::text("text/plain", "User-agent: *\nDisallow: /private/\n"),
    );
    a.set(
        "/to-private.html",
        Resp::status(302, &[("location", &b.url("/private/p.html"))]),
    );
    a.set(
        "/to-public.html",
        Resp::status(301, &[("location", &b.url("/pub/b2.html"))]),
    );
    for i in 0..3 {
        b.set(&format!("/pub/b{i}.html"), Resp::html(article(i)));
    }
    b.set("/private/p.html", Resp::html(article(3)));
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"1s\"\nconcurrency = 8\n\n{}{}{}{}",
        watch("r-private", &a.url("/to-private.html"), ""),
        watch("r-public", &a.url("/to-public.html"), ""),
        watch("b0", &b.url("/pub/b0.html"), ""),
        watch("b1", &b.url("/pub/b1.html"), ""),
    ));
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(30));
    assert!(out.contains("3 baseline") && out.contains("1 failed"), "{out}");
    assert!(
        out.contains(&format!(
            "/to-private.html: disallowed by http://{}/robots.txt",
            b.addr
        )),
        "{out}"
    );
    assert_eq!(b.hits("/private/p.html"), 0, "robots.txt of the target holds");
    assert_eq!(b.hits("/robots.txt"), 1);
    assert_eq!(
        b.hits("/pub/b2.html"),
        1,
        "a loopback site may redirect on loopback"
    );
    // Requests to B, the redirected one included, are spaced by B's delay.
    let times: Vec<Instant> = b.all_hits().into_iter().map(|(_, t)| t).collect();
    assert_eq!(times.len(), 4, "{:?}", b.all_hits());
    for w in times.windows(2) {
        assert!(w[1] - w[0] >= Duration::from_millis(950), "{:?}", b.all_hits());
    }

    // A pause of the target origin defers the redirected check without asking the target.
    b.set("/pub/b0.html", Resp::status(429, &[("retry-after", "3600")]));
    let out = run_within(&gw, &["check", "--all", "b0"], Duration::from_secs(15));
    assert!(out.contains("1 failed"), "{out}");
    let out = run_within(&gw, &["check", "--all", "r-public"], Duration::from_secs(15));
    assert!(out.contains("1 deferred"), "{out}");
    assert!(out.contains("HTTP 429"), "{out}");
    assert_eq!(a.hits("/to-public.html"), 2);
    assert_eq!(b.hits("/pub/b2.html"), 1, "the paused target was not asked");
}

#[test]
fn a_redirect_loop_is_cut_at_the_limit() {
    let site = Site::start();
    site.set("/loop.html", Resp::status(302, &[("location", "/loop.html")]));
    let gw = Govwatch::new(&format!(
        "[fetch]\nper_host_delay = \"0s\"\nmax_redirects = 3\n\n{}",
        watch("loop", &site.url("/loop.html"), ""),
    ));
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(15));
    assert!(
        out.contains("/loop.html: too many redirects (more than 3)"),
        "{out}"
    );
    assert_eq!(site.hits("/loop.html"), 4);
}

// ------------------------------------------------------------------ point 8: causes

/// A raw HTTP server: reads a request, then does what `behave` says with the socket.
fn raw_server(behave: fn(std::net::TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                behave(s);
            });
        }
    });
    addr
}

const HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 50000\r\n\r\n<html><body><p>the start";

#[test]
fn each_failure_names_its_cause() {
    // Headers, part of the body, then an orderly close (FIN) while the socket lives on.
    let closing = raw_server(|mut s| {
        let _ = s.write_all(HEAD);
        let _ = s.shutdown(std::net::Shutdown::Write);
        std::thread::sleep(Duration::from_secs(60));
    });
    // Headers, part of the body, then silence with the connection open.
    let silent = raw_server(|mut s| {
        let _ = s.write_all(HEAD);
        std::thread::sleep(Duration::from_secs(60));
    });
    // Nothing at all: not even a status line.
    let mute = raw_server(|_s| std::thread::sleep(Duration::from_secs(60)));
    // Hangs up before sending a response.
    let hangup = raw_server(drop);
    // Headers, part of the body, then a reset (RST), as a crashed server or a middlebox sends.
    let reset = raw_server(|mut s| {
        let _ = s.write_all(HEAD);
        std::thread::sleep(Duration::from_millis(50));
        let sock = socket2::Socket::from(s);
        let _ = sock.set_linger(Some(Duration::ZERO));
    });
    let drip = dripping_server();
    let site = Site::start();
    site.set("/image.png", Resp::text("image/png", "\u{89}PNG"));
    site.set("/big.html", Resp::html("<p>words</p>".repeat(20_000)));
    let gw = Govwatch::new(&format!(
        "[fetch]\ntimeout = \"5s\"\nread_timeout = \"2s\"\nmax_body_bytes = 65536\nper_host_delay = \"0s\"\n\n{}{}{}{}{}{}{}{}",
        watch("closing", &format!("http://{closing}/c.html"), "robots = false"),
        watch("silent", &format!("http://{silent}/s.html"), "robots = false"),
        watch("mute", &format!("http://{mute}/m.html"), "robots = false"),
        watch("hangup", &format!("http://{hangup}/h.html"), "robots = false"),
        watch("reset", &format!("http://{reset}/r.html"), "robots = false"),
        watch("drip", &format!("http://{drip}/d.html"), "robots = false"),
        watch("image", &site.url("/image.png"), ""),
        watch("big", &site.url("/big.html"), ""),
    ));
    let started = Instant::now();
    let out = run_within(&gw, &["check", "--all"], Duration::from_secs(30));
    assert!(out.contains("8 failed"), "{out}");
    for (path, reason) in [
        (
            "/c.html",
            "connection closed early by the server (after 24 of 50000 bytes of the body)",
        ),
        ("/s.html", "read timed out: nothing received for 2s"),
        ("/m.html", "read timed out: nothing received for 2s"),
        (
            "/h.html",
            "connection closed early by the server (before a complete response)",
        ),
        (
            "/r.html",
            "connection reset (by the server after 24 of 50000 bytes of the body)",
        ),
        ("/d.html", "timed out after 5s"),
        ("/image.png", "not a page: content type image/png"),
        ("/big.html", "response larger than the 65536-byte cap"),
    ] {
        assert!(
            out.contains(&format!("{path}: {reason}")),
            "{path}: {reason}\n{out}"
        );
    }
    // Each failed as soon as its cause showed, not at some later timeout.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}
