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

use crate::guard::{self, Facts, Guard, may_apply};

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
            .map(|p| match p.to_json() {
                Ok(est) => (bare(p, &est), Arc::from(guard::leading(&est))),
                Err(_) => (p.clone(), Arc::from([])),
            })
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
    /// `facts` is what the request's context is built from (`None` for listings, where
    /// arguments and session do not matter): a policy whose first `when` clause starts with
    /// guards such as `context.args has x && context.args.x like "/etc/*"` or
    /// `context.time.hour < 6` cannot apply when one of them is false, so it is left out. A
    /// guard that would raise an error (a `like` on an argument that is missing or not a
    /// string), which must still deny, or that Warden cannot evaluate keeps the policy, and
    /// only the first clause counts: clauses are evaluated in order, and an earlier clause's
    /// error must still deny.
    pub fn get(
        &self,
        key: &str,
        scope: &Scope<'_>,
        facts: Option<&Facts<'_>>,
        entities: impl FnOnce() -> Result<Entities, String>,
    ) -> Result<Slice, String> {
        let scoped = self.scoped(key, scope, entities)?;
        let mut passed = vec![0u64; scoped.members.len().div_ceil(64)];
        for (i, (_, guards)) in scoped.members.iter().enumerate() {
            if facts.is_none_or(|facts| may_apply(guards, facts))
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

/// The policy as evaluated: the same policy re-read from its JSON form (`est`), which carries
/// no source locations. Cedar's evaluator gives every value it computes the location of the
/// expression it came from (a reference-counted copy of the policy text per sub-expression);
/// without locations that is skipped, a quarter of the evaluation time of a policy. The
/// messages of evaluation errors do not show locations, so decisions and their reasons are
/// the same (`evaluation_without_source_locations_decides_the_same`).
fn bare(policy: &Policy, est: &serde_json::Value) -> Policy {
    Policy::from_json(Some(policy.id().clone()), est.clone()).unwrap_or_else(|_| policy.clone())
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

#[cfg(test)]
#[path = "slice_tests.rs"]
mod tests;
