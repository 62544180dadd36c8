//! Ingestion: a JSON-lines file and a document's text through loading and cleaning never
//! panic, and the cleaned text holds no hidden characters.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use warden_docstore::{Defaults, Document, Sanitize, prepare};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("warden-fuzz-docs-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("in.jsonl");
    if std::fs::write(&file, data).is_ok() {
        let defaults = Defaults { acl: vec!["public".into()], tags: BTreeMap::new() };
        let _ = warden_docstore::load_path(&file, &defaults);
    }
    let text = String::from_utf8_lossy(data).into_owned();
    let doc = Document {
        id: "x".into(),
        title: text.chars().take(80).collect(),
        text,
        acl: vec!["public".into()],
        tags: BTreeMap::new(),
        source: None,
    };
    let (clean, _) = prepare(doc, &Sanitize::default());
    for c in clean.text.chars() {
        assert!(
            !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}'),
            "hidden character {c:?} left in {:?}",
            clean.text
        );
    }
});
