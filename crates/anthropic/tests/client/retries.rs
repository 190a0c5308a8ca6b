//! The SDK's retry rules, played through the fake's faults.

use std::time::{Duration, Instant};

use hearth_anthropic::Error;
use hearth_anthropic::fake::Fault;

use super::{client_for, hello, retry_counts, setup};

#[tokio::test]
async fn a_529_is_retried_and_the_retry_is_counted_in_the_header() {
    let (fake, client) = setup().await;
    fake.push_fault(Fault::Overloaded);
    let answer = client.messages(&hello("hi")).await.unwrap();
    assert_eq!(answer.attempts, 2);
    assert_eq!(answer.body.text(), "echo: hi");
    assert_eq!(retry_counts(&fake), ["0", "1"]);
}

#[tokio::test]
async fn retry_after_ms_and_retry_after_are_waited_for() {
    let (fake, client) = setup().await;
    // Both waits exceed the backoff of a first retry (at most 0.5 s), so only honouring the
    // header explains an elapsed time this long.
    fake.push_fault(Fault::RateLimit { retry_after: Some("9".into()), retry_after_ms: Some("700".into()) });
    let start = Instant::now();
    let answer = client.messages(&hello("hi")).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(700), "{:?}", start.elapsed());
    assert_eq!(answer.attempts, 2);

    fake.push_fault(Fault::rate_limit_after(1.2));
    let start = Instant::now();
    client.messages(&hello("hi")).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(1200), "{:?}", start.elapsed());
}

#[tokio::test]
async fn x_should_retry_false_is_obeyed() {
    let (fake, client) = setup().await;
    fake.push_fault(Fault::no_retry(500));
    let Err(Error::Api(err)) = client.messages(&hello("hi")).await else { panic!("a 500 expected") };
    assert_eq!(err.status, 500);
    assert_eq!(err.should_retry, Some(false));
    assert_eq!(retry_counts(&fake), ["0"]);
}

#[tokio::test]
async fn a_spend_limit_429_is_not_retried() {
    let (fake, client) = setup().await;
    fake.push_fault(Fault::SpendLimit);
    let Err(Error::Api(err)) = client.messages(&hello("hi")).await else { panic!("a 429 expected") };
    assert_eq!((err.status, err.kind.as_str()), (429, "rate_limit_error"));
    assert!(err.is_spend_limit());
    assert_eq!(err.error_code.as_deref(), Some("enforced_spend_limit_reached"));
    assert_eq!(retry_counts(&fake), ["0"]);
    assert_eq!(fake.pending_faults(), 0);
}

#[tokio::test]
async fn when_retries_run_out_the_last_error_is_returned() {
    let (fake, client) = setup().await;
    fake.push_faults([
        Fault::ServerError,
        Fault::Overloaded,
        Fault::Error {
            status: 503,
            error_type: "api_error".into(),
            message: "the third failure".into(),
            should_retry: None,
            retry_after: None,
            error_code: None,
        },
        Fault::ServerError, // never reached: 2 retries
    ]);
    let Err(Error::Api(err)) = client.messages(&hello("hi")).await else { panic!("an error expected") };
    assert_eq!((err.status, err.message.as_str()), (503, "the third failure"));
    assert_eq!(retry_counts(&fake), ["0", "1", "2"]);
    assert_eq!(fake.pending_faults(), 1);
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_retried() {
    let (fake, _) = setup().await;
    // A timeout generous enough that a busy machine still answers the second attempt in time.
    let client = client_for(&fake, |c| c.timeout = Duration::from_millis(1_000));
    fake.push_fault(Fault::Hang { ms: 5_000 });
    let start = Instant::now();
    let answer = client.messages(&hello("hi")).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(1_000));
    assert_eq!(answer.attempts, 2);

    let client = client_for(&fake, |c| {
        c.timeout = Duration::from_millis(200);
        c.max_retries = 0;
    });
    fake.push_fault(Fault::Hang { ms: 3_000 });
    let err = client.messages(&hello("hi")).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { after, .. } if after == Duration::from_millis(200)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_malformed_body_is_a_decode_error_and_not_retried() {
    let (fake, client) = setup().await;
    fake.push_fault(Fault::MalformedJson);
    let err = client.messages(&hello("hi")).await.unwrap_err();
    assert!(matches!(err, Error::Decode { what: "message", .. }), "{err:?}");
    assert_eq!(err.request_id(), Some("req_fake_00000001"));
    assert!(!err.is_retryable());
    assert_eq!(retry_counts(&fake), ["0"]);
}
