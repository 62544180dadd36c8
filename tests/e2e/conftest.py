"""Shared fixtures: the warden binary, the installed third-party peers, and a config dir."""

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PEERS = pathlib.Path(os.environ.get("WARDEN_PEERS", ROOT / "tests/e2e/.peers"))
WARDEN = pathlib.Path(os.environ.get("WARDEN_BIN", ROOT / "target/debug/warden"))
NM = PEERS / "npm/node_modules"
VENV = PEERS / "venv/bin"
EVERYTHING = NM / "@modelcontextprotocol/server-everything/dist/index.js"
FILESYSTEM = NM / "@modelcontextprotocol/server-filesystem/dist/index.js"
SHARED = pathlib.Path(os.environ.get("WARDEN_SHARED", ROOT.parent / "shared"))

OPEN_POLICY = """
@id("allow-all")
permit(principal, action, resource);

@id("no-env-dump")
@reason("dumping the server environment is not allowed")
forbid(principal, action == Action::"call_tool", resource)
when { resource.name == "get-env" };
"""


def node() -> str:
    return shutil.which("node") or "node"


@pytest.fixture
def workdir(tmp_path):
    """A config directory whose policy allows everything except `get-env`."""
    write_config(tmp_path, OPEN_POLICY)
    return tmp_path


def write_config(path: pathlib.Path, policy: str, extra: str = "") -> pathlib.Path:
    (path / "policies.cedar").write_text(policy)
    (path / "warden.toml").write_text(
        f"""
[agent]
id = "e2e-agent"

[policy]
files = ["policies.cedar"]

[audit]
path = "audit.db"
{extra}
"""
    )
    return path / "warden.toml"


def through_warden(config: pathlib.Path, *command: str):
    """StdioServerParameters that run `command` behind `warden mcp`."""
    from mcp import StdioServerParameters

    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return StdioServerParameters(
        command=str(WARDEN), args=["mcp", "--config", str(config), "--", *command], env=env
    )


def direct(*command: str, env=None):
    from mcp import StdioServerParameters

    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    base.update(env or {})
    return StdioServerParameters(command=command[0], args=list(command[1:]), env=base)
