//! The write path of the walk (`sql.execute`): one `INSERT`, `UPDATE` or `DELETE` on a table
//! configured with `write = true`, kept inside the table's filter (see
//! [`crate::Guard::rewrite_write`]). Reads inside a write go through the same walker as
//! queries.

use sqlparser::ast::{self, Expr, ObjectNamePart, SetExpr, TableFactor};

use super::{Walker, identifier, normalize, refuse, statement_kind};
use crate::{Applied, Error, Result};

impl<'g> Walker<'g> {
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
}

fn writable(rule: &crate::rules::Compiled) -> Result<()> {
    if rule.write {
        Ok(())
    } else {
        refuse(format!("`{}` is read-only for agents", rule.name))
    }
}
