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
use serde_json::Value;

/// Most cached slices before the cache starts over.
const MAX_CACHED: usize = 10_000;

/// The uids a request is evaluated against, with their ancestors.
pub(crate) struct Scope<'a> {
    pub principal: &'a EntityUid,
    pub action: &'a EntityUid,
    pub resource: &'a EntityUid,
    pub resource_parents: &'a [EntityUid],
}

/// What a cached slice holds.
#[derive(Debug)]
pub(crate) struct Slice {
    pub policies: PolicySet,
    pub entities: Entities,
}

/// Policies by scope, and the cache of slices.
#[derive(Debug)]
pub(crate) struct Slicer {
    policies: Vec<(Policy, Vec<String>)>,
    action_ancestors: HashMap<EntityUid, HashSet<EntityUid>>,
    cache: RwLock<HashMap<String, Arc<Slice>>>,
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
            .map(|p| (p.clone(), required_args(p)))
            .collect();
        Self {
            policies,
            action_ancestors,
            cache: RwLock::new(HashMap::new()),
        }
    }

    /// The cached slice for `key`, building it with `entities` on a miss.
    ///
    /// `args` are the names of the request's non-null arguments (`None` when arguments do not
    /// matter, for listings): a policy whose `when` starts with `context.args has x && ...`
    /// cannot apply without `x`, so it is left out of the slice. Only leading guards count,
    /// because a conjunct before them could raise an error, which must still deny.
    pub fn get(
        &self,
        key: &str,
        scope: &Scope<'_>,
        args: Option<&[&str]>,
        entities: impl FnOnce() -> Result<Entities, String>,
    ) -> Result<Arc<Slice>, String> {
        if let Some(hit) = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
        {
            return Ok(hit.clone());
        }
        let mut policies = PolicySet::new();
        let guarded_out = |required: &[String]| {
            args.is_some_and(|present| required.iter().any(|r| !present.contains(&r.as_str())))
        };
        for (policy, _) in self
            .policies
            .iter()
            .filter(|(p, required)| self.applies(p, scope) && !guarded_out(required))
        {
            policies.add(policy.clone()).map_err(|e| e.to_string())?;
        }
        let slice = Arc::new(Slice {
            policies,
            entities: entities()?,
        });
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(key.to_owned(), slice.clone());
        Ok(slice)
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

fn is(uid: &EntityUid, ty: &EntityTypeName) -> bool {
    uid.type_name() == ty
}

/// Argument names the policy's first condition tests with leading `context.args has <name>`
/// conjuncts, when that condition is a `when`. Conditions are evaluated in order after the
/// scope (which cannot fail), so only the first one's guards are safe to prune on: an earlier
/// clause could raise an error (a text where a number is expected), which must still deny.
fn required_args(policy: &Policy) -> Vec<String> {
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
    flatten_and(body, &mut conjuncts);
    conjuncts
        .into_iter()
        .map_while(args_has)
        .map(str::to_owned)
        .collect()
}

/// The conjuncts of `a && b && c`, left to right.
fn flatten_and<'a>(expr: &'a Value, out: &mut Vec<&'a Value>) {
    match expr.get("&&") {
        Some(and) => {
            if let (Some(left), Some(right)) = (and.get("left"), and.get("right")) {
                flatten_and(left, out);
                flatten_and(right, out);
            }
        }
        None => out.push(expr),
    }
}

/// `<name>` if `expr` is `context.args has <name>`.
fn args_has(expr: &Value) -> Option<&str> {
    let has = expr.get("has")?;
    let left = has.get("left")?.get(".")?;
    let is_args = left.get("left")?.get("Var")?.as_str()? == "context"
        && left.get("attr")?.as_str()? == "args";
    if is_args {
        has.get("attr")?.as_str()
    } else {
        None
    }
}
