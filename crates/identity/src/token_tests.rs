use std::collections::BTreeMap;

use super::*;
use crate::{MasterKey, Refusal, Scope, Status, Store, now};

const AUD: &str = "http://127.0.0.1:8787/mcp";

fn store(dir: &tempfile::TempDir) -> Store {
    let key = MasterKey::from_hex(&"ab".repeat(32)).unwrap();
    Store::open(&dir.path().join("state.db"), key, "warden-test").unwrap()
}

fn scopes(text: &str) -> Vec<Scope> {
    Scope::parse_list(text).unwrap()
}

fn setup() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir);
    let mut attrs = BTreeMap::new();
    attrs.insert("team".to_owned(), json!("support"));
    s.add_agent("support-bot", attrs, now()).unwrap();
    (dir, s)
}

#[test]
fn issued_token_verifies_with_its_facts() {
    let (_d, s) = setup();
    let t = s
        .issue("support-bot", 900, &scopes("mcp:fs"), AUD, now())
        .unwrap();
    let v = s.verify(&t.token, AUD, now()).unwrap();
    assert_eq!(v.agent.id, "support-bot");
    assert_eq!(v.agent.attributes["team"], "support");
    assert_eq!(v.chain, vec!["support-bot"]);
    assert_eq!(v.scopes, scopes("mcp:fs"));
    assert_eq!(v.actor(), "support-bot");
}

#[test]
fn refusals_name_their_reason() {
    let (dir, s) = setup();
    let t = s
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    assert_eq!(
        s.verify(&t.token, "http://elsewhere/mcp", now()),
        Err(Refusal::WrongAudience("http://elsewhere/mcp".to_owned()))
    );
    assert!(matches!(
        s.verify("not-a-token", AUD, now()),
        Err(Refusal::Malformed(_))
    ));
    // One changed character in the middle of the signature (the last one may carry only
    // padding bits).
    let at = t.token.len() - 20;
    let mut forged = t.token.clone();
    let c = forged.remove(at);
    forged.insert(at, if c == 'A' { 'B' } else { 'A' });
    assert_eq!(s.verify(&forged, AUD, now()), Err(Refusal::BadSignature));
    // Claims rewritten (scope widened) under the old signature.
    let parts: Vec<&str> = t.token.split('.').collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["scope"] = json!("mcp decide scan");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(s.verify(&tampered, AUD, now()), Err(Refusal::BadSignature));
    // Signed by another Warden (another store, another key) for the same audience.
    let other_dir = tempfile::tempdir().unwrap();
    let other = Store::open(
        &other_dir.path().join("state.db"),
        MasterKey::from_hex(&"cd".repeat(32)).unwrap(),
        "warden-test",
    )
    .unwrap();
    other
        .add_agent("support-bot", BTreeMap::new(), now())
        .unwrap();
    let foreign = other
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    assert_eq!(
        s.verify(&foreign.token, AUD, now()),
        Err(Refusal::BadSignature)
    );
    drop(dir);
}

#[test]
fn expired_token_is_refused() {
    let (_d, s) = setup();
    let t = s
        .issue("support-bot", 1, &scopes("mcp"), AUD, now() - 5)
        .unwrap();
    assert_eq!(s.verify(&t.token, AUD, now()), Err(Refusal::Expired));
}

#[test]
fn revocation_suspension_and_removal_apply_at_once() {
    let (_d, s) = setup();
    let t = s
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    s.set_status("support-bot", Status::Suspended).unwrap();
    assert_eq!(
        s.verify(&t.token, AUD, now()),
        Err(Refusal::Suspended("support-bot".to_owned()))
    );
    s.set_status("support-bot", Status::Active).unwrap();
    assert!(s.verify(&t.token, AUD, now()).is_ok());
    s.revoke(&t.claims.jti, now()).unwrap();
    assert_eq!(
        s.verify(&t.token, AUD, now()),
        Err(Refusal::Revoked(t.claims.jti.clone()))
    );
    // Remove and re-create the agent: a token of the old agent does not work for the new one.
    let t2 = s
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    s.remove_agent("support-bot", now()).unwrap();
    s.add_agent("support-bot", BTreeMap::new(), now()).unwrap();
    assert!(matches!(
        s.verify(&t2.token, AUD, now()),
        Err(Refusal::Revoked(_) | Refusal::UnknownAgent(_))
    ));
}

/// Suspends and resumes the agent from another connection (as `warden agent suspend` from a
/// shell would), then through SQLite alone, checking that `s` sees each change on its next
/// call.
fn each_change_from_elsewhere_is_seen_at_once(dir: &tempfile::TempDir, s: &Store) {
    let t = s
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    assert!(s.verify(&t.token, AUD, now()).is_ok());
    let cli = store(dir);
    let suspended = Err(Refusal::Suspended("support-bot".to_owned()));
    for _ in 0..5 {
        cli.set_status("support-bot", Status::Suspended).unwrap();
        assert_eq!(s.verify(&t.token, AUD, now()), suspended);
        assert_eq!(s.verify(&t.token, AUD, now()), suspended);
        cli.set_status("support-bot", Status::Active).unwrap();
        assert!(s.verify(&t.token, AUD, now()).is_ok());
        assert!(s.verify(&t.token, AUD, now()).is_ok());
    }
    // Any writer counts, not only Warden's own code.
    let raw = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    raw.execute("UPDATE agents SET status = 'suspended'", [])
        .unwrap();
    assert_eq!(s.verify(&t.token, AUD, now()), suspended);
}

#[test]
fn changes_from_another_process_are_seen() {
    let (dir, s) = setup();
    each_change_from_elsewhere_is_seen_at_once(&dir, &s);
}

#[test]
fn changes_are_seen_through_sqlite_when_the_wal_index_cannot_be_read() {
    let (dir, s) = setup();
    s.shm.set(None).unwrap();
    each_change_from_elsewhere_is_seen_at_once(&dir, &s);
}

#[test]
fn token_missing_from_registry_is_refused() {
    let (dir, s) = setup();
    let t = s
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    // The registry row is gone (a restored backup, a reset store) while the key survives.
    let conn = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    conn.execute("DELETE FROM tokens", []).unwrap();
    assert_eq!(
        s.verify(&t.token, AUD, now()),
        Err(Refusal::UnknownToken(t.claims.jti.clone()))
    );
}

#[test]
fn delegation_only_narrows_and_is_recorded() {
    let (_d, s) = setup();
    let parent = s
        .issue("support-bot", 600, &scopes("mcp:fs mcp:db"), AUD, now())
        .unwrap();
    let child = s
        .exchange(
            &parent.token,
            "researcher",
            Some(&scopes("mcp:fs/read_*")),
            Some(60),
            now(),
        )
        .unwrap();
    let v = s.verify(&child.token, AUD, now()).unwrap();
    assert_eq!(v.chain, vec!["support-bot", "researcher"]);
    assert_eq!(v.actor(), "researcher");
    assert_eq!(v.scopes, scopes("mcp:fs/read_*"));
    let grandchild = s
        .exchange(&child.token, "reader", None, None, now())
        .unwrap();
    let g = s.verify(&grandchild.token, AUD, now()).unwrap();
    assert_eq!(g.chain, vec!["support-bot", "researcher", "reader"]);
    assert!(grandchild.claims.exp <= child.claims.exp);
    assert_eq!(
        grandchild
            .claims
            .act
            .as_ref()
            .unwrap()
            .act
            .as_ref()
            .unwrap()
            .sub,
        "researcher"
    );
    // Wider scope, longer life: refused.
    assert!(matches!(
        s.exchange(&child.token, "x", Some(&scopes("mcp:fs")), None, now()),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        s.exchange(&child.token, "x", Some(&scopes("mcp:db")), None, now()),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        s.exchange(&child.token, "x", None, Some(3600), now()),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        s.exchange(&parent.token, "x", Some(&scopes("decide")), None, now()),
        Err(Error::Invalid(_))
    ));
    // Revoking the parent revokes the whole chain below it.
    s.revoke(&parent.claims.jti, now()).unwrap();
    assert_eq!(
        s.verify(&grandchild.token, AUD, now()),
        Err(Refusal::Revoked(parent.claims.jti.clone()))
    );
    assert!(s.exchange(&parent.token, "y", None, None, now()).is_err());
}

#[test]
fn ttl_parsing() {
    assert_eq!(parse_ttl("90s").unwrap(), 90);
    assert_eq!(parse_ttl("15m").unwrap(), 900);
    assert_eq!(parse_ttl("2h").unwrap(), 7200);
    assert_eq!(parse_ttl("1d").unwrap(), 86_400);
    assert_eq!(parse_ttl("30").unwrap(), 30);
    for bad in ["", "m", "15x", "-5m", "1.5h"] {
        assert!(parse_ttl(bad).is_err(), "{bad}");
    }
}

#[test]
fn secrets_are_sealed_at_rest() {
    let (dir, s) = setup();
    s.set_secret("github", "ghp_very_secret_value", now())
        .unwrap();
    assert_eq!(s.secret("github").unwrap(), "ghp_very_secret_value");
    let raw = std::fs::read(dir.path().join("state.db")).unwrap();
    let wal = std::fs::read(dir.path().join("state.db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(!bytes.windows(21).any(|w| w == b"ghp_very_secret_value"));
    }
    assert!(matches!(s.secret("nope"), Err(Error::UnknownSecret(_))));
    // The wrong master key cannot open it.
    let wrong = Store::open(
        &dir.path().join("state.db"),
        MasterKey::from_hex(&"ee".repeat(32)).unwrap(),
        "warden-test",
    )
    .unwrap();
    assert!(matches!(wrong.secret("github"), Err(Error::Crypto(_))));
}

#[test]
fn agent_names_are_checked() {
    let (_d, s) = setup();
    for bad in ["", "-x", "a b", "a/b", "Agent::\"x\"", &"x".repeat(65)] {
        assert!(s.add_agent(bad, BTreeMap::new(), now()).is_err(), "{bad}");
    }
    assert!(matches!(
        s.add_agent("support-bot", BTreeMap::new(), now()),
        Err(Error::AgentExists(_))
    ));
}

#[test]
fn rotated_keys_keep_verifying_what_they_signed() {
    let (_d, s) = setup();
    let before = s
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    let kid = s.rotate_key(now()).unwrap();
    let after = s
        .issue("support-bot", 900, &scopes("mcp"), AUD, now())
        .unwrap();
    let header = jsonwebtoken::decode_header(&after.token).unwrap();
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
    assert_ne!(
        jsonwebtoken::decode_header(&before.token).unwrap().kid,
        header.kid
    );
    assert!(s.verify(&before.token, AUD, now()).is_ok());
    assert!(s.verify(&after.token, AUD, now()).is_ok());
    assert_eq!(s.jwks().unwrap()["keys"].as_array().unwrap().len(), 2);
    // A day and more later, a further rotation deletes the key replaced a day ago.
    s.rotate_key(now() + MAX_TTL_SECS + 10).unwrap();
    assert_eq!(s.jwks().unwrap()["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        s.verify(&before.token, AUD, now()),
        Err(Refusal::BadSignature)
    );
}
