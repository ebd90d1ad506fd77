//! An [`SqsOp`] run on the engine: what each operation of the API does
//! with [`Sqs`]'s methods, queue URLs made for the caller's endpoint, and
//! the operations the engine has no method of its own for (attribute
//! selection, `AddPermission` and `RemovePermission` as statements of the
//! queue's `Policy`).

use std::collections::BTreeMap;

use ignis_model::arn::ACCOUNT_ID;
use serde_json::{json, Value};

use crate::engine::Sqs;
use crate::error::SqsError;
use crate::model::{Delivered, EntryError};
use crate::op::{invalid_value, Selection, SqsOp, SqsOutput};

/// Who asks, and where they reached Ignis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The `SenderId` of messages they send: the account id for the root
    /// user, else the principal's unique id.
    pub sender_id: String,
    /// The `Host` the request was sent to (`localhost:9000`): queue URLs
    /// are made on it, so clients reach the same endpoint.
    pub host: String,
}

impl Origin {
    /// The URL of the queue `name`: `http://<host>/000000000000/<name>`.
    pub fn queue_url(&self, name: &str) -> String {
        format!("http://{}/{ACCOUNT_ID}/{name}", self.host)
    }
}

impl Sqs {
    /// Runs `op` for `origin`.
    pub async fn execute(&self, op: SqsOp, origin: &Origin) -> Result<SqsOutput, SqsError> {
        Ok(match op {
            SqsOp::CreateQueue {
                name,
                attributes,
                tags,
            } => {
                let q = self.create_queue(&name, attributes, tags).await?;
                SqsOutput::QueueUrl(origin.queue_url(&q.name))
            }
            SqsOp::GetQueueUrl { name } => {
                let q = self.queue(&name).await?;
                SqsOutput::QueueUrl(origin.queue_url(&q.name))
            }
            SqsOp::ListQueues {
                prefix,
                max,
                next_token,
            } => {
                let (names, next) = self
                    .list_queues(prefix.as_deref(), max, next_token.as_deref())
                    .await?;
                SqsOutput::QueueUrls(names.iter().map(|n| origin.queue_url(n)).collect(), next)
            }
            SqsOp::GetQueueAttributes { queue, names } => {
                SqsOutput::Attributes(self.selected_attributes(&queue, &names).await?)
            }
            SqsOp::SetQueueAttributes { queue, attributes } => {
                self.set_attributes(&queue, attributes).await?;
                SqsOutput::Empty
            }
            SqsOp::DeleteQueue { queue } => {
                self.delete_queue(&queue).await?;
                SqsOutput::Empty
            }
            SqsOp::PurgeQueue { queue } => {
                self.purge_queue(&queue).await?;
                SqsOutput::Empty
            }
            SqsOp::SendMessage { queue, mut message } => {
                message.sender_id = origin.sender_id.clone();
                let mut sent = self.send(&queue, vec![message]).await?;
                match sent.pop() {
                    Some(Ok(s)) => SqsOutput::Sent(s),
                    Some(Err(e)) => return Err(entry_error(e)),
                    None => return Err(SqsError::internal("the send answered no entry")),
                }
            }
            SqsOp::SendMessageBatch { queue, entries } => {
                let (ids, messages): (Vec<_>, Vec<_>) = entries
                    .into_iter()
                    .map(|(id, mut m)| {
                        m.sender_id = origin.sender_id.clone();
                        (id, m)
                    })
                    .unzip();
                let sent = self.send(&queue, messages).await?;
                SqsOutput::SentBatch(ids.into_iter().zip(sent).collect())
            }
            SqsOp::ReceiveMessage {
                queue,
                receive,
                selection,
            } => {
                let messages = self.receive(&queue, receive).await?;
                SqsOutput::Received(
                    messages
                        .into_iter()
                        .map(|m| select(m, &selection))
                        .collect(),
                )
            }
            SqsOp::DeleteMessage {
                queue,
                receipt_handle,
            } => {
                let mut done = self.delete(&queue, &[receipt_handle]).await?;
                match done.pop() {
                    Some(Ok(())) => SqsOutput::Empty,
                    Some(Err(e)) => return Err(entry_error(e)),
                    None => return Err(SqsError::internal("the delete answered no entry")),
                }
            }
            SqsOp::DeleteMessageBatch { queue, entries } => {
                let (ids, handles): (Vec<_>, Vec<_>) = entries.into_iter().unzip();
                let done = self.delete(&queue, &handles).await?;
                SqsOutput::Batch(ids.into_iter().zip(done).collect())
            }
            SqsOp::ChangeMessageVisibility {
                queue,
                receipt_handle,
                visibility_timeout,
            } => {
                let mut done = self
                    .change_visibility(&queue, &[(receipt_handle, visibility_timeout)])
                    .await?;
                match done.pop() {
                    Some(Ok(())) => SqsOutput::Empty,
                    Some(Err(e)) => return Err(entry_error(e)),
                    None => return Err(SqsError::internal("the change answered no entry")),
                }
            }
            SqsOp::ChangeMessageVisibilityBatch { queue, entries } => {
                let mut ids = Vec::with_capacity(entries.len());
                let mut changes = Vec::with_capacity(entries.len());
                let mut refused = BTreeMap::new();
                for (id, handle, timeout) in entries {
                    if timeout > 43_200 {
                        let e = invalid_value(
                            "VisibilityTimeout",
                            timeout,
                            "Must be >= 0 and <= 43200, if provided.",
                        );
                        refused.insert(id.clone(), e);
                    } else {
                        changes.push((handle, timeout));
                    }
                    ids.push(id);
                }
                let mut done = self.change_visibility(&queue, &changes).await?.into_iter();
                let results = ids
                    .into_iter()
                    .map(|id| {
                        let r = match refused.remove(&id) {
                            Some(e) => Err(EntryError {
                                code: e.code.to_string(),
                                message: e.message,
                                sender_fault: true,
                            }),
                            None => done.next().unwrap_or_else(|| {
                                Err(EntryError {
                                    code: "InternalError".into(),
                                    message: "the change answered no entry".into(),
                                    sender_fault: false,
                                })
                            }),
                        };
                        (id, r)
                    })
                    .collect();
                SqsOutput::Batch(results)
            }
            SqsOp::TagQueue { queue, tags } => {
                self.tag_queue(&queue, tags).await?;
                SqsOutput::Empty
            }
            SqsOp::UntagQueue { queue, keys } => {
                self.untag_queue(&queue, &keys).await?;
                SqsOutput::Empty
            }
            SqsOp::ListQueueTags { queue } => SqsOutput::Tags(self.queue(&queue).await?.tags),
            SqsOp::AddPermission {
                queue,
                label,
                accounts,
                actions,
            } => {
                self.add_permission(&queue, &label, &accounts, &actions)
                    .await?;
                SqsOutput::Empty
            }
            SqsOp::RemovePermission { queue, label } => {
                self.remove_permission(&queue, &label).await?;
                SqsOutput::Empty
            }
            SqsOp::ListDeadLetterSourceQueues {
                queue,
                max,
                next_token,
            } => {
                self.queue(&queue).await?;
                let names = self.dead_letter_sources(&queue).await?;
                let (page, next) = page(names, max, next_token.as_deref())?;
                SqsOutput::DeadLetterSources(
                    page.iter().map(|n| origin.queue_url(n)).collect(),
                    next,
                )
            }
            SqsOp::StartMessageMoveTask {
                source_arn,
                destination_arn,
                max_per_second,
            } => SqsOutput::TaskHandle(
                self.start_move_task(&source_arn, destination_arn.as_deref(), max_per_second)
                    .await?,
            ),
            SqsOp::ListMessageMoveTasks { source_arn, max } => {
                SqsOutput::MoveTasks(self.list_move_tasks(&source_arn, max.unwrap_or(1)).await?)
            }
            SqsOp::CancelMessageMoveTask { handle } => {
                SqsOutput::Moved(self.cancel_move_task(&handle).await?)
            }
        })
    }

    /// The attributes `names` asks for (`All`: every one), the computed
    /// ones among them.
    async fn selected_attributes(
        &self,
        queue: &str,
        names: &[String],
    ) -> Result<BTreeMap<String, String>, SqsError> {
        let q = self.queue(queue).await?;
        let all = names.iter().any(|n| n == "All");
        let wants = |name: &str| all || names.iter().any(|n| n == name);
        let mut out: BTreeMap<String, String> =
            q.attributes.into_iter().filter(|(k, _)| wants(k)).collect();
        let counted = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ];
        if counted.iter().any(|n| wants(n)) {
            let counts = self.counts(queue).await?;
            for (name, n) in counted
                .iter()
                .zip([counts.visible, counts.in_flight, counts.delayed])
            {
                if wants(name) {
                    out.insert((*name).to_string(), n.to_string());
                }
            }
        }
        if wants("CreatedTimestamp") {
            out.insert("CreatedTimestamp".into(), q.created.to_string());
        }
        if wants("LastModifiedTimestamp") {
            out.insert("LastModifiedTimestamp".into(), q.last_modified.to_string());
        }
        if wants("QueueArn") {
            out.insert("QueueArn".into(), q.arn);
        }
        Ok(out)
    }

    /// `AddPermission`: a statement `label` allowing `accounts` the
    /// `actions` on the queue, added to its policy (made if there is none).
    async fn add_permission(
        &self,
        queue: &str,
        label: &str,
        accounts: &[String],
        actions: &[String],
    ) -> Result<(), SqsError> {
        let q = self.queue(queue).await?;
        let mut policy = match q.attributes.get("Policy").filter(|p| !p.is_empty()) {
            Some(text) => serde_json::from_str::<Value>(text)
                .map_err(|e| SqsError::internal(format!("the queue's policy is not JSON: {e}")))?,
            None => json!({
                "Version": "2012-10-17",
                "Id": format!("{}/SQSDefaultPolicy", q.arn),
                "Statement": [],
            }),
        };
        let statements = statements(&mut policy)?;
        if statements.iter().any(|s| s["Sid"] == label) {
            return Err(invalid_value("Label", label, "Already exists."));
        }
        let principals: Vec<String> = accounts
            .iter()
            .map(|a| format!("arn:aws:iam::{a}:root"))
            .collect();
        let principal = match principals.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        let actions: Vec<String> = actions.iter().map(|a| format!("SQS:{a}")).collect();
        let action = match actions.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        statements.push(json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": { "AWS": principal },
            "Action": action,
            "Resource": q.arn,
        }));
        self.set_policy(queue, &policy).await
    }

    /// `RemovePermission`: the statement `label` taken out of the policy
    /// (the policy removed when it was the last).
    async fn remove_permission(&self, queue: &str, label: &str) -> Result<(), SqsError> {
        let q = self.queue(queue).await?;
        let missing = || invalid_value("Label", label, "can't find label on existing policy.");
        let text = q
            .attributes
            .get("Policy")
            .filter(|p| !p.is_empty())
            .ok_or_else(missing)?;
        let mut policy: Value = serde_json::from_str(text)
            .map_err(|e| SqsError::internal(format!("the queue's policy is not JSON: {e}")))?;
        let statements = statements(&mut policy)?;
        let before = statements.len();
        statements.retain(|s| s["Sid"] != label);
        if statements.len() == before {
            return Err(missing());
        }
        if statements.is_empty() {
            let attrs = BTreeMap::from([("Policy".to_string(), String::new())]);
            return self.set_attributes(queue, attrs).await;
        }
        self.set_policy(queue, &policy).await
    }

    async fn set_policy(&self, queue: &str, policy: &Value) -> Result<(), SqsError> {
        let attrs = BTreeMap::from([("Policy".to_string(), policy.to_string())]);
        self.set_attributes(queue, attrs).await
    }
}

/// A policy's statements as a list (a single statement object becomes one).
fn statements(policy: &mut Value) -> Result<&mut Vec<Value>, SqsError> {
    let slot = policy
        .as_object_mut()
        .ok_or_else(|| SqsError::internal("the queue's policy is not an object"))?
        .entry("Statement")
        .or_insert_with(|| json!([]));
    if !slot.is_array() {
        let one = slot.take();
        *slot = json!([one]);
    }
    slot.as_array_mut()
        .ok_or_else(|| SqsError::internal("the queue's policy has no statement list"))
}

/// A page of names after `token` (the last name of the previous page).
fn page(
    mut names: Vec<String>,
    max: Option<u32>,
    token: Option<&str>,
) -> Result<(Vec<String>, Option<String>), SqsError> {
    names.sort();
    if let Some(after) = token {
        names.retain(|n| n.as_str() > after);
    }
    match max {
        Some(max) if names.len() > max as usize => {
            names.truncate(max as usize);
            let next = names.last().cloned();
            Ok((names, next))
        }
        _ => Ok((names, None)),
    }
}

/// A received message with only the attributes asked for; the MD5 of its
/// message attributes is SQS's digest of those returned.
fn select(mut m: Delivered, selection: &Selection) -> Delivered {
    m.attributes.retain(|name, _| selection.wants_system(name));
    let before = m.message_attributes.len();
    m.message_attributes
        .retain(|name, _| selection.wants_message(name));
    if m.message_attributes.len() != before {
        m.md5_of_message_attributes = crate::digest::attributes_md5(&m.message_attributes);
    }
    m
}

/// A single operation's entry error as the operation's error.
fn entry_error(e: EntryError) -> SqsError {
    let mut err = SqsError::sender(static_code(&e.code), e.message);
    err.sender_fault = e.sender_fault;
    if !e.sender_fault {
        err.status = http::StatusCode::INTERNAL_SERVER_ERROR;
    }
    err
}

/// SQS's error codes, as `'static` text.
fn static_code(code: &str) -> &'static str {
    const CODES: &[&str] = &[
        "InvalidParameterValue",
        "InvalidMessageContents",
        "InvalidAttributeName",
        "InvalidAttributeValue",
        "MissingParameter",
        "ReceiptHandleIsInvalid",
        "MessageNotInflight",
        "InvalidIdFormat",
        "UnsupportedOperation",
        "QueueDoesNotExist",
        "OverLimit",
        "RequestThrottled",
        "InternalError",
    ];
    CODES
        .iter()
        .find(|c| **c == code)
        .copied()
        .unwrap_or("InvalidParameterValue")
}

#[cfg(test)]
#[path = "execute_tests.rs"]
mod tests;
