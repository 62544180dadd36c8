//! Durable audit appends per second: concurrent writers, each waiting for its record's commit
//! (what the proxy does before forwarding a call), for both durability levels.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;
use warden_audit::{Durability, Log};
use warden_types::{AuditEvent, AuditKind};

const RECORDS: usize = 200_000;

fn event(i: usize) -> AuditEvent {
    AuditEvent::new(
        AuditKind::Decision,
        json!({"session": "bench", "agent": "support-bot", "method": "tools/call", "request_id": i,
               "resource": "demo/refund", "arguments": {"order_id": "A-1001", "amount": 30},
               "decision": {"outcome": "allow", "policies": ["refunds-small"], "reason": "`call_tool` on `demo/refund` is permitted by policy `refunds-small`"}}),
    )
}

fn measure(durability: Durability, writers: usize, records: usize) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let log = Log::open(&dir.path().join("audit.db"), durability)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let log = Arc::new(log);
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                for i in (w..records).step_by(writers) {
                    log.append(event(i)).await?;
                }
                Ok::<_, warden_audit::Error>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    let rate = records as f64 / start.elapsed().as_secs_f64();
    log.close();
    let report = warden_audit::verify(&dir.path().join("audit.db"), None)?;
    anyhow::ensure!(
        report.ok() && report.records == records as i64,
        "chain check failed: {report:?}"
    );
    Ok(rate)
}

pub fn run() -> Result<()> {
    println!("## Durable audit appends (each writer waits for its commit; chain verified after)\n");
    println!("| durability | writers | records | appends/s |");
    println!("|---|---|---|---|");
    for (durability, name, records) in [
        (Durability::ProcessCrash, "process-crash (default)", RECORDS),
        (Durability::PowerLoss, "power-loss (fsync)", RECORDS / 4),
    ] {
        for writers in [1, 64] {
            let n = if writers == 1 { records / 10 } else { records };
            let rate = measure(durability, writers, n)?;
            println!("| {name} | {writers} | {n} | **{rate:.0}** |");
        }
    }
    println!();
    Ok(())
}
