//! The load generator's HTTP/1.1 client: one keep-alive connection per client, each request
//! written in one `write`, each answer read by its `Content-Length` or its chunks. The
//! servers measured and the load generator share the machine's two cores; with `reqwest`
//! the generator used about 80 µs of CPU per call (its pool, redirect and URL layers and two
//! tasks per connection), CPU the servers then lacked. Both sides of every comparison use
//! this same client.

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most header lines an answer may carry.
const MAX_HEADERS: usize = 64;

/// An answer: its status, headers (names lower-case) and body (chunks joined).
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One connection to `http://host:port/path`.
pub(crate) struct Conn {
    stream: TcpStream,
    host: String,
    path: String,
    /// Read but not yet consumed.
    buf: Vec<u8>,
}

impl Conn {
    pub async fn connect(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("not an http:// URL: {url}"))?;
        let (host, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let stream = TcpStream::connect(host).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host: host.to_owned(),
            path: path.to_owned(),
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends one request and reads its whole answer.
    pub async fn request(
        &mut self,
        method: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Answer> {
        let mut out = Vec::with_capacity(256 + body.len());
        out.extend_from_slice(
            format!(
                "{method} {} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
                self.path,
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        for (name, value) in headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        self.stream.write_all(&out).await?;
        self.answer().await
    }

    /// Reads more into `buf`; an error at the end of the stream.
    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection mid-answer");
        }
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    async fn answer(&mut self) -> Result<Answer> {
        let (status, headers, head) = loop {
            let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut parsed = httparse::Response::new(&mut slots);
            if let httparse::Status::Complete(head) = parsed.parse(&self.buf)? {
                let headers: Vec<(String, String)> = parsed
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                break (parsed.code.unwrap_or_default(), headers, head);
            }
            self.fill().await?;
        };
        self.buf.drain(..head);
        let mut answer = Answer {
            status,
            headers,
            body: Vec::new(),
        };
        let chunked = answer
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            answer.body = self.chunks().await?;
        } else {
            let len: usize = answer
                .header("content-length")
                .map(str::parse)
                .transpose()?
                .unwrap_or(0);
            while self.buf.len() < len {
                self.fill().await?;
            }
            answer.body = self.buf.drain(..len).collect();
        }
        Ok(answer)
    }

    /// A chunked body, joined.
    async fn chunks(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                self.fill().await?;
            };
            let line = std::str::from_utf8(self.buf.get(..line_end).unwrap_or_default())?;
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .with_context(|| format!("bad chunk size line {line:?}"))?;
            self.buf.drain(..line_end + 2);
            // The chunk and its CRLF (after the last, empty chunk: the final CRLF, no
            // trailers expected).
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return Ok(body);
            }
        }
    }
}
