#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The hostile-query suite and the property tests, on a real SQLite file and (when
//! `WARDEN_TEST_POSTGRES` names a server, as `scripts/test.sh` arranges) on a real PostgreSQL
//! database.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use warden_data::sql::{SqlDb, SqlSettings};
use warden_sqlguard::{ColumnMask, TableRule};

#[derive(Deserialize)]
struct Suite {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    sql: String,
    expect: String,
    rows: Option<Vec<Vec<Value>>>,
    only: Option<String>,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, region TEXT)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total INTEGER, note TEXT)",
    "CREATE TABLE secrets (id INTEGER, value TEXT)",
    "CREATE INDEX orders_total ON orders (total)",
    "INSERT INTO customers VALUES (1, 'alice', 'alice@example.com', 'eu'), (2, 'FORBIDDEN-bob', 'bob@example.com', 'us'), (3, 'FORBIDDEN-carol', 'carol@example.com', 'eu')",
    "INSERT INTO orders VALUES (1, 1, 10, 'ok-1'), (2, 1, 20, 'ok-2'), (3, 2, 9001, 'FORBIDDEN-3'), (4, 3, 9002, 'FORBIDDEN-4')",
    "INSERT INTO secrets VALUES (1, 'TOPSECRET')",
];

fn rules() -> Vec<TableRule> {
    vec![
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
    ]
}

fn agent() -> Value {
    json!({"id": "bot", "customer_id": 1, "team": "sales"})
}

/// A cell no query may return.
fn forbidden(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("FORBIDDEN") || s.contains("TOPSECRET") || s.contains('@'),
        Value::Number(n) => n.as_f64().is_some_and(|f| f >= 9000.0),
        _ => false,
    }
}

/// Rows compared across databases: numbers as f64, in any order.
fn canonical(rows: &[Vec<Value>]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Number(n) => format!("{}", n.as_f64().unwrap()),
                    Value::String(s) if s == "<null>" => "null".to_owned(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    out.sort();
    out
}

async fn run_suite(db: &SqlDb, dialect: &str) {
    let suite: Suite = toml::from_str(include_str!("hostile.toml")).unwrap();
    assert!(suite.case.len() >= 40);
    let schema = if dialect == "sqlite" {
        "main"
    } else {
        "public"
    };
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in &suite.case {
        if case.only.as_deref().is_some_and(|o| o != dialect) {
            continue;
        }
        ran += 1;
        let sql = case.sql.replace("{schema}", schema);
        let result = db.query(&sql, &agent(), &[]).await;
        let problem = match (&result, case.expect.as_str()) {
            (Err(_), "refused" | "safe") => None,
            (Err(e), _) => Some(format!("should run, was refused: {e}")),
            (Ok(_), "refused") => Some("should be refused, ran".to_owned()),
            (Ok((_, rows)), _) => {
                if let Some(bad) = rows.rows.iter().flatten().find(|v| forbidden(v)) {
                    Some(format!("returned a forbidden value {bad}"))
                } else if let Some(want) = &case.rows
                    && canonical(want) != canonical(&rows.rows)
                {
                    Some(format!("returned {:?}, want {:?}", rows.rows, want))
                } else {
                    None
                }
            }
        };
        if let Some(p) = problem {
            failures.push(format!("{} ({dialect}): {p}\n    {sql}", case.name));
        }
    }
    assert!(ran >= 40, "{ran} cases ran");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn sqlite_file(dir: &std::path::Path, name: &str, statements: &[String]) -> std::path::PathBuf {
    let path = dir.join(name);
    let conn = rusqlite::Connection::open(&path).unwrap();
    for s in statements {
        conn.execute_batch(s).unwrap();
    }
    path
}

#[tokio::test]
async fn hostile_queries_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let statements: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    let path = sqlite_file(dir.path(), "shop.db", &statements);
    let db = SqlDb::open(
        "shop",
        &SqlSettings {
            sqlite: Some(path),
            tables: rules(),
            ..SqlSettings::default()
        },
    )
    .await
    .unwrap();
    run_suite(&db, "sqlite").await;
}

#[tokio::test]
async fn sqlite_stops_a_runaway_query() {
    let dir = tempfile::tempdir().unwrap();
    let statements: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    let path = sqlite_file(dir.path(), "shop.db", &statements);
    let db = SqlDb::open(
        "shop",
        &SqlSettings {
            sqlite: Some(path),
            tables: rules(),
            timeout_ms: Some(200),
            max_rows: Some(3),
            ..SqlSettings::default()
        },
    )
    .await
    .unwrap();
    let forever =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let err = db.query(forever, &agent(), &[]).await.unwrap_err();
    assert!(err.to_string().contains("longer than 200 ms"), "{err}");
    let many = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c";
    let (_, rows) = db.query(many, &agent(), &[]).await.unwrap();
    assert_eq!(rows.rows.len(), 3);
    assert!(rows.truncated);
}

/// A small deterministic generator (xorshift), so failures reproduce from the seed.
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
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Random customers and orders: (all rows, only the rows customer `who` may see, with the
/// mask applied), as SQL statements.
fn random_data(rng: &mut Rng, who: i64) -> (Vec<String>, Vec<String>) {
    let mut full = vec![
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, email TEXT, region TEXT)".to_owned(),
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER, total INTEGER, note TEXT)".to_owned(),
    ];
    let mut reference = full.clone();
    for c in 1..=8 {
        let region = rng.pick(&["eu", "us", "apac"]);
        full.push(format!(
            "INSERT INTO customers VALUES ({c}, 'name{c}', 'c{c}@example.com', '{region}')"
        ));
        if c == who {
            reference.push(format!(
                "INSERT INTO customers VALUES ({c}, 'name{c}', '***', '{region}')"
            ));
        }
    }
    for o in 1..=60 {
        let customer = rng.below(8) as i64 + 1;
        let total = rng.below(500);
        let note = rng.pick(&["new", "paid", "sent", "back"]);
        let row = format!("INSERT INTO orders VALUES ({o}, {customer}, {total}, '{note}')");
        if customer == who {
            reference.push(row.clone());
        }
        full.push(row);
    }
    (full, reference)
}

/// A random query over the two tables: joins, subqueries, set operations, CTEs, aggregates.
fn random_query(rng: &mut Rng) -> String {
    let predicate = |rng: &mut Rng| -> String {
        match rng.below(6) {
            0 => format!("total > {}", rng.below(500)),
            1 => format!("note = '{}'", rng.pick(&["new", "paid", "sent", "back"])),
            2 => format!(
                "customer_id IN ({}, {})",
                rng.below(8) + 1,
                rng.below(8) + 1
            ),
            3 => "customer_id IN (SELECT id FROM customers WHERE region = 'eu')".to_owned(),
            4 => format!(
                "total BETWEEN {} AND {}",
                rng.below(250),
                250 + rng.below(250)
            ),
            _ => "1 = 1".to_owned(),
        }
    };
    let p1 = predicate(rng);
    let p2 = predicate(rng);
    match rng.below(9) {
        0 => format!("SELECT id, total FROM orders WHERE {p1}"),
        1 => format!("SELECT count(*), coalesce(sum(total), 0) FROM orders WHERE {p1} OR {p2}"),
        2 => format!(
            "SELECT o.id, c.name, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE {p1}"
        ),
        3 => format!("SELECT id FROM orders WHERE {p1} UNION SELECT id FROM orders WHERE {p2}"),
        4 => format!(
            "WITH t AS (SELECT * FROM orders WHERE {p1}) SELECT note, count(*) FROM t GROUP BY note"
        ),
        5 => format!(
            "SELECT c.region, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id AND {p1}) FROM customers c"
        ),
        6 => format!(
            "SELECT a.id, b.id FROM orders a JOIN orders b ON a.note = b.note AND a.id < b.id WHERE a.total > {}",
            rng.below(500)
        ),
        7 => format!(
            "SELECT id FROM orders WHERE EXISTS (SELECT 1 FROM customers WHERE customers.id = orders.customer_id) AND {p1}"
        ),
        _ => format!(
            "SELECT max(total) FROM (SELECT total FROM orders WHERE {p1} UNION ALL SELECT total FROM orders WHERE {p2}) x"
        ),
    }
}

/// Where a test database lives.
#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A database holding `statements`, opened with `rules` (SQLite: a file in `dir`; PostgreSQL:
/// a fresh database on the test server, used by a role that is neither its owner nor a
/// superuser, so row-level security applies to it; the role may write every table, so what
/// keeps reads read-only is Warden, not the grants).
async fn database(
    backend: Backend,
    dir: &std::path::Path,
    name: &str,
    statements: &[String],
    settings: SqlSettings,
) -> SqlDb {
    let settings = match backend {
        Backend::Sqlite => SqlSettings {
            sqlite: Some(sqlite_file(dir, &format!("{name}.db"), statements)),
            ..settings
        },
        Backend::Postgres => SqlSettings {
            postgres: Some(pg_database(name, statements).await),
            ..settings
        },
    };
    SqlDb::open(name, &settings).await.unwrap()
}

/// The test server's connection string, or `None` (then the PostgreSQL tests say they were
/// skipped; `scripts/test.sh` always starts a server, and on CI a missing one fails).
fn postgres_server() -> Option<String> {
    match std::env::var("WARDEN_TEST_POSTGRES") {
        Ok(s) if !s.is_empty() => Some(s),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "WARDEN_TEST_POSTGRES is not set: run the tests with scripts/test.sh"
            );
            eprintln!("skipped: WARDEN_TEST_POSTGRES is not set (scripts/test.sh starts a server)");
            None
        }
    }
}

async fn pg_connect(conn: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(conn, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

async fn pg_database(name: &str, statements: &[String]) -> String {
    let server = postgres_server().unwrap();
    let admin = pg_connect(&server).await;
    let db = format!("warden_test_{name}");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    // Roles belong to the whole server; several tests may create this one at once.
    let _ = admin
        .batch_execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'warden_agent') THEN CREATE ROLE warden_agent LOGIN; END IF; END $$")
        .await;
    let owner = pg_connect(&format!("{server} dbname={db}")).await;
    for s in statements {
        owner.batch_execute(s).await.unwrap();
    }
    owner
        .batch_execute("GRANT USAGE ON SCHEMA public TO warden_agent; GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO warden_agent")
        .await
        .unwrap();
    // TLS is tested on its own (the test server's authority is not the system's).
    format!("{server} dbname={db} user=warden_agent sslmode=disable")
}

#[tokio::test]
async fn hostile_queries_on_postgres() {
    if postgres_server().is_none() {
        return;
    }
    let statements: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    let settings = SqlSettings {
        tables: rules(),
        ..SqlSettings::default()
    };
    let db = database(
        Backend::Postgres,
        std::path::Path::new("."),
        "hostile",
        &statements,
        settings,
    )
    .await;
    run_suite(&db, "postgres").await;
}

/// The property: a rewritten query over all the data returns exactly what the same query
/// returns, unrewritten, over a copy holding only the permitted rows (masks applied).
async fn matches_reference(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let seeds = if backend == Backend::Sqlite { 6 } else { 3 };
    for seed in 1..=seeds {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed);
        let who = rng.below(8) as i64 + 1;
        let (full, reference) = random_data(&mut rng, who);
        let governed = database(
            backend,
            dir.path(),
            &format!("full{seed}"),
            &full,
            SqlSettings {
                tables: rules(),
                ..SqlSettings::default()
            },
        )
        .await;
        let open = database(
            backend,
            dir.path(),
            &format!("ref{seed}"),
            &reference,
            SqlSettings {
                tables: vec![
                    TableRule {
                        table: "orders".into(),
                        ..TableRule::default()
                    },
                    TableRule {
                        table: "customers".into(),
                        ..TableRule::default()
                    },
                ],
                ..SqlSettings::default()
            },
        )
        .await;
        let principal = json!({"id": "bot", "customer_id": who, "team": "sales"});
        for _ in 0..40 {
            let sql = random_query(&mut rng);
            let (_, got) = governed
                .query(&sql, &principal, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let (_, want) = open.query(&sql, &principal, &[]).await.unwrap();
            assert_eq!(
                canonical(&got.rows),
                canonical(&want.rows),
                "seed {seed}, customer {who}: {sql}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, seeds * 40);
}

#[tokio::test]
async fn rewritten_queries_match_a_reference_filter_on_sqlite() {
    matches_reference(Backend::Sqlite).await;
}

#[tokio::test]
async fn rewritten_queries_match_a_reference_filter_on_postgres() {
    if postgres_server().is_some() {
        matches_reference(Backend::Postgres).await;
    }
}

/// PostgreSQL's own row-level security, fed per transaction from the caller's attributes.
#[tokio::test]
async fn postgres_row_level_security_gets_the_callers_attributes() {
    if postgres_server().is_none() {
        return;
    }
    let statements = vec![
        "CREATE TABLE notes (owner INTEGER, body TEXT)".to_owned(),
        "INSERT INTO notes VALUES (1, 'mine'), (2, 'FORBIDDEN-theirs')".to_owned(),
        "ALTER TABLE notes ENABLE ROW LEVEL SECURITY".to_owned(),
        "CREATE POLICY own ON notes USING (owner = nullif(current_setting('app.customer_id', true), '')::int)".to_owned(),
    ];
    let settings = SqlSettings {
        tables: vec![TableRule {
            table: "notes".into(),
            ..TableRule::default()
        }],
        settings: BTreeMap::from([(
            "app.customer_id".to_owned(),
            "principal.customer_id".to_owned(),
        )]),
        ..SqlSettings::default()
    };
    let db = database(
        Backend::Postgres,
        std::path::Path::new("."),
        "rls",
        &statements,
        settings,
    )
    .await;
    let (_, rows) = db
        .query("SELECT body FROM notes", &agent(), &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![json!("mine")]]);
    // The setting is local to the query's transaction: the next caller starts clean.
    let other = json!({"id": "bot2", "customer_id": 2});
    let (_, rows) = db
        .query("SELECT body FROM notes", &other, &[])
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![vec![json!("FORBIDDEN-theirs")]]);
    let err = db
        .query("SELECT body FROM notes", &json!({"id": "x"}), &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("customer_id"), "{err}");
    // An agent cannot change the setting from inside its query.
    assert!(
        db.query(
            "SELECT set_config('app.customer_id', '2', true)",
            &agent(),
            &[]
        )
        .await
        .is_err()
    );
}

/// Writes through `sql.execute`: only tables with `write = true`, only rows the caller sees,
/// never moving a row out of its filter or probing a masked column.
async fn writes_stay_inside_the_filter(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let statements: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    let mut tables = rules();
    tables[0].write = true;
    tables[1].write = true;
    let db = database(
        backend,
        dir.path(),
        "writes",
        &statements,
        SqlSettings {
            tables,
            ..SqlSettings::default()
        },
    )
    .await;
    let me = agent();
    let changed =
        |r: Result<(warden_sqlguard::Rewritten, u64), warden_data::sql::QueryError>| r.unwrap().1;
    // UPDATE and DELETE reach only the caller's rows, whatever the WHERE says.
    assert_eq!(
        changed(
            db.execute("UPDATE orders SET note = 'seen' WHERE 1 = 1", &me, &[])
                .await
        ),
        2
    );
    assert_eq!(
        changed(
            db.execute("UPDATE orders SET total = 0 WHERE id = 3", &me, &[])
                .await
        ),
        0
    );
    assert_eq!(
        changed(
            db.execute("DELETE FROM orders WHERE id IN (3, 4)", &me, &[])
                .await
        ),
        0
    );
    // INSERT: the filter's column is filled in, or must be the caller's own value.
    let insert = "INSERT INTO orders (id, total, note) VALUES (10, 5, 'new'), (11, 6, $1)";
    assert_eq!(changed(db.execute(insert, &me, &[json!("p")]).await), 2);
    assert_eq!(
        changed(
            db.execute(
                "INSERT INTO orders (id, customer_id, total) VALUES (12, 1, 7)",
                &me,
                &[]
            )
            .await
        ),
        1
    );
    let (_, rows) = db
        .query("SELECT id FROM orders ORDER BY id", &me, &[])
        .await
        .unwrap();
    assert_eq!(
        canonical(&rows.rows),
        canonical(&[
            vec![json!(1)],
            vec![json!(2)],
            vec![json!(10)],
            vec![json!(11)],
            vec![json!(12)]
        ])
    );
    assert_eq!(
        changed(
            db.execute("DELETE FROM orders WHERE id >= 10", &me, &[])
                .await
        ),
        3
    );
    for (sql, why) in [
        (
            "INSERT INTO orders (id, customer_id, total) VALUES (13, 2, 1)",
            "must be 1",
        ),
        ("UPDATE orders SET customer_id = 2", "decides which rows"),
        (
            "UPDATE customers SET name = 'x' WHERE email LIKE 'a%'",
            "masked",
        ),
        (
            "UPDATE orders SET note = (SELECT value FROM secrets)",
            "not a table agents may read",
        ),
        ("DELETE FROM secrets", "not a table agents may use"),
        (
            "INSERT INTO orders (id, customer_id) VALUES (14, 1) ON CONFLICT (id) DO UPDATE SET customer_id = 1",
            "upserts",
        ),
        ("DELETE FROM orders RETURNING *", "RETURNING"),
        (
            "INSERT INTO orders (id, customer_id) SELECT id, 1 FROM customers",
            "no INSERT ... SELECT",
        ),
        (
            "DELETE FROM orders; DELETE FROM customers",
            "exactly one statement",
        ),
        ("SELECT * FROM orders", "INSERT, UPDATE or DELETE"),
        (
            "UPDATE customers SET name = customers.'email'",
            "not as a string",
        ),
        ("UPDATE customers SET 'email' = 'x'", "not as a string"),
        (
            "UPDATE customers SET name = 'x' WHERE customers.\"region\" = 'eu' AND customers = customers",
            "whole row",
        ),
        (
            "UPDATE customers c SET name = 'x' WHERE c IS NOT NULL",
            "whole row",
        ),
        ("DELETE FROM customers WHERE customers IS NULL", "whole row"),
        (
            "UPDATE customers c SET name = (SELECT s.x FROM (SELECT c.*) AS s(a, b, x, d))",
            "whole row",
        ),
        (
            "UPDATE customers SET name = 'x' WHERE EXISTS (SELECT customers.* INTERSECT SELECT 1, 'a', 'b', 'c')",
            "whole row",
        ),
        ("DROP TABLE orders", "INSERT, UPDATE or DELETE"),
    ] {
        let err = db.execute(sql, &me, &[]).await.unwrap_err().to_string();
        assert!(err.contains(why), "{sql}: {err}");
    }
    // No error oracle: the caller's condition never runs on another customer's row.
    for sql in [
        "UPDATE orders SET note = note WHERE abs(CASE WHEN total = 9001 THEN -9223372036854775807 - 1 ELSE 1 END) = 0",
        "DELETE FROM orders WHERE abs(CASE WHEN total = 9001 THEN -9223372036854775807 - 1 ELSE 1 END) = 0",
        "UPDATE orders SET note = note WHERE total = 9001 AND 1 / (total - 9001) = 1",
    ] {
        assert_eq!(changed(db.execute(sql, &me, &[]).await), 0, "{sql}");
    }
    // Read-only tables stay read-only, and sql.query never writes.
    let ro = database(
        backend,
        dir.path(),
        "readonly",
        &SCHEMA.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        SqlSettings {
            tables: rules(),
            ..SqlSettings::default()
        },
    )
    .await;
    let err = ro
        .execute("DELETE FROM orders", &me, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("read-only"), "{err}");
    assert!(db.query("DELETE FROM orders", &me, &[]).await.is_err());
    // Nothing of anyone else's changed.
    let schema = if backend == Backend::Sqlite {
        "main"
    } else {
        "public"
    };
    let unfiltered = format!(
        "SELECT id, customer_id, total, note FROM {schema}.orders WHERE id IN (3, 4) ORDER BY id"
    );
    let all = db.run(&unfiltered, &me).await;
    let all = all.unwrap();
    assert_eq!(all.rows.len(), 2, "{:?}", all.rows);
    assert!(all.rows.iter().all(|r| r[2].as_f64().unwrap() >= 9000.0));
}

#[tokio::test]
async fn writes_stay_inside_the_filter_on_sqlite() {
    writes_stay_inside_the_filter(Backend::Sqlite).await;
}

#[tokio::test]
async fn writes_stay_inside_the_filter_on_postgres() {
    if postgres_server().is_some() {
        writes_stay_inside_the_filter(Backend::Postgres).await;
    }
}

/// TLS to PostgreSQL: the server's certificate is verified (the test server's authority is
/// given as `ca_file`; without it the same server is refused).
#[tokio::test]
async fn postgres_over_tls_verifies_the_server() {
    if postgres_server().is_none() {
        return;
    }
    let Some(ca) = std::env::var_os("WARDEN_TEST_POSTGRES_CA") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "scripts/test.sh starts PostgreSQL with TLS"
        );
        eprintln!("skipped: WARDEN_TEST_POSTGRES_CA is not set");
        return;
    };
    let statements: Vec<String> = SCHEMA.iter().map(|s| (*s).to_owned()).collect();
    let conn = pg_database("tls", &statements).await;
    let settings = |ca_file: Option<std::path::PathBuf>| SqlSettings {
        postgres: Some(conn.replace("sslmode=disable", "sslmode=require")),
        ca_file,
        tables: rules(),
        ..SqlSettings::default()
    };
    let db = SqlDb::open("tls", &settings(Some(ca.clone().into())))
        .await
        .unwrap();
    let (_, rows) = db
        .query("SELECT count(*) FROM orders", &agent(), &[])
        .await
        .unwrap();
    assert_eq!(canonical(&rows.rows), canonical(&[vec![json!(2)]]));
    let tls = db
        .run(
            "SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()",
            &agent(),
        )
        .await
        .unwrap();
    assert_eq!(tls.rows, vec![vec![json!(true)]]);
    let untrusted = SqlDb::open("tls", &settings(None)).await.unwrap_err();
    assert!(
        format!("{untrusted:#}").contains("cannot connect"),
        "{untrusted:#}"
    );
}
