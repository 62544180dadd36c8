//! Running agents' SQL: rewritten by `warden-sqlguard`, then run read-only on SQLite or
//! PostgreSQL with a time limit and a row cap.
//!
//! The rewrite is the rule; the database is set up so that a mistake in it still cannot read
//! or change anything else. SQLite: a read-only connection with `query_only`, no attached
//! databases, no extension loading, and an authorizer that allows reading only the governed
//! tables and calling only ordinary functions. PostgreSQL: a `READ ONLY` transaction with a
//! statement timeout, a fixed `search_path`, and (when configured) per-transaction settings
//! from the caller's attributes for the database's own row-level security policies.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warden_sqlguard::{Dialect, Guard, Rewritten, TableRule, TableShape};

/// `[data.sql.<name>]`: one database agents may query.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSettings {
    /// A SQLite file.
    pub sqlite: Option<PathBuf>,
    /// A PostgreSQL connection string (`host=... user=... dbname=...` or a URL). TLS follows
    /// its `sslmode` (`prefer` by default, `require` to insist; the server's certificate is
    /// verified against the system's roots and `ca_file`).
    pub postgres: Option<String>,
    /// PostgreSQL: a PEM file of root certificates the server's certificate may chain to,
    /// besides the system's.
    pub ca_file: Option<PathBuf>,
    /// The tables agents may read, with their row filters and masks; no other table is
    /// visible.
    #[serde(default)]
    pub tables: Vec<TableRule>,
    /// PostgreSQL: settings made for each query's transaction (`set_config(name, value,
    /// true)`), for the database's own row-level security: name -> `principal.<attribute>`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Longest a query may run (default 5000 ms).
    pub timeout_ms: Option<u64>,
    /// Most rows returned (default 500); more is reported as `truncated`.
    pub max_rows: Option<usize>,
}

/// Why a query did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The rewriter refused it (or the caller lacks an attribute).
    #[error(transparent)]
    Refused(#[from] warden_sqlguard::Error),
    /// The database refused or failed it.
    #[error("the database refused the query: {0}")]
    Database(String),
}

/// A query's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each a list of JSON values (blobs as `base64:...`).
    pub rows: Vec<Vec<Value>>,
    /// More rows existed than `max_rows`.
    pub truncated: bool,
}

/// One configured database.
pub struct SqlDb {
    /// Its name in configuration.
    pub name: String,
    guard: Guard,
    backend: Backend,
    timeout: Duration,
    max_rows: usize,
    settings: BTreeMap<String, String>,
}

impl std::fmt::Debug for SqlDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlDb").field("name", &self.name).finish()
    }
}

enum Backend {
    Sqlite(Arc<SqlitePool>),
    Postgres(Arc<PgPool>),
}

impl SqlDb {
    /// Connects, reads the database's tables and compiles the rules against them.
    pub async fn open(name: &str, s: &SqlSettings) -> anyhow::Result<Self> {
        let (backend, dialect, shapes) = match (&s.sqlite, &s.postgres) {
            (Some(path), None) => {
                if !s.settings.is_empty() {
                    anyhow::bail!(
                        "[data.sql.{name}] settings are for PostgreSQL's row-level security; SQLite has none"
                    );
                }
                let mut pool = SqlitePool::open(path.clone())?;
                let shapes = pool.shapes()?;
                pool.writable = Arc::new(
                    s.tables
                        .iter()
                        .filter(|t| t.write)
                        .map(|t| t.table.to_ascii_lowercase())
                        .collect(),
                );
                pool.unreadable = Arc::new(
                    shapes
                        .iter()
                        .map(|t| t.name.to_ascii_lowercase())
                        .filter(|n| !s.tables.iter().any(|r| r.table.eq_ignore_ascii_case(n)))
                        .collect(),
                );
                (Backend::Sqlite(Arc::new(pool)), Dialect::Sqlite, shapes)
            }
            (None, Some(conn)) => {
                let pool = PgPool::new(conn.clone(), s.ca_file.as_deref())
                    .map_err(|e| anyhow::anyhow!("[data.sql.{name}] {e}"))?;
                let shapes = pool.shapes().await?;
                (Backend::Postgres(Arc::new(pool)), Dialect::Postgres, shapes)
            }
            _ => anyhow::bail!("[data.sql.{name}] needs exactly one of `sqlite` and `postgres`"),
        };
        for (setting, value) in &s.settings {
            if !value.starts_with("principal.") || setting.is_empty() {
                anyhow::bail!(
                    "[data.sql.{name}] settings.{setting} = `{value}`: the value names an agent attribute, `principal.<name>`"
                );
            }
        }
        let guard = Guard::new(dialect, &shapes, &s.tables)
            .map_err(|e| anyhow::anyhow!("[data.sql.{name}] {e}"))?;
        Ok(Self {
            name: name.to_owned(),
            guard,
            backend,
            timeout: Duration::from_millis(s.timeout_ms.unwrap_or(5000)),
            max_rows: s.max_rows.unwrap_or(500),
            settings: s.settings.clone(),
        })
    }

    /// The rules, for schema discovery and for the record.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Rewrites `sql` for `principal` and runs it.
    pub async fn query(
        &self,
        sql: &str,
        principal: &Value,
        params: &[Value],
    ) -> Result<(Rewritten, Rows), QueryError> {
        let rewritten = self.guard.rewrite(sql, principal, params)?;
        let rows = self.run(&rewritten.sql, principal).await?;
        Ok((rewritten, rows))
    }

    /// Rewrites one `INSERT`, `UPDATE` or `DELETE` for `principal` and runs it; the number of
    /// rows it changed.
    pub async fn execute(
        &self,
        sql: &str,
        principal: &Value,
        params: &[Value],
    ) -> Result<(Rewritten, u64), QueryError> {
        let rewritten = self.guard.rewrite_write(sql, principal, params)?;
        let changed = self.write(&rewritten.sql, principal).await?;
        Ok((rewritten, changed))
    }

    /// Runs a write that is already rewritten; the number of rows it changed.
    pub async fn write(&self, sql: &str, principal: &Value) -> Result<u64, QueryError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                let (pool, sql) = (pool.clone(), sql.to_owned());
                let timeout = self.timeout;
                tokio::task::spawn_blocking(move || pool.write(&sql, timeout))
                    .await
                    .map_err(|e| QueryError::Database(e.to_string()))?
            }
            Backend::Postgres(pool) => {
                let settings = self.settings_for(principal)?;
                pool.write(sql, &settings, self.timeout).await
            }
        }
    }

    fn settings_for(&self, principal: &Value) -> Result<Vec<(String, String)>, QueryError> {
        let mut settings = Vec::with_capacity(self.settings.len());
        for (name, path) in &self.settings {
            settings.push((name.clone(), setting_value(path, principal)?));
        }
        Ok(settings)
    }

    /// Runs SQL that is already rewritten (the benchmark's baseline runs unrewritten SQL
    /// through here too).
    pub async fn run(&self, sql: &str, principal: &Value) -> Result<Rows, QueryError> {
        match &self.backend {
            Backend::Sqlite(pool) => {
                let (pool, sql) = (pool.clone(), sql.to_owned());
                let (timeout, max_rows) = (self.timeout, self.max_rows);
                tokio::task::spawn_blocking(move || pool.run(&sql, timeout, max_rows))
                    .await
                    .map_err(|e| QueryError::Database(e.to_string()))?
            }
            Backend::Postgres(pool) => {
                let settings = self.settings_for(principal)?;
                pool.run(sql, &settings, self.timeout, self.max_rows).await
            }
        }
    }
}

/// The text of `principal.<path>` for a PostgreSQL setting (a list joins with commas).
fn setting_value(path: &str, principal: &Value) -> Result<String, QueryError> {
    let mut at = principal;
    for key in path.trim_start_matches("principal.").split('.') {
        at = at.get(key).unwrap_or(&Value::Null);
    }
    let text = match at {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(","),
        _ => {
            return Err(QueryError::Refused(warden_sqlguard::Error::Principal(
                format!(
                    "the database's row-level security needs the agent's attribute `{}`, which this agent does not have",
                    path.trim_start_matches("principal.")
                ),
            )));
        }
    };
    Ok(text)
}

/// Functions SQLite's own machinery may call beyond the rewriter's list: none that reads
/// files or loads code.
const SQLITE_DENIED_FUNCTIONS: &[&str] = &[
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "sqlite_compileoption_get",
    "sqlite_compileoption_used",
    "sqlite_offset",
];

/// Read-only SQLite connections, reused.
struct SqlitePool {
    path: PathBuf,
    /// Tables and views that are not governed (and SQLite's catalog): the authorizer refuses
    /// reading them, whatever the rewriter let through.
    unreadable: Arc<HashSet<String>>,
    /// Tables configured with `write = true`: the only ones a write connection may change.
    writable: Arc<HashSet<String>>,
    idle: Mutex<Vec<Connection>>,
}

impl SqlitePool {
    fn open(path: PathBuf) -> anyhow::Result<Self> {
        if !path.exists() {
            anyhow::bail!("SQLite database `{}` does not exist", path.display());
        }
        Ok(Self {
            path,
            unreadable: Arc::new(HashSet::new()),
            writable: Arc::new(HashSet::new()),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// A read-only connection (`query_only`), or with `write` a read-write one whose
    /// authorizer lets it change only the writable tables; both without attached databases,
    /// untrusted schema functions or huge values.
    fn connect(&self, write: bool) -> rusqlite::Result<Connection> {
        let mode = if write {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        } else {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        };
        let mut conn =
            Connection::open_with_flags(&self.path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        if !write {
            conn.pragma_update(None, "query_only", true)?;
        }
        conn.pragma_update(None, "trusted_schema", false)?;
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)?;
        conn.set_limit(
            rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH,
            16 * 1024 * 1024,
        )?;
        let unreadable = self.unreadable.clone();
        let writable = write.then(|| self.writable.clone());
        conn.authorizer(Some(move |ctx: AuthContext<'_>| {
            authorize(&unreadable, writable.as_deref(), &ctx)
        }))?;
        Ok(conn)
    }

    /// One write, on a connection of its own.
    fn write(&self, sql: &str, timeout: Duration) -> Result<u64, QueryError> {
        let db = |e: rusqlite::Error| QueryError::Database(e.to_string());
        let mut conn = self.connect(true).map_err(db)?;
        conn.busy_timeout(timeout).map_err(db)?;
        let deadline = Instant::now() + timeout;
        conn.progress_handler(10_000, Some(move || Instant::now() > deadline))
            .map_err(db)?;
        let changed = conn.execute(sql, []).map_err(db)?;
        Ok(changed as u64)
    }

    fn shapes(&self) -> anyhow::Result<Vec<TableShape>> {
        let conn = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut names = conn.prepare(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let names: Vec<String> = names
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut shapes = Vec::with_capacity(names.len());
        for name in names {
            let mut cols = conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
            let columns = cols
                .query_map([&name], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            shapes.push(TableShape { name, columns });
        }
        Ok(shapes)
    }

    fn run(&self, sql: &str, timeout: Duration, max_rows: usize) -> Result<Rows, QueryError> {
        let db = |e: rusqlite::Error| QueryError::Database(e.to_string());
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut conn = match idle {
            Some(c) => c,
            None => self.connect(false).map_err(db)?,
        };
        let deadline = Instant::now() + timeout;
        conn.progress_handler(10_000, Some(move || Instant::now() > deadline))
            .map_err(db)?;
        let result = (|| {
            let mut stmt = conn.prepare(sql).map_err(db)?;
            let columns: Vec<String> = stmt.column_names().map(str::to_owned).collect();
            let mut rows = Vec::new();
            let mut truncated = false;
            let mut cursor = stmt.query([]).map_err(db)?;
            while let Some(row) = cursor.next().map_err(db)? {
                if rows.len() == max_rows {
                    truncated = true;
                    break;
                }
                let mut out = Vec::with_capacity(columns.len());
                for i in 0..columns.len() {
                    out.push(sqlite_value(row.get_ref(i).map_err(db)?));
                }
                rows.push(out);
            }
            Ok(Rows {
                columns,
                rows,
                truncated,
            })
        })();
        let _ = conn.progress_handler(0, None::<fn() -> bool>);
        let result = result.map_err(|e| match e {
            QueryError::Database(m) if m.contains("interrupted") => QueryError::Database(format!(
                "the query ran longer than {} ms and was stopped",
                timeout.as_millis()
            )),
            other => other,
        });
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 8
        {
            idle.push(conn);
        }
        result
    }
}

/// SQLite's authorizer: selecting, reading anything but the ungoverned tables and the catalog,
/// ordinary functions and recursive CTEs, and on a write connection changing the writable
/// tables; nothing else (no PRAGMA, ATTACH, other writes, schema changes).
fn authorize(
    unreadable: &HashSet<String>,
    writable: Option<&HashSet<String>>,
    ctx: &AuthContext<'_>,
) -> Authorization {
    let may_write = |table: &str| writable.is_some_and(|w| w.contains(&table.to_ascii_lowercase()));
    match ctx.action {
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. }
            if may_write(table_name) =>
        {
            Authorization::Allow
        }
        AuthAction::Select | AuthAction::Recursive => Authorization::Allow,
        AuthAction::Read { table_name, .. } => {
            let name = table_name.to_ascii_lowercase();
            if unreadable.contains(&name) || name.starts_with("sqlite_") {
                Authorization::Deny
            } else {
                Authorization::Allow
            }
        }
        AuthAction::Function { function_name } => {
            if SQLITE_DENIED_FUNCTIONS.contains(&function_name.to_ascii_lowercase().as_str()) {
                Authorization::Deny
            } else {
                Authorization::Allow
            }
        }
        _ => Authorization::Deny,
    }
}

fn sqlite_value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::String(format!(
            "base64:{}",
            base64::engine::general_purpose::STANDARD.encode(b)
        )),
    }
}

/// PostgreSQL connections, reused.
struct PgPool {
    conn: String,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    idle: tokio::sync::Mutex<Vec<tokio_postgres::Client>>,
}

impl PgPool {
    fn new(conn: String, ca_file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(path) = ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| anyhow::anyhow!("ca_file `{}`: {e}", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("ca_file `{}` holds no certificate", path.display());
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("ca_file `{}`: {e}", path.display()))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            conn,
            tls: tokio_postgres_rustls::MakeRustlsConnect::new(config),
            idle: tokio::sync::Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, QueryError> {
        let (client, connection) = tokio_postgres::connect(&self.conn, self.tls.clone())
            .await
            .map_err(|e| QueryError::Database(format!("cannot connect: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("PostgreSQL connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// An idle connection that is still open, or a new one.
    async fn checkout(&self) -> Result<tokio_postgres::Client, QueryError> {
        let idle = self.idle.lock().await.pop();
        match idle {
            Some(c) if !c.is_closed() => Ok(c),
            _ => self.connect().await,
        }
    }

    /// Keeps a connection for the next query (up to eight).
    async fn checkin(&self, client: tokio_postgres::Client) {
        if !client.is_closed() {
            let mut idle = self.idle.lock().await;
            if idle.len() < 8 {
                idle.push(client);
            }
        }
    }

    async fn shapes(&self) -> anyhow::Result<Vec<TableShape>> {
        let client = self.connect().await?;
        let rows = client
            .query(
                "SELECT c.relname::text, a.attname::text FROM pg_class c \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', 'f') \
                 ORDER BY c.relname, a.attnum",
                &[],
            )
            .await?;
        let mut shapes: Vec<TableShape> = Vec::new();
        for row in rows {
            let (table, column): (String, String) = (row.get(0), row.get(1));
            match shapes.last_mut() {
                Some(s) if s.name == table => s.columns.push(column),
                _ => shapes.push(TableShape {
                    name: table,
                    columns: vec![column],
                }),
            }
        }
        self.checkin(client).await;
        Ok(shapes)
    }

    async fn run(
        &self,
        sql: &str,
        settings: &[(String, String)],
        timeout: Duration,
        max_rows: usize,
    ) -> Result<Rows, QueryError> {
        let mut client = self.checkout().await?;
        let result = pg_query(&mut client, sql, settings, timeout, max_rows).await;
        self.checkin(client).await;
        result
    }
}

impl PgPool {
    async fn write(
        &self,
        sql: &str,
        settings: &[(String, String)],
        timeout: Duration,
    ) -> Result<u64, QueryError> {
        let mut client = self.checkout().await?;
        let result = pg_write(&mut client, sql, settings, timeout).await;
        self.checkin(client).await;
        result
    }
}

fn pg_error(e: tokio_postgres::Error) -> QueryError {
    let text = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |d| d.message().to_owned());
    QueryError::Database(text)
}

/// The settings every query's transaction makes, then the configured ones.
async fn pg_settings(
    tx: &tokio_postgres::Transaction<'_>,
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<(), QueryError> {
    let fixed = [
        ("statement_timeout", format!("{}ms", timeout.as_millis())),
        ("search_path", "pg_catalog, pg_temp".to_owned()),
        ("standard_conforming_strings", "on".to_owned()),
    ];
    for (name, value) in fixed
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .chain(settings.iter().cloned())
    {
        tx.execute("SELECT set_config($1, $2, true)", &[&name, &value])
            .await
            .map_err(pg_error)?;
    }
    Ok(())
}

async fn pg_write(
    client: &mut tokio_postgres::Client,
    sql: &str,
    settings: &[(String, String)],
    timeout: Duration,
) -> Result<u64, QueryError> {
    let tx = client.transaction().await.map_err(pg_error)?;
    pg_settings(&tx, settings, timeout).await?;
    let changed = tx.execute(sql, &[]).await.map_err(pg_error)?;
    tx.commit().await.map_err(pg_error)?;
    Ok(changed)
}

async fn pg_query(
    client: &mut tokio_postgres::Client,
    sql: &str,
    settings: &[(String, String)],
    timeout: Duration,
    max_rows: usize,
) -> Result<Rows, QueryError> {
    use tokio_postgres::types::Type;
    let db = pg_error;
    let tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .await
        .map_err(db)?;
    pg_settings(&tx, settings, timeout).await?;
    let stmt = tx.prepare(sql).await.map_err(db)?;
    let columns: Vec<(String, Type)> = stmt
        .columns()
        .iter()
        .map(|c| (c.name().to_owned(), c.type_().clone()))
        .collect();
    tx.batch_execute(&format!("DECLARE warden_rows NO SCROLL CURSOR FOR {sql}"))
        .await
        .map_err(db)?;
    let messages = tx
        .simple_query(&format!("FETCH {} FROM warden_rows", max_rows + 1))
        .await
        .map_err(db)?;
    let mut rows = Vec::new();
    let mut truncated = false;
    for m in messages {
        if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
            if rows.len() == max_rows {
                truncated = true;
                break;
            }
            let mut out = Vec::with_capacity(columns.len());
            for (i, (_, ty)) in columns.iter().enumerate() {
                out.push(pg_value(row.get(i), ty));
            }
            rows.push(out);
        }
    }
    tx.rollback().await.map_err(db)?;
    Ok(Rows {
        columns: columns.into_iter().map(|(n, _)| n).collect(),
        rows,
        truncated,
    })
}

fn pg_value(text: Option<&str>, ty: &tokio_postgres::types::Type) -> Value {
    use tokio_postgres::types::Type;
    let Some(text) = text else {
        return Value::Null;
    };
    let parsed = match *ty {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            text.parse::<i64>().ok().map(Value::from)
        }
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::from),
        Type::BOOL => Some(Value::Bool(text == "t")),
        Type::JSON | Type::JSONB => serde_json::from_str(text).ok(),
        _ => None,
    };
    parsed.unwrap_or_else(|| Value::String(text.to_owned()))
}
