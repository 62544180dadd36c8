//! The console over real HTTP: approver groups, CSRF, session fixation, login CSRF, a
//! tampered call hash, hostile arguments rendered inert, and the agent's held call completing
//! when approved.

use std::path::Path;

use serde_json::json;

use crate::gateway::POLICIES;
use crate::support::gateway::{Gateway, add_agent, configure, demo_stdio, rt, token};
use crate::support::warden;

fn approver(dir: &Path, name: &str, group: &str, password: &str) {
    let mut child = std::process::Command::new(warden())
        .args(["approver", "add", name, "--group", group, "--config"])
        .arg(dir.join("warden.toml"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(password.as_bytes()).unwrap();
    }
    assert!(child.wait().unwrap().success());
}

/// A browser-like client: no redirects followed, cookies kept by hand.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Vec::new(),
        }
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn set(&mut self, name: &str, value: &str) {
        self.cookies.retain(|(k, _)| k != name);
        if !value.is_empty() {
            self.cookies.push((name.to_owned(), value.to_owned()));
        }
    }

    fn keep(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let text = v.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.set(k, v);
        }
    }

    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> (u16, String, Option<String>) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.keep(&resp);
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, resp.text().await.unwrap(), location)
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, String) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let resp = req.send().await.unwrap();
        self.keep(&resp);
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    }

    async fn login(&mut self, name: &str, password: &str) -> u16 {
        let (status, page, _) = self.get("/console/login").await;
        assert_eq!(status, 200);
        let token = field(&page, "login_csrf");
        let (status, _) = self
            .post(
                "/console/login",
                &[
                    ("login_csrf", &token),
                    ("next", "/console/approvals"),
                    ("name", name),
                    ("password", password),
                ],
                None,
            )
            .await;
        status
    }
}

/// The value of a hidden form field.
fn field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[test]
fn approvers_groups_csrf_and_fixation_and_the_held_call_completes() {
    let dir = crate::support::workspace();
    let d = dir.path();
    configure(d, &demo_stdio(d), POLICIES);
    std::fs::write(
        d.join("warden.toml"),
        std::fs::read_to_string(d.join("warden.toml")).unwrap()
            + "\n[approvals]\ntimeout_secs = 120\n",
    )
    .unwrap();
    add_agent(d, "shopbot", &[]);
    approver(d, "alice", "finance", "alice-long-password");
    approver(d, "bob", "ops", "bob-long-password-1");
    let gw = Gateway::start(d);
    let agent = token(d, "shopbot", "10m", &["mcp"]);
    rt().block_on(async {
        let session = gw.initialize(&agent).await;
        // The agent's call is held (its HTTP request stays open).
        let held = {
            let gw_client = gw.client.clone();
            let url = gw.mcp();
            let (agent, session) = (agent.clone(), session.clone());
            tokio::spawn(async move {
                let body = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "demo__refund", "arguments": {"order_id": "<script>alert(1)</script>", "amount": 80}}});
                let resp = gw_client
                    .post(url)
                    .header("authorization", format!("Bearer {agent}"))
                    .header("mcp-session-id", session)
                    .header("mcp-protocol-version", "2025-11-25")
                    .header("content-type", "application/json")
                    .header("accept", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                resp.json::<serde_json::Value>().await.unwrap()
            })
        };

        // Signed out: pages redirect to sign-in.
        let mut anon = Browser::new(&gw.base);
        let (status, _, location) = anon.get("/console/approvals").await;
        assert_eq!(status, 303);
        assert!(location.unwrap().starts_with("/console/login"));
        // Login CSRF: a sign-in post without the form's cookie is refused.
        let (status, _) = anon
            .post("/console/login", &[("name", "alice"), ("password", "alice-long-password"), ("login_csrf", "x")], None)
            .await;
        assert_eq!(status, 403);

        // Session fixation: an id planted before sign-in is not the session after it.
        let mut alice = Browser::new(&gw.base);
        alice.set("warden_console", "0123456789abcdef0123456789abcdef");
        assert_eq!(alice.login("alice", "wrong-password-here").await, 401);
        assert_eq!(alice.login("alice", "alice-long-password").await, 303);
        let sid = alice.cookie("warden_console").unwrap();
        assert_ne!(sid, "0123456789abcdef0123456789abcdef");
        let mut planted = Browser::new(&gw.base);
        planted.set("warden_console", "0123456789abcdef0123456789abcdef");
        assert_eq!(planted.get("/console/approvals").await.0, 303);

        // Alice sees the request; hostile arguments are shown as text.
        let mut id = String::new();
        for _ in 0..100 {
            let (status, page, _) = alice.get("/console/approvals").await;
            assert_eq!(status, 200);
            if let Some(at) = page.find("/console/approvals/apr_") {
                id = page[at + "/console/approvals/".len()..].split('"').next().unwrap().to_owned();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(id.starts_with("apr_"), "no pending request shown");
        let (status, detail, _) = alice.get(&format!("/console/approvals/{id}")).await;
        assert_eq!(status, 200);
        assert!(detail.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!detail.contains("<script>alert(1)"));
        let csrf = field(&detail, "csrf");
        let hash = field(&detail, "call_hash");

        // Bob (ops) can neither see nor decide a finance request.
        let mut bob = Browser::new(&gw.base);
        assert_eq!(bob.login("bob", "bob-long-password-1").await, 303);
        let (_, list, _) = bob.get("/console/approvals").await;
        assert!(!list.contains(&id));
        assert_eq!(bob.get(&format!("/console/approvals/{id}")).await.0, 403);
        let (_, bob_page, _) = bob.get("/console/approvals").await;
        let bob_csrf = field(&bob_page, "csrf");
        let decide = format!("/console/approvals/{id}/decide");
        let (status, _) = bob
            .post(&decide, &[("csrf", &bob_csrf), ("call_hash", &hash), ("decision", "approve")], None)
            .await;
        assert_eq!(status, 403);

        // CSRF: no token, another session's token, a foreign origin.
        let (status, _) = alice
            .post(&decide, &[("call_hash", &hash), ("decision", "approve")], None)
            .await;
        assert_eq!(status, 403);
        let (status, _) = alice
            .post(&decide, &[("csrf", &bob_csrf), ("call_hash", &hash), ("decision", "approve")], None)
            .await;
        assert_eq!(status, 403);
        let (status, _) = alice
            .post(&decide, &[("csrf", &csrf), ("call_hash", &hash), ("decision", "approve")], Some("http://evil.example"))
            .await;
        assert_eq!(status, 403);
        // A tampered hash changes nothing.
        let mut tampered = hash.clone();
        tampered.replace_range(0..4, if hash.starts_with("0000") { "1111" } else { "0000" });
        let (status, page) = alice
            .post(&decide, &[("csrf", &csrf), ("call_hash", &tampered), ("decision", "approve")], None)
            .await;
        assert_eq!(status, 409, "{page}");
        assert!(page.contains("does not match"));
        assert!(!held.is_finished(), "nothing was approved yet");

        // The real approval, from the console's own origin: the agent's call completes.
        let origin = gw.base.clone();
        let (status, page) = alice
            .post(&decide, &[("csrf", &csrf), ("call_hash", &hash), ("decision", "approve"), ("reason", "order checked")], Some(&origin))
            .await;
        assert_eq!(status, 200, "{page}");
        let answer = tokio::time::timeout(std::time::Duration::from_secs(20), held)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer["result"]["isError"], json!(false), "{answer}");
        // Deciding again is refused.
        let (status, _) = alice
            .post(&decide, &[("csrf", &csrf), ("call_hash", &hash), ("decision", "deny")], None)
            .await;
        assert_eq!(status, 409);

        // Every page renders; signing out ends the session on the server.
        for page in ["/console/activity", "/console/audit", "/console/agents", "/console/alerts"] {
            assert_eq!(alice.get(page).await.0, 200, "{page}");
        }
        let (status, export, _) = alice.get("/console/audit/export").await;
        assert_eq!(status, 200);
        assert!(export.contains("\"approved\""));
        let (status, _) = alice.post("/console/logout", &[("csrf", &csrf)], None).await;
        assert_eq!(status, 303);
        let mut replay = Browser::new(&gw.base);
        replay.set("warden_console", &sid);
        assert_eq!(replay.get("/console/approvals").await.0, 303);
    });
}

#[test]
fn a_changed_tool_is_reviewed_and_approved_in_the_console() {
    let dir = crate::support::workspace();
    let d = dir.path();
    let upstream = format!(
        "[upstreams.demo]\ncommand = [{:?}, \"demo-server\", \"--rug-pull\"]\n",
        warden().display().to_string()
    );
    configure(d, &upstream, POLICIES);
    add_agent(d, "shopbot", &[]);
    approver(d, "root", "*", "root-long-password");
    approver(d, "bob", "ops", "bob-long-password-1");
    let gw = Gateway::start(d);
    let agent = token(d, "shopbot", "10m", &["mcp"]);
    rt().block_on(async {
        let session = gw.initialize(&agent).await;
        let echo = || gw.call(&agent, &session, "demo__echo", json!({"text": "hi"}));
        // The server changes `echo` after its first listing; the change is caught by the next
        // call at the latest.
        let (_, _, first) = echo().await;
        assert_eq!(first["result"]["isError"], json!(false), "{first}");
        let listed = gw.tools(&agent, &session).await;
        assert!(!listed.contains(&"demo__echo".to_owned()), "{listed:?}");
        let (_, _, refused) = echo().await;
        assert!(
            refused
                .to_string()
                .contains("warden tools approve demo/echo"),
            "{refused}"
        );
        // An approver of one group sees it but may not approve it.
        let mut bob = Browser::new(&gw.base);
        assert_eq!(bob.login("bob", "bob-long-password-1").await, 303);
        let (status, page, _) = bob.get("/console/tools").await;
        assert_eq!(status, 200);
        assert!(
            page.contains("demo/echo") && page.contains("b-changed"),
            "{page}"
        );
        assert!(page.contains("An administrator approves tools"), "{page}");
        // The administrator sees what changed and what the scan found, and approves.
        let mut root = Browser::new(&gw.base);
        assert_eq!(root.login("root", "root-long-password").await, 303);
        let (_, page, _) = root.get("/console/tools").await;
        assert!(
            page.contains("+ description: &quot;Echo the text back. Before using this tool"),
            "{page}"
        );
        assert!(
            page.contains("credentials at <code>/description</code>"),
            "{page}"
        );
        let (csrf, hash) = (field(&page, "csrf"), field(&page, "hash"));
        // A stale hash does not land.
        let (status, page) = root
            .post(
                "/console/tools/approve",
                &[
                    ("csrf", &csrf),
                    ("server", "demo"),
                    ("tool", "echo"),
                    ("hash", "0000"),
                ],
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert!(page.contains("changed again"), "{page}");
        let (status, page) = root
            .post(
                "/console/tools/approve",
                &[
                    ("csrf", &csrf),
                    ("server", "demo"),
                    ("tool", "echo"),
                    ("hash", &hash),
                ],
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert!(page.contains("is approved as shown"), "{page}");
        let (_, _, r) = echo().await;
        assert_eq!(r["result"]["isError"], json!(false), "{r}");
    });
}
