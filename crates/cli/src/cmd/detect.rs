//! `warden scan | eval | train`.

use std::io::Read;
use std::path::Path;

use warden_app::detect;
use warden_app::exit;

use crate::args::{EvalArgs, ScanArgs, TrainArgs};

pub fn scan(args: ScanArgs) -> i32 {
    let mut input = Vec::new();
    let read = match &args.file {
        Some(p) => std::fs::read(p).map(|b| input = b),
        None => std::io::stdin().read_to_end(&mut input).map(|_| ()),
    };
    if let Err(e) = read {
        let from = args.file.as_ref().map_or_else(
            || "standard input".to_owned(),
            |p| format!("`{}`", p.display()),
        );
        return super::fail(&anyhow::anyhow!("cannot read {from}: {e}"));
    }
    let text = String::from_utf8_lossy(&input);
    let report = detect::scan::scan(&text, args.redact);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => return super::fail(&e.into()),
        }
    } else {
        print!("{}", detect::scan::table(&report, &serde_json::Value::Null));
        if let Some(r) = &report.redacted {
            match r {
                serde_json::Value::String(s) => println!("--- redacted ---\n{s}"),
                other => println!("--- redacted ---\n{other}"),
            }
        }
    }
    if report.findings.is_empty() {
        exit::OK
    } else {
        exit::CHECK_FAILED
    }
}

pub fn eval(args: EvalArgs) -> i32 {
    let files: Vec<&Path> = args.corpora.iter().map(|p| p.as_path()).collect();
    let benign: Vec<&Path> = args.benign.iter().map(|p| p.as_path()).collect();
    match detect::eval::run(&files, &benign, args.model.as_deref()) {
        Ok(reports) => {
            if args.json {
                match serde_json::to_string_pretty(&reports) {
                    Ok(s) => println!("{s}"),
                    Err(e) => return super::fail(&e.into()),
                }
            } else {
                print!("{}", detect::eval::table(&reports, args.labels));
            }
            exit::OK
        }
        Err(e) => super::fail(&e),
    }
}

pub fn train(args: TrainArgs) -> i32 {
    let files: Vec<&Path> = args.corpora.iter().map(|p| p.as_path()).collect();
    let benign: Vec<&Path> = args.benign.iter().map(|p| p.as_path()).collect();
    match detect::train::run(&files, &benign, &args.exclude_family, &args.out) {
        Ok(r) => {
            println!(
                "trained on {} injection and {} benign texts; threshold {:.4} (1% FPR on {} held-out benign); wrote {} bytes to {}",
                r.positives,
                r.negatives,
                r.threshold,
                r.held_out_benign,
                r.bytes,
                args.out.display()
            );
            exit::OK
        }
        Err(e) => super::fail(&e),
    }
}
