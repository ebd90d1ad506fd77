use super::*;
use crate::model::{AttributeValue, Delivered, EntryError, Sent};

fn json_req<'a>(op: &'a str, body: &'a str) -> WireRequest<'a> {
    WireRequest {
        protocol: WireProtocol::Json,
        target_operation: Some(op),
        path: "/",
        query: "",
        body: body.as_bytes(),
    }
}

fn form_req<'a>(path: &'a str, body: &'a str) -> WireRequest<'a> {
    WireRequest {
        protocol: WireProtocol::Query,
        target_operation: None,
        path,
        query: "",
        body: body.as_bytes(),
    }
}

fn text(resp: &Response<Bytes>) -> String {
    String::from_utf8(resp.body().to_vec()).unwrap()
}

#[test]
fn json_and_query_send_batches_read_alike() {
    let json = parse(&json_req(
        "SendMessageBatch",
        r#"{"QueueUrl":"http://localhost:9000/000000000000/jobs","Entries":[
            {"Id":"a","MessageBody":"one","DelaySeconds":2,
             "MessageAttributes":{"n":{"DataType":"Number","StringValue":"7"},
                                  "b":{"DataType":"Binary","BinaryValue":"YWI="}}},
            {"Id":"b","MessageBody":"two","MessageGroupId":"g","MessageDeduplicationId":"d"}]}"#,
    ))
    .unwrap();
    let query = parse(&form_req(
        "/",
        "Action=SendMessageBatch&Version=2012-11-05&QueueUrl=http%3A%2F%2Fh%2F000000000000%2Fjobs\
         &SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one\
         &SendMessageBatchRequestEntry.1.DelaySeconds=2\
         &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n\
         &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=Number\
         &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=7\
         &SendMessageBatchRequestEntry.1.MessageAttribute.2.Name=b\
         &SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.DataType=Binary\
         &SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.BinaryValue=YWI%3D\
         &SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two\
         &SendMessageBatchRequestEntry.2.MessageGroupId=g\
         &SendMessageBatchRequestEntry.2.MessageDeduplicationId=d",
    ))
    .unwrap();
    assert_eq!(json, query);
    let SqsOp::SendMessageBatch { queue, entries } = json else {
        panic!("not a batch")
    };
    assert_eq!(queue, "jobs");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].1.delay_seconds, Some(2));
    assert_eq!(
        entries[0].1.attributes["b"].binary_value.as_deref(),
        Some(&b"ab"[..])
    );
    assert_eq!(entries[1].1.group_id.as_deref(), Some("g"));
}

#[test]
fn query_maps_lists_and_the_queue_url_path() {
    let op = parse(&form_req(
        "/000000000000/jobs",
        "Action=ReceiveMessage&AttributeName.1=All&MessageAttributeName.1=trace.*&MaxNumberOfMessages=5&WaitTimeSeconds=1",
    ))
    .unwrap();
    let SqsOp::ReceiveMessage {
        queue,
        receive,
        selection,
    } = op
    else {
        panic!("not a receive")
    };
    assert_eq!(queue, "jobs");
    assert_eq!((receive.max_messages, receive.wait_seconds), (5, Some(1)));
    assert_eq!(selection.system, vec!["All"]);
    assert_eq!(selection.message, vec!["trace.*"]);
    let op = parse(&form_req(
        "/",
        "Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=3&Tag.1.Key=team&Tag.1.Value=x",
    ))
    .unwrap();
    assert_eq!(
        op,
        SqsOp::CreateQueue {
            name: "q".into(),
            attributes: [("DelaySeconds".to_string(), "3".to_string())].into(),
            tags: [("team".to_string(), "x".to_string())].into(),
        }
    );
}

#[test]
fn input_errors_are_sqs_errors() {
    let e = parse(&json_req("SendMessage", r#"{"QueueUrl":"http://h/0/q"}"#)).unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            "MissingParameter",
            "The request must contain the parameter MessageBody."
        )
    );
    let e = parse(&json_req(
        "ReceiveMessage",
        r#"{"QueueUrl":"http://h/0/q","MaxNumberOfMessages":11}"#,
    ))
    .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let e = parse(&json_req("Fly", "{}")).unwrap_err();
    assert_eq!(e.code, "InvalidAction");
    let e = parse(&json_req("DeleteQueue", r#"{"QueueUrl":"http://h/"}"#)).unwrap_err();
    assert_eq!(e.code, "InvalidAddress");
    let e = parse(&json_req(
        "GetQueueAttributes",
        r#"{"QueueUrl":"http://h/0/q","AttributeNames":["Nope"]}"#,
    ))
    .unwrap_err();
    assert_eq!(e.code, "InvalidAttributeName");
}

#[test]
fn errors_carry_both_codes() {
    let e = SqsError::no_queue();
    let resp = render_error(WireProtocol::Json, &e, "rid");
    assert_eq!(
        resp.headers()["x-amzn-query-error"],
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
    let body: serde_json::Value = serde_json::from_str(&text(&resp)).unwrap();
    assert_eq!(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    let resp = render_error(WireProtocol::Query, &e, "rid");
    assert_eq!(resp.status(), 400);
    assert!(text(&resp).contains(
        "<Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
    ));
}

fn delivered() -> Delivered {
    Delivered {
        message_id: "m1".into(),
        receipt_handle: "r1".into(),
        body: "hi & bye".into(),
        md5_of_body: "abc".into(),
        md5_of_message_attributes: Some("def".into()),
        message_attributes: [(
            "bin".to_string(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(b"ab".to_vec()),
            },
        )]
        .into(),
        attributes: [("SentTimestamp".to_string(), "5".to_string())].into(),
    }
}

#[test]
fn query_answers_flatten_as_sqs_did() {
    let xml = text(&render(
        WireProtocol::Query,
        "ReceiveMessage",
        &SqsOutput::Received(vec![delivered()]),
        "rid",
    ));
    assert_eq!(
        xml,
        "<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ReceiveMessageResult><Message>\
<MessageId>m1</MessageId><ReceiptHandle>r1</ReceiptHandle><MD5OfBody>abc</MD5OfBody><Body>hi &amp; bye</Body>\
<Attribute><Name>SentTimestamp</Name><Value>5</Value></Attribute><MD5OfMessageAttributes>def</MD5OfMessageAttributes>\
<MessageAttribute><Name>bin</Name><Value><BinaryValue>YWI=</BinaryValue><DataType>Binary</DataType></Value></MessageAttribute>\
</Message></ReceiveMessageResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></ReceiveMessageResponse>"
    );
    let sent = Sent {
        message_id: "m".into(),
        md5_of_body: "b".into(),
        md5_of_message_attributes: None,
        md5_of_system_attributes: None,
        sequence_number: None,
    };
    let xml = text(&render(
        WireProtocol::Query,
        "SendMessageBatch",
        &SqsOutput::SentBatch(vec![
            ("a".into(), Ok(sent)),
            (
                "b".into(),
                Err(EntryError {
                    code: "InvalidParameterValue".into(),
                    message: "no".into(),
                    sender_fault: true,
                }),
            ),
        ]),
        "rid",
    ));
    assert!(xml.contains("<SendMessageBatchResultEntry><Id>a</Id><MessageId>m</MessageId><MD5OfMessageBody>b</MD5OfMessageBody></SendMessageBatchResultEntry><BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code><Message>no</Message></BatchResultErrorEntry>"), "{xml}");
}

#[test]
fn json_answers_base64_binary_values() {
    let body = json::body(&SqsOutput::Received(vec![delivered()]));
    assert_eq!(
        body["Messages"][0]["MessageAttributes"]["bin"],
        serde_json::json!({"BinaryValue": "YWI=", "DataType": "Binary"})
    );
    assert_eq!(body["Messages"][0]["Attributes"]["SentTimestamp"], "5");
    assert_eq!(
        json::body(&SqsOutput::Received(vec![])),
        serde_json::json!({})
    );
}

#[test]
fn queue_names_come_from_urls() {
    assert_eq!(
        queue_name_of_url("http://localhost:9000/000000000000/jobs").unwrap(),
        "jobs"
    );
    assert_eq!(
        queue_name_of_url("https://sqs.us-east-1.amazonaws.com/123/q.fifo").unwrap(),
        "q.fifo"
    );
    assert!(queue_name_of_url("http://localhost:9000").is_err());
}

#[test]
fn carriage_returns_survive_the_xml() {
    let mut m = delivered();
    m.body = "a\r\nb".into();
    let xml = text(&render(
        WireProtocol::Query,
        "ReceiveMessage",
        &SqsOutput::Received(vec![m]),
        "rid",
    ));
    assert!(xml.contains("<Body>a&#xD;\nb</Body>"), "{xml}");
}
