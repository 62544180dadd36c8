//! What Warden decided, as a value (decisions are values, not errors).

use serde::{Deserialize, Serialize};

/// The outcome kind of a policy decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The call goes ahead.
    Allow,
    /// The call is refused.
    Deny,
    /// The call needs a human's approval first.
    ApprovalRequired,
}

impl Outcome {
    /// Lowercase name used on the wire and in audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::ApprovalRequired => "approval_required",
        }
    }
}

/// A full decision: the outcome, the policy ids that decided it, a human-readable reason, and
/// any evaluation errors (which always make the outcome `Deny`: policy fails closed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Allow, deny or approval required.
    pub outcome: Outcome,
    /// Ids of the policies that determined the outcome (empty for the default deny).
    pub policies: Vec<String>,
    /// Why, in words an agent's user can act on.
    pub reason: String,
    /// Approver groups named by `@approval(...)` annotations, when approval is required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approval_groups: Vec<String>,
    /// A policy asked for asynchronous approval (`@approval_mode("async")`): the agent is told
    /// the request id at once and calls again later, instead of the call being held open.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approval_async: bool,
    /// A runtime limit refused the call: when trying again can succeed, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// Policy evaluation errors, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Decision {
    /// A denial that no policy produced: Warden itself refuses (fail closed).
    pub fn refuse(reason: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Deny,
            policies: Vec::new(),
            reason: reason.into(),
            approval_groups: Vec::new(),
            approval_async: false,
            retry_after_secs: None,
            errors: Vec::new(),
        }
    }

    /// Whether the call may go ahead.
    pub fn is_allow(&self) -> bool {
        self.outcome == Outcome::Allow
    }
}
