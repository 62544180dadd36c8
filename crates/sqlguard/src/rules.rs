//! Configured rules: a table's row filter and column masks, parsed and checked once, then bound
//! to each caller's attributes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlparser::ast::{self, Expr, Ident, ObjectName, ObjectNamePart};
use sqlparser::parser::Parser;

use crate::walk::{literal, normalize};
use crate::{Dialect, Error, Result, TableShape, allow};

/// How agents see one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRule {
    /// The table (or view).
    pub table: String,
    /// The rows agents see: a SQL condition on the table's columns in which
    /// `principal.<attribute>` is the caller's attribute, for example
    /// `customer_id = principal.customer_id`. `None`: every row.
    pub filter: Option<String>,
    /// Masked columns by name.
    #[serde(default)]
    pub masks: BTreeMap<String, ColumnMask>,
    /// Agents may also `INSERT`, `UPDATE` and `DELETE` rows of this table (through
    /// `sql.execute`), within its filter.
    #[serde(default)]
    pub write: bool,
}

/// A column agents see masked unless a condition holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMask {
    /// The condition under which the real value shows, for example
    /// `principal.team = 'support'` (may use the row's columns too).
    pub unless: String,
    /// What shows instead (default: NULL).
    pub with: Option<String>,
}

/// A rule checked against the table's shape.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    /// The table as the database spells it.
    pub name: String,
    pub columns: Vec<String>,
    pub filter: Option<Expr>,
    /// Column -> (unless, replacement).
    pub masks: BTreeMap<String, (Expr, Expr)>,
    pub write: bool,
    /// Columns the filter and the mask conditions read (normalized): an `UPDATE` may not
    /// assign them (it would move rows out of the caller's reach, or unmask a column).
    pub filter_columns: Vec<String>,
    /// When the filter is a conjunction of `column = principal.<path>` terms: those pairs, which
    /// an `INSERT` must satisfy (or gets filled in).
    pub pins: Option<Vec<(String, Expr)>>,
}

impl Compiled {
    pub(crate) fn new(dialect: Dialect, shape: &TableShape, rule: &TableRule) -> Result<Self> {
        let what = |part: &str| format!("table `{}` {part}", rule.table);
        let filter = rule
            .filter
            .as_deref()
            .map(|f| parse(dialect, f, &shape.columns, &what("filter")))
            .transpose()?;
        let mut masks = BTreeMap::new();
        for (column, mask) in &rule.masks {
            let Some(real) = shape
                .columns
                .iter()
                .find(|c| normalize(dialect, c, None) == normalize(dialect, column, None))
            else {
                return Err(Error::Config(format!(
                    "{}: the table has no column `{column}`",
                    what("masks")
                )));
            };
            let unless = parse(
                dialect,
                &mask.unless,
                &shape.columns,
                &what(&format!("mask of `{column}`")),
            )?;
            let with = match &mask.with {
                Some(s) => literal(&Value::String(s.clone())),
                None => Expr::value(ast::Value::Null),
            };
            masks.insert(real.clone(), (unless, with));
        }
        let mut filter_columns = Vec::new();
        for condition in filter
            .iter()
            .chain(masks.values().map(|(unless, _)| unless))
        {
            identifiers(condition, &mut |i| {
                filter_columns.push(normalize(dialect, &i.value, i.quote_style));
            });
        }
        let pins = match &filter {
            None => Some(Vec::new()),
            Some(f) => {
                let mut pins = Vec::new();
                pinned(dialect, f, &mut pins).then_some(pins)
            }
        };
        Ok(Self {
            name: shape.name.clone(),
            columns: shape.columns.clone(),
            filter,
            masks,
            write: rule.write,
            filter_columns,
            pins,
        })
    }

    /// The derived table standing for this table: its columns (masked ones as their mask) and
    /// its rows (the filter), bound to `principal`. Also what was applied, for the record.
    pub(crate) fn derived(
        &self,
        dialect: Dialect,
        principal: &Value,
    ) -> Result<(ast::Query, Option<String>, BTreeMap<String, String>)> {
        let mut projection = Vec::with_capacity(self.columns.len());
        let mut shown = BTreeMap::new();
        for column in &self.columns {
            let ident = Ident::with_quote('"', column);
            let item = match self.masks.get(column) {
                None => ast::SelectItem::UnnamedExpr(Expr::Identifier(ident)),
                Some((unless, with)) => {
                    let condition = bind(unless, principal)?;
                    shown.insert(column.clone(), condition.to_string());
                    ast::SelectItem::ExprWithAlias {
                        expr: Expr::Case {
                            case_token: ast::helpers::attached_token::AttachedToken::empty(),
                            end_token: ast::helpers::attached_token::AttachedToken::empty(),
                            operand: None,
                            conditions: vec![ast::CaseWhen {
                                condition: Expr::Nested(Box::new(condition)),
                                result: Expr::Identifier(ident.clone()),
                            }],
                            else_result: Some(Box::new(with.clone())),
                        },
                        alias: ident,
                    }
                }
            };
            projection.push(item);
        }
        let filter = self
            .filter
            .as_ref()
            .map(|f| bind(f, principal))
            .transpose()?;
        let applied = filter.as_ref().map(ToString::to_string);
        let name = ObjectName(vec![
            ObjectNamePart::Identifier(Ident::with_quote('"', dialect.default_schema())),
            ObjectNamePart::Identifier(Ident::with_quote('"', &self.name)),
        ]);
        let select = ast::Select {
            select_token: ast::helpers::attached_token::AttachedToken::empty(),
            optimizer_hints: Vec::new(),
            distinct: None,
            select_modifiers: None,
            top: None,
            top_before_distinct: false,
            projection,
            exclude: None,
            into: None,
            from: vec![ast::TableWithJoins {
                relation: ast::TableFactor::Table {
                    name,
                    alias: None,
                    args: None,
                    with_hints: Vec::new(),
                    version: None,
                    with_ordinality: false,
                    partitions: Vec::new(),
                    json_path: None,
                    sample: None,
                    index_hints: Vec::new(),
                },
                joins: Vec::new(),
            }],
            lateral_views: Vec::new(),
            prewhere: None,
            selection: filter.map(|f| Expr::Nested(Box::new(f))),
            connect_by: Vec::new(),
            group_by: ast::GroupByExpr::Expressions(Vec::new(), Vec::new()),
            cluster_by: Vec::new(),
            distribute_by: Vec::new(),
            sort_by: Vec::new(),
            having: None,
            named_window: Vec::new(),
            qualify: None,
            window_before_qualify: false,
            value_table_mode: None,
            flavor: ast::SelectFlavor::Standard,
        };
        // An optimization fence: a derived table with OFFSET is neither merged into the outer
        // query nor given the outer query's conditions (SQLite and PostgreSQL alike), so the
        // filter runs before anything the agent wrote sees a row. Without it, an outer
        // condition evaluated first could raise an error on a row the filter would drop
        // (`abs(CASE WHEN total = 9001 THEN -9223372036854775808 ...)`): an oracle.
        let number = |n: &str| Expr::value(ast::Value::Number(n.to_owned(), false));
        let fence = ast::LimitClause::LimitOffset {
            limit: (dialect == Dialect::Sqlite).then(|| number("-1")),
            offset: Some(ast::Offset {
                value: number("0"),
                rows: ast::OffsetRows::None,
            }),
            limit_by: Vec::new(),
        };
        let query = ast::Query {
            with: None,
            body: Box::new(ast::SetExpr::Select(Box::new(select))),
            order_by: None,
            limit_clause: Some(fence),
            fetch: None,
            locks: Vec::new(),
            for_clause: None,
            settings: None,
            format_clause: None,
            pipe_operators: Vec::new(),
        };
        Ok((query, applied, shown))
    }
}

/// Every bare identifier (a column) of a checked condition.
fn identifiers(expr: &Expr, f: &mut dyn FnMut(&Ident)) {
    match expr {
        Expr::Identifier(i) => f(i),
        Expr::BinaryOp { left, right, .. }
        | Expr::IsDistinctFrom(left, right)
        | Expr::IsNotDistinctFrom(left, right) => {
            identifiers(left, f);
            identifiers(right, f);
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr) => identifiers(expr, f),
        Expr::InList { expr, list, .. } => {
            identifiers(expr, f);
            list.iter().for_each(|e| identifiers(e, f));
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            identifiers(expr, f);
            identifiers(low, f);
            identifiers(high, f);
        }
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            identifiers(expr, f);
            identifiers(pattern, f);
        }
        Expr::Function(func) => {
            if let ast::FunctionArguments::List(list) = &func.args {
                for a in &list.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a {
                        identifiers(e, f);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Whether `expr` is a conjunction of `column = principal.<path>` terms (either way round),
/// collecting them.
fn pinned(dialect: Dialect, expr: &Expr, out: &mut Vec<(String, Expr)>) -> bool {
    match expr {
        Expr::Nested(e) => pinned(dialect, e, out),
        Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => pinned(dialect, left, out) && pinned(dialect, right, out),
        Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::Eq,
            right,
        } => match (left.as_ref(), right.as_ref()) {
            (Expr::Identifier(c), p @ Expr::CompoundIdentifier(_))
            | (p @ Expr::CompoundIdentifier(_), Expr::Identifier(c))
                if is_principal(p).is_some() =>
            {
                out.push((normalize(dialect, &c.value, c.quote_style), p.clone()));
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// Parses a configured condition and checks it: the table's own columns, `principal.<name>`,
/// literals, operators and allowed functions; no subqueries, no placeholders.
fn parse(dialect: Dialect, text: &str, columns: &[String], what: &str) -> Result<Expr> {
    let parser_dialect = dialect.parser_dialect();
    let mut expr = Parser::new(parser_dialect.as_ref())
        .try_with_sql(text)
        .and_then(|mut p| {
            let e = p.parse_expr()?;
            p.expect_token(&sqlparser::tokenizer::Token::EOF)?;
            Ok(e)
        })
        .map_err(|e| Error::Config(format!("{what} `{text}` does not parse: {e}")))?;
    check(dialect, &mut expr, columns)
        .map_err(|e| Error::Config(format!("{what} `{text}`: {e}")))?;
    Ok(expr)
}

fn check(dialect: Dialect, expr: &mut Expr, columns: &[String]) -> std::result::Result<(), String> {
    let go = |e: &mut Expr| check(dialect, e, columns);
    match expr {
        Expr::Identifier(ident) => {
            let name = normalize(dialect, &ident.value, ident.quote_style);
            if columns.iter().any(|c| normalize(dialect, c, None) == name) {
                Ok(())
            } else {
                Err(format!("`{ident}` is not a column of the table"))
            }
        }
        Expr::CompoundIdentifier(parts) => match parts.first() {
            Some(p) if p.value.eq_ignore_ascii_case("principal") && parts.len() >= 2 => Ok(()),
            _ => Err(format!(
                "`{}`: name the table's own columns unqualified, or `principal.<attribute>`",
                ObjectName::from(parts.clone())
            )),
        },
        Expr::Value(v) if !matches!(v.value, ast::Value::Placeholder(_)) => Ok(()),
        Expr::BinaryOp { left, op, right } => {
            if !crate::walk::binary_allowed(op) {
                return Err(format!("the operator `{op}` is not allowed"));
            }
            go(left)?;
            go(right)
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr) => go(expr),
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
            go(a)?;
            go(b)
        }
        Expr::InList { expr, list, .. } => {
            go(expr)?;
            list.iter_mut().try_for_each(go)
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            go(expr)?;
            go(low)?;
            go(high)
        }
        Expr::Like {
            expr,
            pattern,
            escape_char: None,
            any: false,
            ..
        }
        | Expr::ILike {
            expr,
            pattern,
            escape_char: None,
            any: false,
            ..
        } => {
            go(expr)?;
            go(pattern)
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            if f.name.0.len() != 1 || !allow::function(dialect, &name) || f.over.is_some() {
                return Err(format!("the function `{}` is not allowed", f.name));
            }
            match &mut f.args {
                ast::FunctionArguments::None => Ok(()),
                ast::FunctionArguments::List(list) => {
                    list.args.iter_mut().try_for_each(|a| match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => go(e),
                        _ => Err("only plain function arguments are allowed".to_owned()),
                    })
                }
                ast::FunctionArguments::Subquery(_) => Err("no subqueries".to_owned()),
            }
        }
        _ => Err(format!(
            "`{expr}`: only columns, `principal.<attribute>`, literals, comparisons, AND/OR/NOT, IN, BETWEEN, LIKE and allowed functions"
        )),
    }
}

/// The condition with each `principal.<path>` replaced by the caller's value as a literal.
/// `x IN (principal.list)` expands a list attribute.
pub(crate) fn bind(template: &Expr, principal: &Value) -> Result<Expr> {
    let mut expr = template.clone();
    substitute(&mut expr, principal)?;
    Ok(expr)
}

fn attribute<'a>(parts: &[Ident], principal: &'a Value) -> Result<&'a Value> {
    let path: Vec<&str> = parts.iter().skip(1).map(|p| p.value.as_str()).collect();
    let mut at = principal;
    for key in &path {
        at = at.get(*key).unwrap_or(&Value::Null);
    }
    if at.is_null() {
        return Err(Error::Principal(format!(
            "a row filter needs the agent's attribute `{}`, which this agent does not have",
            path.join(".")
        )));
    }
    Ok(at)
}

fn is_principal(expr: &Expr) -> Option<&[Ident]> {
    match expr {
        Expr::CompoundIdentifier(parts)
            if parts
                .first()
                .is_some_and(|p| p.value.eq_ignore_ascii_case("principal")) =>
        {
            Some(parts)
        }
        _ => None,
    }
}

fn substitute(expr: &mut Expr, principal: &Value) -> Result<()> {
    if let Some(parts) = is_principal(expr) {
        let value = attribute(parts, principal)?;
        if value.is_array() || value.is_object() {
            return Err(Error::Principal(format!(
                "the agent's attribute `{}` is a list or object; use it as `x IN (principal.{})`",
                parts
                    .iter()
                    .skip(1)
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join("."),
                parts
                    .iter()
                    .skip(1)
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join(".")
            )));
        }
        *expr = literal(value);
        return Ok(());
    }
    let go = |e: &mut Expr| substitute(e, principal);
    match expr {
        Expr::InList {
            expr: left,
            list,
            negated,
        } => {
            go(left)?;
            let mut out = Vec::with_capacity(list.len());
            for item in list.drain(..) {
                match is_principal(&item)
                    .map(|p| attribute(p, principal))
                    .transpose()?
                {
                    Some(Value::Array(values)) => {
                        for v in values {
                            if v.is_null() || v.is_array() || v.is_object() {
                                return Err(Error::Principal(
                                    "a list attribute used by a row filter holds a non-scalar value"
                                        .to_owned(),
                                ));
                            }
                            out.push(literal(v));
                        }
                    }
                    Some(v) => out.push(literal(v)),
                    None => {
                        let mut item = item;
                        go(&mut item)?;
                        out.push(item);
                    }
                }
            }
            if out.is_empty() {
                // `x IN ()` is not SQL: an empty list admits nothing (or everything, negated).
                *expr = Expr::value(ast::Value::Boolean(*negated));
            } else {
                *list = out;
            }
            Ok(())
        }
        Expr::BinaryOp { left, right, .. }
        | Expr::IsDistinctFrom(left, right)
        | Expr::IsNotDistinctFrom(left, right) => {
            go(left)?;
            go(right)
        }
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr) => go(expr),
        Expr::Between {
            expr, low, high, ..
        } => {
            go(expr)?;
            go(low)?;
            go(high)
        }
        Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
            go(expr)?;
            go(pattern)
        }
        Expr::Function(f) => {
            if let ast::FunctionArguments::List(list) = &mut f.args {
                for a in &mut list.args {
                    if let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a {
                        go(e)?;
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
