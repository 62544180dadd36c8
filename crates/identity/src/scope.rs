//! Token scopes: what part of Warden a token may use at all, before policy looks at the call.
//!
//! - `mcp`: every MCP server behind the gateway;
//! - `mcp:<server>`: one server's tools, resources and prompts;
//! - `mcp:<server>/<name>`: one tool or prompt (a trailing `*` matches a prefix:
//!   `mcp:fs/read_*`);
//! - `decide`, `scan`: the HTTP decision and scanning APIs.
//!
//! A scope covers another when everything the second allows the first allows too; a delegated
//! token's scopes must each be covered by a scope of its parent.

use std::fmt;

use crate::{Error, Result};

/// One parsed scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `mcp`, `mcp:<server>` or `mcp:<server>/<name>` (`name` may end in `*`).
    Mcp {
        server: Option<String>,
        name: Option<String>,
    },
    /// `decide`.
    Decide,
    /// `scan`.
    Scan,
}

impl Scope {
    /// Parses one scope.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| Error::Invalid(format!("invalid scope `{text}`: {why}"));
        match text {
            "mcp" => {
                return Ok(Self::Mcp {
                    server: None,
                    name: None,
                });
            }
            "decide" => return Ok(Self::Decide),
            "scan" => return Ok(Self::Scan),
            _ => {}
        }
        let Some(rest) = text.strip_prefix("mcp:") else {
            return Err(bad(
                "expected `mcp`, `mcp:<server>`, `mcp:<server>/<name>`, `decide` or `scan`",
            ));
        };
        let (server, name) = match rest.split_once('/') {
            Some((s, n)) => (s, Some(n)),
            None => (rest, None),
        };
        if !crate::valid_name(server) {
            return Err(bad(
                "the server name must be letters, digits, `_`, `-` or `.`",
            ));
        }
        if let Some(n) = name {
            let body = n.strip_suffix('*').unwrap_or(n);
            if (body.is_empty() && !n.ends_with('*'))
                || body.contains('*')
                || n.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(bad(
                    "the name must be non-empty, without spaces, `*` only at the end",
                ));
            }
        }
        Ok(Self::Mcp {
            server: Some(server.to_owned()),
            name: name.map(str::to_owned),
        })
    }

    /// Parses a space- or comma-separated list; an empty list is an error.
    pub fn parse_list(text: &str) -> Result<Vec<Self>> {
        let mut out: Vec<Self> = text
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(Self::parse)
            .collect::<Result<_>>()?;
        if out.is_empty() {
            return Err(Error::Invalid(
                "a token needs at least one scope".to_owned(),
            ));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Whether everything `other` allows, `self` allows too.
    pub fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Decide, Self::Decide) | (Self::Scan, Self::Scan) => true,
            (
                Self::Mcp { server, name },
                Self::Mcp {
                    server: other_server,
                    name: other_name,
                },
            ) => match (server, other_server) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(s), Some(o)) if s != o => false,
                _ => match (name, other_name) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some(n), Some(o)) => match n.strip_suffix('*') {
                        // `read_*` covers `read_file` and `read_f*`, not `re*`.
                        Some(prefix) => o.starts_with(prefix),
                        None => n == o,
                    },
                },
            },
            _ => false,
        }
    }

    /// Whether this scope lets a token reach `name` (a tool or prompt) on `server`.
    pub fn allows(&self, server: &str, name: Option<&str>) -> bool {
        match self {
            Self::Mcp { server: None, .. } => true,
            Self::Mcp {
                server: Some(s),
                name: n,
            } => {
                s == server
                    && match (n, name) {
                        (None, _) => true,
                        (Some(_), None) => false,
                        (Some(n), Some(name)) => match n.strip_suffix('*') {
                            Some(prefix) => name.starts_with(prefix),
                            None => n == name,
                        },
                    }
            }
            _ => false,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mcp { server: None, .. } => f.write_str("mcp"),
            Self::Mcp {
                server: Some(s),
                name: None,
            } => write!(f, "mcp:{s}"),
            Self::Mcp {
                server: Some(s),
                name: Some(n),
            } => write!(f, "mcp:{s}/{n}"),
            Self::Decide => f.write_str("decide"),
            Self::Scan => f.write_str("scan"),
        }
    }
}

/// Joins scopes as the `scope` claim writes them.
pub fn join(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether any scope allows reaching `name` on `server`.
pub fn any_allows(scopes: &[Scope], server: &str, name: Option<&str>) -> bool {
    scopes.iter().any(|s| s.allows(server, name))
}

/// Whether any scope reaches `server` at all (some of its tools, or all of it).
pub fn reaches(scopes: &[Scope], server: &str) -> bool {
    scopes.iter().any(|s| match s {
        Scope::Mcp { server: None, .. } => true,
        Scope::Mcp {
            server: Some(x), ..
        } => x == server,
        _ => false,
    })
}

/// Whether every scope of `child` is covered by some scope of `parent`.
pub fn narrower(parent: &[Scope], child: &[Scope]) -> bool {
    child.iter().all(|c| parent.iter().any(|p| p.covers(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Scope {
        Scope::parse(text).unwrap()
    }

    #[test]
    fn parses_and_prints() {
        for text in [
            "mcp",
            "mcp:fs",
            "mcp:fs/read_file",
            "mcp:fs/read_*",
            "decide",
            "scan",
        ] {
            assert_eq!(s(text).to_string(), text);
        }
        for bad in [
            "",
            "mcp:",
            "mcp:f s",
            "mcp:fs/",
            "mcp:fs/a*b",
            "admin",
            "mcp:fs/a b",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn coverage_only_narrows() {
        assert!(s("mcp").covers(&s("mcp:fs/read_file")));
        assert!(s("mcp:fs").covers(&s("mcp:fs/x")));
        assert!(!s("mcp:fs").covers(&s("mcp")));
        assert!(!s("mcp:fs").covers(&s("mcp:db")));
        assert!(s("mcp:fs/read_*").covers(&s("mcp:fs/read_file")));
        assert!(s("mcp:fs/read_*").covers(&s("mcp:fs/read_f*")));
        assert!(!s("mcp:fs/read_*").covers(&s("mcp:fs/re*")));
        assert!(!s("mcp:fs/read_file").covers(&s("mcp:fs/read_*")));
        assert!(!s("mcp").covers(&s("decide")));
        assert!(narrower(&[s("mcp")], &[s("mcp:fs"), s("mcp:db/q")]));
        assert!(!narrower(&[s("mcp:fs")], &[s("mcp:fs"), s("scan")]));
    }

    #[test]
    fn allows_by_server_and_name() {
        assert!(s("mcp").allows("fs", Some("x")));
        assert!(s("mcp:fs").allows("fs", None));
        assert!(!s("mcp:fs/read_file").allows("fs", None));
        assert!(s("mcp:fs/read_*").allows("fs", Some("read_text")));
        assert!(!s("mcp:fs/read_*").allows("db", Some("read_text")));
        assert!(!s("scan").allows("fs", Some("x")));
    }
}
