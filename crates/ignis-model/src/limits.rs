//! Lambda's limits, enforced with Lambda's error types and messages that name
//! the limit. Every check the management and Invoke APIs make lives here.

use std::collections::BTreeMap;

use crate::error::{ErrorKind, LambdaError};

/// Smallest MemorySize, MB.
pub const MEMORY_MIN_MB: u32 = 128;
/// Largest MemorySize, MB.
pub const MEMORY_MAX_MB: u32 = 10_240;
/// Default MemorySize, MB.
pub const MEMORY_DEFAULT_MB: u32 = 128;
/// Shortest Timeout, seconds.
pub const TIMEOUT_MIN_S: u32 = 1;
/// Longest Timeout, seconds.
pub const TIMEOUT_MAX_S: u32 = 900;
/// Default Timeout, seconds.
pub const TIMEOUT_DEFAULT_S: u32 = 3;
/// Smallest `/tmp`, MB.
pub const EPHEMERAL_MIN_MB: u32 = 512;
/// Largest `/tmp`, MB.
pub const EPHEMERAL_MAX_MB: u32 = 10_240;
/// Largest synchronous request payload, bytes (6 MB).
pub const SYNC_PAYLOAD_MAX: usize = 6 * 1024 * 1024;
/// Largest response a runtime may post, bytes: Lambda allows 100 bytes
/// more than 6 MB, and names this number when it refuses one.
pub const RESPONSE_PAYLOAD_MAX: usize = 6_291_556;
/// Largest asynchronous (Event) request payload, bytes (1 MB).
pub const ASYNC_PAYLOAD_MAX: usize = 1024 * 1024;
/// Largest zip uploaded directly, bytes (50 MB).
pub const ZIP_MAX: usize = 50 * 1024 * 1024;
/// Largest unpacked code, bytes (250 MB).
pub const UNZIPPED_MAX: u64 = 250 * 1024 * 1024;
/// Largest environment, bytes of its JSON form (4 KB).
pub const ENV_VARS_MAX: usize = 4 * 1024;
/// Longest Description, characters.
pub const DESCRIPTION_MAX: usize = 256;
/// Longest Handler, characters.
pub const HANDLER_MAX: usize = 128;
/// Time a runtime has to reach its first `/next`, seconds.
pub const INIT_TIMEOUT_S: u64 = 10;
/// Account-wide concurrency Ignis reports.
pub const CONCURRENT_EXECUTIONS: u32 = 1000;

/// Environment variable names Lambda reserves for itself.
pub const RESERVED_ENV_KEYS: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn below_min(field: &str, value: i64, min: i64) -> LambdaError {
    LambdaError::new(
        ErrorKind::Validation,
        format!(
            "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: \
             Member must have value greater than or equal to {min}"
        ),
    )
}

fn above_max(field: &str, value: i64, max: i64) -> LambdaError {
    LambdaError::invalid(format!(
        "'{field}' value failed to satisfy constraint: Member must have value less than or equal to {max}"
    ))
    .with_value(field, value)
}

impl LambdaError {
    fn with_value(mut self, field: &str, value: i64) -> Self {
        self.message = format!("{} (got {value} for {field})", self.message);
        self
    }
}

/// Checks Timeout (1–900 s).
pub fn check_timeout(timeout: i64) -> Result<u32, LambdaError> {
    if timeout < TIMEOUT_MIN_S as i64 {
        return Err(below_min("timeout", timeout, TIMEOUT_MIN_S as i64));
    }
    if timeout > TIMEOUT_MAX_S as i64 {
        return Err(above_max("Timeout", timeout, TIMEOUT_MAX_S as i64));
    }
    Ok(timeout as u32)
}

/// Checks MemorySize (128–10,240 MB).
pub fn check_memory(mb: i64) -> Result<u32, LambdaError> {
    if mb < MEMORY_MIN_MB as i64 {
        return Err(below_min("memorySize", mb, MEMORY_MIN_MB as i64));
    }
    if mb > MEMORY_MAX_MB as i64 {
        return Err(above_max("MemorySize", mb, MEMORY_MAX_MB as i64));
    }
    Ok(mb as u32)
}

/// Checks EphemeralStorage.Size (512–10,240 MB).
pub fn check_ephemeral(mb: i64) -> Result<u32, LambdaError> {
    if mb < EPHEMERAL_MIN_MB as i64 {
        return Err(below_min(
            "ephemeralStorage.size",
            mb,
            EPHEMERAL_MIN_MB as i64,
        ));
    }
    if mb > EPHEMERAL_MAX_MB as i64 {
        return Err(above_max(
            "EphemeralStorage.Size",
            mb,
            EPHEMERAL_MAX_MB as i64,
        ));
    }
    Ok(mb as u32)
}

/// Checks Description (at most 256 characters).
pub fn check_description(d: &str) -> Result<(), LambdaError> {
    if d.chars().count() > DESCRIPTION_MAX {
        return Err(LambdaError::new(
            ErrorKind::Validation,
            format!(
                "1 validation error detected: Value at 'description' failed to satisfy constraint: \
                 Member must have length less than or equal to {DESCRIPTION_MAX}"
            ),
        ));
    }
    Ok(())
}

/// Checks Handler (at most 128 characters, no whitespace).
pub fn check_handler(h: &str) -> Result<(), LambdaError> {
    if h.len() > HANDLER_MAX || h.chars().any(char::is_whitespace) {
        return Err(LambdaError::new(
            ErrorKind::Validation,
            format!(
                "1 validation error detected: Value '{h}' at 'handler' failed to satisfy constraint: \
                 Member must have length less than or equal to {HANDLER_MAX} and satisfy regular expression pattern: [^\\s]+"
            ),
        ));
    }
    Ok(())
}

/// Checks Role is an IAM role ARN.
pub fn check_role(role: &str) -> Result<(), LambdaError> {
    let ok = role
        .strip_prefix("arn:")
        .and_then(|r| r.split_once(":iam::"))
        .and_then(|(partition, rest)| partition.starts_with("aws").then_some(rest))
        .and_then(|rest| rest.split_once(":role/"))
        .is_some_and(|(account, name)| {
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty()
        });
    if ok {
        Ok(())
    } else {
        Err(LambdaError::new(
            ErrorKind::Validation,
            format!(
                "1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{{12}}:role/?[a-zA-Z_0-9+=,.@\\-_/]+"
            ),
        ))
    }
}

/// Checks LoggingConfig's enumerations (`LogFormat`, `ApplicationLogLevel`,
/// `SystemLogLevel`), as botocore's model lists them.
pub fn check_logging(config: &crate::wire::LoggingConfig) -> Result<(), LambdaError> {
    let fields: [(&str, &Option<String>, &[&str]); 3] = [
        (
            "loggingConfig.logFormat",
            &config.log_format,
            &["JSON", "Text"],
        ),
        (
            "loggingConfig.applicationLogLevel",
            &config.application_log_level,
            &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"],
        ),
        (
            "loggingConfig.systemLogLevel",
            &config.system_log_level,
            &["DEBUG", "INFO", "WARN"],
        ),
    ];
    for (field, value, allowed) in fields {
        if let Some(v) = value.as_deref().filter(|v| !allowed.contains(v)) {
            return Err(LambdaError::new(
                ErrorKind::Validation,
                format!(
                    "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: \
                     Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// Checks Architectures (exactly one of `x86_64`, `arm64`).
pub fn check_architectures(archs: &[String]) -> Result<(), LambdaError> {
    if archs.len() != 1 || !matches!(archs[0].as_str(), "x86_64" | "arm64") {
        return Err(LambdaError::invalid(format!(
            "Architectures must hold exactly one of [x86_64, arm64]; got {archs:?}"
        )));
    }
    Ok(())
}

/// Checks environment variables: names, reserved keys and the 4 KB limit.
pub fn check_environment(vars: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV_KEYS.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(LambdaError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(",")
        )));
    }
    if let Some(bad) = vars.keys().find(|k| !is_env_name(k)) {
        return Err(LambdaError::new(
            ErrorKind::Validation,
            format!(
                "1 validation error detected: Value '{bad}' at 'environment.variables' failed to satisfy constraint: \
                 Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
            ),
        ));
    }
    let size = serde_json::to_string(vars)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if size > ENV_VARS_MAX {
        return Err(LambdaError::invalid(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {size} bytes"
        )));
    }
    Ok(())
}

fn is_env_name(k: &str) -> bool {
    let mut bytes = k.bytes();
    k.len() >= 2
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Tags one function may carry.
pub const TAGS_MAX: usize = 50;
/// Characters of a tag key.
pub const TAG_KEY_MAX: usize = 128;
/// Characters of a tag value.
pub const TAG_VALUE_MAX: usize = 256;

/// Checks a function's tags as Lambda does: keys of 1–128 and values of
/// 0–256 letters, digits, spaces and `_.:/=+-@` (botocore's `TagKey` /
/// `TagValue`), no key in the reserved `aws:` prefix, at most 50.
pub fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    let constraint = |what: &str, value: &str, max: usize| {
        LambdaError::new(
            ErrorKind::Validation,
            format!(
                "1 validation error detected: Value '{value}' at '{what}' failed to satisfy constraint: \
                 Member must have length between {} and {max}, and satisfy regular expression pattern: \
                 [\\p{{L}}\\p{{Z}}\\p{{N}}_.:/=+\\-@]*",
                usize::from(what == "tags.key")
            ),
        )
    };
    for (key, value) in tags {
        let key_len = key.chars().count();
        if key_len == 0 || key_len > TAG_KEY_MAX || !key.chars().all(is_tag_char) {
            return Err(constraint("tags.key", key, TAG_KEY_MAX));
        }
        if value.chars().count() > TAG_VALUE_MAX || !value.chars().all(is_tag_char) {
            return Err(constraint("tags.value", value, TAG_VALUE_MAX));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(LambdaError::invalid(format!(
                "Tag keys starting with 'aws:' are reserved for AWS use: {key}"
            )));
        }
    }
    if tags.len() > TAGS_MAX {
        return Err(LambdaError::invalid(format!(
            "A function can have at most {TAGS_MAX} tags; this request leaves it with {}.",
            tags.len()
        )));
    }
    Ok(())
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: a letter, a separator, a number or one of
/// the listed signs.
fn is_tag_char(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || "_.:/=+-@".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_limits_name_the_limit() {
        assert_eq!(check_timeout(900), Ok(900));
        let e = check_timeout(901).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
        assert!(e.message.contains("900"), "{}", e.message);
        assert_eq!(check_timeout(0).unwrap_err().kind, ErrorKind::Validation);
        assert!(check_memory(64).unwrap_err().message.contains("128"));
        assert!(check_memory(10_241).unwrap_err().message.contains("10240"));
        assert_eq!(check_ephemeral(512), Ok(512));
        assert!(check_ephemeral(10_241).is_err());
    }

    #[test]
    fn environment_rules() {
        let mut vars = BTreeMap::new();
        vars.insert("GREETING".to_string(), "hi".to_string());
        assert!(check_environment(&vars).is_ok());
        vars.insert("AWS_REGION".to_string(), "x".to_string());
        assert!(check_environment(&vars)
            .unwrap_err()
            .message
            .contains("AWS_REGION"));
        vars.remove("AWS_REGION");
        vars.insert("BIG".to_string(), "x".repeat(5000));
        assert!(check_environment(&vars)
            .unwrap_err()
            .message
            .contains("4KB"));
        let mut bad = BTreeMap::new();
        bad.insert("1X".to_string(), String::new());
        assert_eq!(
            check_environment(&bad).unwrap_err().kind,
            ErrorKind::Validation
        );
    }

    #[test]
    fn role_and_arch() {
        assert!(check_role("arn:aws:iam::000000000000:role/x").is_ok());
        assert!(check_role("role/x").is_err());
        assert!(check_architectures(&["arm64".to_string()]).is_ok());
        assert!(check_architectures(&["mips".to_string()]).is_err());
        assert!(check_architectures(&[]).is_err());
    }

    #[test]
    fn tags_follow_the_model() {
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_tags(&tags(&[("team", "a b"), ("k:/=+-@_.", ""), ("Ünï", "ç 1")])).is_ok());
        for bad in [
            tags(&[("", "v")]),
            tags(&[(&"k".repeat(129), "v")]),
            tags(&[("k", &"v".repeat(257))]),
            tags(&[("k\0", "v")]),
            tags(&[("k", "a\tb")]),
            tags(&[("k#", "v")]),
        ] {
            let e = check_tags(&bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Validation, "{bad:?}");
        }
        let e = check_tags(&tags(&[("aws:x", "v")])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidParameterValue);
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(
            check_tags(&many).unwrap_err().kind,
            ErrorKind::InvalidParameterValue
        );
        let fifty: BTreeMap<String, String> = many.into_iter().take(50).collect();
        assert!(check_tags(&fifty).is_ok());
    }
}
