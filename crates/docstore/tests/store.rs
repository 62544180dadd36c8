use warden_docstore::{Error, Key, PutReport, Store};

use crate::doc;

fn key(byte: u8) -> Key {
    Key::parse(&format!("{byte:02x}").repeat(32)).unwrap()
}

#[test]
fn round_trip_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/docs.db");
    let docs = vec![
        doc("a", "Alpha", "first", &["public"]),
        doc("b", "Beta", "second", &["group:finance", "user:alice"]),
    ];
    {
        let mut store = Store::open(&path, &key(1)).unwrap();
        let report = store.put(&docs).unwrap();
        assert_eq!(
            report,
            PutReport {
                added: 2,
                replaced: 0
            }
        );
    }
    let store = Store::open(&path, &key(1)).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(loaded.len(), 2);
    assert!(loaded[0].0 < loaded[1].0);
    assert_eq!(loaded.into_iter().map(|(_, d)| d).collect::<Vec<_>>(), docs);
    assert_eq!(store.count().unwrap(), 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn wrong_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.db");
    Store::open(&path, &key(1))
        .unwrap()
        .put(&[doc("a", "A", "x", &["public"])])
        .unwrap();
    let err = Store::open(&path, &key(2)).unwrap_err();
    assert!(matches!(err, Error::WrongKey), "{err}");
    assert_eq!(err.to_string(), "the document store's key does not open it");
}

#[test]
fn nothing_is_stored_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.db");
    let mut store = Store::open(&path, &key(3)).unwrap();
    let mut d = doc(
        "doc-zanzibarid",
        "Quixotically titled",
        "The xylophonist body text",
        &["group:marzipanteam"],
    );
    d.tags.insert("project".into(), "ocelotproject".into());
    d.source = Some("/srv/wombatsource.md".into());
    store.put(&[d.clone()]).unwrap();
    d.text.push_str(" revised");
    store.put(&[d]).unwrap();
    let needles = [
        "zanzibarid",
        "Quixotically",
        "xylophonist",
        "marzipanteam",
        "ocelotproject",
        "wombatsource",
    ];
    let mut seen_files = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("docs.db{suffix}"));
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        seen_files += 1;
        for needle in needles {
            let lower = needle.to_lowercase();
            for n in [needle.as_bytes(), lower.as_bytes()] {
                assert!(
                    !bytes.windows(n.len()).any(|w| w == n),
                    "`{needle}` found in {}",
                    file.display()
                );
            }
        }
    }
    assert!(
        seen_files >= 2,
        "the db and its WAL should exist while open"
    );
    drop(store);
}

#[test]
fn tampering_names_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.db");
    let mut store = Store::open(&path, &key(4)).unwrap();
    store
        .put(&[
            doc("a", "A", "one", &["public"]),
            doc("b", "B", "two", &["public"]),
        ])
        .unwrap();
    let loaded = store.load().unwrap();
    let (seq_a, seq_b) = (loaded[0].0, loaded[1].0);
    let conn = rusqlite_conn(&path);
    let mut sealed: Vec<u8> = conn
        .query_row("SELECT sealed FROM docs WHERE seq = ?1", [seq_b], |r| {
            r.get(0)
        })
        .unwrap();
    sealed[3] ^= 0x01;
    conn.execute(
        "UPDATE docs SET sealed = ?1 WHERE seq = ?2",
        rusqlite::params![sealed, seq_b],
    )
    .unwrap();
    let err = store.load().unwrap_err();
    assert!(
        matches!(err, Error::Tampered { seq } if seq == seq_b),
        "{err}"
    );
    assert!(
        err.to_string().contains(&format!("record {seq_b}")),
        "{err}"
    );

    // Moving a sealed record under another id does not open either.
    conn.execute(
        "UPDATE docs SET id_mac = x'00' || id_mac WHERE seq = ?1",
        [seq_a],
    )
    .unwrap();
    let err = store.load().unwrap_err();
    assert!(
        matches!(err, Error::Tampered { seq } if seq == seq_a),
        "{err}"
    );
}

/// A plain connection to the file, as an attacker with write access would have.
fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

#[test]
fn replace_keeps_one_copy_and_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("docs.db"), &key(5)).unwrap();
    store
        .put(&[
            doc("a", "A", "v1", &["public"]),
            doc("b", "B", "v1", &["public"]),
        ])
        .unwrap();
    let before = store.load().unwrap();
    let report = store.put(&[doc("a", "A", "v2", &["public"])]).unwrap();
    assert_eq!(
        report,
        PutReport {
            added: 0,
            replaced: 1
        }
    );
    let after = store.load().unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(after[0].0, before[0].0);
    assert_eq!(after[0].1.text, "v2");
    assert!(store.remove("a").unwrap());
    assert!(!store.remove("a").unwrap());
    assert_eq!(store.load().unwrap().len(), 1);
}

#[test]
fn documents_nobody_can_read_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("docs.db"), &key(6)).unwrap();
    let err = store
        .put(&[
            doc("ok", "A", "x", &["public"]),
            doc("orphan", "B", "y", &[]),
        ])
        .unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("`orphan`"), "{err}");
    assert!(store.load().unwrap().is_empty(), "nothing written");
}

#[test]
fn version_sees_another_handles_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.db");
    let mut writer = Store::open(&path, &key(7)).unwrap();
    let reader = Store::open(&path, &key(7)).unwrap();
    let v0 = reader.version().unwrap();
    assert_eq!(reader.version().unwrap(), v0);
    writer.put(&[doc("a", "A", "x", &["public"])]).unwrap();
    let v1 = reader.version().unwrap();
    assert_ne!(v1, v0);
    writer.remove("a").unwrap();
    let v2 = reader.version().unwrap();
    assert_ne!(v2, v1);
    assert_eq!(writer.version().unwrap(), v2);
    writer.remove("missing").unwrap();
    assert_eq!(reader.version().unwrap(), v2);
}

#[test]
fn replayed_and_removed_records_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.db");
    let mut store = Store::open(&path, &key(1)).unwrap();
    store
        .put(&[
            doc("a", "A", "old", &["public"]),
            doc("b", "B", "b", &["public"]),
        ])
        .unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let (nonce, sealed): (Vec<u8>, Vec<u8>) = raw
        .query_row(
            "SELECT nonce, sealed FROM docs ORDER BY seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Narrow a's ACL, then put its old, wider record back: the load refuses.
    store
        .put(&[doc("a", "A", "new", &["group:restricted"])])
        .unwrap();
    raw.execute(
        "UPDATE docs SET nonce = ?1, sealed = ?2 WHERE seq = (SELECT min(seq) FROM docs)",
        rusqlite::params![nonce, sealed],
    )
    .unwrap();
    assert!(matches!(store.load(), Err(Error::Incomplete)));
    // A later write does not vouch for the replayed record.
    assert!(matches!(
        store.put(&[doc("c", "C", "c", &["public"])]),
        Err(Error::Incomplete)
    ));
    // A record deleted outside Warden is noticed too.
    let other = dir.path().join("other.db");
    let mut store = Store::open(&other, &key(1)).unwrap();
    store
        .put(&[
            doc("a", "A", "a", &["public"]),
            doc("b", "B", "b", &["public"]),
        ])
        .unwrap();
    assert!(store.load().is_ok());
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute(
            "DELETE FROM docs WHERE seq = (SELECT max(seq) FROM docs)",
            [],
        )
        .unwrap();
    assert!(matches!(store.load(), Err(Error::Incomplete)));
}
