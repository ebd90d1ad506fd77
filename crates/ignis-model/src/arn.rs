//! Function names and ARNs: Ignis answers for one account in one region, and
//! accepts a function as a name, a partial ARN or a full ARN, as Lambda does.

use crate::error::{ErrorKind, LambdaError};

/// The account id Ignis reports in ARNs.
pub const ACCOUNT_ID: &str = "000000000000";
/// The region Ignis reports when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// A function reference parsed from a path parameter: its name and the
/// qualifier, if the reference carried one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    /// The bare function name.
    pub name: String,
    /// `$LATEST`, a version number or an alias, if given in the reference.
    pub qualifier: Option<String>,
}

/// The ARN of function `name` in `region`.
pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}")
}

/// Whether `name` is a valid bare function name (1–64 of `[a-zA-Z0-9-_]`).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_valid_qualifier(q: &str) -> bool {
    q == "$LATEST"
        || (!q.is_empty()
            && q.len() <= 128
            && q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Parses `hello`, `hello:1`, `000000000000:function:hello`,
/// `arn:aws:lambda:us-east-1:000000000000:function:hello[:qualifier]`.
pub fn parse_function_ref(input: &str) -> Result<FunctionRef, LambdaError> {
    let bad = || {
        LambdaError::new(ErrorKind::Validation, format!(
            "1 validation error detected: Value '{input}' at 'functionName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: \
             (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        ))
    };
    if input.is_empty() || input.len() > 170 {
        return Err(bad());
    }
    let parts: Vec<&str> = input.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [account, "function", name] if is_account(account) => (*name, None),
        [account, "function", name, q] if is_account(account) => (*name, Some(*q)),
        ["arn", partition, "lambda", region, account, "function", name]
            if partition.starts_with("aws") && !region.is_empty() && is_account(account) =>
        {
            (*name, None)
        }
        ["arn", partition, "lambda", region, account, "function", name, q]
            if partition.starts_with("aws") && !region.is_empty() && is_account(account) =>
        {
            (*name, Some(*q))
        }
        _ => return Err(bad()),
    };
    if !is_valid_name(name) || qualifier.is_some_and(|q| !is_valid_qualifier(q)) {
        return Err(bad());
    }
    Ok(FunctionRef {
        name: name.to_string(),
        qualifier: qualifier.map(str::to_string),
    })
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let r = parse_function_ref("hello").unwrap();
        assert_eq!((r.name.as_str(), r.qualifier), ("hello", None));
        let r = parse_function_ref("hello:$LATEST").unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        let r = parse_function_ref("000000000000:function:hello").unwrap();
        assert_eq!(r.name, "hello");
        let r =
            parse_function_ref("arn:aws:lambda:us-east-1:000000000000:function:hello:7").unwrap();
        assert_eq!(
            (r.name.as_str(), r.qualifier.as_deref()),
            ("hello", Some("7"))
        );
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "a b",
            "../x",
            "x:y:z",
            "arn:aws:s3:::bucket",
            &"a".repeat(65),
        ] {
            assert!(parse_function_ref(bad).is_err(), "{bad}");
        }
    }
}
