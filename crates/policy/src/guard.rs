//! Guards: the leading conditions of a policy that Warden can evaluate on a request without
//! Cedar, exactly as Cedar would, so that a policy one of them rules out is not evaluated at
//! all (see `slice.rs`).
//!
//! A guard reads what the request's context and entities are built from
//! (`engine::build_context`, `engine::agent_entity`, `engine::resource_entities`): the call's
//! arguments, the clock, the session, the limits and the principal's and resource's
//! attributes. It compares one attribute with a literal (`context.args.amount <= 50`,
//! `context.time.hour < 6`, `principal.team == "ops"`), tests membership
//! (`context.session.labels.contains("pii")`), presence (`context.args has path`) or a `like`
//! pattern, and combines those with `!`, `&&` and `||`. Anything else (arithmetic, extension
//! functions, entity hierarchy, two attributes compared) is not a guard; an attribute Cedar
//! would see as anything but a `Long`, `String`, `Bool` or set of strings makes the guard
//! unknown, which keeps the policy.

use std::collections::HashSet;

use serde_json::{Map, Value};
use warden_types::{Action, Request, Resource};

/// A condition Warden evaluates without Cedar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Guard {
    /// `<record> has <name>` (`record` is `context.args`, `context.limits`, `principal` or
    /// `resource`, as a path).
    Has(Vec<String>, String),
    /// `context.args.<name> like <pattern>`, the pattern as the literal texts between its
    /// wildcards (`"/etc/*"`: `["/etc/", ""]`; no wildcard: one text).
    Like(String, Vec<String>),
    /// `<attribute> <op> <literal>`, the attribute as its path (`["context", "time", "hour"]`,
    /// `["principal", "team"]`).
    Compare(Vec<String>, Op, Lit),
    /// `<set attribute>.contains(<literal>)`.
    Contains(Vec<String>, Lit),
    /// `!g`.
    Not(Box<Guard>),
    /// `a && b && …`.
    All(Vec<Guard>),
    /// `a || b || …`.
    Any(Vec<Guard>),
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lit {
    Long(i64),
    Str(String),
    Bool(bool),
}

/// What a guard is for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    True,
    False,
    /// Cedar raises an error here (a missing attribute, a `like` or `<` on the wrong type),
    /// which must deny: the policy is kept.
    Error,
    /// Warden cannot tell without Cedar: the policy is kept.
    Unknown,
}

impl Known {
    fn of(b: bool) -> Self {
        if b { Known::True } else { Known::False }
    }
}

/// What the request's context and entities are built from, for guards.
pub(crate) struct Facts<'a> {
    pub request: &'a Request,
    /// The call's arguments; `None` when the context has no `args`.
    pub args: Option<&'a Map<String, Value>>,
    /// The arguments the context keeps (those policies read; `None`: all), as
    /// `engine::build_context` filters them.
    pub args_read: Option<&'a HashSet<String>>,
}

/// One attribute of the context or of an entity, as Cedar would see it.
enum Fact<'a> {
    Long(i64),
    Str(&'a str),
    Bool(bool),
    Set(Vec<&'a str>),
    /// Not in the context: reading it raises an error.
    Missing,
    /// There, but not something a guard compares (a record, a decimal, a set of arguments).
    Other,
}

impl<'a> Facts<'a> {
    /// Argument `name` as `context.args` carries it: `null` and unread arguments are left out.
    fn arg(&self, name: &str) -> Option<&'a Value> {
        self.args?
            .get(name)
            .filter(|v| !v.is_null() && self.args_read.is_none_or(|read| read.contains(name)))
    }

    /// The attribute at `path` (`["context", "time", "hour"]`).
    fn get(&self, path: &[String]) -> Fact<'a> {
        match path.split_last() {
            Some((name, record)) => self.member(record, name),
            None => Fact::Other,
        }
    }

    /// Attribute `name` of the record or entity at `record` (`["context", "args"]`,
    /// `["principal"]`).
    fn member(&self, record: &[String], name: &str) -> Fact<'a> {
        let Some((var, rest)) = record.split_first() else {
            return Fact::Other;
        };
        match (var.as_str(), rest) {
            ("context", [record]) => self.context(record, name),
            ("context", []) if name == "carries" => {
                if self.request.action == Action::CallTool {
                    strs(&self.request.session.carries)
                } else {
                    Fact::Missing
                }
            }
            ("principal", []) => match self.request.principal.attributes.get(name) {
                None | Some(Value::Null) => Fact::Missing,
                Some(value) => json_fact(value),
            },
            ("resource", []) => resource_fact(&self.request.resource, name),
            _ => Fact::Other,
        }
    }

    /// `context.<record>.<name>`.
    fn context(&self, record: &str, name: &str) -> Fact<'a> {
        let r = self.request;
        let s = &r.session;
        match record {
            "args" => self.arg(name).map_or(Fact::Missing, json_fact),
            "time" => match name {
                "unix" => Fact::Long(r.time_unix),
                "hour" => Fact::Long(hour(r.time_unix)),
                "weekday" => Fact::Long(weekday(r.time_unix)),
                _ => Fact::Missing,
            },
            "session" => match name {
                "id" => Fact::Str(&s.id),
                "era" => Fact::Str(&s.era),
                "calls" => Fact::Long(s.calls),
                "actor" => Fact::Str(actor(r)),
                "depth" => Fact::Long(depth(r)),
                "delegation" => strs(&s.delegation),
                "labels" => strs(&s.labels),
                _ => Fact::Missing,
            },
            "limits" => {
                let l = &s.limits;
                let value = match name {
                    "rules" => return strs(&l.rules),
                    "rate_left" => l.rate_left,
                    "slots_free" => l.slots_free,
                    "calls_left" => l.calls_left,
                    "bytes_left" => l.bytes_left,
                    "cost_left" => l.cost_left,
                    _ => None,
                };
                value.map_or(Fact::Missing, Fact::Long)
            }
            _ => Fact::Other,
        }
    }
}

fn strs(v: &[String]) -> Fact<'_> {
    Fact::Set(v.iter().map(String::as_str).collect())
}

/// A JSON value as Cedar sees it once converted (`convert.rs`): whole numbers are `Long`, an
/// array of texts a set of strings; anything else is not compared by guards.
fn json_fact(value: &Value) -> Fact<'_> {
    match value {
        Value::String(text) => Fact::Str(text),
        Value::Bool(b) => Fact::Bool(*b),
        Value::Number(n) => n.as_i64().map_or(Fact::Other, Fact::Long),
        Value::Array(items) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<Vec<_>>>()
            .map_or(Fact::Other, Fact::Set),
        _ => Fact::Other,
    }
}

/// `resource.<name>`: the attributes `engine::resource_entities` gives each kind.
fn resource_fact<'a>(resource: &'a Resource, name: &str) -> Fact<'a> {
    match (resource, name) {
        (
            Resource::Tool { server, .. }
            | Resource::Resource { server, .. }
            | Resource::Prompt { server, .. },
            "server",
        ) => Fact::Str(server),
        (Resource::Tool { name, .. } | Resource::Prompt { name, .. }, "name") => Fact::Str(name),
        (Resource::Resource { uri, .. }, "uri") => Fact::Str(uri),
        (Resource::Tool { facts, .. }, _) => match name {
            "labels" => strs(&facts.labels),
            "read_only" => Fact::Bool(facts.read_only),
            "destructive" => Fact::Bool(facts.destructive),
            "idempotent" => Fact::Bool(facts.idempotent),
            "open_world" => Fact::Bool(facts.open_world),
            _ => Fact::Missing,
        },
        _ => Fact::Missing,
    }
}

/// `context.time.hour`: the hour of the day (UTC).
pub(crate) fn hour(time_unix: i64) -> i64 {
    time_unix.rem_euclid(86_400) / 3600
}

/// `context.time.weekday`: 0 is Sunday (1970-01-01 was a Thursday).
pub(crate) fn weekday(time_unix: i64) -> i64 {
    (time_unix.div_euclid(86_400) + 4).rem_euclid(7)
}

/// `context.session.actor`: who acts at the end of the delegation chain.
pub(crate) fn actor(request: &Request) -> &str {
    request
        .session
        .delegation
        .last()
        .unwrap_or(&request.principal.id)
}

/// `context.session.depth`: how many delegations deep the caller is.
pub(crate) fn depth(request: &Request) -> i64 {
    i64::try_from(request.session.delegation.len().saturating_sub(1)).unwrap_or(0)
}

impl Guard {
    pub(crate) fn eval(&self, facts: &Facts<'_>) -> Known {
        match self {
            Guard::Has(record, name) => match record.as_slice() {
                [v, r] if v == "context" && r == "args" => match facts.args {
                    None => Known::Error,
                    Some(_) => Known::of(facts.arg(name).is_some()),
                },
                _ => match facts.member(record, name) {
                    Fact::Missing => Known::False,
                    Fact::Other => Known::Unknown,
                    _ => Known::True,
                },
            },
            Guard::Like(name, pattern) => match facts.context("args", name) {
                Fact::Str(text) => Known::of(like(text, pattern)),
                Fact::Other => Known::Unknown,
                _ => Known::Error,
            },
            Guard::Compare(path, op, lit) => compare(facts.get(path), *op, lit),
            Guard::Contains(path, lit) => match (facts.get(path), lit) {
                (Fact::Set(items), Lit::Str(s)) => Known::of(items.contains(&s.as_str())),
                // Every member is a string: no other literal is in the set.
                (Fact::Set(_), _) => Known::False,
                (Fact::Other, _) => Known::Unknown,
                _ => Known::Error,
            },
            Guard::Not(g) => match g.eval(facts) {
                Known::True => Known::False,
                Known::False => Known::True,
                other => other,
            },
            // Left to right, stopping where Cedar stops: at the first `false` for `&&`, the
            // first `true` for `||`, or an error (or where Warden cannot tell).
            Guard::All(guards) => first_not(guards, facts, Known::True),
            Guard::Any(guards) => first_not(guards, facts, Known::False),
        }
    }
}

fn first_not(guards: &[Guard], facts: &Facts<'_>, go_on: Known) -> Known {
    guards
        .iter()
        .map(|g| g.eval(facts))
        .find(|k| *k != go_on)
        .unwrap_or(go_on)
}

/// Cedar's `==` is false across types; the orderings need two `Long`s.
fn compare(fact: Fact<'_>, op: Op, lit: &Lit) -> Known {
    let equal = match (&fact, lit) {
        (Fact::Missing, _) => return Known::Error,
        (Fact::Other, _) => return Known::Unknown,
        (Fact::Long(a), Lit::Long(b)) => a == b,
        (Fact::Str(a), Lit::Str(b)) => a == b,
        (Fact::Bool(a), Lit::Bool(b)) => a == b,
        _ => false,
    };
    match op {
        Op::Eq => Known::of(equal),
        Op::Ne => Known::of(!equal),
        _ => match (fact, lit) {
            (Fact::Long(a), Lit::Long(b)) => Known::of(match op {
                Op::Lt => a < *b,
                Op::Le => a <= *b,
                Op::Gt => a > *b,
                _ => a >= *b,
            }),
            _ => Known::Error,
        },
    }
}

/// Whether a policy with these guards can apply to the request: `None` when they rule it out
/// (a guard is certainly false and every guard before it certainly true), `Some(true)` when
/// every guard is certainly true, `Some(false)` when the policy may apply.
pub(crate) fn check(guards: &[Guard], facts: &Facts<'_>) -> Option<bool> {
    for guard in guards {
        match guard.eval(facts) {
            Known::True => {}
            Known::False => return None,
            Known::Error | Known::Unknown => return Some(false),
        }
    }
    Some(true)
}

/// Cedar's `like`: the whole text matches, a wildcard between each two of `segments` (the
/// literal texts) standing for any run of characters.
pub(crate) fn like(text: &str, segments: &[String]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return text.is_empty();
    };
    let Some(body) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return body.is_empty();
    };
    let Some(mut body) = body.strip_suffix(last.as_str()) else {
        return false;
    };
    // Each literal between wildcards at its leftmost place after the one before.
    for lit in middle {
        match body.find(lit.as_str()) {
            Some(at) => body = body.get(at + lit.len()..).unwrap_or_default(),
            None => return false,
        }
    }
    true
}

/// The leading guards of the policy's first condition (a policy JSON), when that condition is
/// a `when`. Conditions are evaluated in order after the scope (which cannot fail), so only the
/// first one's guards are safe to prune on: an earlier clause could raise an error (a text
/// where a number is expected), which must still deny.
///
/// Also whether those guards are the policy's whole condition (its only clause is a `when`
/// made of them alone): then the policy applies exactly when they are all true.
pub(crate) fn guards(est: &Value) -> (Vec<Guard>, bool) {
    let conditions = est
        .get("conditions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some(body) = conditions
        .first()
        .filter(|c| c.get("kind").and_then(Value::as_str) == Some("when"))
        .and_then(|c| c.get("body"))
    else {
        return (Vec::new(), false);
    };
    let mut conjuncts = Vec::new();
    if flatten("&&", body, &mut conjuncts).is_none() {
        return (Vec::new(), false);
    }
    let all = conjuncts.len();
    let guards: Vec<Guard> = conjuncts.into_iter().map_while(guard).collect();
    let whole = conditions.len() == 1 && guards.len() == all;
    (guards, whole)
}

/// The operands of a chain of `op` (`&&` or `||`), left to right; `None` if a node of the
/// chain lacks one (which Cedar's policy JSON never does).
fn flatten<'a>(op: &str, expr: &'a Value, out: &mut Vec<&'a Value>) -> Option<()> {
    match expr.get(op) {
        Some(node) => {
            flatten(op, node.get("left")?, out)?;
            flatten(op, node.get("right")?, out)
        }
        None => {
            out.push(expr);
            Some(())
        }
    }
}

/// `expr` (policy JSON) as a guard, if it is one.
fn guard(expr: &Value) -> Option<Guard> {
    if expr.get("||").is_some() {
        return operands("||", expr).map(Guard::Any);
    }
    if expr.get("&&").is_some() {
        return operands("&&", expr).map(Guard::All);
    }
    if let Some(not) = expr.get("!") {
        return Some(Guard::Not(Box::new(guard(not.get("arg")?)?)));
    }
    if let Some(has) = expr.get("has") {
        let record = path(has.get("left")?)?;
        let known = ["context.args", "context.limits", "principal", "resource"];
        if !known.contains(&record.join(".").as_str()) {
            return None;
        }
        return Some(Guard::Has(record, has.get("attr")?.as_str()?.to_owned()));
    }
    if let Some(contains) = expr.get("contains") {
        let set = path(contains.get("left")?)?;
        return Some(Guard::Contains(set, literal(contains.get("right")?)?));
    }
    if let Some(like) = expr.get("like") {
        let [var, record, name] = <[String; 3]>::try_from(path(like.get("left")?)?).ok()?;
        (var == "context" && record == "args").then_some(())?;
        let mut segments = vec![String::new()];
        for piece in like.get("pattern")?.as_array()? {
            match piece {
                Value::String(w) if w == "Wildcard" => segments.push(String::new()),
                Value::Object(o) => segments.last_mut()?.push_str(o.get("Literal")?.as_str()?),
                _ => return None,
            }
        }
        return Some(Guard::Like(name, segments));
    }
    let ops = [
        ("==", Op::Eq, Op::Eq),
        ("!=", Op::Ne, Op::Ne),
        ("<", Op::Lt, Op::Gt),
        ("<=", Op::Le, Op::Ge),
        (">", Op::Gt, Op::Lt),
        (">=", Op::Ge, Op::Le),
    ];
    for (name, op, flipped) in ops {
        let Some(node) = expr.get(name) else { continue };
        let (left, right) = (node.get("left")?, node.get("right")?);
        let (attr, op, lit) = match (path(left), literal(right)) {
            (Some(attr), Some(lit)) => (attr, op, lit),
            _ => (path(right)?, flipped, literal(left)?),
        };
        // An ordering of anything but two `Long`s is a type error the validator reports.
        let ordering = !matches!(op, Op::Eq | Op::Ne);
        if ordering && !matches!(lit, Lit::Long(_)) {
            return None;
        }
        return Some(Guard::Compare(attr, op, lit));
    }
    None
}

/// The operands of a chain of `op` as guards, if every one is a guard.
fn operands(op: &str, expr: &Value) -> Option<Vec<Guard>> {
    let mut operands = Vec::new();
    flatten(op, expr, &mut operands)?;
    operands.into_iter().map(guard).collect()
}

/// `context.a.b` as `["context", "a", "b"]`, `principal.team` as `["principal", "team"]`.
fn path(expr: &Value) -> Option<Vec<String>> {
    if let Some(var) = expr.get("Var").and_then(Value::as_str) {
        return matches!(var, "context" | "principal" | "resource").then(|| vec![var.to_owned()]);
    }
    let dot = expr.get(".")?;
    let mut parent = path(dot.get("left")?)?;
    parent.push(dot.get("attr")?.as_str()?.to_owned());
    Some(parent)
}

fn literal(expr: &Value) -> Option<Lit> {
    match expr.get("Value")? {
        Value::Bool(b) => Some(Lit::Bool(*b)),
        Value::String(s) => Some(Lit::Str(s.clone())),
        Value::Number(n) => n.as_i64().map(Lit::Long),
        _ => None,
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
