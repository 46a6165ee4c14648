//! `govwatch store`: the database as a whole (`store copy`, from SQLite or PostgreSQL to either).

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::term::Out;
use super::{CliError, Result};
use crate::config::{Config, PostgresUrl};
use crate::store::{Store, copy};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy the whole database (documents, versions, the corpus and its index, events,
    /// deliveries, templates, what is known of each server) to PostgreSQL or to a SQLite file.
    /// Rows already there are skipped, so it can be run again; it prints what it copied.
    Copy {
        /// postgres://USER:PASSWORD@HOST:PORT/DB[?sslmode=...], or the path of a SQLite file.
        #[arg(long, value_name = "URL|PATH")]
        to: String,
    },
}

pub async fn run(config: Config, command: StoreCommand) -> Result<()> {
    match command {
        // The PostgreSQL client blocks: off the async workers, as the store always is.
        StoreCommand::Copy { to } => tokio::task::spawn_blocking(move || copy_to(&config, &to))
            .await
            .map_err(|e| CliError::Usage(format!("store copy failed: {e}")))?,
    }
}

fn open_target(to: &str) -> Result<(Store, String)> {
    if PostgresUrl::looks_like(to) {
        let url = PostgresUrl::parse(to).map_err(|e| CliError::Usage(format!("--to: {e}")))?;
        Ok((Store::open_postgres(&url)?, url.to_string()))
    } else if to.trim().is_empty() {
        Err(CliError::Usage(
            "--to needs a postgres:// URL or a file path".into(),
        ))
    } else {
        let path = PathBuf::from(to);
        Ok((Store::open(&path)?, path.display().to_string()))
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn copy_to(config: &Config, to: &str) -> Result<()> {
    let (from, from_name) = match &config.storage.postgres {
        Some(url) => (Store::open_postgres(url)?, url.to_string()),
        None => {
            let path = &config.storage.path;
            // Opening would create an empty one: there is nothing to copy.
            if !path.exists() {
                return Err(CliError::Usage(format!(
                    "there is no database at {} (storage.path in {}) to copy",
                    path.display(),
                    config.source.display()
                )));
            }
            if !PostgresUrl::looks_like(to) && same_file(path, Path::new(to)) {
                return Err(CliError::Usage(format!(
                    "--to {to} is the configured database itself"
                )));
            }
            (Store::open(path)?, path.display().to_string())
        }
    };
    let (target, to_name) = open_target(to)?;
    let started = std::time::Instant::now();
    let copied = copy::copy(&from, &target)?;
    let mut out = Out::stdout();
    writeln!(
        out,
        "copied {from_name} to {to_name} in {:.1} s",
        started.elapsed().as_secs_f64()
    )?;
    writeln!(
        out,
        "{:<16} {:>10} {:>10} {:>10}",
        "table", "rows", "copied", "skipped"
    )?;
    let (mut read, mut written) = (0, 0);
    for c in &copied {
        writeln!(
            out,
            "{:<16} {:>10} {:>10} {:>10}",
            c.table,
            c.read,
            c.copied,
            c.skipped()
        )?;
        read += c.read;
        written += c.copied;
    }
    writeln!(
        out,
        "{:<16} {:>10} {:>10} {:>10}",
        "total",
        read,
        written,
        read - written
    )?;
    out.flush()?;
    Ok(())
}
