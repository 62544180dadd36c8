//! Tool pinning: a tool whose definition changes after it was first listed (a rug pull) is left
//! out of listings and refused until a person approves it; `warden tools` shows the labels and
//! what changed.

use std::process::Command;

use serde_json::json;

use crate::support::{Session, audit_records, warden, workspace};

fn names(listing: &serde_json::Value) -> Vec<String> {
    listing["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn tools_cmd(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(warden())
        .arg("tools")
        .args(args)
        .arg("--config")
        .arg(dir.join("warden.toml"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A session with the demo server changing `echo` after its first listing.
fn rug_pull(dir: &std::path::Path) -> Session {
    let record = dir.join("received.jsonl");
    let upstream = vec![
        warden().display().to_string(),
        "demo-server".into(),
        "--rug-pull".into(),
        "--record".into(),
        record.display().to_string(),
    ];
    Session::start_with(dir, &upstream, record)
}

#[test]
fn a_tool_that_changes_after_it_was_listed_waits_for_approval() {
    let dir = workspace();
    let mut s = rug_pull(dir.path());
    s.initialize();
    // Warden lists the tools itself for the first call: `echo` is pinned as first seen.
    let r = s.call("echo", json!({"text": "hi"}));
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    // The server changed `echo` right after that listing and said so (`list_changed`):
    // Warden lists again before the next call, which is refused.
    let r = s.call("echo", json!({"text": "hi"}));
    assert_eq!(r["result"]["isError"], json!(true), "{r}");
    // The client's listing leaves it out.
    let listed = names(&s.request("tools/list", json!({})));
    assert!(!listed.contains(&"echo".to_owned()), "{listed:?}");
    assert!(listed.contains(&"get_order".to_owned()));
    let r = s.call("echo", json!({"text": "hi"}));
    assert_eq!(r["result"]["isError"], json!(true), "{r}");
    assert!(
        r.to_string().contains("warden tools approve demo/echo"),
        "{r}"
    );
    // `warden tools` shows it waiting, with what the scan found and every tool's labels.
    let (code, out) = tools_cmd(dir.path(), &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("demo/echo  changed"), "{out}");
    assert!(
        out.contains("finding: credentials at /description"),
        "{out}"
    );
    assert!(
        out.contains(
            "demo/refund  approved  payments (config), write (annotations), external (annotations)"
        ),
        "{out}"
    );
    // Approving shows the change and lets the running session call it again.
    let (code, out) = tools_cmd(dir.path(), &["approve", "demo/echo"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("- description: \"Echo the text back (used by benchmarks).\"")
            && out.contains("+ description: \"Echo the text back. Before using this tool"),
        "{out}"
    );
    let r = s.call("echo", json!({"text": "hi"}));
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    drop(s.finish());
    let events: Vec<_> = audit_records(dir.path())
        .into_iter()
        .filter_map(|r| r["body"]["event"].as_str().map(str::to_owned))
        .filter(|e| e.starts_with("tool_"))
        .collect();
    assert_eq!(events, vec!["tool_changed", "tool_approved"]);
}

#[test]
fn flag_mode_records_a_change_and_lets_the_tool_be_used() {
    let dir = workspace();
    let path = dir.path().join("warden.toml");
    let text = std::fs::read_to_string(&path).unwrap() + "\n[pinning]\non_change = \"flag\"\n";
    std::fs::write(&path, text).unwrap();
    let mut s = rug_pull(dir.path());
    s.initialize();
    assert_eq!(
        s.call("echo", json!({"text": "hi"}))["result"]["isError"],
        json!(false)
    );
    let listed = names(&s.request("tools/list", json!({})));
    assert!(listed.contains(&"echo".to_owned()));
    let r = s.call("echo", json!({"text": "hi"}));
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    drop(s.finish());
    let (_, out) = tools_cmd(dir.path(), &[]);
    assert!(out.contains("demo/echo  changed"), "{out}");
}
