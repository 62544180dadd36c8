//! The process environment, read once at the edge and passed in (never read inside logic).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A snapshot of environment variables.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Reads the real environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// An environment from pairs, for tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// One variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// Where Warden keeps state when no config says otherwise: `$WARDEN_HOME`, else
    /// `$XDG_DATA_HOME/warden`, else `~/.local/share/warden`, else `./.warden`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(home) = self.get("WARDEN_HOME") {
            return PathBuf::from(home);
        }
        if let Some(xdg) = self.get("XDG_DATA_HOME") {
            return PathBuf::from(xdg).join("warden");
        }
        match self.get("HOME") {
            Some(home) => PathBuf::from(home).join(".local/share/warden"),
            None => PathBuf::from(".warden"),
        }
    }
}
