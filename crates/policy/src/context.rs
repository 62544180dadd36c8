//! A decision's context, built as Cedar values directly.
//!
//! `cedar_policy::Context::from_pairs` takes restricted expressions: every attribute is first
//! built as an expression tree, then evaluated into a value (a second tree) by Cedar's
//! restricted evaluator. That was as costly as evaluating the policies themselves for a call
//! that meets a few. Here the values are made at once with `cedar-policy-core`'s constructors,
//! following the same rules as [`crate::convert`] (which builds entity attributes): `null`
//! fields are left out, integers are `Long`, other numbers `decimal` when Cedar holds them
//! exactly and their text otherwise, arrays are sets, objects records, nesting past
//! [`MAX_DEPTH`] the string `"<too deep>"`. Nothing passes through Cedar's JSON format, so an
//! argument cannot smuggle in an entity reference. A test holds the result equal to
//! `from_pairs` over the expressions [`crate::convert`] builds.

use std::collections::HashSet;

use cedar_policy_core::ast::{Context as CoreContext, Name, RestrictedExpr, Value, ValueKind};
use cedar_policy_core::evaluator::RestrictedEvaluator;
use cedar_policy_core::extensions::Extensions;
use serde_json::Value as Json;
use warden_types::{Action, Request};

use crate::convert::{MAX_DEPTH, decimal_text};
use crate::guard::{actor, depth, hour, weekday};

/// The request's context: `time`, `session`, `limits`, `carries` (calls), and `args` when
/// `with_args`, limited to `args_read` when given.
pub(crate) fn build(
    request: &Request,
    with_args: bool,
    args_read: Option<&HashSet<String>>,
) -> Result<cedar_policy::Context, String> {
    let time = request.time_unix;
    let clock = Value::record(
        [
            ("unix", long(time)),
            ("hour", long(hour(time))),
            ("weekday", long(weekday(time))),
        ],
        None,
    );
    let s = &request.session;
    let session = Value::record(
        [
            ("id", string(&s.id)),
            ("era", string(&s.era)),
            ("calls", long(s.calls)),
            ("actor", string(actor(request))),
            ("depth", long(depth(request))),
            ("delegation", strings(&s.delegation)),
            ("labels", strings(&s.labels)),
        ],
        None,
    );
    let l = &s.limits;
    let limits = Value::record(
        std::iter::once(("rules", strings(&l.rules))).chain(
            [
                ("rate_left", l.rate_left),
                ("slots_free", l.slots_free),
                ("calls_left", l.calls_left),
                ("bytes_left", l.bytes_left),
                ("cost_left", l.cost_left),
            ]
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (name, long(v)))),
        ),
        None,
    );
    let mut pairs = vec![("time", clock), ("session", session), ("limits", limits)];
    if request.action == Action::CallTool {
        pairs.push(("carries", strings(&s.carries)));
    }
    if with_args {
        let args = match &request.arguments {
            Json::Object(map) => match args_read {
                Some(names) => record(
                    map.iter().filter(|(name, _)| names.contains(name.as_str())),
                    0,
                ),
                None => record(map.iter(), 0),
            },
            Json::Null => Value::empty_record(None),
            _ => return Err("arguments must be a JSON object".to_owned()),
        };
        pairs.push(("args", args));
    }
    Ok(context(pairs))
}

/// Converts a JSON value; `None` for `null`.
fn value(json: &Json, depth: usize) -> Option<Value> {
    if depth > MAX_DEPTH {
        return Some(string("<too deep>"));
    }
    Some(match json {
        Json::Null => return None,
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => number(n),
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::set(items.iter().filter_map(|v| value(v, depth + 1)), None),
        Json::Object(map) => record(map.iter(), depth),
    })
}

/// A record of an object's fields (all, or a filtered iterator of them), `null`s left out.
fn record<'a>(fields: impl Iterator<Item = (&'a String, &'a Json)>, depth: usize) -> Value {
    Value::record(
        fields.filter_map(|(k, v)| value(v, depth + 1).map(|v| (k.as_str(), v))),
        None,
    )
}

fn string(s: &str) -> Value {
    Value::from(s)
}

fn long(i: i64) -> Value {
    Value::from(i)
}

/// A set of strings.
fn strings<'a>(items: impl IntoIterator<Item = &'a String>) -> Value {
    Value::set(items.into_iter().map(|s| string(s)), None)
}

fn number(n: &serde_json::Number) -> Value {
    if let Some(i) = n.as_i64() {
        return long(i);
    }
    let text = n.to_string();
    decimal_text(&text)
        .and_then(|d| decimal(&d))
        .unwrap_or_else(|| string(&text))
}

/// A `decimal` extension value, made by Cedar's own constructor (rare: arguments with a
/// fraction).
fn decimal(text: &str) -> Option<Value> {
    let name: Name = "decimal".parse().ok()?;
    let call = RestrictedExpr::call_extension_fn(name, [RestrictedExpr::val(text)]);
    RestrictedEvaluator::new(Extensions::all_available())
        .interpret(call.as_borrowed())
        .ok()
}

/// The context: a record of `pairs`.
fn context<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> cedar_policy::Context {
    match Value::record(pairs, None).value {
        ValueKind::Record(attrs) => cedar_policy::Context::from(CoreContext::Value(attrs)),
        // `Value::record` makes a record.
        _ => cedar_policy::Context::empty(),
    }
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
