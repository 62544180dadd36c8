use super::*;

fn bad(input: &[u8]) -> Invalid {
    Message::parse(input).unwrap_err()
}

#[test]
fn classifies_the_three_kinds() {
    let m = Message::parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
    assert_eq!(
        m.kind,
        Kind::Request {
            id: json!(1),
            method: "tools/list".into()
        }
    );
    let m = Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
    assert_eq!(
        m.kind,
        Kind::Notification {
            method: "notifications/initialized".into()
        }
    );
    let m = Message::parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
    assert_eq!(m.kind, Kind::Response { id: json!("a") });
}

#[test]
fn hostile_input_gets_clear_errors() {
    assert_eq!(bad(b"{not json").code, code::PARSE_ERROR);
    assert_eq!(bad(b"\xff\xfe{}").code, code::PARSE_ERROR);
    assert_eq!(
        bad(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"s\":\"\xc3\x28\"}}")
            .code,
        code::PARSE_ERROR
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let e = bad(deep.as_bytes());
    assert_eq!(e.code, code::PARSE_ERROR);
    assert!(e.message.contains("recursion limit"), "{}", e.message);
    let e = bad(br#"[{"jsonrpc":"2.0","id":1,"method":"x"}]"#);
    assert!(e.message.contains("batches"));
    let e = bad(br#"{"jsonrpc":"1.0","id":7,"method":"x"}"#);
    assert_eq!((e.code, e.id), (code::INVALID_REQUEST, Some(json!(7))));
    assert!(
        bad(br#"{"jsonrpc":"2.0","id":null,"method":"x"}"#)
            .message
            .contains("`id`")
    );
    assert!(
        bad(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#)
            .message
            .contains("params")
    );
    assert!(
        bad(br#"{"jsonrpc":"2.0","id":1}"#)
            .message
            .contains("neither")
    );
    assert_eq!(bad(b"{}").response()["id"], Value::Null);
}

#[test]
fn unknown_fields_survive_a_round_trip() {
    let text = r#"{"jsonrpc":"2.0","id":1,"method":"x/y","params":{"z":1,"_meta":{"k":"v"}},"extra":true}"#;
    let m = Message::parse(text.as_bytes()).unwrap();
    assert_eq!(String::from_utf8(m.to_line()).unwrap(), format!("{text}\n"));
}

fn parsed(text: &str) -> Message {
    Message::parse_line(&mut text.as_bytes().to_vec()).unwrap()
}

fn wire(msg: &Message) -> String {
    String::from_utf8(msg.to_line()).unwrap()
}

#[test]
fn a_faithful_line_is_relayed_as_it_came_with_the_id_spliced_in() {
    let text = r#" {"jsonrpc": "2.0", "method":"tools/call","params":{"name":"echo","arguments":{"text":"\u0041\n"}},"id":7} "#;
    let mut m = parsed(text);
    assert!(m.is_verbatim());
    assert_eq!(wire(&m), format!("{}\n", text.trim()));
    m.set_id(json!("w-1"));
    assert_eq!(
        wire(&m),
        format!("{}\n", text.trim().replace(r#""id":7"#, r#""id":"w-1""#))
    );
    // What is relayed is what was parsed.
    let back = Message::parse(wire(&m).trim_end().as_bytes()).unwrap();
    assert_eq!(back.value(), m.value());
    // A notification has no id to splice.
    let n =
        parsed(r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}"#);
    assert!(n.is_verbatim());
    assert_eq!(
        wire(&n),
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1}}\n"
    );
}

#[test]
fn a_changed_or_ambiguous_message_is_relayed_as_warden_serializes_it() {
    let serialized = |m: &Message| String::from_utf8(line(m.value())).unwrap();
    // Changed.
    let mut m = parsed(r#"{"jsonrpc":"2.0","id":1,"result":{"x": 1}}"#);
    if let Some(r) = m.result_mut() {
        r["x"] = json!(2);
    }
    assert!(!m.is_verbatim());
    assert_eq!(
        wire(&m),
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"x\":2}}\n"
    );
    let mut m = parsed(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
    let _ = m.value_mut();
    assert!(!m.is_verbatim());
    // A duplicate key: Warden reads the last, a server might read the first.
    let m = parsed(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read","name":"delete"}}"#,
    );
    assert!(!m.is_verbatim());
    assert_eq!(wire(&m), serialized(&m));
    assert!(wire(&m).contains("delete") && !wire(&m).contains("read"));
    // Numbers other than 64-bit integers; line ends inside; an id key written with escapes.
    for text in [
        r#"{"jsonrpc":"2.0","id":1,"result":{"amount":50.5}}"#,
        "{\"jsonrpc\":\"2.0\",\r\"id\":1,\"result\":{}}",
        "{\"jsonrpc\":\"2.0\",\n\"id\":1,\"result\":{}}",
        r#"{"jsonrpc":"2.0","\u0069d":1,"result":{}}"#,
    ] {
        let m = parsed(text);
        assert!(!m.is_verbatim(), "{text}");
        assert_eq!(wire(&m), serialized(&m), "{text}");
    }
}

#[test]
fn a_lent_parameter_must_come_back_before_the_bytes_are_used() {
    let text = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"a":"b"}}}"#;
    let mut m = parsed(text);
    let args = m.lend_param("arguments").unwrap();
    assert!(!m.is_verbatim());
    assert!(wire(&m).contains(r#""arguments":null"#));
    m.restore_param("arguments", args);
    assert!(m.is_verbatim());
    assert_eq!(wire(&m), format!("{text}\n"));
    // Something else took the parameter's place meanwhile: that change is relayed.
    let mut m = parsed(text);
    let args = m.lend_param("arguments").unwrap();
    if let Some(p) = m.params_mut() {
        p.insert("arguments".into(), json!({"a": "[REDACTED]"}));
    }
    m.restore_param("arguments", args);
    assert!(!m.is_verbatim());
    assert!(wire(&m).contains("[REDACTED]"));
}
