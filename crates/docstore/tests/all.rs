//! Integration tests of the document store: one binary, one module per area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod index;
mod load;
mod store;

use std::collections::BTreeMap;

use warden_docstore::Document;

pub fn doc(id: &str, title: &str, text: &str, acl: &[&str]) -> Document {
    Document {
        id: id.into(),
        title: title.into(),
        text: text.into(),
        acl: acl.iter().map(|s| (*s).to_owned()).collect(),
        tags: BTreeMap::new(),
        source: None,
    }
}
