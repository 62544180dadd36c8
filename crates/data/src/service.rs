//! What `warden data-server` does with a call: the caller from `_meta`, the SQL tools, the
//! document search and reads, and an audit record of each before its answer leaves.
#![expect(
    clippy::indexing_slicing,
    reason = "indexing a serde_json::Value by key yields Null, it never panics"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use warden_audit::{Durability, Log};
use warden_docstore::{Index, Key, SearchQuery, Store};
use warden_types::{AuditEvent, AuditKind};

use crate::sql::{QueryError, SqlDb, SqlSettings};

/// The `_meta` key Warden's proxy states the caller under (and removes from clients).
pub const PRINCIPAL_META: &str = "dev.warden/principal";

/// The URI scheme of documents (`doc:///<id>`, the id percent-encoded).
pub const DOC_SCHEME: &str = "doc:///";

/// Everything the server needs, handed over by the Warden process that starts it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// Databases by name.
    #[serde(default)]
    pub sql: BTreeMap<String, SqlSettings>,
    /// The document store.
    pub docs: Option<DocsSettings>,
    /// The audit log every query and search is recorded in.
    pub audit: Option<AuditSettings>,
}

/// The document store as the server opens it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocsSettings {
    /// The encrypted store file.
    pub path: PathBuf,
    /// Its key (hex or base64 of 32 bytes).
    pub key: String,
    /// The ACL entries a caller reads as: templates over its attributes, for example
    /// `user:{principal.user}` (a list attribute gives one entry per item; a missing one gives
    /// none).
    pub readers: Vec<String>,
}

/// Where records go.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// The log file.
    pub path: PathBuf,
    /// What an acknowledged record survives.
    pub durability: Durability,
}

/// The default reader templates.
pub fn default_readers() -> Vec<String> {
    [
        "agent:{principal.id}",
        "user:{principal.user}",
        "group:{principal.groups}",
        "public",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

struct Docs {
    store: Mutex<Store>,
    key: Key,
    readers: Vec<String>,
    /// The index and the store version it was built from.
    index: Mutex<(i64, Arc<Index>)>,
}

/// The open databases and store.
pub struct Service {
    sql: BTreeMap<String, SqlDb>,
    docs: Option<Docs>,
    log: Option<Log>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("sql", &self.sql.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A tool's answer.
fn result(text: String, structured: Value, is_error: bool) -> Value {
    json!({"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": is_error})
}

fn failure(text: impl Into<String>) -> Value {
    let text = text.into();
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}

impl Service {
    /// Opens every database and the store (a problem with any is an error: the server does
    /// not start half-configured).
    pub async fn open(settings: &ServiceSettings) -> anyhow::Result<Self> {
        let mut sql = BTreeMap::new();
        for (name, s) in &settings.sql {
            sql.insert(name.clone(), SqlDb::open(name, s).await?);
        }
        let docs = match &settings.docs {
            None => None,
            Some(d) => {
                check_readers(&d.readers).map_err(|e| anyhow::anyhow!("[data.docs] {e}"))?;
                let key =
                    Key::parse(&d.key).map_err(|e| anyhow::anyhow!("[data.docs] key: {e}"))?;
                let store = Store::open(&d.path, &key)
                    .map_err(|e| anyhow::anyhow!("[data.docs] {}: {e}", d.path.display()))?;
                let docs = Docs {
                    store: Mutex::new(store),
                    key,
                    readers: d.readers.clone(),
                    index: Mutex::new((
                        i64::MIN,
                        Arc::new(Index::build(Vec::new(), u64::MAX, [0; 32])),
                    )),
                };
                docs.current()?;
                Some(docs)
            }
        };
        let log = settings
            .audit
            .as_ref()
            .map(|a| Log::open(&a.path, a.durability))
            .transpose()?;
        Ok(Self { sql, docs, log })
    }

    /// The tools this server offers.
    pub fn tools(&self) -> Vec<Value> {
        let mut tools = Vec::new();
        if !self.sql.is_empty() {
            let names: Vec<&String> = self.sql.keys().collect();
            let database = json!({"type": "string", "enum": names, "description": "which database (needed when there are several)"});
            tools.push(json!({
                "name": "sql.query",
                "description": "Run one read-only SQL SELECT. Only the rows and columns you may see exist for you: every table is filtered for you, some columns are masked. Use sql.schema to see the tables.",
                "inputSchema": {"type": "object", "properties": {
                    "sql": {"type": "string", "description": "one SELECT statement"},
                    "params": {"type": "array", "description": "values for the placeholders ($1, $2, ...; SQLite also takes ?)"},
                    "database": database
                }, "required": ["sql"]},
                "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}
            }));
            let writable: Vec<&String> = self
                .sql
                .iter()
                .filter(|(_, db)| db.guard().writable())
                .map(|(name, _)| name)
                .collect();
            if !writable.is_empty() {
                tools.push(json!({
                    "name": "sql.execute",
                    "description": "Run one INSERT, UPDATE or DELETE on a table that takes writes (see sql.schema). It reaches only rows you may see: UPDATE and DELETE are limited to them, INSERT must stay inside them. Returns the number of rows changed.",
                    "inputSchema": {"type": "object", "properties": {
                        "sql": {"type": "string", "description": "one INSERT INTO t (columns) VALUES (...), UPDATE or DELETE"},
                        "params": {"type": "array", "description": "values for the placeholders ($1, $2, ...; SQLite also takes ?)"},
                        "database": {"type": "string", "enum": writable, "description": "which database (needed when there are several)"}
                    }, "required": ["sql"]},
                    "annotations": {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": false, "openWorldHint": false}
                }));
            }
            tools.push(json!({
                "name": "sql.schema",
                "description": "List the tables you may query, their columns (masked ones marked) and whether their rows are filtered for you.",
                "inputSchema": {"type": "object", "properties": {"database": database}},
                "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}
            }));
        }
        if self.docs.is_some() {
            tools.push(json!({
                "name": "docs.search",
                "description": "Search the documents you may read (all words must occur; an empty query lists every document you may read). Results come in pages: pass next_cursor back as cursor for the next one. Read a whole document with resources/read on its uri.",
                "inputSchema": {"type": "object", "properties": {
                    "query": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
                    "cursor": {"type": "string"},
                    "tags": {"type": "object", "additionalProperties": {"type": "string"}, "description": "metadata every result must have"}
                }},
                "annotations": {"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}
            }));
        }
        tools
    }

    /// Whether documents are served (resources).
    pub fn has_docs(&self) -> bool {
        self.docs.is_some()
    }

    async fn record(&self, body: Value) -> Result<(), String> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        log.append(AuditEvent::new(AuditKind::Outcome, body))
            .await
            .map(|_| ())
            .map_err(|e| format!("the audit log is unavailable, so nothing is returned: {e}"))
    }

    /// Answers a `tools/call`.
    pub async fn call(&self, name: &str, args: &Value, meta: &Value) -> Value {
        let Some(principal) = principal(meta) else {
            return failure(
                "this server answers only through Warden: the call does not say who the caller is",
            );
        };
        match name {
            "sql.query" => self.sql_query(args, &principal).await,
            "sql.execute" => self.sql_execute(args, &principal).await,
            "sql.schema" => self.sql_schema(args),
            "docs.search" => self.docs_search(args, &principal).await,
            other => failure(format!("unknown tool `{other}`")),
        }
    }

    fn database(&self, args: &Value) -> Result<&SqlDb, String> {
        match args["database"].as_str() {
            Some(name) => self
                .sql
                .get(name)
                .ok_or_else(|| format!("no database `{name}`")),
            None if self.sql.len() == 1 => self
                .sql
                .values()
                .next()
                .ok_or_else(|| "no database".to_owned()),
            None => Err(format!(
                "name the database: one of {}",
                self.sql.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// The database, SQL and parameters a `sql.query` or `sql.execute` call names.
    fn sql_args<'a>(&self, args: &'a Value) -> Result<(&SqlDb, &'a str, Vec<Value>), Value> {
        let db = self.database(args).map_err(failure)?;
        let sql = args["sql"]
            .as_str()
            .ok_or_else(|| failure("`sql` (a string) is required"))?;
        let params = match &args["params"] {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            _ => return Err(failure("`params` must be an array")),
        };
        Ok((db, sql, params))
    }

    async fn sql_query(&self, args: &Value, principal: &Value) -> Value {
        let (db, sql, params) = match self.sql_args(args) {
            Ok(parts) => parts,
            Err(answer) => return answer,
        };
        let outcome = db.query(sql, principal, &params).await;
        let mut body = json!({
            "event": "data_query",
            "agent": principal["id"],
            "database": db.name,
            "sql": sql,
        });
        let answer = match &outcome {
            Ok((rewritten, rows)) => {
                body["rewritten"] = json!(rewritten.sql);
                body["filters"] = json!(rewritten.applied);
                body["rows"] = json!(rows.rows.len());
                body["truncated"] = json!(rows.truncated);
                let text = render_rows(&rows.columns, &rows.rows, rows.truncated);
                result(
                    text,
                    json!({"columns": rows.columns, "rows": rows.rows, "row_count": rows.rows.len(), "truncated": rows.truncated}),
                    false,
                )
            }
            Err(e) => {
                body["refused"] = json!(e.to_string());
                body["by"] = json!(match e {
                    QueryError::Refused(_) => "rewriter",
                    QueryError::Database(_) => "database",
                });
                failure(e.to_string())
            }
        };
        if let Err(e) = self.record(body).await {
            return failure(e);
        }
        answer
    }

    async fn sql_execute(&self, args: &Value, principal: &Value) -> Value {
        let (db, sql, params) = match self.sql_args(args) {
            Ok(parts) => parts,
            Err(answer) => return answer,
        };
        let mut body = json!({
            "event": "data_write",
            "agent": principal["id"],
            "database": db.name,
            "sql": sql,
        });
        // The write is recorded, with what it became, before it runs; its outcome after.
        let rewritten = match db.guard().rewrite_write(sql, principal, &params) {
            Ok(r) => r,
            Err(e) => {
                body["refused"] = json!(e.to_string());
                body["by"] = json!("rewriter");
                if let Err(e) = self.record(body).await {
                    return failure(e);
                }
                return failure(e.to_string());
            }
        };
        body["rewritten"] = json!(rewritten.sql);
        body["filters"] = json!(rewritten.applied);
        if let Err(e) = self.record(body).await {
            return failure(e);
        }
        let outcome = db.write(&rewritten.sql, principal).await;
        let (done, answer) = match outcome {
            Ok(changed) => (
                json!({"changed": changed}),
                result(
                    format!(
                        "{changed} row{} changed",
                        if changed == 1 { "" } else { "s" }
                    ),
                    json!({"changed": changed}),
                    false,
                ),
            ),
            Err(e) => (
                json!({"refused": e.to_string(), "by": "database"}),
                failure(e.to_string()),
            ),
        };
        let mut record =
            json!({"event": "data_write_done", "agent": principal["id"], "database": db.name});
        if let (Some(r), Some(d)) = (record.as_object_mut(), done.as_object()) {
            r.extend(d.clone());
        }
        if let Err(e) = self.record(record).await {
            tracing::error!("{e}");
        }
        answer
    }

    fn sql_schema(&self, args: &Value) -> Value {
        let db = match self.database(args) {
            Ok(db) => db,
            Err(e) => return failure(e),
        };
        let tables: Vec<Value> = db
            .guard()
            .describe()
            .into_iter()
            .map(|t| {
                json!({
                    "table": t.table,
                    "columns": t.columns.iter().map(|(c, masked)| json!({"name": c, "masked": masked})).collect::<Vec<_>>(),
                    "rows_filtered": t.filtered,
                })
            })
            .collect();
        let mut text = format!("database `{}`:\n", db.name);
        for t in &tables {
            let cols: Vec<String> = t["columns"]
                .as_array()
                .map(|cs| {
                    cs.iter()
                        .map(|c| {
                            let name = c["name"].as_str().unwrap_or_default();
                            if c["masked"] == true {
                                format!("{name} (masked)")
                            } else {
                                name.to_owned()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            text.push_str(&format!(
                "- {}({}){}\n",
                t["table"].as_str().unwrap_or_default(),
                cols.join(", "),
                if t["rows_filtered"] == true {
                    ": rows filtered for you"
                } else {
                    ""
                }
            ));
        }
        result(text, json!({"database": db.name, "tables": tables}), false)
    }

    async fn docs_search(&self, args: &Value, principal: &Value) -> Value {
        let Some(docs) = &self.docs else {
            return failure("no document store is configured");
        };
        let text = args["query"].as_str().unwrap_or_default();
        let limit = args["limit"].as_u64().map_or(10, |n| n.clamp(1, 100)) as usize;
        let cursor = args["cursor"].as_str();
        let mut tags = BTreeMap::new();
        if let Some(obj) = args["tags"].as_object() {
            for (k, v) in obj {
                let Some(v) = v.as_str() else {
                    return failure("`tags` values must be strings");
                };
                tags.insert(k.clone(), v.to_owned());
            }
        }
        let readers = readers(&docs.readers, principal);
        let index = match docs.current() {
            Ok(index) => index,
            Err(e) => return failure(format!("the document store cannot be read: {e}")),
        };
        let page = index.search(&SearchQuery {
            text,
            readers: &readers,
            limit,
            cursor,
            tags: &tags,
        });
        let mut body = json!({
            "event": "data_search",
            "agent": principal["id"],
            "query": text,
            "readers": readers,
            "tags": tags,
            "cursor": cursor.is_some(),
        });
        let answer = match page {
            Ok(page) => {
                body["results"] = json!(page.hits.len());
                body["total"] = json!(page.total);
                let hits: Vec<Value> = page
                    .hits
                    .iter()
                    .map(|h| {
                        json!({"id": h.id, "uri": doc_uri(&h.id), "title": h.title, "snippet": h.snippet, "tags": h.tags, "score": h.score})
                    })
                    .collect();
                let mut text = format!(
                    "{} of {} matching documents{}\n",
                    hits.len(),
                    page.total,
                    if page.next_cursor.is_some() {
                        " (more: pass next_cursor as cursor)"
                    } else {
                        ""
                    }
                );
                for h in &hits {
                    text.push_str(&format!(
                        "- {} ({}): {}\n",
                        h["title"].as_str().unwrap_or_default(),
                        h["uri"].as_str().unwrap_or_default(),
                        h["snippet"].as_str().unwrap_or_default()
                    ));
                }
                result(
                    text,
                    json!({"results": hits, "total": page.total, "next_cursor": page.next_cursor}),
                    false,
                )
            }
            Err(e) => {
                body["refused"] = json!(e.to_string());
                failure(e.to_string())
            }
        };
        if let Err(e) = self.record(body).await {
            return failure(e);
        }
        answer
    }

    /// Answers a `resources/read` of `doc:///<id>`: the document when the caller may read it,
    /// otherwise the same "not found" a missing one gets. `Err` is a JSON-RPC error message.
    pub async fn read(&self, uri: &str, meta: &Value) -> Result<Value, String> {
        let Some(docs) = &self.docs else {
            return Err(format!("resource not found: {uri}"));
        };
        let Some(principal) = principal(meta) else {
            return Err("this server answers only through Warden: the request does not say who the caller is".to_owned());
        };
        // Only the canonical spelling names a document, so a policy or an audit search on the
        // URI sees the same string the document is read by.
        let Some(id) = uri
            .strip_prefix(DOC_SCHEME)
            .and_then(percent_decode)
            .filter(|id| !id.is_empty() && doc_uri(id) == uri)
        else {
            return Err(format!("resource not found: {uri}"));
        };
        let readers = readers(&docs.readers, &principal);
        let index = docs
            .current()
            .map_err(|e| format!("the document store cannot be read: {e}"))?;
        let doc = index.get(&id, &readers);
        self.record(json!({
            "event": "data_read",
            "agent": principal["id"],
            "uri": uri,
            "id": id,
            "readers": readers,
            "allowed": doc.is_some(),
        }))
        .await?;
        let doc = doc.ok_or_else(|| format!("resource not found: {uri}"))?;
        Ok(json!({"contents": [{
            "uri": uri,
            "mimeType": "text/plain",
            "text": format!("{}\n\n{}", doc.title, doc.text),
            "_meta": {"tags": doc.tags}
        }]}))
    }
}

impl Docs {
    /// The index of the store as it is now (rebuilt when another process, such as `warden
    /// ingest`, changed it).
    fn current(&self) -> anyhow::Result<Arc<Index>> {
        let store = self
            .store
            .lock()
            .map_err(|_| anyhow::anyhow!("store lock poisoned"))?;
        let version = store.version()?;
        let mut index = self
            .index
            .lock()
            .map_err(|_| anyhow::anyhow!("index lock poisoned"))?;
        if index.0 != version {
            let docs = store.load()?;
            // The generation is the store's own change counter: a cursor stays good across
            // restarts and processes while the documents are the same, and goes stale (a clear
            // error) as soon as they change.
            let generation = u64::try_from(version).unwrap_or(u64::MAX);
            *index = (
                version,
                Arc::new(Index::build(docs, generation, self.key.cursor_key())),
            );
        }
        Ok(index.1.clone())
    }
}

/// The caller Warden stated: its attributes, `id` and `delegation`, as one object for filters
/// and templates.
fn principal(meta: &Value) -> Option<Value> {
    let p = meta.get(PRINCIPAL_META)?;
    let id = p["id"].as_str()?;
    let mut out = p["attributes"].as_object().cloned().unwrap_or_default();
    out.insert("id".to_owned(), json!(id));
    out.insert("delegation".to_owned(), p["delegation"].clone());
    Some(Value::Object(out))
}

/// Checks reader templates: each has at most one `{principal.<path>}` placeholder, and no
/// other braces.
pub fn check_readers(templates: &[String]) -> Result<(), String> {
    for t in templates {
        let opens = t.matches('{').count();
        let closes = t.matches('}').count();
        let ok = match (opens, closes) {
            (0, 0) => !t.is_empty(),
            (1, 1) => t
                .find("{principal.")
                .zip(t.find('}'))
                .is_some_and(|(open, close)| close > open + "{principal.".len()),
            _ => false,
        };
        if !ok {
            return Err(format!(
                "reader `{t}`: an entry holds at most one `{{principal.<attribute>}}`"
            ));
        }
    }
    Ok(())
}

/// The ACL entries a caller reads as.
pub fn readers(templates: &[String], principal: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in templates {
        let (Some(open), Some(close)) = (t.find("{principal."), t.find('}')) else {
            out.insert(t.clone());
            continue;
        };
        let (Some(prefix), Some(path), Some(suffix)) = (
            t.get(..open),
            t.get(open + "{principal.".len()..close),
            t.get(close + 1..),
        ) else {
            continue;
        };
        let mut at = principal;
        for key in path.split('.') {
            at = at.get(key).unwrap_or(&Value::Null);
        }
        let values: Vec<String> = match at {
            Value::Array(items) => items.iter().filter_map(scalar).collect(),
            other => scalar(other).into_iter().collect(),
        };
        for v in values {
            out.insert(format!("{prefix}{v}{suffix}"));
        }
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `doc:///<id>` with the id percent-encoded.
pub fn doc_uri(id: &str) -> String {
    let mut out = String::from(DOC_SCHEME);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Rows as a small text table (JSON values, tab-separated).
fn render_rows(columns: &[String], rows: &[Vec<Value>], truncated: bool) -> String {
    let mut text = columns.join("\t");
    text.push('\n');
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    text.push_str(&format!(
        "({} row{}{})",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        if truncated {
            "; more rows exist, narrow the query"
        } else {
            ""
        }
    ));
    text
}
