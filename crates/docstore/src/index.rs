//! The in-memory search index, built from [`crate::Store::load`]: an inverted index with BM25
//! ranking, ACL and tag posting lists, and authenticated cursors.
//!
//! Permission filtering happens while candidates are collected: the caller's readers (and the
//! required tags) become a bitset of documents first, and only documents in it are scored,
//! counted, ranked and paged. A search never ranks and then filters, so a page is never short
//! because of documents the caller cannot read, and `total` counts exactly what the caller
//! may read.
//!
//! Scores depend on the document alone (BM25's saturation and length normalization with a
//! fixed reference length, every term weighted alike): corpus statistics such as a term's
//! document frequency would let a caller count documents it cannot read by watching its own
//! scores move.
//!
//! Order is a total order (score descending, then sequence number ascending), so a cursor (the
//! last hit's score and sequence number) resumes exactly where the previous page ended. Cursors
//! carry the index generation and a hash of the query, readers and tags, sealed with AES-GCM,
//! so a caller can neither forge one, reuse it with other readers, nor read the store
//! positions in it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::tokenize::{query_tokens, tokens};
use crate::{Document, Error, Result};

/// BM25 term frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalization.
const B: f64 = 0.75;
/// The reference document length (in tokens) BM25 normalizes against: fixed, not the corpus
/// average, so a score says nothing about other documents.
const REFERENCE_LEN: f64 = 64.0;
/// Largest page.
pub const MAX_LIMIT: usize = 100;
/// Longest snippet, in characters.
pub const SNIPPET_CHARS: usize = 200;
/// Characters of context shown before the first matched term.
const SNIPPET_LEAD: usize = 60;
/// Cursor layout version.
const CURSOR_VERSION: u8 = 2;
/// Version, generation, query hash, score bits, sequence number.
const CURSOR_BODY: usize = 1 + 8 + 16 + 8 + 8;
/// AES-GCM tag length.
const CURSOR_TAG: usize = 16;

/// One search.
#[derive(Debug, Clone, Copy)]
pub struct SearchQuery<'a> {
    /// Words that must all occur (in the title or text); empty means every readable document.
    pub text: &'a str,
    /// Who is asking: a document is visible when its ACL shares an entry with this set
    /// (include `public` to see public documents).
    pub readers: &'a BTreeSet<String>,
    /// Hits per page, clamped to `1..=100`.
    pub limit: usize,
    /// The previous page's `next_cursor`.
    pub cursor: Option<&'a str>,
    /// Tags a document must carry, each with exactly this value.
    pub tags: &'a BTreeMap<String, String>,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Document id.
    pub id: String,
    /// Document title.
    pub title: String,
    /// Up to 200 characters of the text around the first matched term.
    pub snippet: String,
    /// BM25 score (0 for an empty query).
    pub score: f64,
    /// Document tags.
    pub tags: BTreeMap<String, String>,
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// This page's hits, best first.
    pub hits: Vec<Hit>,
    /// Number of readable matches over all pages.
    pub total: usize,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct Posting {
    doc: u32,
    tf: u32,
}

/// The search index over a snapshot of the store. Immutable once built; share it across
/// threads and rebuild it when [`crate::Store::version`] changes.
pub struct Index {
    generation: u64,
    /// Seals cursors (`None` only if the key could not be made: then no cursor is issued or
    /// accepted).
    cursor_key: Option<std::sync::Arc<LessSafeKey>>,
    /// In sequence order: a document's ordinal is its position here.
    docs: Vec<Document>,
    seqs: Vec<i64>,
    by_id: HashMap<String, u32>,
    terms: HashMap<String, u32>,
    postings: Vec<Vec<Posting>>,
    idf: Vec<f64>,
    /// Per document: `K1 * (1 - B + B * len / avgdl)`.
    norm: Vec<f64>,
    acl_ids: HashMap<String, u32>,
    /// Per ACL entry id: sorted ordinals of the documents it may read.
    acl_docs: Vec<Vec<u32>>,
    /// Tag name -> value -> sorted ordinals.
    tag_docs: HashMap<String, HashMap<String, Vec<u32>>>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("generation", &self.generation)
            .field("docs", &self.docs.len())
            .field("terms", &self.terms.len())
            .finish_non_exhaustive()
    }
}

impl Index {
    /// Builds the index over `docs` (as [`crate::Store::load`] returns them). `generation`
    /// identifies this build (cursors from another generation are stale); `cursor_key`
    /// authenticates cursors ([`crate::Key::cursor_key`] lets every process share them).
    pub fn build(mut docs: Vec<(i64, Document)>, generation: u64, cursor_key: [u8; 32]) -> Index {
        docs.sort_by_key(|(seq, _)| *seq);
        docs.truncate(u32::MAX as usize);
        let mut index = Index {
            generation,
            cursor_key: UnboundKey::new(&AES_256_GCM, &cursor_key)
                .ok()
                .map(|k| std::sync::Arc::new(LessSafeKey::new(k))),
            docs: Vec::with_capacity(docs.len()),
            seqs: Vec::with_capacity(docs.len()),
            by_id: HashMap::with_capacity(docs.len()),
            terms: HashMap::new(),
            postings: Vec::new(),
            idf: Vec::new(),
            norm: Vec::with_capacity(docs.len()),
            acl_ids: HashMap::new(),
            acl_docs: Vec::new(),
            tag_docs: HashMap::new(),
        };
        let mut lengths = Vec::with_capacity(docs.len());
        let mut ids: Vec<u32> = Vec::new();
        let mut buf = String::new();
        for (ord, (seq, doc)) in (0u32..).zip(docs) {
            ids.clear();
            let mut intern = |t: &str, times: usize| {
                let next = u32::try_from(index.postings.len()).unwrap_or(u32::MAX);
                let id = *index.terms.entry(t.to_owned()).or_insert(next);
                if id == next {
                    index.postings.push(Vec::new());
                }
                for _ in 0..times {
                    ids.push(id);
                }
            };
            tokens(&doc.title, &mut buf, |t| intern(t, 2));
            tokens(&doc.text, &mut buf, |t| intern(t, 1));
            lengths.push(ids.len());
            ids.sort_unstable();
            for run in ids.chunk_by(|a, b| a == b) {
                if let Some(list) = run
                    .first()
                    .and_then(|&t| index.postings.get_mut(t as usize))
                {
                    list.push(Posting {
                        doc: ord,
                        tf: u32::try_from(run.len()).unwrap_or(u32::MAX),
                    });
                }
            }
            for entry in &doc.acl {
                let next = u32::try_from(index.acl_docs.len()).unwrap_or(u32::MAX);
                let id = *index.acl_ids.entry(entry.clone()).or_insert(next);
                if id == next {
                    index.acl_docs.push(Vec::new());
                }
                if let Some(list) = index.acl_docs.get_mut(id as usize)
                    && list.last() != Some(&ord)
                {
                    list.push(ord);
                }
            }
            for (k, v) in &doc.tags {
                index
                    .tag_docs
                    .entry(k.clone())
                    .or_default()
                    .entry(v.clone())
                    .or_default()
                    .push(ord);
            }
            index.by_id.insert(doc.id.clone(), ord);
            index.seqs.push(seq);
            index.docs.push(doc);
        }
        index.norm = lengths
            .iter()
            .map(|&len| K1 * (1.0 - B + B * len as f64 / REFERENCE_LEN))
            .collect();
        index.idf = vec![1.0; index.postings.len()];
        index
    }

    /// Number of documents (readable or not).
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether the index holds no document.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The generation given to [`Index::build`].
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The document `id` if one of `readers` may read it. A missing document and an unreadable
    /// one get the same answer, so the existence of a document is not revealed.
    pub fn get(&self, id: &str, readers: &BTreeSet<String>) -> Option<&Document> {
        let doc = self.docs.get(*self.by_id.get(id)? as usize)?;
        doc.acl.iter().any(|a| readers.contains(a)).then_some(doc)
    }

    /// One page of the documents matching `q` that its readers may read.
    pub fn search(&self, q: &SearchQuery<'_>) -> Result<Page> {
        let limit = q.limit.clamp(1, MAX_LIMIT);
        let query_hash = query_hash(q);
        let after = q
            .cursor
            .map(|c| self.decode_cursor(c, &query_hash))
            .transpose()?;
        let (words, dropped) = query_tokens(q.text);
        if dropped {
            // A word too long to be indexed occurs in no document.
            return Ok(empty_page());
        }
        let mut term_ids = Vec::with_capacity(words.len());
        for w in &words {
            match self.terms.get(w) {
                Some(&t) => term_ids.push(t),
                None => return Ok(empty_page()),
            }
        }
        term_ids.sort_unstable_by_key(|&t| (self.posting(t).len(), t));
        term_ids.dedup();
        let Some(mask) = self.mask(q.readers, q.tags) else {
            return Ok(empty_page());
        };
        let (total, mut page) = if term_ids.is_empty() {
            self.collect_all(&mask, after, limit)
        } else {
            self.collect_terms(&mask, &term_ids, after)
        };
        let more = page.len() > limit;
        if more {
            page.select_nth_unstable_by(limit, |a, b| self.order(a, b));
            page.truncate(limit);
        }
        page.sort_unstable_by(|a, b| self.order(a, b));
        let next_cursor = match page.last() {
            Some(&(score, ord)) if more => Some(self.encode_cursor(
                &query_hash,
                score,
                self.seqs.get(ord as usize).copied().unwrap_or(i64::MAX),
            )?),
            _ => None,
        };
        let words: HashSet<&str> = words.iter().map(String::as_str).collect();
        let hits = page
            .into_iter()
            .filter_map(|(score, ord)| {
                let doc = self.docs.get(ord as usize)?;
                Some(Hit {
                    id: doc.id.clone(),
                    title: doc.title.clone(),
                    snippet: snippet(&doc.text, &words),
                    score,
                    tags: doc.tags.clone(),
                })
            })
            .collect();
        Ok(Page {
            hits,
            total,
            next_cursor,
        })
    }

    fn posting(&self, term: u32) -> &[Posting] {
        self.postings.get(term as usize).map_or(&[], Vec::as_slice)
    }

    /// Score descending, then sequence number (= ordinal) ascending.
    fn order(&self, a: &(f64, u32), b: &(f64, u32)) -> std::cmp::Ordering {
        b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
    }

    /// The documents one of `readers` may read and that carry every tag in `tags`; `None`
    /// when there is none.
    fn mask(
        &self,
        readers: &BTreeSet<String>,
        tags: &BTreeMap<String, String>,
    ) -> Option<Vec<u64>> {
        let words = self.docs.len().div_ceil(64);
        let mut mask = vec![0u64; words];
        let mut any = false;
        for r in readers {
            let Some(&id) = self.acl_ids.get(r) else {
                continue;
            };
            for &d in self
                .acl_docs
                .get(id as usize)
                .map_or(&[][..], Vec::as_slice)
            {
                if let Some(w) = mask.get_mut(d as usize / 64) {
                    *w |= 1 << (d % 64);
                    any = true;
                }
            }
        }
        if !any {
            return None;
        }
        for (k, v) in tags {
            let list = self.tag_docs.get(k).and_then(|vals| vals.get(v))?;
            let mut tag_mask = vec![0u64; words];
            for &d in list {
                if let Some(w) = tag_mask.get_mut(d as usize / 64) {
                    *w |= 1 << (d % 64);
                }
            }
            for (m, t) in mask.iter_mut().zip(&tag_mask) {
                *m &= t;
            }
        }
        Some(mask)
    }

    /// Empty query: every document in `mask`, all scoring 0, so in ordinal order; only the
    /// first `limit + 1` after the cursor are kept.
    fn collect_all(
        &self,
        mask: &[u64],
        after: Option<(f64, i64)>,
        limit: usize,
    ) -> (usize, Vec<(f64, u32)>) {
        let total = mask.iter().map(|w| w.count_ones() as usize).sum();
        let mut page = Vec::with_capacity(limit + 1);
        for (i, &word) in (0u32..).zip(mask) {
            let mut w = word;
            while w != 0 {
                let d = i * 64 + w.trailing_zeros();
                w &= w - 1;
                if self.is_after(0.0, d, after) {
                    page.push((0.0, d));
                    if page.len() > limit {
                        return (total, page);
                    }
                }
            }
        }
        (total, page)
    }

    /// Documents in `mask` holding every term, scored; those after the cursor are returned.
    fn collect_terms(
        &self,
        mask: &[u64],
        terms: &[u32],
        after: Option<(f64, i64)>,
    ) -> (usize, Vec<(f64, u32)>) {
        let Some((&lead, rest)) = terms.split_first() else {
            return (0, Vec::new());
        };
        let lead_idf = self.idf.get(lead as usize).copied().unwrap_or(0.0);
        let others: Vec<(&[Posting], f64)> = rest
            .iter()
            .map(|&t| {
                (
                    self.posting(t),
                    self.idf.get(t as usize).copied().unwrap_or(0.0),
                )
            })
            .collect();
        let mut positions = vec![0usize; others.len()];
        let mut total = 0;
        let mut out = Vec::new();
        'docs: for p in self.posting(lead) {
            let d = p.doc;
            let readable = mask
                .get(d as usize / 64)
                .is_some_and(|w| w & (1 << (d % 64)) != 0);
            if !readable {
                continue;
            }
            let norm = self.norm.get(d as usize).copied().unwrap_or(K1);
            let mut score = bm25(lead_idf, p.tf, norm);
            for ((list, idf), pos) in others.iter().zip(positions.iter_mut()) {
                *pos = seek(list, *pos, d);
                match list.get(*pos) {
                    Some(q) if q.doc == d => score += bm25(*idf, q.tf, norm),
                    Some(_) => continue 'docs,
                    None => break 'docs,
                }
            }
            total += 1;
            if self.is_after(score, d, after) {
                out.push((score, d));
            }
        }
        (total, out)
    }

    /// Whether document `d` with `score` comes after the cursor position.
    fn is_after(&self, score: f64, d: u32, after: Option<(f64, i64)>) -> bool {
        let Some((last_score, last_seq)) = after else {
            return true;
        };
        match last_score.total_cmp(&score) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => {
                self.seqs.get(d as usize).is_some_and(|&seq| seq > last_seq)
            }
        }
    }

    fn encode_cursor(&self, query_hash: &[u8; 16], score: f64, seq: i64) -> Result<String> {
        let mut body = Vec::with_capacity(NONCE_LEN + CURSOR_BODY + CURSOR_TAG);
        body.push(CURSOR_VERSION);
        body.extend_from_slice(&self.generation.to_be_bytes());
        body.extend_from_slice(query_hash);
        body.extend_from_slice(&score.to_bits().to_be_bytes());
        body.extend_from_slice(&seq.to_be_bytes());
        let mut nonce = [0u8; NONCE_LEN];
        let sealed = self.cursor_key.as_ref().is_some_and(|key| {
            aws_lc_rs::rand::fill(&mut nonce).is_ok()
                && key
                    .seal_in_place_append_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::empty(),
                        &mut body,
                    )
                    .is_ok()
        });
        if !sealed {
            // Never a silent end of the results, never a position in clear.
            return Err(Error::Crypto("a cursor could not be sealed".to_owned()));
        }
        let mut out = nonce.to_vec();
        out.extend_from_slice(&body);
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out))
    }

    /// The cursor's position (score, sequence number), after checking it is authentic, from
    /// this generation and for this query.
    fn decode_cursor(&self, cursor: &str, query_hash: &[u8; 16]) -> Result<(f64, i64)> {
        let forged = || Error::BadCursor("it was not issued by this document index".to_owned());
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor.trim())
            .map_err(|_| forged())?;
        if bytes.len() != NONCE_LEN + CURSOR_BODY + CURSOR_TAG {
            return Err(forged());
        }
        let (nonce, sealed) = bytes.split_at_checked(NONCE_LEN).ok_or_else(forged)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| forged())?;
        let mut sealed = sealed.to_vec();
        let key = self.cursor_key.as_ref().ok_or_else(forged)?;
        let body: &[u8] = key
            .open_in_place(nonce, Aad::empty(), &mut sealed)
            .map_err(|_| forged())?;
        let (&version, rest) = body.split_first().ok_or_else(forged)?;
        if version != CURSOR_VERSION {
            return Err(forged());
        }
        let (generation, rest) = take8(rest).ok_or_else(forged)?;
        let (hash, rest) = rest.split_at_checked(16).ok_or_else(forged)?;
        let (score, rest) = take8(rest).ok_or_else(forged)?;
        let (seq, _) = take8(rest).ok_or_else(forged)?;
        if u64::from_be_bytes(generation) != self.generation {
            return Err(Error::StaleCursor);
        }
        if hash != query_hash {
            return Err(Error::BadCursor(
                "it belongs to a different search (query text, readers or tags)".to_owned(),
            ));
        }
        Ok((
            f64::from_bits(u64::from_be_bytes(score)),
            i64::from_be_bytes(seq),
        ))
    }
}

fn take8(bytes: &[u8]) -> Option<([u8; 8], &[u8])> {
    let (head, rest) = bytes.split_at_checked(8)?;
    Some((head.try_into().ok()?, rest))
}

fn empty_page() -> Page {
    Page {
        hits: Vec::new(),
        total: 0,
        next_cursor: None,
    }
}

fn bm25(idf: f64, tf: u32, norm: f64) -> f64 {
    let tf = f64::from(tf);
    idf * tf * (K1 + 1.0) / (tf + norm)
}

/// The first position at or after `from` whose document is `>= doc` (galloping search).
fn seek(list: &[Posting], from: usize, doc: u32) -> usize {
    let below = |i: usize| list.get(i).is_some_and(|p| p.doc < doc);
    if !below(from) {
        return from;
    }
    let mut step = 1;
    let mut lo = from;
    let mut hi = from + step;
    while below(hi) {
        lo = hi;
        step *= 2;
        hi = hi.saturating_add(step);
    }
    let hi = hi.min(list.len());
    // Invariant: below(lo), !below(hi) (or hi == len).
    let slice = list.get(lo..hi).unwrap_or(&[]);
    lo + slice.partition_point(|p| p.doc < doc)
}

/// Binds a cursor to its search: query text, readers (sorted) and required tags.
fn query_hash(q: &SearchQuery<'_>) -> [u8; 16] {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(b"warden-docstore cursor v1");
    field(q.text.as_bytes());
    field(&(q.readers.len() as u64).to_be_bytes());
    for r in q.readers {
        field(r.as_bytes());
    }
    field(&(q.tags.len() as u64).to_be_bytes());
    for (k, v) in q.tags {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(digest.iter()) {
        *o = *b;
    }
    out
}

/// Up to [`SNIPPET_CHARS`] characters of `text` around the first word holding a query term
/// (from the start when there is none), whitespace collapsed.
fn snippet(text: &str, words: &HashSet<&str>) -> String {
    let at = first_match(text, words).unwrap_or(0);
    let before = text.get(..at).unwrap_or("");
    let mut begin = before
        .char_indices()
        .rev()
        .nth(SNIPPET_LEAD - 1)
        .map_or(0, |(i, _)| i);
    if begin > 0 {
        // Start at a word boundary when there is one in the lead.
        if let Some(space) = before
            .get(begin..)
            .and_then(|s| s.find(char::is_whitespace))
        {
            begin += space;
        }
    }
    let mut out = String::new();
    let mut space = false;
    for c in text.get(begin..).unwrap_or("").chars().take(SNIPPET_CHARS) {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Byte offset of the first alphanumeric run of `text` that holds a query term.
fn first_match(text: &str, words: &HashSet<&str>) -> Option<usize> {
    if words.is_empty() {
        return None;
    }
    let mut buf = String::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            let mut hit = false;
            tokens(text.get(s..i).unwrap_or(""), &mut buf, |t| {
                hit |= words.contains(t);
            });
            if hit {
                return Some(s);
            }
        }
    }
    None
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
