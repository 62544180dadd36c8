//! Policy slicing: for one (principal, action, resource) the policies whose scope can match are
//! fixed, because Warden's entity hierarchy is fixed (agents have no parents, a tool, resource
//! or prompt is in exactly its server, actions are in the schema's action groups). Each slice
//! and the request's entities are built once and cached, so a decision evaluates only the few
//! policies that can apply instead of the whole set. When none of those policies reads the
//! context, or those that do are decided by their guards alone, the decision itself is the
//! same for every such request and is kept with the slice (see [`Slice::settled`]).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};

use cedar_policy::{
    ActionConstraint, Entities, EntityTypeName, EntityUid, Policy, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};

use warden_types::Decision;

use crate::guard::{self, Facts, Guard};
use crate::listing::mentions_context;

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
    set: Arc<Set>,
    scoped: Arc<Scoped>,
    settled: bool,
}

impl Slice {
    pub fn policies(&self) -> &PolicySet {
        &self.set.policies
    }

    pub fn entities(&self) -> &Entities {
        &self.scoped.entities
    }

    /// Where the decision is kept when it depends on nothing but the slice: every policy in
    /// it either reads no context or has a condition made only of guards, all of them true
    /// for this request. Cedar then decides alike for every request that meets the same
    /// slice this way (same principal, action and resource with their attributes, same
    /// policies), so the first decision serves the rest. `None` when the context matters,
    /// or cannot be built (arguments that are not an object, which are refused).
    pub fn settled(&self) -> Option<&OnceLock<Decision>> {
        self.settled.then_some(&self.set.decision)
    }
}

/// A policy set built for one scope and one outcome of its members' guards.
#[derive(Debug)]
struct Set {
    policies: PolicySet,
    /// The decision of the requests for which the slice is settled.
    decision: OnceLock<Decision>,
}

/// A policy as slices hold it.
#[derive(Debug, Clone)]
struct Member {
    /// Without source locations (see [`bare`]).
    policy: Policy,
    /// The leading guards of its first condition.
    guards: Arc<[Guard]>,
    /// Whether the guards are its whole condition.
    whole: bool,
    /// Whether any of its conditions reads `context`.
    reads_context: bool,
}

/// What is cached per scope: the policies whose scope matches, with their argument guards,
/// and the entities. `id` keys the policy sets built for it in [`Slicer::sets`].
#[derive(Debug)]
struct Scoped {
    id: u64,
    members: Vec<Member>,
    entities: Entities,
}

/// A scope's id and a bit per member: set when the member's guards do not rule it out.
type SetKey = (u64, Vec<u64>);

/// Policies by scope, and the cache of slices.
#[derive(Debug)]
pub(crate) struct Slicer {
    policies: Vec<Member>,
    action_ancestors: HashMap<EntityUid, HashSet<EntityUid>>,
    cache: RwLock<HashMap<String, Arc<Scoped>>>,
    /// Policy sets by scope and the guards passed (a bit per member), bounded as a whole.
    sets: RwLock<HashMap<SetKey, Arc<Set>>>,
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
                Ok(est) => {
                    let (guards, whole) = guard::guards(&est);
                    Member {
                        policy: bare(p, &est),
                        guards: Arc::from(guards),
                        whole,
                        reads_context: est.get("conditions").is_some_and(mentions_context),
                    }
                }
                Err(_) => Member {
                    policy: p.clone(),
                    guards: Arc::from([]),
                    whole: false,
                    reads_context: true,
                },
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
    ///
    /// `settle`: whether the decision may be settled (see [`Slice::settled`]) when the
    /// policies allow it; false when the context cannot be built.
    pub fn get(
        &self,
        key: &str,
        scope: &Scope<'_>,
        facts: Option<&Facts<'_>>,
        settle: bool,
        entities: impl FnOnce() -> Result<Entities, String>,
    ) -> Result<Slice, String> {
        let scoped = self.scoped(key, scope, entities)?;
        let mut passed = vec![0u64; scoped.members.len().div_ceil(64)];
        let mut settled = settle;
        for (i, member) in scoped.members.iter().enumerate() {
            let verdict = match facts {
                Some(facts) => guard::check(&member.guards, facts),
                None => Some(false),
            };
            let Some(all_true) = verdict else { continue };
            settled &= !member.reads_context || (member.whole && all_true);
            if let Some(word) = passed.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
        }
        let key = (scoped.id, passed);
        let hit = read(&self.sets).get(&key).cloned();
        let set = match hit {
            Some(set) => set,
            None => {
                let mut policies = PolicySet::new();
                for (i, member) in scoped.members.iter().enumerate() {
                    if key.1.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0) {
                        policies
                            .add(member.policy.clone())
                            .map_err(|e| e.to_string())?;
                    }
                }
                let set = Arc::new(Set {
                    policies,
                    decision: OnceLock::new(),
                });
                let mut sets = write(&self.sets);
                if sets.len() >= MAX_CACHED {
                    sets.clear();
                }
                sets.insert(key, set.clone());
                set
            }
        };
        Ok(Slice {
            set,
            scoped,
            settled,
        })
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
            .filter(|m| self.applies(&m.policy, scope))
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
