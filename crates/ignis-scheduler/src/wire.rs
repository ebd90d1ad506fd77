//! The REST bindings of Scheduler's model: a request's method, path, query
//! and body (plain strings and bytes) read into a [`SchedulerOp`].

use serde_json::Value;

use crate::error::{invalid, SchedulerError};

/// One API operation, as the request named it.
#[derive(Debug, Clone, PartialEq)]
pub enum SchedulerOp {
    /// `POST /schedules/{Name}`.
    CreateSchedule {
        /// The schedule's name.
        name: String,
        /// The JSON body.
        body: Value,
    },
    /// `GET /schedules/{Name}?groupName=`.
    GetSchedule {
        /// The schedule's name.
        name: String,
        /// The group (`default` if unset).
        group: Option<String>,
    },
    /// `PUT /schedules/{Name}`.
    UpdateSchedule {
        /// The schedule's name.
        name: String,
        /// The JSON body.
        body: Value,
    },
    /// `DELETE /schedules/{Name}?groupName=`.
    DeleteSchedule {
        /// The schedule's name.
        name: String,
        /// The group (`default` if unset).
        group: Option<String>,
    },
    /// `GET /schedules`.
    ListSchedules {
        /// `ScheduleGroup`.
        group: Option<String>,
        /// `NamePrefix`.
        name_prefix: Option<String>,
        /// `State`.
        state: Option<String>,
        /// `NextToken`.
        next_token: Option<String>,
        /// `MaxResults`.
        max_results: Option<String>,
    },
    /// `POST /schedule-groups/{Name}`.
    CreateScheduleGroup {
        /// The group's name.
        name: String,
        /// The JSON body.
        body: Value,
    },
    /// `GET /schedule-groups/{Name}`.
    GetScheduleGroup {
        /// The group's name.
        name: String,
    },
    /// `DELETE /schedule-groups/{Name}`.
    DeleteScheduleGroup {
        /// The group's name.
        name: String,
    },
    /// `GET /schedule-groups`.
    ListScheduleGroups {
        /// `NamePrefix`.
        name_prefix: Option<String>,
        /// `NextToken`.
        next_token: Option<String>,
        /// `MaxResults`.
        max_results: Option<String>,
    },
    /// `POST /tags/{ResourceArn}`.
    TagResource {
        /// The group's ARN.
        arn: String,
        /// The JSON body.
        body: Value,
    },
    /// `DELETE /tags/{ResourceArn}?TagKeys=…`.
    UntagResource {
        /// The group's ARN.
        arn: String,
        /// The keys.
        keys: Vec<String>,
    },
    /// `GET /tags/{ResourceArn}`.
    ListTagsForResource {
        /// The group's ARN.
        arn: String,
    },
}

impl SchedulerOp {
    /// Reads a request; `Ok(None)`: no operation of Scheduler's has this
    /// method and path.
    pub fn parse(
        method: &str,
        path: &str,
        query: &str,
        body: &[u8],
    ) -> Result<Option<Self>, SchedulerError> {
        let params = parse_query(query);
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let json = || -> Result<Value, SchedulerError> {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Object(Default::default()));
            }
            serde_json::from_slice::<Value>(body)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| invalid("The request body is not a JSON object."))
        };
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
        let op = match (method, &segs[..]) {
            ("POST", ["schedules", name]) if !name.is_empty() => Self::CreateSchedule {
                name: name.to_string(),
                body: json()?,
            },
            ("GET", ["schedules", name]) if !name.is_empty() => Self::GetSchedule {
                name: name.to_string(),
                group: param("groupName"),
            },
            ("PUT", ["schedules", name]) if !name.is_empty() => Self::UpdateSchedule {
                name: name.to_string(),
                body: json()?,
            },
            ("DELETE", ["schedules", name]) if !name.is_empty() => Self::DeleteSchedule {
                name: name.to_string(),
                group: param("groupName"),
            },
            ("GET", ["schedules"] | ["schedules", ""]) => Self::ListSchedules {
                group: param("ScheduleGroup"),
                name_prefix: param("NamePrefix"),
                state: param("State"),
                next_token: param("NextToken"),
                max_results: param("MaxResults"),
            },
            ("POST", ["schedule-groups", name]) if !name.is_empty() => Self::CreateScheduleGroup {
                name: name.to_string(),
                body: json()?,
            },
            ("GET", ["schedule-groups", name]) if !name.is_empty() => Self::GetScheduleGroup {
                name: name.to_string(),
            },
            ("DELETE", ["schedule-groups", name]) if !name.is_empty() => {
                Self::DeleteScheduleGroup {
                    name: name.to_string(),
                }
            }
            ("GET", ["schedule-groups"] | ["schedule-groups", ""]) => Self::ListScheduleGroups {
                name_prefix: param("NamePrefix"),
                next_token: param("NextToken"),
                max_results: param("MaxResults"),
            },
            // An ARN has slashes; a client may leave them unencoded.
            ("POST", ["tags", rest @ ..]) if !rest.is_empty() => Self::TagResource {
                arn: rest.join("/"),
                body: json()?,
            },
            ("DELETE", ["tags", rest @ ..]) if !rest.is_empty() => Self::UntagResource {
                arn: rest.join("/"),
                keys: params
                    .iter()
                    .filter(|(k, _)| k == "TagKeys")
                    .map(|(_, v)| v.clone())
                    .collect(),
            },
            ("GET", ["tags", rest @ ..]) if !rest.is_empty() => Self::ListTagsForResource {
                arn: rest.join("/"),
            },
            _ => return Ok(None),
        };
        Ok(Some(op))
    }

    /// The operation's name (`CreateSchedule`, …), for IAM's action.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateSchedule { .. } => "CreateSchedule",
            Self::GetSchedule { .. } => "GetSchedule",
            Self::UpdateSchedule { .. } => "UpdateSchedule",
            Self::DeleteSchedule { .. } => "DeleteSchedule",
            Self::ListSchedules { .. } => "ListSchedules",
            Self::CreateScheduleGroup { .. } => "CreateScheduleGroup",
            Self::GetScheduleGroup { .. } => "GetScheduleGroup",
            Self::DeleteScheduleGroup { .. } => "DeleteScheduleGroup",
            Self::ListScheduleGroups { .. } => "ListScheduleGroups",
            Self::TagResource { .. } => "TagResource",
            Self::UntagResource { .. } => "UntagResource",
            Self::ListTagsForResource { .. } => "ListTagsForResource",
        }
    }

    /// The ARN the operation acts on, for authorization: a schedule's,
    /// a group's, or (listing) every schedule's.
    pub fn resource(&self, region: &str, account: &str) -> String {
        let base = format!("arn:aws:scheduler:{region}:{account}");
        let group_of = |body: &Value| {
            body.get("GroupName")
                .and_then(Value::as_str)
                .unwrap_or("default")
                .to_owned()
        };
        match self {
            Self::CreateSchedule { name, body } | Self::UpdateSchedule { name, body } => {
                format!("{base}:schedule/{}/{name}", group_of(body))
            }
            Self::GetSchedule { name, group } | Self::DeleteSchedule { name, group } => {
                format!(
                    "{base}:schedule/{}/{name}",
                    group.as_deref().unwrap_or("default")
                )
            }
            Self::ListSchedules { .. } => format!("{base}:schedule/*"),
            Self::CreateScheduleGroup { name, .. }
            | Self::GetScheduleGroup { name }
            | Self::DeleteScheduleGroup { name } => format!("{base}:schedule-group/{name}"),
            Self::ListScheduleGroups { .. } => format!("{base}:schedule-group/*"),
            Self::TagResource { arn, .. }
            | Self::UntagResource { arn, .. }
            | Self::ListTagsForResource { arn } => arn.clone(),
        }
    }
}

/// `a=b&c=d`, percent-decoded, in order.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bindings() {
        let op = SchedulerOp::parse("GET", "/schedules/a.b", "groupName=g1", b"")
            .unwrap()
            .unwrap();
        assert_eq!(
            op,
            SchedulerOp::GetSchedule {
                name: "a.b".into(),
                group: Some("g1".into())
            }
        );
        let arn = "arn%3Aaws%3Ascheduler%3Aus-east-1%3A000000000000%3Aschedule-group%2Fg";
        let op = SchedulerOp::parse(
            "DELETE",
            &format!("/tags/{arn}"),
            "TagKeys=a&TagKeys=b%20c",
            b"",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            op,
            SchedulerOp::UntagResource {
                arn: "arn:aws:scheduler:us-east-1:000000000000:schedule-group/g".into(),
                keys: vec!["a".into(), "b c".into()]
            }
        );
        assert!(SchedulerOp::parse("PATCH", "/schedules/x", "", b"")
            .unwrap()
            .is_none());
        assert!(SchedulerOp::parse("POST", "/schedules/x", "", b"[1]").is_err());
    }
}
