//! The `govwatch` binary: parse the command line, set up logging, run, and turn errors into
//! exit codes. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use govwatch::cli::{self, Cli, term};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // RUST_LOG overrides; by default govwatch says what it does and dependencies only warn.
    govwatch::logging::init();

    // Blocking work is bounded by govwatch's own turns (the store, and parsing on as many threads
    // as cores), so a few threads suffice; each thread that allocates gets a malloc arena of
    // its own, and fifteen of them made a third of a first pass's peak memory.
    let blocking = std::thread::available_parallelism().map_or(2, |n| n.get()) + 2;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(blocking)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            term::warn(format_args!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // A check abandoned at shutdown may still hold a blocking thread (a database write, which
    // SQLite rolls back if cut off): wait briefly for it rather than forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // As `cat` or ripgrep do when their reader is gone: no message, not a failure.
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            // Messages may quote a page or a server (a title, a reason): escaped like stdout.
            term::warn(format_args!("error: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}
