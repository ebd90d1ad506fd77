//! What a Lambda request asks, in IAM's terms: the action (as Lambda's
//! service authorization reference names it) and the resource ARN, read
//! from the operation's REST binding (its `{FunctionName}`, `{LayerName}`,
//! `{Resource}` labels and the `Qualifier`).

use ignis_model::arn::{parse_function_ref, ACCOUNT_ID};
use ignis_protocol::{Operation, Service};

/// An authorization question about one Lambda request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaTarget {
    /// `lambda:InvokeFunction`.
    pub action: String,
    /// The function's (qualified) ARN, a layer's, or `*`.
    pub resource: String,
    /// The function and qualifier whose resource policy applies.
    pub function: Option<(String, Option<String>)>,
}

/// The IAM action of a Lambda operation (mostly its name).
fn action_of(operation: &str) -> &str {
    match operation {
        "Invoke" | "InvokeWithResponseStream" => "InvokeFunction",
        "GetLayerVersionByArn" => "GetLayerVersion",
        other => other,
    }
}

/// The authorization question of `op` for a request to `path?query`.
pub fn target(op: &Operation, path: &str, query: &str, region: &str) -> LambdaTarget {
    let labels = labels(op.uri, path);
    let label = |name: &str| {
        labels
            .iter()
            .find(|(l, _)| *l == name)
            .map(|(_, v)| v.as_str())
    };
    let action = format!("lambda:{}", action_of(op.name));
    if let Some(reference) = label("FunctionName") {
        let qualifier = query_param(query, "Qualifier");
        if let Ok(r) = parse_function_ref(reference) {
            let qualifier = qualifier.or(r.qualifier);
            let base = ignis_model::arn::function_arn(region, &r.name);
            let resource = match &qualifier {
                Some(q) => format!("{base}:{q}"),
                None => base,
            };
            return LambdaTarget {
                action,
                resource,
                function: Some((r.name, qualifier)),
            };
        }
    }
    if let Some(layer) = label("LayerName") {
        let mut resource = if layer.starts_with("arn:") {
            layer.to_string()
        } else {
            format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{layer}")
        };
        if let Some(v) = label("VersionNumber") {
            resource = format!("{resource}:{v}");
        }
        return LambdaTarget {
            action,
            resource,
            function: None,
        };
    }
    if let Some(uuid) = label("UUID") {
        // Get/Update/DeleteEventSourceMapping: the mapping's ARN.
        return LambdaTarget {
            action,
            resource: format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:event-source-mapping:{uuid}"),
            function: None,
        };
    }
    if let Some(arn) = label("Resource").or(label("ARN")) {
        let function = parse_function_ref(arn).ok().map(|r| (r.name, r.qualifier));
        return LambdaTarget {
            action,
            resource: arn.to_string(),
            function,
        };
    }
    if let Some(arn) = query_param(query, "Arn") {
        return LambdaTarget {
            action,
            resource: arn,
            function: None,
        };
    }
    LambdaTarget {
        action,
        resource: "*".into(),
        function: None,
    }
}

/// The Lambda service of the catalog.
pub fn service() -> &'static Service {
    Service::by_signing_name("lambda").expect("the catalog has Lambda")
}

/// The values of a URI template's labels in `path`, percent-decoded.
fn labels(template: &'static str, path: &str) -> Vec<(&'static str, String)> {
    let (template, _) = template.split_once('?').unwrap_or((template, ""));
    let mut out = Vec::new();
    let mut have = path.split('/');
    for want in template.split('/') {
        let Some(seg) = have.next() else { break };
        if let Some(name) = want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
            let greedy = name.ends_with('+');
            let name = name.trim_end_matches('+');
            let value = if greedy {
                std::iter::once(seg)
                    .chain(have.by_ref())
                    .collect::<Vec<_>>()
                    .join("/")
            } else {
                seg.to_string()
            };
            out.push((name, percent_decode(&value)));
        }
    }
    out
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| std::str::from_utf8(&bytes[i + 1..i + 3]).ok())
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(method: &str, path: &str, query: &str) -> LambdaTarget {
        let has = |_: &str| false;
        let op = ignis_protocol::match_rest(service(), method, path, query, &has).unwrap();
        target(op, path, query, "us-east-1")
    }

    #[test]
    fn function_operations_name_the_function_and_qualifier() {
        let t = ask("POST", "/2015-03-31/functions/b/invocations", "");
        assert_eq!(t.action, "lambda:InvokeFunction");
        assert_eq!(
            t.resource,
            "arn:aws:lambda:us-east-1:000000000000:function:b"
        );
        let t = ask(
            "POST",
            "/2015-03-31/functions/b/invocations",
            "Qualifier=live",
        );
        assert_eq!(
            t.resource,
            "arn:aws:lambda:us-east-1:000000000000:function:b:live"
        );
        assert_eq!(t.function, Some(("b".into(), Some("live".into()))));
        let arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Ab%3A3";
        let t = ask(
            "GET",
            &format!("/2015-03-31/functions/{arn}/configuration"),
            "",
        );
        assert_eq!(t.action, "lambda:GetFunctionConfiguration");
        assert_eq!(
            t.resource,
            "arn:aws:lambda:us-east-1:000000000000:function:b:3"
        );
    }

    #[test]
    fn list_operations_are_on_every_resource_and_layers_have_their_arn() {
        let t = ask("GET", "/2015-03-31/functions/", "");
        assert_eq!(
            (t.action.as_str(), t.resource.as_str()),
            ("lambda:ListFunctions", "*")
        );
        let t = ask("GET", "/2018-10-31/layers/deps/versions/2", "");
        assert_eq!(t.action, "lambda:GetLayerVersion");
        assert_eq!(
            t.resource,
            "arn:aws:lambda:us-east-1:000000000000:layer:deps:2"
        );
        let t = ask(
            "GET",
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:f",
            "",
        );
        assert_eq!(t.action, "lambda:ListTags");
        assert_eq!(
            t.resource,
            "arn:aws:lambda:us-east-1:000000000000:function:f"
        );
        assert_eq!(t.function, Some(("f".into(), None)));
    }

    #[test]
    fn event_source_mappings_are_named_by_their_arn() {
        let uuid = "6d9b4f5e-8a52-4c1b-9d0e-0f5d8a7e1c2b";
        for (method, action) in [
            ("GET", "lambda:GetEventSourceMapping"),
            ("PUT", "lambda:UpdateEventSourceMapping"),
            ("DELETE", "lambda:DeleteEventSourceMapping"),
        ] {
            let t = ask(
                method,
                &format!("/2015-03-31/event-source-mappings/{uuid}"),
                "",
            );
            assert_eq!(t.action, action);
            assert_eq!(
                t.resource,
                format!("arn:aws:lambda:us-east-1:000000000000:event-source-mapping:{uuid}")
            );
            assert_eq!(t.function, None);
        }
        let t = ask("POST", "/2015-03-31/event-source-mappings/", "");
        assert_eq!(
            (t.action.as_str(), t.resource.as_str()),
            ("lambda:CreateEventSourceMapping", "*")
        );
    }
}
