//! The injection classifier's weights: a logistic regression over hashed word features,
//! quantized to one signed byte per bucket, and one weight per phrase rule. Trained by
//! `warden train` from the corpora (see `docs/detectors.md`); the file is committed and compiled
//! in.
//!
//! Format `WDNINJ02`: little-endian `u32` bucket bits, `f32` scale, `f32` bias, `f32` threshold,
//! one `i8` per bucket, `u32` rule count, one `f32` per rule. Rule weights are kept apart and
//! unquantized: they start from a prior in training and are much larger than word weights, which
//! would otherwise share their coarse quantization step. `WDNINJ01` files (rules hashed into the
//! buckets) still load, each rule weighing what its bucket weighed.

use super::features::{self, BUCKET_BITS, BUCKETS};
use super::rules::RULES;

/// Loaded weights, held as they are stored: bucket weights stay one signed byte each (128 KiB
/// for 2^17 buckets, where `f32`s took 512 KiB and their random lookups, about two per token,
/// missed the per-core cache), multiplied by `scale` when read.
#[derive(Debug, Clone)]
pub struct Model {
    /// Quantized bucket weights.
    buckets: Vec<i8>,
    /// The weight of one quantization step.
    scale: f32,
    /// One weight per rule ([`features::rule_feature`]), unquantized.
    rules: Vec<f32>,
    /// Intercept.
    pub bias: f32,
    /// Score at or above which a text is reported (chosen at training for a 1% false-positive
    /// rate on benign text).
    pub threshold: f32,
}

const MAGIC_V1: &[u8; 8] = b"WDNINJ01";
const MAGIC: &[u8; 8] = b"WDNINJ02";

/// The weights that ship with Warden.
pub static SHIPPED: &[u8] = include_bytes!("../../model/injection.bin");

impl Model {
    /// Quantizes trained weights (one per bucket, then one per rule; missing ones are zero):
    /// bucket weights to `i8` against the largest bucket weight alone, so a large rule weight
    /// does not coarsen them.
    pub fn from_weights(weights: &[f32], bias: f32, threshold: f32) -> Self {
        let (buckets, rules) = weights.split_at(BUCKETS.min(weights.len()));
        let max = buckets.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-6);
        let scale = max / 127.0;
        let mut q: Vec<i8> = buckets
            .iter()
            .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        q.resize(BUCKETS, 0);
        let mut rules = rules.to_vec();
        rules.resize(RULES.len(), 0.0);
        Self {
            buckets: q,
            scale,
            rules,
            bias,
            threshold,
        }
    }

    /// The weight of feature `index` (a bucket, or [`features::rule_feature`]); zero past the end.
    #[inline]
    pub fn weight(&self, index: usize) -> f32 {
        match self.buckets.get(index) {
            Some(&q) => f32::from(q) * self.scale,
            None => self
                .rules
                .get(index - self.buckets.len())
                .copied()
                .unwrap_or(0.0),
        }
    }

    /// Parses a weights file; `None` if it is not one (wrong magic, size, bucket or rule count).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let header = bytes.get(..24)?;
        let v1 = header.get(..8)? == MAGIC_V1;
        if !v1 && header.get(..8)? != MAGIC {
            return None;
        }
        let word = |at: usize| -> Option<[u8; 4]> { header.get(at..at + 4)?.try_into().ok() };
        let bits = u32::from_le_bytes(word(8)?);
        let scale = f32::from_le_bytes(word(12)?);
        let bias = f32::from_le_bytes(word(16)?);
        let threshold = f32::from_le_bytes(word(20)?);
        let body = bytes.get(24..24 + BUCKETS)?;
        if bits != BUCKET_BITS
            || !scale.is_finite()
            || !bias.is_finite()
            || !(0.0..=1.0).contains(&threshold)
        {
            return None;
        }
        let buckets: Vec<i8> = body.iter().map(|&b| b as i8).collect();
        let rest = bytes.get(24 + BUCKETS..)?;
        let mut rules = Vec::with_capacity(RULES.len());
        if v1 {
            // Rules shared the buckets: each rule's weight is its bucket's.
            if !rest.is_empty() {
                return None;
            }
            for i in 0..RULES.len() {
                let q = buckets.get(features::bucket(features::rule(i))).copied();
                rules.push(f32::from(q.unwrap_or(0)) * scale);
            }
        } else {
            let count = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let stored = rest.get(4..)?;
            if count != RULES.len() || stored.len() != count * 4 {
                return None;
            }
            for w in stored.chunks_exact(4) {
                let w = f32::from_le_bytes(w.try_into().ok()?);
                if !w.is_finite() {
                    return None;
                }
                rules.push(w);
            }
        }
        Some(Self {
            buckets,
            scale,
            rules,
            bias,
            threshold,
        })
    }

    /// Serializes (the weights file format above).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(28 + BUCKETS + 4 * self.rules.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BUCKET_BITS.to_le_bytes());
        out.extend_from_slice(&self.scale.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend(self.buckets.iter().map(|&q| q as u8));
        out.extend_from_slice(&(self.rules.len() as u32).to_le_bytes());
        for w in &self.rules {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// An all-zero model (every window scores sigmoid(bias)).
    pub fn zero() -> Self {
        Self::from_weights(&[], 0.0, 0.5)
    }
}
