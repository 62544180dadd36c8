//! What every request shares: settings, policy engine, audit log, identity store, sessions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};
use warden_audit::Log;
use warden_identity::{Refusal, Store, Verified};
use warden_mcp::era::{self, Era};
use warden_policy::Engine;

use crate::session::{Session, owner_of};
use crate::settings::Settings;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Shared gateway state.
pub(crate) struct Core {
    pub settings: Settings,
    pub engine: Arc<Engine>,
    pub audit: Log,
    pub store: Arc<Store>,
    pub http: reqwest::Client,
    /// Legacy sessions by `Mcp-Session-Id`.
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// Modern contexts by owner (agent uid and delegation chain).
    contexts: Mutex<HashMap<String, Arc<Session>>>,
    /// External identity providers.
    pub external: Vec<crate::auth::ExternalIssuer>,
    /// Console sessions and caches.
    pub console: crate::console::Console,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").finish_non_exhaustive()
    }
}

impl Core {
    pub(crate) fn new(
        settings: Settings,
        engine: Arc<Engine>,
        audit: Log,
        store: Arc<Store>,
        external: Vec<crate::auth::ExternalIssuer>,
    ) -> Result<Arc<Self>, String> {
        let http = http_client()?;
        let core = Arc::new(Self {
            settings,
            engine,
            audit,
            store,
            http,
            sessions: Mutex::new(HashMap::new()),
            contexts: Mutex::new(HashMap::new()),
            external,
            console: crate::console::Console::default(),
        });
        let weak = Arc::downgrade(&core);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tick.tick().await;
                let Some(core) = weak.upgrade() else { break };
                core.reap().await;
            }
        });
        Ok(core)
    }

    /// Records an event of the gateway's own (queued; a failure is logged).
    pub(crate) async fn note(&self, kind: warden_types::AuditKind, body: Value) {
        if let Err(e) = self
            .audit
            .append_detached(warden_types::AuditEvent::new(kind, body))
            .await
        {
            tracing::error!("audit: {e}");
        }
    }

    /// Closes sessions idle longer than the limit.
    async fn reap(&self) {
        let idle = self.settings.session_idle;
        let stale = |s: &Arc<Session>| lock(&s.last_used).elapsed() > idle;
        let mut gone: Vec<Arc<Session>> = Vec::new();
        lock(&self.sessions).retain(|_, s| {
            let keep = !stale(s);
            if !keep {
                gone.push(s.clone());
            }
            keep
        });
        lock(&self.contexts).retain(|_, s| {
            let keep = !stale(s);
            if !keep {
                gone.push(s.clone());
            }
            keep
        });
        for s in gone {
            tracing::info!(session = %s.id, "session idle, closed");
            s.close().await;
        }
    }

    /// Checks the bearer token.
    pub(crate) async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<Verified, Refusal> {
        let token = match authorization {
            None => return Err(Refusal::Missing),
            Some(h) => match h.split_once(' ') {
                Some((scheme, t))
                    if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() =>
                {
                    t.trim()
                }
                _ => {
                    return Err(Refusal::Malformed(
                        "the Authorization header must be `Bearer <token>`".to_owned(),
                    ));
                }
            },
        };
        let now = warden_identity::now();
        // An external provider's token names its issuer; Warden's own tokens are tried first.
        // Read only when providers are configured (decoding it was 2 % of a gateway call).
        if !self.external.is_empty() {
            let issuer = crate::auth::unverified_issuer(token);
            if let Some(ext) = self
                .external
                .iter()
                .find(|e| Some(e.issuer()) == issuer.as_deref())
            {
                return ext.verify(&self.http, &self.store, token, now).await;
            }
        }
        self.store.verify(token, &self.settings.resource, now)
    }

    /// A legacy session, if `agent` owns it.
    pub(crate) fn session(&self, id: &str, agent: &Verified) -> Option<Arc<Session>> {
        let s = lock(&self.sessions).get(id).cloned()?;
        (s.owner == owner_of(agent)).then_some(s)
    }

    /// Adds a legacy session unless its agent already holds the most allowed (`Err` with how
    /// many it holds).
    pub(crate) fn add_session(&self, s: Arc<Session>) -> std::result::Result<(), usize> {
        let mut sessions = lock(&self.sessions);
        self.below_limit(&sessions, &s.agent_uid)?;
        sessions.insert(s.id.clone(), s);
        Ok(())
    }

    /// `Err` with how many legacy sessions the agent holds when that is the most allowed.
    pub(crate) fn session_room(&self, agent_uid: &str) -> std::result::Result<(), usize> {
        self.below_limit(&lock(&self.sessions), agent_uid)
    }

    /// `Err` with how many of `held` belong to the agent when that is the most allowed.
    fn below_limit(
        &self,
        held: &HashMap<String, Arc<Session>>,
        agent_uid: &str,
    ) -> std::result::Result<(), usize> {
        let n = held.values().filter(|s| s.agent_uid == agent_uid).count();
        if n >= self.settings.max_sessions_per_agent {
            return Err(n);
        }
        Ok(())
    }

    pub(crate) fn remove_session(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).remove(id)
    }

    /// The modern context of an agent (one per agent and delegation chain). A new chain is
    /// refused (`Err` with how many the agent holds) once the agent holds the most contexts
    /// its session limit allows: each starts its own stdio upstreams.
    pub(crate) fn context(
        self: &Arc<Self>,
        agent: &Verified,
    ) -> std::result::Result<Arc<Session>, usize> {
        let owner = owner_of(agent);
        let mut contexts = lock(&self.contexts);
        if let Some(s) = contexts.get(&owner) {
            return Ok(s.clone());
        }
        self.below_limit(&contexts, &agent.agent.uid)?;
        let s = Session::new(
            self.clone(),
            format!("m-{}", new_id()),
            agent.clone(),
            Era::Modern,
            era::MODERN.to_owned(),
            Value::Null,
        );
        contexts.insert(owner, s.clone());
        Ok(s)
    }

    /// `server/discover` result.
    pub(crate) fn discover(&self) -> Value {
        json!({
            "supportedVersions": [era::MODERN],
            "capabilities": self.capabilities(Era::Modern),
            "instructions": "Warden gateway: tools are named <server>__<tool>, resources <server>+<uri>.",
            "resultType": "complete",
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": { era::META_SERVER_INFO: server_info() },
        })
    }

    pub(crate) fn capabilities(&self, era: Era) -> Value {
        match era {
            Era::Legacy => json!({
                "tools": {"listChanged": true},
                "prompts": {"listChanged": true},
                "resources": {"subscribe": true, "listChanged": true},
                "logging": {},
                "completions": {},
            }),
            Era::Modern => json!({
                "tools": {},
                "prompts": {},
                "resources": {},
                "completions": {},
            }),
        }
    }
}

/// Warden's `serverInfo`.
pub(crate) fn server_info() -> Value {
    json!({"name": "warden", "version": env!("CARGO_PKG_VERSION")})
}

/// A fresh unguessable id (128 bits from the system generator).
pub(crate) fn new_id() -> String {
    warden_identity::random_id()
        .unwrap_or_else(|_| format!("{:x}", warden_types::now_unix_micros()))
}

/// The client Warden's own requests go out with (upstreams, JWKS).
fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(256)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

thread_local! {
    /// This thread's client for upstream requests: each thread serves its own connections
    /// (see `serve_per_thread`), and the client's pooled connections then live on the
    /// thread's runtime with the calls that use them.
    static LOCAL_HTTP: std::cell::OnceCell<Option<reqwest::Client>> = const { std::cell::OnceCell::new() };
}

impl Core {
    /// The client for upstream requests made from this thread.
    pub(crate) fn upstream_client(&self) -> reqwest::Client {
        LOCAL_HTTP
            .with(|c| c.get_or_init(|| http_client().ok()).clone())
            .unwrap_or_else(|| self.http.clone())
    }
}
