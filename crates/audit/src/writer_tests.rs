use serde_json::json;
use warden_types::AuditKind;

use super::*;
use crate::{Reader, verify};

fn event(n: i64) -> AuditEvent {
    AuditEvent::new(
        AuditKind::Decision,
        json!({ "n": n, "tool": "demo/refund" }),
    )
}

fn write(path: &Path, n: i64) {
    let log = Log::open(path, Durability::ProcessCrash).unwrap();
    let start = if path.exists() {
        Reader::open(path).unwrap().count().unwrap().1
    } else {
        0
    };
    for i in 1..=n {
        assert_eq!(log.append_blocking(event(i)).unwrap(), start + i);
    }
    log.close();
}

/// A connection to `path` that may change and delete records (the triggers are dropped).
pub(crate) fn untriggered(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    conn
}

fn tamper(path: &Path, sql: &str) {
    untriggered(path).execute_batch(sql).unwrap();
}

pub(crate) fn first_problem(path: &Path) -> (i64, String) {
    let report = verify(path, None).unwrap();
    let p = report.problem.expect("tampering must be found");
    (p.seq, p.what)
}

#[test]
fn intact_chain_verifies_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write(&path, 10);
    write(&path, 5); // a second writer continues the same chain
    let report = verify(&path, None).unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.records, 15);
    assert_eq!(Reader::open(&path).unwrap().tail(3).unwrap().len(), 3);
}

#[test]
fn modified_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write(&path, 10);
    tamper(
        &path,
        r#"UPDATE audit SET body = '{"n":4,"tool":"demo/other"}' WHERE seq = 4"#,
    );
    let (seq, what) = first_problem(&path);
    assert_eq!(seq, 4);
    assert!(what.contains("modified"), "{what}");
}

#[test]
fn deleted_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write(&path, 10);
    tamper(&path, "DELETE FROM audit WHERE seq = 6");
    let (seq, what) = first_problem(&path);
    assert_eq!(seq, 6);
    assert!(what.contains("missing"), "{what}");
}

#[test]
fn inserted_record_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write(&path, 10);
    // Make room at 5 by shifting later records up, then insert a forged record whose own hash
    // is consistent with its content and claims to follow record 4.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    conn.execute_batch("UPDATE audit SET seq = seq + 100 WHERE seq >= 5; UPDATE audit SET seq = seq - 99 WHERE seq >= 105;").unwrap();
    let prev: Vec<u8> = conn
        .query_row("SELECT hash FROM audit WHERE seq = 4", [], |r| r.get(0))
        .unwrap();
    let prev: [u8; 32] = prev.try_into().unwrap();
    let body = r#"{"forged":true}"#;
    let hash = chain_hash(&prev, 5, "2026-01-01T00:00:00Z", "decision", body);
    conn.execute(
        "INSERT INTO audit VALUES (5, '2026-01-01T00:00:00Z', 'decision', ?1, ?2, ?3)",
        params![body, prev, hash],
    )
    .unwrap();
    let (seq, what) = first_problem(&path);
    assert_eq!(
        seq, 6,
        "the forged record links, the shifted one after it cannot: {what}"
    );
}

#[test]
fn reordered_records_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write(&path, 10);
    tamper(
        &path,
        "UPDATE audit SET seq = -3 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 7; UPDATE audit SET seq = 7 WHERE seq = -3;",
    );
    let (seq, _) = first_problem(&path);
    assert_eq!(seq, 3);
}

#[test]
fn truncation_is_found_with_an_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write(&path, 10);
    let head = verify(&path, None).unwrap().head.unwrap();
    tamper(&path, "DELETE FROM audit WHERE seq >= 9");
    assert!(
        verify(&path, None).unwrap().ok(),
        "a cut tail alone keeps a valid chain"
    );
    let report = verify(&path, Some((head.0, &head.1))).unwrap();
    assert_eq!(report.problem.unwrap().seq, 10);
}

#[test]
fn updates_are_refused_by_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    write(&path, 2);
    let conn = Connection::open(&path).unwrap();
    let err = conn
        .execute("DELETE FROM audit WHERE seq = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("append-only"));
}

/// Frames in the WAL as a fresh connection finds it (a passive checkpoint reports them).
fn wal_frames(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    checkpoint(&conn, "PASSIVE").unwrap().0
}

#[test]
fn the_wal_starts_over_under_a_steady_stream_of_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = Log::open(&path, Durability::ProcessCrash).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (log, stop) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let body = json!({ "n": n, "payload": "x".repeat(crate::INLINE_MAX / 2) });
                log.append_blocking(AuditEvent::new(AuditKind::Decision, body))
                    .unwrap();
            }
            n
        })
    };
    // Commits never pause, so without the held step no commit would find the WAL fully
    // copied and it would only grow. A fast writer keeps pace with the passes that do not
    // hold commits back; past this size the held step runs anyway.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while wal_frames(&path) <= WAL_HELD_ANYWAY_FRAMES {
        assert!(std::time::Instant::now() < deadline, "the writer stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
    let checkpointer = Connection::open(&path).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut smallest = i64::MAX;
    // The background checkpointer may run at the same moment and make a pass give up.
    for _ in 0..3 {
        log.inner.checkpoint(&checkpointer, Some(&file));
        std::thread::sleep(Duration::from_millis(20));
        smallest = smallest.min(wal_frames(&path));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        smallest < WAL_RESTART_FRAMES,
        "the WAL never started over: {smallest} frames after checkpoints"
    );
    log.close();
    let report = verify(&path, None).unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.records, written);
}

/// Appends 50 records from 50 tasks of one runtime thread; the number of distinct commit
/// times among them (every record of a transaction carries its commit's time) and their
/// sequence numbers, sorted.
fn concurrent_appends(path: &Path, gather: bool) -> (usize, Vec<i64>) {
    let log = Log::open(path, Durability::ProcessCrash).unwrap();
    if gather {
        log.gather();
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut seqs = rt.block_on(async {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move { log.append(event(i)).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs
    });
    log.close();
    seqs.sort_unstable();
    let mut times = std::collections::HashSet::new();
    Reader::open(path)
        .unwrap()
        .each(1, |r| {
            times.insert(r.ts);
            Ok(())
        })
        .unwrap();
    assert!(verify(path, None).unwrap().ok());
    (times.len(), seqs)
}

#[test]
fn gathered_appends_share_commits_and_each_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let all: Vec<i64> = (1..=50).collect();
    let (commits, seqs) = concurrent_appends(&dir.path().join("alone.db"), false);
    assert_eq!(seqs, all);
    assert!(commits > 40, "without gathering: {commits} commits");
    let (commits, seqs) = concurrent_appends(&dir.path().join("gathered.db"), true);
    assert_eq!(seqs, all);
    // The background thread may commit some of them apart; the rest share one commit.
    assert!(commits <= 2, "gathered: {commits} commits");

    // An append dropped before it is awaited is still committed.
    let path = dir.path().join("dropped.db");
    let log = Log::open(&path, Durability::ProcessCrash).unwrap();
    log.gather();
    drop(log.append_ref(&event(1)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(log.flush()).unwrap();
    assert_eq!(Reader::open(&path).unwrap().count().unwrap(), (1, 1));
    log.close();
}
