//! Documents and loading them from files: `.txt` and `.md` files are one document each,
//! `.jsonl` files one document per line. Loading is strict: every problem is an error naming
//! `file:line`, because a document silently dropped or readable by nobody is a mistake the
//! operator must see.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest file [`load_path`] reads.
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Largest `.jsonl` line [`load_path`] reads.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Longest title taken from a file's first line, in characters.
pub(crate) const MAX_TITLE_CHARS: usize = 200;
/// How much of a first line a title is taken from, before cleaning.
const TITLE_SOURCE_CHARS: usize = 4096;

/// One document: its text, who may read it and its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Unique id (for files, the path relative to the loaded root, with `/`).
    pub id: String,
    /// Title (shown in results, indexed with double weight).
    pub title: String,
    /// Body text.
    pub text: String,
    /// Who may read it: `user:alice`, `group:finance`, `agent:bot`, `public`. Never empty.
    pub acl: Vec<String>,
    /// Metadata; searches can require exact values.
    pub tags: BTreeMap<String, String>,
    /// Where it came from (`path` or `path:line`).
    pub source: Option<String>,
}

/// What a loaded document gets when its file does not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Defaults {
    /// ACL for documents that give none (a `.jsonl` line's `acl` replaces it).
    pub acl: Vec<String>,
    /// Tags every document gets (a `.jsonl` line's `tags` are merged over them).
    pub tags: BTreeMap<String, String>,
}

/// What [`load_path`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Loaded {
    /// The documents, in path order (and line order within a `.jsonl` file).
    pub docs: Vec<Document>,
    /// Files not loaded: other extensions and symbolic links.
    pub skipped: Vec<PathBuf>,
}

/// One `.jsonl` line.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, expecting = "an object with `id` and `text`")]
struct Line {
    id: String,
    title: Option<String>,
    text: String,
    acl: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
}

/// Loads the documents under `path`: a directory is walked recursively in name order (hidden
/// entries skipped, symbolic links not followed), a file is loaded alone.
pub fn load_path(path: &Path, defaults: &Defaults) -> Result<Loaded> {
    let mut loader = Loader {
        defaults,
        out: Loaded::default(),
        seen: HashMap::new(),
    };
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        loader.walk(path, path)?;
    } else {
        let id = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| load_error(path, "the file name is not valid UTF-8"))?
            .to_owned();
        loader.file(path, id)?;
    }
    Ok(loader.out)
}

struct Loader<'a> {
    defaults: &'a Defaults,
    out: Loaded,
    /// Id -> where it was first seen.
    seen: HashMap<String, String>,
}

enum Kind {
    Text,
    Jsonl,
    Other,
}

fn kind(path: &Path) -> Kind {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("txt" | "md") => Kind::Text,
        Some("jsonl") => Kind::Jsonl,
        _ => Kind::Other,
    }
}

impl Loader<'_> {
    fn walk(&mut self, root: &Path, dir: &Path) -> Result<()> {
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| io_error(dir, &e))?
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| io_error(dir, &e))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| io_error(&path, &e))?;
            if file_type.is_symlink() {
                self.out.skipped.push(path);
            } else if file_type.is_dir() {
                self.walk(root, &path)?;
            } else if file_type.is_file() {
                let id = relative_id(root, &path)?;
                self.file(&path, id)?;
            } else {
                self.out.skipped.push(path);
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, id: String) -> Result<()> {
        match kind(path) {
            Kind::Other => {
                self.out.skipped.push(path.to_owned());
                Ok(())
            }
            Kind::Text => {
                let text = read_text(path)?;
                let title = title_of(&text).unwrap_or_else(|| {
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| id.clone())
                });
                let doc = Document {
                    id,
                    title,
                    text,
                    acl: self.defaults.acl.clone(),
                    tags: self.defaults.tags.clone(),
                    source: Some(path.display().to_string()),
                };
                self.add(doc, path.display().to_string())
            }
            Kind::Jsonl => {
                let text = read_text(path)?;
                for (n, line) in text.lines().enumerate() {
                    let at = format!("{}:{}", path.display(), n + 1);
                    if line.len() > MAX_LINE_BYTES {
                        return Err(Error::Load {
                            at,
                            message: format!(
                                "the line is {} bytes; the limit is {MAX_LINE_BYTES}",
                                line.len()
                            ),
                        });
                    }
                    if line.trim().is_empty() {
                        continue;
                    }
                    let doc = self.line(line, &at)?;
                    self.add(doc, at)?;
                }
                Ok(())
            }
        }
    }

    fn line(&self, line: &str, at: &str) -> Result<Document> {
        // Serde would also read a struct from an array, by position: only objects are documents.
        if !line.trim_start().starts_with('{') {
            return Err(Error::Load {
                at: at.to_owned(),
                message: "expected an object with `id` and `text`".to_owned(),
            });
        }
        let parsed: Line = serde_json::from_str(line).map_err(|e| json_error(at, &e))?;
        let title = match parsed.title {
            Some(t) => t,
            None => title_of(&parsed.text).unwrap_or_else(|| parsed.id.clone()),
        };
        let mut tags = self.defaults.tags.clone();
        tags.extend(parsed.tags.unwrap_or_default());
        Ok(Document {
            id: parsed.id,
            title,
            text: parsed.text,
            acl: parsed.acl.unwrap_or_else(|| self.defaults.acl.clone()),
            tags,
            source: Some(at.to_owned()),
        })
    }

    fn add(&mut self, doc: Document, at: String) -> Result<()> {
        check(&doc).map_err(|message| Error::Load {
            at: at.clone(),
            message,
        })?;
        if let Some(first) = self.seen.get(&doc.id) {
            return Err(Error::Load {
                message: format!("duplicate id `{}` (first at `{first}`)", doc.id),
                at,
            });
        }
        self.seen.insert(doc.id.clone(), at);
        self.out.docs.push(doc);
        Ok(())
    }
}

/// What makes a document unusable: no id, no ACL (nobody could read it), a blank ACL entry.
pub(crate) fn check(doc: &Document) -> std::result::Result<(), String> {
    if doc.id.trim().is_empty() {
        return Err("the id is empty".to_owned());
    }
    if doc.acl.is_empty() {
        return Err(
            "the document has no ACL, so nobody could read it; give it an `acl` or set a default ACL"
                .to_owned(),
        );
    }
    if doc.acl.iter().any(|a| a.trim().is_empty()) {
        return Err("the ACL has an empty entry".to_owned());
    }
    Ok(())
}

/// The first non-empty line, without leading `#`s, at most [`MAX_TITLE_CHARS`] characters.
fn title_of(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.trim().trim_start_matches('#').trim())
        .find(|l| !l.is_empty())
        // Cut generously here; `prepare` cleans the title and only then cuts it to
        // MAX_TITLE_CHARS, so the detectors see every value a title could show part of.
        .map(|l| l.chars().take(TITLE_SOURCE_CHARS).collect())
}

fn relative_id(root: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts = rel
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| load_error(path, "the path is not valid UTF-8"))?;
    Ok(parts.join("/"))
}

/// Reads a whole file as UTF-8, within [`MAX_FILE_BYTES`]; a leading byte order mark is dropped.
fn read_text(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| io_error(path, &e))?;
    let too_big = |size: u64| {
        load_error(
            path,
            &format!("the file is {size} bytes; the limit is {MAX_FILE_BYTES}"),
        )
    };
    let size = file.metadata().map_err(|e| io_error(path, &e))?.len();
    if size > MAX_FILE_BYTES {
        return Err(too_big(size));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    match String::from_utf8(bytes) {
        Ok(mut text) => {
            if text.starts_with('\u{FEFF}') {
                text.replace_range(..'\u{FEFF}'.len_utf8(), "");
            }
            Ok(text)
        }
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let line = 1 + e
                .as_bytes()
                .iter()
                .take(valid)
                .filter(|&&b| b == b'\n')
                .count();
            Err(Error::Load {
                at: format!("{}:{line}", path.display()),
                message: "not valid UTF-8".to_owned(),
            })
        }
    }
}

fn json_error(at: &str, e: &serde_json::Error) -> Error {
    let mut message = e.to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    let message = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not valid JSON: {message}")
        }
        _ => message,
    };
    Error::Load {
        at: format!("{at}:{}", e.column()),
        message,
    }
}

fn load_error(path: &Path, message: &str) -> Error {
    Error::Load {
        at: path.display().to_string(),
        message: message.to_owned(),
    }
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    load_error(path, &e.to_string())
}
