//! The walk over an agent's query: every node is either known and allowed (and its children
//! walked) or refused. Governed table references are replaced on the way.

use serde_json::Value;
use sqlparser::ast::{
    self, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, JoinConstraint,
    JoinOperator, ObjectNamePart, Query, Select, SelectItem, SetExpr, TableAlias, TableFactor,
    UnaryOperator,
};

use crate::{Applied, Dialect, Error, Guard, Result, allow};

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

    /// The governed table `name` names (no CTEs here: a write has none).
    fn lookup(&self, name: &ast::ObjectName) -> Result<&'g crate::rules::Compiled> {
        let dialect = self.dialect();
        let parts: Vec<&ast::Ident> = name
            .0
            .iter()
            .filter_map(|p| match p {
                ObjectNamePart::Identifier(i) => Some(i),
                ObjectNamePart::Function(_) => None,
            })
            .collect();
        let key = match parts.as_slice() {
            [table] if parts.len() == name.0.len() => {
                normalize(dialect, &table.value, table.quote_style)
            }
            [schema, table]
                if parts.len() == name.0.len()
                    && normalize(dialect, &schema.value, schema.quote_style)
                        == dialect.default_schema() =>
            {
                normalize(dialect, &table.value, table.quote_style)
            }
            _ => {
                return refuse(format!(
                    "`{name}`: only tables of the `{}` schema are available",
                    dialect.default_schema()
                ));
            }
        };
        self.guard
            .tables
            .get(&key)
            .ok_or_else(|| Error::Refused(format!("`{name}` is not a table agents may use")))
    }

    fn qualified(&self, rule: &crate::rules::Compiled) -> ast::ObjectName {
        ast::ObjectName(vec![
            ObjectNamePart::Identifier(ast::Ident::with_quote(
                '"',
                self.dialect().default_schema(),
            )),
            ObjectNamePart::Identifier(ast::Ident::with_quote('"', &rule.name)),
        ])
    }

    /// The column of `rule` that `ident` names, as the table spells it.
    fn column(&self, rule: &crate::rules::Compiled, ident: &ast::Ident) -> Result<String> {
        let name = normalize(self.dialect(), &ident.value, ident.quote_style);
        rule.columns
            .iter()
            .find(|c| normalize(self.dialect(), c, None) == name)
            .cloned()
            .ok_or_else(|| Error::Refused(format!("`{}` has no column `{ident}`", rule.name)))
    }

    /// A write may not name a masked column anywhere (its `WHERE` would probe the value).
    fn no_masked_names(&self, rule: &crate::rules::Compiled, sql: &str) -> Result<()> {
        if rule.masks.is_empty() {
            return Ok(());
        }
        let dialect = self.dialect().parser_dialect();
        let tokens = sqlparser::tokenizer::Tokenizer::new(dialect.as_ref(), sql)
            .tokenize()
            .map_err(|e| Error::Parse(e.to_string()))?;
        for t in tokens {
            if let sqlparser::tokenizer::Token::Word(w) = t {
                let name = normalize(self.dialect(), &w.value, w.quote_style);
                if let Some(masked) = rule
                    .masks
                    .keys()
                    .find(|m| normalize(self.dialect(), m, None) == name)
                {
                    return refuse(format!(
                        "`{masked}` is masked for you: a write may not name it"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Adds `rule`'s filter to a write's `WHERE`, and records it.
    fn restrict(
        &mut self,
        rule: &crate::rules::Compiled,
        selection: &mut Option<Expr>,
    ) -> Result<()> {
        let filter = rule
            .filter
            .as_ref()
            .map(|f| crate::rules::bind(f, self.principal))
            .transpose()?;
        self.applied.push(Applied {
            table: rule.name.clone(),
            filter: filter.as_ref().map(ToString::to_string),
            masks: std::collections::BTreeMap::new(),
        });
        if let Some(filter) = filter {
            let filter = Expr::Nested(Box::new(filter));
            // `CASE WHEN filter THEN condition ELSE false END`: the agent's condition is
            // evaluated only on rows the filter admits (with `AND`, the database may evaluate
            // it first, through an index, and an error it raises on another customer's row
            // would tell the agent the row exists).
            *selection = Some(match selection.take() {
                Some(w) => Expr::Case {
                    case_token: ast::helpers::attached_token::AttachedToken::empty(),
                    end_token: ast::helpers::attached_token::AttachedToken::empty(),
                    operand: None,
                    conditions: vec![ast::CaseWhen {
                        condition: filter,
                        result: Expr::Nested(Box::new(w)),
                    }],
                    else_result: Some(Box::new(Expr::value(ast::Value::Boolean(false)))),
                },
                None => filter,
            });
        }
        Ok(())
    }

    /// One `INSERT`, `UPDATE` or `DELETE` (see [`Guard::rewrite_write`]).
    pub(crate) fn write(&mut self, statement: &mut ast::Statement, sql: &str) -> Result<()> {
        match statement {
            ast::Statement::Update(u) => {
                if !u.optimizer_hints.is_empty()
                    || u.from.is_some()
                    || u.output.is_some()
                    || u.or.is_some()
                    || !u.order_by.is_empty()
                    || u.limit.is_some()
                {
                    return refuse(
                        "this UPDATE form is not supported (no FROM, OR, ORDER BY, LIMIT)",
                    );
                }
                if u.returning.is_some() {
                    return refuse("RETURNING is not supported");
                }
                if !u.table.joins.is_empty() {
                    return refuse("UPDATE one table, without joins");
                }
                let rule = match &u.table.relation {
                    TableFactor::Table {
                        name,
                        args: None,
                        with_hints,
                        version: None,
                        with_ordinality: false,
                        partitions,
                        json_path: None,
                        sample: None,
                        index_hints,
                        ..
                    } if with_hints.is_empty()
                        && partitions.is_empty()
                        && index_hints.is_empty() =>
                    {
                        self.lookup(name)?
                    }
                    _ => return refuse("UPDATE names one table"),
                };
                writable(rule)?;
                self.no_masked_names(rule, sql)?;
                self.row_names
                    .push(normalize(self.dialect(), &rule.name, None));
                if let TableFactor::Table {
                    alias: Some(alias), ..
                } = &u.table.relation
                {
                    let alias =
                        normalize(self.dialect(), &alias.name.value, alias.name.quote_style);
                    self.row_names.push(alias);
                }
                for a in &mut u.assignments {
                    let ast::AssignmentTarget::ColumnName(target) = &a.target else {
                        return refuse("assign one column at a time");
                    };
                    let [ObjectNamePart::Identifier(ident)] = target.0.as_slice() else {
                        return refuse("assign columns by their plain name");
                    };
                    identifier(ident)?;
                    let column = self.column(rule, ident)?;
                    if rule
                        .filter_columns
                        .contains(&normalize(self.dialect(), &column, None))
                    {
                        return refuse(format!(
                            "`{column}` decides which rows or columns you may see: it cannot be changed"
                        ));
                    }
                    self.expr(&mut a.value)?;
                }
                if let TableFactor::Table { name, .. } = &mut u.table.relation {
                    *name = self.qualified(rule);
                }
                if let Some(w) = &mut u.selection {
                    self.expr(w)?;
                }
                self.restrict(rule, &mut u.selection)
            }
            ast::Statement::Delete(d) => {
                if !d.optimizer_hints.is_empty()
                    || !d.tables.is_empty()
                    || d.using.is_some()
                    || d.output.is_some()
                    || !d.order_by.is_empty()
                    || d.limit.is_some()
                {
                    return refuse("this DELETE form is not supported (no USING, ORDER BY, LIMIT)");
                }
                if d.returning.is_some() {
                    return refuse("RETURNING is not supported");
                }
                let (ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from)) =
                    &mut d.from;
                let [ast::TableWithJoins { relation, joins }] = from.as_mut_slice() else {
                    return refuse("DELETE from one table");
                };
                if !joins.is_empty() {
                    return refuse("DELETE from one table, without joins");
                }
                let TableFactor::Table {
                    name,
                    alias,
                    args: None,
                    sample: None,
                    ..
                } = relation
                else {
                    return refuse("DELETE from one table");
                };
                let rule = self.lookup(name)?;
                writable(rule)?;
                self.no_masked_names(rule, sql)?;
                self.row_names
                    .push(normalize(self.dialect(), &rule.name, None));
                if let Some(alias) = alias {
                    let alias =
                        normalize(self.dialect(), &alias.name.value, alias.name.quote_style);
                    self.row_names.push(alias);
                }
                *name = self.qualified(rule);
                if let Some(w) = &mut d.selection {
                    self.expr(w)?;
                }
                self.restrict(rule, &mut d.selection)
            }
            ast::Statement::Insert(i) => self.insert(i),
            other => refuse(format!(
                "sql.execute runs INSERT, UPDATE or DELETE, not `{}`",
                statement_kind(other)
            )),
        }
    }

    fn insert(&mut self, i: &mut ast::Insert) -> Result<()> {
        if i.on.is_some() {
            return refuse("upserts (ON CONFLICT) are not supported");
        }
        if i.returning.is_some() {
            return refuse("RETURNING is not supported");
        }
        if !i.optimizer_hints.is_empty()
            || i.or.is_some()
            || i.ignore
            || i.table_alias.is_some()
            || i.overwrite
            || !i.assignments.is_empty()
            || i.partitioned.is_some()
            || !i.after_columns.is_empty()
            || i.has_table_keyword
            || i.output.is_some()
            || i.replace_into
            || i.priority.is_some()
            || i.insert_alias.is_some()
            || i.settings.is_some()
            || i.format_clause.is_some()
        {
            return refuse(
                "this INSERT form is not supported: INSERT INTO t (columns) VALUES (...)",
            );
        }
        let ast::TableObject::TableName(name) = &i.table else {
            return refuse("INSERT INTO a table");
        };
        let rule = self.lookup(name)?;
        writable(rule)?;
        if i.columns.is_empty() {
            return refuse("name the columns: INSERT INTO t (a, b) VALUES (...)");
        }
        let mut columns = Vec::with_capacity(i.columns.len());
        for c in &i.columns {
            let [ObjectNamePart::Identifier(ident)] = c.0.as_slice() else {
                return refuse("name columns by their plain name");
            };
            columns.push(normalize(self.dialect(), &self.column(rule, ident)?, None));
        }
        let Some(source) = &mut i.source else {
            return refuse("INSERT ... VALUES (...)");
        };
        if source.with.is_some()
            || source.order_by.is_some()
            || source.limit_clause.is_some()
            || source.fetch.is_some()
        {
            return refuse("INSERT ... VALUES (...) only");
        }
        let SetExpr::Values(values) = source.body.as_mut() else {
            return refuse("INSERT ... VALUES (...) only (no INSERT ... SELECT)");
        };
        for row in &mut values.rows {
            if row.content.len() != columns.len() {
                return refuse("each row gives one value per named column");
            }
            for e in &mut row.content {
                self.expr(e)?;
            }
        }
        let Some(pins) = &rule.pins else {
            return refuse(format!(
                "`{}` takes no INSERT: its filter is not made of `column = principal.<attribute>` terms",
                rule.name
            ));
        };
        let mut shown = Vec::new();
        for (column, template) in pins {
            let value = crate::rules::bind(template, self.principal)?;
            let text = value.to_string();
            shown.push(format!("{column} = {text}"));
            match columns.iter().position(|c| c == column) {
                Some(at) => {
                    for row in &values.rows {
                        if row.content.get(at).map(ToString::to_string).as_deref()
                            != Some(text.as_str())
                        {
                            return refuse(format!(
                                "`{column}` must be {text} in every row: you may write only rows you may see"
                            ));
                        }
                    }
                }
                None => {
                    let real = rule
                        .columns
                        .iter()
                        .find(|c| normalize(self.dialect(), c, None) == *column)
                        .cloned()
                        .unwrap_or_else(|| column.clone());
                    i.columns
                        .push(ast::ObjectName::from(vec![ast::Ident::with_quote(
                            '"', real,
                        )]));
                    for row in &mut values.rows {
                        row.content.push(value.clone());
                    }
                }
            }
        }
        i.table = ast::TableObject::TableName(self.qualified(rule));
        self.applied.push(Applied {
            table: rule.name.clone(),
            filter: (!shown.is_empty()).then(|| shown.join(" AND ")),
            masks: std::collections::BTreeMap::new(),
        });
        Ok(())
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

    fn function(&mut self, f: &mut ast::Function) -> Result<()> {
        let name = match f.name.0.as_slice() {
            [ObjectNamePart::Identifier(i)] => i.value.to_ascii_lowercase(),
            _ => return refuse(format!("the function `{}` is not allowed", f.name)),
        };
        if !allow::function(self.dialect(), &name) || f.uses_odbc_syntax {
            return refuse(format!("the function `{}` is not allowed", f.name));
        }
        if !matches!(f.parameters, FunctionArguments::None) {
            return refuse("parametric functions are not supported");
        }
        match &mut f.args {
            FunctionArguments::None => {}
            FunctionArguments::Subquery(_) => {
                return refuse("a subquery as a function's argument needs parentheses");
            }
            FunctionArguments::List(list) => {
                for arg in &mut list.args {
                    match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => self.expr(e)?,
                        FunctionArg::Unnamed(FunctionArgExpr::Wildcard) if name == "count" => {}
                        _ => return refuse("only plain function arguments are supported"),
                    }
                }
                for clause in &mut list.clauses {
                    match clause {
                        ast::FunctionArgumentClause::OrderBy(list) => self.order_by(list)?,
                        _ => return refuse("this function argument clause is not supported"),
                    }
                }
            }
        }
        self.order_by(&mut f.within_group)?;
        if let Some(filter) = &mut f.filter {
            self.expr(filter)?;
        }
        match &mut f.over {
            None => {}
            Some(ast::WindowType::WindowSpec(spec)) => {
                if spec.window_name.is_some() || spec.window_frame.is_some() {
                    return refuse("window names and frames are not supported");
                }
                for e in &mut spec.partition_by {
                    self.expr(e)?;
                }
                self.order_by(&mut spec.order_by)?;
            }
            Some(ast::WindowType::NamedWindow(_)) => {
                return refuse("named windows are not supported; write OVER (...)");
            }
        }
        Ok(())
    }

    fn expr(&mut self, e: &mut Expr) -> Result<()> {
        match e {
            Expr::Identifier(ident) => {
                identifier(ident)?;
                if self.row_names.contains(&normalize(
                    self.dialect(),
                    &ident.value,
                    ident.quote_style,
                )) {
                    return refuse(format!(
                        "`{}` names the whole row: name its columns",
                        ident.value
                    ));
                }
                if ident.quote_style.is_none()
                    && SESSION_WORDS.contains(&ident.value.to_ascii_lowercase().as_str())
                {
                    return refuse(format!("`{}` is not available to agents", ident.value));
                }
                Ok(())
            }
            Expr::CompoundIdentifier(parts) => {
                parts.iter().try_for_each(identifier)?;
                if parts.len() > 2 {
                    refuse("qualify columns with their table or alias only (`t.column`)")
                } else {
                    Ok(())
                }
            }
            Expr::Value(v) => match &v.value {
                ast::Value::Placeholder(p) => {
                    let p = p.clone();
                    *e = self.placeholder(&p)?;
                    Ok(())
                }
                _ => Ok(()),
            },
            Expr::BinaryOp { left, op, right } => {
                if !binary_allowed(op) {
                    return refuse(format!("the operator `{op}` is not allowed"));
                }
                self.expr(left)?;
                self.expr(right)
            }
            Expr::UnaryOp { op, expr } => match op {
                UnaryOperator::Not
                | UnaryOperator::Minus
                | UnaryOperator::Plus
                | UnaryOperator::BitwiseNot => self.expr(expr),
                _ => refuse(format!("the operator `{op}` is not allowed")),
            },
            Expr::Nested(x)
            | Expr::IsNull(x)
            | Expr::IsNotNull(x)
            | Expr::IsTrue(x)
            | Expr::IsFalse(x)
            | Expr::IsNotTrue(x)
            | Expr::IsNotFalse(x)
            | Expr::IsUnknown(x)
            | Expr::IsNotUnknown(x) => self.expr(x),
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                self.expr(a)?;
                self.expr(b)
            }
            Expr::InList { expr, list, .. } => {
                self.expr(expr)?;
                list.iter_mut().try_for_each(|x| self.expr(x))
            }
            Expr::InSubquery { expr, subquery, .. } => {
                self.expr(expr)?;
                self.query(subquery)
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                self.expr(expr)?;
                self.expr(low)?;
                self.expr(high)
            }
            Expr::Like {
                expr,
                pattern,
                escape_char,
                any: false,
                ..
            }
            | Expr::ILike {
                expr,
                pattern,
                escape_char,
                any: false,
                ..
            }
            | Expr::SimilarTo {
                expr,
                pattern,
                escape_char,
                ..
            } => {
                self.expr(expr)?;
                self.expr(pattern)?;
                if let Some(c) = escape_char {
                    self.expr(c)?;
                }
                Ok(())
            }
            Expr::Cast {
                kind: ast::CastKind::Cast | ast::CastKind::DoubleColon,
                expr,
                data_type,
                format: None,
            } => {
                let ty = data_type.to_string().to_ascii_lowercase();
                if !allow::cast(&ty) {
                    return refuse(format!("casting to `{data_type}` is not allowed"));
                }
                self.expr(expr)
            }
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                if let Some(o) = operand {
                    self.expr(o)?;
                }
                for when in conditions {
                    self.expr(&mut when.condition)?;
                    self.expr(&mut when.result)?;
                }
                if let Some(x) = else_result {
                    self.expr(x)?;
                }
                Ok(())
            }
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => self.query(subquery),
            Expr::Tuple(list) => list.iter_mut().try_for_each(|x| self.expr(x)),
            Expr::Function(f) => self.function(f),
            Expr::Extract { expr, .. } | Expr::Ceil { expr, .. } | Expr::Floor { expr, .. } => {
                self.expr(expr)
            }
            Expr::Position { expr, r#in } => {
                self.expr(expr)?;
                self.expr(r#in)
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                self.expr(expr)?;
                if let Some(x) = substring_from {
                    self.expr(x)?;
                }
                if let Some(x) = substring_for {
                    self.expr(x)?;
                }
                Ok(())
            }
            Expr::Trim {
                expr,
                trim_what,
                trim_characters,
                ..
            } => {
                self.expr(expr)?;
                if let Some(x) = trim_what {
                    self.expr(x)?;
                }
                if let Some(list) = trim_characters {
                    list.iter_mut().try_for_each(|x| self.expr(x))?;
                }
                Ok(())
            }
            Expr::TypedString(t) => {
                let ty = t.data_type.to_string().to_ascii_lowercase();
                if allow::cast(&ty) {
                    Ok(())
                } else {
                    refuse(format!("`{}` literals are not allowed", t.data_type))
                }
            }
            other => refuse(format!(
                "this expression is not supported: `{}`",
                short(&other.to_string())
            )),
        }
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

fn writable(rule: &crate::rules::Compiled) -> Result<()> {
    if rule.write {
        Ok(())
    } else {
        refuse(format!("`{}` is read-only for agents", rule.name))
    }
}

/// At most 60 characters of `s`, for messages.
fn short(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", s.get(..i).unwrap_or_default()),
        None => s.to_owned(),
    }
}
