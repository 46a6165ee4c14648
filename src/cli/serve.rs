//! `govwatch serve` and `govwatch hash-password`: the web pages alone, and the password hashes
//! their users log in with.

use std::path::Path;
use std::sync::Arc;

use super::{CliError, Out, Result, open_store};
use crate::config::Config;
use crate::daemon;
use crate::store::StoreHandle;

/// `govwatch serve`: the pages alone, until SIGTERM or SIGINT.
pub(super) async fn serve(config_path: &Path) -> Result<()> {
    let config = Config::load(config_path)?;
    crate::logging::apply_config(&config.log);
    let Some(addr) = config.http.listen else {
        return Err(CliError::Usage(format!(
            "{}: `http.listen` is not set, so there is nowhere to serve the pages; add [http] listen = \"127.0.0.1:9184\"",
            config.source.display()
        )));
    };
    let store = StoreHandle::new(open_store(&config)?);
    let web = crate::web::Web::new(Arc::new(config), store);
    crate::web::serve(addr, web, daemon::stop_signal()).await?;
    Ok(())
}

/// `govwatch hash-password`: the password is the whole of standard input but a final newline.
pub(super) fn hash_password() -> Result<()> {
    use std::io::Read;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input
        .strip_suffix("\r\n")
        .or_else(|| input.strip_suffix('\n'))
        .unwrap_or(&input);
    if password.is_empty() {
        return Err(CliError::Usage(
            "no password on standard input (try: echo -n 'secret' | govwatch hash-password)".into(),
        ));
    }
    let hash = crate::web::auth::hash_password(password).map_err(CliError::Usage)?;
    let mut out = Out::stdout();
    writeln!(out, "{hash}")?;
    out.flush()?;
    Ok(())
}
