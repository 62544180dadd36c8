use super::*;

#[test]
fn unknown_keys_name_file_and_line() {
    let err = parse(
        Path::new("warden.toml"),
        "[agent]\nid = \"a\"\n\n[audit]\npaht = \"x\"\n",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("warden.toml:5:1: unknown field `paht`"),
        "{text}"
    );
}

#[test]
fn bad_syntax_names_file_and_line() {
    let err = parse(Path::new("w.toml"), "[agent]\nid = \n").unwrap_err();
    assert!(err.to_string().starts_with("w.toml:2:"), "{err}");
}

#[test]
fn shipped_template_is_valid_and_its_policies_load() {
    let dir = tempfile::tempdir().unwrap();
    crate::init::write(dir.path()).unwrap();
    let loaded = Loaded::load(Some(&dir.path().join("warden.toml")), &Env::default()).unwrap();
    loaded.engine().unwrap();
    assert_eq!(loaded.audit_path(), dir.path().join(".warden/audit.db"));
}

#[test]
fn server_names_come_from_the_command() {
    let n = |c: &[&str]| server_name(&c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
    assert_eq!(
        n(&[
            "npx",
            "-y",
            "@modelcontextprotocol/server-filesystem",
            "/tmp"
        ]),
        "server-filesystem"
    );
    assert_eq!(n(&["uvx", "mcp-server-time"]), "mcp-server-time");
    assert_eq!(n(&["/usr/bin/my-server"]), "my-server");
    assert_eq!(
        n(&[
            "node",
            "/x/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
            "stdio"
        ]),
        "server-everything"
    );
    assert_eq!(n(&["python3", "-m", "mcp_server_git"]), "mcp_server_git");
    assert_eq!(
        n(&["/opt/bin/warden", "demo-server", "--record", "r"]),
        "demo"
    );
    assert_eq!(n(&["warden", "mcp"]), "warden");
    // Only Warden's own demo server gets the name the starter policies open.
    assert_eq!(n(&["python3", "demo.py"]), "demo-upstream");
    assert_eq!(n(&["./demo"]), "demo-upstream");
    assert_eq!(n(&["node", "demo/index.js"]), "demo-upstream");
}

#[test]
fn upstream_env_is_an_allow_list() {
    let loaded = Loaded::load(None, &Env::default()).unwrap();
    let env = Env::from_pairs([("PATH", "/bin"), ("AWS_SECRET_ACCESS_KEY", "x")]);
    assert_eq!(
        loaded.upstream_env(&env),
        vec![("PATH".to_owned(), "/bin".to_owned())]
    );
}
