//! One literal pass per view, shared by every detector that starts from literals: the
//! provider-key table, the injection-rule table and the context words of the SSN and
//! date-of-birth detectors. One Aho-Corasick automaton holds all their literals (ASCII case
//! ignored); each view is run through it once, on first use, and each detector reads the
//! occurrences of its own set.

use std::sync::LazyLock;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{AhoCorasick, Anchored, MatchKind};

/// A detector's literal set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Set {
    ProviderKeys = 0,
    Injection = 1,
    SsnWords = 2,
    BirthWords = 3,
}

const SETS: usize = 4;

/// One occurrence: literal (automaton numbering), start, end.
pub(crate) type Occurrence = (u32, u32, u32);

struct Shared {
    automaton: Engine,
    /// The automaton's literal ids of each set: `[start, end)`.
    ranges: [(u32, u32); SETS],
}

static SHARED: LazyLock<Option<Shared>> = LazyLock::new(|| {
    let lists: [Vec<Vec<u8>>; SETS] = [
        crate::secrets::table().literal_list().to_vec(),
        crate::injection::table().literal_list().to_vec(),
        words(crate::pii::SSN_WORDS),
        words(crate::pii::BIRTH_WORDS),
    ];
    let mut all: Vec<Vec<u8>> = Vec::new();
    let mut ranges = [(0u32, 0u32); SETS];
    for (list, range) in lists.into_iter().zip(ranges.iter_mut()) {
        let start = u32::try_from(all.len()).ok()?;
        all.extend(list);
        *range = (start, u32::try_from(all.len()).ok()?);
    }
    let automaton = match DFA::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&all)
    {
        Ok(dfa) => Engine::Dfa(Box::new(dfa)),
        Err(_) => Engine::Other(crate::anchored::automaton(&all).ok()?),
    };
    Some(Shared { automaton, ranges })
});

/// The shared automaton: a DFA, walked by [`two_streams`], or if that is too big, whatever
/// smaller automaton the crate picks, through its own iterator.
enum Engine {
    Dfa(Box<DFA>),
    Other(AhoCorasick),
}

/// Keywords as literals: ASCII case is ignored by the automaton; a word with other letters
/// also goes in upper case and capitalized.
fn words(list: &[&str]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for w in list {
        let mut forms = vec![(*w).to_owned()];
        if !w.is_ascii() {
            forms.push(w.to_uppercase());
            let mut c = w.chars();
            if let Some(first) = c.next() {
                forms.push(first.to_uppercase().chain(c).collect());
            }
        }
        for f in forms {
            if !out.contains(&f.clone().into_bytes()) {
                out.push(f.into_bytes());
            }
        }
    }
    out
}

/// Every occurrence of every shared literal in `text`, or `None` if the automaton could not be
/// built (callers then search on their own).
pub(crate) fn occurrences(text: &str) -> Option<Vec<Occurrence>> {
    match &SHARED.as_ref()?.automaton {
        Engine::Dfa(dfa) => two_streams(dfa, text.as_bytes()),
        Engine::Other(ac) => Some(
            ac.find_overlapping_iter(text)
                .filter_map(|m| {
                    Some((
                        u32::try_from(m.pattern().as_usize()).ok()?,
                        u32::try_from(m.start()).ok()?,
                        u32::try_from(m.end()).ok()?,
                    ))
                })
                .collect(),
        ),
    }
}

/// Every occurrence of `dfa`'s literals in `hay`, in the order of an overlapping search (by
/// end, then as the automaton lists them). A DFA walk waits on each transition's load before
/// it can take the next, so the halves of the text are walked side by side, two independent
/// chains in one loop. The second walk starts `longest` bytes before the middle: an
/// Aho-Corasick state stands for at most the last `longest` bytes (the longest literal), so
/// from the middle on it is the state a walk from the start would be in, and the second walk
/// reports only what ends after the middle (the first, what ends before).
fn two_streams(dfa: &DFA, hay: &[u8]) -> Option<Vec<Occurrence>> {
    let start = dfa.start_state(Anchored::No).ok()?;
    let longest = dfa.max_pattern_len();
    let mut first = Vec::new();
    let mid = hay.len() / 2;
    // Short texts: one walk.
    if mid < 4 * longest {
        let mut sid = start;
        for (i, &b) in hay.iter().enumerate() {
            sid = dfa.next_state(Anchored::No, sid, b);
            if dfa.is_special(sid) {
                report(dfa, sid, i + 1, &mut first);
            }
        }
        return Some(first);
    }
    let (head, tail) = hay.split_at(mid);
    let mut second = Vec::new();
    let mut b_sid = start;
    for &b in head.get(mid - longest..).unwrap_or_default() {
        b_sid = dfa.next_state(Anchored::No, b_sid, b);
    }
    let mut a_sid = start;
    for (i, (&a, &b)) in head.iter().zip(tail).enumerate() {
        a_sid = dfa.next_state(Anchored::No, a_sid, a);
        b_sid = dfa.next_state(Anchored::No, b_sid, b);
        if dfa.is_special(a_sid) {
            report(dfa, a_sid, i + 1, &mut first);
        }
        if dfa.is_special(b_sid) {
            report(dfa, b_sid, mid + i + 1, &mut second);
        }
    }
    // The second half is the longer by at most one byte.
    for (i, &b) in tail.iter().enumerate().skip(head.len()) {
        b_sid = dfa.next_state(Anchored::No, b_sid, b);
        if dfa.is_special(b_sid) {
            report(dfa, b_sid, mid + i + 1, &mut second);
        }
    }
    first.append(&mut second);
    Some(first)
}

/// The literals that end at `end` in state `sid` (none unless it is a match state).
#[inline]
fn report(dfa: &DFA, sid: StateID, end: usize, out: &mut Vec<Occurrence>) {
    if !dfa.is_match(sid) {
        return;
    }
    for k in 0..dfa.match_len(sid) {
        let p = dfa.match_pattern(sid, k);
        let start = end - dfa.pattern_len(p);
        if let (Ok(p), Ok(start), Ok(end)) = (
            u32::try_from(p.as_usize()),
            u32::try_from(start),
            u32::try_from(end),
        ) {
            out.push((p, start, end));
        }
    }
}

/// The occurrences of `set`'s literals among `all`, as `(literal in the set, start, end)`.
pub(crate) fn of(
    all: &[Occurrence],
    set: Set,
) -> Option<impl Iterator<Item = (usize, usize, usize)> + '_> {
    let &(from, to) = SHARED.as_ref()?.ranges.get(set as usize)?;
    Some(
        all.iter()
            .filter(move |o| (from..to).contains(&o.0))
            .map(move |&(l, s, e)| ((l - from) as usize, s as usize, e as usize)),
    )
}

#[cfg(test)]
#[path = "literals_tests.rs"]
mod tests;
