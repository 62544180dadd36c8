//! Newline-delimited JSON-RPC framing (MCP stdio) with a hard limit on message size.
//!
//! An oversized line is never buffered whole: Warden keeps its first bytes (to find the
//! request id and answer it), skips the rest up to the newline and carries on with the next
//! message.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Bytes of an oversized message kept for diagnostics and id recovery.
pub const PREFIX_KEPT: usize = 64 * 1024;

/// One frame read from a stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line without its terminator (`\n` or `\r\n`).
    Line(Vec<u8>),
    /// A line longer than the limit: its total length and its first bytes.
    Oversized {
        /// Total length in bytes.
        len: usize,
        /// The first [`PREFIX_KEPT`] bytes.
        prefix: Vec<u8>,
    },
    /// End of stream.
    Eof,
}

/// Reads newline-delimited frames of at most `limit` bytes.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    limit: usize,
    buf: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R, limit: usize) -> Self {
        Self {
            inner,
            limit,
            buf: Vec::new(),
        }
    }

    /// Reads the next non-empty frame.
    pub async fn next(&mut self) -> std::io::Result<Frame> {
        loop {
            match self.read_line().await? {
                Frame::Line(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
                frame => return Ok(frame),
            }
        }
    }

    async fn read_line(&mut self) -> std::io::Result<Frame> {
        self.buf.clear();
        let mut total = 0usize;
        let mut oversized = false;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if total == 0 {
                    return Ok(Frame::Eof);
                }
                // A last line without a newline still counts as a message.
                break;
            }
            let (chunk, found) = match memchr::memchr(b'\n', available) {
                Some(i) => (available.get(..i).unwrap_or_default(), Some(i)),
                None => (available, None),
            };
            total += chunk.len();
            if total > self.limit {
                oversized = true;
            }
            let room = if oversized { PREFIX_KEPT } else { self.limit };
            let keep = chunk.len().min(room.saturating_sub(self.buf.len()));
            if found.is_none() && self.buf.is_empty() {
                // A line longer than what is buffered: room for as much again, so that its end
                // (often a few bytes in the next read) does not move the whole line.
                self.buf.reserve(keep.saturating_mul(2).min(room));
            }
            self.buf
                .extend_from_slice(chunk.get(..keep).unwrap_or_default());
            let consumed = found.map_or(chunk.len(), |i| i + 1);
            self.inner.consume(consumed);
            if found.is_some() {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') && !oversized {
            self.buf.pop();
        }
        let line = std::mem::take(&mut self.buf);
        Ok(if oversized {
            Frame::Oversized {
                len: total,
                prefix: line,
            }
        } else {
            Frame::Line(line)
        })
    }
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
