//! The evaluator: IAM's documented logic for requests within one account.
//! The root user may do everything. Otherwise every statement that
//! applies — those of the principal's identity policies, and those of the
//! resource policy whose `Principal` names the caller — is matched on
//! action, resource and conditions: an explicit `Deny` wins; else an
//! `Allow` from either kind of policy grants; else the request is
//! implicitly denied.

use super::condition::holds;
use super::context::{Principal, PrincipalKind, RequestContext};
use super::document::{Effect, Matcher, PolicyDocument, PrincipalType, Principals, Statement};
use super::pattern::compile;

/// Which kind of policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyType {
    /// A policy attached to the principal (inline or managed).
    Identity,
    /// The resource's own policy.
    Resource,
}

impl PolicyType {
    /// As AWS's access-denied messages name it.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Identity => "identity-based",
            Self::Resource => "resource-based",
        }
    }
}

/// The outcome of [`authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Granted.
    Allow,
    /// A `Deny` statement applies.
    ExplicitDeny {
        /// Its `Sid`, if it has one.
        sid: Option<String>,
        /// Where it was.
        policy_type: PolicyType,
    },
    /// Nothing grants it.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

/// Decides one request: `identity_policies` are those attached to the
/// principal (none for a service or an anonymous caller);
/// `resource_policy` the resource's, if it has one.
pub fn authorize(
    ctx: &RequestContext,
    identity_policies: &[PolicyDocument],
    resource_policy: Option<&PolicyDocument>,
) -> Decision {
    if ctx.principal.kind == PrincipalKind::Root {
        return Decision::Allow;
    }
    let identity = identity_policies.iter().flat_map(|doc| {
        doc.statements
            .iter()
            .map(move |s| (PolicyType::Identity, doc, s))
    });
    let resource = resource_policy.into_iter().flat_map(|doc| {
        doc.statements
            .iter()
            .map(move |s| (PolicyType::Resource, doc, s))
    });
    let applicable: Vec<_> = identity
        .chain(resource)
        .filter(|(_, doc, s)| applies(ctx, doc, s))
        .collect();
    if let Some((policy_type, _, s)) = applicable.iter().find(|(_, _, s)| s.effect == Effect::Deny)
    {
        return Decision::ExplicitDeny {
            sid: s.sid.clone(),
            policy_type: *policy_type,
        };
    }
    if applicable.is_empty() {
        Decision::ImplicitDeny
    } else {
        Decision::Allow
    }
}

/// AWS's `AccessDenied` message for a refused request, `None` if allowed:
/// "User: <arn> is not authorized to perform: <action> on resource:
/// <resource> because no identity-based policy allows the <action> action",
/// or "… with an explicit deny in an identity-based policy".
pub fn access_denied_message(ctx: &RequestContext, decision: &Decision) -> Option<String> {
    let head = format!(
        "User: {} is not authorized to perform: {} on resource: {}",
        ctx.principal.arn, ctx.action, ctx.resource
    );
    match decision {
        Decision::Allow => None,
        Decision::ExplicitDeny { policy_type, .. } => Some(format!(
            "{head} with an explicit deny in a{} {} policy",
            if *policy_type == PolicyType::Identity {
                "n"
            } else {
                ""
            },
            policy_type.phrase()
        )),
        Decision::ImplicitDeny => Some(format!(
            "{head} because no identity-based policy allows the {} action",
            ctx.action
        )),
    }
}

/// Whether a statement (of either effect) applies to the request.
fn applies(ctx: &RequestContext, doc: &PolicyDocument, s: &Statement) -> bool {
    let vars = doc.uses_variables().then_some(&ctx.keys);
    let principal_ok = match &s.principal {
        None => true,
        Some(Matcher::Only(p)) => names(p, &ctx.principal, s.effect),
        Some(Matcher::AllBut(p)) => !names(p, &ctx.principal, Effect::Deny),
    };
    let action_ok = match &s.action {
        Matcher::Only(list) => list.iter().any(|a| action_matches(a, &ctx.action)),
        Matcher::AllBut(list) => !list.iter().any(|a| action_matches(a, &ctx.action)),
    };
    let resource_ok = match &s.resource {
        None => true,
        Some(Matcher::Only(list)) => list
            .iter()
            .any(|r| resource_matches(r, &ctx.resource, vars)),
        Some(Matcher::AllBut(list)) => !list
            .iter()
            .any(|r| resource_matches(r, &ctx.resource, vars)),
    };
    principal_ok
        && action_ok
        && resource_ok
        && s.condition
            .iter()
            .all(|c| holds(c, &ctx.keys, doc.uses_variables()))
}

fn action_matches(pattern: &str, action: &str) -> bool {
    compile(pattern, None).is_some_and(|p| p.matches(action, true))
}

fn resource_matches(pattern: &str, resource: &str, vars: Option<&super::ContextKeys>) -> bool {
    pattern == "*" || compile(pattern, vars).is_some_and(|p| p.matches_arn(resource))
}

/// Whether a `Principal` element names the caller. An account
/// (`"123456789012"` or `arn:aws:iam::123456789012:root`) in an `Allow`
/// names only the account's root (its users and roles need an identity
/// policy too, as AWS delegates to the account); in a `Deny` it names
/// everyone of the account. A role's ARN names its sessions.
fn names(principals: &Principals, caller: &Principal, effect: Effect) -> bool {
    let Principals::Named(kinds) = principals else {
        return true;
    };
    kinds.iter().any(|(kind, values)| {
        values.iter().any(|v| match kind {
            PrincipalType::Aws => aws_names(v, caller, effect),
            PrincipalType::Service => {
                matches!(&caller.kind, PrincipalKind::Service { name } if name == v)
            }
            PrincipalType::Federated | PrincipalType::CanonicalUser => false,
        })
    })
}

fn aws_names(value: &str, caller: &Principal, effect: Effect) -> bool {
    if value == "*" {
        return true;
    }
    let account = if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        Some(value)
    } else {
        value
            .strip_prefix("arn:aws:iam::")
            .and_then(|rest| rest.strip_suffix(":root"))
    };
    if let Some(account) = account {
        return account == caller.account
            && (effect == Effect::Deny || caller.kind == PrincipalKind::Root);
    }
    match &caller.kind {
        PrincipalKind::AssumedRole { role_arn, .. } => value == role_arn || value == caller.arn,
        PrincipalKind::User { .. } | PrincipalKind::Root => value == caller.arn,
        PrincipalKind::Service { .. } | PrincipalKind::Anonymous => false,
    }
}
