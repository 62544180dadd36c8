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
