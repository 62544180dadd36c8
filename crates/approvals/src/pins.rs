//! Tool pinning: the definition of every tool an upstream lists (name, title, description,
//! input and output schemas, annotations) is recorded on first sight, in the approvals file;
//! a later listing with another definition is a change that waits for a person's approval
//! (`warden tools approve`). A definition the description scan flags waits the same way.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{Result, Store};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tool_pins (
    server        TEXT NOT NULL,
    name          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    definition    TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('approved', 'changed', 'flagged')),
    approved      TEXT,
    findings      TEXT NOT NULL,
    first_seen    INTEGER NOT NULL,
    changed_at    INTEGER,
    decided_by    TEXT,
    decided_at    INTEGER,
    PRIMARY KEY (server, name)
) STRICT;
";

/// Where a pinned tool stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PinStatus {
    /// The definition seen is the one approved (or first seen clean).
    Approved,
    /// The definition changed since it was approved.
    Changed,
    /// The description scan found something in it.
    Flagged,
}

impl PinStatus {
    fn parse(s: &str) -> Self {
        match s {
            "approved" => Self::Approved,
            "changed" => Self::Changed,
            _ => Self::Flagged,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Changed => "changed",
            Self::Flagged => "flagged",
        }
    }
}

/// One pinned tool.
#[derive(Debug, Clone, Serialize)]
pub struct Pin {
    pub server: String,
    pub name: String,
    /// Hash of the definition last seen.
    pub hash: String,
    /// The definition last seen.
    pub definition: Value,
    pub status: PinStatus,
    /// The approved definition, when the one seen differs from it.
    pub approved: Option<Value>,
    /// What the description scan found in the definition last seen.
    pub findings: Value,
    pub first_seen: i64,
    pub changed_at: Option<i64>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// A tool another server listed ([`Store::tools_of_others`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Other {
    pub server: String,
    pub name: String,
    /// Its definition last seen, as stored (JSON text).
    pub definition: String,
}

/// What a listing's definition of a tool was, against its pin.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// First sight: pinned (approved when `findings` is empty, else flagged).
    New(PinStatus),
    /// The pinned definition, with its standing.
    Same(PinStatus),
    /// Another definition than the pinned one: now waits for approval.
    Changed,
}

/// The parts of a tool that define it (`_meta` and unknown fields do not).
pub fn definition(tool: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in [
        "name",
        "title",
        "description",
        "inputSchema",
        "outputSchema",
        "annotations",
    ] {
        if let Some(v) = tool.get(key) {
            out.insert(key.to_owned(), v.clone());
        }
    }
    Value::Object(out)
}

/// Hex SHA-256 of the canonical JSON of a tool's [`definition`].
pub fn definition_hash(tool: &Value) -> String {
    let mut text = String::new();
    crate::canonical_json(&definition(tool), &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What changed between two definitions, one line per field.
pub fn diff(before: Option<&Value>, after: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let old = before.and_then(Value::as_object).unwrap_or(&empty);
    let new = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    for k in keys {
        match (old.get(k), new.get(k)) {
            (Some(a), Some(b)) if a == b => {}
            (a, b) => {
                if let Some(a) = a {
                    out.push(format!("- {k}: {a}"));
                }
                if let Some(b) = b {
                    out.push(format!("+ {k}: {b}"));
                }
            }
        }
    }
    out
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Pin> {
    let json = |i: usize| -> rusqlite::Result<Value> {
        let text: String = row.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let approved: Option<String> = row.get(5)?;
    Ok(Pin {
        server: row.get(0)?,
        name: row.get(1)?,
        hash: row.get(2)?,
        definition: json(3)?,
        status: PinStatus::parse(&row.get::<_, String>(4)?),
        approved: approved.and_then(|t| serde_json::from_str(&t).ok()),
        findings: json(6)?,
        first_seen: row.get(7)?,
        changed_at: row.get(8)?,
        decided_by: row.get(9)?,
        decided_at: row.get(10)?,
    })
}

const COLUMNS: &str = "server, name, hash, definition, status, approved, findings, first_seen, \
    changed_at, decided_by, decided_at";

/// A tool as a listing has it, to compare with its pin ([`Store::observe_tools`]).
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub tool: &'a Value,
    /// [`definition_hash`] of `tool`.
    pub hash: &'a str,
    /// What the description scan found (a JSON array; empty when clean).
    pub findings: &'a Value,
}

impl Listed<'_> {
    fn name(&self) -> &str {
        self.tool
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// Compares one listed tool with its pin and writes what changed, inside the caller's write
/// transaction.
fn observe_in(conn: &Connection, l: &Listed<'_>, server: &str, now: i64) -> rusqlite::Result<Seen> {
    let name = l.name();
    let pinned: Option<(String, String, String)> = conn
        .prepare_cached(
            "SELECT hash, status, definition FROM tool_pins WHERE server = ?1 AND name = ?2",
        )?
        .query_row(params![server, name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let def = definition(l.tool).to_string();
    let findings = l.findings.to_string();
    let Some((old_hash, status, old_def)) = pinned else {
        let flagged = l.findings.as_array().is_some_and(|f| !f.is_empty());
        let status = if flagged {
            PinStatus::Flagged
        } else {
            PinStatus::Approved
        };
        conn.prepare_cached(
            "INSERT INTO tool_pins (server, name, hash, definition, status, findings, first_seen) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            server,
            name,
            l.hash,
            def,
            status.as_str(),
            findings,
            now
        ])?;
        return Ok(Seen::New(status));
    };
    if old_hash == l.hash {
        return Ok(Seen::Same(PinStatus::parse(&status)));
    }
    // Keep the last approved definition to show what changed; a tool that was never
    // approved (flagged at first sight) has none.
    let approved = (status == "approved").then_some(old_def);
    conn.prepare_cached(
        "UPDATE tool_pins SET hash = ?3, definition = ?4, status = 'changed', \
         approved = COALESCE(?5, approved), findings = ?6, changed_at = ?7 \
         WHERE server = ?1 AND name = ?2",
    )?
    .execute(params![server, name, l.hash, def, approved, findings, now])?;
    Ok(Seen::Changed)
}

impl Store {
    /// Compares `tool` (as listed by `server`) with its pin, pinning it on first sight.
    /// `findings` are the description scan's (a JSON array; empty when clean).
    pub fn observe_tool(
        &self,
        server: &str,
        tool: &Value,
        findings: &Value,
        now: i64,
    ) -> Result<Seen> {
        let hash = definition_hash(tool);
        let listed = [Listed {
            tool,
            hash: &hash,
            findings,
        }];
        self.observe_tools(server, &listed, now)
            .pop()
            .unwrap_or(Ok(Seen::Same(PinStatus::Changed)))
    }

    /// Compares each tool of a listing by `server` with its pin, pinning new ones: one read
    /// of the server's pins, then one transaction (one sync) for the tools that are new or
    /// changed, if any. What each was, in order; an error for each tool the store could not
    /// settle.
    pub fn observe_tools(
        &self,
        server: &str,
        listed: &[Listed<'_>],
        now: i64,
    ) -> Vec<Result<Seen>> {
        let err = crate::error::sqlite(self.path());
        let mut conn = self.conn();
        let pinned: rusqlite::Result<HashMap<String, (String, String)>> = conn
            .prepare_cached("SELECT name, hash, status FROM tool_pins WHERE server = ?1")
            .and_then(|mut s| {
                s.query_map(params![server], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
                    .and_then(Iterator::collect)
            });
        let pinned = match pinned {
            Ok(pinned) => pinned,
            Err(e) => return vec![Err(err(e)); listed.len()],
        };
        // A name listed more than once is looked at entry by entry in the transaction, in
        // order: a second definition is a change from the first, whatever the pin said.
        let mut listed_as: HashMap<&str, usize> = HashMap::new();
        for l in listed {
            *listed_as.entry(l.name()).or_default() += 1;
        }
        // What the pins already settle; `None` for tools new or changed.
        let mut seen: Vec<Option<Result<Seen>>> = listed
            .iter()
            .map(|l| match pinned.get(l.name()) {
                Some((hash, status)) if hash == l.hash && listed_as.get(l.name()) == Some(&1) => {
                    Some(Ok(Seen::Same(PinStatus::parse(status))))
                }
                _ => None,
            })
            .collect();
        if seen.iter().any(Option::is_none) {
            // Holding the write lock, a look at a pin and the write after it cannot race
            // another process's (sessions of several processes may see a new tool at once).
            let written = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .and_then(|tx| {
                    let mut out = Vec::new();
                    for (i, l) in listed.iter().enumerate() {
                        if seen.get(i).is_some_and(Option::is_none) {
                            out.push((i, observe_in(&tx, l, server, now)?));
                        }
                    }
                    tx.commit()?;
                    Ok(out)
                });
            match written {
                Ok(out) => {
                    for (i, s) in out {
                        if let Some(slot) = seen.get_mut(i) {
                            *slot = Some(Ok(s));
                        }
                    }
                }
                // What the read settled stands; the rest could not be checked.
                Err(e) => {
                    let e = err(e);
                    for slot in seen.iter_mut().filter(|s| s.is_none()) {
                        *slot = Some(Err(e.clone()));
                    }
                }
            }
        }
        seen.into_iter()
            .map(|s| s.unwrap_or(Ok(Seen::Same(PinStatus::Changed))))
            .collect()
    }

    /// The standing of a pinned tool (`None`: never seen).
    pub fn tool_status(&self, server: &str, name: &str) -> Result<Option<PinStatus>> {
        self.conn()
            .prepare_cached("SELECT status FROM tool_pins WHERE server = ?1 AND name = ?2")
            .and_then(|mut s| {
                s.query_row(params![server, name], |r| r.get::<_, String>(0))
                    .optional()
            })
            .map(|s| s.map(|s| PinStatus::parse(&s)))
            .map_err(crate::error::sqlite(self.path()))
    }

    /// Approves the definition last seen of `server`/`name`, if its hash is still `hash`
    /// (the one the approver was shown). Returns the pin, or `None` when there is no such tool
    /// or it changed again.
    pub fn approve_tool(
        &self,
        server: &str,
        name: &str,
        hash: &str,
        by: &str,
        now: i64,
    ) -> Result<Option<Pin>> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE tool_pins SET status = 'approved', approved = NULL, decided_by = ?4, \
                 decided_at = ?5 WHERE server = ?1 AND name = ?2 AND hash = ?3",
            )
            .and_then(|mut s| s.execute(params![server, name, hash, by, now]))
            .map_err(crate::error::sqlite(self.path()))?;
        if changed == 0 {
            return Ok(None);
        }
        Ok(self
            .pins()?
            .into_iter()
            .find(|p| p.server == server && p.name == name))
    }

    /// Every pinned tool, by server and name.
    pub fn pins(&self) -> Result<Vec<Pin>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tool_pins ORDER BY server, name"
            ))
            .map_err(crate::error::sqlite(self.path()))?;
        let rows = stmt
            .query_map([], decode)
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(crate::error::sqlite(self.path()))?;
        Ok(rows)
    }

    /// The tools every server but `server` listed (what its tools could imitate), in order,
    /// their definitions as stored.
    pub fn tools_of_others(&self, server: &str) -> Result<Vec<Other>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "SELECT server, name, definition FROM tool_pins WHERE server != ?1 \
                 ORDER BY server, name",
            )
            .map_err(crate::error::sqlite(self.path()))?;
        let rows = stmt
            .query_map([server], |r| {
                Ok(Other {
                    server: r.get(0)?,
                    name: r.get(1)?,
                    definition: r.get(2)?,
                })
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(crate::error::sqlite(self.path()))?;
        Ok(rows)
    }
}

#[cfg(test)]
#[path = "pins_tests.rs"]
mod tests;
