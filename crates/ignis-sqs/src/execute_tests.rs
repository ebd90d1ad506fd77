use std::sync::Arc;

use ignis_store::SqliteStore;

use super::*;
use crate::model::{AttributeValue, MessageAttributes, Outgoing, Receive};
use crate::op::Selection;
use crate::wire::{self, WireProtocol, WireRequest};

fn engine() -> (tempfile::TempDir, Sqs) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    (dir, Sqs::new(Arc::new(store), "us-east-1"))
}

fn origin() -> Origin {
    Origin {
        sender_id: "AIDAEXAMPLE".into(),
        host: "localhost:9000".into(),
    }
}

/// Runs a JSON-protocol request.
async fn call(sqs: &Sqs, op: &str, body: serde_json::Value) -> Result<SqsOutput, SqsError> {
    let body = body.to_string();
    let op = wire::parse(&WireRequest {
        protocol: WireProtocol::Json,
        target_operation: Some(op),
        path: "/",
        query: "",
        body: body.as_bytes(),
    })?;
    sqs.execute(op, &origin()).await
}

const URL: &str = "http://localhost:9000/000000000000/jobs";

#[tokio::test]
async fn urls_are_made_on_the_callers_host_and_attributes_computed() {
    let (_dir, sqs) = engine();
    let made = call(
        &sqs,
        "CreateQueue",
        serde_json::json!({"QueueName": "jobs"}),
    )
    .await
    .unwrap();
    assert_eq!(made, SqsOutput::QueueUrl(URL.into()));
    let sent = call(
        &sqs,
        "SendMessage",
        serde_json::json!({"QueueUrl": URL, "MessageBody": "hi"}),
    )
    .await
    .unwrap();
    assert!(matches!(sent, SqsOutput::Sent(_)));
    let SqsOutput::Attributes(attrs) = call(
        &sqs,
        "GetQueueAttributes",
        serde_json::json!({"QueueUrl": URL, "AttributeNames": ["ApproximateNumberOfMessages", "QueueArn"]}),
    )
    .await
    .unwrap() else {
        panic!("no attributes")
    };
    assert_eq!(
        attrs,
        BTreeMap::from([
            ("ApproximateNumberOfMessages".to_string(), "1".to_string()),
            (
                "QueueArn".to_string(),
                "arn:aws:sqs:us-east-1:000000000000:jobs".to_string()
            ),
        ])
    );
    // The sender is the origin's.
    let SqsOutput::Received(got) = call(
        &sqs,
        "ReceiveMessage",
        serde_json::json!({"QueueUrl": URL, "AttributeNames": ["SenderId"]}),
    )
    .await
    .unwrap() else {
        panic!("no receive")
    };
    assert_eq!(got[0].attributes["SenderId"], "AIDAEXAMPLE");
    assert_eq!(got[0].attributes.len(), 1);
}

#[tokio::test]
async fn permissions_are_statements_of_the_queue_policy() {
    let (_dir, sqs) = engine();
    sqs.create_queue("jobs", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let add = |label: &str, accounts: &[&str]| serde_json::json!({"QueueUrl": URL, "Label": label, "AWSAccountIds": accounts, "Actions": ["SendMessage"]});
    call(&sqs, "AddPermission", add("a", &["111122223333"]))
        .await
        .unwrap();
    call(&sqs, "AddPermission", add("b", &["1", "2"]))
        .await
        .unwrap();
    let e = call(&sqs, "AddPermission", add("a", &["3"]))
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let policy: serde_json::Value =
        serde_json::from_str(&sqs.queue("jobs").await.unwrap().attributes["Policy"]).unwrap();
    assert_eq!(
        policy["Statement"][0],
        serde_json::json!({"Sid": "a", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "SQS:SendMessage", "Resource": "arn:aws:sqs:us-east-1:000000000000:jobs"})
    );
    assert_eq!(
        policy["Statement"][1]["Principal"]["AWS"],
        serde_json::json!(["arn:aws:iam::1:root", "arn:aws:iam::2:root"])
    );
    for label in ["a", "b"] {
        call(
            &sqs,
            "RemovePermission",
            serde_json::json!({"QueueUrl": URL, "Label": label}),
        )
        .await
        .unwrap();
    }
    let left = sqs.queue("jobs").await.unwrap().attributes;
    assert!(left.get("Policy").is_none_or(String::is_empty), "{left:?}");
    let e = call(
        &sqs,
        "RemovePermission",
        serde_json::json!({"QueueUrl": URL, "Label": "a"}),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
}

#[tokio::test]
async fn a_selected_subset_of_attributes_has_its_own_digest() {
    let (_dir, sqs) = engine();
    sqs.create_queue("jobs", BTreeMap::new(), BTreeMap::new())
        .await
        .unwrap();
    let text = |v: &str| AttributeValue {
        data_type: "String".into(),
        string_value: Some(v.into()),
        binary_value: None,
    };
    let attributes = MessageAttributes::from([
        ("a.one".to_string(), text("1")),
        ("b".to_string(), text("2")),
    ]);
    sqs.send(
        "jobs",
        vec![Outgoing {
            body: "x".into(),
            attributes: attributes.clone(),
            sender_id: "000000000000".into(),
            ..Outgoing::default()
        }],
    )
    .await
    .unwrap();
    let got = sqs
        .receive(
            "jobs",
            Receive {
                max_messages: 1,
                visibility_timeout: Some(0),
                wait_seconds: Some(0),
                attempt_id: None,
            },
        )
        .await
        .unwrap();
    let full = got[0].clone();
    let all = select(
        full.clone(),
        &Selection {
            system: vec![],
            message: vec!["All".into()],
        },
    );
    assert_eq!(
        all.md5_of_message_attributes,
        full.md5_of_message_attributes
    );
    let some = select(
        full,
        &Selection {
            system: vec![],
            message: vec!["a.*".into()],
        },
    );
    assert_eq!(some.message_attributes.len(), 1);
    assert_eq!(
        some.md5_of_message_attributes,
        crate::digest::attributes_md5(&MessageAttributes::from([("a.one".to_string(), text("1"))]))
    );
    assert!(some.attributes.is_empty());
}

#[test]
fn pages_follow_the_last_name() {
    let names = || vec!["c".to_string(), "a".into(), "b".into()];
    assert_eq!(
        page(names(), Some(2), None).unwrap(),
        (vec!["a".to_string(), "b".into()], Some("b".into()))
    );
    assert_eq!(
        page(names(), Some(2), Some("b")).unwrap(),
        (vec!["c".to_string()], None)
    );
    assert_eq!(page(names(), None, None).unwrap().0.len(), 3);
}
