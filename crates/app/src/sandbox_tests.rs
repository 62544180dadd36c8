use std::path::{Path, PathBuf};

use super::*;
use crate::config::parse;

fn loaded(text: &str) -> Loaded {
    Loaded {
        config: parse(Path::new("warden.toml"), text).unwrap(),
        base: PathBuf::from("/srv/project"),
        data_dir: PathBuf::from("/srv/project/.warden"),
        file: Some(PathBuf::from("/srv/project/warden.toml")),
    }
}

fn env() -> Env {
    Env::from_pairs([("HOME", "/home/u")])
}

#[test]
fn stdio_upstreams_get_the_built_in_profile_unless_told() {
    let p = loaded("").sandbox_profile(None, &env()).unwrap().unwrap();
    assert_eq!(p.name, "server");
    assert_eq!(p.read, vec![PathBuf::from("/")]);
    assert_eq!(p.write, Vec::<PathBuf>::new());
    assert_eq!(p.network, Network::None);
    assert_eq!(p.limits, Limits::default());
    // Secrets in the home directory and Warden's own state are hidden.
    for hidden in [
        "/home/u/.ssh",
        "/home/u/.aws",
        "/srv/project/.warden",
        "/srv/project/.warden/audit.db-wal",
    ] {
        assert!(
            p.hide.contains(&PathBuf::from(hidden)),
            "{hidden}: {:?}",
            p.hide
        );
    }
}

#[test]
fn profiles_resolve_paths_and_limits() {
    let l = loaded(
        r#"
[sandbox]
default = "files"
[sandbox.profiles.files]
read = ["data", "~/.npmrc"]
write = ["/var/out"]
hide = ["data/private"]
network = "host"
limits = { memory_mb = 256, cpu_secs = 0, processes = 32 }
"#,
    );
    let p = l.sandbox_profile(None, &env()).unwrap().unwrap();
    assert_eq!(
        p,
        Profile {
            name: "files".to_owned(),
            read: vec![
                PathBuf::from("/srv/project/data"),
                PathBuf::from("/home/u/.npmrc")
            ],
            write: vec![PathBuf::from("/var/out")],
            hide: {
                // A secret the profile names itself (~/.npmrc) is not hidden.
                let mut h: Vec<PathBuf> = HIDDEN_IN_HOME
                    .iter()
                    .filter(|h| **h != ".npmrc")
                    .map(|h| Path::new("/home/u").join(h))
                    .collect();
                h.extend(HIDDEN_SOCKETS.iter().map(PathBuf::from));
                h.extend(
                    ["/srv/project/.warden", "/srv/project/.warden/audit.db"]
                        .iter()
                        .map(PathBuf::from),
                );
                h.extend(
                    ["-wal", "-shm"]
                        .iter()
                        .map(|s| PathBuf::from(format!("/srv/project/.warden/audit.db{s}"))),
                );
                h.push(PathBuf::from("/srv/project/data/private"));
                h
            },
            readonly: vec![PathBuf::from("/srv/project/warden.toml")],
            network: Network::Host,
            limits: Limits {
                memory_mb: Some(256),
                cpu_secs: None,
                processes: Some(32),
                ..Limits::default()
            },
            egress: None,
            env: Vec::new(),
            trust: None,
        }
    );
    assert_eq!(l.sandbox_profile(Some("off"), &env()).unwrap(), None);
    assert_eq!(
        l.sandbox_profile(Some("server"), &env())
            .unwrap()
            .unwrap()
            .name,
        "server"
    );
}

#[test]
fn an_unknown_profile_or_network_is_a_clear_error() {
    let l = loaded("[sandbox.profiles.files]\n");
    let err = l.sandbox_profile(Some("fils"), &env()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sandbox profile `fils` is not defined (profiles: files; `server` is built in, `off` runs unconfined)"
    );
    let err = parse(
        Path::new("warden.toml"),
        "[sandbox.profiles.a]\nnetwork = \"wide\"\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("warden.toml:2:11: unknown variant `wide`"),
        "{err}"
    );
    let err = parse(
        Path::new("warden.toml"),
        "[sandbox.profiles.a]\nreed = []\n",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("warden.toml:2:1: unknown field `reed`"),
        "{err}"
    );
}

#[test]
fn an_egress_profile_gets_a_socket_and_a_checked_allow_list() {
    let l = loaded(
        "[sandbox.profiles.web]\nnetwork = \"egress-proxy\"\negress = [\"example.com\", \"*.github.com:443\"]\n",
    );
    let p = l.sandbox_profile(Some("web"), &env()).unwrap().unwrap();
    assert_eq!(p.network, Network::EgressProxy);
    assert_eq!(
        p.egress,
        Some(PathBuf::from(format!(
            "/srv/project/.warden/egress/web-{}.sock",
            std::process::id()
        )))
    );
    assert_eq!(l.egress_rules("web").unwrap().entries().len(), 2);
    let bad =
        loaded("[sandbox.profiles.web]\nnetwork = \"egress-proxy\"\negress = [\"exa mple.com\"]\n");
    assert_eq!(
        format!(
            "{:#}",
            bad.sandbox_profile(Some("web"), &env()).unwrap_err()
        ),
        "sandbox profile `web`: egress entry `exa mple.com`: not a host name"
    );
    let stray = loaded("[sandbox.profiles.web]\negress = [\"example.com\"]\n");
    assert_eq!(
        stray
            .sandbox_profile(Some("web"), &env())
            .unwrap_err()
            .to_string(),
        "sandbox profile `web`: `egress` needs network = \"egress-proxy\""
    );
}

#[test]
fn the_test_hook_names_real_mechanisms() {
    let h = helper(&Env::from_pairs([(
        "WARDEN_SANDBOX_UNAVAILABLE",
        "landlock, seccomp",
    )]))
    .unwrap();
    assert_eq!(h.missing, vec![Mechanism::Landlock, Mechanism::Seccomp]);
    let err = helper(&Env::from_pairs([(
        "WARDEN_SANDBOX_UNAVAILABLE",
        "selinux",
    )]))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "WARDEN_SANDBOX_UNAVAILABLE: unknown mechanism `selinux`"
    );
}

#[test]
fn secrets_give_the_sandbox_placeholders_and_a_trust_bundle_never_values() {
    let l = loaded(
        r#"
[sandbox.profiles.gh]
network = "egress-proxy"
egress = ["api.github.com"]
[sandbox.profiles.gh.secrets.GITHUB_TOKEN]
hosts = ["api.github.com"]
env = "WARDEN_GITHUB_TOKEN"
[sandbox.profiles.gh.secrets.NPM]
hosts = ["registry.npmjs.org"]
file = "secrets/npm"
"#,
    );
    let p = l.sandbox_profile(Some("gh"), &env()).unwrap().unwrap();
    assert_eq!(
        p.env,
        vec![
            (
                "GITHUB_TOKEN".to_owned(),
                "warden-secret-GITHUB_TOKEN".to_owned()
            ),
            ("NPM".to_owned(), "warden-secret-NPM".to_owned()),
        ]
    );
    // The file a secret is read from is hidden.
    assert!(p.hide.contains(&PathBuf::from("/srv/project/secrets/npm")));
    let trust = p.trust.unwrap();
    assert!(
        trust.starts_with("/srv/project/.warden/egress/"),
        "{trust:?}"
    );
    // Values are read when the proxy starts, from Warden's environment or a file.
    let with = Env::from_pairs([("HOME", "/home/u"), ("WARDEN_GITHUB_TOKEN", "ghp_x")]);
    let err = l.secrets("gh", &with).unwrap_err();
    assert!(
        format!("{err:#}").contains("secret `NPM`: cannot read `/srv/project/secrets/npm`"),
        "{err:#}"
    );
    let err = l.secrets("gh", &env()).unwrap_err();
    assert!(
        format!("{err:#}").contains("environment variable `WARDEN_GITHUB_TOKEN` is not set"),
        "{err:#}"
    );
}

#[test]
fn misconfigured_secrets_are_refused_with_reasons() {
    for (text, expected) in [
        (
            "[sandbox.profiles.p.secrets.T]\nhosts = [\"a.test\"]\nenv = \"X\"",
            "`secrets` need network = \"egress-proxy\"",
        ),
        (
            "[sandbox.profiles.p]\nnetwork = \"egress-proxy\"\n[sandbox.profiles.p.secrets.T]\nhosts = [\"a.test\"]",
            "exactly one of `env` or `file`",
        ),
        (
            "[sandbox.profiles.p]\nnetwork = \"egress-proxy\"\n[sandbox.profiles.p.secrets.T]\nhosts = [\"a.test\"]\nenv = \"X\"\nfile = \"f\"",
            "exactly one of `env` or `file`",
        ),
        (
            "[sandbox.profiles.p]\nnetwork = \"egress-proxy\"\n[sandbox.profiles.p.secrets.T]\nhosts = []\nenv = \"X\"",
            "names no host",
        ),
        (
            "[sandbox.profiles.p]\nnetwork = \"egress-proxy\"\n[sandbox.profiles.p.secrets.\"BAD-NAME\"]\nhosts = [\"a.test\"]\nenv = \"X\"",
            "letters, digits",
        ),
        (
            "[sandbox.profiles.p]\nnetwork = \"egress-proxy\"\n[sandbox.profiles.p.secrets.T]\nhosts = [\"a.test:x\"]\nenv = \"X\"",
            "bad port",
        ),
    ] {
        let err = loaded(text).sandbox_profile(Some("p"), &env()).unwrap_err();
        assert!(format!("{err:#}").contains(expected), "{text}: {err:#}");
    }
}

#[test]
fn warden_config_and_policies_are_read_only_and_outside_approvals_hidden() {
    let l = loaded(
        r#"
[policy]
schema = "rules/schema.cedarschema"
files = ["rules", "/etc/warden/extra.cedar"]
[approvals]
path = "/var/lib/approvals.db"
"#,
    );
    let p = l.sandbox_profile(None, &env()).unwrap().unwrap();
    assert_eq!(
        p.readonly,
        vec![
            PathBuf::from("/etc/warden/extra.cedar"),
            PathBuf::from("/srv/project/rules"),
            PathBuf::from("/srv/project/rules/schema.cedarschema"),
            PathBuf::from("/srv/project/warden.toml"),
        ]
    );
    for hidden in ["/var/lib/approvals.db", "/var/lib/approvals.db-wal"] {
        assert!(p.hide.contains(&PathBuf::from(hidden)), "{hidden}");
    }
}
