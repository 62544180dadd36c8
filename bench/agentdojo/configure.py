#!/usr/bin/env python3
"""Turns a `warden init` directory into the AgentDojo benchmark's configuration.

    configure.py DIR MODE TMPDIR

MODE: `approve` or `deny` (what the unattended approver does with every held call; testing
only). The upstream is the replay's tool server, named `agentdojo`, confined to a profile that
may write the harness's temporary directory (its environment dumps). The policies are the
starter ones plus a permit for the server's tools; the tools' labels are `labels.toml` next to
this file, appended as a user would add them to warden.toml.
"""
import pathlib
import sys

here = pathlib.Path(__file__).resolve().parent
target, mode, tmp = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
assert mode in ("approve", "deny"), mode

config = target / "warden.toml"
text = config.read_text()
for old, new in [
    ('[upstream]\nname = "demo"\n', '[upstream]\nname = "agentdojo"\nsandbox = "harness"\n'),
    ("[approvals]\nenabled = true\n",
     f'[approvals]\nenabled = true\nunattended_for_testing = "{mode}"\n'),
]:
    assert old in text, old
    text = text.replace(old, new, 1)
text += f'\n[sandbox.profiles.harness]\nwrite = ["{tmp}"]\n\n'
text += (here / "labels.toml").read_text()
config.write_text(text)

policies = target / "policies.cedar"
policies.write_text(policies.read_text() + """
// The benchmark's tool server: every tool may be called, subject to the rules above.
@id("agentdojo-tools")
permit (principal, action == Action::"call_tool", resource in Server::"agentdojo");
""")
