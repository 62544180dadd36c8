//! The approvals file: one row per held call.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use crate::error::sqlite;
use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS approvals (
    id             TEXT PRIMARY KEY,
    created        INTEGER NOT NULL,
    expires        INTEGER NOT NULL,
    agent          TEXT NOT NULL,
    server         TEXT NOT NULL,
    method         TEXT NOT NULL,
    target         TEXT NOT NULL,
    arguments      TEXT NOT NULL,
    call_hash      TEXT NOT NULL,
    policies       TEXT NOT NULL,
    groups_        TEXT NOT NULL,
    reason         TEXT NOT NULL,
    findings       TEXT NOT NULL,
    session        TEXT NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('hold', 'async')),
    decision_seq   INTEGER,
    status         TEXT NOT NULL
        CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'used')),
    decided_by     TEXT,
    decided_via    TEXT,
    decided_reason TEXT,
    decided_at     INTEGER,
    used_at        INTEGER,
    delivered      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS approvals_call ON approvals (agent, call_hash);
CREATE INDEX IF NOT EXISTS approvals_status ON approvals (status, created);
";

const COLUMNS: &str = "id, created, expires, agent, server, method, target, arguments, call_hash, \
    policies, groups_, reason, findings, session, mode, decision_seq, status, decided_by, \
    decided_via, decided_reason, decided_at, used_at, delivered";

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for a decision.
    Pending,
    /// Approved, not used yet.
    Approved,
    /// Denied.
    Denied,
    /// Nobody decided in time (which is a denial).
    Expired,
    /// Approved and then executed once; never again.
    Used,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Used => "used",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "approved" => Self::Approved,
            "denied" => Self::Denied,
            "expired" => Self::Expired,
            "used" => Self::Used,
            _ => return None,
        })
    }
}

/// How the agent waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The call is held open until decided or expired.
    Hold,
    /// The agent is answered at once with the request id and calls again later.
    Async,
}

impl Mode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hold => "hold",
            Self::Async => "async",
        }
    }
}

/// A call to hold.
#[derive(Debug, Clone)]
pub struct NewApproval {
    /// The agent.
    pub agent: String,
    /// The upstream server.
    pub server: String,
    /// `tools/call`, `resources/read` or `prompts/get`.
    pub method: String,
    /// Tool or prompt name, or resource URI.
    pub target: String,
    /// The exact arguments that will be forwarded if approved.
    pub arguments: Value,
    /// Ids of the policies that asked for approval.
    pub policies: Vec<String>,
    /// Groups whose members may decide.
    pub groups: Vec<String>,
    /// The policy's reason.
    pub reason: String,
    /// Detector findings on the arguments (audit form).
    pub findings: Value,
    /// The agent's session.
    pub session: String,
    /// Hold or async.
    pub mode: Mode,
    /// Seconds until it expires.
    pub ttl_secs: i64,
    /// Audit sequence number of the decision record.
    pub decision_seq: Option<i64>,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// `apr_` and 24 hex digits.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds; a pending request past this is expired.
    pub expires: i64,
    pub agent: String,
    pub server: String,
    pub method: String,
    pub target: String,
    pub arguments: Value,
    /// What approvers decide on ([`crate::call_hash`]).
    pub call_hash: String,
    pub policies: Vec<String>,
    pub groups: Vec<String>,
    pub reason: String,
    pub findings: Value,
    pub session: String,
    pub mode: Mode,
    pub decision_seq: Option<i64>,
    pub status: Status,
    /// Approver name (`elicitation:<agent>` for self-approval).
    pub decided_by: Option<String>,
    /// `console`, `cli`, `elicitation` or `expiry`.
    pub decided_via: Option<String>,
    pub decided_reason: Option<String>,
    pub decided_at: Option<i64>,
    pub used_at: Option<i64>,
    /// The agent was told about a denial or expiry.
    pub delivered: bool,
}

impl Approval {
    /// `server/target`, as policies name it.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.server, self.target)
    }
}

/// Who decides, and through what.
#[derive(Debug, Clone)]
pub struct Approver {
    /// Name recorded with the decision.
    pub name: String,
    /// Groups the approver belongs to (`*` for every group).
    pub groups: Vec<String>,
    /// `console`, `cli`, `elicitation`.
    pub via: String,
}

impl Approver {
    /// Whether this approver may decide a request for `groups`.
    pub fn may_decide(&self, groups: &[String]) -> bool {
        self.groups.iter().any(|g| g == "*" || groups.contains(g))
    }
}

/// The approvals store.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the approvals file.
    pub fn open(path: &Path) -> Result<Self> {
        warden_types::file::create_private(path).map_err(|e| Error::Store {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let conn = Connection::open(path).map_err(sqlite(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite(path))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(sqlite(path))?;
        conn.execute_batch(SCHEMA).map_err(sqlite(path))?;
        conn.execute_batch(crate::pins::SCHEMA)
            .map_err(sqlite(path))?;
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        sqlite(&self.path)
    }

    /// Stores a new pending request.
    pub fn create(&self, new: NewApproval, now: i64) -> Result<Approval> {
        let mut bytes = [0u8; 12];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| Error::Random)?;
        let id = format!("apr_{}", hex::encode(bytes));
        let call_hash = crate::call_hash(crate::CallKey {
            agent: &new.agent,
            server: &new.server,
            method: &new.method,
            target: &new.target,
            arguments: &new.arguments,
        });
        let approval = Approval {
            id,
            created: now,
            expires: now.saturating_add(new.ttl_secs.max(1)),
            agent: new.agent,
            server: new.server,
            method: new.method,
            target: new.target,
            arguments: new.arguments,
            call_hash,
            policies: new.policies,
            groups: new.groups,
            reason: new.reason,
            findings: new.findings,
            session: new.session,
            mode: new.mode,
            decision_seq: new.decision_seq,
            status: Status::Pending,
            decided_by: None,
            decided_via: None,
            decided_reason: None,
            decided_at: None,
            used_at: None,
            delivered: false,
        };
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO approvals ({COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
                  'pending', NULL, NULL, NULL, NULL, NULL, 0)"
            ))
            .and_then(|mut stmt| {
                stmt.execute(params![
                    approval.id,
                    approval.created,
                    approval.expires,
                    approval.agent,
                    approval.server,
                    approval.method,
                    approval.target,
                    to_json(&approval.arguments),
                    approval.call_hash,
                    to_json(&approval.policies),
                    to_json(&approval.groups),
                    approval.reason,
                    to_json(&approval.findings),
                    approval.session,
                    approval.mode.as_str(),
                    approval.decision_seq,
                ])
            })
            .map_err(self.err())?;
        Ok(approval)
    }

    /// One request by id (a pending one past its expiry is marked expired first).
    pub fn get(&self, id: &str, now: i64) -> Result<Option<Approval>> {
        self.expire_due(now)?;
        self.conn()
            .prepare_cached(&format!("SELECT {COLUMNS} FROM approvals WHERE id = ?1"))
            .and_then(|mut stmt| stmt.query_row(params![id], decode).optional())
            .map_err(self.err())?
            .transpose()
    }

    /// The open request for this agent and call, if any: pending, approved and not used, or
    /// denied/expired and not yet told to the agent. Newest first.
    pub fn open_for(&self, agent: &str, call_hash: &str, now: i64) -> Result<Option<Approval>> {
        self.expire_due(now)?;
        self.conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE agent = ?1 AND call_hash = ?2 \
                 AND (status IN ('pending', 'approved') \
                      OR (status IN ('denied', 'expired') AND delivered = 0)) \
                 ORDER BY created DESC, rowid DESC LIMIT 1"
            ))
            .and_then(|mut stmt| stmt.query_row(params![agent, call_hash], decode).optional())
            .map_err(self.err())?
            .transpose()
    }

    /// Requests, newest first: all, or those with `status`; at most `limit`.
    pub fn list(&self, status: Option<Status>, limit: i64, now: i64) -> Result<Vec<Approval>> {
        self.expire_due(now)?;
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM approvals WHERE (?1 IS NULL OR status = ?1) \
                 ORDER BY created DESC, rowid DESC LIMIT ?2"
            ))
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![status.map(Status::as_str), limit], decode)
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(self.err())??);
        }
        Ok(out)
    }

    /// Approves or denies a pending request. `call_hash` is the hash the approver was shown:
    /// if it is not the stored call's, nothing changes.
    pub fn decide(
        &self,
        id: &str,
        call_hash: &str,
        approver: &Approver,
        approve: bool,
        reason: &str,
        now: i64,
    ) -> Result<Approval> {
        let current = self
            .get(id, now)?
            .ok_or_else(|| Error::Unknown(id.to_owned()))?;
        if current.status == Status::Expired {
            return Err(Error::Expired(id.to_owned()));
        }
        if current.status != Status::Pending {
            return Err(Error::Settled {
                id: id.to_owned(),
                status: current.status.as_str().to_owned(),
            });
        }
        if !approver.may_decide(&current.groups) {
            return Err(Error::NotApprover {
                approver: approver.name.clone(),
                id: id.to_owned(),
                groups: current.groups.join(", "),
            });
        }
        if !constant_time_eq(call_hash.as_bytes(), current.call_hash.as_bytes()) {
            return Err(Error::HashMismatch(id.to_owned()));
        }
        let status = if approve {
            Status::Approved
        } else {
            Status::Denied
        };
        // The status guard makes the check and the update one step: of two approvers
        // deciding at once, one wins and the other is told it is settled.
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE approvals SET status = ?2, decided_by = ?3, decided_via = ?4, \
                 decided_reason = ?5, decided_at = ?6 \
                 WHERE id = ?1 AND status = 'pending' AND call_hash = ?7 AND expires > ?6",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    id,
                    status.as_str(),
                    approver.name,
                    approver.via,
                    reason,
                    now,
                    current.call_hash,
                ])
            })
            .map_err(self.err())?;
        if changed != 1 {
            let status = self
                .get(id, now)?
                .map_or("gone", |a| a.status.as_str())
                .to_owned();
            return Err(Error::Settled {
                id: id.to_owned(),
                status,
            });
        }
        self.get(id, now)?
            .ok_or_else(|| Error::Unknown(id.to_owned()))
    }

    /// Uses an approval for the call with `call_hash`: true exactly once per approved request.
    pub fn consume(&self, id: &str, call_hash: &str, now: i64) -> Result<bool> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE approvals SET status = 'used', used_at = ?3 \
                 WHERE id = ?1 AND call_hash = ?2 AND status = 'approved'",
            )
            .and_then(|mut stmt| stmt.execute(params![id, call_hash, now]))
            .map_err(self.err())?;
        Ok(changed == 1)
    }

    /// Records that the agent was told the request was denied or expired; true the first
    /// time.
    pub fn mark_delivered(&self, id: &str) -> Result<bool> {
        let changed = self
            .conn()
            .prepare_cached("UPDATE approvals SET delivered = 1 WHERE id = ?1 AND delivered = 0")
            .and_then(|mut stmt| stmt.execute(params![id]))
            .map_err(self.err())?;
        Ok(changed == 1)
    }

    /// Marks pending requests past their expiry as expired; returns them.
    pub fn expire_due(&self, now: i64) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "UPDATE approvals SET status = 'expired', decided_via = 'expiry', \
                 decided_at = expires WHERE status = 'pending' AND expires <= ?1 RETURNING id",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![now], |r| r.get::<_, String>(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())
    }

    /// Ids decided (or expired) at or after `since`, for waking waiters when another process
    /// decided.
    pub fn decided_since(&self, since: i64) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT id FROM approvals WHERE decided_at >= ?1")
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![since], |r| r.get::<_, String>(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())
    }

    /// SQLite's `data_version`: changes when another connection commits.
    pub fn data_version(&self) -> Result<i64> {
        self.conn()
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(self.err())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A stored JSON column (these values always serialize).
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn decode(row: &Row<'_>) -> rusqlite::Result<Result<Approval>> {
    let id: String = row.get(0)?;
    let corrupt = |what: &str| Error::Store {
        path: String::new(),
        message: format!("approval `{id}`: {what} is corrupt"),
    };
    let json = |i: usize| -> rusqlite::Result<Option<Value>> {
        let text: String = row.get(i)?;
        Ok(serde_json::from_str(&text).ok())
    };
    let strings = |v: Option<Value>| -> Option<Vec<String>> { serde_json::from_value(v?).ok() };
    let (Some(arguments), Some(findings)) = (json(7)?, json(12)?) else {
        return Ok(Err(corrupt("arguments or findings")));
    };
    let (Some(policies), Some(groups)) = (strings(json(9)?), strings(json(10)?)) else {
        return Ok(Err(corrupt("policies or groups")));
    };
    let mode = match row.get::<_, String>(14)?.as_str() {
        "async" => Mode::Async,
        _ => Mode::Hold,
    };
    let Some(status) = Status::parse(&row.get::<_, String>(16)?) else {
        return Ok(Err(corrupt("status")));
    };
    Ok(Ok(Approval {
        id: id.clone(),
        created: row.get(1)?,
        expires: row.get(2)?,
        agent: row.get(3)?,
        server: row.get(4)?,
        method: row.get(5)?,
        target: row.get(6)?,
        arguments,
        call_hash: row.get(8)?,
        policies,
        groups,
        reason: row.get(11)?,
        findings,
        session: row.get(13)?,
        mode,
        decision_seq: row.get(15)?,
        status,
        decided_by: row.get(17)?,
        decided_via: row.get(18)?,
        decided_reason: row.get(19)?,
        decided_at: row.get(20)?,
        used_at: row.get(21)?,
        delivered: row.get::<_, i64>(22)? != 0,
    }))
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
