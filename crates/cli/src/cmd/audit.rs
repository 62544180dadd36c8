//! `warden audit tail | verify | export`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use warden_app::audit_cmd;
use warden_app::env::Env;
use warden_app::exit;

use crate::args::{AuditCommand, AuditFile};

fn path(file: &AuditFile, env: &Env) -> anyhow::Result<PathBuf> {
    match &file.file {
        Some(p) => Ok(p.clone()),
        None => Ok(super::load(&file.config, env)?.audit_path()),
    }
}

pub fn run(cmd: AuditCommand, env: &Env) -> i32 {
    let result = match cmd {
        AuditCommand::Tail(a) => path(&a.file, env)
            .and_then(|p| audit_cmd::tail(&p, a.lines, a.json, &mut std::io::stdout().lock()))
            .map(|()| exit::OK),
        AuditCommand::Verify(a) => path(&a.file, env).and_then(|p| verify(&p, a.anchor.as_deref())),
        AuditCommand::Export(a) => path(&a.file, env).and_then(|p| {
            let n = match &a.output {
                Some(out) => {
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(out)
                            .with_context(|| format!("cannot create `{}`", out.display()))?,
                    );
                    let n = audit_cmd::export(&p, &mut f)?;
                    f.flush()?;
                    n
                }
                None => audit_cmd::export(&p, &mut std::io::stdout().lock())?,
            };
            eprintln!("exported {n} records");
            Ok(exit::OK)
        }),
    };
    result.unwrap_or_else(|e| super::fail(&e))
}

fn verify(path: &std::path::Path, anchor: Option<&str>) -> anyhow::Result<i32> {
    if !path.exists() {
        anyhow::bail!("no audit log at `{}`", path.display());
    }
    let anchor = match anchor {
        Some(text) => {
            let (seq, hash) = text.split_once(':').context("--anchor must be SEQ:HASH")?;
            Some((
                seq.parse::<i64>()
                    .context("--anchor SEQ must be a number")?,
                hash,
            ))
        }
        None => None,
    };
    let report = warden_audit::verify(path, anchor)?;
    match &report.problem {
        None => {
            let head = report
                .head
                .as_ref()
                .map_or_else(|| "empty".to_owned(), |(s, h)| format!("head {s}:{h}"));
            println!("ok: {} records, chain intact, {head}", report.records);
            Ok(exit::OK)
        }
        Some(p) => {
            println!("TAMPERED: first bad record is {}: {}", p.seq, p.what);
            Ok(exit::CHECK_FAILED)
        }
    }
}
