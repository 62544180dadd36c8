//! `[data]`: Warden's built-in data server (`sql.query` and `sql.schema` over configured
//! databases, `docs.search` and `resources/read` over the encrypted document store), started
//! as an upstream with `data = true`, and `warden ingest`, which fills the store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use warden_data::service::{AuditSettings, DocsSettings, ServiceSettings, default_readers};
use warden_data::sql::SqlSettings;
use warden_docstore::{Defaults, Key, Sanitize, Store};
use warden_sandbox::Command;

use crate::config::Loaded;
use crate::env::Env;

/// `[data]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Databases agents may query, by name.
    #[serde(default)]
    pub sql: BTreeMap<String, SqlSettings>,
    /// The document store.
    pub docs: Option<DocsConfig>,
}

/// `[data.docs]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocsConfig {
    /// The store file (default `<data dir>/docs.db`).
    pub path: Option<PathBuf>,
    /// Its key: `${env:NAME}` or `${secret:NAME}` holding 32 bytes in hex or base64.
    pub key: String,
    /// The ACL entries a caller reads as (default: `agent:{principal.id}`,
    /// `user:{principal.user}`, `group:{principal.groups}`, `public`).
    pub readers: Option<Vec<String>>,
    /// What ingestion does to each document.
    #[serde(default)]
    pub ingest: IngestConfig,
}

/// `[data.docs.ingest]`: each on unless turned off.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Replace personal data with typed placeholders.
    pub redact_pii: Option<bool>,
    /// Replace credentials with typed placeholders.
    pub redact_secrets: Option<bool>,
    /// Remove hidden text (zero-width and bidi characters, HTML comments, hidden elements).
    pub strip_hidden: Option<bool>,
    /// Remove suspected injected instructions.
    pub strip_injection: Option<bool>,
}

impl IngestConfig {
    fn sanitize(&self) -> Sanitize {
        Sanitize {
            redact_pii: self.redact_pii.unwrap_or(true),
            redact_secrets: self.redact_secrets.unwrap_or(true),
            strip_hidden: self.strip_hidden.unwrap_or(true),
            strip_injection: self.strip_injection.unwrap_or(true),
        }
    }
}

impl Loaded {
    fn docs_path(&self, docs: &DocsConfig) -> PathBuf {
        docs.path
            .as_deref()
            .map_or_else(|| self.data_dir.join("docs.db"), |p| self.resolve(p))
    }

    /// `${env:...}`/`${secret:...}` in a data setting (the identity store is opened only when
    /// a secret is named).
    fn data_value(&self, value: &str, env: &Env, what: &str) -> Result<String> {
        let store = if value.contains("${secret:") {
            Some(self.cli_store(env)?)
        } else {
            None
        };
        crate::gateway::resolve(value, env, store.as_ref(), what)
    }

    fn docs_key(&self, docs: &DocsConfig, env: &Env) -> Result<Key> {
        if !docs.key.starts_with("${") {
            bail!(
                "[data.docs] key must come from the environment or the secret store (`${{env:NAME}}` or `${{secret:NAME}}`), not the configuration file"
            );
        }
        let text = self.data_value(&docs.key, env, "[data.docs] key")?;
        Key::parse(&text).map_err(|e| anyhow::anyhow!("[data.docs] key: {e}"))
    }

    /// What the data server is started with, everything resolved.
    pub fn data_settings(&self, env: &Env) -> Result<ServiceSettings> {
        let data = &self.config.data;
        if data.sql.is_empty() && data.docs.is_none() {
            bail!(
                "`data = true` serves `[data]`, which configures no database and no document store"
            );
        }
        let mut sql = BTreeMap::new();
        for (name, s) in &data.sql {
            let mut s = s.clone();
            if let Some(p) = &s.sqlite {
                s.sqlite = Some(self.resolve(p));
            }
            if let Some(c) = &s.postgres {
                s.postgres =
                    Some(self.data_value(c, env, &format!("[data.sql.{name}] postgres"))?);
            }
            sql.insert(name.clone(), s);
        }
        let docs = match &data.docs {
            None => None,
            Some(d) => Some(DocsSettings {
                path: self.docs_path(d),
                key: self.docs_key(d, env)?.to_hex(),
                readers: d.readers.clone().unwrap_or_else(default_readers),
            }),
        };
        Ok(ServiceSettings {
            sql,
            docs,
            audit: Some(AuditSettings {
                path: self.audit_path(),
                durability: self.config.audit.durability,
            }),
        })
    }

    /// Opens what the data server will open (databases, rules, the store and its key), so a
    /// mistake stops Warden at start with its reason instead of leaving an upstream that
    /// cannot start.
    pub async fn check_data(&self, env: &Env) -> Result<()> {
        let mut settings = self.data_settings(env)?;
        settings.audit = None;
        warden_data::Service::open(&settings).await.map(|_| ())
    }

    /// The command that starts the data server (Warden itself; its settings travel in the
    /// environment, not on the command line).
    pub fn data_upstream(&self, exe: &Path, env: &Env) -> Result<Command> {
        let settings = self.data_settings(env)?;
        Ok(Command {
            program: exe.display().to_string(),
            args: vec![warden_data::server::COMMAND.to_owned()],
            env: vec![
                (
                    warden_data::server::SETTINGS_VAR.to_owned(),
                    serde_json::to_string(&settings)?,
                ),
                (
                    "PATH".to_owned(),
                    env.get("PATH").unwrap_or("/usr/bin:/bin").to_owned(),
                ),
            ],
            cwd: None,
        })
    }
}

/// What `warden ingest` did.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    /// Documents added and replaced.
    pub added: usize,
    pub replaced: usize,
    /// Files that were not documents.
    pub skipped: Vec<PathBuf>,
    /// Values redacted, by kind; hidden characters and injected spans removed.
    pub redacted: BTreeMap<String, usize>,
    pub hidden_removed: usize,
    pub injection_removed: usize,
    /// The store file.
    pub store: PathBuf,
}

/// `warden ingest PATH...`: loads, sanitizes and stores documents (one transaction).
pub fn ingest(
    loaded: &Loaded,
    env: &Env,
    paths: &[PathBuf],
    acl: &[String],
    tags: &BTreeMap<String, String>,
) -> Result<IngestReport> {
    let docs_config = loaded
        .config
        .data
        .docs
        .as_ref()
        .context("`warden ingest` fills the store of `[data.docs]`, which is not configured")?;
    let key = loaded.docs_key(docs_config, env)?;
    let defaults = Defaults {
        acl: acl.to_vec(),
        tags: tags.clone(),
    };
    let how = docs_config.ingest.sanitize();
    let mut report = IngestReport {
        store: loaded.docs_path(docs_config),
        ..IngestReport::default()
    };
    let mut prepared = Vec::new();
    for path in paths {
        let loaded_docs =
            warden_docstore::load_path(path, &defaults).map_err(|e| anyhow::anyhow!("{e}"))?;
        report.skipped.extend(loaded_docs.skipped);
        for doc in loaded_docs.docs {
            warden_docstore::check_id(&doc.id).map_err(|e| {
                anyhow::anyhow!("{}: {e}", doc.source.as_deref().unwrap_or("a document"))
            })?;
            let (doc, r) = warden_docstore::prepare(doc, &how);
            for (kind, n) in r.redacted {
                *report.redacted.entry(kind).or_default() += n;
            }
            report.hidden_removed += r.hidden_removed;
            report.injection_removed += r.injection_removed;
            prepared.push(doc);
        }
    }
    let mut store = Store::open(&report.store, &key)
        .map_err(|e| anyhow::anyhow!("{}: {e}", report.store.display()))?;
    let put = store.put(&prepared).map_err(|e| anyhow::anyhow!("{e}"))?;
    report.added = put.added;
    report.replaced = put.replaced;
    Ok(report)
}
