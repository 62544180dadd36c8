use std::collections::BTreeMap;
use std::path::Path;

use warden_docstore::{Defaults, Error, load_path};

fn defaults(acl: &[&str]) -> Defaults {
    Defaults {
        acl: acl.iter().map(|s| (*s).to_owned()).collect(),
        tags: [("origin".to_owned(), "import".to_owned())].into(),
    }
}

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn load_err(root: &Path, acl: &[&str]) -> String {
    match load_path(root, &defaults(acl)) {
        Err(e @ Error::Load { .. }) => e.to_string(),
        other => panic!("expected a load error, got {other:?}"),
    }
}

#[test]
fn loads_txt_md_and_jsonl_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "b/notes.md", "\n\n## Meeting notes\nbody");
    write(root, "a.txt", "");
    write(root, "image.png", "x");
    write(root, ".hidden.txt", "secret");
    write(root, ".git/config.txt", "x");
    write(
        root,
        "c.jsonl",
        concat!(
            r#"{"id": "j1", "text": "First line\nsecond", "tags": {"origin": "crm", "k": "v"}}"#,
            "\n\n",
            r#"{"id": "j2", "title": "Given", "text": "t", "acl": ["user:bob"]}"#,
            "\n"
        ),
    );
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("a.txt"), root.join("link.txt")).unwrap();
    let loaded = load_path(root, &defaults(&["group:staff"])).unwrap();
    let ids: Vec<&str> = loaded.docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["a.txt", "b/notes.md", "j1", "j2"]);
    let a = &loaded.docs[0];
    assert_eq!(a.title, "a.txt");
    assert_eq!(a.acl, ["group:staff"]);
    assert_eq!(a.tags.get("origin").map(String::as_str), Some("import"));
    let notes = &loaded.docs[1];
    assert_eq!(notes.title, "Meeting notes");
    assert_eq!(notes.text, "\n\n## Meeting notes\nbody");
    let j1 = &loaded.docs[2];
    assert_eq!(j1.title, "First line");
    assert_eq!(j1.acl, ["group:staff"]);
    let want: BTreeMap<String, String> = [
        ("origin".to_owned(), "crm".to_owned()),
        ("k".to_owned(), "v".to_owned()),
    ]
    .into();
    assert_eq!(j1.tags, want);
    assert!(j1.source.as_deref().unwrap().ends_with("c.jsonl:1"));
    let j2 = &loaded.docs[3];
    assert_eq!(j2.title, "Given");
    assert_eq!(j2.acl, ["user:bob"]);
    assert!(j2.source.as_deref().unwrap().ends_with("c.jsonl:3"));
    let mut skipped: Vec<String> = loaded
        .skipped
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    skipped.sort();
    #[cfg(unix)]
    assert_eq!(skipped, ["image.png", "link.txt"]);

    // A single file loads alone, its id being its name.
    let one = load_path(&root.join("b/notes.md"), &defaults(&["public"])).unwrap();
    assert_eq!(one.docs[0].id, "notes.md");
}

#[test]
fn jsonl_errors_name_file_and_line() {
    let cases = [
        (
            "{\"id\": \"a\", \"text\": \"x\"}\n{bad json}\n",
            ":2:",
            "not valid JSON",
        ),
        ("\n{\"id\": \"a\"}\n", ":2:", "missing field `text`"),
        (
            "{\"id\": \"a\", \"text\": \"x\", \"colour\": 1}\n",
            ":1:",
            "unknown field `colour`",
        ),
        ("[1, 2]\n", ":1", "an object with `id` and `text`"),
        (
            "{\"id\": \"a\", \"text\": \"x\", \"acl\": []}\n",
            ":1",
            "nobody could read it",
        ),
        (
            "{\"id\": \"a\", \"text\": \"x\", \"acl\": [\" \"]}\n",
            ":1",
            "empty entry",
        ),
        ("{\"id\": \"\", \"text\": \"x\"}\n", ":1", "the id is empty"),
        (
            "{\"id\": \"a\", \"text\": \"x\"}\n{\"id\": \"a\", \"text\": \"y\"}\n",
            ":2",
            "duplicate id `a` (first at",
        ),
    ];
    for (content, at, what) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "docs.jsonl", content);
        let err = load_err(dir.path(), &["public"]);
        assert!(err.contains(&format!("docs.jsonl{at}")), "{content}: {err}");
        assert!(err.contains(what), "{content}: {err}");
    }
}

#[test]
fn files_without_acl_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "x.txt", "hello");
    let err = load_err(dir.path(), &[]);
    assert!(err.contains("x.txt"), "{err}");
    assert!(err.contains("nobody could read it"), "{err}");
}

#[test]
fn duplicate_ids_across_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.txt", "hello");
    write(
        dir.path(),
        "b.jsonl",
        "{\"id\": \"a.txt\", \"text\": \"again\"}\n",
    );
    let err = load_err(dir.path(), &["public"]);
    assert!(err.contains("b.jsonl:1"), "{err}");
    assert!(err.contains("duplicate id `a.txt`"), "{err}");
}

#[test]
fn invalid_utf8_and_size_limits() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.md"), b"line one\nline two \xff\n").unwrap();
    let err = load_err(dir.path(), &["public"]);
    assert!(err.contains("bad.md:2"), "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let long = format!(
        "{{\"id\": \"a\", \"text\": \"{}\"}}\n",
        "x".repeat(1024 * 1024)
    );
    write(dir.path(), "big.jsonl", &format!("\n{long}"));
    let err = load_err(dir.path(), &["public"]);
    assert!(err.contains("big.jsonl:2"), "{err}");
    assert!(err.contains("limit"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "huge.txt", &"y".repeat(10 * 1024 * 1024 + 1));
    let err = load_err(dir.path(), &["public"]);
    assert!(err.contains("huge.txt"), "{err}");
    assert!(err.contains("limit"), "{err}");
}
