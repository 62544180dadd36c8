//! Chain verification: recompute every hash and check every link.

use std::path::Path;

use serde::Serialize;

use crate::{Error, GENESIS, Reader, Result, chain_hash};

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Sequence number of the first bad record (where the missing one should be, for a gap).
    pub seq: i64,
    /// What is wrong with it.
    pub what: String,
}

/// The result of checking a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Records checked.
    pub records: i64,
    /// Sequence number and hash (hex) of the last good record: keep it somewhere else to detect
    /// a later truncation of the log.
    pub head: Option<(i64, String)>,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

impl Report {
    /// Whether the whole chain is intact.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

/// Checks the whole chain of the log at `path`. `anchor` is a `(seq, hash hex)` seen earlier
/// (for example from a previous verify): if given, that record must still exist with that hash.
pub fn verify(path: &Path, anchor: Option<(i64, &str)>) -> Result<Report> {
    let reader = Reader::open(path)?;
    let mut prev = GENESIS;
    let mut expected = 1_i64;
    let mut records = 0_i64;
    let mut head = None;
    let mut problem: Option<Problem> = None;
    let mut anchor_seen = false;
    let result = reader.each(1, |rec| {
        if problem.is_some() {
            return Ok(());
        }
        records += 1;
        let found = |what: String| Some(Problem { seq: rec.seq, what });
        if rec.seq != expected {
            problem = Some(Problem {
                seq: expected,
                what: format!("record {expected} is missing (the next record is {})", rec.seq),
            });
        } else if chain_hash(&rec.prev_hash, rec.seq, &rec.ts, rec.kind.as_str(), rec.hashed_body()) != rec.hash {
            problem = found(format!("record {} was modified: its hash does not match its content", rec.seq));
        } else if let Some(why) = &rec.problem {
            problem = found(format!("record {} is unreadable: {why}", rec.seq));
        } else if rec.prev_hash != prev {
            problem = found(format!(
                "record {} does not follow record {}: a record before it was removed, inserted or reordered",
                rec.seq,
                rec.seq - 1
            ));
        } else if let Some((seq, hash)) = anchor.filter(|(seq, _)| *seq == rec.seq) {
            anchor_seen = true;
            if hex::encode(rec.hash) != hash {
                problem = found(format!("record {seq} does not match the expected anchor hash"));
            }
        }
        if problem.is_none() {
            prev = rec.hash;
            expected += 1;
            head = Some((rec.seq, hex::encode(rec.hash)));
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(Error::Corrupt { seq, message }) if problem.is_none() => {
            problem = Some(Problem {
                seq,
                what: format!("record {seq} is unreadable: {message}"),
            });
        }
        Err(e) => return Err(e),
    }
    if problem.is_none()
        && let Some((seq, _)) = anchor.filter(|_| !anchor_seen)
    {
        problem = Some(Problem {
            seq,
            what: format!("record {seq} (the anchor) is gone: the log was truncated"),
        });
    }
    Ok(Report {
        records,
        head,
        problem,
    })
}
