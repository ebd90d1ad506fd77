//! Names and ARNs of buses and rules.

/// The default bus's name.
pub const DEFAULT_BUS: &str = "default";

/// The bus a request names (a name or an ARN), `default` if none.
pub fn bus_name(given: Option<&str>) -> String {
    match given {
        None | Some("") => DEFAULT_BUS.to_string(),
        Some(g) => match g.strip_prefix("arn:") {
            Some(_) => g
                .split_once(":event-bus/")
                .map_or(g, |(_, name)| name)
                .to_string(),
            None => g.to_string(),
        },
    }
}

/// A bus's ARN.
pub fn bus_arn(region: &str, account: &str, bus: &str) -> String {
    format!("arn:aws:events:{region}:{account}:event-bus/{bus}")
}

/// A rule's ARN: `rule/<name>` on the default bus, else
/// `rule/<bus>/<name>`.
pub fn rule_arn(region: &str, account: &str, bus: &str, name: &str) -> String {
    if bus == DEFAULT_BUS {
        format!("arn:aws:events:{region}:{account}:rule/{name}")
    } else {
        format!("arn:aws:events:{region}:{account}:rule/{bus}/{name}")
    }
}

/// What an events ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A bus, by name.
    Bus(String),
    /// A rule: bus and name.
    Rule(String, String),
}

/// Reads an events ARN.
pub fn resource_of(arn: &str) -> Option<Resource> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    if parts.next()? != "events" {
        return None;
    }
    let (_region, _account) = (parts.next()?, parts.next()?);
    let rest = parts.next()?;
    if let Some(bus) = rest.strip_prefix("event-bus/") {
        return (!bus.is_empty()).then(|| Resource::Bus(bus.to_string()));
    }
    let rule = rest.strip_prefix("rule/")?;
    Some(match rule.rsplit_once('/') {
        Some((bus, name)) => Resource::Rule(bus.to_string(), name.to_string()),
        None => Resource::Rule(DEFAULT_BUS.to_string(), rule.to_string()),
    })
}

/// Whether `name` fits the model's pattern for a rule or target id
/// (`[\.\-_A-Za-z0-9]+`, 1 to 64 characters).
pub fn valid_rule_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Whether `name` fits a custom bus's name (`[/\.\-_A-Za-z0-9]+`, 1 to
/// 256 characters; `/` only in partner buses, which Ignis does not make).
pub fn valid_bus_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert_eq!(bus_name(None), "default");
        assert_eq!(
            bus_name(Some(
                "arn:aws:events:us-east-1:000000000000:event-bus/orders"
            )),
            "orders"
        );
        assert_eq!(
            rule_arn("r", "1", "default", "x"),
            "arn:aws:events:r:1:rule/x"
        );
        assert_eq!(
            resource_of("arn:aws:events:r:1:rule/orders/x"),
            Some(Resource::Rule("orders".into(), "x".into()))
        );
        assert_eq!(
            resource_of("arn:aws:events:r:1:rule/x"),
            Some(Resource::Rule("default".into(), "x".into()))
        );
        assert_eq!(
            resource_of("arn:aws:events:r:1:event-bus/b"),
            Some(Resource::Bus("b".into()))
        );
        assert_eq!(resource_of("arn:aws:sqs:r:1:q"), None);
        assert!(valid_rule_name("a.b-c_1"));
        assert!(!valid_rule_name("a b"));
    }
}
