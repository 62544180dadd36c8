//! The injection classifier's weights: a logistic regression over hashed features, quantized to
//! one signed byte per bucket. Trained by `warden train` from the corpora (see
//! `docs/detectors.md`); the file is committed and compiled in.
//!
//! Format: `WDNINJ01`, then little-endian `u32` bucket bits, `f32` scale, `f32` bias, `f32` threshold, then one
//! `i8` per bucket.

use super::features::{BUCKET_BITS, BUCKETS};

/// Loaded weights.
#[derive(Debug, Clone)]
pub struct Model {
    /// Dequantized weights, one per bucket.
    pub weights: Vec<f32>,
    /// Intercept.
    pub bias: f32,
    /// Score at or above which a text is reported (chosen at training for a 1% false-positive
    /// rate on benign text).
    pub threshold: f32,
}

const MAGIC: &[u8; 8] = b"WDNINJ01";

/// The weights that ship with Warden.
pub static SHIPPED: &[u8] = include_bytes!("../../model/injection.bin");

impl Model {
    /// Parses a weights file; `None` if it is not one (wrong magic, size or bucket count).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let header = bytes.get(..24)?;
        if header.get(..8)? != MAGIC {
            return None;
        }
        let word = |at: usize| -> Option<[u8; 4]> { header.get(at..at + 4)?.try_into().ok() };
        let bits = u32::from_le_bytes(word(8)?);
        let scale = f32::from_le_bytes(word(12)?);
        let bias = f32::from_le_bytes(word(16)?);
        let threshold = f32::from_le_bytes(word(20)?);
        let body = bytes.get(24..)?;
        if bits != BUCKET_BITS
            || body.len() != BUCKETS
            || !scale.is_finite()
            || !bias.is_finite()
            || !(0.0..=1.0).contains(&threshold)
        {
            return None;
        }
        let weights = body.iter().map(|&b| f32::from(b as i8) * scale).collect();
        Some(Self {
            weights,
            bias,
            threshold,
        })
    }

    /// Serializes, quantizing weights to `i8`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let max = self
            .weights
            .iter()
            .fold(0f32, |m, w| m.max(w.abs()))
            .max(1e-6);
        let scale = max / 127.0;
        let mut out = Vec::with_capacity(24 + BUCKETS);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BUCKET_BITS.to_le_bytes());
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend_from_slice(&self.bias.to_le_bytes());
        out.extend_from_slice(&self.threshold.to_le_bytes());
        out.extend(
            self.weights
                .iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8 as u8),
        );
        out
    }

    /// An all-zero model (every window scores sigmoid(bias)).
    pub fn zero() -> Self {
        Self {
            weights: vec![0.0; BUCKETS],
            bias: 0.0,
            threshold: 0.5,
        }
    }
}
