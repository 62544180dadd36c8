"""OpenTelemetry export: a small OTLP/HTTP receiver decodes what `warden mcp` sends with the
official `opentelemetry-proto` package and finds one span per governed call, with the call's
attributes, continuing the caller's W3C trace context from `_meta.traceparent`."""

import base64
import http.server
import json
import socket
import subprocess
import threading

import pytest

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from conftest import OPEN_POLICY, WARDEN, write_config

PARENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


def _hex_ids_to_base64(node):
    """OTLP's JSON encoding writes ids as hex; protobuf's JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        return {k: (base64.b64encode(bytes.fromhex(v)).decode() if k in ("traceId", "spanId", "parentSpanId") else _hex_ids_to_base64(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_hex_ids_to_base64(v) for v in node]
    return node


class Receiver(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["content-length"]))
        msg = ExportTraceServiceRequest()
        json_format.Parse(json.dumps(_hex_ids_to_base64(json.loads(body))), msg)
        Receiver.requests.append((self.path, msg))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_one_span_per_call_with_attributes_and_the_callers_trace(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    policy = OPEN_POLICY + '\n@id("no-delete")\nforbid(principal, action, resource) when { resource has name && resource.name == "delete_account" };\n'
    config = write_config(tmp_path, policy, f'\n[telemetry]\notlp_endpoint = "{endpoint}"\nservice_name = "warden-e2e"\n')
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_order", "arguments": {"order_id": "A-1001"},
                                                                       "_meta": {"traceparent": f"00-{PARENT_TRACE}-{PARENT_SPAN}-01"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "delete_account", "arguments": {"user": "bob"}}},
    ]
    proc = subprocess.run([str(WARDEN), "mcp", "--config", str(config), "--", str(WARDEN), "demo-server"],
                          input="".join(json.dumps(l) + "\n" for l in lines), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(l) for l in proc.stdout.splitlines()]
    assert sorted(a["id"] for a in answers) == [1, 2, 3]
    server.shutdown()

    spans = []
    for path, msg in Receiver.requests:
        assert path == "/v1/traces"
        for rs in msg.resource_spans:
            service = {a.key: a.value.string_value for a in rs.resource.attributes}["service.name"]
            assert service == "warden-e2e"
            for ss in rs.scope_spans:
                spans.extend(ss.spans)
    assert len(spans) == 2, spans
    by_target = {}
    for s in spans:
        attrs = {a.key: a.value for a in s.attributes}
        by_target[attrs["warden.target"].string_value] = (s, attrs)
    got, attrs = by_target["get_order"]
    assert got.trace_id.hex() == PARENT_TRACE
    assert got.parent_span_id.hex() == PARENT_SPAN
    assert attrs["warden.agent"].string_value == "e2e-agent"
    assert attrs["warden.decision"].string_value == "allow"
    assert attrs["warden.policies"].string_value == "allow-all"
    assert attrs["warden.result"].string_value == "ok"
    assert got.end_time_unix_nano >= got.start_time_unix_nano > 0
    denied, attrs = by_target["delete_account"]
    assert attrs["warden.decision"].string_value == "deny"
    assert attrs["warden.policies"].string_value == "no-delete"
    assert denied.status.code == 2  # STATUS_CODE_ERROR
    assert denied.trace_id.hex() != PARENT_TRACE and len(denied.parent_span_id) == 0


def _stuck_collector():
    """Accepts connections and reads requests, never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def drain(conn):
        while conn.recv(65536):
            pass

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=drain, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener, f"http://127.0.0.1:{listener.getsockname()[1]}"


def _closed_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return None, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("collector", [_stuck_collector, _closed_port], ids=["stuck", "refusing"])
def test_a_collector_that_fails_does_not_hold_calls_or_shutdown_back(tmp_path, collector):
    """Export is off the calls' path: with a collector that never answers, or nothing listening,
    every call is answered and Warden exits once its client is done (it gives the exporter at
    most five seconds to send what is left)."""
    listener, endpoint = collector()
    config = write_config(tmp_path, OPEN_POLICY, f'\n[telemetry]\notlp_endpoint = "{endpoint}"\n')
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
    ] + [{"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call", "params": {"name": "get_order", "arguments": {"order_id": f"A-{i}"}}} for i in range(600)]
    try:
        proc = subprocess.run([str(WARDEN), "mcp", "--config", str(config), "--", str(WARDEN), "demo-server"],
                              input="".join(json.dumps(l) + "\n" for l in lines), capture_output=True, text=True,
                              # The exporter's own request timeout is 10 s: waiting for it (twice, as
                              # an earlier version did) would take 20 s.
                              timeout=15)
    finally:
        if listener is not None:
            listener.close()
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(l) for l in proc.stdout.splitlines()]
    assert sorted(a["id"] for a in answers) == [1] + [10 + i for i in range(600)]
    assert all("result" in a and not a["result"].get("isError") for a in answers if a["id"] >= 10), answers[:3]
    if listener is None:
        assert "OTLP export" in proc.stderr, proc.stderr[-2000:]


def test_the_gateway_exports_a_span_per_call_and_sends_the_last_ones_when_it_stops(tmp_path):
    """`warden serve` exports spans too; stopped (SIGTERM) right after a call, it sends what is
    still buffered before it exits."""
    from test_gateway import Gateway, run

    Receiver.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gw = Gateway(tmp_path, extra=f'\n[telemetry]\notlp_endpoint = "http://127.0.0.1:{server.server_address[1]}"\n')
    try:
        async def go():
            async with gw.client(gw.bob) as b:
                assert not (await b.call_tool("peer__add", {"a": 1, "b": 2})).is_error
                assert not (await b.call_tool("peer__add", {"a": 3, "b": 4})).is_error
        run(go())
    finally:
        gw.close()
    server.shutdown()
    spans = [s for _, msg in Receiver.requests for rs in msg.resource_spans for ss in rs.scope_spans for s in ss.spans]
    calls = [{a.key: a.value.string_value for a in s.attributes} for s in spans if s.name.startswith("tools/call ")]
    assert len(calls) == 2, [s.name for s in spans]
    assert all(c["warden.agent"] == "bob" and c["warden.server"] == "peer" and c["warden.target"] == "add" for c in calls), calls
