//! One literal pass per view, shared by every detector that starts from literals: the
//! provider-key table, the injection-rule table and the context words of the SSN and
//! date-of-birth detectors. One Aho-Corasick automaton holds all their literals (ASCII case
//! ignored); each view is run through it once, on first use, and each detector reads the
//! occurrences of its own set.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

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
    automaton: AhoCorasick,
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
    let automaton = crate::anchored::automaton(&all).ok()?;
    Some(Shared { automaton, ranges })
});

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
    let shared = SHARED.as_ref()?;
    Some(
        shared
            .automaton
            .find_overlapping_iter(text)
            .filter_map(|m| {
                Some((
                    u32::try_from(m.pattern().as_usize()).ok()?,
                    u32::try_from(m.start()).ok()?,
                    u32::try_from(m.end()).ok()?,
                ))
            })
            .collect(),
    )
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
