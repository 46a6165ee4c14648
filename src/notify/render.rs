//! Rendering a [`Model`] with minijinja templates: the built-in ones (compiled in), or
//! `templates/digest.html.j2` and `templates/digest.txt.j2` beside the config file when the
//! user provides them. HTML is autoescaped, so nothing from a page becomes markup.

use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment};

use super::NotifyError;
use super::digest::Model;

const HTML: &str = include_str!("templates/digest.html.j2");
const TEXT: &str = include_str!("templates/digest.txt.j2");

pub struct Templates {
    env: Environment<'static>,
    /// Where the user's templates came from, for messages; empty for the built-in ones.
    pub overrides: Vec<PathBuf>,
    /// `[http] public_url` without its final slash: each story then links to its event page,
    /// `{event_pages}/event/{event_id}` (templates see it as `event_pages`).
    pub event_pages: Option<String>,
}

/// The folder user templates are read from: `templates/` beside the config file.
pub fn template_dir(config_source: &Path) -> PathBuf {
    config_source
        .parent()
        .map_or_else(|| PathBuf::from("templates"), |d| d.join("templates"))
}

impl Templates {
    /// The built-in templates, replaced by any found in `dir`.
    pub fn load(dir: &Path) -> Result<Templates, NotifyError> {
        let mut env = Environment::new();
        // By the name we register, not the file's: both user files end in `.j2`.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_keep_trailing_newline(true);
        let mut overrides = Vec::new();
        for (name, file, builtin) in [
            ("digest.html", "digest.html.j2", HTML),
            ("digest.txt", "digest.txt.j2", TEXT),
        ] {
            let path = dir.join(file);
            let source = match std::fs::read_to_string(&path) {
                Ok(s) => {
                    overrides.push(path.clone());
                    s
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin.to_string(),
                Err(e) => return Err(NotifyError::Template(format!("{}: {e}", path.display()))),
            };
            env.add_template_owned(name, source)
                .map_err(|e| NotifyError::Template(format!("{}: {e}", path.display())))?;
        }
        Ok(Templates {
            env,
            overrides,
            event_pages: None,
        })
    }

    /// The built-in templates only.
    pub fn builtin() -> Templates {
        Templates::load(Path::new("/nonexistent/govwatch-templates")).expect("the built-in templates compile")
    }

    /// Stories link to their event pages under `http.public_url`, if it is set.
    pub fn linking_events(mut self, http: &crate::config::Http) -> Templates {
        self.event_pages = http
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_string());
        self
    }

    /// (text, HTML).
    pub fn render(&self, model: &Model) -> Result<(String, String), NotifyError> {
        let ctx = minijinja::context! { event_pages => self.event_pages, ..minijinja::Value::from_serialize(model) };
        let render = |name: &str| {
            self.env
                .get_template(name)
                .and_then(|t| t.render(&ctx))
                .map_err(|e| NotifyError::Template(format!("{name}: {e:#}")))
        };
        Ok((render("digest.txt")?, render("digest.html")?))
    }
}
