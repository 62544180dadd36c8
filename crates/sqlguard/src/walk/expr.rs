//! Expressions and function calls inside an agent's query: each kind of expression is allowed
//! (its parts walked) or refused; placeholders are bound and columns checked on the way.

use sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectNamePart, UnaryOperator,
};

use super::{SESSION_WORDS, Walker, binary_allowed, identifier, normalize, refuse, short};
use crate::{Result, allow};

impl Walker<'_> {
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

    pub(super) fn expr(&mut self, e: &mut Expr) -> Result<()> {
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
                // SQLite has no POSITION: written back, `POSITION(x IN t)` reads there as a
                // call with `x IN t`, the IN-table form, which names tables the walk never saw.
                if self.dialect() == crate::Dialect::Sqlite {
                    return refuse("POSITION is not a SQLite function (use instr)");
                }
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
