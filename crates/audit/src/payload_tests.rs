use std::path::Path;

use rusqlite::Connection;
use serde_json::{Value, json};
use warden_types::{AuditEvent, AuditKind};

use super::*;
use crate::writer::tests::{first_problem, untriggered};
use crate::{Durability, Log, Reader, verify};

/// A decision with `size` bytes of arguments, and its body as compact JSON.
fn large(n: usize, size: usize) -> Value {
    json!({
        "agent": "a",
        "n": n,
        "arguments": {"path": format!("/srv/{n}"), "text": format!("{n}:{}", "é\"\\\n".repeat(size / 8))},
        "decision": {"effect": "allow"},
    })
}

fn append_all(path: &Path, durability: Durability, bodies: &[Value]) {
    let log = Log::open(path, durability).unwrap();
    for body in bodies {
        log.append_blocking(AuditEvent::new(AuditKind::Decision, body.clone()))
            .unwrap();
    }
    log.close();
}

fn bodies(path: &Path) -> Vec<(Value, Option<String>)> {
    let mut out = Vec::new();
    Reader::open(path)
        .unwrap()
        .each(1, |r| {
            assert_eq!(r.problem, None, "record {}", r.seq);
            out.push((serde_json::from_str(&r.body).unwrap(), r.stored));
            Ok(())
        })
        .unwrap();
    out
}

#[test]
fn large_values_live_beside_the_record_and_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let sent = vec![
        large(1, 64 * 1024),
        json!({"agent": "a", "arguments": {"small": true}}),
        large(3, INLINE_MAX + 64),
        json!({"agent": "a", "arguments": "x".repeat(INLINE_MAX - 2)}), // exactly INLINE_MAX
        large(5, 300 * 1024),
        // Numbers whose shortest form a parse and rewrite could change come back as written.
        json!({"x": 0.300_000_000_000_000_04, "arguments": {"t": "y".repeat(INLINE_MAX), "f": 1e-7, "g": 123_456_789.123_456_78}}),
        // Not an object, with the reserved key nested: nothing is external.
        json!([{"$payloads": {"arguments": {"at": 0, "len": 1, "blake3": "00"}}}]),
    ];
    append_all(&path, Durability::ProcessCrash, &sent);
    let mut exact = Vec::new();
    Reader::open(&path)
        .unwrap()
        .each(1, |r| {
            exact.push(r.body);
            Ok(())
        })
        .unwrap();
    for (body, sent) in exact.iter().zip(&sent) {
        assert_eq!(
            body.as_bytes(),
            warden_types::json::to_vec(sent),
            "byte for byte"
        );
    }
    let read = bodies(&path);
    assert_eq!(read.len(), sent.len());
    for (i, ((body, stored), sent)) in read.iter().zip(&sent).enumerate() {
        assert_eq!(body, sent, "record {}", i + 1);
        let inline =
            !sent.is_object() || warden_types::json::encoded_len(&sent["arguments"]) <= INLINE_MAX;
        assert_eq!(stored.is_none(), inline, "record {}", i + 1);
        if let Some(stored) = stored {
            assert!(stored.len() < 512, "stored body: {stored}");
            let stored: Value = serde_json::from_str(stored).unwrap();
            assert_eq!(stored["arguments"], Value::Null);
            assert!(stored[KEY]["arguments"]["blake3"].is_string());
        }
    }
    // The key order of the body is kept.
    let keys: Vec<&String> = read[0].0.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["agent", "n", "arguments", "decision"]);
    let side = std::fs::metadata(side_path(&path)).unwrap().len();
    assert!(side > 364 * 1024, "side file is {side} bytes");
    assert!(verify(&path, None).unwrap().ok());
}

#[test]
fn a_field_received_as_text_is_stored_as_that_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let arguments = json!({"text": "x".repeat(INLINE_MAX * 2), "n": 1});
    // The text as a client might have written it: spaces, an escape, another key order is
    // not allowed (it would not be the same value), so only spacing and escapes differ.
    let text = format!(
        r#"{{ "text" : "{}x", "n":1 }}"#,
        "x".repeat(INLINE_MAX * 2 - 1)
    );
    let message = format!(r#"{{"params":{{"arguments":{text}}}}}"#);
    let start = message.find("{ \"text\"").unwrap();
    let verbatim = |range: std::ops::Range<usize>| warden_types::Verbatim {
        key: "arguments".to_owned(),
        buffer: std::sync::Arc::new(message.clone().into_bytes()),
        range,
    };
    let log = Log::open(&path, Durability::ProcessCrash).unwrap();
    let mut event = AuditEvent::new(
        AuditKind::Decision,
        json!({"agent": "a", "arguments": arguments}),
    );
    event.verbatim = Some(verbatim(start..start + text.len()));
    log.append_blocking(event).unwrap();
    // A small field is serialized as always, whatever text comes with it.
    let mut event = AuditEvent::new(
        AuditKind::Decision,
        json!({"agent": "a", "arguments": {"n": 1}}),
    );
    event.verbatim = Some(verbatim(0..2));
    log.append_blocking(event).unwrap();
    log.close();
    let got = bodies(&path);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0["arguments"], arguments);
    assert!(got[0].1.is_some(), "the large field is in the side file");
    let side = std::fs::read(dir.path().join("audit.db-payloads")).unwrap();
    assert!(
        side.windows(text.len()).any(|w| w == text.as_bytes()),
        "stored as received"
    );
    assert_eq!(got[1].0["arguments"], json!({"n": 1}));
    assert!(got[1].1.is_none());
    assert!(verify(&path, None).unwrap().ok());
}

#[test]
fn a_changed_payload_is_named_at_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let sent: Vec<Value> = (1..=6).map(|n| large(n, 20 * 1024)).collect();
    append_all(&path, Durability::ProcessCrash, &sent);
    let stored = bodies(&path)[3].1.clone().unwrap();
    let at = serde_json::from_str::<Value>(&stored).unwrap()[KEY]["arguments"]["at"]
        .as_u64()
        .unwrap();
    // One byte of record 4's value, in place: `/srv/4` becomes `/srv/5`.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(side_path(&path))
        .unwrap();
    let mut bytes = vec![0; 32];
    std::fs::File::open(side_path(&path))
        .unwrap()
        .read_exact_at(&mut bytes, at)
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let offset = text.find("/srv/4").unwrap() as u64 + 5;
    file.write_all_at(b"5", at + offset).unwrap();
    let (seq, what) = first_problem(&path);
    assert_eq!(seq, 4);
    assert!(what.contains("does not match its digest"), "{what}");
    // Readers do not show a value nobody appended, and still show every other record.
    let records = Reader::open(&path).unwrap().tail(10).unwrap();
    assert_eq!(records.len(), 6);
    for r in &records {
        assert_eq!(r.problem.is_some(), r.seq == 4, "record {}", r.seq);
    }
    let four: Value = serde_json::from_str(&records[3].body).unwrap();
    assert_eq!(
        four["arguments"],
        Value::Null,
        "the stored form, not the changed value"
    );
    assert!(four[KEY]["arguments"]["blake3"].is_string());
    // Exported, the record says so.
    let exported = serde_json::to_value(&records[3]).unwrap();
    assert!(exported["problem"].as_str().unwrap().contains("digest"));
    assert!(
        serde_json::to_value(&records[4])
            .unwrap()
            .get("problem")
            .is_none()
    );
}

#[test]
fn a_cut_or_missing_payload_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let mut sent = vec![json!({"agent": "a", "small": 1})];
    sent.extend((2..=5).map(|n| large(n, 20 * 1024)));
    append_all(&path, Durability::ProcessCrash, &sent);
    let side = side_path(&path);
    let len = std::fs::metadata(&side).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&side)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let (seq, what) = first_problem(&path);
    assert_eq!(seq, 5);
    assert!(what.contains("ends at byte"), "{what}");
    std::fs::remove_file(&side).unwrap();
    let (seq, what) = first_problem(&path);
    assert_eq!(seq, 2, "the first record naming a payload");
    assert!(what.contains("-payloads"), "{what}");
}

#[test]
fn a_moved_reference_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let sent: Vec<Value> = (1..=3).map(|n| large(n, 20 * 1024)).collect();
    append_all(&path, Durability::ProcessCrash, &sent);
    // Point record 3 at record 2's value, digest and all: the value reads back intact, but the
    // stored body is no longer what was hashed.
    let read = bodies(&path);
    let two: Value = serde_json::from_str(read[1].1.as_ref().unwrap()).unwrap();
    let mut three: Value = serde_json::from_str(read[2].1.as_ref().unwrap()).unwrap();
    three[KEY] = two[KEY].clone();
    untriggered(&path)
        .execute(
            "UPDATE audit SET body = ?1 WHERE seq = 3",
            [three.to_string()],
        )
        .unwrap();
    let (seq, what) = first_problem(&path);
    assert_eq!(seq, 3);
    assert!(what.contains("modified"), "{what}");
}

#[test]
fn bytes_left_by_a_failed_writer_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    append_all(&path, Durability::PowerLoss, &[large(1, 20 * 1024)]);
    // A writer that appended its value and died before its commit.
    let side = side_path(&path);
    let mut junk = std::fs::read(&side).unwrap();
    junk.truncate(1000);
    let end = std::fs::metadata(&side).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&side)
        .unwrap()
        .write_all_at(&junk, end)
        .unwrap();
    append_all(
        &path,
        Durability::PowerLoss,
        &[large(2, 20 * 1024), large(3, 20 * 1024)],
    );
    let read = bodies(&path);
    assert_eq!(read[2].0, large(3, 20 * 1024));
    assert!(verify(&path, None).unwrap().ok());
}

#[test]
fn writers_sharing_a_file_keep_their_values_apart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                // A log of its own, as a second process would have.
                let log = Log::open(&path, Durability::ProcessCrash).unwrap();
                for i in 0..25 {
                    let body = large(w * 100 + i, 10 * 1024 + i * 97);
                    log.append_blocking(AuditEvent::new(AuditKind::Decision, body))
                        .unwrap();
                }
                log.close();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let read = bodies(&path);
    assert_eq!(read.len(), 100);
    for (body, _) in &read {
        let n = body["n"].as_u64().unwrap() as usize;
        assert_eq!(body, &large(n, 10 * 1024 + (n % 100) * 97));
    }
    assert!(verify(&path, None).unwrap().ok());
}

#[test]
fn the_reserved_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = Log::open(&path, Durability::ProcessCrash).unwrap();
    let err = log
        .append_blocking(AuditEvent::new(
            AuditKind::Decision,
            json!({"agent": "a", KEY: {}}),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("reserved key"), "{err}");
    // The log goes on.
    log.append_blocking(AuditEvent::new(AuditKind::Decision, json!({"agent": "a"})))
        .unwrap();
}

#[test]
fn a_failed_commit_after_its_values_were_written_loses_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = Log::open(&path, Durability::ProcessCrash).unwrap();
    let append = |body: Value| log.append_blocking(AuditEvent::new(AuditKind::Decision, body));
    append(large(1, 20 * 1024)).unwrap();
    // The store refuses the next record after its value is already in the side file.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit WHEN NEW.body LIKE '%\"n\":2,%' \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
        )
        .unwrap();
    let err = append(large(2, 20 * 1024)).unwrap_err();
    assert!(err.to_string().contains("refused for the test"), "{err}");
    assert_eq!(append(large(3, 20 * 1024)).unwrap(), 2);
    log.close();
    let read = bodies(&path);
    assert_eq!(read.len(), 2);
    assert_eq!(read[0].0, large(1, 20 * 1024));
    assert_eq!(read[1].0, large(3, 20 * 1024));
    assert!(verify(&path, None).unwrap().ok());
}

#[test]
fn hostile_stored_bodies_and_side_files_are_clear_errors() {
    let side = br#""hello""#.to_vec();
    let digest = blake3::hash(&side).to_hex().to_string();
    let read = |at: u64, len: u64| {
        let end = at.checked_add(len).ok_or("overflow")?;
        side.get(at as usize..end as usize)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "past the end".to_owned())
    };
    let place = |at: &str, len: &str, d: &str| {
        format!(r#"{{"a":null,"$payloads":{{"a":{{"at":{at},"len":{len},"blake3":"{d}"}}}}}}"#)
    };
    let ok = resolve_with(&place("0", "7", &digest), read, "side").unwrap();
    assert_eq!(ok.as_deref(), Some(r#"{"a":"hello"}"#));
    for (stored, expect) in [
        (place("0", "6", &digest), "does not match"),
        (place("1", "7", &digest), "cannot be read"),
        (
            place("18446744073709551615", "7", &digest),
            "cannot be read",
        ),
        (
            place("0", "18446744073709551615", &digest),
            "cannot be read",
        ),
        (place("-1", "7", &digest), "malformed"),
        (place("0", "7", "zz"), "does not match"),
        (r#"{"a":null,"$payloads":[1]}"#.to_owned(), "not an object"),
        (r#"{"a":null,"$payloads":{"a":7}}"#.to_owned(), "malformed"),
    ] {
        let err = resolve_with(&stored, read, "side").unwrap_err();
        assert!(err.contains(expect), "{stored}: {err}");
    }
    // A value that is not JSON, with a matching digest.
    let junk = b"{not json".to_vec();
    let d = blake3::hash(&junk).to_hex().to_string();
    let err = resolve_with(&place("0", "9", &d), |_, _| Ok(junk.clone()), "side").unwrap_err();
    assert!(err.contains("not JSON"), "{err}");
    // Text that only looks like the key, and bodies that are not objects, are left alone.
    for stored in [
        r#"{"t":"\"$payloads\":"}"#,
        r#"["$payloads":1]"#,
        r#"[{"$payloads":{}}]"#,
        "7",
    ] {
        assert_eq!(
            resolve_with(stored, read, "side").unwrap(),
            None,
            "{stored}"
        );
    }
}

/// Bytes of `path` in the page cache, as util-linux's `fincore` counts them.
fn cached(path: &Path) -> u64 {
    #[expect(
        clippy::disallowed_methods,
        reason = "a test's probe of the page cache, not a launch on anyone's behalf"
    )]
    let out = std::process::Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .arg(path)
        .output()
        .expect("fincore (util-linux) runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn flushed_pages_are_let_go_of_and_appends_go_on() {
    let dir = tempfile::tempdir().unwrap();
    // A side file written without the log: its pages are cached until flushed.
    let plain = dir.path().join("plain.db");
    std::fs::write(side_path(&plain), vec![7; 200 * 1024 + 99]).unwrap();
    assert!(
        cached(&side_path(&plain)) >= 200 * 1024,
        "written pages start out cached"
    );
    let mut flusher = Flusher::new(&plain);
    flusher.flush();
    // All but the page the file ends in, which the next append writes into.
    assert_eq!(flusher.released, 200 * 1024);
    assert!(cached(&side_path(&plain)) <= PAGE);
    flusher.flush(); // nothing new: nothing to do
    assert_eq!(flusher.released, 200 * 1024);
    // A file that does not exist yet is not an error.
    let mut early = Flusher::new(&dir.path().join("other.db"));
    early.flush();
    assert_eq!(early.released, 0);

    // The log's checkpointer does the same, and appends after a release (into the kept page
    // and beyond) read back unchanged.
    let path = dir.path().join("audit.db");
    let side = side_path(&path);
    let sent: Vec<Value> = (0..12).map(|n| large(n, 48 * 1024 + 777)).collect();
    append_all(&path, Durability::ProcessCrash, &sent[..6]);
    let len = std::fs::metadata(&side).unwrap().len();
    assert!(len > 6 * 48 * 1024 && !len.is_multiple_of(PAGE), "{len}");
    assert!(
        cached(&side) <= PAGE,
        "{} bytes still cached",
        cached(&side)
    );
    append_all(&path, Durability::PowerLoss, &sent[6..]);
    assert!(
        cached(&side) <= PAGE,
        "{} bytes still cached",
        cached(&side)
    );
    let back: Vec<Value> = bodies(&path).into_iter().map(|(b, _)| b).collect();
    assert_eq!(back, sent);
    assert_eq!(verify(&path, None).unwrap().problem, None);
}
