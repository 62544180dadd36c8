//! `warden train`: fits the injection classifier on labelled corpora and a benign set, picks
//! the threshold for 1% false positives on held-out benign text, and writes the weights file.

use std::path::Path;

use anyhow::{Context, Result};
use warden_detect::Input;
use warden_detect::injection::train::{self, Example, Options};

use super::{field, read_jsonl};

/// What training did.
#[derive(Debug)]
pub struct Report {
    pub positives: usize,
    pub negatives: usize,
    pub held_out_benign: usize,
    pub threshold: f32,
    pub bytes: usize,
}

/// Whether a benign text is held out (for the threshold) rather than trained on: a stable
/// hash of the text, so the split does not depend on file order.
fn held_out(text: &str) -> bool {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    h % 4 == 0
}

/// Trains from `corpora` (injection JSONL: `text`, `label`, optional `payload`) and `benign`
/// (JSONL with `text`), writing the model to `out`. Families named in `exclude` are left out of
/// training (to measure generalization to unseen attack families).
pub fn run(corpora: &[&Path], benign: &[&Path], exclude: &[String], out: &Path) -> Result<Report> {
    let mut examples = Vec::new();
    let mut held = Vec::new();
    for f in corpora {
        for row in read_jsonl(f)? {
            let fam = field(&row, "family");
            if exclude
                .iter()
                .any(|x| fam == x || fam.starts_with(&format!("{x}/")))
            {
                continue;
            }
            match field(&row, "label") {
                "injection" => {
                    let payload = field(&row, "payload");
                    let text = if payload.is_empty() {
                        field(&row, "text")
                    } else {
                        payload
                    };
                    examples.push(Example {
                        text: text.to_owned(),
                        positive: true,
                    });
                }
                "benign" => benign_text(field(&row, "text"), &mut examples, &mut held),
                _ => {}
            }
        }
    }
    for f in benign {
        for row in read_jsonl(f)? {
            benign_text(field(&row, "text"), &mut examples, &mut held);
        }
    }
    // Quantized, as it will ship and be scored.
    let mut model = train::train(&examples, Options::default());
    let scores: Vec<f32> = held
        .iter()
        .map(|t| warden_detect::injection::score_with(&Input::new(t), &model).value)
        .collect();
    model.threshold = train::threshold_at(&scores, 0.01);
    std::fs::write(out, model.to_bytes())
        .with_context(|| format!("cannot write `{}`", out.display()))?;
    Ok(Report {
        positives: examples.iter().filter(|e| e.positive).count(),
        negatives: examples.iter().filter(|e| !e.positive).count(),
        held_out_benign: held.len(),
        threshold: model.threshold,
        bytes: model.to_bytes().len(),
    })
}

/// A benign text goes to training or, by its hash, to the held-out set that sets the threshold.
fn benign_text(text: &str, examples: &mut Vec<Example>, held: &mut Vec<String>) {
    if held_out(text) {
        held.push(text.to_owned());
    } else {
        examples.push(Example {
            text: text.to_owned(),
            positive: false,
        });
    }
}
