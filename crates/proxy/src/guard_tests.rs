use super::*;

#[test]
fn secret_in_arguments_blocks_and_audit_copy_hides_it() {
    let key = format!("ghp_{}", "R8kq2VnX7mLp4TzW9yBc3HdF6jKs1QaE5uGo");
    let mut args =
        json!({"title": "bug", "body": format!("token is {key}"), "to": "ops@example.com"});
    let original = args.clone();
    let v = apply(
        &mut args,
        &DetectSettings::default().arguments,
        None,
        &mut Placeholders::default(),
        "arguments",
    );
    assert_eq!(v.act, Act::Block);
    assert!(
        v.reason("arguments")
            .contains("secret (github_token) at `/body`"),
        "{}",
        v.reason("arguments")
    );
    // Block does not rewrite; the audit copy hides both the key and the e-mail.
    assert_eq!(args, original);
    let copy = audit_copy(&args, &v).unwrap();
    let text = copy.to_string();
    assert!(
        !text.contains(&key) && !text.contains("ops@example.com"),
        "{text}"
    );
    assert!(v.audit().to_string().contains("\"pointer\":\"/body\""));
}

#[test]
fn redact_rewrites_with_session_placeholders() {
    let actions = Actions {
        injection: Act::Log,
        pii: Act::Redact,
        secret: Act::Redact,
    };
    let mut p = Placeholders::default();
    let mut a = json!({"content": [{"type": "text", "text": "write to jane@corp.io"}]});
    let v = apply(&mut a, &actions, None, &mut p, "results");
    assert_eq!(v.act, Act::Redact);
    assert_eq!(a["content"][0]["text"], "write to [EMAIL_1]");
    let mut b = json!({"text": "again jane@corp.io"});
    apply(&mut b, &actions, None, &mut p, "results");
    assert_eq!(b["text"], "again [EMAIL_1]");
}

#[test]
fn off_skips_and_label_marks() {
    let actions = Actions {
        injection: Act::Off,
        pii: Act::Label,
        secret: Act::Off,
    };
    let mut a = json!({"q": "call +1-202-555-0143"});
    let v = apply(
        &mut a,
        &actions,
        None,
        &mut Placeholders::default(),
        "results",
    );
    assert_eq!(v.act, Act::Label);
    assert!(v.labels.contains("pii_in_results"));
}
