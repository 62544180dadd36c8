//! The OpenAPI 3.1 document of the HTTP API (`GET /openapi.json`). Written out by hand: the
//! API is small, and a document checked by a validator and by schemathesis in the tests is
//! worth more than a generated one.

use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// The document for a gateway at `base`.
pub(crate) fn document(base: &str) -> Value {
    let auth_errors = |mut responses: serde_json::Map<String, Value>| {
        responses.insert("400".into(), error_response("Invalid request body"));
        responses.insert(
            "401".into(),
            error_response(
                "Missing, invalid, expired or revoked token (with a WWW-Authenticate challenge)",
            ),
        );
        responses.insert(
            "403".into(),
            error_response("The token's scope does not cover this API, or the agent is suspended"),
        );
        responses.insert("413".into(), error_response("Request body too large"));
        responses.insert("421".into(), error_response("Host header not served here"));
        Value::Object(responses)
    };
    let mut decide_ok = serde_json::Map::new();
    decide_ok.insert("200".into(), json!({
        "description": "The decision (also recorded in the audit log)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecideResponse"}}}
    }));
    decide_ok.insert(
        "503".into(),
        error_response("The audit log is unavailable, so no decision is given"),
    );
    let mut scan_ok = serde_json::Map::new();
    scan_ok.insert("200".into(), json!({
        "description": "What the detectors found",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScanResponse"}}}
    }));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Warden HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Decisions and scanning for agent frameworks that do not speak MCP. MCP clients use the Streamable HTTP endpoint at /mcp."
        },
        "servers": [{"url": base}],
        "security": [{"bearer": []}],
        "paths": {
            "/v1/decide": {
                "post": {
                    "operationId": "decide",
                    "summary": "Decide whether the token's agent may perform an action",
                    "description": "Evaluates the Cedar policies for the authenticated agent and scans the arguments; needs the `decide` scope.",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DecideRequest"}}}},
                    "responses": auth_errors(decide_ok)
                }
            },
            "/v1/scan": {
                "post": {
                    "operationId": "scan",
                    "summary": "Scan text for prompt injection, personal data and credentials",
                    "description": "Needs the `scan` scope. Spans are byte offsets into the text.",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScanRequest"}}}},
                    "responses": auth_errors(scan_ok)
                }
            }
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "schemas": {
                "DecideRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["action", "resource"],
                    "properties": {
                        "action": {"type": "string", "enum": ["call_tool", "read_resource", "get_prompt"]},
                        "resource": {"type": "string", "pattern": "^[^/]+/.+$", "description": "<server>/<tool>, <server>/<prompt> or <server>/<uri>", "examples": ["payments/refund"]},
                        "arguments": {"type": ["object", "null"], "additionalProperties": true},
                        "tool": {
                            "type": ["object", "null"],
                            "description": "Hints about the caller's own tool, read as MCP annotations ([tools.<name>] in the configuration overrides them); ignored for a server Warden serves",
                            "additionalProperties": false,
                            "properties": {
                                "labels": {"type": "array", "items": {"type": "string"}},
                                "read_only": {"type": ["boolean", "null"], "description": "readOnlyHint; missing or null: false"},
                                "destructive": {"type": ["boolean", "null"], "description": "destructiveHint; missing or null: true unless read-only"},
                                "idempotent": {"type": ["boolean", "null"], "description": "idempotentHint; missing or null: false"},
                                "open_world": {"type": ["boolean", "null"], "description": "openWorldHint; missing or null: true"}
                            }
                        },
                        "session": {"type": ["string", "null"]}
                    }
                },
                "DecideResponse": {
                    "type": "object",
                    "required": ["decision", "reason", "policies", "obligations", "findings", "audit_seq"],
                    "properties": {
                        "decision": {"type": "string", "enum": ["allow", "deny", "approval_required"]},
                        "reason": {"type": "string"},
                        "policies": {"type": "array", "items": {"type": "string"}},
                        "obligations": {"type": "array", "items": {"type": "object"}},
                        "findings": {"type": "array", "items": {"type": "object"}},
                        "audit_seq": {"type": "integer"}
                    }
                },
                "ScanRequest": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["text"],
                    "properties": {
                        "text": {"type": "string", "maxLength": 1_048_576},
                        "kinds": {"type": ["array", "null"], "items": {"type": "string", "enum": ["injection", "pii", "secret"]}}
                    }
                },
                "ScanResponse": {
                    "type": "object",
                    "required": ["findings"],
                    "properties": {
                        "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}}
                    }
                },
                "Finding": {
                    "type": "object",
                    "required": ["detector", "kind", "type", "start", "end", "confidence"],
                    "properties": {
                        "detector": {"type": "string"},
                        "kind": {"type": "string", "enum": ["injection", "pii", "secret"]},
                        "type": {"type": "string"},
                        "start": {"type": "integer", "minimum": 0},
                        "end": {"type": "integer", "minimum": 0},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1}
                    }
                },
                "Problem": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "error_description": {"type": "string"}
                    }
                }
            }
        }
    })
}
