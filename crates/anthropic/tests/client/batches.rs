//! The Message Batches API: create, poll until ended, read the results; the fake refuses what
//! the API refuses and reports a bad request's params as an `errored` result.

use hearth_anthropic::Error;
use hearth_anthropic::fake::Fault;
use hearth_anthropic::types::{BatchOutcome, BatchRequest};

use crate::{hello, setup};

#[tokio::test]
async fn a_batch_is_created_polled_until_ended_and_its_results_read() {
    let (fake, client) = setup().await;
    let mut bad = hello("no max tokens");
    bad.max_tokens = 0;
    bad.temperature = Some(3.0);
    let requests = vec![
        BatchRequest { custom_id: "a".into(), params: hello("first") },
        BatchRequest { custom_id: "b-2".into(), params: hello("second") },
        BatchRequest { custom_id: "bad".into(), params: bad },
    ];
    let created = client.create_batch(&requests).await.expect("created").body;
    assert!(created.id.starts_with("msgbatch_") && !created.ended(), "{created:?}");
    assert_eq!(created.request_counts.processing, 3);
    // Results before the end are refused.
    assert!(matches!(client.batch_results(&created.id).await, Err(Error::Api(e)) if e.status == 400));
    let mut polls = 0;
    let batch = loop {
        polls += 1;
        let b = client.retrieve_batch(&created.id).await.expect("retrieved").body;
        if b.ended() {
            break b;
        }
    };
    assert_eq!(polls, 2);
    assert_eq!((batch.request_counts.succeeded, batch.request_counts.errored), (2, 1));
    let results = client.batch_results(&batch.id).await.expect("results").body;
    assert_eq!(results.len(), 3);
    let find = |id: &str| results.iter().find(|r| r.custom_id == id).map(|r| &r.result);
    match find("a") {
        Some(BatchOutcome::Succeeded { message }) => {
            assert_eq!(message.text(), "echo: first");
            assert_eq!(message.usage.service_tier.as_deref(), Some("batch"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(find("bad"), Some(BatchOutcome::Errored { error }) if error.to_string().contains("temperature"))
    );
    // Unknown ids are 404; faults play as on /v1/messages.
    assert!(matches!(client.retrieve_batch("msgbatch_nope").await, Err(Error::Api(e)) if e.status == 404));
    fake.push_fault(Fault::no_retry(500));
    assert!(client.create_batch(&requests).await.is_err());
}

#[tokio::test]
async fn the_fake_refuses_what_the_api_refuses() {
    let (_fake, client) = setup().await;
    let dup = vec![
        BatchRequest { custom_id: "x".into(), params: hello("one") },
        BatchRequest { custom_id: "x".into(), params: hello("two") },
    ];
    let e = client.create_batch(&dup).await.expect_err("duplicate ids");
    assert!(e.to_string().contains("not unique"), "{e}");
    let mut streamed = hello("s");
    streamed.stream = Some(true);
    let e = client
        .create_batch(&[BatchRequest { custom_id: "has space".into(), params: hello("x") }])
        .await
        .expect_err("bad id");
    assert!(e.to_string().contains("custom_id"), "{e}");
    let e = client
        .create_batch(&[BatchRequest { custom_id: "s".into(), params: streamed }])
        .await
        .expect_err("stream");
    assert!(e.to_string().contains("stream"), "{e}");
    assert!(client.create_batch(&[]).await.is_err());
    assert!(client.retrieve_batch("../etc").await.is_err());
}
