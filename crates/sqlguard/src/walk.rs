//! The walk over an agent's query: every node is either known and allowed (and its children
//! walked) or refused. Governed table references are replaced on the way.

use serde_json::Value;
use sqlparser::ast::{
    self, BinaryOperator, Expr, JoinConstraint, JoinOperator, ObjectNamePart, Query, Select,
    SelectItem, SetExpr, TableAlias, TableFactor,
};

use crate::{Applied, Dialect, Error, Guard, Result};

mod expr;
mod write;

/// A name as the database compares it: SQLite ignores ASCII case, quoted or not; PostgreSQL
/// folds unquoted names to lower case and keeps quoted ones exact.
pub(crate) fn normalize(dialect: Dialect, name: &str, quote: Option<char>) -> String {
    match (dialect, quote) {
        (Dialect::Postgres, Some(_)) => name.to_owned(),
        _ => name.to_ascii_lowercase(),
    }
}

/// A JSON scalar as a SQL literal.
pub(crate) fn literal(value: &Value) -> Expr {
    Expr::value(match value {
        Value::String(s) => ast::Value::SingleQuotedString(s.clone()),
        Value::Number(n) => ast::Value::Number(n.to_string(), false),
        Value::Bool(b) => ast::Value::Boolean(*b),
        _ => ast::Value::Null,
    })
}

/// A statement's kind for a refusal (its first keywords, never its text).
pub(crate) fn statement_kind(statement: &ast::Statement) -> String {
    let text = statement.to_string();
    text.split_whitespace()
        .take_while(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase()
}

/// The binary operators agents may use.
pub(crate) fn binary_allowed(op: &BinaryOperator) -> bool {
    use BinaryOperator as B;
    matches!(
        op,
        B::Plus
            | B::Minus
            | B::Multiply
            | B::Divide
            | B::Modulo
            | B::StringConcat
            | B::Gt
            | B::Lt
            | B::GtEq
            | B::LtEq
            | B::Eq
            | B::NotEq
            | B::And
            | B::Or
            | B::BitwiseOr
            | B::BitwiseAnd
            | B::BitwiseXor
            | B::PGBitwiseXor
            | B::PGBitwiseShiftLeft
            | B::PGBitwiseShiftRight
            | B::PGRegexMatch
            | B::PGRegexIMatch
            | B::PGRegexNotMatch
            | B::PGRegexNotIMatch
            | B::PGLikeMatch
            | B::PGILikeMatch
            | B::PGNotLikeMatch
            | B::PGNotILikeMatch
            | B::Glob
            | B::Arrow
            | B::LongArrow
    )
}

fn refuse<T>(what: impl Into<String>) -> Result<T> {
    Err(Error::Refused(what.into()))
}

pub(crate) struct Walker<'g> {
    guard: &'g Guard,
    principal: &'g Value,
    params: &'g [Value],
    next_param: usize,
    used: Vec<bool>,
    /// CTE names in scope, innermost last.
    scopes: Vec<Vec<String>>,
    /// In a write: the target table's name and alias, which may not be used as a value (a
    /// whole-row reference holds the masked columns).
    row_names: Vec<String>,
    pub(crate) applied: Vec<Applied>,
}

impl<'g> Walker<'g> {
    pub(crate) fn new(guard: &'g Guard, principal: &'g Value, params: &'g [Value]) -> Self {
        Self {
            guard,
            principal,
            params,
            next_param: 0,
            used: vec![false; params.len()],
            scopes: Vec::new(),
            row_names: Vec::new(),
            applied: Vec::new(),
        }
    }

    pub(crate) fn finish(&self) -> Result<()> {
        if let Some(i) = self.used.iter().position(|u| !u) {
            return refuse(format!(
                "parameter {} is given but the query has no placeholder for it",
                i + 1
            ));
        }
        Ok(())
    }

    fn dialect(&self) -> Dialect {
        self.guard.dialect
    }

    pub(crate) fn query(&mut self, q: &mut Query) -> Result<()> {
        if q.fetch.is_some() {
            return refuse("FETCH is not supported; use LIMIT");
        }
        if !q.locks.is_empty() {
            return refuse("locking clauses (FOR UPDATE, FOR SHARE) are not allowed");
        }
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return refuse("this query clause is not supported");
        }
        let scoped = q.with.is_some();
        if let Some(with) = &mut q.with {
            let mut names = Vec::with_capacity(with.cte_tables.len());
            for cte in &with.cte_tables {
                let name = normalize(
                    self.dialect(),
                    &cte.alias.name.value,
                    cte.alias.name.quote_style,
                );
                if self.guard.relations.contains(&name) || reserved_name(&name) {
                    return refuse(format!(
                        "the CTE name `{}` is a table's name; choose another",
                        cte.alias.name.value
                    ));
                }
                if names.contains(&name) {
                    return refuse(format!(
                        "the CTE name `{}` is used twice",
                        cte.alias.name.value
                    ));
                }
                if cte.from.is_some() {
                    return refuse("this CTE form is not supported");
                }
                names.push(name);
            }
            // What each body sees is what the database lets it see: with RECURSIVE, every
            // name of the WITH (itself included); without, only the CTEs before it (a name
            // used earlier would fall through to a table, the catalog's included, so it is
            // not in scope there and is refused as an unknown table).
            if with.recursive {
                self.scopes.push(names);
                for cte in &mut with.cte_tables {
                    self.query(&mut cte.query)?;
                }
            } else {
                self.scopes.push(Vec::with_capacity(names.len()));
                for (cte, name) in with.cte_tables.iter_mut().zip(names) {
                    self.query(&mut cte.query)?;
                    if let Some(scope) = self.scopes.last_mut() {
                        scope.push(name);
                    }
                }
            }
        }
        self.set_expr(&mut q.body)?;
        if let Some(order) = &mut q.order_by {
            if order.interpolate.is_some() {
                return refuse("INTERPOLATE is not supported");
            }
            match &mut order.kind {
                ast::OrderByKind::Expressions(list) => self.order_by(list)?,
                ast::OrderByKind::All(_) => return refuse("ORDER BY ALL is not supported"),
            }
        }
        match &mut q.limit_clause {
            None => {}
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return refuse("LIMIT BY is not supported");
                }
                if let Some(l) = limit {
                    self.expr(l)?;
                }
                if let Some(o) = offset {
                    self.expr(&mut o.value)?;
                }
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                self.expr(offset)?;
                self.expr(limit)?;
            }
        }
        if scoped {
            self.scopes.pop();
        }
        Ok(())
    }

    fn order_by(&mut self, list: &mut [ast::OrderByExpr]) -> Result<()> {
        for item in list {
            if item.with_fill.is_some() {
                return refuse("WITH FILL is not supported");
            }
            self.expr(&mut item.expr)?;
        }
        Ok(())
    }

    fn set_expr(&mut self, s: &mut SetExpr) -> Result<()> {
        match s {
            SetExpr::Select(select) => self.select(select),
            SetExpr::Query(q) => self.query(q),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left)?;
                self.set_expr(right)
            }
            SetExpr::Values(values) => {
                for row in &mut values.rows {
                    for e in &mut row.content {
                        self.expr(e)?;
                    }
                }
                Ok(())
            }
            SetExpr::Table(_) => refuse("`TABLE name` is not supported; use SELECT * FROM name"),
            SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
                refuse("only SELECT queries are allowed")
            }
        }
    }

    fn select(&mut self, s: &mut Select) -> Result<()> {
        if s.into.is_some() {
            return refuse("SELECT ... INTO is not allowed");
        }
        if !s.optimizer_hints.is_empty()
            || s.select_modifiers.is_some()
            || s.top.is_some()
            || s.exclude.is_some()
            || !s.lateral_views.is_empty()
            || s.prewhere.is_some()
            || !s.connect_by.is_empty()
            || !s.cluster_by.is_empty()
            || !s.distribute_by.is_empty()
            || !s.sort_by.is_empty()
            || s.qualify.is_some()
            || s.value_table_mode.is_some()
            || s.flavor != ast::SelectFlavor::Standard
        {
            return refuse("this SELECT clause is not supported");
        }
        if !s.named_window.is_empty() {
            return refuse("named windows (WINDOW w AS ...) are not supported; write OVER (...)");
        }
        for from in &mut s.from {
            self.table_with_joins(from)?;
        }
        if let Some(ast::Distinct::On(list)) = &mut s.distinct {
            for e in list {
                self.expr(e)?;
            }
        }
        for item in &mut s.projection {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    self.expr(e)?;
                }
                SelectItem::Wildcard(options) => wildcard_options(options)?,
                SelectItem::QualifiedWildcard(kind, options) => {
                    wildcard_options(options)?;
                    match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(name)
                            if name.0.len() == 1 =>
                        {
                            // In a write, `t.*` of the target is its whole row, masked
                            // columns included.
                            if let Some(ObjectNamePart::Identifier(i)) = name.0.first()
                                && self.row_names.contains(&normalize(
                                    self.dialect(),
                                    &i.value,
                                    i.quote_style,
                                ))
                            {
                                return refuse(format!(
                                    "`{i}.*` names the whole row: name its columns"
                                ));
                            }
                        }
                        _ => return refuse("only `alias.*` wildcards are supported"),
                    }
                }
                SelectItem::ExprWithAliases { .. } => {
                    return refuse("multiple aliases for one expression are not supported");
                }
            }
        }
        if let Some(w) = &mut s.selection {
            self.expr(w)?;
        }
        match &mut s.group_by {
            ast::GroupByExpr::Expressions(list, modifiers) if modifiers.is_empty() => {
                for e in list {
                    self.expr(e)?;
                }
            }
            _ => return refuse("this GROUP BY form is not supported"),
        }
        if let Some(h) = &mut s.having {
            self.expr(h)?;
        }
        Ok(())
    }

    fn table_with_joins(&mut self, t: &mut ast::TableWithJoins) -> Result<()> {
        self.table_factor(&mut t.relation)?;
        for join in &mut t.joins {
            if join.global {
                return refuse("GLOBAL joins are not supported");
            }
            let constraint = match &mut join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::Left(c)
                | JoinOperator::LeftOuter(c)
                | JoinOperator::Right(c)
                | JoinOperator::RightOuter(c)
                | JoinOperator::FullOuter(c)
                | JoinOperator::CrossJoin(c) => c,
                _ => return refuse("this join kind is not supported"),
            };
            match constraint {
                JoinConstraint::On(e) => self.expr(e)?,
                JoinConstraint::Using(names) => {
                    if names.iter().any(|n| n.0.len() != 1) {
                        return refuse("USING names columns, unqualified");
                    }
                }
                JoinConstraint::Natural | JoinConstraint::None => {}
            }
            self.table_factor(&mut join.relation)?;
        }
        Ok(())
    }

    fn in_cte_scope(&self, name: &str) -> bool {
        self.scopes.iter().any(|s| s.iter().any(|n| n == name))
    }

    fn table_factor(&mut self, t: &mut TableFactor) -> Result<()> {
        match t {
            TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
            } => {
                if args.is_some() {
                    return refuse(format!("table functions (`{name}(...)`) are not allowed"));
                }
                if !with_hints.is_empty()
                    || version.is_some()
                    || *with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                    || !index_hints.is_empty()
                {
                    return refuse("table hints, samples and versions are not supported");
                }
                let mut parts = Vec::with_capacity(name.0.len());
                for part in &name.0 {
                    match part {
                        ObjectNamePart::Identifier(i) => parts.push(i),
                        ObjectNamePart::Function(_) => {
                            return refuse("computed table names are not allowed");
                        }
                    }
                }
                let dialect = self.dialect();
                let (last, key) = match parts.as_slice() {
                    [table] => {
                        let key = normalize(dialect, &table.value, table.quote_style);
                        if self.in_cte_scope(&key) {
                            return Ok(());
                        }
                        (*table, key)
                    }
                    [schema, table]
                        if normalize(dialect, &schema.value, schema.quote_style)
                            == dialect.default_schema() =>
                    {
                        (*table, normalize(dialect, &table.value, table.quote_style))
                    }
                    _ => {
                        return refuse(format!(
                            "`{name}`: only tables of the `{}` schema are available",
                            dialect.default_schema()
                        ));
                    }
                };
                let Some(rule) = self.guard.tables.get(&key) else {
                    return refuse(format!("`{name}` is not a table agents may read"));
                };
                let (subquery, filter, masks) = rule.derived(dialect, self.principal)?;
                let alias = alias.take().unwrap_or_else(|| TableAlias {
                    explicit: true,
                    name: last.clone(),
                    columns: Vec::new(),
                    at: None,
                });
                if !self.applied.iter().any(|a| a.table == rule.name) {
                    self.applied.push(Applied {
                        table: rule.name.clone(),
                        filter,
                        masks,
                    });
                }
                *t = TableFactor::Derived {
                    lateral: false,
                    subquery: Box::new(subquery),
                    alias: Some(alias),
                    sample: None,
                };
                Ok(())
            }
            TableFactor::Derived {
                subquery, sample, ..
            } => {
                if sample.is_some() {
                    return refuse("table samples are not supported");
                }
                self.query(subquery)
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins),
            _ => {
                refuse("this kind of FROM item is not allowed (only tables, subqueries and joins)")
            }
        }
    }

    fn placeholder(&mut self, text: &str) -> Result<Expr> {
        let index = if text == "?" {
            let i = self.next_param;
            self.next_param += 1;
            i
        } else {
            match text
                .strip_prefix('$')
                .or_else(|| text.strip_prefix('?'))
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(n) if n >= 1 => n - 1,
                _ => return refuse(format!("placeholder `{text}`: use `?`, `?N` or `$N`")),
            }
        };
        let Some(value) = self.params.get(index) else {
            return refuse(format!(
                "placeholder `{text}` has no parameter ({} given)",
                self.params.len()
            ));
        };
        if value.is_array() || value.is_object() {
            return refuse(format!(
                "parameter {} must be a string, number, boolean or null",
                index + 1
            ));
        }
        if let Some(u) = self.used.get_mut(index) {
            *u = true;
        }
        Ok(literal(value))
    }
}

fn wildcard_options(o: &ast::WildcardAdditionalOptions) -> Result<()> {
    if o.opt_ilike.is_some()
        || o.opt_exclude.is_some()
        || o.opt_except.is_some()
        || o.opt_replace.is_some()
        || o.opt_rename.is_some()
        || o.opt_alias.is_some()
    {
        return refuse("wildcard options are not supported");
    }
    Ok(())
}

/// Words that read the session, not a row: `SELECT current_role` names the database role.
const SESSION_WORDS: &[&str] = &[
    "current_role",
    "current_user",
    "current_schema",
    "current_catalog",
    "session_user",
    "user",
];

/// A CTE may not take a catalog's name either (`pg_*`, `sqlite_*`, `information_schema`).
fn reserved_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("pg_") || lower.starts_with("sqlite_") || lower == "information_schema"
}

/// An identifier written as a string (`t.'column'`): SQLite reads it as a column, so a
/// name-based check would miss it. Refused.
fn identifier(ident: &ast::Ident) -> Result<()> {
    if ident.quote_style == Some('\'') {
        return refuse(format!(
            "write the column `{}` as a name (`\"{}\"`), not as a string",
            ident.value, ident.value
        ));
    }
    Ok(())
}

/// At most 60 characters of `s`, for messages.
fn short(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or_default()),
        None => s.to_owned(),
    }
}
