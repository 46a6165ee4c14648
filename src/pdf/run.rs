//! Runs Poppler's `pdftotext` on one PDF in a child process, bounded: a time limit (the child is
//! killed), a memory limit (its address space, set by `prlimit` before `pdftotext` starts), a
//! page limit (`-l`) and a cap on the text read back. A hostile or broken file can make the
//! child fail, never govwatch: its crash is an exit status, its memory is its own.

use std::io::{BufReader, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::PdfError;
use super::layout::{self, Layout};

/// The bounds of one extraction (`[pdf]` in the config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Wall time for `pdftotext`; it is killed past this.
    pub timeout: Duration,
    /// A longer PDF fails (its first pages are not taken for the whole).
    pub max_pages: usize,
    /// Address space of the child, in bytes.
    pub max_memory: u64,
}

impl Default for Limits {
    /// A 300-page white paper takes `pdftotext` about a second and tens of MiB (README, "PDF
    /// documents"): these leave it twenty times the time, and stop a decompression bomb (half
    /// a minute a gigabyte) or a file that would take gigabytes.
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(20),
            max_pages: 2000,
            max_memory: 1024 * 1024 * 1024,
        }
    }
}

/// Text read back from one PDF at most, in characters: far more than any 2,000-page report
/// (which holds about 8 million), far less than a stream of text inflated from a small file.
pub const MAX_CHARS: usize = 32 * 1024 * 1024;

/// What `pdftotext` says on stderr is kept up to this many bytes (a broken file can make it
/// write a line per object for megabytes).
const STDERR_KEPT: usize = 16 * 1024;

/// Runs `pdftotext -bbox-layout` on `body` and reads its pages, blocks and lines as they come.
pub fn run(body: &[u8], limits: &Limits) -> Result<Layout, PdfError> {
    let started = Instant::now();
    let last_page = limits.max_pages.saturating_add(1).to_string();
    // prlimit (util-linux, on every Debian system) sets the limits in the child before it
    // execs pdftotext: govwatch itself forbids unsafe code, which `pre_exec` would need.
    let mut child = Command::new("prlimit")
        .arg(format!("--as={}", limits.max_memory))
        .arg("--core=0")
        .arg("--")
        .arg("pdftotext")
        .args(["-bbox-layout", "-enc", "UTF-8", "-l", &last_page, "-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PdfError::NotInstalled(format!("cannot run prlimit: {e}")))?;

    // Three pipes, three threads: the body is written while the pages are read, so that a child
    // that writes before it has read everything never waits on us.
    let mut stdin = child.stdin.take().expect("piped");
    let body = body.to_vec();
    let writer = std::thread::spawn(move || {
        // A child that stops reading (it failed, or was killed) closes the pipe: not our error.
        let _ = stdin.write_all(&body);
    });
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut kept = Vec::new();
        let _ = (&mut stderr).take(STDERR_KEPT as u64).read_to_end(&mut kept);
        // Drained to the end, so the child never blocks on a full pipe.
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        String::from_utf8_lossy(&kept).into_owned()
    });
    let stdout = child.stdout.take().expect("piped");
    let max_pages = limits.max_pages;
    let reader = std::thread::spawn(move || layout::read(BufReader::new(stdout), max_pages, MAX_CHARS));

    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= limits.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            // A reader that stopped at a limit (too many pages, too much text) closed the pipe:
            // the child dies of SIGPIPE at its next write.
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(PdfError::NotInstalled(format!("cannot wait for pdftotext: {e}"))),
        }
    };
    let _ = writer.join();
    let stderr = errors.join().unwrap_or_default();
    let read = reader
        .join()
        .unwrap_or_else(|_| Err(layout::LayoutError::Xml("reader panicked".into())));
    let Some(status) = status else {
        return Err(PdfError::Timeout(limits.timeout));
    };
    match read {
        // A limit reached while reading is the answer, whatever the killed child's status.
        Err(layout::LayoutError::TooManyPages) => Err(PdfError::TooManyPages(limits.max_pages)),
        Err(layout::LayoutError::TooMuchText) => Err(PdfError::TooMuchText(MAX_CHARS)),
        _ if !status.success() => Err(failure(status, &stderr, limits)),
        Err(layout::LayoutError::Xml(e)) => Err(PdfError::Damaged(format!(
            "pdftotext's output does not read ({e})"
        ))),
        Ok(layout) => Ok(layout),
    }
}

/// Why `pdftotext` failed, from its exit status and what it said.
fn failure(status: ExitStatus, stderr: &str, limits: &Limits) -> PdfError {
    use std::os::unix::process::ExitStatusExt;
    let said = first_error(stderr);
    let out_of_memory = stderr.contains("bad_alloc") || stderr.contains("Out of memory");
    match (status.code(), status.signal()) {
        (Some(126 | 127), _) if stderr.contains("prlimit") => PdfError::NotInstalled(said),
        // pdftotext: 1 the file could not be opened, 3 a permissions error.
        (Some(1), _) if stderr.contains("Incorrect password") => PdfError::Encrypted,
        (Some(3), _) => PdfError::Encrypted,
        _ if out_of_memory => PdfError::Memory(limits.max_memory),
        (Some(_), _) => PdfError::Damaged(said),
        // SIGABRT and SIGSEGV are what a C++ program usually dies of when an allocation fails.
        (None, Some(sig)) if sig == 6 || sig == 11 => PdfError::Crashed {
            signal: sig,
            memory: Some(limits.max_memory),
        },
        (None, sig) => PdfError::Crashed {
            signal: sig.unwrap_or(0),
            memory: None,
        },
    }
}

/// The first error `pdftotext` gave, without its "Syntax Error (offset):" prefix (warnings are
/// passed over: a damaged file's real error comes after them).
fn first_error(stderr: &str) -> String {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| l.contains("Error"))
        .or_else(|| lines().next())
        .map(|l| match l.split_once("Error") {
            Some((_, rest)) => {
                let rest = rest.trim_start();
                let rest = match rest.strip_prefix('(') {
                    Some(r) => r.split_once(')').map_or(r, |(_, after)| after),
                    None => rest,
                };
                rest.trim_start_matches(':').trim().to_string()
            }
            None => l.to_string(),
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "pdftotext gave no reason".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_is_said_without_its_prefix() {
        let stderr = "Syntax Warning: Invalid Font Weight\nSyntax Error (1304982): Unknown filter 'BrotliDecode'\nSyntax Error: other\n";
        assert_eq!(first_error(stderr), "Unknown filter 'BrotliDecode'");
        assert_eq!(
            first_error("Syntax Error: Couldn't read xref table\n"),
            "Couldn't read xref table"
        );
        assert_eq!(first_error(""), "pdftotext gave no reason");
    }
}
