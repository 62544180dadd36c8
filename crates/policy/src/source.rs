//! Policy and schema text together with the name of the file it came from, so every error can
//! say `file:line:column`.

use miette::Diagnostic;

/// One source file's text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The file name shown in errors.
    pub name: String,
    /// The file's contents.
    pub text: String,
}

impl Source {
    /// Wraps a named text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }

    /// `name:line:column` of a byte offset into this source (1-based line and column).
    pub fn location(&self, offset: usize) -> String {
        let prefix = self
            .text
            .get(..offset.min(self.text.len()))
            .unwrap_or(&self.text);
        let line = prefix.matches('\n').count() + 1;
        let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.name)
    }

    /// Turns a Cedar diagnostic about this source into an [`crate::Error::Invalid`] that names
    /// the file, line and column of its first label.
    pub(crate) fn invalid(&self, diag: &dyn Diagnostic) -> crate::Error {
        let offset = diag
            .labels()
            .and_then(|mut labels| labels.next())
            .map(|label| label.offset());
        let location = match offset {
            Some(offset) => self.location(offset),
            None => self.name.clone(),
        };
        let mut message = diag.to_string();
        if let Some(help) = diag.help() {
            message.push_str(&format!(" (help: {help})"));
        }
        crate::Error::Invalid { location, message }
    }
}
