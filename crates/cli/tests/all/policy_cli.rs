//! `warden policy` and broken configuration.

use std::process::Command;

use crate::support::{warden, workspace};

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(warden())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn starter_policies_validate_and_pass_their_tests() {
    let dir = workspace();
    let (code, out, _) = run(dir.path(), &["policy", "validate"]);
    assert_eq!(code, 0);
    assert!(out.contains("9 policies valid"), "{out}");
    let (code, out, _) = run(dir.path(), &["policy", "test", "policy-tests.toml"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("10 passed, 0 failed"), "{out}");
}

#[test]
fn a_failing_policy_test_has_its_own_exit_code() {
    let dir = workspace();
    let cases = "[[case]]\nname = \"wrong\"\ntool = \"demo/refund\"\nargs = { amount = 80 }\nexpect = \"allow\"\n";
    std::fs::write(dir.path().join("cases.toml"), cases).unwrap();
    let (code, out, _) = run(dir.path(), &["policy", "test", "cases.toml"]);
    assert_eq!(code, 3);
    assert!(
        out.contains("FAIL wrong: approval_required by [refunds-large]"),
        "{out}"
    );
}

#[test]
fn broken_policy_names_file_and_line_and_warden_refuses_to_start() {
    let dir = workspace();
    let path = dir.path().join("policies.cedar");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\npermit(principal, action == Action::\"call_tool\", resource)\nwhen { context.args.amout > 3 };\n");
    let line = text.lines().count();
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = run(dir.path(), &["policy", "validate"]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("policies.cedar:{line}:")), "{err}");
    assert!(err.contains("amout"), "{err}");
    let (code, _, err2) = run(dir.path(), &["mcp", "--", "true"]);
    assert_eq!(code, 1);
    assert!(err2.contains(&format!("policies.cedar:{line}:")), "{err2}");
}

#[test]
fn validate_refuses_limits_that_start_up_would_refuse() {
    let dir = workspace();
    let path = dir.path().join("warden.toml");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n[[limits.rate]]\nname = \"never\"\ncalls = 0\nevery_secs = 60\n");
    std::fs::write(&path, text).unwrap();
    let (code, _, err) = run(dir.path(), &["policy", "validate"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("limit `never`"), "{err}");
}

#[test]
fn broken_config_names_file_and_line() {
    let dir = workspace();
    let path = dir.path().join("warden.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("[limits]", "[limits]\nmax_mesage_bytes = 5");
    std::fs::write(&path, &text).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("max_mesage_bytes"))
        .unwrap()
        + 1;
    let (code, _, err) = run(dir.path(), &["policy", "validate"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "warden.toml:{line}:1: unknown field `max_mesage_bytes`"
        )),
        "{err}"
    );
}
