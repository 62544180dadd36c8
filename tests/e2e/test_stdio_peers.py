"""`warden mcp` in front of real third-party MCP servers, driven by the official Python SDK."""

import asyncio
import json
import pathlib
import shutil
import tempfile
import subprocess

import pytest
from mcp import Client, types
from mcp.shared.exceptions import MCPError

from conftest import EVERYTHING, FILESYSTEM, PEERS, SHARED, VENV, WARDEN, node, through_warden, write_config


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


def text_of(result) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def sampling(ctx, params):
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="sampled through warden"),
        model="e2e-model",
        stop_reason="endTurn",
    )


async def elicitation(ctx, params):
    return types.ElicitResult(action="decline")


async def roots(ctx):
    return types.ListRootsResult(roots=[types.Root(uri="file:///tmp/e2e-root", name="e2e")])


def audit(config) -> list:
    out = subprocess.run(
        [str(WARDEN), "audit", "export", "--format", "jsonl", "--config", str(config)],
        check=True, capture_output=True, text=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def verify(config) -> str:
    out = subprocess.run([str(WARDEN), "audit", "verify", "--config", str(config)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_everything_legacy_all_features(workdir):
    config = workdir / "warden.toml"
    progress = []

    async def on_progress(p, total, message):
        progress.append(p)

    async def go():
        target = through_warden(config, node(), str(EVERYTHING), "stdio")
        async with Client(
            target, mode="legacy", read_timeout_seconds=60,
            sampling_callback=sampling, elicitation_callback=elicitation, list_roots_callback=roots,
        ) as c:
            assert c.protocol_version == "2025-11-25"
            names = [t.name for t in (await c.list_tools()).tools]
            assert "get-env" not in names, "policy hides get-env"
            for wanted in ["echo", "get-sum", "trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"]:
                assert wanted in names
            assert text_of(await c.call_tool("get-sum", {"a": 2, "b": 3})).endswith("is 5.")
            # server -> client requests relayed both ways
            sampled = await c.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 5})
            assert "sampled through warden" in text_of(sampled)
            elicited = await c.call_tool("trigger-elicitation-request", {})
            assert "decline" in text_of(elicited).lower()
            rooted = await c.call_tool("get-roots-list", {})
            assert "file:///tmp/e2e-root" in text_of(rooted)
            # progress notifications
            done = await c.call_tool("trigger-long-running-operation", {"duration": 1, "steps": 3}, progress_callback=on_progress)
            assert not done.is_error
            # resources and prompts
            resources = (await c.list_resources()).resources
            assert resources
            read = await c.read_resource(resources[0].uri)
            assert read.contents
            prompts = [p.name for p in (await c.list_prompts()).prompts]
            assert "args-prompt" in prompts
            got = await c.get_prompt("args-prompt", {"city": "Paris", "state": "IDF"})
            assert "Paris" in json.dumps(got.model_dump(mode="json"))
            # a call policy forbids, made anyway
            denied = await c.call_tool("get-env", {})
            assert denied.is_error
            assert "no-env-dump" in text_of(denied) and "not allowed" in text_of(denied)

    run(go())
    assert len(progress) >= 2
    records = audit(config)
    decided = [(r["body"]["resource"], r["body"]["decision"]["outcome"]) for r in records if r["kind"] == "decision"]
    assert ("server-everything/get-env", "deny") in decided
    assert ("server-everything/get-sum", "allow") in decided
    assert any(res.startswith("server-everything/demo://") for res, _ in decided)
    verify(config)


def test_everything_modern_client_bridged_to_legacy_upstream(workdir):
    config = workdir / "warden.toml"

    async def go():
        async with Client(
            through_warden(config, node(), str(EVERYTHING), "stdio"), mode="2026-07-28", read_timeout_seconds=60,
            sampling_callback=sampling, elicitation_callback=elicitation,
        ) as c:
            assert c.protocol_version == "2026-07-28"
            names = [t.name for t in (await c.list_tools()).tools]
            assert "echo" in names and "get-env" not in names
            # The legacy server's mid-call requests reach the modern client as input_required
            # results, and the client's retries carry the answers back.
            sampled = await c.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 5})
            assert "sampled through warden" in text_of(sampled)
            elicited = await c.call_tool("trigger-elicitation-request", {})
            assert "decline" in text_of(elicited).lower()
            assert text_of(await c.call_tool("echo", {"message": "bridged"})) == "Echo: bridged"
            resources = (await c.list_resources()).resources
            assert (await c.read_resource(resources[0].uri)).contents
            assert (await c.get_prompt("simple-prompt", {})).messages
            denied = await c.call_tool("get-env", {})
            assert denied.is_error and "no-env-dump" in text_of(denied)

    run(go())
    verify(config)


def test_auto_mode_discovers_and_falls_back(workdir):
    config = workdir / "warden.toml"

    async def go():
        async with Client(through_warden(config, node(), str(EVERYTHING), "stdio"), mode="auto", read_timeout_seconds=60) as c:
            assert text_of(await c.call_tool("get-sum", {"a": 1, "b": 1})).endswith("is 2.")

    run(go())


def test_time_server_modern(workdir):
    config = workdir / "warden.toml"

    async def go():
        async with Client(through_warden(config, str(VENV / "mcp-server-time")), mode="2026-07-28", read_timeout_seconds=60) as c:
            assert c.protocol_version == "2026-07-28"
            r = await c.call_tool("get_current_time", {"timezone": "UTC"})
            assert not r.is_error
            assert r.structured_content["timezone"] == "UTC"

    run(go())
    records = audit(config)
    decision = next(r for r in records if r["kind"] == "decision")
    assert decision["body"]["resource"] == "mcp-server-time/get_current_time"
    assert decision["body"]["arguments"] == {"timezone": "UTC"}


def test_filesystem_confined_to_its_directory_even_with_a_wider_root(tmp_path):
    root = tmp_path / "files"
    root.mkdir()
    (root / "a.txt").write_text("hello through warden")
    # A secret outside /tmp (which is private inside the sandbox) and outside the profile.
    outside = pathlib.Path(tempfile.mkdtemp(dir=PEERS.parent))
    secret = outside / "secret.txt"
    secret.write_text("s3cret outside the sandbox")
    config = write_config(
        tmp_path,
        """
@id("read-only")
permit(principal, action == Action::"call_tool", resource) when { resource.read_only };
""",
        extra=f"""[upstream]
name = "fs"
sandbox = "files"

[sandbox.profiles.files]
read = [{str(root)!r}, {str(PEERS)!r}]
write = [{str(root)!r}]
""",
    )

    async def whole_disk(ctx):
        # The client offers the whole disk; server-filesystem would widen its access to it.
        return types.ListRootsResult(roots=[types.Root(uri="file:///", name="everything")])

    async def go():
        async with Client(through_warden(config, node(), str(FILESYSTEM), str(root)), mode="legacy", list_roots_callback=whole_disk, read_timeout_seconds=60) as c:
            names = [t.name for t in (await c.list_tools()).tools]
            assert "read_text_file" in names and "write_file" not in names
            r = await c.call_tool("read_text_file", {"path": str(root / "a.txt")})
            assert text_of(r) == "hello through warden"
            w = await c.call_tool("write_file", {"path": str(root / "b.txt"), "content": "x"})
            assert w.is_error and "no policy permits `call_tool` on `fs/write_file`" in text_of(w)
            await asyncio.sleep(0.5)  # let the server ask for roots and take them
            # Warden narrowed the whole-disk root to the profile's paths before the server saw it.
            dirs = text_of(await c.call_tool("list_allowed_directories", {}))
            assert str(root) in dirs and "\n/\n" not in dirs + "\n" and not dirs.rstrip().endswith("\n/"), dirs
            for path in (secret, pathlib.Path("/proc/self/root") / secret.relative_to("/")):
                r = await c.call_tool("read_text_file", {"path": str(path)})
                assert r.is_error and "s3cret" not in text_of(r), text_of(r)

    try:
        run(go())
    finally:
        shutil.rmtree(outside)
    assert not (root / "b.txt").exists()


def test_peer_server_elicitation_both_eras(workdir):
    config = workdir / "warden.toml"
    peer = str(SHARED / "mcp-peers/peer_server.py")

    async def answer(ctx, params):
        return types.ElicitResult(action="accept", content={"name": "Ada"})

    async def go(mode):
        async with Client(through_warden(config, str(VENV / "python"), peer, "stdio"), mode=mode, elicitation_callback=answer, read_timeout_seconds=60) as c:
            r = await c.call_tool("ask_name", {})
            assert text_of(r) == "Hello, Ada!"
            slow = await c.call_tool("slow", {"steps": 2})
            assert not slow.is_error

    run(go("legacy"))
    run(go("2026-07-28"))


def test_fetch_reaches_a_loopback_server_only_through_an_allowing_egress_proxy(tmp_path):
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body><p>egress page reached</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/page.html"

    def config_allowing(entry: str, name: str):
        d = tmp_path / name
        d.mkdir()
        return write_config(
            d,
            '@id("all")\npermit(principal, action, resource);\n',
            extra=f"""[upstream]
name = "fetch"
sandbox = "web"
# readabilipy runs Node for its extraction and needs Node 22.
env = {{ PATH = "{PEERS / 'node22/node_modules/.bin'}:/usr/local/bin:/usr/bin:/bin" }}

[sandbox.profiles.web]
network = "egress-proxy"
egress = [{entry!r}]
""",
        )

    async def fetch(config, target):
        command = [str(VENV / "mcp-server-fetch"), "--allow-private-ips", "--ignore-robots-txt"]
        async with Client(through_warden(config, *command), mode="legacy", read_timeout_seconds=60) as c:
            return await c.call_tool("fetch", {"url": target})

    try:
        allowed = config_allowing(f"127.0.0.1:{port}", "allowed")
        r = run(fetch(allowed, url))
        assert not r.is_error and "egress page reached" in text_of(r), text_of(r)
        # A URL the profile may not reach is refused before the call is forwarded.
        unlisted = config_allowing("example.com", "unlisted")
        r = run(fetch(unlisted, url))
        assert r.is_error and "sandbox profile `web` may not reach" in text_of(r), text_of(r)
        # A name the profile allows that resolves to loopback is refused by the proxy.
        rebound = config_allowing(f"localhost:{port}", "rebound")
        r = run(fetch(rebound, f"http://localhost:{port}/page.html"))
        assert r.is_error and "egress page reached" not in text_of(r), text_of(r)
    finally:
        server.shutdown()

    def egress(config):
        return [r["body"] for r in audit(config) if r["body"].get("event") == "egress"]

    # Every connection through the proxy is in the audit log, with its verdict.
    ok = [e for e in egress(allowed) if e["port"] == port]
    assert ok and all(e["allowed"] and e["addr"] == "127.0.0.1" for e in ok), ok
    assert not [e for e in egress(unlisted) if e["port"] == port], "the refused call reached the proxy"
    no = [e for e in egress(rebound) if e["port"] == port]
    assert no and not any(e["allowed"] for e in no), no
    assert "a loopback address" in no[0]["reason"], no
