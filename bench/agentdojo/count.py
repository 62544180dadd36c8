#!/usr/bin/env python3
"""Approvals asked per session in a Warden audit export (JSON lines on stdin).

Prints `sessions requests per_session`: sessions that called a tool, approval requests.
"""
import json
import sys

sessions, requests = set(), 0
for line in sys.stdin:
    body = json.loads(line).get("body", {})
    if body.get("method") == "tools/call" and body.get("session"):
        sessions.add(body["session"])
    if body.get("event") == "requested":
        requests += 1
n = len(sessions)
print(n, requests, f"{requests / n:.2f}" if n else "nan")
