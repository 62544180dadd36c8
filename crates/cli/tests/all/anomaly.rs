//! Anomaly detection through the real binary: once an agent's baseline is learned, an unusual
//! result size raises an alert (audit log, webhook), a second different signal is critical and
//! pauses the agent (refusing the call that raised it), and baselines survive a restart.

use serde_json::json;

use crate::support::{Session, audit_records, webhook_sink, workspace};

/// The configuration with its `[anomaly]` section (the template's last) replaced by `section`.
fn with_anomaly(dir: &std::path::Path, section: &str) -> std::path::PathBuf {
    let path = dir.join("warden.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let start = config
        .find("\n[anomaly]\n")
        .expect("the template has [anomaly]");
    std::fs::write(
        &path,
        format!("{}\n{section}{}", &config[..start], crate::support::SANDBOX),
    )
    .unwrap();
    path
}

fn anomaly_events(dir: &std::path::Path) -> Vec<(String, String, bool)> {
    audit_records(dir)
        .into_iter()
        .filter(|r| r["kind"] == "lifecycle" && r["body"]["event"] == "anomaly")
        .map(|r| {
            (
                r["body"]["signal"].as_str().unwrap().to_owned(),
                r["body"]["severity"].as_str().unwrap().to_owned(),
                r["body"]["suspended"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn an_agent_straying_from_its_baseline_is_flagged_then_paused() {
    let dir = workspace();
    let d = dir.path();
    std::fs::write(
        d.join("policies.cedar"),
        "@id(\"all\")\npermit(principal, action, resource);\n",
    )
    .unwrap();
    let (hook, received) = webhook_sink();
    with_anomaly(
        d,
        &format!(
            "[anomaly]\nlearn_calls = 20\nlearn_hours = 0.0003\nvolume_min_bytes = 1000\nbaselines = \"state/baselines.json\"\n\n[[alerts.webhook]]\nurl = \"{hook}\"\n"
        ),
    );
    let mut s = Session::start(d);
    s.initialize();
    for _ in 0..25 {
        let r = s.call("echo", json!({"text": "hello", "times": 10}));
        assert_eq!(r["result"]["isError"], json!(false), "{r}");
    }
    // Still learning: nothing is unusual yet.
    assert!(anomaly_events(d).is_empty());
    std::thread::sleep(std::time::Duration::from_millis(1200));
    // A result a thousand times the usual size: an alert, but the result is delivered.
    let big = s.call("echo", json!({"text": "hello", "times": 10_000}));
    assert_eq!(big["result"]["isError"], json!(false));
    let alert: serde_json::Value = serde_json::from_str(&received.join().unwrap()).unwrap();
    assert_eq!(alert["alert"]["kind"], json!("anomaly"), "{alert}");
    assert_eq!(alert["alert"]["signal"], json!("data_volume"), "{alert}");
    assert!(
        alert["text"]
            .as_str()
            .unwrap()
            .contains("returned 50027 bytes"),
        "{alert}"
    );
    // A send to an address never used before, right after: critical, the agent is paused and
    // this very call never reaches the upstream.
    let exfil = s.call(
        "echo",
        json!({"text": "forward everything to mallory@evil.test"}),
    );
    assert_eq!(exfil["result"]["isError"], json!(true), "{exfil}");
    let text = exfil["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("is paused") && text.contains("mallory@evil.test"),
        "{text}"
    );
    let after = s.call("echo", json!({"text": "hello", "times": 10}));
    assert_eq!(after["result"]["isError"], json!(true), "{after}");
    let received = s.upstream_received();
    s.finish();
    assert!(
        !received
            .iter()
            .any(|m| m.to_string().contains("mallory@evil.test")),
        "the refused call reached the upstream"
    );
    assert_eq!(
        anomaly_events(d),
        vec![
            ("data_volume".to_owned(), "medium".to_owned(), false),
            ("new_destination".to_owned(), "critical".to_owned(), true),
        ]
    );
    // The baselines were saved at exit and are read at the next start: the destination is
    // known now (the pause itself was in memory, as `warden mcp` has no identity store).
    let saved = std::fs::read_to_string(d.join("state/baselines.json")).unwrap();
    assert!(saved.contains("mallory@evil.test"), "{saved}");
    let mut s = Session::start(d);
    s.initialize();
    let again = s.call("echo", json!({"text": "to mallory@evil.test"}));
    assert_eq!(again["result"]["isError"], json!(false), "{again}");
    s.finish();
    assert_eq!(anomaly_events(d).len(), 2, "no new alert after the restart");
}

#[test]
fn a_broken_anomaly_setting_stops_start_up() {
    let dir = workspace();
    for (text, expect) in [
        (
            "off_hours_share = 2.0",
            "off_hours_share must be between 0 and 1",
        ),
        ("suspend_at = \"sometimes\"", "sometimes"),
        ("severity = { new_thing = \"high\" }", "new_thing"),
    ] {
        let path = with_anomaly(dir.path(), &format!("[anomaly]\n{text}\n"));
        let out = std::process::Command::new(crate::support::warden())
            .args(["mcp", "--config"])
            .arg(&path)
            .args(["--", "true"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{text}: {err}");
    }
}

#[test]
fn unreadable_baselines_are_moved_aside_and_learning_starts_over() {
    let dir = workspace();
    let d = dir.path();
    with_anomaly(d, "[anomaly]\nbaselines = \"state/baselines.json\"\n");
    std::fs::create_dir_all(d.join("state")).unwrap();
    std::fs::write(d.join("state/baselines.json"), b"{\"not\": [baselines\xff").unwrap();
    let mut s = Session::start(d);
    s.initialize();
    let r = s.call("echo", json!({"text": "hello"}));
    assert_eq!(r["result"]["isError"], json!(false), "{r}");
    let (code, stderr) = s.finish();
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("unreadable"), "{stderr}");
    assert!(d.join("state/baselines.json.unreadable").exists());
    // The fresh baselines were written at exit.
    let saved = std::fs::read_to_string(d.join("state/baselines.json")).unwrap();
    assert!(saved.contains("demo/echo"), "{saved}");
}
