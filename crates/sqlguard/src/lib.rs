//! Row filters and column masks written into agents' SQL.
//!
//! An agent sends one `SELECT`. [`Guard::rewrite`] parses it with `sqlparser`, walks the whole
//! tree against an allow-list (statement kinds, clauses, expressions, functions, types) and
//! replaces every reference to a governed table, wherever it stands (joins, subqueries in
//! `SELECT`/`WHERE`/`FROM`, every CTE, every `UNION` arm), by a derived table that keeps only
//! the rows the table's filter admits and shows masked columns as their mask:
//!
//! ```text
//! FROM orders o   =>   FROM (SELECT "id", "customer_id", "total"
//!                            FROM "main"."orders" WHERE customer_id = 42) AS o
//! ```
//!
//! The filter and mask conditions are SQL expressions from configuration in which
//! `principal.<attribute>` stands for the calling agent's attribute; the values are written in
//! as literals (never spliced as text), so the database evaluates exactly the configured
//! expression. Anything the walker does not know is refused, never passed through: a table that
//! is not configured, a function that is not on the list, `PRAGMA`, `ATTACH`, several
//! statements, `SELECT ... INTO`, locking clauses, table functions, and so on. The output is
//! rendered from the tree, so comments and other text the parser skipped never reach the
//! database.
//!
//! Pure and synchronous: the caller runs the rewritten SQL (`warden data-server` does, on SQLite
//! or PostgreSQL).

mod allow;
mod rules;
mod walk;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use rules::{ColumnMask, TableRule};
use serde::Serialize;
use serde_json::Value;

/// The database the SQL is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// SQLite (identifiers compare case-insensitively, quoted or not).
    Sqlite,
    /// PostgreSQL (unquoted identifiers fold to lower case, quoted ones are exact).
    Postgres,
}

impl Dialect {
    /// The schema governed tables live in (`main`, `public`), written into every rewrite.
    pub fn default_schema(self) -> &'static str {
        match self {
            Self::Sqlite => "main",
            Self::Postgres => "public",
        }
    }

    pub(crate) fn parser_dialect(self) -> Box<dyn sqlparser::dialect::Dialect> {
        match self {
            Self::Sqlite => Box::new(sqlparser::dialect::SQLiteDialect {}),
            Self::Postgres => Box::new(sqlparser::dialect::PostgreSqlDialect {}),
        }
    }
}

/// A table as the database describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableShape {
    /// Its name, as the database spells it.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<String>,
}

/// Why a query was refused, or why a configuration does not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The SQL does not parse.
    #[error("the query does not parse: {0}")]
    Parse(String),
    /// The SQL parses but uses something agents may not use (or the walker does not know).
    #[error("refused: {0}")]
    Refused(String),
    /// The calling agent lacks an attribute a filter or mask needs.
    #[error("refused: {0}")]
    Principal(String),
    /// The configuration is wrong.
    #[error("{0}")]
    Config(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// What one rewrite applied to one table reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// The governed table.
    pub table: String,
    /// The filter as evaluated (attribute values written in), `None` when the table shows
    /// every row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Columns shown through a mask, with the condition that unmasks them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub masks: BTreeMap<String, String>,
}

/// A governed table as agents see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableView {
    /// Its name.
    pub table: String,
    /// Its columns, each with whether it is masked.
    pub columns: Vec<(String, bool)>,
    /// Whether its rows are filtered.
    pub filtered: bool,
}

/// A query ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The SQL to run (one statement, literals only, no placeholders).
    pub sql: String,
    /// Each governed table the query reads, once, with what was applied to it.
    pub applied: Vec<Applied>,
}

/// The compiled rules for one database.
#[derive(Debug, Clone)]
pub struct Guard {
    dialect: Dialect,
    /// Governed tables by normalized name.
    tables: HashMap<String, rules::Compiled>,
    /// Every relation name the database has (normalized), governed or not: a CTE may not take
    /// one of these names.
    relations: HashSet<String>,
    max_len: usize,
}

impl Guard {
    /// Compiles `rules` against the database's `shapes` (every table and view it has).
    pub fn new(dialect: Dialect, shapes: &[TableShape], table_rules: &[TableRule]) -> Result<Self> {
        let relations = shapes
            .iter()
            .map(|s| walk::normalize(dialect, &s.name, Some('"')))
            .collect();
        let mut tables = HashMap::new();
        for rule in table_rules {
            let key = walk::normalize(dialect, &rule.table, Some('"'));
            let shape = shapes
                .iter()
                .find(|s| walk::normalize(dialect, &s.name, Some('"')) == key)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "table `{}`: the database has no such table or view",
                        rule.table
                    ))
                })?;
            if tables.contains_key(&key) {
                return Err(Error::Config(format!(
                    "table `{}` is configured twice",
                    rule.table
                )));
            }
            tables.insert(key, rules::Compiled::new(dialect, shape, rule)?);
        }
        Ok(Self {
            dialect,
            tables,
            relations,
            max_len: 64 * 1024,
        })
    }

    /// The dialect.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The governed tables and the columns agents see (masked ones marked), for schema
    /// discovery.
    pub fn describe(&self) -> Vec<TableView> {
        let mut out: Vec<TableView> = self
            .tables
            .values()
            .map(|c| TableView {
                table: c.name.clone(),
                columns: c
                    .columns
                    .iter()
                    .map(|col| (col.clone(), c.masks.contains_key(col)))
                    .collect(),
                filtered: c.filter.is_some(),
            })
            .collect();
        out.sort_by(|a, b| a.table.cmp(&b.table));
        out
    }

    /// Whether some governed table takes writes.
    pub fn writable(&self) -> bool {
        self.tables.values().any(|t| t.write)
    }

    fn parse_one(&self, sql: &str) -> Result<sqlparser::ast::Statement> {
        if sql.len() > self.max_len {
            return Err(Error::Refused(format!(
                "the query is {} bytes; the limit is {}",
                sql.len(),
                self.max_len
            )));
        }
        let dialect = self.dialect.parser_dialect();
        let statements = sqlparser::parser::Parser::new(dialect.as_ref())
            .with_recursion_limit(64)
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| Error::Parse(e.to_string()))?;
        let mut statements = statements.into_iter();
        match (statements.next(), statements.next()) {
            (Some(statement), None) => Ok(statement),
            _ => Err(Error::Refused(
                "send exactly one statement (several, or none, were given)".to_owned(),
            )),
        }
    }

    /// Rewrites one `INSERT`, `UPDATE` or `DELETE` on a table configured with `write = true`:
    /// `UPDATE` and `DELETE` get the table's filter added to their `WHERE` (so they reach only
    /// rows the caller sees) and may not assign the filter's columns or name masked ones; an
    /// `INSERT` must give the filter's `column = principal.<attribute>` values (missing ones
    /// are filled in); reads inside are rewritten as in [`Guard::rewrite`]. No `RETURNING`,
    /// no upserts.
    pub fn rewrite_write(
        &self,
        sql: &str,
        principal: &Value,
        params: &[Value],
    ) -> Result<Rewritten> {
        let mut statement = self.parse_one(sql)?;
        let mut walker = walk::Walker::new(self, principal, params);
        walker.write(&mut statement, sql)?;
        walker.finish()?;
        Ok(Rewritten {
            sql: statement.to_string(),
            applied: walker.applied,
        })
    }

    /// Rewrites `sql` for `principal` (an object: `id` and the agent's attributes), binding
    /// `params` to its placeholders (`?`, `?N`, `$N`).
    pub fn rewrite(&self, sql: &str, principal: &Value, params: &[Value]) -> Result<Rewritten> {
        let statement = self.parse_one(sql)?;
        let sqlparser::ast::Statement::Query(mut query) = statement else {
            return Err(Error::Refused(format!(
                "only SELECT queries are allowed, not `{}`",
                walk::statement_kind(&statement)
            )));
        };
        let mut walker = walk::Walker::new(self, principal, params);
        walker.query(&mut query)?;
        walker.finish()?;
        Ok(Rewritten {
            sql: query.to_string(),
            applied: walker.applied,
        })
    }
}
