//! The write side: group commit without a writer thread, acknowledgements after commit.
//!
//! Whoever appends first takes the connection and commits everything queued, in one
//! transaction, then acknowledges each record with its sequence number; records queued while
//! it commits are picked up by it (or by the next one to take the connection) before it lets
//! go. A lone caller therefore commits inline with no thread hand-off, and concurrent callers
//! share commits. Events queued without waiting (`append_detached`) ride along with the next
//! commit, or with the background checkpointer's, within [`TICK`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;
use warden_types::{AuditEvent, now_rfc3339};

use crate::error::sqlite;
use crate::payload::{Prepared, Side};
use crate::store::SCHEMA;
use crate::{Error, GENESIS, Result, chain_hash};

/// Most records committed in one transaction.
const MAX_BATCH: usize = 4096;

/// How often the background thread commits detached events and checkpoints the WAL.
const TICK: Duration = Duration::from_millis(250);

/// Bytes the WAL file is cut back to when it starts over after a burst.
const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// WAL frames (of one page each) past which a checkpoint holds commits back for a moment so
/// that the WAL starts over; see [`Inner::checkpoint`]. 4,096 frames of 4 KiB pages: 16 MiB.
const WAL_RESTART_FRAMES: i64 = 4096;

/// WAL frames past which commits are held back even when the passes do not catch up (64 MiB).
const WAL_HELD_ANYWAY_FRAMES: i64 = 4 * WAL_RESTART_FRAMES;

/// Most checkpoint passes that catch up with new commits before commits are held back.
const CATCH_UP_PASSES: usize = 4;

/// New frames few enough to copy with commits held back.
const HELD_FRAMES: i64 = 256;

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

type Ack = oneshot::Sender<Result<i64>>;

/// A queued event (or, without one, a flush marker) and who waits for it.
struct Job {
    event: Option<Prepared>,
    ack: Option<Ack>,
}

/// The write connection and the side file for large values; holding it is holding the right
/// to commit.
struct Writer {
    conn: Connection,
    side: Side,
    durability: Durability,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Writer>,
    queue: Mutex<Vec<Job>>,
    stop: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    /// Whether appends wait a turn of the runtime before committing (see [`Log::gather`]).
    gather: AtomicBool,
}

/// A handle to the audit log. Cheap to clone.
#[derive(Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("path", &self.inner.path)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Log {
    /// Opens (creating if needed) the audit file and starts the background checkpointer.
    pub fn open(path: &Path, durability: Durability) -> Result<Self> {
        warden_types::file::create_private(path)
            .map_err(|e| Error::Write(format!("cannot create `{}`: {e}", path.display())))?;
        let conn = Connection::open(path).map_err(sqlite(path))?;
        let sync = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        // Checkpoints fsync; the background thread runs them so commits never wait for one.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA wal_autocheckpoint=0; \
             PRAGMA journal_size_limit={WAL_SIZE_LIMIT};"
        ))
        .map_err(sqlite(path))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sqlite(path))?;
        conn.execute_batch(SCHEMA).map_err(sqlite(path))?;
        let inner = Arc::new(Inner {
            path: path.to_owned(),
            conn: Mutex::new(Writer {
                conn,
                side: Side::new(path),
                durability,
            }),
            queue: Mutex::new(Vec::new()),
            stop: Mutex::new(None),
            ticker: Mutex::new(None),
            gather: AtomicBool::new(false),
        });
        let (stop, stopped) = std::sync::mpsc::channel();
        let weak = Arc::downgrade(&inner);
        let ticker = std::thread::Builder::new()
            .name("warden-audit".into())
            .spawn(move || ticker(&weak, &stopped))
            .map_err(|e| Error::Write(format!("cannot start the audit checkpointer: {e}")))?;
        *lock(&inner.stop) = Some(stop);
        *lock(&inner.ticker) = Some(ticker);
        Ok(Self { inner })
    }

    /// The audit file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// For servers with many concurrent callers: an append ([`Log::append`],
    /// [`Log::append_ref`]) lets the other tasks the runtime has ready run before it commits,
    /// so the records they append meanwhile join the same transaction: fewer, larger commits
    /// under load, for one turn of the runtime per append. Without it a caller commits at
    /// once, which suits a lone caller best (`warden mcp`).
    pub fn gather(&self) {
        self.inner.gather.store(true, Ordering::Relaxed);
    }

    fn enqueue(&self, event: Option<Prepared>) -> oneshot::Receiver<Result<i64>> {
        let done = self.queue(event);
        self.inner.drain();
        done
    }

    fn queue(&self, event: Option<Prepared>) -> oneshot::Receiver<Result<i64>> {
        let (ack, done) = oneshot::channel();
        lock(&self.inner.queue).push(Job {
            event,
            ack: Some(ack),
        });
        done
    }

    /// Appends an event and returns its sequence number once it is committed.
    pub async fn append(&self, event: AuditEvent) -> Result<i64> {
        self.append_ref(&event).await
    }

    /// Serializes `event` and queues it before returning (the caller keeps the event: a call's
    /// arguments need not be copied to be recorded); the future resolves with the sequence
    /// number once the record is committed.
    pub fn append_ref(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<i64>> + Send + 'static + use<> {
        let gather = self
            .inner
            .gather
            .load(Ordering::Relaxed)
            .then(|| self.inner.clone());
        let queued = Prepared::new(event).map(|p| match gather {
            Some(_) => self.queue(Some(p)),
            None => self.enqueue(Some(p)),
        });
        async move {
            let done = queued.map_err(Error::Write)?;
            if let Some(inner) = gather {
                // Dropped here, the record is still committed: by the next append's drain
                // or the background thread's, within `TICK`.
                tokio::task::yield_now().await;
                inner.drain();
            }
            done.await.map_err(|_| Error::Closed)?
        }
    }

    /// Blocking form of [`Log::append`].
    pub fn append_blocking(&self, event: AuditEvent) -> Result<i64> {
        self.enqueue(Some(Prepared::new(&event).map_err(Error::Write)?))
            .blocking_recv()
            .map_err(|_| Error::Closed)?
    }

    /// Queues an event without waiting: it is chained and committed in order with the next
    /// commit, at the latest within a quarter second. Use [`Log::flush`] to wait for it.
    pub async fn append_detached(&self, event: AuditEvent) -> Result<()> {
        let event = Prepared::new(&event).map_err(Error::Write)?;
        lock(&self.inner.queue).push(Job {
            event: Some(event),
            ack: None,
        });
        Ok(())
    }

    /// Waits until every event queued before this call is committed.
    pub async fn flush(&self) -> Result<()> {
        self.enqueue(None)
            .await
            .map_err(|_| Error::Closed)?
            .map(drop)
    }

    /// Commits what is queued and stops the background thread (also done on drop of the last
    /// handle).
    pub fn close(&self) {
        self.inner.drain();
        drop(lock(&self.inner.stop).take());
        if let Some(handle) = lock(&self.inner.ticker).take() {
            let _ = handle.join();
        }
    }
}

impl Inner {
    /// Commits queued jobs if nobody else is committing. Whoever releases the connection looks
    /// at the queue again afterwards, so no job is left behind.
    fn drain(&self) {
        loop {
            let Ok(mut conn) = self.conn.try_lock() else {
                return;
            };
            loop {
                let batch: Vec<Job> = {
                    let mut queue = lock(&self.queue);
                    let n = queue.len().min(MAX_BATCH);
                    queue.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
                let outcome = commit(&mut conn, &batch);
                acknowledge(batch, &outcome, &self.path);
            }
            drop(conn);
            if lock(&self.queue).is_empty() {
                return;
            }
        }
    }
}

fn acknowledge(batch: Vec<Job>, outcome: &rusqlite::Result<Vec<i64>>, path: &Path) {
    let mut seqs = outcome.as_ref().map(|s| s.iter().copied()).ok();
    let mut last = 0;
    for job in batch {
        let result = match (&mut seqs, &job.event) {
            (Some(seqs), Some(_)) => seqs
                .next()
                .inspect(|s| last = *s)
                .ok_or_else(|| Error::Write("lost sequence number".into())),
            (Some(_), None) => Ok(last),
            (None, _) => Err(Error::Write(format!(
                "{}: {}",
                path.display(),
                outcome
                    .as_ref()
                    .err()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ))),
        };
        if let Some(ack) = job.ack {
            let _ = ack.send(result);
        }
    }
}

fn ticker(inner: &std::sync::Weak<Inner>, stop: &std::sync::mpsc::Receiver<()>) {
    // Its own connection: a checkpoint does not block commits on the main one.
    let path = match inner.upgrade() {
        Some(inner) => inner.path.clone(),
        None => return,
    };
    let Ok(conn) = Connection::open(&path) else {
        return;
    };
    let _ = conn.busy_timeout(Duration::from_secs(10));
    // The database file, to sync before commits are held back (see [`Inner::checkpoint`]).
    let file = std::fs::File::open(&path).ok();
    let mut payloads = crate::payload::Flusher::new(&path);
    loop {
        let stopping = !matches!(
            stop.recv_timeout(TICK),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        let live = inner.upgrade();
        if let Some(inner) = &live {
            inner.drain();
        }
        // A checkpoint makes records durable against power loss: first the large values they
        // name (committed records wrote theirs before committing). Records committed between
        // this and the checkpoint may still be copied without theirs; `verify` would name them
        // after a power loss, which this durability does not promise to survive.
        payloads.flush();
        match live {
            Some(inner) if !stopping => inner.checkpoint(&conn, file.as_ref()),
            _ => {
                let _ = checkpoint(&conn, "TRUNCATE");
                return;
            }
        }
    }
}

/// `PRAGMA wal_checkpoint(mode)`: the WAL's frames and how many of them are now in the
/// database file.
fn checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

impl Inner {
    /// Copies the WAL into the database file without stopping commits, then, once the WAL has
    /// grown past [`WAL_RESTART_FRAMES`], copies what was committed meanwhile with commits held
    /// back (they queue and are committed right after), so that the next commit starts the WAL
    /// over from its beginning. Without that last step a steady stream of commits always
    /// leaves a few frames behind, the WAL is never restarted and grows without bound (every
    /// commit then also extends the file). Passes without holding commits back go first while
    /// they still find many new frames, so the held step is short; and `file`, the database
    /// file, is synced before it: a checkpoint that copies every frame ends by syncing the
    /// database file, which otherwise carried every page the passes since the last restart had
    /// copied (megabytes; 13-15 ms on the reference VM, each call waiting), where now it
    /// carries only the held pass's few.
    fn checkpoint(&self, on: &Connection, file: Option<&std::fs::File>) {
        // The frame counts are those of the WAL as the checkpoint found it: both are equal
        // even when commits added frames meanwhile, so the size alone decides.
        let Ok((mut frames, copied)) = checkpoint(on, "PASSIVE") else {
            return;
        };
        // Fewer copied than found: a reader still uses older frames, so the WAL cannot start
        // over yet and holding commits back would not help.
        if frames <= WAL_RESTART_FRAMES || copied < frames {
            return;
        }
        let mut added = i64::MAX;
        for _ in 0..CATCH_UP_PASSES {
            let Ok((now, copied)) = checkpoint(on, "PASSIVE") else {
                return;
            };
            if copied < now {
                return;
            }
            added = now - frames;
            frames = now;
            if added <= HELD_FRAMES {
                break;
            }
        }
        // Commits outpace the checkpoint (or another process writes too): try again next tick
        // rather than hold commits back for long, unless the WAL is already past
        // [`WAL_HELD_ANYWAY_FRAMES`]. A writer that keeps pace with the passes never lets them
        // catch up; the held step then copies what one pass found new, which took about one
        // pass to write.
        if added > HELD_FRAMES && frames <= WAL_HELD_ANYWAY_FRAMES {
            return;
        }
        if let Some(file) = file {
            // Best effort, and safe to ignore: the held pass syncs the file again through
            // SQLite's own descriptor, and a write-back error this sync met is reported there
            // too (the kernel reports it to every descriptor open at the time), so SQLite
            // does not let the WAL start over on pages that never reached the disk.
            let _ = file.sync_data();
        }
        {
            let _held = lock(&self.conn);
            let _ = checkpoint(on, "PASSIVE");
        }
        self.drain();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.drain();
        drop(lock(&self.stop).take());
    }
}

/// Appends every event of the batch in one transaction. The chain head is read inside the
/// write transaction, so several processes sharing one file still build a single chain; the
/// transaction's lock also keeps their appends to the side file apart.
fn commit(writer: &mut Writer, batch: &[Job]) -> rusqlite::Result<Vec<i64>> {
    if batch.iter().all(|j| j.event.is_none()) {
        return Ok(Vec::new());
    }
    let Writer {
        conn,
        side,
        durability,
    } = writer;
    // Every statement, BEGIN and COMMIT included, comes from the statement cache: parsing SQL
    // was a sizeable share of a commit's cost.
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    side.begin();
    let appended = append_all(conn, side, batch).and_then(|seqs| {
        // Values the records name are on disk before the records are.
        if *durability == Durability::PowerLoss {
            side.sync()
                .map_err(|e| failure(format!("cannot sync the payload file: {e}")))?;
        }
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(seqs)
    });
    if appended.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    appended
}

/// A failure outside SQLite, as the error a commit reports.
fn failure(message: String) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(message.into())
}

fn append_all(conn: &Connection, side: &mut Side, batch: &[Job]) -> rusqlite::Result<Vec<i64>> {
    let head: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (mut seq, mut prev) = match head {
        Some((seq, hash)) => (seq, <[u8; 32]>::try_from(hash).unwrap_or(GENESIS)),
        None => (0, GENESIS),
    };
    let mut seqs = Vec::with_capacity(batch.len());
    let mut insert = conn.prepare_cached(
        "INSERT INTO audit (seq, ts, kind, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let ts = now_rfc3339();
    for job in batch {
        let Some(event) = &job.event else { continue };
        seq += 1;
        let body = side.store(event).map_err(failure)?;
        let kind = event.kind.as_str();
        let hash = chain_hash(&prev, seq, &ts, kind, &body);
        insert.execute(params![seq, ts, kind, body, prev, hash])?;
        prev = hash;
        seqs.push(seq);
    }
    Ok(seqs)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
pub(crate) mod tests;
