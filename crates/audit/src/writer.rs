//! The write side: one thread, group commit, acknowledgements after commit.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};
use warden_types::{AuditEvent, now_rfc3339};

use crate::error::sqlite;
use crate::store::SCHEMA;
use crate::{Error, GENESIS, Result, chain_hash};

/// Most records committed in one transaction.
const MAX_BATCH: usize = 4096;

/// How far an acknowledged record is guaranteed to survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Committed to the WAL before acknowledgement: survives the process being killed
    /// (SIGKILL, crash), not a power loss or kernel crash. SQLite `synchronous=NORMAL`.
    #[default]
    ProcessCrash,
    /// Also fsynced before acknowledgement: survives power loss. SQLite `synchronous=FULL`.
    PowerLoss,
}

enum Job {
    Append {
        event: AuditEvent,
        ack: Option<oneshot::Sender<Result<i64>>>,
    },
    Flush(oneshot::Sender<()>),
}

/// A handle to the audit writer. Cheap to clone; the writer stops when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Log {
    tx: mpsc::Sender<Job>,
    path: PathBuf,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl Log {
    /// Opens (creating if needed) the audit file and starts the writer thread.
    pub fn open(path: &Path, durability: Durability) -> Result<(Self, JoinHandle<()>)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Write(format!("cannot create `{}`: {e}", dir.display())))?;
        }
        let conn = Connection::open(path).map_err(sqlite(path))?;
        let sync = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync};"
        ))
        .map_err(sqlite(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sqlite(path))?;
        conn.execute_batch(SCHEMA).map_err(sqlite(path))?;
        let (tx, rx) = mpsc::channel(16 * 1024);
        let owned = path.to_owned();
        let handle = std::thread::Builder::new()
            .name("warden-audit".into())
            .spawn(move || run(conn, rx, &owned))
            .map_err(|e| Error::Write(format!("cannot start the audit writer: {e}")))?;
        Ok((
            Self {
                tx,
                path: path.to_owned(),
            },
            handle,
        ))
    }

    /// The audit file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an event and waits until it is committed; returns its sequence number.
    pub async fn append(&self, event: AuditEvent) -> Result<i64> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Job::Append {
                event,
                ack: Some(ack),
            })
            .await
            .map_err(|_| Error::Closed)?;
        done.await.map_err(|_| Error::Closed)?
    }

    /// Queues an event without waiting. It is chained and committed in order with the rest;
    /// use [`Log::flush`] to wait for everything queued so far.
    pub async fn append_detached(&self, event: AuditEvent) -> Result<()> {
        self.tx
            .send(Job::Append { event, ack: None })
            .await
            .map_err(|_| Error::Closed)
    }

    /// Blocking form of [`Log::append`], for code outside an async runtime.
    pub fn append_blocking(&self, event: AuditEvent) -> Result<i64> {
        let (ack, done) = oneshot::channel();
        self.tx
            .blocking_send(Job::Append {
                event,
                ack: Some(ack),
            })
            .map_err(|_| Error::Closed)?;
        done.blocking_recv().map_err(|_| Error::Closed)?
    }

    /// Waits until every event queued before this call is committed.
    pub async fn flush(&self) -> Result<()> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Job::Flush(ack))
            .await
            .map_err(|_| Error::Closed)?;
        done.await.map_err(|_| Error::Closed)
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, path: &Path) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let appends = batch
            .iter()
            .filter(|j| matches!(j, Job::Append { .. }))
            .count();
        let outcome = if appends == 0 {
            Ok(Vec::new())
        } else {
            commit(&mut conn, &batch)
        };
        let mut seqs = match &outcome {
            Ok(seqs) => seqs.clone().into_iter(),
            Err(_) => Vec::new().into_iter(),
        };
        for job in batch.drain(..) {
            match job {
                Job::Append { ack, .. } => {
                    let result = match &outcome {
                        Ok(_) => seqs
                            .next()
                            .ok_or_else(|| Error::Write("lost sequence number".into())),
                        Err(e) => Err(Error::Write(format!("{}: {e}", path.display()))),
                    };
                    if let Some(ack) = ack {
                        let _ = ack.send(result);
                    }
                }
                Job::Flush(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }
}

/// Appends every event of the batch in one transaction. The chain head is read inside the
/// write transaction, so several processes sharing one file still build a single chain.
fn commit(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let head: Option<(i64, Vec<u8>)> = tx
        .query_row(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (mut seq, mut prev) = match head {
        Some((seq, hash)) => (seq, <[u8; 32]>::try_from(hash).unwrap_or(GENESIS)),
        None => (0, GENESIS),
    };
    let mut seqs = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit (seq, ts, kind, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let ts = now_rfc3339();
        for job in batch {
            let Job::Append { event, .. } = job else {
                continue;
            };
            seq += 1;
            let body = event.body.to_string();
            let kind = event.kind.as_str();
            let hash = chain_hash(&prev, seq, &ts, kind, &body);
            insert.execute(params![seq, ts, kind, body, prev, hash])?;
            prev = hash;
            seqs.push(seq);
        }
    }
    tx.commit()?;
    Ok(seqs)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
