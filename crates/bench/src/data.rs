//! Governed data access, in one run:
//!
//! - SQL: the same queries run on a SQLite file of 20,000 orders and 2,000 customers, once as
//!   written (unfiltered, the baseline) and once through the rewriter (row filter, mask), with
//!   the rewrite alone timed as well. The executor, connection pool and row conversion are the
//!   same in both arms.
//! - Search: 100,000 documents (60 words each from a 5,000-word vocabulary, ACLs over 50 users
//!   and 10 groups, a fifth public) indexed in memory as `warden data-server` does after
//!   loading the store; one- and two-word queries, a word every document has, and the empty
//!   query (every readable document), each for a random caller, first and following pages.
#![expect(
    clippy::indexing_slicing,
    reason = "indices are taken modulo the lengths of fixed, non-empty tables"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;
use warden_data::sql::{SqlDb, SqlSettings};
use warden_docstore::{Document, Index, SearchQuery};
use warden_sqlguard::{ColumnMask, TableRule};

use crate::stats::Samples;

const QUERIES: usize = 3_000;
const DOCS: usize = 100_000;
const SEARCHES: usize = 2_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn run() -> Result<()> {
    sql()?;
    search()
}

fn sql() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("shop.db");
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, region TEXT);
             CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total INTEGER, status TEXT);
             CREATE INDEX orders_customer ON orders (customer_id);
             BEGIN;",
        )?;
        let mut rng = Rng(7);
        for c in 1..=2_000i64 {
            conn.execute(
                "INSERT INTO customers VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    c,
                    format!("name{c}"),
                    format!("c{c}@example.com"),
                    ["eu", "us", "apac"][(c % 3) as usize]
                ],
            )?;
        }
        for o in 1..=20_000i64 {
            conn.execute(
                "INSERT INTO orders VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    o,
                    (rng.below(2_000) + 1) as i64,
                    rng.below(1_000) as i64,
                    ["new", "paid", "sent"][(o % 3) as usize]
                ],
            )?;
        }
        conn.execute_batch("COMMIT")?;
    }
    let rules = vec![
        TableRule {
            table: "orders".into(),
            filter: Some("customer_id = principal.customer_id".into()),
            ..TableRule::default()
        },
        TableRule {
            table: "customers".into(),
            filter: Some("id = principal.customer_id".into()),
            write: false,
            masks: BTreeMap::from([(
                "email".to_owned(),
                ColumnMask {
                    unless: "principal.team = 'support'".into(),
                    with: Some("***".into()),
                },
            )]),
        },
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let db = rt.block_on(SqlDb::open(
        "shop",
        &SqlSettings {
            sqlite: Some(path),
            tables: rules,
            ..SqlSettings::default()
        },
    ))?;
    let shapes = [
        "SELECT id, total, status FROM orders WHERE customer_id = {c} ORDER BY id",
        "SELECT count(*), sum(total) FROM orders WHERE customer_id = {c} AND status = 'paid'",
        "SELECT o.id, c.name, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.customer_id = {c}",
        "WITH mine AS (SELECT * FROM orders WHERE customer_id = {c}) SELECT status, count(*) FROM mine GROUP BY status",
        "SELECT id FROM orders WHERE customer_id = {c} UNION SELECT id FROM orders WHERE customer_id = {c} AND total > 500",
    ];
    let mut rng = Rng(11);
    let (mut plain, mut governed, mut rewrite) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = (0usize, 0usize);
    for i in 0..QUERIES {
        let customer = rng.below(2_000) + 1;
        let sql = shapes[i % shapes.len()].replace("{c}", &customer.to_string());
        let principal = json!({"id": "bot", "customer_id": customer, "team": "sales"});
        let t = Instant::now();
        let base = rt.block_on(db.run(&sql, &principal))?;
        plain.push(t.elapsed());
        let t = Instant::now();
        let (_, got) = rt.block_on(db.query(&sql, &principal, &[]))?;
        governed.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(db.guard().rewrite(&sql, &principal, &[])?);
        rewrite.push(t.elapsed());
        rows.0 += base.rows.len();
        rows.1 += got.rows.len();
    }
    let (plain, governed, rewrite) = (
        Samples::new(plain),
        Samples::new(governed),
        Samples::new(rewrite),
    );
    println!(
        "SQL on SQLite (20,000 orders, 2,000 customers; {QUERIES} queries of 5 shapes: filter, aggregate, join with a masked column, CTE, UNION; {} rows unfiltered, {} governed)",
        rows.0, rows.1
    );
    println!(
        "  rewrite alone (parse, check, rewrite, render): p50 {:.1} us, p99 {:.1} us",
        rewrite.pct(50.0),
        rewrite.pct(99.0)
    );
    println!(
        "{}",
        crate::stats::added("unfiltered", &plain, "rewritten", &governed)
    );
    Ok(())
}

fn search() -> Result<()> {
    let mut rng = Rng(3);
    let vocabulary: Vec<String> = (0..5_000).map(|i| format!("w{i:04}x")).collect();
    let mut docs = Vec::with_capacity(DOCS);
    for i in 0..DOCS {
        let words: Vec<&str> = (0..60)
            .map(|_| {
                // Skewed: low word numbers are common, as in text.
                let a = rng.below(5_000);
                let b = rng.below(5_000);
                vocabulary[a.min(b) as usize].as_str()
            })
            .chain(["common"])
            .collect();
        let mut acl = vec![format!("user:u{}", rng.below(50))];
        if rng.below(3) == 0 {
            acl.push(format!("group:g{}", rng.below(10)));
        }
        if rng.below(5) == 0 {
            acl.push("public".to_owned());
        }
        docs.push((
            i as i64 + 1,
            Document {
                id: format!("doc-{i}"),
                title: format!("document {i} {}", words[0]),
                text: words.join(" "),
                acl,
                tags: BTreeMap::from([("kind".to_owned(), ["memo", "report"][i % 2].to_owned())]),
                source: None,
            },
        ));
    }
    let t = Instant::now();
    let index = Index::build(docs, 1, [9; 32]);
    let built = t.elapsed();
    let no_tags = BTreeMap::new();
    let mut times: Vec<Duration> = Vec::with_capacity(SEARCHES);
    let mut empty_times: Vec<Duration> = Vec::new();
    let mut next_times: Vec<Duration> = Vec::new();
    let mut hits = 0usize;
    let mut readable = 0usize;
    for i in 0..SEARCHES {
        let readers: BTreeSet<String> = [
            format!("user:u{}", rng.below(50)),
            format!("group:g{}", rng.below(10)),
            "public".to_owned(),
        ]
        .into();
        let text = match i % 5 {
            0 => String::new(),
            1 => vocabulary[rng.below(50) as usize].clone(),
            2 => vocabulary[rng.below(5_000) as usize].clone(),
            3 => "common".to_owned(),
            _ => format!(
                "{} {}",
                vocabulary[rng.below(200) as usize],
                vocabulary[rng.below(200) as usize]
            ),
        };
        let t = Instant::now();
        let page = index.search(&SearchQuery {
            text: &text,
            readers: &readers,
            limit: 20,
            cursor: None,
            tags: &no_tags,
        })?;
        let took = t.elapsed();
        times.push(took);
        if text.is_empty() {
            empty_times.push(took);
        }
        hits += page.total;
        if text.is_empty() {
            readable += page.total;
        }
        if let Some(cursor) = &page.next_cursor {
            let t = Instant::now();
            let next = index.search(&SearchQuery {
                text: &text,
                readers: &readers,
                limit: 20,
                cursor: Some(cursor),
                tags: &no_tags,
            })?;
            next_times.push(t.elapsed());
            std::hint::black_box(next);
        }
    }
    let (all, empty, next) = (
        Samples::new(times),
        Samples::new(empty_times),
        Samples::new(next_times),
    );
    println!(
        "document search, {DOCS} documents indexed in {:.2} s; {SEARCHES} searches by random callers (each reads {} documents on average, a fifth of all are public; queries: empty, a frequent word, any word, a word in every document, two frequent words; {} matches in all), 20 per page",
        built.as_secs_f64(),
        readable / (SEARCHES / 5),
        hits
    );
    println!(
        "  first pages: p50 {:.2} ms, p99 {:.2} ms",
        all.pct(50.0) / 1000.0,
        all.pct(99.0) / 1000.0
    );
    println!(
        "  empty query (every readable document): p50 {:.2} ms, p99 {:.2} ms",
        empty.pct(50.0) / 1000.0,
        empty.pct(99.0) / 1000.0
    );
    println!(
        "  next pages: p50 {:.2} ms, p99 {:.2} ms",
        next.pct(50.0) / 1000.0,
        next.pct(99.0) / 1000.0
    );
    Ok(())
}
