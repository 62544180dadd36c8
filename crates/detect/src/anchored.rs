//! Many patterns, one pass, on text never seen before.
//!
//! A regex set over a few hundred patterns with counted repetitions (`[A-Za-z0-9]{40}`) makes
//! its lazy DFA build new states for nearly every new text: warm on text it has seen, such a
//! set ran at 200 MB/s, on unseen 4 KB tool outputs at 17 MB/s. Here every pattern's leading
//! literals (what each of its matches starts with, from `regex-syntax`'s literal extractor)
//! go into one case-insensitive Aho-Corasick automaton, whose cost does not depend on the text
//! being new, and a pattern is tried, anchored, only where one of its literals occurs. A pattern
//! without usable leading literals but with a literal every match contains (`.amazonaws.com`,
//! `AZDO`) is searched only in texts where that literal occurs; the few with neither are
//! searched on their own.
//!
//! Matches are what each pattern's own leftmost-first, non-overlapping search would report.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::meta::Regex;
use regex_automata::nfa::thompson;
use regex_automata::util::captures::Captures;
use regex_automata::util::start;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input, hybrid};
use regex_syntax::hir::literal::{ExtractKind, Extractor};
use regex_syntax::hir::{Class, Hir, HirKind};

use crate::decode::in_base64_alphabet as in_alphabet;
use crate::util::{BROKEN, is_word};

/// Leading literals shorter than this would hit on most texts, each hit costing an anchored
/// search; such a pattern is gated on a contained literal instead.
const MIN_LITERAL: usize = 2;

/// Leading literals up to this long get follow sets ([`Owner`]) in a [`Table::new`].
const SHORT_LITERAL: usize = 4;

/// A contained literal this short still spares the search on texts without it.
const MIN_CONTAINED: usize = 2;

/// A table of patterns searched together. Patterns are byte-oriented and ASCII by default
/// (`(?-u)`, as [`crate::util::pattern`]).
pub(crate) struct Table {
    regexes: Vec<Regex>,
    /// Each pattern's longest possible match in bytes, if bounded.
    max_len: Vec<Option<usize>>,
    /// The distinct literals, lowercased; [`Table::find_from`] numbers them in this order.
    literal_list: Vec<Vec<u8>>,
    /// The table's own automaton over them, built on first use of [`Table::find`] (the
    /// detectors use the shared one in [`crate::literals`]); `None` if it cannot be built.
    own: std::sync::OnceLock<Option<AhoCorasick>>,
    /// For each literal, the patterns whose matches may start with it, or that contain it.
    owners: Vec<Vec<Owner>>,
    /// Patterns without a usable literal.
    free: Vec<usize>,
    /// Of those, the ones whose matches are runs of at least `.1` base64-alphabet bytes
    /// (`[A-Za-z0-9+/_-]`, as most keys are): searched only inside such runs.
    in_runs: Vec<(usize, usize)>,
    /// Patterns every match of which starts at a word boundary (`\b…` in every branch): a
    /// literal hit inside a word cannot start one, and is not tried.
    word_start: Vec<bool>,
}

/// What a literal hit means for a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// A match may start here: try the pattern anchored at the hit.
    Starts,
    /// Every match contains the literal: search the whole text for the pattern.
    Within,
}

/// A pattern a literal belongs to.
#[derive(Debug, Clone, Copy)]
struct Owner {
    pattern: usize,
    role: Role,
    /// For [`Role::Starts`]: the bytes that may follow the literal in a match of the pattern
    /// (a 256-bit set), and those that may follow it after white space. `the` starts
    /// `the\s+(?:new|real)…` only where white space follows, then `n` or `r`: `then`, `there`
    /// and `the end` cost a few bit tests, not an anchored search.
    follow: [u64; 4],
    after_space: [u64; 4],
}

fn contains(set: &[u64; 4], b: u8) -> bool {
    set.get(usize::from(b >> 6))
        .is_some_and(|w| w >> (b & 63) & 1 == 1)
}

impl Owner {
    /// Whether a match may start with the literal that ends at `end` in `hay`.
    fn may_continue(&self, hay: &[u8], end: usize) -> bool {
        // At the end of the text the pattern decides.
        let Some(&b) = hay.get(end) else {
            return true;
        };
        if !contains(&self.follow, b) {
            return false;
        }
        if !is_space(b) {
            return true;
        }
        // Past a long run of white space, or at the end, the pattern decides.
        match hay.iter().skip(end + 1).take(32).find(|&&c| !is_space(c)) {
            Some(&c) => contains(&self.after_space, c),
            None => true,
        }
    }
}

/// One match: the pattern, the whole match, and group 1 (the whole match when the pattern has
/// no group 1 or it did not take part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub pattern: usize,
    pub start: usize,
    pub end: usize,
    pub group: (usize, usize),
}

impl Table {
    /// Builds the table. A pattern that does not compile is recorded in [`BROKEN`] (which
    /// [`crate::self_check`] reports) and never matches.
    pub(crate) fn new<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        Self::build(patterns, SHORT_LITERAL)
    }

    /// Like [`Table::new`], with follow sets for every leading literal: for tables of phrase
    /// rules, whose literals are all common words.
    pub(crate) fn of_phrases<'a>(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        Self::build(patterns, usize::MAX)
    }

    fn build<'a>(patterns: impl IntoIterator<Item = &'a str>, follow_up_to: usize) -> Self {
        let mut regexes = Vec::new();
        let mut max_len = Vec::new();
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<Owner>> = Vec::new();
        let mut free = Vec::new();
        let mut in_runs = Vec::new();
        let mut word_start = Vec::new();
        for (i, p) in patterns.into_iter().enumerate() {
            let p = format!("(?-u){p}");
            regexes.push(compile(&p));
            let hir = parse(&p);
            let hir = hir.as_ref();
            word_start.push(hir.is_some_and(starts_at_word_boundary));
            max_len.push(hir.and_then(|h| h.properties().maximum_len()));
            let Some((lits, role)) = hir.and_then(literals_of) else {
                match hir.and_then(alphabet_run) {
                    Some(min) => in_runs.push((i, min)),
                    None => free.push(i),
                }
                continue;
            };
            // Follow sets pay for short literals, which are common words; a longer one (`ghp_`,
            // `xoxb-`) is rare enough that computing its sets costs more start-up time than
            // they would save.
            let mut dfa = match role {
                Role::Starts if lits.iter().any(|l| l.len() <= follow_up_to) => {
                    hir.and_then(lazy_dfa)
                }
                _ => None,
            };
            for lit in lits {
                let (follow, after_space) = dfa
                    .as_mut()
                    .filter(|_| lit.len() <= follow_up_to)
                    .and_then(|(dfa, cache)| follow_sets(dfa, cache, &lit))
                    .unwrap_or(([u64::MAX; 4], [u64::MAX; 4]));
                let owner = Owner {
                    pattern: i,
                    role,
                    follow,
                    after_space,
                };
                if let Some(at) = literals.iter().position(|l| *l == lit) {
                    if let Some(o) = owners.get_mut(at) {
                        o.push(owner);
                    }
                } else {
                    literals.push(lit);
                    owners.push(vec![owner]);
                }
            }
        }
        Self {
            regexes,
            max_len,
            literal_list: literals,
            own: std::sync::OnceLock::new(),
            owners,
            free,
            in_runs,
            word_start,
        }
    }

    /// The patterns searched without a literal, in alphabet runs or the whole text (for
    /// tests).
    #[cfg(test)]
    pub(crate) fn free(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self.free.clone();
        all.extend(self.in_runs.iter().map(|&(p, _)| p));
        all.sort_unstable();
        all
    }

    /// Number of distinct leading literals (for tests).
    #[cfg(test)]
    pub(crate) fn literals(&self) -> usize {
        self.owners.len()
    }

    /// The table's literals, lowercased, in the order [`Table::find_from`] numbers them.
    pub(crate) fn literal_list(&self) -> &[Vec<u8>] {
        &self.literal_list
    }

    /// Every match of every pattern in `hay`, ordered by pattern, then position.
    pub(crate) fn find(&self, hay: &[u8]) -> Vec<Hit> {
        let own = self.own.get_or_init(|| {
            automaton(&self.literal_list)
                .map_err(|e| record(e.to_string()))
                .ok()
        });
        match own {
            Some(ac) => {
                let occurrences = ac
                    .find_overlapping_iter(hay)
                    .map(|m| (m.pattern().as_usize(), m.start(), m.end()));
                self.find_from(hay, occurrences, None)
            }
            // No automaton: every pattern searches the whole text (slower, still complete).
            None => {
                let mut hits: Vec<Hit> = self
                    .regexes
                    .iter()
                    .enumerate()
                    .flat_map(|(p, re)| re.captures_iter(hay).filter_map(move |c| hit(p, &c)))
                    .collect();
                hits.sort_by_key(|h| (h.pattern, h.start));
                hits
            }
        }
    }

    /// Like [`Table::find`], given the occurrences `(literal, start, end)` of the table's
    /// literals in `hay` (all of them, ASCII case ignored), found by a caller's automaton that
    /// holds them (numbered as [`Table::literal_list`]). `runs`, when given, are `hay`'s
    /// maximal base64-alphabet runs of at least [`crate::decode::RUNS_MIN`] bytes
    /// ([`crate::View::alphabet_runs`]).
    pub(crate) fn find_from(
        &self,
        hay: &[u8],
        occurrences: impl Iterator<Item = (usize, usize, usize)>,
        runs: Option<&[(usize, usize)]>,
    ) -> Vec<Hit> {
        let mut starts: Vec<(usize, usize)> = Vec::new();
        // (pattern, window) for patterns that contain a literal: a match holding the
        // occurrence lies within its longest match length around it; unbounded patterns
        // search the whole text.
        let mut within: Vec<(usize, usize, usize)> =
            self.free.iter().map(|&p| (p, 0, hay.len())).collect();
        if !self.in_runs.is_empty() {
            let shortest = self.in_runs.iter().map(|&(_, min)| min).min().unwrap_or(0);
            let found;
            let runs = match runs {
                Some(runs) if shortest >= crate::decode::RUNS_MIN => runs,
                _ => {
                    found = crate::decode::alphabet_runs(hay, shortest);
                    &found
                }
            };
            for &(start, end) in runs.iter().filter(|&&(s, e)| e - s >= shortest) {
                for &(p, min) in &self.in_runs {
                    if end - start >= min {
                        within.push((p, start, end));
                    }
                }
            }
        }
        for (literal, lit_start, lit_end) in occurrences {
            let Some(owners) = self.owners.get(literal) else {
                continue;
            };
            for owner in owners {
                let p = owner.pattern;
                match owner.role {
                    Role::Starts => {
                        if !owner.may_continue(hay, lit_end) {
                            continue;
                        }
                        let at = lit_start;
                        // `\b` before a word byte needs a non-word byte before it.
                        let inside_word = at > 0
                            && hay.get(at).is_some_and(|&c| is_word(c))
                            && hay.get(at - 1).is_some_and(|&c| is_word(c));
                        if !(inside_word && self.word_start.get(p).copied().unwrap_or(false)) {
                            starts.push((p, at));
                        }
                    }
                    Role::Within => within.push(match self.max_len.get(p).copied().flatten() {
                        Some(len) => (
                            p,
                            lit_end.saturating_sub(len),
                            lit_start.saturating_add(len).min(hay.len()),
                        ),
                        None => (p, 0, hay.len()),
                    }),
                }
            }
        }
        starts.sort_unstable();
        starts.dedup();
        within.sort_unstable();
        let mut hits = Vec::new();
        // Starts come grouped by pattern: one capture buffer per group.
        let mut caps: Option<(usize, Captures)> = None;
        // Per pattern, a start inside the previous match is not a new match (non-overlapping).
        let mut last: Option<(usize, usize)> = None;
        for (p, at) in starts {
            if matches!(last, Some((lp, end)) if lp == p && at < end) {
                continue;
            }
            let Some(re) = self.regexes.get(p) else {
                continue;
            };
            if !matches!(caps, Some((cp, _)) if cp == p) {
                caps = Some((p, re.create_captures()));
            }
            let Some((_, caps)) = caps.as_mut() else {
                continue;
            };
            re.search_captures(&Input::new(hay).range(at..).anchored(Anchored::Yes), caps);
            if let Some(hit) = hit(p, caps) {
                last = Some((p, hit.end));
                hits.push(hit);
            }
        }
        // Overlapping windows of one pattern merge; every match lies inside one merged window,
        // so searching each window finds what a search of the whole text would.
        let mut i = 0;
        while let Some(&(p, start, mut end)) = within.get(i) {
            i += 1;
            while let Some(&(q, s, e)) = within.get(i) {
                if q != p || s > end {
                    break;
                }
                end = end.max(e);
                i += 1;
            }
            let Some(re) = self.regexes.get(p) else {
                continue;
            };
            let input = Input::new(hay).range(start..end);
            hits.extend(re.captures_iter(input).filter_map(|c| hit(p, &c)));
        }
        hits.sort_by_key(|h| (h.pattern, h.start));
        hits
    }
}

/// An ASCII-case-insensitive automaton reporting every occurrence of `literals`: a full DFA,
/// the fastest, or if that is too big, whatever smaller automaton the crate picks.
pub(crate) fn automaton(literals: &[Vec<u8>]) -> Result<AhoCorasick, aho_corasick::BuildError> {
    let build = |kind| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .kind(kind)
            .build(literals)
    };
    build(Some(AhoCorasickKind::DFA)).or_else(|_| build(None))
}

fn hit(pattern: usize, caps: &Captures) -> Option<Hit> {
    let m = caps.get_match()?;
    let g = caps.get_group(1).unwrap_or(m.span());
    Some(Hit {
        pattern,
        start: m.start(),
        end: m.end(),
        group: (g.start, g.end),
    })
}

/// Compiles an already `(?-u)`-prefixed pattern (see [`crate::util::searcher`]).
pub(crate) fn compile(p: &str) -> Regex {
    Regex::builder()
        .syntax(syntax::Config::new().utf8(false))
        .configure(
            Regex::config()
                .utf8_empty(false)
                .nfa_size_limit(Some(64 << 20))
                .hybrid_cache_capacity(8 << 20),
        )
        .build(p)
        .unwrap_or_else(|e| {
            record(e.to_string());
            never()
        })
}

#[expect(clippy::expect_used, reason = "a fixed, valid pattern")]
fn never() -> Regex {
    Regex::new(r"[^\s\S]").expect("the empty class compiles")
}

fn record(e: String) {
    if let Ok(mut broken) = BROKEN.lock() {
        broken.push(e);
    }
}

/// If every byte of every match of `hir` is in the base64 alphabet (look-arounds aside), the
/// shortest match length: such a pattern only matches inside runs of that alphabet.
fn alphabet_run(hir: &Hir) -> Option<usize> {
    fn only_alphabet(hir: &Hir) -> bool {
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => true,
            HirKind::Literal(lit) => lit.0.iter().all(|&b| in_alphabet(b)),
            HirKind::Class(Class::Bytes(c)) => c
                .ranges()
                .iter()
                .all(|r| (r.start()..=r.end()).all(in_alphabet)),
            HirKind::Class(Class::Unicode(c)) => c.ranges().iter().all(|r| {
                (u32::from(r.start())..=u32::from(r.end()))
                    .all(|v| u8::try_from(v).is_ok_and(in_alphabet))
            }),
            HirKind::Repetition(rep) => only_alphabet(&rep.sub),
            HirKind::Capture(cap) => only_alphabet(&cap.sub),
            HirKind::Concat(items) | HirKind::Alternation(items) => items.iter().all(only_alphabet),
        }
    }
    let min = hir.properties().minimum_len()?;
    (min >= 8 && only_alphabet(hir)).then_some(min)
}

/// A lazy DFA of `hir`, to learn what may follow its leading literals.
fn lazy_dfa(hir: &Hir) -> Option<(hybrid::dfa::DFA, hybrid::dfa::Cache)> {
    let nfa = thompson::Compiler::new()
        .configure(thompson::Config::new().utf8(false))
        .build_from_hir(hir)
        .ok()?;
    let dfa = hybrid::dfa::DFA::builder().build_from_nfa(nfa).ok()?;
    let cache = dfa.create_cache();
    Some((dfa, cache))
}

/// ASCII white space, as `\s` in `(?-u)` patterns.
const SPACE: [u8; 6] = [b'\t', b'\n', 0x0b, 0x0c, b'\r', b' '];

fn is_space(b: u8) -> bool {
    SPACE.contains(&b)
}

/// Adds byte `b` to a 256-bit set.
fn insert(set: &mut [u64; 4], b: u8) {
    if let Some(w) = set.get_mut(usize::from(b >> 6)) {
        *w |= 1 << (b & 63);
    }
}

/// The bytes that may follow `literal` (any ASCII case of it, as the literal automaton finds
/// it) at the start of a match, whatever byte precedes it, and the bytes that may follow the
/// literal plus a run of white space; `None` if the lazy DFA gives up. A byte is kept when the
/// DFA is not dead after it, or when a match ended before it.
fn follow_sets(
    dfa: &hybrid::dfa::DFA,
    cache: &mut hybrid::dfa::Cache,
    literal: &[u8],
) -> Option<([u64; 4], [u64; 4])> {
    const ALL: [u64; 4] = [u64::MAX; 4];
    let mut states = Vec::new();
    for behind in [
        None,
        Some(b' '),
        Some(b'\n'),
        Some(b'\r'),
        Some(b'a'),
        Some(b'-'),
    ] {
        let config = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(behind);
        states.push(dfa.start_state(cache, &config).ok()?);
    }
    for &byte in literal {
        let mut next = Vec::new();
        for &s in &states {
            for b in [byte.to_ascii_lowercase(), byte.to_ascii_uppercase()] {
                let n = dfa.next_state(cache, s, b).ok()?;
                if n.is_quit() {
                    return None;
                }
                if n.is_match() {
                    // The pattern can end inside the literal: anything may follow.
                    return Some((ALL, ALL));
                }
                if !n.is_dead() && !next.contains(&n) {
                    next.push(n);
                }
            }
        }
        states = next;
    }
    let first = leading_on(dfa, cache, &states)?;
    // Every state one or more white-space bytes lead to.
    let mut spaced: Vec<hybrid::LazyStateID> = Vec::new();
    let mut frontier = states;
    while let Some(s) = frontier.pop() {
        for b in SPACE {
            let n = dfa.next_state(cache, s, b).ok()?;
            if n.is_quit() || n.is_match() || spaced.len() > 64 {
                return (first != [0; 4]).then_some((first, ALL));
            }
            if !n.is_dead() && !spaced.contains(&n) {
                spaced.push(n);
                frontier.push(n);
            }
        }
    }
    let after_space = if spaced.is_empty() {
        ALL
    } else {
        leading_on(dfa, cache, &spaced)?
    };
    // No way on: the extraction and the DFA disagree; do not rule anything out.
    (first != [0; 4]).then_some((first, after_space))
}

/// The bytes that lead on from any of `states`: to a live state, or past a match. One byte of
/// each of the DFA's byte classes is tried; the verdict holds for its whole class.
fn leading_on(
    dfa: &hybrid::dfa::DFA,
    cache: &mut hybrid::dfa::Cache,
    states: &[hybrid::LazyStateID],
) -> Option<[u64; 4]> {
    let classes = dfa.byte_classes();
    let mut live = [false; 256];
    for &s in states {
        for unit in classes.representatives(..) {
            let Some(b) = unit.as_u8() else { continue };
            let n = dfa.next_state(cache, s, b).ok()?;
            if n.is_quit() {
                return None;
            }
            if (n.is_match() || !n.is_dead())
                && let Some(l) = live.get_mut(usize::from(classes.get(b)))
            {
                *l = true;
            }
        }
    }
    let mut set = [0u64; 4];
    for b in 0..=255u8 {
        if live
            .get(usize::from(classes.get(b)))
            .copied()
            .unwrap_or(true)
        {
            insert(&mut set, b);
        }
    }
    Some(set)
}

fn parse(p: &str) -> Option<Hir> {
    regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(p)
        .ok()
}

/// Whether every match of `hir` begins with an ASCII word-boundary assertion.
fn starts_at_word_boundary(hir: &Hir) -> bool {
    use regex_syntax::hir::Look;
    match hir.kind() {
        HirKind::Look(look) => matches!(
            look,
            Look::WordAscii | Look::WordStartAscii | Look::WordStartHalfAscii
        ),
        HirKind::Capture(cap) => starts_at_word_boundary(&cap.sub),
        HirKind::Concat(items) => items.first().is_some_and(starts_at_word_boundary),
        HirKind::Alternation(alts) => alts.iter().all(starts_at_word_boundary),
        _ => false,
    }
}

/// The literals (lowercased) that every match of `hir` starts with, or failing that, contains
/// one of; `None` when there are none long enough.
fn literals_of(hir: &Hir) -> Option<(Vec<Vec<u8>>, Role)> {
    if let Some(lits) = leading(hir) {
        return Some((lits, Role::Starts));
    }
    let lits = required(hir)?;
    let usable = lits.iter().all(|l| l.len() >= MIN_CONTAINED);
    (usable && !lits.is_empty()).then_some((lits, Role::Within))
}

/// The literals every match starts with (from `regex-syntax`'s prefix extractor), lowercased.
fn leading(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    // Extracted from the pattern with its letters' case classes (`[Aa]`) as lowercase
    // letters: the same literals, lowercased, without the extractor spelling out every mix of
    // cases of a case-insensitive word (2^n of them) first.
    let seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_class(4)
        .limit_total(1 << 15)
        .extract(&lower_case(hir));
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for lit in seq.literals()? {
        let lower = lit.as_bytes().to_ascii_lowercase();
        if lower.len() < MIN_LITERAL {
            return None;
        }
        if seen.insert(lower.clone()) {
            out.push(lower);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// `hir` with every class that is one ASCII letter in both cases (what `(?i)` makes of a
/// letter) replaced by that letter in lower case.
fn lower_case(hir: &Hir) -> Hir {
    use regex_syntax::hir::{Capture, Repetition};
    match hir.kind() {
        HirKind::Class(class) => match case_pair(class) {
            Some(letter) => Hir::literal([letter]),
            None => hir.clone(),
        },
        HirKind::Concat(items) => Hir::concat(items.iter().map(lower_case).collect()),
        HirKind::Alternation(alts) => Hir::alternation(alts.iter().map(lower_case).collect()),
        HirKind::Repetition(r) => Hir::repetition(Repetition {
            sub: Box::new(lower_case(&r.sub)),
            ..r.clone()
        }),
        HirKind::Capture(c) => Hir::capture(Capture {
            sub: Box::new(lower_case(&c.sub)),
            ..c.clone()
        }),
        HirKind::Empty | HirKind::Literal(_) | HirKind::Look(_) => hir.clone(),
    }
}

/// The lowercase letter of a class that is exactly one ASCII letter in both cases.
fn case_pair(class: &Class) -> Option<u8> {
    let (a, b) = match class {
        Class::Bytes(c) => match c.ranges() {
            [a, b] if a.start() == a.end() && b.start() == b.end() => (a.start(), b.start()),
            _ => return None,
        },
        Class::Unicode(c) => match c.ranges() {
            [a, b] if a.start() == a.end() && b.start() == b.end() => (
                u8::try_from(u32::from(a.start())).ok()?,
                u8::try_from(u32::from(b.start())).ok()?,
            ),
            _ => return None,
        },
    };
    (a.is_ascii_uppercase() && b == a.to_ascii_lowercase()).then_some(b)
}

/// Literal sets with more members than this are not worth gating on.
const MAX_SET: usize = 64;

/// A set of lowercased literals one of which every match of `hir` contains, or `None`.
/// Adjacent literals and small classes (`[Ss]`, `[_-]`) in a concatenation are joined; of the
/// candidates, the one whose shortest member is longest wins.
fn required(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(lit) => Some(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(class) => {
            small_class(class).map(|bytes| bytes.into_iter().map(|b| vec![b]).collect())
        }
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Alternation(alts) => {
            let mut out: Vec<Vec<u8>> = Vec::new();
            for alt in alts {
                for lit in required(alt)? {
                    if !out.contains(&lit) {
                        out.push(lit);
                    }
                }
            }
            (out.len() <= MAX_SET).then_some(out)
        }
        HirKind::Concat(items) => {
            let mut best: Option<Vec<Vec<u8>>> = None;
            let mut run: Option<Vec<Vec<u8>>> = None;
            for item in items {
                let piece = match item.kind() {
                    HirKind::Literal(lit) => Some(vec![lit.0.to_ascii_lowercase()]),
                    HirKind::Class(class) => {
                        small_class(class).map(|bytes| bytes.into_iter().map(|b| vec![b]).collect())
                    }
                    _ => None,
                };
                match piece {
                    Some(piece) => {
                        let joined = match run.take() {
                            Some(prefix) => product(&prefix, &piece),
                            None => Some(piece),
                        };
                        match joined {
                            Some(j) => run = Some(j),
                            None => run = None,
                        }
                    }
                    None => {
                        best = better(best, run.take());
                        best = better(best, required(item));
                    }
                }
            }
            better(best, run)
        }
        _ => None,
    }
}

/// Every concatenation of a member of `a` with a member of `b`, if not too many.
fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    let mut out: Vec<Vec<u8>> = Vec::new();
    for x in a {
        for y in b {
            let j = [x.as_slice(), y.as_slice()].concat();
            if !out.contains(&j) {
                out.push(j);
            }
        }
    }
    Some(out)
}

/// The candidate whose shortest literal is longer (then: with fewer literals).
fn better(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let key = |s: &Vec<Vec<u8>>| {
        (
            s.iter().map(Vec::len).min().unwrap_or(0),
            std::cmp::Reverse(s.len()),
        )
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if key(&b) > key(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The bytes of a class of at most four ASCII bytes, lowercased (`[Ss]` is one byte).
fn small_class(class: &Class) -> Option<Vec<u8>> {
    let mut bytes: Vec<u8> = Vec::new();
    match class {
        Class::Bytes(c) => {
            for r in c.ranges() {
                if usize::from(r.end() - r.start()) >= 4 {
                    return None;
                }
                bytes.extend(r.start()..=r.end());
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                let (s, e) = (u32::from(r.start()), u32::from(r.end()));
                if e >= 0x80 || e - s >= 4 {
                    return None;
                }
                bytes.extend((s..=e).filter_map(|b| u8::try_from(b).ok()));
            }
        }
    }
    let mut lower: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
    lower.sort_unstable();
    lower.dedup();
    (lower.len() <= 4).then_some(lower)
}

#[cfg(test)]
#[path = "anchored_tests.rs"]
mod tests;
