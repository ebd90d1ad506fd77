//! Policy documents as IAM takes them in and gives them back.
//!
//! Until `ignis-identity`'s policy parser lands, [`validate`] checks the
//! structure IAM requires with serde_json (the default of
//! [`crate::Identity::validate_policy`]; the front's implementation may
//! replace it with identity's parser and validator).

use serde_json::Value;

/// Which kind of document: what it must and must not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// An identity policy (inline or managed): `Resource`, no `Principal`.
    Identity,
    /// A role's trust policy: `Principal`, no `Resource`.
    Trust,
}

/// Checks a policy document's structure; `Err` is
/// `MalformedPolicyDocument`'s message.
pub fn validate(document: &str, kind: PolicyKind) -> Result<(), String> {
    let value: Value = serde_json::from_str(document)
        .map_err(|_| "This policy contains invalid Json".to_string())?;
    let Value::Object(top) = value else {
        return Err("Syntax errors in policy.".to_string());
    };
    for key in top.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(format!("Syntax errors in policy. Unknown field {key}"));
        }
    }
    match top.get("Version") {
        None => {}
        Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
        Some(_) => return Err("The policy must contain a valid version string".to_string()),
    }
    let statements = match top.get("Statement") {
        Some(Value::Array(s)) if !s.is_empty() => s.iter().collect::<Vec<_>>(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return Err("Syntax errors in policy.".to_string()),
    };
    statements.into_iter().try_for_each(|s| statement(s, kind))
}

fn statement(s: &Value, kind: PolicyKind) -> Result<(), String> {
    let Value::Object(s) = s else {
        return Err("Syntax errors in policy.".to_string());
    };
    for key in s.keys() {
        if !matches!(
            key.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(format!("Syntax errors in policy. Unknown field {key}"));
        }
    }
    match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" || e == "Deny" => {}
        Some(_) => return Err("Invalid effect.".to_string()),
        None => return Err("Missing required field Effect".to_string()),
    }
    if !s.contains_key("Action") && !s.contains_key("NotAction") {
        return Err("Policy statement must contain actions.".to_string());
    }
    for key in ["Action", "NotAction", "Resource", "NotResource"] {
        if let Some(v) = s.get(key) {
            if !strings(v) {
                return Err("Syntax errors in policy.".to_string());
            }
        }
    }
    let principal = s.contains_key("Principal") || s.contains_key("NotPrincipal");
    let resource = s.contains_key("Resource") || s.contains_key("NotResource");
    match kind {
        PolicyKind::Identity if principal => {
            Err("Policy document should not specify a principal.".to_string())
        }
        PolicyKind::Identity if !resource => {
            Err("Policy statement must contain resources.".to_string())
        }
        PolicyKind::Trust if resource => Err("Has prohibited field Resource".to_string()),
        PolicyKind::Trust if !principal => Err("Missing required field Principal".to_string()),
        _ => match s.get("Condition") {
            None | Some(Value::Object(_)) => Ok(()),
            Some(_) => Err("Syntax errors in policy.".to_string()),
        },
    }
}

/// A string or a non-empty array of strings.
fn strings(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(a) => !a.is_empty() && a.iter().all(Value::is_string),
        _ => false,
    }
}

/// A document's size as IAM counts it against its quotas: characters
/// other than white space.
pub fn size(document: &str) -> u64 {
    document.chars().filter(|c| !c.is_whitespace()).count() as u64
}

/// A document as IAM answers it: percent-encoded (RFC 3986), which
/// botocore decodes (`json_decode_policies`).
pub fn encode(document: &str) -> String {
    let mut out = String::with_capacity(document.len() * 2);
    for b in document.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const IDENTITY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject"],"Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#;

    #[test]
    fn well_formed_documents_pass() {
        assert_eq!(validate(TRUST, PolicyKind::Trust), Ok(()));
        assert_eq!(validate(IDENTITY, PolicyKind::Identity), Ok(()));
    }

    #[test]
    fn malformed_documents_are_refused_with_iams_messages() {
        use PolicyKind::*;
        for (doc, kind, message) in [
            ("{not json", Identity, "This policy contains invalid Json"),
            ("[]", Identity, "Syntax errors in policy."),
            (r#"{"Statement":[]}"#, Identity, "Syntax errors in policy."),
            (
                r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
                Identity,
                "The policy must contain a valid version string",
            ),
            (
                r#"{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}"#,
                Identity,
                "Invalid effect.",
            ),
            (
                r#"{"Statement":{"Action":"*","Resource":"*"}}"#,
                Identity,
                "Missing required field Effect",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
                Identity,
                "Policy statement must contain actions.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*"}}"#,
                Identity,
                "Policy statement must contain resources.",
            ),
            (
                TRUST,
                Identity,
                "Policy document should not specify a principal.",
            ),
            (IDENTITY, Trust, "Has prohibited field Resource"),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}"#,
                Trust,
                "Missing required field Principal",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":5,"Resource":"*"}}"#,
                Identity,
                "Syntax errors in policy.",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}}"#,
                Identity,
                "Syntax errors in policy. Unknown field Extra",
            ),
        ] {
            assert_eq!(validate(doc, kind), Err(message.to_string()), "{doc}");
        }
    }

    #[test]
    fn size_leaves_out_white_space_and_encoding_is_rfc3986() {
        assert_eq!(size("{ \"a\" :\n\t1 }"), 7);
        assert_eq!(
            encode("{\"a b\":\"é~\"}"),
            "%7B%22a%20b%22%3A%22%C3%A9~%22%7D"
        );
    }
}
