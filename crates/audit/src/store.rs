//! The SQLite layout and the read side.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params};
use warden_types::AuditKind;

use crate::error::sqlite;
use crate::payload::Source;
use crate::{Error, Record, Result};

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY,
    ts        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    body      TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
) STRICT;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
";

/// Read access to an audit file.
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
    path: PathBuf,
    payloads: Source,
}

impl Reader {
    /// Opens an existing audit file read-only.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(sqlite(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite(path))?;
        Ok(Self {
            conn,
            path: path.to_owned(),
            payloads: Source::new(path),
        })
    }

    /// Number of records and the highest sequence number.
    pub fn count(&self) -> Result<(i64, i64)> {
        self.conn
            .query_row(
                "SELECT count(*), coalesce(max(seq), 0) FROM audit",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(sqlite(&self.path))
    }

    /// Calls `f` for every record with `seq >= from`, in sequence order.
    pub fn each(&self, from: i64, mut f: impl FnMut(Record) -> Result<()>) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, ts, kind, body, prev_hash, hash FROM audit WHERE seq >= ?1 ORDER BY seq")
            .map_err(sqlite(&self.path))?;
        let mut rows = stmt.query(params![from]).map_err(sqlite(&self.path))?;
        while let Some(row) = rows.next().map_err(sqlite(&self.path))? {
            f(self.decode(row)?)?;
        }
        Ok(())
    }

    /// Records before `before` (all when `None`), newest first, at most `limit`: only of
    /// `kind` and only naming `agent` (the body's `agent` field) when given. For browsing.
    pub fn newest(
        &self,
        before: Option<i64>,
        kind: Option<AuditKind>,
        agent: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Record>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, ts, kind, body, prev_hash, hash FROM audit \
                 WHERE seq < ?1 AND (?2 IS NULL OR kind = ?2) \
                 AND (?3 IS NULL OR json_extract(body, '$.agent') = ?3) \
                 ORDER BY seq DESC LIMIT ?4",
            )
            .map_err(sqlite(&self.path))?;
        let mut rows = stmt
            .query(params![
                before.unwrap_or(i64::MAX),
                kind.map(AuditKind::as_str),
                agent,
                limit
            ])
            .map_err(sqlite(&self.path))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite(&self.path))? {
            out.push(self.decode(row)?);
        }
        Ok(out)
    }

    /// The last `n` records, oldest first.
    pub fn tail(&self, n: i64) -> Result<Vec<Record>> {
        let (_, max) = self.count()?;
        let mut out = Vec::new();
        self.each(max.saturating_sub(n) + 1, |r| {
            out.push(r);
            Ok(())
        })?;
        Ok(out)
    }
}

impl Reader {
    /// A row as a record, with the large values its body names put back. A value that
    /// cannot be is reported in the record (`problem`), not as an error: one lost value must
    /// not hide every record after it from `tail`, `export` or the console.
    fn decode(&self, row: &rusqlite::Row<'_>) -> Result<Record> {
        let mut record = decode(row).map_err(sqlite(&self.path))??;
        match self.payloads.resolve(&record.body) {
            Ok(None) => {}
            Ok(Some(body)) => record.stored = Some(std::mem::replace(&mut record.body, body)),
            Err(message) => record.problem = Some(message),
        }
        Ok(record)
    }
}

fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Record>> {
    let seq: i64 = row.get(0)?;
    let kind: String = row.get(2)?;
    let prev: Vec<u8> = row.get(4)?;
    let hash: Vec<u8> = row.get(5)?;
    let corrupt = |message: &str| Error::Corrupt {
        seq,
        message: message.to_owned(),
    };
    let Some(kind) = AuditKind::parse(&kind) else {
        return Ok(Err(corrupt("unknown kind")));
    };
    let (Ok(prev_hash), Ok(hash)) = (<[u8; 32]>::try_from(prev), <[u8; 32]>::try_from(hash)) else {
        return Ok(Err(corrupt("hash is not 32 bytes")));
    };
    Ok(Ok(Record {
        seq,
        ts: row.get(1)?,
        kind,
        body: row.get(3)?,
        stored: None,
        problem: None,
        prev_hash,
        hash,
    }))
}
