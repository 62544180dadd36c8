//! Large values kept beside the database.
//!
//! A record's body is hashed into the chain and stored in SQLite, where a value of many
//! kilobytes (typically a tool call's arguments) is written twice, once to the WAL and once more
//! when a checkpoint copies it into the database file: that was most of what a 64 KB call cost
//! the proxy. A top-level field of the body longer than [`INLINE_MAX`] bytes of JSON is instead
//! appended, once, to a side file next to the database (`<audit file>-payloads`) before the
//! transaction that names it commits. The stored body keeps the field, as `null`, and says
//! where its value is under the reserved key [`KEY`]:
//!
//! ```json
//! {"agent":"a","arguments":null,"$payloads":{"arguments":{"at":0,"len":65547,"blake3":"…"}}}
//! ```
//!
//! The chain hash covers the stored body, digests included, so a changed, truncated or missing
//! payload is found at the record that names it. Readers put the values back ([`Source`]) and
//! check each digest on the way. BLAKE3 rather than SHA-256 for the digest: it runs several
//! times faster on long inputs (SIMD over independent chunks), and it is what a 64 KB
//! payload's digest costs on the call's path.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use warden_types::{AuditEvent, AuditKind, Verbatim, json};

/// Longest top-level field (as compact JSON) stored in the record itself.
pub const INLINE_MAX: usize = 8 * 1024;

/// The reserved top-level key of a stored body that lists its external fields.
pub const KEY: &str = "$payloads";

/// The side file of the audit file at `db`.
pub fn side_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-payloads");
    PathBuf::from(name)
}

/// Allocates `len` bytes from `at` without changing the file's length (readers and other
/// writers still see its end where the data ends). Returns where the reservation ends, or
/// `u64::MAX` when the file system cannot (nothing is lost: appends just skip the shortcut).
#[cfg(target_os = "linux")]
fn reserve(file: &File, at: u64, len: u64) -> u64 {
    use nix::fcntl::{FallocateFlags, fallocate};
    let (Ok(offset), Ok(size)) = (i64::try_from(at), i64::try_from(len)) else {
        return u64::MAX;
    };
    match fallocate(file, FallocateFlags::FALLOC_FL_KEEP_SIZE, offset, size) {
        Ok(()) => at + len,
        Err(_) => u64::MAX,
    }
}

#[cfg(not(target_os = "linux"))]
fn reserve(_file: &File, _at: u64, _len: u64) -> u64 {
    u64::MAX
}

/// The side file as the writer holds it: opened on first use, appended at its end.
pub(crate) struct Side {
    path: PathBuf,
    file: Option<File>,
    /// Where the next payload goes. Read from the file's length once per transaction: another
    /// process may have appended since, and bytes a failed transaction left behind are skipped.
    end: Option<u64>,
    /// Written since the last [`Side::sync`].
    unsynced: bool,
    /// Where the space this writer set aside ends ([`RESERVE`]); `u64::MAX` once the file
    /// system has said it cannot.
    reserved: u64,
}

/// Space set aside past the file's end at a time. Appending into space the file system has
/// already allocated skips ext4's per-page reservation of delayed blocks (a sixth of a 64 KB
/// append's cost here).
const RESERVE: u64 = 8 << 20;

impl Side {
    pub(crate) fn new(db: &Path) -> Self {
        Self {
            path: side_path(db),
            file: None,
            end: None,
            unsynced: false,
            reserved: 0,
        }
    }

    /// Called inside each write transaction, before its first append: the transaction's lock
    /// is what keeps two processes from appending at the same offset.
    pub(crate) fn begin(&mut self) {
        self.end = None;
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<u64> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = std::os::unix::fs::OpenOptionsExt::mode(
                    OpenOptions::new()
                        .read(true)
                        .write(true)
                        .create(true)
                        .truncate(false),
                    0o600,
                )
                .open(&self.path)?;
                // The file's name must outlast a power loss as its records do.
                if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    File::open(dir)?.sync_all()?;
                }
                self.file.insert(file)
            }
        };
        let at = match self.end {
            Some(end) => end,
            None => file.metadata()?.len(),
        };
        let end = at + bytes.len() as u64;
        if end > self.reserved {
            self.reserved = reserve(file, at, RESERVE.max(bytes.len() as u64));
        }
        file.write_all_at(bytes, at)?;
        self.end = Some(end);
        self.unsynced = true;
        Ok(at)
    }

    /// Flushes what was appended to the disk (for power-loss durability, before the commit
    /// that names it).
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        if let (true, Some(file)) = (self.unsynced, &self.file) {
            file.sync_data()?;
        }
        self.unsynced = false;
        Ok(())
    }

    /// Appends `prepared`'s large values and returns its body as stored.
    pub(crate) fn store(&mut self, prepared: &Prepared) -> Result<String, String> {
        let mut out = Vec::with_capacity(prepared.head.len() + 128 * prepared.external.len() + 2);
        out.extend_from_slice(&prepared.head);
        if !prepared.external.is_empty() {
            out.push(b','); // external fields imply at least one field before
            json::extend_str(&mut out, KEY);
            out.extend_from_slice(b":{");
            for (i, (key, text, digest)) in prepared.external.iter().enumerate() {
                let bytes = text.bytes();
                let at = self
                    .append(bytes)
                    .map_err(|e| format!("cannot write to `{}`: {e}", self.path.display()))?;
                if i > 0 {
                    out.push(b',');
                }
                json::extend_str(&mut out, key);
                out.extend_from_slice(
                    format!(
                        r#":{{"at":{at},"len":{},"blake3":"{}"}}"#,
                        bytes.len(),
                        digest.to_hex()
                    )
                    .as_bytes(),
                );
            }
            out.push(b'}');
        }
        if prepared.object {
            out.push(b'}');
        }
        Ok(utf8(out))
    }
}

/// An event serialized for storage, its large fields apart. Done by whoever appends, before
/// the event is queued: the caller keeps the event, and serializing and hashing stay out of
/// the commit that every concurrent caller waits on.
pub(crate) struct Prepared {
    pub(crate) kind: AuditKind,
    /// The stored body without its closing brace (all of it when the body is not an object),
    /// large fields written as `null`.
    head: Vec<u8>,
    object: bool,
    /// Each large field: its key, its value as JSON and the value's digest.
    external: Vec<(String, Text, blake3::Hash)>,
}

/// A large field's JSON text: serialized here, or as the event received it.
enum Text {
    Own(Vec<u8>),
    Received(Verbatim),
}

impl Text {
    fn bytes(&self) -> &[u8] {
        match self {
            Self::Own(bytes) => bytes,
            Self::Received(v) => v.bytes(),
        }
    }
}

impl Prepared {
    /// Serializes `event`; a body using the reserved key [`KEY`] is refused.
    pub(crate) fn new(event: &AuditEvent) -> Result<Self, String> {
        let Value::Object(map) = &event.body else {
            return Ok(Self {
                kind: event.kind,
                head: json::to_vec(&event.body),
                object: false,
                external: Vec::new(),
            });
        };
        if map.contains_key(KEY) {
            return Err(format!(
                "an event body may not use the reserved key `{KEY}`"
            ));
        }
        let mut head = Vec::with_capacity(512);
        let mut external = Vec::new();
        let mut value_bytes = Vec::new();
        head.push(b'{');
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                head.push(b',');
            }
            json::extend_str(&mut head, key);
            head.push(b':');
            // A large field the event has as received text is stored as that text: not
            // serialized (nor copied) again.
            if let Some(v) = event
                .verbatim
                .as_ref()
                .filter(|v| v.key == *key && v.bytes().len() > INLINE_MAX)
            {
                let digest = blake3::hash(v.bytes());
                external.push((key.clone(), Text::Received(v.clone()), digest));
                head.extend_from_slice(b"null");
                continue;
            }
            json::extend(&mut value_bytes, value);
            if value_bytes.len() > INLINE_MAX {
                let digest = blake3::hash(&value_bytes);
                external.push((
                    key.clone(),
                    Text::Own(std::mem::take(&mut value_bytes)),
                    digest,
                ));
                head.extend_from_slice(b"null");
            } else {
                head.extend_from_slice(&value_bytes);
                value_bytes.clear();
            }
        }
        Ok(Self {
            kind: event.kind,
            head,
            object: true,
            external,
        })
    }
}

/// [`Source::resolve`] with the side file's bytes from `read(at, len)` (`file` names it in
/// errors). Public for the fuzz target: the stored body and the side file may both be hostile.
#[doc(hidden)]
pub fn resolve_with(
    stored: &str,
    mut read: impl FnMut(u64, u64) -> Result<Vec<u8>, String>,
    file: &str,
) -> Result<Option<String>, String> {
    // A quote can only follow `payloads` unescaped where it ends a key, so bodies without
    // external fields are passed over without being parsed.
    if !stored.contains(r#""$payloads":"#) {
        return Ok(None);
    }
    // Not an object: the key is nested somewhere, and nothing is external.
    let Ok(Fields(fields)) = serde_json::from_str::<Fields>(stored) else {
        return Ok(None);
    };
    let Some(external) = fields.iter().find(|(k, _)| k == KEY).map(|(_, v)| v) else {
        return Ok(None);
    };
    let external: Map<String, Value> =
        serde_json::from_str(external.get()).map_err(|_| format!("`{KEY}` is not an object"))?;
    let mut values = Vec::with_capacity(external.len());
    for (key, place) in &external {
        let (Some(at), Some(len), Some(digest)) = (
            place.get("at").and_then(Value::as_u64),
            place.get("len").and_then(Value::as_u64),
            place.get("blake3").and_then(Value::as_str),
        ) else {
            return Err(format!("the place of `{key}` is malformed"));
        };
        let bytes =
            read(at, len).map_err(|e| format!("the value of `{key}` cannot be read: {e}"))?;
        if blake3::hash(&bytes).to_hex().as_str() != digest {
            return Err(format!(
                "the value of `{key}` in `{file}` does not match its digest"
            ));
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
            .map_err(|e| format!("the value of `{key}` is not JSON: {e}"))?;
        values.push((key.as_str(), bytes));
    }
    let mut out =
        Vec::with_capacity(stored.len() + values.iter().map(|(_, b)| b.len()).sum::<usize>());
    out.push(b'{');
    let mut first = true;
    for (key, raw) in fields.iter().filter(|(k, _)| k != KEY) {
        if !first {
            out.push(b',');
        }
        first = false;
        json::extend_str(&mut out, key);
        out.push(b':');
        match values.iter().find(|(k, _)| k == key) {
            Some((_, bytes)) => out.extend_from_slice(bytes),
            None => out.extend_from_slice(raw.get().as_bytes()),
        }
    }
    out.push(b'}');
    Ok(Some(utf8(out)))
}

/// A JSON object's fields in order, each value as its own text.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Fields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// Valid UTF-8 by construction (JSON of Rust strings).
fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

/// The side file as the background checkpointer holds it: flushed to the disk each tick, and
/// what is flushed let go of.
///
/// Letting go matters on the call's path. The file only grows, so without it every append lands
/// in page cache the kernel has not used before; on a virtual machine that memory may not be
/// backed by the host yet, and each new page then costs a fault in the host. Measured on this
/// project's reference VM: appending 64 KB took about 160 µs a block once about a gigabyte of
/// new page cache had been written, against about 30 µs when flushed pages were dropped, since
/// the kernel hands the freed pages to the next appends. Readers read the file from the disk.
#[derive(Debug)]
pub(crate) struct Flusher {
    path: PathBuf,
    file: Option<File>,
    /// Bytes from the start of the file already let go of.
    released: u64,
}

impl Flusher {
    pub(crate) fn new(db: &Path) -> Self {
        Self {
            path: side_path(db),
            file: None,
            released: 0,
        }
    }

    /// Flushes the file (once it exists) and lets go of the whole pages flushed.
    pub(crate) fn flush(&mut self) {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = &self.file else { return };
        // Taken before the flush: everything below it is then on the disk. The page the file
        // ends in is kept, since the next append writes into it.
        let Ok(len) = file.metadata().map(|m| m.len()) else {
            return;
        };
        if file.sync_data().is_err() {
            return;
        }
        let end = len / PAGE * PAGE;
        if end > self.released && release(file, self.released, end - self.released) {
            self.released = end;
        }
    }
}

/// The size of the pages let go of (a multiple of the kernel's, which is 4 KiB here).
const PAGE: u64 = 4096;

/// Asks the kernel to drop the cached, clean pages of `file` in `len` bytes from `at`.
#[cfg(target_os = "linux")]
fn release(file: &File, at: u64, len: u64) -> bool {
    use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
    let (Ok(at), Ok(len)) = (i64::try_from(at), i64::try_from(len)) else {
        return false;
    };
    posix_fadvise(file, at, len, PosixFadviseAdvice::POSIX_FADV_DONTNEED).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn release(_: &File, _: u64, _: u64) -> bool {
    true
}

/// The side file as readers see it: opened when a record first needs it.
#[derive(Debug)]
pub(crate) struct Source {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

impl Source {
    pub(crate) fn new(db: &Path) -> Self {
        Self {
            path: side_path(db),
            file: Mutex::new(None),
        }
    }

    /// The body as it was appended, when `stored` has external fields (`None` when it has
    /// none); an error says which value cannot be read or does not match its digest. The
    /// stored fields are copied as they are (not parsed and written again), so the body comes
    /// back byte for byte.
    pub(crate) fn resolve(&self, stored: &str) -> Result<Option<String>, String> {
        let file = self.path.display().to_string();
        resolve_with(stored, |at, len| self.read(at, len), &file)
    }

    fn read(&self, at: u64, len: u64) -> Result<Vec<u8>, String> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let file = match &mut *file {
            Some(file) => file,
            None => file.insert(
                File::open(&self.path).map_err(|e| format!("`{}`: {e}", self.path.display()))?,
            ),
        };
        let size = file
            .metadata()
            .map_err(|e| format!("`{}`: {e}", self.path.display()))?
            .len();
        let len_usize = usize::try_from(len).map_err(|_| "length out of range".to_owned())?;
        if at.checked_add(len).is_none_or(|end| end > size) {
            return Err(format!(
                "`{}` ends at byte {size}, before the value's end ({at} + {len})",
                self.path.display()
            ));
        }
        let mut bytes = vec![0; len_usize];
        file.read_exact_at(&mut bytes, at)
            .map_err(|e| format!("`{}`: {e}", self.path.display()))?;
        Ok(bytes)
    }
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
