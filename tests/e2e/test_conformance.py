"""Differential run of the official MCP conformance suite: the same scenarios against
server-everything directly and through `warden mcp`, both behind the same stdio-to-HTTP test
bridge (tests/conformance/bridge.py). Warden must not change which checks pass.

HTTP-transport scenarios (SSE polling, multiple streams, DNS rebinding) test the bridge, not
the proxied server, and are left out.
"""

import json
import os
import socket
import subprocess
import time

import pytest

from conftest import EVERYTHING, PEERS, ROOT, VENV, WARDEN, node, write_config

TRANSPORT_ONLY = {"server-sse-polling", "server-sse-multiple-streams", "dns-rebinding-protection"}
CONFORMANCE = PEERS / "npm/node_modules/conformance-legacy/dist/index.js"
NODE22 = PEERS / "node22/node_modules/.bin/node"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scenarios() -> list[str]:
    out = subprocess.run([str(NODE22), str(CONFORMANCE), "list", "--server"], capture_output=True, text=True, check=True)
    names = [line.strip()[2:].split(" ")[0] for line in out.stdout.splitlines() if line.strip().startswith("- ")]
    return [n for n in names if n not in TRANSPORT_ONLY]


class Bridge:
    def __init__(self, *command: str):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [str(VENV / "python"), str(ROOT / "tests/conformance/bridge.py"), "--port", str(self.port), "--", *command],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("bridge did not start")

    def run(self, scenario: str, out_dir) -> dict:
        out = out_dir / scenario
        subprocess.run(
            [str(NODE22), str(CONFORMANCE), "server", "--url", f"http://127.0.0.1:{self.port}/mcp", "--scenario", scenario, "-o", str(out)],
            capture_output=True, text=True, timeout=120,
        )
        checks = {}
        for path in out.rglob("checks.json"):
            for check in json.loads(path.read_text()):
                checks[check["id"]] = check["status"]
        return checks

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def test_conformance_pass_set_is_unchanged_through_warden(tmp_path):
    config = write_config(tmp_path, '@id("allow-all")\npermit(principal, action, resource);\n', extra='[upstream]\nname = "everything"\n')
    direct = Bridge(node(), str(EVERYTHING), "stdio")
    warden = Bridge(str(WARDEN), "mcp", "--config", str(config), "--", node(), str(EVERYTHING), "stdio")
    try:
        names = scenarios()
        assert len(names) >= 25
        direct_checks, warden_checks = {}, {}
        for name in names:
            direct_checks[name] = direct.run(name, tmp_path / "direct")
            warden_checks[name] = warden.run(name, tmp_path / "warden")
    finally:
        direct.stop()
        warden.stop()
    passed = lambda checks: sorted(f"{s}/{c}" for s, cs in checks.items() for c, st in cs.items() if st == "SUCCESS")
    total = sum(len(cs) for cs in direct_checks.values())
    summary = {"scenarios": len(names), "checks": total, "direct_passed": len(passed(direct_checks)), "warden_passed": len(passed(warden_checks))}
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target/conformance-summary.json").write_text(json.dumps(summary, indent=2))
    print(summary)
    assert total > 0
    assert passed(warden_checks) == passed(direct_checks)
    assert direct_checks.keys() == warden_checks.keys()
