//! Server-sent events as Streamable HTTP uses them: a byte stream in, the `data` of each
//! event out. Incremental (chunks may split lines and events anywhere), bounded (an event over
//! the limit is an error, not unbounded memory), and tolerant of `\r\n` line ends, comments
//! (`:` lines), fields it does not use (`id`, `event`, `retry`) and empty priming events.

/// Why a stream cannot be read further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    /// The limit that was exceeded.
    pub limit: usize,
}

/// An incremental SSE reader.
#[derive(Debug)]
pub struct Parser {
    limit: usize,
    line: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
}

impl Parser {
    /// A reader that refuses events (and lines) longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            line: Vec::new(),
            data: Vec::new(),
            has_data: false,
        }
    }

    /// Feeds a chunk; calls `event` with the data of every event the chunk completes.
    pub fn feed(&mut self, chunk: &[u8], mut event: impl FnMut(&[u8])) -> Result<(), TooLarge> {
        for piece in chunk.split_inclusive(|&b| b == b'\n') {
            self.line.extend_from_slice(piece);
            if self.line.len() > self.limit.saturating_add(16) {
                return Err(TooLarge { limit: self.limit });
            }
            if piece.last() != Some(&b'\n') {
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let mut body = line.strip_suffix(b"\n").unwrap_or(&line);
            body = body.strip_suffix(b"\r").unwrap_or(body);
            self.line_done(body, &mut event)?;
        }
        Ok(())
    }

    /// The end of the stream: an event not yet ended by a blank line still counts.
    pub fn finish(&mut self, mut event: impl FnMut(&[u8])) -> Result<(), TooLarge> {
        let line = std::mem::take(&mut self.line);
        if !line.is_empty() {
            let body = line.strip_suffix(b"\r").unwrap_or(&line);
            self.line_done(body, &mut event)?;
        }
        self.dispatch(&mut event);
        Ok(())
    }

    fn line_done(&mut self, line: &[u8], event: &mut impl FnMut(&[u8])) -> Result<(), TooLarge> {
        if line.is_empty() {
            self.dispatch(event);
            return Ok(());
        }
        if let Some(value) = line.strip_prefix(b"data") {
            let value = match value.first() {
                None => value,
                Some(b':') => {
                    let v = value.get(1..).unwrap_or_default();
                    v.strip_prefix(b" ").unwrap_or(v)
                }
                // `dataX: ...` is another field.
                Some(_) => return Ok(()),
            };
            if self.has_data {
                self.data.push(b'\n');
            }
            self.data.extend_from_slice(value);
            self.has_data = true;
            if self.data.len() > self.limit {
                return Err(TooLarge { limit: self.limit });
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, event: &mut impl FnMut(&[u8])) {
        if self.has_data && !self.data.is_empty() {
            event(&self.data);
        }
        self.data.clear();
        self.has_data = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]], limit: usize) -> Result<Vec<String>, TooLarge> {
        let mut p = Parser::new(limit);
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, |d| out.push(String::from_utf8_lossy(d).into_owned()))?;
        }
        p.finish(|d| out.push(String::from_utf8_lossy(d).into_owned()))?;
        Ok(out)
    }

    #[test]
    fn reads_events_split_anywhere() {
        let stream = b"id: 1\ndata: \n\n: keep-alive\n\nevent: message\nid: 2\ndata: {\"a\":1}\n\ndata: x\r\ndata: y\r\n\r\n";
        let whole = events(&[stream], 1024).unwrap();
        assert_eq!(whole, ["{\"a\":1}", "x\ny"]);
        for cut in 0..stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(events(&[a, b], 1024).unwrap(), whole, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(events(&bytewise, 1024).unwrap(), whole);
    }

    #[test]
    fn last_event_without_blank_line_and_odd_fields() {
        assert_eq!(events(&[b"data:no-space"], 64).unwrap(), ["no-space"]);
        assert_eq!(
            events(&[b"datax: nope\ndata: yes\n\n"], 64).unwrap(),
            ["yes"]
        );
        assert!(events(&[b"retry: 10\n\n"], 64).unwrap().is_empty());
    }

    #[test]
    fn oversized_events_and_lines_are_errors() {
        let big = format!("data: {}\n\n", "a".repeat(100));
        assert_eq!(events(&[big.as_bytes()], 50), Err(TooLarge { limit: 50 }));
        let many = "data: aaaaaaaaaa\n".repeat(10);
        assert!(events(&[many.as_bytes()], 50).is_err());
        let endless = vec![b'x'; 200];
        assert!(events(&[&endless], 50).is_err());
    }
}
