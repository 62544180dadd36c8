use super::*;

fn command() -> Command {
    Command {
        program: "/bin/sh".to_owned(),
        args: vec!["server.js".to_owned()],
        env: vec![("PATH".to_owned(), "/usr/bin".to_owned())],
        cwd: Some(PathBuf::from("/tmp/project")),
    }
}

fn helper() -> Helper {
    Helper {
        exe: PathBuf::from("/opt/warden/bin/warden"),
        missing: Vec::new(),
    }
}

fn profile(read: &[&str], write: &[&str]) -> Profile {
    Profile {
        read: read.iter().map(PathBuf::from).collect(),
        write: write.iter().map(PathBuf::from).collect(),
        hide: vec![PathBuf::from("/home/u/.ssh")],
        ..Profile::server_default("files")
    }
}

fn paths(list: &[&str]) -> Vec<PathBuf> {
    list.iter().map(PathBuf::from).collect()
}

#[test]
fn without_a_profile_the_command_runs_as_it_is() {
    let launch = transform(&command(), None, &helper()).unwrap();
    assert_eq!(
        launch,
        Launch {
            program: PathBuf::from("/bin/sh"),
            args: vec!["server.js".to_owned()],
            env: command().env,
            cwd: Some(PathBuf::from("/tmp/project")),
            profile: None,
            display: "/bin/sh server.js".to_owned(),
        }
    );
}

#[test]
fn with_a_profile_the_helper_runs_and_carries_the_whole_plan() {
    let p = profile(&["/srv/data", "/srv/data/sub"], &["/tmp/out"]);
    let launch = transform(&command(), Some(&p), &helper()).unwrap();
    assert_eq!(launch.program, PathBuf::from("/opt/warden/bin/warden"));
    assert_eq!(
        launch.args.first().map(String::as_str),
        Some(HELPER_COMMAND)
    );
    assert_eq!(
        launch.env,
        command().env,
        "the command's environment, nothing more"
    );
    assert_eq!(
        launch.cwd, None,
        "the helper enters the directory inside the sandbox"
    );
    let plan: Plan = serde_json::from_str(launch.args.get(1).unwrap()).unwrap();
    assert_eq!(
        plan,
        Plan {
            profile: "files".to_owned(),
            program: PathBuf::from("/bin/sh"),
            args: vec!["server.js".to_owned()],
            cwd: Some(PathBuf::from("/tmp/project")),
            // The nested path folds into its parent; the system trees and the program join.
            read: paths(&[
                "/bin",
                "/etc",
                "/lib",
                "/lib32",
                "/lib64",
                "/proc",
                "/sbin",
                "/srv/data",
                "/usr"
            ]),
            write: paths(&["/dev/shm", "/tmp"]),
            devices: paths(DEVICES),
            hide: paths(&["/home/u/.ssh"]),
            readonly: Vec::new(),
            pinned: Vec::new(),
            private: paths(PRIVATE),
            // Named paths under the private /tmp are bound back in, the working directory too.
            keep: paths(&["/tmp/out", "/tmp/project"]),
            network: Network::None,
            limits: Limits::default(),
            bridge: None,
            env: Vec::new(),
            copies: Vec::new(),
            missing: Vec::new(),
        }
    );
}

#[test]
fn reading_the_root_reads_everything_and_adds_nothing() {
    let plan = plan(
        &command(),
        PathBuf::from("/usr/bin/node"),
        &profile(&["/", "/srv"], &[]),
        &helper(),
    )
    .unwrap();
    assert_eq!(plan.read, paths(&["/"]));
}

#[test]
fn a_program_outside_the_system_trees_stays_readable() {
    let plan = plan(
        &command(),
        PathBuf::from("/home/u/venv/bin/server"),
        &profile(&["/srv"], &[]),
        &helper(),
    )
    .unwrap();
    assert!(
        plan.read
            .contains(&PathBuf::from("/home/u/venv/bin/server"))
    );
}

#[test]
fn a_missing_program_is_refused_before_anything_starts() {
    let mut cmd = command();
    cmd.program = "/nonexistent/server".to_owned();
    let err = transform(&cmd, None, &helper()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start `/nonexistent/server`: no such program (looked up in the PATH given to it)"
    );
}

#[test]
fn relative_paths_are_refused() {
    let err = transform(&command(), Some(&profile(&["data"], &[])), &helper()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sandbox profile `files`: path `data` must be absolute"
    );
}

#[test]
fn the_test_hook_reaches_the_plan() {
    let mut h = helper();
    h.missing = vec![Mechanism::Landlock];
    let plan = plan(
        &command(),
        PathBuf::from("/usr/bin/node"),
        &profile(&["/"], &[]),
        &h,
    )
    .unwrap();
    assert_eq!(plan.missing, vec![Mechanism::Landlock]);
    assert_eq!(Mechanism::parse("landlock"), Some(Mechanism::Landlock));
    assert_eq!(Mechanism::parse("apparmor"), None);
}

#[test]
fn programs_are_looked_up_in_the_commands_own_path() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("tool");
    std::fs::write(&exe, "").unwrap();
    let cmd = Command {
        program: "tool".to_owned(),
        env: vec![(
            "PATH".to_owned(),
            format!("/nonexistent:{}", dir.path().display()),
        )],
        ..Command::default()
    };
    assert_eq!(resolve(&cmd), exe);
    let bare = Command {
        program: "tool".to_owned(),
        ..Command::default()
    };
    assert_eq!(resolve(&bare), PathBuf::from("tool"));
}

#[test]
fn a_trust_bundle_is_copied_in_and_named_for_every_tls_client() {
    let mut p = profile(&["/srv"], &[]);
    p.network = Network::EgressProxy;
    p.egress = Some(PathBuf::from("/var/lib/warden/egress/p.sock"));
    p.trust = Some(PathBuf::from("/var/lib/warden/egress/trust-1.pem"));
    p.env = vec![("TOKEN".to_owned(), "warden-secret-TOKEN".to_owned())];
    let plan = plan(&command(), PathBuf::from("/bin/sh"), &p, &helper()).unwrap();
    assert_eq!(
        plan.copies,
        vec![(
            PathBuf::from("/var/lib/warden/egress/trust-1.pem"),
            PathBuf::from(TRUST_INSIDE)
        )]
    );
    for var in [
        "SSL_CERT_FILE",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
    ] {
        assert!(
            plan.env
                .contains(&(var.to_owned(), TRUST_INSIDE.to_owned())),
            "{var}"
        );
    }
    assert!(
        plan.env
            .contains(&("TOKEN".to_owned(), "warden-secret-TOKEN".to_owned()))
    );
    assert!(TRUST_INSIDE.starts_with("/tmp/"));
    // Without a bundle nothing is copied and no variable changes the system's trust.
    p.trust = None;
    let plan = plan_of(&p);
    assert!(plan.copies.is_empty());
    assert!(!plan.env.iter().any(|(k, _)| k == "SSL_CERT_FILE"));
}

fn plan_of(p: &Profile) -> Plan {
    plan(&command(), PathBuf::from("/bin/sh"), p, &helper()).unwrap()
}

#[test]
fn directories_on_the_way_to_a_protected_path_in_a_write_tree_are_pinned() {
    let mut p = profile(&["/"], &["/home/u"]);
    p.hide = paths(&["/home/u/.local/share/warden", "/srv/other"]);
    p.readonly = paths(&["/home/u/proj/conf/warden.toml", "/home/u/top.toml"]);
    let plan = plan_of(&p);
    assert_eq!(
        plan.pinned,
        paths(&[
            "/home/u/.local",
            "/home/u/.local/share",
            "/home/u/proj",
            "/home/u/proj/conf",
        ])
    );
    assert_eq!(plan.readonly, p.readonly);
    // Nothing to pin without a write tree around a protected path.
    let mut p = profile(&["/"], &["/srv/out"]);
    p.readonly = paths(&["/home/u/proj/warden.toml"]);
    assert!(plan_of(&p).pinned.is_empty());
}
