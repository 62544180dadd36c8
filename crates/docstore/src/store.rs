//! The encrypted document file: one SQLite database in which every document is sealed with
//! AES-256-GCM and found by a blind MAC of its id. Nothing in the file (or its WAL) is in
//! clear: not the id, title, text, ACL nor tags. A copy of the file without the key reveals
//! only how many documents there are and roughly how large each is.
//!
//! Keys: the store key is never used directly; sealing, the id MAC and the key check each use
//! their own subkey ([`Key::derive`]). Each record is sealed with a fresh random nonce and its
//! `id_mac` as associated data, so a sealed document cannot be moved to another id's row. The
//! whole set of records is covered by a MAC kept in `meta` (over every record's sequence
//! number, id MAC and sealed bytes, and the change counter), rewritten by every put and remove
//! and checked by every load: a record removed, added, or replayed from an older copy outside
//! Warden makes the load fail. (Replacing the whole file with an older copy of itself is not
//! detectable from inside it.)

use std::cell::Cell;
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::key::random;
use crate::{Document, Error, Key, Result};

/// Version of the file layout this build reads and writes.
pub const FORMAT_VERSION: i64 = 2;

/// Associated data of the key check record.
const KEY_CHECK_AAD: &[u8] = b"warden-docstore key check";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS docs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id_mac BLOB UNIQUE NOT NULL,
    nonce BLOB NOT NULL,
    sealed BLOB NOT NULL
);
";

/// What [`Store::put`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PutReport {
    /// Documents whose id was new.
    pub added: usize,
    /// Documents that replaced one with the same id (keeping its place in the order).
    pub replaced: usize,
}

/// The encrypted document store: one SQLite file.
pub struct Store {
    path: PathBuf,
    conn: Connection,
    seal: LessSafeKey,
    mac: hmac::Key,
    /// The MAC over the whole set of records.
    set: hmac::Key,
    /// `(data_version, change counter)` last read, dropped after our own writes.
    version: Cell<Option<(i64, i64)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store at `path`, creating the file (mode 0600) and its schema when missing.
    /// A store created with another key is [`Error::WrongKey`].
    pub fn open(path: &Path, key: &Key) -> Result<Store> {
        let err = sqlite(path);
        warden_types::file::create_private(path).map_err(|e| io(path, &e))?;
        let mut conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(&err)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(&err)?;
        let seal = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key.derive("seal"))
                .map_err(|_| Error::Crypto("the sealing key was rejected".to_owned()))?,
        );
        let check = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key.derive("key-check"))
                .map_err(|_| Error::Crypto("the key check key was rejected".to_owned()))?,
        );
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        tx.execute_batch(SCHEMA).map_err(&err)?;
        let format: Option<i64> = tx
            .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(&err)?;
        match format {
            None => {
                let nonce = random::<NONCE_LEN>()?;
                let sealed = seal_with(&check, nonce, KEY_CHECK_AAD, &random::<32>()?)?;
                let mut record = nonce.to_vec();
                record.extend_from_slice(&sealed);
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES ('format', ?1), ('key_check', ?2), \
                     ('changes', 0)",
                    params![FORMAT_VERSION, record],
                )
                .map_err(&err)?;
                let set = hmac::Key::new(hmac::HMAC_SHA256, &key.derive("set-mac"));
                let digest = set_digest(&tx, &set).map_err(&err)?;
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES ('set_mac', ?1)",
                    params![digest.as_slice()],
                )
                .map_err(&err)?;
            }
            Some(FORMAT_VERSION) => {}
            Some(found) => {
                return Err(Error::Format {
                    path: path.display().to_string(),
                    found,
                    expected: FORMAT_VERSION,
                });
            }
        }
        let record: Vec<u8> = tx
            .query_row("SELECT value FROM meta WHERE name = 'key_check'", [], |r| {
                r.get(0)
            })
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        let (nonce, sealed) = record.split_at_checked(NONCE_LEN).ok_or(Error::WrongKey)?;
        open_with(&check, nonce, KEY_CHECK_AAD, sealed).ok_or(Error::WrongKey)?;
        Ok(Store {
            path: path.to_owned(),
            conn,
            seal,
            mac: hmac::Key::new(hmac::HMAC_SHA256, &key.derive("id-mac")),
            set: hmac::Key::new(hmac::HMAC_SHA256, &key.derive("set-mac")),
            version: Cell::new(None),
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `docs` in one transaction. A document whose id is already stored replaces it and
    /// keeps its sequence number (its place in the order). Documents without an id or ACL are
    /// refused before anything is written.
    pub fn put(&mut self, docs: &[Document]) -> Result<PutReport> {
        for doc in docs {
            crate::document::check(doc).map_err(|message| Error::Invalid {
                id: doc.id.clone(),
                message,
            })?;
        }
        let mut report = PutReport::default();
        if docs.is_empty() {
            return Ok(report);
        }
        let err = sqlite(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        verify_set(&tx, &self.set, &err)?;
        {
            let mut exists = tx
                .prepare_cached("SELECT 1 FROM docs WHERE id_mac = ?1")
                .map_err(&err)?;
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO docs (id_mac, nonce, sealed) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (id_mac) DO UPDATE SET nonce = excluded.nonce, \
                     sealed = excluded.sealed",
                )
                .map_err(&err)?;
            for doc in docs {
                let id_mac = hmac::sign(&self.mac, doc.id.as_bytes());
                let id_mac = id_mac.as_ref();
                let plain = serde_json::to_vec(doc)
                    .map_err(|e| Error::Crypto(format!("cannot encode a document: {e}")))?;
                let nonce = random::<NONCE_LEN>()?;
                let sealed = seal_with(&self.seal, nonce, id_mac, &plain)?;
                if exists.exists(params![id_mac]).map_err(&err)? {
                    report.replaced += 1;
                } else {
                    report.added += 1;
                }
                upsert
                    .execute(params![id_mac, nonce.as_slice(), sealed])
                    .map_err(&err)?;
            }
        }
        bump(&tx).map_err(&err)?;
        reseal_set(&tx, &self.set).map_err(&err)?;
        tx.commit().map_err(&err)?;
        self.version.set(None);
        Ok(report)
    }

    /// Removes the document `id`; whether it was there.
    pub fn remove(&mut self, id: &str) -> Result<bool> {
        let err = sqlite(&self.path);
        let id_mac = hmac::sign(&self.mac, id.as_bytes());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        verify_set(&tx, &self.set, &err)?;
        let removed = tx
            .execute(
                "DELETE FROM docs WHERE id_mac = ?1",
                params![id_mac.as_ref()],
            )
            .map_err(&err)?
            > 0;
        if removed {
            bump(&tx).map_err(&err)?;
            reseal_set(&tx, &self.set).map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        self.version.set(None);
        Ok(removed)
    }

    /// Every document with its sequence number, in sequence order. A record that does not
    /// open (modified, damaged, or moved to another id) is [`Error::Tampered`]: it is never
    /// skipped.
    pub fn load(&self) -> Result<Vec<(i64, Document)>> {
        let err = sqlite(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, id_mac, nonce, sealed FROM docs ORDER BY seq")
            .map_err(&err)?;
        let tx = self.conn.unchecked_transaction().map_err(&err)?;
        let mut rows = stmt.query([]).map_err(&err)?;
        let mut out = Vec::new();
        let mut set = hmac::Context::with_key(&self.set);
        while let Some(row) = rows.next().map_err(&err)? {
            let seq: i64 = row.get(0).map_err(&err)?;
            let tampered = || Error::Tampered { seq };
            let id_mac: Vec<u8> = row.get(1).map_err(|_| tampered())?;
            let nonce: Vec<u8> = row.get(2).map_err(|_| tampered())?;
            let mut sealed: Vec<u8> = row.get(3).map_err(|_| tampered())?;
            set_element(&mut set, seq, &id_mac, &nonce, &sealed);
            let plain =
                open_in_place(&self.seal, &nonce, &id_mac, &mut sealed).ok_or_else(tampered)?;
            let doc: Document = serde_json::from_slice(plain).map_err(|_| tampered())?;
            hmac::verify(&self.mac, doc.id.as_bytes(), &id_mac).map_err(|_| tampered())?;
            out.push((seq, doc));
        }
        drop(rows);
        let counter: i64 = tx
            .query_row("SELECT value FROM meta WHERE name = 'changes'", [], |r| {
                r.get(0)
            })
            .map_err(&err)?;
        let stored: Vec<u8> = tx
            .query_row("SELECT value FROM meta WHERE name = 'set_mac'", [], |r| {
                r.get(0)
            })
            .map_err(&err)?;
        set.update(&counter.to_be_bytes());
        let digest = set.sign();
        if !constant_eq(digest.as_ref(), &stored) {
            return Err(Error::Incomplete);
        }
        Ok(out)
    }

    /// Number of stored documents.
    pub fn count(&self) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM docs", [], |r| r.get(0))
            .map_err(sqlite(&self.path))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// A number that changes whenever any process changes the documents: the change counter
    /// kept in the file (raised by every put and remove), re-read only when SQLite's
    /// `data_version` says another connection committed (or after our own writes). Compare it
    /// with the value an index was built at to know whether to rebuild.
    pub fn version(&self) -> Result<i64> {
        let err = sqlite(&self.path);
        let data_version: i64 = self
            .conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(&err)?;
        if let Some((seen, counter)) = self.version.get()
            && seen == data_version
        {
            return Ok(counter);
        }
        let counter: i64 = self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE name = 'changes'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(&err)?;
        self.version.set(Some((data_version, counter)));
        Ok(counter)
    }
}

/// One record's part of the set MAC.
fn set_element(ctx: &mut hmac::Context, seq: i64, id_mac: &[u8], nonce: &[u8], sealed: &[u8]) {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(nonce);
    h.update(sealed);
    ctx.update(&seq.to_be_bytes());
    ctx.update(&(id_mac.len() as u64).to_be_bytes());
    ctx.update(id_mac);
    ctx.update(&h.finalize());
}

/// The MAC over every record and the change counter, as they are in `tx`.
fn set_digest(tx: &rusqlite::Transaction<'_>, key: &hmac::Key) -> rusqlite::Result<Vec<u8>> {
    let mut ctx = hmac::Context::with_key(key);
    let mut stmt = tx.prepare_cached("SELECT seq, id_mac, nonce, sealed FROM docs ORDER BY seq")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (seq, id_mac, nonce, sealed): (i64, Vec<u8>, Vec<u8>, Vec<u8>) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        set_element(&mut ctx, seq, &id_mac, &nonce, &sealed);
    }
    let counter: i64 = tx.query_row("SELECT value FROM meta WHERE name = 'changes'", [], |r| {
        r.get(0)
    })?;
    ctx.update(&counter.to_be_bytes());
    Ok(ctx.sign().as_ref().to_vec())
}

/// Refuses to change a store whose records are not the ones it last wrote (a write would
/// otherwise vouch for them).
fn verify_set(
    tx: &rusqlite::Transaction<'_>,
    key: &hmac::Key,
    err: &impl Fn(rusqlite::Error) -> Error,
) -> Result<()> {
    let digest = set_digest(tx, key).map_err(err)?;
    let stored: Vec<u8> = tx
        .query_row("SELECT value FROM meta WHERE name = 'set_mac'", [], |r| {
            r.get(0)
        })
        .map_err(err)?;
    if constant_eq(&digest, &stored) {
        Ok(())
    } else {
        Err(Error::Incomplete)
    }
}

/// Rewrites the set MAC after a change (inside the caller's transaction).
fn reseal_set(tx: &rusqlite::Transaction<'_>, key: &hmac::Key) -> rusqlite::Result<()> {
    let digest = set_digest(tx, key)?;
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'set_mac'",
        params![digest.as_slice()],
    )
    .map(|_| ())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Raises the change counter (inside the caller's transaction).
fn bump(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE meta SET value = value + 1 WHERE name = 'changes'",
        [],
    )
    .map(|_| ())
}

/// Creates `path` with mode 0600 when it does not exist (SQLite gives its WAL and shared
/// memory files the same mode).
fn seal_with(
    key: &LessSafeKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>> {
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| Error::Crypto("sealing failed".to_owned()))?;
    Ok(buf)
}

fn open_with(key: &LessSafeKey, nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let mut buf = sealed.to_vec();
    open_in_place(key, nonce, aad, &mut buf).map(|p| p.to_vec())
}

fn open_in_place<'a>(
    key: &LessSafeKey,
    nonce: &[u8],
    aad: &[u8],
    buf: &'a mut [u8],
) -> Option<&'a mut [u8]> {
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    key.open_in_place(nonce, Aad::from(aad), buf).ok()
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

fn io(path: &Path, e: &std::io::Error) -> Error {
    Error::Store {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}
