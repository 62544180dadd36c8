//! The state file: agents, issued tokens, signing keys and sealed upstream credentials.
//!
//! One SQLite file (WAL) shared by the gateway and the CLI. The gateway reads through a cache
//! that is dropped whenever anyone commits (the WAL index header changes, see
//! [`Store::refresh`]), so `warden agent suspend` or `warden token revoke` from a shell takes
//! effect on the next call.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::Value;

use crate::crypto::MasterKey;
use crate::error::sqlite;
use crate::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agents (
    id         TEXT PRIMARY KEY,
    uid        TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
    created    INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS tokens (
    jti       TEXT PRIMARY KEY,
    agent     TEXT NOT NULL,
    agent_uid TEXT NOT NULL,
    parent    TEXT,
    actors    TEXT NOT NULL,
    scopes    TEXT NOT NULL,
    audience  TEXT NOT NULL,
    issued    INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    revoked   INTEGER
) STRICT;
CREATE INDEX IF NOT EXISTS tokens_agent ON tokens (agent);
CREATE TABLE IF NOT EXISTS signing_keys (
    kid     TEXT PRIMARY KEY,
    sealed  BLOB NOT NULL,
    public  BLOB NOT NULL,
    created INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS approvers (
    name     TEXT PRIMARY KEY,
    groups_  TEXT NOT NULL,
    password BLOB NOT NULL,
    created  INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS secrets (
    name    TEXT PRIMARY KEY,
    sealed  BLOB NOT NULL,
    updated INTEGER NOT NULL
) STRICT;
";

/// Whether an agent may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Tokens work.
    Active,
    /// Every call is refused until resumed.
    Suspended,
}

impl Status {
    /// The stored name (`active`, `suspended`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }
}

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agent {
    /// The name policies see (`Agent::"<id>"`).
    pub id: String,
    /// Unique per creation: a token names it, so removing an agent and adding one of the same
    /// name does not revive old tokens.
    pub uid: String,
    /// Attributes for policy (team, owner, environment, ...).
    pub attributes: BTreeMap<String, Value>,
    /// Active or suspended.
    pub status: Status,
    /// Creation time, Unix seconds.
    pub created: i64,
}

/// One issued token as the registry keeps it (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    /// The token's `jti`.
    pub jti: String,
    /// The agent whose authority it carries.
    pub agent: String,
    /// That agent's `uid` at issuance.
    #[serde(skip)]
    pub agent_uid: String,
    /// The token it was exchanged from.
    pub parent: Option<String>,
    /// Delegated actors, outermost last (empty for a token the agent holds itself).
    pub actors: Vec<String>,
    /// Scopes, as text.
    pub scopes: String,
    /// Audience.
    pub audience: String,
    /// Issue time, Unix seconds.
    pub issued: i64,
    /// Expiry, Unix seconds.
    pub expires: i64,
    /// Revocation time, if revoked.
    pub revoked: Option<i64>,
}

/// The signing key in use, opened.
#[derive(Debug)]
pub(crate) struct SigningKey {
    pub kid: String,
    pub pkcs8: Vec<u8>,
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// What the last look at the file found: its WAL index header, or SQLite's
    /// `data_version` when the header could not be read.
    seen: Option<Seen>,
    agents: HashMap<String, Option<Agent>>,
    tokens: HashMap<String, Option<TokenRecord>>,
    pub verify_keys: HashMap<String, Arc<jsonwebtoken::DecodingKey>>,
    /// Tokens whose signature already verified, with their claims: a token's claims never
    /// change, so its signature is checked once (registry checks still run every time).
    pub checked: HashMap<String, crate::token::Claims>,
}

/// A state of the file, to tell whether anyone committed since.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Header([u8; WAL_INDEX_HEADER]),
    DataVersion(i64),
}

/// Bytes of the WAL index header (<https://sqlite.org/walformat.html>, "The WAL-Index
/// Header"): the format version (3007000), a counter every commit increments, the
/// initialized flag, the last committed frame, the salts of the WAL and a checksum of them.
const WAL_INDEX_HEADER: usize = 48;

/// The WAL index format version, the header's first four bytes.
const WAL_INDEX_VERSION: u32 = 3_007_000;

/// The identity state store.
#[derive(Debug)]
pub struct Store {
    pub(crate) path: PathBuf,
    conn: Mutex<Connection>,
    /// The WAL index (`<state file>-shm`), opened on first use; `None` if it cannot be.
    pub(crate) shm: OnceLock<Option<File>>,
    pub(crate) master: MasterKey,
    pub(crate) cache: Mutex<Cache>,
    /// The `iss` of tokens this store issues.
    pub issuer: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Agent names and server names: 1-64 of letters, digits, `_`, `-`, `.`, starting with a
/// letter or digit.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Store {
    /// Opens (creating if needed) the state file. `issuer` is the `iss` of issued tokens.
    pub fn open(path: &Path, master: MasterKey, issuer: impl Into<String>) -> Result<Self> {
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
        Ok(Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            shm: OnceLock::new(),
            master,
            cache: Mutex::new(Cache::default()),
            issuer: issuer.into(),
        })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    pub(crate) fn cache(&self) -> MutexGuard<'_, Cache> {
        lock(&self.cache)
    }

    pub(crate) fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        sqlite(&self.path)
    }

    /// Every row of a query.
    pub(crate) fn all<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(sql).map_err(self.err())?;
        let rows = stmt.query_map(params, row).map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())
    }

    /// Drops cached rows if any process committed since the last look.
    ///
    /// Every commit rewrites the WAL index header, which SQLite keeps in a file beside the
    /// database (`-shm`, shared memory of every connection): reading it is one `pread`,
    /// where `PRAGMA data_version` takes a read transaction (file locks, a `stat` and a
    /// statement; about a twentieth of a gateway call on a VM with slow system calls). A
    /// header read while a commit writes it differs from both states around it, so at worst
    /// the cache is dropped once more. When the header cannot be read, or does not look like
    /// one, SQLite's `data_version` is asked instead.
    pub(crate) fn refresh(&self) -> Result<()> {
        let seen = match self.wal_index_header() {
            Some(header) => Seen::Header(header),
            None => Seen::DataVersion(
                self.conn()
                    .prepare_cached("PRAGMA data_version")
                    .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
                    .map_err(self.err())?,
            ),
        };
        let mut cache = self.cache();
        if cache.seen.as_ref() != Some(&seen) {
            cache.seen = Some(seen);
            cache.agents.clear();
            cache.tokens.clear();
            // Keys may have been rotated out: signatures are checked again (once per token).
            cache.verify_keys.clear();
            cache.checked.clear();
        }
        Ok(())
    }

    /// The WAL index header, if it can be read and is one (its version, and initialized).
    fn wal_index_header(&self) -> Option<[u8; WAL_INDEX_HEADER]> {
        let file = self
            .shm
            .get_or_init(|| {
                let mut name = self.path.clone().into_os_string();
                name.push("-shm");
                File::open(name).ok()
            })
            .as_ref()?;
        let mut header = [0u8; WAL_INDEX_HEADER];
        file.read_exact_at(&mut header, 0).ok()?;
        let version = header.first_chunk::<4>().map(|v| u32::from_ne_bytes(*v));
        let initialized = header.get(12) == Some(&1);
        (version == Some(WAL_INDEX_VERSION) && initialized).then_some(header)
    }

    /// Forgets cached rows after a write of our own (`data_version`, asked when the WAL index
    /// cannot be read, only sees other connections' commits).
    fn invalidate(&self) {
        let mut cache = self.cache();
        cache.agents.clear();
        cache.tokens.clear();
    }

    // ---- agents ----

    /// Registers an agent.
    pub fn add_agent(
        &self,
        id: &str,
        attributes: BTreeMap<String, Value>,
        now: i64,
    ) -> Result<Agent> {
        if !valid_name(id) {
            return Err(Error::Invalid(format!(
                "invalid agent name `{id}`: use 1-64 letters, digits, `_`, `-` or `.`, starting with a letter or digit"
            )));
        }
        let uid = hex::encode(crate::crypto::random::<12>()?);
        let attrs =
            serde_json::to_string(&attributes).map_err(|e| Error::Invalid(e.to_string()))?;
        let inserted = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO agents (id, uid, attributes, status, created) VALUES (?1, ?2, ?3, 'active', ?4)",
                params![id, uid, attrs, now],
            )
            .map_err(self.err())?;
        if inserted == 0 {
            return Err(Error::AgentExists(id.to_owned()));
        }
        self.invalidate();
        Ok(Agent {
            id: id.to_owned(),
            uid,
            attributes,
            status: Status::Active,
            created: now,
        })
    }

    /// Every agent, by name.
    pub fn agents(&self) -> Result<Vec<Agent>> {
        self.all(
            "SELECT id, uid, attributes, status, created FROM agents ORDER BY id",
            [],
            agent_row,
        )
    }

    /// One agent (cached; the cache follows other processes' commits).
    pub fn agent(&self, id: &str) -> Result<Option<Agent>> {
        if let Some(hit) = self.cache().agents.get(id) {
            return Ok(hit.clone());
        }
        let agent = self
            .conn()
            .query_row(
                "SELECT id, uid, attributes, status, created FROM agents WHERE id = ?1",
                [id],
                agent_row,
            )
            .optional()
            .map_err(self.err())?;
        self.cache().agents.insert(id.to_owned(), agent.clone());
        Ok(agent)
    }

    /// Suspends or resumes an agent.
    pub fn set_status(&self, id: &str, status: Status) -> Result<()> {
        let n = self
            .conn()
            .execute(
                "UPDATE agents SET status = ?2 WHERE id = ?1",
                params![id, status.as_str()],
            )
            .map_err(self.err())?;
        self.invalidate();
        if n == 0 {
            return Err(Error::UnknownAgent(id.to_owned()));
        }
        Ok(())
    }

    /// Removes an agent and revokes its tokens (their records stay, for the audit trail).
    pub fn remove_agent(&self, id: &str, now: i64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err())?;
        let n = tx
            .execute("DELETE FROM agents WHERE id = ?1", [id])
            .map_err(self.err())?;
        tx.execute(
            "UPDATE tokens SET revoked = ?2 WHERE agent = ?1 AND revoked IS NULL",
            params![id, now],
        )
        .map_err(self.err())?;
        tx.commit().map_err(self.err())?;
        drop(conn);
        self.invalidate();
        if n == 0 {
            return Err(Error::UnknownAgent(id.to_owned()));
        }
        Ok(())
    }

    // ---- tokens ----

    pub(crate) fn insert_token(&self, record: &TokenRecord) -> Result<()> {
        let actors =
            serde_json::to_string(&record.actors).map_err(|e| Error::Invalid(e.to_string()))?;
        self.conn()
            .execute(
                "INSERT INTO tokens (jti, agent, agent_uid, parent, actors, scopes, audience, issued, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    record.jti,
                    record.agent,
                    record.agent_uid,
                    record.parent,
                    actors,
                    record.scopes,
                    record.audience,
                    record.issued,
                    record.expires
                ],
            )
            .map_err(self.err())?;
        self.invalidate();
        Ok(())
    }

    /// One token record (cached).
    pub fn token(&self, jti: &str) -> Result<Option<TokenRecord>> {
        if let Some(hit) = self.cache().tokens.get(jti) {
            return Ok(hit.clone());
        }
        let record = self
            .conn()
            .query_row(
                "SELECT jti, agent, agent_uid, parent, actors, scopes, audience, issued, expires, revoked
                 FROM tokens WHERE jti = ?1",
                [jti],
                token_row,
            )
            .optional()
            .map_err(self.err())?;
        self.cache().tokens.insert(jti.to_owned(), record.clone());
        Ok(record)
    }

    /// Token records, newest first; of one agent when given; expired ones only with `all`.
    pub fn tokens(&self, agent: Option<&str>, all: bool, now: i64) -> Result<Vec<TokenRecord>> {
        self.all(
            "SELECT jti, agent, agent_uid, parent, actors, scopes, audience, issued, expires, revoked
             FROM tokens WHERE (?1 IS NULL OR agent = ?1) AND (?2 OR expires > ?3)
             ORDER BY issued DESC, jti",
            params![agent, all, now],
            token_row,
        )
    }

    /// Revokes a token and, through the parent links checked at verification, every token
    /// exchanged from it.
    pub fn revoke(&self, jti: &str, now: i64) -> Result<()> {
        let n = self
            .conn()
            .execute(
                "UPDATE tokens SET revoked = coalesce(revoked, ?2) WHERE jti = ?1",
                params![jti, now],
            )
            .map_err(self.err())?;
        self.invalidate();
        if n == 0 {
            return Err(Error::Invalid(format!("no token with id `{jti}`")));
        }
        Ok(())
    }

    // ---- signing keys ----

    /// The signing key, created on first use.
    pub(crate) fn signing_key(&self) -> Result<SigningKey> {
        if let Some(key) = self.newest_key()? {
            return Ok(key);
        }
        let (kid, pkcs8, public) = crate::token::generate_key()?;
        let sealed = self.master.seal(&format!("signing-key:{kid}"), &pkcs8)?;
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO signing_keys (kid, sealed, public, created) VALUES (?1, ?2, ?3, ?4)",
                params![kid, sealed, public, crate::now()],
            )
            .map_err(self.err())?;
        // Two processes may race to create the first key: whichever row is newest wins for
        // both, and both keys verify.
        self.newest_key()?
            .ok_or_else(|| Error::Crypto("the signing key could not be stored".to_owned()))
    }

    fn newest_key(&self) -> Result<Option<SigningKey>> {
        let row: Option<(String, Vec<u8>)> = self
            .conn()
            .query_row(
                "SELECT kid, sealed FROM signing_keys ORDER BY created DESC, rowid DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        row.map(|(kid, sealed)| {
            let pkcs8 = self.master.open(&format!("signing-key:{kid}"), &sealed)?;
            Ok(SigningKey { kid, pkcs8 })
        })
        .transpose()
    }

    /// Starts signing with a new key. Earlier keys keep verifying the tokens they signed;
    /// a key replaced longer ago than the longest token lifetime signs nothing still valid and
    /// is deleted. Returns the new key id.
    pub fn rotate_key(&self, now: i64) -> Result<String> {
        let (kid, pkcs8, public) = crate::token::generate_key()?;
        let sealed = self.master.seal(&format!("signing-key:{kid}"), &pkcs8)?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO signing_keys (kid, sealed, public, created) VALUES (?1, ?2, ?3, ?4)",
            params![kid, sealed, public, now],
        )
        .map_err(self.err())?;
        conn.execute(
            "DELETE FROM signing_keys WHERE EXISTS (
                 SELECT 1 FROM signing_keys AS newer
                 WHERE newer.rowid > signing_keys.rowid AND newer.created <= ?1)",
            [now - crate::token::MAX_TTL_SECS],
        )
        .map_err(self.err())?;
        drop(conn);
        let mut cache = self.cache();
        cache.verify_keys.clear();
        cache.checked.clear();
        Ok(kid)
    }

    /// Public keys by key id.
    pub(crate) fn public_keys(&self) -> Result<Vec<(String, Vec<u8>)>> {
        self.all(
            "SELECT kid, public FROM signing_keys ORDER BY created, rowid",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    // ---- secrets ----

    /// Stores (or replaces) an upstream credential, sealed with the master key.
    pub fn set_secret(&self, name: &str, value: &str, now: i64) -> Result<()> {
        if !valid_name(name) {
            return Err(Error::Invalid(format!(
                "invalid secret name `{name}`: use letters, digits, `_`, `-` or `.`"
            )));
        }
        let sealed = self
            .master
            .seal(&format!("secret:{name}"), value.as_bytes())?;
        self.conn()
            .execute(
                "INSERT INTO secrets (name, sealed, updated) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, updated = excluded.updated",
                params![name, sealed, now],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Opens a stored credential.
    pub fn secret(&self, name: &str) -> Result<String> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT sealed FROM secrets WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err())?;
        let sealed = sealed.ok_or_else(|| Error::UnknownSecret(name.to_owned()))?;
        let plain = self.master.open(&format!("secret:{name}"), &sealed)?;
        String::from_utf8(plain).map_err(|_| Error::Crypto(format!("secret `{name}` is not UTF-8")))
    }

    /// Names of stored credentials with their update times.
    pub fn secrets(&self) -> Result<Vec<(String, i64)>> {
        self.all("SELECT name, updated FROM secrets ORDER BY name", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }

    /// Deletes a stored credential.
    pub fn remove_secret(&self, name: &str) -> Result<()> {
        let n = self
            .conn()
            .execute("DELETE FROM secrets WHERE name = ?1", [name])
            .map_err(self.err())?;
        if n == 0 {
            return Err(Error::UnknownSecret(name.to_owned()));
        }
        Ok(())
    }
}

fn agent_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Agent> {
    let attrs: String = r.get(2)?;
    let status: String = r.get(3)?;
    Ok(Agent {
        id: r.get(0)?,
        uid: r.get(1)?,
        attributes: serde_json::from_str(&attrs).unwrap_or_default(),
        status: if status == "active" {
            Status::Active
        } else {
            Status::Suspended
        },
        created: r.get(4)?,
    })
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    let actors: String = r.get(4)?;
    Ok(TokenRecord {
        jti: r.get(0)?,
        agent: r.get(1)?,
        agent_uid: r.get(2)?,
        parent: r.get(3)?,
        actors: serde_json::from_str(&actors).unwrap_or_default(),
        scopes: r.get(5)?,
        audience: r.get(6)?,
        issued: r.get(7)?,
        expires: r.get(8)?,
        revoked: r.get(9)?,
    })
}
