//! Policy slicing: for one (principal, action, resource) the policies whose scope can match are
//! fixed, because Warden's entity hierarchy is fixed (agents have no parents, a tool, resource
//! or prompt is in exactly its server, actions are in the schema's action groups). Each slice
//! and the request's entities are built once and cached, so a decision evaluates only the few
//! policies that can apply instead of the whole set.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};
use serde_json::{Map, Value};

use crate::reads::is_args;

/// Most cached slices before the cache starts over.
const MAX_CACHED: usize = 10_000;

/// The uids a request is evaluated against, with their ancestors.
pub(crate) struct Scope<'a> {
    pub principal: &'a EntityUid,
    pub action: &'a EntityUid,
    pub resource: &'a EntityUid,
    pub resource_parents: &'a [EntityUid],
}

/// The policies a decision evaluates, and the entities it is evaluated against.
#[derive(Debug)]
pub(crate) struct Slice {
    pub policies: Arc<PolicySet>,
    scoped: Arc<Scoped>,
}

impl Slice {
    pub fn entities(&self) -> &Entities {
        &self.scoped.entities
    }
}

/// What is cached per scope: the policies whose scope matches, with their argument guards,
/// and the entities. `id` keys the policy sets built for it in [`Slicer::sets`].
#[derive(Debug)]
struct Scoped {
    id: u64,
    members: Vec<(Policy, Arc<[Guard]>)>,
    entities: Entities,
}

/// A scope's id and a bit per member: set when the member's guards do not rule it out.
type SetKey = (u64, Vec<u64>);

/// A leading conjunct of a policy's first `when` clause that tests one argument.
#[derive(Debug, Clone, PartialEq)]
enum Guard {
    /// `context.args has <name>`.
    Has(String),
    /// `context.args.<name> like <pattern>`, the pattern as the literal texts between its
    /// wildcards (`"/etc/*"`: `["/etc/", ""]`; no wildcard: one text).
    Like(String, Vec<String>),
    /// `a || b || …` of guards (`context.args.path like "/a/*" || context.args.path like
    /// "/b/*"`).
    Any(Vec<Guard>),
}

/// What a guard is for a call, as far as it is known without Cedar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    True,
    False,
    /// Cedar raises an error here (a `like` on an argument that is missing or not a string),
    /// which must deny.
    Error,
}

impl Guard {
    fn eval(&self, args: &Map<String, Value>) -> Known {
        match self {
            // A `null` argument is left out of the context.
            Guard::Has(name) => match args.get(name) {
                Some(v) if !v.is_null() => Known::True,
                _ => Known::False,
            },
            Guard::Like(name, pattern) => match args.get(name) {
                Some(Value::String(text)) if like(text, pattern) => Known::True,
                Some(Value::String(_)) => Known::False,
                _ => Known::Error,
            },
            // Left to right, stopping at the first `true` or error, as Cedar evaluates `||`.
            Guard::Any(guards) => guards
                .iter()
                .map(|g| g.eval(args))
                .find(|k| *k != Known::False)
                .unwrap_or(Known::False),
        }
    }
}

/// Policies by scope, and the cache of slices.
#[derive(Debug)]
pub(crate) struct Slicer {
    policies: Vec<(Policy, Arc<[Guard]>)>,
    action_ancestors: HashMap<EntityUid, HashSet<EntityUid>>,
    cache: RwLock<HashMap<String, Arc<Scoped>>>,
    /// Policy sets by scope and the guards passed (a bit per member), bounded as a whole.
    sets: RwLock<HashMap<SetKey, Arc<PolicySet>>>,
    next_id: std::sync::atomic::AtomicU64,
}

impl Slicer {
    pub fn new(set: &PolicySet, action_entities: &Entities) -> Self {
        let mut action_ancestors: HashMap<EntityUid, HashSet<EntityUid>> = HashMap::new();
        for entity in action_entities.iter() {
            let uid = entity.uid();
            let ancestors = action_entities
                .ancestors(&uid)
                .map(|a| a.cloned().collect())
                .unwrap_or_default();
            action_ancestors.insert(uid, ancestors);
        }
        let policies = set
            .policies()
            .map(|p| (bare(p), Arc::from(guards(p))))
            .collect();
        Self {
            policies,
            action_ancestors,
            cache: RwLock::new(HashMap::new()),
            sets: RwLock::new(HashMap::new()),
            next_id: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The slice for `key` (which names the principal, action and resource), building and
    /// caching it with `entities` on a miss.
    ///
    /// `args` are the call's arguments as the context carries them (`None` when the context
    /// has none, or for listings, where arguments do not matter): a policy whose first `when`
    /// clause starts with guards such as `context.args has x && context.args.x like "/etc/*"`
    /// cannot apply when one of them is false, so it is left out. Only leading guards that
    /// cannot raise an error count (a `like` on an argument that is missing or not a string
    /// raises one, which must still deny), and only in the first clause: clauses are
    /// evaluated in order, and an earlier clause's error must still deny.
    pub fn get(
        &self,
        key: &str,
        scope: &Scope<'_>,
        args: Option<&Map<String, Value>>,
        entities: impl FnOnce() -> Result<Entities, String>,
    ) -> Result<Slice, String> {
        let scoped = self.scoped(key, scope, entities)?;
        let mut passed = vec![0u64; scoped.members.len().div_ceil(64)];
        for (i, (_, guards)) in scoped.members.iter().enumerate() {
            if args.is_none_or(|args| may_apply(guards, args))
                && let Some(word) = passed.get_mut(i / 64)
            {
                *word |= 1 << (i % 64);
            }
        }
        let key = (scoped.id, passed);
        let hit = read(&self.sets).get(&key).cloned();
        let policies = match hit {
            Some(set) => set,
            None => {
                let mut set = PolicySet::new();
                for (i, (policy, _)) in scoped.members.iter().enumerate() {
                    if key.1.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0) {
                        set.add(policy.clone()).map_err(|e| e.to_string())?;
                    }
                }
                let set = Arc::new(set);
                let mut sets = write(&self.sets);
                if sets.len() >= MAX_CACHED {
                    sets.clear();
                }
                sets.insert(key, set.clone());
                set
            }
        };
        Ok(Slice { policies, scoped })
    }

    fn scoped(
        &self,
        key: &str,
        scope: &Scope<'_>,
        entities: impl FnOnce() -> Result<Entities, String>,
    ) -> Result<Arc<Scoped>, String> {
        if let Some(hit) = read(&self.cache).get(key) {
            return Ok(hit.clone());
        }
        let members = self
            .policies
            .iter()
            .filter(|(p, _)| self.applies(p, scope))
            .cloned()
            .collect();
        let scoped = Arc::new(Scoped {
            id: self
                .next_id
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            members,
            entities: entities()?,
        });
        let mut cache = write(&self.cache);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key.to_owned(), scoped.clone());
        Ok(scoped)
    }

    fn applies(&self, policy: &Policy, scope: &Scope<'_>) -> bool {
        let principal_ok = match policy.principal_constraint() {
            PrincipalConstraint::Any => true,
            PrincipalConstraint::In(uid) | PrincipalConstraint::Eq(uid) => &uid == scope.principal,
            PrincipalConstraint::Is(ty) => is(scope.principal, &ty),
            PrincipalConstraint::IsIn(ty, uid) => {
                is(scope.principal, &ty) && &uid == scope.principal
            }
        };
        let action_ok = match policy.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(uid) => &uid == scope.action,
            ActionConstraint::In(list) => list.iter().any(|uid| {
                uid == scope.action
                    || self
                        .action_ancestors
                        .get(scope.action)
                        .is_some_and(|a| a.contains(uid))
            }),
        };
        let within =
            |uid: &EntityUid| uid == scope.resource || scope.resource_parents.contains(uid);
        let resource_ok = match policy.resource_constraint() {
            ResourceConstraint::Any => true,
            ResourceConstraint::Eq(uid) => &uid == scope.resource,
            ResourceConstraint::In(uid) => within(&uid),
            ResourceConstraint::Is(ty) => is(scope.resource, &ty),
            ResourceConstraint::IsIn(ty, uid) => is(scope.resource, &ty) && within(&uid),
        };
        principal_ok && action_ok && resource_ok
    }
}

/// The policy as evaluated: the same policy re-read from its JSON form, which carries no
/// source locations. Cedar's evaluator gives every value it computes the location of the
/// expression it came from (a reference-counted copy of the policy text per sub-expression);
/// without locations that is skipped, a quarter of the evaluation time of a policy. The
/// messages of evaluation errors do not show locations, so decisions and their reasons are
/// the same (`evaluation_without_source_locations_decides_the_same`).
fn bare(policy: &Policy) -> Policy {
    policy
        .to_json()
        .ok()
        .and_then(|json| Policy::from_json(Some(policy.id().clone()), json).ok())
        .unwrap_or_else(|| policy.clone())
}

fn is(uid: &EntityUid, ty: &EntityTypeName) -> bool {
    uid.type_name() == ty
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether a policy with these guards can apply to a call with `args`: `false` only when a
/// guard is certainly false and every guard before it certainly true, none raising an error.
fn may_apply(guards: &[Guard], args: &Map<String, Value>) -> bool {
    for guard in guards {
        match guard.eval(args) {
            Known::True => {}
            Known::False => return false,
            Known::Error => return true,
        }
    }
    true
}

/// Cedar's `like`: the whole text matches, a wildcard between each two of `segments` (the
/// literal texts) standing for any run of characters.
fn like(text: &str, segments: &[String]) -> bool {
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

/// The leading argument guards of the policy's first condition, when that condition is a
/// `when`. Conditions are evaluated in order after the scope (which cannot fail), so only the
/// first one's guards are safe to prune on: an earlier clause could raise an error (a text
/// where a number is expected), which must still deny.
fn guards(policy: &Policy) -> Vec<Guard> {
    let Ok(est) = policy.to_json() else {
        return Vec::new();
    };
    let first = est
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let Some(body) = first
        .filter(|c| c.get("kind").and_then(Value::as_str) == Some("when"))
        .and_then(|c| c.get("body"))
    else {
        return Vec::new();
    };
    let mut conjuncts = Vec::new();
    flatten("&&", body, &mut conjuncts);
    conjuncts.into_iter().map_while(guard).collect()
}

/// The operands of a chain of `op` (`&&` or `||`), left to right.
fn flatten<'a>(op: &str, expr: &'a Value, out: &mut Vec<&'a Value>) {
    match expr.get(op) {
        Some(node) => {
            if let (Some(left), Some(right)) = (node.get("left"), node.get("right")) {
                flatten(op, left, out);
                flatten(op, right, out);
            }
        }
        None => out.push(expr),
    }
}

/// `expr` as a guard, if it is `context.args has <name>`, `context.args.<name> like <p>`, or
/// an `||` of such guards.
fn guard(expr: &Value) -> Option<Guard> {
    if expr.get("||").is_some() {
        let mut operands = Vec::new();
        flatten("||", expr, &mut operands);
        return operands
            .into_iter()
            .map(guard)
            .collect::<Option<Vec<_>>>()
            .map(Guard::Any);
    }
    if let Some(has) = expr.get("has") {
        is_args(has.get("left")?).then_some(())?;
        return Some(Guard::Has(has.get("attr")?.as_str()?.to_owned()));
    }
    let like = expr.get("like")?;
    let attr = like.get("left")?.get(".")?;
    is_args(attr.get("left")?).then_some(())?;
    let name = attr.get("attr")?.as_str()?.to_owned();
    let mut segments = vec![String::new()];
    for piece in like.get("pattern")?.as_array()? {
        match piece {
            Value::String(w) if w == "Wildcard" => segments.push(String::new()),
            Value::Object(o) => segments.last_mut()?.push_str(o.get("Literal")?.as_str()?),
            _ => return None,
        }
    }
    Some(Guard::Like(name, segments))
}

#[cfg(test)]
#[path = "slice_tests.rs"]
mod tests;
