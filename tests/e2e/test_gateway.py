"""`warden serve` in front of real third-party MCP servers (stdio and Streamable HTTP), driven
by real clients over HTTP: the official Python SDK (both eras) and the Inspector CLI. Two
agents with different attributes see different tools and outcomes."""

import asyncio
import json
import os
import socket
import subprocess
import time

import httpx2
import pytest
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client

from conftest import EVERYTHING, NM, PEERS, SHARED, VENV, WARDEN, node

POLICY = """
@id("allow-all")
permit(principal, action, resource);

@id("support-no-env")
@reason("support agents may not dump server environments")
forbid(principal, action == Action::"call_tool", resource)
when { principal has team && principal.team == "support" && resource.name == "get-env" };

@id("support-no-conversions")
forbid(principal, action == Action::"call_tool", resource == Tool::"time/convert_time")
when { principal has team && principal.team == "support" };
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


def warden(dir, *args, stdin=None) -> str:
    out = subprocess.run([str(WARDEN), *args, "--config", str(dir / "warden.toml")], input=stdin,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


class Gateway:
    def __init__(self, dir, extra=""):
        self.dir = dir
        self.procs = []
        self.peer_port = free_port()
        self.everything_port = free_port()
        self.port = free_port()
        peer = subprocess.Popen([str(VENV / "python"), str(SHARED / "mcp-peers/peer_server.py"), "http", "--port", str(self.peer_port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(peer)
        everything = subprocess.Popen([node(), "--require", str(SHARED / "mcp-peers/force-loopback.cjs"), str(EVERYTHING), "streamableHttp"],
                                      env={**os.environ, "PORT": str(self.everything_port)},
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(everything)
        wait_port(self.peer_port, peer, "peer_server")
        wait_port(self.everything_port, everything, "server-everything (HTTP)")
        schema = subprocess.run([str(WARDEN), "init", str(dir)], capture_output=True, text=True, check=True)
        assert schema.returncode == 0
        (dir / "policies.cedar").write_text(POLICY)
        (dir / "warden.toml").write_text(f"""
[policy]
schema = "warden.cedarschema"
files = ["policies.cedar"]

[audit]
path = "audit.db"

[gateway]
listen = "127.0.0.1:{self.port}"

[upstreams.everything]
command = ["{node()}", "{EVERYTHING}", "stdio"]

[upstreams.time]
command = ["{VENV / 'mcp-server-time'}", "--local-timezone", "UTC"]

[upstreams.peer]
url = "http://127.0.0.1:{self.peer_port}/mcp"

[upstreams.evhttp]
url = "http://127.0.0.1:{self.everything_port}/mcp"
{extra}""")
        warden(dir, "agent", "add", "alice", "--attr", "team=support")
        warden(dir, "agent", "add", "bob", "--attr", "team=ops")
        self.alice = warden(dir, "token", "issue", "alice", "--ttl", "30m")
        self.bob = warden(dir, "token", "issue", "bob", "--ttl", "30m", "--scope", "mcp", "--scope", "decide", "--scope", "scan")
        gw = subprocess.Popen([str(WARDEN), "serve", "--config", str(dir / "warden.toml")],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.procs.append(gw)
        first = gw.stdout.readline()
        assert first.startswith("warden: serving MCP at "), first
        self.url = first.split(" at ", 1)[1].strip()
        self.base = self.url.rsplit("/mcp", 1)[0]

    def client(self, token, mode="legacy", **kwargs):
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        return Client(streamable_http_client(self.url, http_client=http), mode=mode, read_timeout_seconds=60, **kwargs)

    def close(self):
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    gw = Gateway(tmp_path_factory.mktemp("gateway"))
    yield gw
    gw.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def text_of(result) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def test_python_sdk_legacy_across_stdio_and_http_upstreams(gateway):
    async def go():
        async with gateway.client(gateway.bob) as c:
            assert c.server_info.name == "warden"
            names = {t.name for t in (await c.list_tools()).tools}
            for expected in ["everything__echo", "everything__get-env", "time__get_current_time",
                             "time__convert_time", "peer__add", "peer__ask_name", "evhttp__echo"]:
                assert expected in names, sorted(names)
            assert text_of(await c.call_tool("everything__echo", {"message": "hi"})) == "Echo: hi"
            assert text_of(await c.call_tool("peer__add", {"a": 2, "b": 3})) == "5"
            assert text_of(await c.call_tool("evhttp__echo", {"message": "over http"})) == "Echo: over http"
            t = json.loads(text_of(await c.call_tool("time__get_current_time", {"timezone": "UTC"})))
            assert t["timezone"] == "UTC"
            # Resources and prompts are namespaced too, and read back through the gateway.
            resources = (await c.list_resources()).resources
            uri = next(str(r.uri) for r in resources if str(r.uri).startswith("peer+"))
            read = await c.read_resource(uri)
            assert read.contents[0].text
            assert str(read.contents[0].uri).startswith("peer+")
            prompts = {p.name for p in (await c.list_prompts()).prompts}
            assert "peer__review" in prompts and "everything__simple-prompt" in prompts
            got = await c.get_prompt("peer__review", {"code": "x = 1"})
            assert got.messages
    run(go())


def test_python_sdk_modern_client(gateway):
    async def go():
        async with gateway.client(gateway.bob, mode="2026-07-28") as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert {"time__get_current_time", "peer__add", "everything__echo"} <= names
            assert text_of(await c.call_tool("peer__add", {"a": 20, "b": 22})) == "42"
            # A legacy stdio upstream bridged for a modern client.
            assert text_of(await c.call_tool("everything__echo", {"message": "m"})) == "Echo: m"
            t = json.loads(text_of(await c.call_tool("time__get_current_time", {"timezone": "UTC"})))
            assert t["timezone"] == "UTC"
    run(go())


def test_two_agents_see_different_tools_and_outcomes(gateway):
    async def go():
        async with gateway.client(gateway.alice) as a, gateway.client(gateway.bob) as b:
            alice = {t.name for t in (await a.list_tools()).tools}
            bob = {t.name for t in (await b.list_tools()).tools}
            assert bob - alice == {"everything__get-env", "evhttp__get-env", "time__convert_time"}, bob - alice
            refused = await a.call_tool("everything__get-env", {})
            assert refused.is_error and "may not dump server environments" in text_of(refused)
            allowed = await b.call_tool("everything__get-env", {})
            assert not allowed.is_error
    run(go())


def test_elicitation_and_progress_through_http_both_eras(gateway):
    async def answer(ctx, params):
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    progress = []

    async def on_progress(p, total, message):
        progress.append(p)

    async def go(mode):
        async with gateway.client(gateway.bob, mode=mode, elicitation_callback=answer) as c:
            r = await c.call_tool("peer__ask_name", {})
            assert text_of(r) == "Hello, Ada!", r
            slow = await c.call_tool("peer__slow", {"steps": 3}, progress_callback=on_progress)
            assert not slow.is_error

    run(go("legacy"))
    assert progress[-1] == 3, progress
    run(go("2026-07-28"))


def test_sampling_from_a_stdio_upstream_reaches_the_right_client(gateway):
    async def sample(ctx, params):
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text="sampled via gateway"),
                                         model="e2e", stop_reason="endTurn")

    async def go():
        async with gateway.client(gateway.bob, sampling_callback=sample) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert "everything__trigger-sampling-request" in names
            r = await c.call_tool("everything__trigger-sampling-request", {"prompt": "hello", "maxTokens": 10})
            assert "sampled via gateway" in text_of(r), text_of(r)
    run(go())


def inspector(*args):
    env = {**os.environ, "MCP_INSPECTOR_SECRET_STORE": "memory",
           "PATH": f"{PEERS / 'node22/node_modules/.bin'}:{os.environ.get('PATH', '')}"}
    return subprocess.run([str(NM / ".bin/mcp-inspector"), "--cli", *args, "--format", "json"],
                          capture_output=True, text=True, timeout=120, env=env)


def test_inspector_cli_over_http(gateway):
    auth = f"Authorization: Bearer {gateway.bob}"
    listed = inspector(gateway.url, "--transport", "http", "--header", auth, "--method", "tools/list")
    assert listed.returncode == 0, listed.stderr
    names = {t["name"] for t in json.loads(listed.stdout)["result"]["tools"]}
    assert "time__get_current_time" in names
    called = inspector(gateway.url, "--transport", "http", "--header", auth, "--method", "tools/call",
                       "--tool-name", "peer__add", "--tool-arg", "a=1", "--tool-arg", "b=2")
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)["result"]["content"][0]["text"] == "3"
    # Without a token: the CLI reports an authorization failure (exit 3).
    refused = inspector(gateway.url, "--transport", "http", "--method", "tools/list")
    assert refused.returncode != 0


def test_openapi_document_is_valid_and_schemathesis_finds_no_failures(gateway, tmp_path):
    doc = httpx2.get(f"{gateway.base}/openapi.json").json()
    from openapi_spec_validator import validate
    validate(doc)
    out = subprocess.run(
        [str(VENV / "schemathesis"), "run", f"{gateway.base}/openapi.json",
         "--header", f"Authorization: Bearer {gateway.bob}",
         "--checks", "all", "--max-examples", "60", "--seed", "1"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_external_identity_provider_tokens_via_jwks(tmp_path):
    """A token from an external provider (RS256, keys served as a JWKS) maps to a registered
    agent; a token it did not sign, or for another audience, is refused."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "idp-1", "alg": "RS256", "use": "sig"})
    body = json.dumps({"keys": [jwk]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    idp = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=idp.serve_forever, daemon=True).start()
    port = free_port()
    subprocess.run([str(WARDEN), "init", str(tmp_path)], capture_output=True, check=True)
    (tmp_path / "policies.cedar").write_text(POLICY)
    (tmp_path / "warden.toml").write_text(f"""
[policy]
schema = "warden.cedarschema"
files = ["policies.cedar"]

[audit]
path = "audit.db"

[gateway]
listen = "127.0.0.1:{port}"

[[gateway.trust]]
issuer = "https://idp.test"
jwks_url = "http://127.0.0.1:{idp.server_port}/jwks"
agent_claim = "client_id"

[upstreams.time]
command = ["{VENV / 'mcp-server-time'}", "--local-timezone", "UTC"]
""")
    warden(tmp_path, "agent", "add", "reporting-bot", "--attr", "team=ops")
    gw = subprocess.Popen([str(WARDEN), "serve", "--config", str(tmp_path / "warden.toml")],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = gw.stdout.readline().split(" at ", 1)[1].strip()
        now = int(time.time())

        def token(signer=key, **over):
            claims = {"iss": "https://idp.test", "aud": url, "client_id": "reporting-bot", "sub": "svc-123",
                      "iat": now, "exp": now + 300, "scope": "openid mcp:time"}
            claims.update(over)
            return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "idp-1"})

        def tools(tok):
            return httpx2.post(url, headers={"Authorization": f"Bearer {tok}", "Accept": "application/json, text/event-stream",
                                             "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"},
                               json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
                                   "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                   "io.modelcontextprotocol/clientCapabilities": {}}}}, timeout=30)

        ok = tools(token())
        assert ok.status_code == 200, ok.text
        assert {t["name"] for t in ok.json()["result"]["tools"]} == {"time__get_current_time", "time__convert_time"}
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for bad in [token(signer=other), token(aud="http://elsewhere/mcp"), token(exp=now - 60),
                    token(client_id="unknown-bot")]:
            r = tools(bad)
            assert r.status_code == 401, r.text
            assert "invalid_token" in r.headers["www-authenticate"]
        warden(tmp_path, "agent", "suspend", "reporting-bot")
        assert tools(token()).status_code == 403
    finally:
        gw.terminate()
        gw.wait(10)
        idp.shutdown()


def sse_events(text: str):
    events, current = [], {}
    for line in text.splitlines():
        if not line:
            if current:
                events.append(current)
            current = {}
        elif line.startswith("id:"):
            current["id"] = line[3:].strip()
        elif line.startswith("data:"):
            current["data"] = line[5:].strip()
    if current:
        events.append(current)
    return events


def test_a_dropped_stream_resumes_with_last_event_id(gateway):
    """2025-11-25 resumability: the client drops a request's SSE stream after the first
    progress event, reconnects with GET and Last-Event-ID, and gets the rest and the result."""
    h = {"Authorization": f"Bearer {gateway.bob}", "Accept": "application/json, text/event-stream",
         "Content-Type": "application/json"}
    init = httpx2.post(gateway.url, headers=h, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "resume", "version": "1"}}}, timeout=30)
    session = init.headers["mcp-session-id"]
    h.update({"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
    httpx2.post(gateway.url, headers=h, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, timeout=30)
    call = {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
            "params": {"name": "peer__slow", "arguments": {"steps": 4}, "_meta": {"progressToken": "p1"}}}
    last_id = None
    with httpx2.stream("POST", gateway.url, headers=h, json=call, timeout=30) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        buf = ""
        for chunk in r.iter_text():
            buf += chunk
            events = [e for e in sse_events(buf) if e.get("data")]
            if events:
                last_id = events[-1]["id"]
                assert json.loads(events[0]["data"])["method"] == "notifications/progress"
                break
    assert last_id
    # The request goes on without the client; reconnect and pick up after the last event seen.
    got = httpx2.get(gateway.url, headers={**h, "Last-Event-ID": last_id}, timeout=30)
    assert got.status_code == 200
    events = [json.loads(e["data"]) for e in sse_events(got.text) if e.get("data")]
    assert events[-1]["id"] == 5 and "result" in events[-1], events
    progress = [e["params"]["progress"] for e in events if e.get("method") == "notifications/progress"]
    assert progress and progress[-1] == 4, events
    # One standalone stream per session.
    with httpx2.stream("GET", gateway.url, headers=h, timeout=30) as first:
        assert first.status_code == 200
        second = httpx2.get(gateway.url, headers=h, timeout=30)
        assert second.status_code == 409
    gone = httpx2.delete(gateway.url, headers=h, timeout=30)
    assert gone.status_code == 204


def test_metrics_parse_with_prometheus_client(gateway):
    from prometheus_client.parser import text_string_to_metric_families

    async def go():
        async with gateway.client(gateway.alice) as a:
            assert not (await a.call_tool("peer__add", {"a": 1, "b": 2})).is_error
            assert (await a.call_tool("everything__get-env", {})).is_error
    run(go())
    body = httpx2.get(f"{gateway.base}/metrics", timeout=10).text
    families = {f.name: f for f in text_string_to_metric_families(body)}
    calls = families["warden_calls"].samples
    outcomes = {(s.labels["server"], s.labels["outcome"]) for s in calls if s.name == "warden_calls_total"}
    assert ("peer", "allow") in outcomes and ("everything", "deny") in outcomes, outcomes
    latency = families["warden_upstream_latency_seconds"]
    assert latency.type == "histogram"
    count = [s for s in latency.samples if s.name.endswith("_count") and s.labels["server"] == "peer"]
    assert count and count[0].value >= 1
    agents = {s.labels["status"]: s.value for s in families["warden_agents"].samples}
    assert agents["active"] >= 2
