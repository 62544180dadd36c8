//! The policy engine: load and validate once, evaluate many times.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{LazyLock, OnceLock};

use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, Policy, PolicyId, PolicySet, RestrictedExpression, Schema, ValidationMode,
    Validator,
};
use serde_json::{Map, Value};
use warden_types::{Action, Decision, Outcome, Principal, Request, Resource};

use crate::convert::to_cedar;
use crate::guard::Facts;
use crate::listing::relax;
use crate::slice::{Scope, Slice, Slicer};
use crate::{Error, Result, Source};

/// What Warden knows about one loaded policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInfo {
    /// The policy id (`@id` annotation, or `<file stem>.<n>`).
    pub id: String,
    /// The file it came from.
    pub file: String,
    /// `permit` or `forbid`.
    pub effect: &'static str,
    /// `@reason` text.
    pub reason: Option<String>,
    /// `@approval` group: a permit with it needs a human's approval; a forbid with it (a
    /// *hold*) turns a call other policies allow into one that waits for that group, instead
    /// of refusing it.
    pub approval: Option<String>,
    /// `@approval_mode("async")`: answer the agent at once instead of holding the call.
    pub approval_async: bool,
}

impl PolicyInfo {
    /// A forbid with `@approval`: it holds calls instead of refusing them.
    pub fn is_hold(&self) -> bool {
        self.effect == "forbid" && self.approval.is_some()
    }
}

/// Loaded, validated policies and the schema they were checked against.
#[derive(Debug)]
pub struct Engine {
    schema: Schema,
    slicer: Slicer,
    listing: Slicer,
    /// The policies without the holds (forbids with `@approval`), when there are any: what a
    /// held call would be without them.
    unheld: Option<Slicer>,
    action_entities: Vec<Entity>,
    info: HashMap<String, PolicyInfo>,
    authorizer: Authorizer,
    /// Whether any policy reads `context.limits` (the standing is computed only then).
    reads_limits: bool,
    /// The arguments the policies read (`None`: all of them); only those go into the context.
    args_read: Option<HashSet<String>>,
}

impl Engine {
    /// Parses the schema and every policy file, gives each policy its id and validates all of
    /// them against the schema (strict mode). Every error names `file:line:column`.
    pub fn load(schema: &Source, files: &[Source]) -> Result<Self> {
        let (schema_value, _warnings) =
            Schema::from_cedarschema_str(&schema.text).map_err(|e| schema.invalid(&e))?;
        let mut policies = PolicySet::new();
        let mut info: HashMap<String, PolicyInfo> = HashMap::new();
        let mut file_of: HashMap<String, &Source> = HashMap::new();
        for file in files {
            let parsed = PolicySet::from_str(&file.text).map_err(|e| file.invalid(&e))?;
            let mut ordered: Vec<&Policy> = parsed.policies().collect();
            // Cedar numbers policies `policy0`, `policy1`, ... in file order.
            ordered.sort_by_key(|p| {
                p.id()
                    .to_string()
                    .trim_start_matches("policy")
                    .parse::<u64>()
                    .unwrap_or(u64::MAX)
            });
            for (n, policy) in ordered.into_iter().enumerate() {
                let id = match policy.annotation("id") {
                    Some(id) => id.to_owned(),
                    None => format!("{}.{}", stem(&file.name), n + 1),
                };
                if let Some(prev) = info.get(&id) {
                    return Err(Error::DuplicateId {
                        id,
                        first: prev.file.clone(),
                        second: file.name.clone(),
                    });
                }
                let effect = match policy.effect() {
                    cedar_policy::Effect::Permit => "permit",
                    cedar_policy::Effect::Forbid => "forbid",
                };
                let policy = policy.new_id(PolicyId::new(&id));
                info.insert(
                    id.clone(),
                    PolicyInfo {
                        id: id.clone(),
                        file: file.name.clone(),
                        effect,
                        reason: policy.annotation("reason").map(str::to_owned),
                        approval: policy.annotation("approval").map(str::to_owned),
                        approval_async: approval_mode(&policy, &id, &file.name)?,
                    },
                );
                file_of.insert(id.clone(), file);
                policies.add(policy).map_err(|e| Error::Invalid {
                    location: file.name.clone(),
                    message: e.to_string(),
                })?;
            }
        }
        let validation =
            Validator::new(schema_value.clone()).validate(&policies, ValidationMode::Strict);
        if let Some(err) = validation.validation_errors().next() {
            let id = err.policy_id().to_string();
            return Err(match file_of.get(&id) {
                Some(file) => file.invalid(err),
                None => Error::Invalid {
                    location: id,
                    message: err.to_string(),
                },
            });
        }
        let actions = schema_value.action_entities().map_err(|e| Error::Invalid {
            location: schema.name.clone(),
            message: e.to_string(),
        })?;
        let slicer = Slicer::new(&policies, &actions);
        let listing = Slicer::new(&relax(&policies), &actions);
        let is_hold = |id: &str| info.get(id).is_some_and(PolicyInfo::is_hold);
        let unheld = policies
            .policies()
            .any(|p| is_hold(p.id().as_ref()))
            .then(|| {
                let mut rest = PolicySet::new();
                for p in policies.policies().filter(|p| !is_hold(p.id().as_ref())) {
                    // Ids are unique in the set it came from.
                    let _ = rest.add(p.clone());
                }
                Slicer::new(&rest, &actions)
            });
        let reads_limits = policies.policies().any(|p| {
            p.to_json()
                .is_ok_and(|json| crate::listing::reads_context_attr(&json, "limits"))
        });
        let args_read = crate::reads::args_read(&policies);
        let action_entities = actions.iter().cloned().collect();
        Ok(Self {
            schema: schema_value,
            slicer,
            listing,
            unheld,
            action_entities,
            info,
            authorizer: Authorizer::new(),
            reads_limits,
            args_read,
        })
    }

    /// Whether any policy reads `context.limits`: callers fill
    /// [`warden_types::SessionFacts::limits`] only then.
    pub fn reads_limits(&self) -> bool {
        self.reads_limits
    }

    /// The loaded policies, in no particular order.
    pub fn policies(&self) -> impl Iterator<Item = &PolicyInfo> {
        self.info.values()
    }

    /// Checks that an agent's attributes match the schema's `Agent` type, so a configuration
    /// mistake is reported at start-up rather than as denials later.
    pub fn check_principal(&self, principal: &Principal) -> Result<()> {
        let entity = agent_entity(principal).map_err(|message| Error::Entity {
            agent: principal.id.clone(),
            message,
        })?;
        Entities::from_entities([entity], Some(&self.schema))
            .map(drop)
            .map_err(|e| {
                // Cedar's top message is generic ("entity does not conform to the schema"); the
                // attribute and the type it expects are in the errors beneath it.
                let mut message = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(inner) = source {
                    message.push_str(": ");
                    message.push_str(&inner.to_string());
                    source = inner.source();
                }
                Error::Entity {
                    agent: principal.id.clone(),
                    message,
                }
            })
    }

    /// Decides one request. Never errors: evaluation problems deny (fail closed).
    pub fn evaluate(&self, request: &Request) -> Decision {
        self.decide(request, false)
    }

    /// How many policies deciding `request` evaluates: those whose scope matches the call and
    /// whose leading argument guards do not rule them out (see `slice.rs`). For diagnostics
    /// and benchmarks; `None` when the request cannot be evaluated.
    pub fn policies_evaluated(&self, request: &Request) -> Option<usize> {
        let (slice, _) = self.slice(request, &self.slicer, false).ok()?;
        Some(slice.policies().policies().count())
    }

    /// Whether the decision for `request` depends on nothing but its principal, action and
    /// resource and the policies that apply to them, so that it is made once and reused (see
    /// `slice.rs`). For diagnostics and benchmarks.
    pub fn settled(&self, request: &Request) -> bool {
        self.slice(request, &self.slicer, false)
            .is_ok_and(|(slice, _)| slice.settled().is_some())
    }

    /// Whether a listing (`tools/list`, `resources/list`, `prompts/list`) should show the
    /// resource: true unless policy denies the action whatever the arguments and session are.
    /// Permit conditions that read `context` are assumed satisfiable and forbids that read it
    /// are assumed not to apply, so the listing is a superset of what can be called, never
    /// a subset.
    pub fn may_list(&self, request: &Request) -> bool {
        self.decide(request, true).outcome != Outcome::Deny
    }

    fn decide(&self, request: &Request, listing: bool) -> Decision {
        let slicer = if listing { &self.listing } else { &self.slicer };
        let decision = self.decide_in(request, slicer, listing);
        match &self.unheld {
            Some(unheld) if !listing && self.only_holds(&decision) => {
                self.held(request, decision, unheld)
            }
            _ => decision,
        }
    }

    /// Whether `decision` is a refusal by holds alone.
    fn only_holds(&self, decision: &Decision) -> bool {
        decision.outcome == Outcome::Deny
            && decision.errors.is_empty()
            && !decision.policies.is_empty()
            && decision
                .policies
                .iter()
                .all(|id| self.info.get(id).is_some_and(PolicyInfo::is_hold))
    }

    /// A call refused only by holds: what the other policies say, waiting for the holds'
    /// groups when they allow it.
    fn held(&self, request: &Request, holds: Decision, unheld: &Slicer) -> Decision {
        let base = self.decide_in(request, unheld, false);
        if base.outcome == Outcome::Deny {
            return base;
        }
        let mut groups: Vec<String> = holds
            .policies
            .iter()
            .filter_map(|id| self.info.get(id).and_then(|p| p.approval.clone()))
            .chain(base.approval_groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        let mut policies = holds.policies.clone();
        policies.extend(base.policies.iter().cloned());
        policies.sort();
        policies.dedup();
        let why = holds
            .policies
            .iter()
            .find_map(|id| self.info.get(id).and_then(|p| p.reason.clone()));
        let reason = format!(
            "`{}` on `{}` needs approval from `{}` (policy `{}`){}",
            request.action.as_str(),
            request.resource.id(),
            groups.join("`, `"),
            policies.join("`, `"),
            why.map(|w| format!(": {w}")).unwrap_or_default()
        );
        Decision {
            outcome: Outcome::ApprovalRequired,
            policies,
            reason,
            approval_groups: groups,
            approval_async: base.approval_async,
            retry_after_secs: None,
            errors: Vec::new(),
        }
    }

    fn decide_in(&self, request: &Request, slicer: &Slicer, listing: bool) -> Decision {
        let refuse = |message: String| {
            Decision::refuse(format!(
                "the request could not be evaluated, so it is refused: {message}"
            ))
        };
        let (slice, uids) = match self.slice(request, slicer, listing) {
            Ok(found) => found,
            Err(message) => return refuse(message),
        };
        let settled = slice.settled();
        if let Some(decision) = settled.and_then(OnceLock::get) {
            return decision.clone();
        }
        let response = match self.authorize(request, &slice, uids, listing) {
            Ok(response) => response,
            Err(message) => return refuse(message),
        };
        let decision = self.decision(request, &response);
        if let Some(cell) = settled {
            let _ = cell.set(decision.clone());
        }
        decision
    }

    /// Cedar's answer as Warden's decision.
    fn decision(&self, request: &Request, response: &cedar_policy::Response) -> Decision {
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            let policies = response
                .diagnostics()
                .errors()
                .map(|e| match e {
                    cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                        e.policy_id().to_string()
                    }
                })
                .collect();
            return Decision {
                outcome: Outcome::Deny,
                policies,
                reason: format!(
                    "policy evaluation failed, so the request is refused: {}",
                    errors.join("; ")
                ),
                approval_groups: Vec::new(),
                approval_async: false,
                retry_after_secs: None,
                errors,
            };
        }
        let mut ids: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        ids.sort();
        let target = format!(
            "`{}` on `{}`",
            request.action.as_str(),
            request.resource.id()
        );
        match response.decision() {
            CedarDecision::Deny if ids.is_empty() => Decision::refuse(format!(
                "no policy permits {target} for agent `{}`",
                request.principal.id
            )),
            CedarDecision::Deny => {
                let first = ids.first().and_then(|id| self.info.get(id));
                let reason = match first.and_then(|p| p.reason.clone()) {
                    Some(text) => text,
                    None => format!("{target} is forbidden by policy `{}`", ids.join("`, `")),
                };
                Decision {
                    outcome: Outcome::Deny,
                    policies: ids,
                    reason,
                    approval_groups: Vec::new(),
                    approval_async: false,
                    retry_after_secs: None,
                    errors: Vec::new(),
                }
            }
            CedarDecision::Allow => {
                let mut groups: Vec<String> = ids
                    .iter()
                    .filter_map(|id| self.info.get(id).and_then(|p| p.approval.clone()))
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                groups.sort();
                if groups.is_empty() {
                    let reason = format!("{target} is permitted by policy `{}`", ids.join("`, `"));
                    Decision {
                        outcome: Outcome::Allow,
                        policies: ids,
                        reason,
                        approval_groups: groups,
                        approval_async: false,
                        retry_after_secs: None,
                        errors: Vec::new(),
                    }
                } else {
                    let approval_async = ids
                        .iter()
                        .any(|id| self.info.get(id).is_some_and(|p| p.approval_async));
                    let reason = format!(
                        "{target} needs approval from `{}` (policy `{}`)",
                        groups.join("`, `"),
                        ids.join("`, `")
                    );
                    Decision {
                        outcome: Outcome::ApprovalRequired,
                        policies: ids,
                        reason,
                        approval_groups: groups,
                        approval_async,
                        retry_after_secs: None,
                        errors: Vec::new(),
                    }
                }
            }
        }
    }
}

impl Engine {
    /// Evaluates against the cached slice of policies and entities for this principal, action
    /// and resource; only the context is built per request.
    fn authorize(
        &self,
        request: &Request,
        slice: &Slice,
        (principal, action, resource): (EntityUid, EntityUid, EntityUid),
        listing: bool,
    ) -> std::result::Result<cedar_policy::Response, String> {
        let context = build_context(request, listing, self.args_read.as_ref())?;
        let cedar_request = cedar_policy::Request::new(principal, action, resource, context, None)
            .map_err(|e| e.to_string())?;
        Ok(self
            .authorizer
            .is_authorized(&cedar_request, slice.policies(), slice.entities()))
    }

    /// The slice of policies and entities `request` is evaluated against, and its uids.
    fn slice(
        &self,
        request: &Request,
        slicer: &Slicer,
        listing: bool,
    ) -> std::result::Result<(Slice, (EntityUid, EntityUid, EntityUid)), String> {
        let principal = uid("Agent", &request.principal.id)?;
        let action = uid("Action", request.action.as_str())?;
        let (resource, parents) = resource_uid(&request.resource)?;
        let key = format!(
            "{}\u{1f}{}\u{1f}{}",
            request.action.as_str(),
            serde_json::to_string(&request.principal).map_err(|e| e.to_string())?,
            serde_json::to_string(&request.resource).map_err(|e| e.to_string())?,
        );
        let scope = Scope {
            principal: &principal,
            action: &action,
            resource: &resource,
            resource_parents: &parents,
        };
        // Listings do not prune; arguments that are not an object refuse the call anyway.
        let empty = Map::new();
        let args = match &request.arguments {
            _ if !carries_args(request, listing) => Ok(None),
            Value::Object(map) => Ok(Some(map)),
            Value::Null => Ok(Some(&empty)),
            _ => Err(()),
        };
        let facts = match args {
            Ok(args) if !listing => Some(Facts {
                request,
                args,
                args_read: self.args_read.as_ref(),
            }),
            _ => None,
        };
        // Arguments that are not an object make the context fail to build: never settled.
        let settle = listing || args.is_ok();
        let slice = slicer.get(&key, &scope, facts.as_ref(), settle, || {
            let (_, mut entities) = resource_entities(&request.resource)?;
            entities.push(agent_entity(&request.principal)?);
            entities.extend(self.action_entities.iter().cloned());
            Entities::from_entities(entities, None).map_err(|e| e.to_string())
        })?;
        Ok((slice, (principal, action, resource)))
    }
}

fn resource_uid(resource: &Resource) -> std::result::Result<(EntityUid, Vec<EntityUid>), String> {
    let kind = match resource {
        Resource::Tool { .. } => "Tool",
        Resource::Resource { .. } => "Resource",
        Resource::Prompt { .. } => "Prompt",
    };
    Ok((
        uid(kind, &resource.id())?,
        vec![uid("Server", resource.server())?],
    ))
}

fn stem(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.strip_suffix(".cedar").unwrap_or(base)
}

fn uid(kind: &str, id: &str) -> std::result::Result<EntityUid, String> {
    Ok(EntityUid::from_type_name_and_id(
        type_name(kind)?,
        EntityId::new(id),
    ))
}

/// An entity type's name. Cedar reads a type name with its whole grammar, which cost a
/// noticeable share of a decision when done four times per call; Warden's own types are read
/// once.
fn type_name(kind: &str) -> std::result::Result<EntityTypeName, String> {
    static KNOWN: LazyLock<Vec<(&str, EntityTypeName)>> = LazyLock::new(|| {
        ["Agent", "Action", "Server", "Tool", "Resource", "Prompt"]
            .into_iter()
            .filter_map(|k| EntityTypeName::from_str(k).ok().map(|name| (k, name)))
            .collect()
    });
    match KNOWN.iter().find(|(k, _)| *k == kind) {
        Some((_, name)) => Ok(name.clone()),
        None => EntityTypeName::from_str(kind).map_err(|e| e.to_string()),
    }
}

fn agent_entity(principal: &Principal) -> std::result::Result<Entity, String> {
    let attrs = principal
        .attributes
        .iter()
        .filter_map(|(k, v)| to_cedar(v).map(|e| (k.clone(), e)))
        .collect();
    Entity::new(uid("Agent", &principal.id)?, attrs, HashSet::new()).map_err(|e| e.to_string())
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_owned())
}

fn resource_entities(resource: &Resource) -> std::result::Result<(EntityUid, Vec<Entity>), String> {
    let server = uid("Server", resource.server())?;
    let parents = HashSet::from([server.clone()]);
    let id = resource.id();
    let (resource_uid, attrs): (EntityUid, HashMap<String, RestrictedExpression>) = match resource {
        Resource::Tool {
            server: s,
            name,
            facts,
        } => (
            uid("Tool", &id)?,
            HashMap::from([
                ("server".to_owned(), string(s)),
                ("name".to_owned(), string(name)),
                (
                    "labels".to_owned(),
                    RestrictedExpression::new_set(facts.labels.iter().map(|l| string(l))),
                ),
                (
                    "read_only".to_owned(),
                    RestrictedExpression::new_bool(facts.read_only),
                ),
                (
                    "destructive".to_owned(),
                    RestrictedExpression::new_bool(facts.destructive),
                ),
                (
                    "idempotent".to_owned(),
                    RestrictedExpression::new_bool(facts.idempotent),
                ),
                (
                    "open_world".to_owned(),
                    RestrictedExpression::new_bool(facts.open_world),
                ),
            ]),
        ),
        Resource::Resource { server: s, uri } => (
            uid("Resource", &id)?,
            HashMap::from([
                ("server".to_owned(), string(s)),
                ("uri".to_owned(), string(uri)),
            ]),
        ),
        Resource::Prompt { server: s, name } => (
            uid("Prompt", &id)?,
            HashMap::from([
                ("server".to_owned(), string(s)),
                ("name".to_owned(), string(name)),
            ]),
        ),
    };
    let entity = Entity::new(resource_uid.clone(), attrs, parents).map_err(|e| e.to_string())?;
    Ok((
        resource_uid,
        vec![entity, Entity::new_no_attrs(server, HashSet::new())],
    ))
}

/// Whether the request's context carries its arguments (`context.args`): not for listings,
/// where arguments do not matter, nor for `resources/read`.
fn carries_args(request: &Request, listing: bool) -> bool {
    !listing && request.action != Action::ReadResource
}

/// The request's context; `args_read` limits the arguments to those policies read.
fn build_context(
    request: &Request,
    listing: bool,
    args_read: Option<&HashSet<String>>,
) -> std::result::Result<Context, String> {
    crate::context::build(request, carries_args(request, listing), args_read)
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

/// `@approval_mode`: `hold` (the default) or `async`, and only beside `@approval`.
fn approval_mode(policy: &cedar_policy::Policy, id: &str, file: &str) -> Result<bool> {
    let Some(mode) = policy.annotation("approval_mode") else {
        return Ok(false);
    };
    let invalid = |message: String| Error::Invalid {
        location: file.to_owned(),
        message,
    };
    if policy.annotation("approval").is_none() {
        return Err(invalid(format!(
            "policy `{id}`: @approval_mode needs @approval(\"<group>\") on the same policy"
        )));
    }
    match mode {
        "hold" => Ok(false),
        "async" => Ok(true),
        other => Err(invalid(format!(
            "policy `{id}`: @approval_mode must be \"hold\" or \"async\", not \"{other}\""
        ))),
    }
}
