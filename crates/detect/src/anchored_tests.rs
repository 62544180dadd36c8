use super::*;

/// What each pattern's own search reports, the reference the table must agree with.
fn naive(patterns: &[&str], hay: &[u8]) -> Vec<Hit> {
    let mut out = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let re = crate::util::pattern(p);
        for c in re.captures_iter(hay) {
            let Some(m) = c.get(0) else { continue };
            let g = c.get(1).unwrap_or(m);
            out.push(Hit {
                pattern: i,
                start: m.start(),
                end: m.end(),
                group: (g.start(), g.end()),
            });
        }
    }
    out
}

/// Deterministic texts made of fragments that start, almost start or continue the patterns.
fn texts() -> Vec<Vec<u8>> {
    let fragments: &[&str] = &[
        "AKIA",
        "akia",
        "ghp_",
        "GHP_",
        "sk-",
        "sk_live_",
        "xoxb-",
        "glpat-",
        "token",
        "Token",
        "key",
        "api_key",
        "secret",
        " = ",
        ": ",
        "\"",
        "'",
        " ",
        "\n",
        "-",
        "_",
        "/",
        "+",
        "aws",
        "stripe",
        "slack",
        "github",
        "ignore",
        " previous ",
        "instructions",
        "all",
        "disregard",
        "the above",
        "new instructions",
        "you are now",
        "system prompt",
        "é",
        "\u{200b}",
        "0123456789",
        "ABCDEFGHIJKLMNOP",
        "abcdefghij",
        "QRSTUVWXYZ012345",
        ".amazonaws.com",
        "AZDO",
        ":AA",
        "-us1",
        "NRAL",
        ":::",
        "todo: x",
        "1Q~",
        "$1$",
        "foo",
        "0123456789abcdef0123456789abcdef",
        "instead.",
        "<|im_start|>",
        "' or 1=1",
        "; rm -rf",
        "then",
        "the new task is",
        "The\tReal task is",
        "no rules",
        "nothing",
        "if you are an ai",
        "iframe",
        "## system",
        "##\n",
    ];
    crate::util::fragment_texts(0x2545_f491_4f6c_dd1d, fragments, 400, 85)
        .into_iter()
        .map(String::into_bytes)
        .collect()
}

/// Both constructions (follow sets for short literals, for all) report what each pattern's
/// own search reports.
fn agrees(patterns: &[&str]) {
    let tables = [
        Table::new(patterns.iter().copied()),
        Table::of_phrases(patterns.iter().copied()),
    ];
    assert!(BROKEN.lock().map(|b| b.is_empty()).unwrap_or(false));
    for t in texts() {
        let mut want = naive(patterns, &t);
        want.sort_by_key(|h| (h.pattern, h.start));
        for table in &tables {
            assert_eq!(
                table.find(&t),
                want,
                "text {:?}",
                String::from_utf8_lossy(&t)
            );
        }
    }
}

#[test]
fn provider_rules_match_as_their_own_search() {
    let patterns: Vec<&str> = crate::secrets::rules::RULES
        .iter()
        .map(|r| r.pattern)
        .collect();
    agrees(&patterns);
}

#[test]
fn injection_rules_match_as_their_own_search() {
    let patterns: Vec<&str> = crate::injection::rules::RULES
        .iter()
        .map(|r| r.pattern)
        .collect();
    agrees(&patterns);
}

#[test]
fn overlapping_starts_give_non_overlapping_matches() {
    let patterns = [r"aaa[a-z]{3}", r"\bkey\b", r"(?i:x)y+(z)?"];
    agrees(&patterns);
    let table = Table::new(patterns);
    let hits = table.find(b"aaaaaaaaaaaa key Xyyyz");
    let spans: Vec<_> = hits.iter().map(|h| (h.pattern, h.start, h.end)).collect();
    assert_eq!(spans, vec![(0, 0, 6), (0, 6, 12), (1, 13, 16), (2, 17, 22)]);
    assert_eq!(hits.last().map(|h| h.group), Some((21, 22)));
}

#[test]
fn contained_literals_bound_the_search_without_changing_matches() {
    let patterns = [
        r"[a-z]{0,5}foo[0-9]{0,3}\b",
        r"[0-9]+foo",
        r"\b[a-z]{1,3}:::[a-z]{0,4}$",
    ];
    agrees(&patterns);
    let table = Table::new(patterns);
    let hits: Vec<_> = table
        .find(b"xfoo1 abcdefoo99 foofoo 12foo ab:::cd")
        .iter()
        .map(|h| (h.pattern, h.start, h.end))
        .collect();
    assert_eq!(
        hits,
        vec![
            (0, 0, 5),
            (0, 6, 16),
            (0, 17, 23),
            (0, 26, 29),
            (1, 24, 29),
            (2, 30, 37)
        ]
    );
}

#[test]
fn patterns_without_a_leading_literal_are_still_searched() {
    let patterns = [
        r"[0-9]{4}-[0-9]{4}",
        r"(?:ab)?c",
        r"\bkey\b",
        r"[0-9]+ab[0-9]",
    ];
    let table = Table::new(patterns);
    assert_eq!(table.free(), &[0, 1]);
    agrees(&patterns);
    assert_eq!(table.find(b"x 1234-5678 cdef 12ab3").len(), 3);
    let (free, literals) = (table.free().len(), table.literals());
    assert_eq!((free, literals), (2, 2));
}

#[test]
fn few_provider_rules_lack_a_leading_literal() {
    let table = Table::new(crate::secrets::rules::RULES.iter().map(|r| r.pattern));
    let free: Vec<&str> = table
        .free()
        .iter()
        .filter_map(|&i| crate::secrets::rules::RULES.get(i).map(|r| r.label))
        .collect();
    eprintln!(
        "{} free: {free:?}; {} literals",
        free.len(),
        table.literals()
    );
    assert!(free.len() <= 3, "{free:?}");
}

#[test]
#[ignore = "prints how each rule is searched"]
fn show_roles() {
    let inj = crate::injection::rules::RULES
        .iter()
        .map(|r| (r.label, r.pattern));
    let sec = crate::secrets::rules::RULES
        .iter()
        .map(|r| (r.label, r.pattern));
    for (label, pattern) in inj.chain(sec) {
        let p = format!("(?-u){pattern}");
        let l = parse(&p).as_ref().and_then(literals_of);
        eprintln!(
            "{:<28} {:?} {:?}",
            label,
            l.as_ref().map(|x| x.1),
            l.map(|x| x
                .0
                .iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>())
        );
    }
}

#[test]
#[ignore = "prints the prefix extraction of one pattern"]
fn show_prefix() {
    let p = std::env::var("PAT").unwrap_or_default();
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(&format!("(?-u){p}"))
        .unwrap_or_else(|_| Hir::empty());
    let seq = Extractor::new()
        .kind(ExtractKind::Prefix)
        .limit_class(4)
        .limit_total(4096)
        .extract(&hir);
    eprintln!("{seq:?}");
}

#[test]
fn word_start_patterns_are_recognised() {
    let table = Table::of_phrases(crate::injection::rules::RULES.iter().map(|r| r.pattern));
    let n = table.word_start.iter().filter(|&&w| w).count();
    assert!(n >= 20, "{:?}", table.word_start);
    let t = Table::new([r"\bfoo", r"\bfoo|\bbar", r"foo|\bbar", r"(?i)\b(?:x|y)z"]);
    assert_eq!(t.word_start, [true, true, false, true]);
}

#[test]
fn a_literal_is_tried_only_where_a_match_can_continue_it() {
    let table = Table::new([
        r"\b(?:your|the)\s+(?:new|real)\s+task\b",
        r"AKIA[0-9A-Z]{16}",
        r"\bno\b",
    ]);
    let owner = |literal: &[u8]| {
        let at = table
            .literal_list
            .iter()
            .position(|l| l == literal)
            .unwrap();
        table.owners[at][0]
    };
    let follow = |literal: &[u8], byte: Option<u8>| {
        let hay: Vec<u8> = literal.iter().copied().chain(byte).collect();
        owner(literal).may_continue(&hay, literal.len())
    };
    // `the` goes on only with white space.
    for b in [b' ', b'\t', b'\n', b'\r'] {
        assert!(follow(b"the", Some(b)), "{b}");
    }
    for b in [b'n', b'y', b'r', b'-', b'.'] {
        assert!(!follow(b"the", Some(b)), "{b}");
    }
    // The literal automaton ignores case, the pattern does not: `akia` is followed by what
    // follows any casing of it.
    assert!(follow(b"akia", Some(b'7')));
    assert!(follow(b"akia", Some(b'Q')));
    assert!(!follow(b"akia", Some(b'q')));
    // A complete match may end with the literal: anything that is not a word byte follows.
    assert!(follow(b"no", Some(b' ')));
    assert!(follow(b"no", Some(b'.')));
    assert!(!follow(b"no", Some(b't')));
    // At the end of the text the pattern decides.
    assert!(follow(b"the", None));
    // After white space, the next word must begin `new` or `real`.
    let the = owner(b"the");
    for (text, may) in [
        ("the new", true),
        ("the \t\n real", true),
        ("the   ", true),
        ("the end", false),
        ("the\tother", false),
        ("then", false),
    ] {
        assert_eq!(the.may_continue(text.as_bytes(), 3), may, "{text:?}");
    }
}

#[test]
fn a_case_insensitive_word_leads_with_its_lowercase_spellings_only() {
    // Without folding first, the extractor spells out every mix of cases (2^17 for the first
    // word), runs into its limit and keeps short prefixes.
    let hir = parse("(?-u)(?i:aws_?session_?token|x-amz-security-token)=").unwrap();
    let mut lits: Vec<String> = leading(&hir)
        .unwrap()
        .into_iter()
        .map(|l| String::from_utf8(l).unwrap())
        .collect();
    lits.sort();
    assert_eq!(
        lits,
        [
            "aws_session_token=",
            "aws_sessiontoken=",
            "awssession_token=",
            "awssessiontoken=",
            "x-amz-security-token="
        ]
    );
    // A class that is not one letter's two cases stays a class.
    let hir = parse("(?-u)(?i:k)[ey]").unwrap();
    let mut lits = leading(&hir).unwrap();
    lits.sort();
    assert_eq!(lits, [b"ke".to_vec(), b"ky".to_vec()]);
}
