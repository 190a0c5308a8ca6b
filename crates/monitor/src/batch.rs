//! Judge calls through Anthropic's Message Batches API (`[monitor] batch = true`): half the
//! price, answers within 24 hours. [`Batcher::ask`] queues one request and waits for its
//! answer; the batcher gathers requests for up to `batch_max_wait_secs` (or 1,000 of them),
//! sends them as one batch, polls it every `batch_poll_secs` until it has ended, reads the
//! results and hands each answer to its caller. Batches are polled on their own tasks, so a
//! new batch forms while earlier ones are processed. A batch that cannot be created, or does
//! not end within 25 hours, fails its requests (the monitor records no verdict and counts a
//! failed judge call); a failed poll is retried at the next interval.

use std::collections::HashMap;
use std::time::Duration;

use hearth_anthropic::types::{BatchOutcome, BatchRequest, MessagesRequest};
use hearth_router::{Remote, SampledRequest, Usage};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::judge::{JudgeError, JudgeReply};

/// How a [`Batcher`] gathers and polls.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// How long the first request of a batch waits for others.
    pub max_wait: Duration,
    /// The most requests in one batch.
    pub max_requests: usize,
    /// Between two polls of a batch.
    pub poll: Duration,
    /// A batch not ended after this fails its requests.
    pub give_up: Duration,
}

impl BatchSettings {
    /// `max_wait` and `poll` as given, 1,000 requests a batch, 25 hours before giving up.
    pub fn new(max_wait: Duration, poll: Duration) -> BatchSettings {
        BatchSettings { max_wait, max_requests: 1000, poll, give_up: Duration::from_secs(25 * 3600) }
    }
}

struct Job {
    request: MessagesRequest,
    reply: oneshot::Sender<Result<JudgeReply, JudgeError>>,
}

/// Sends judge requests as Message Batches (module docs). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    /// Starts the batcher's task on the current runtime.
    pub fn start(client: hearth_anthropic::Client, settings: BatchSettings) -> Batcher {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(gather(client, settings, rx));
        Batcher { tx }
    }

    /// `remote` answers `request` through the next batch.
    pub async fn ask(&self, remote: &Remote, request: &SampledRequest) -> Result<JudgeReply, JudgeError> {
        let (reply, answer) = oneshot::channel();
        let job = Job { request: crate::remote::anthropic_request(remote, request), reply };
        self.tx.send(job).await.map_err(|_| JudgeError::new("the batcher has stopped"))?;
        answer.await.map_err(|_| JudgeError::new("the batch holding the request was lost"))?
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

async fn gather(client: hearth_anthropic::Client, settings: BatchSettings, mut rx: mpsc::Receiver<Job>) {
    let mut serial = 0u64;
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let deadline = Instant::now() + settings.max_wait;
        while jobs.len() < settings.max_requests.max(1) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        serial += 1;
        tokio::spawn(run(client.clone(), settings, jobs, serial));
    }
}

/// One batch: create, poll until ended, read the results, answer each job.
async fn run(client: hearth_anthropic::Client, settings: BatchSettings, jobs: Vec<Job>, serial: u64) {
    let id_of = |i: usize| format!("judge-{serial}-{i}");
    let requests: Vec<BatchRequest> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| BatchRequest { custom_id: id_of(i), params: j.request.clone() })
        .collect();
    let fail = |jobs: Vec<Job>, message: String| {
        tracing::warn!(error = message, "judge batch failed");
        for job in jobs {
            let _ = job.reply.send(Err(JudgeError::new(message.clone())));
        }
    };
    let mut batch = match client.create_batch(&requests).await {
        Ok(r) => r.body,
        Err(e) => return fail(jobs, format!("creating a message batch: {e}")),
    };
    tracing::debug!(batch = batch.id, requests = requests.len(), "judge batch sent");
    let started = Instant::now();
    while !batch.ended() {
        if started.elapsed() > settings.give_up {
            return fail(
                jobs,
                format!("message batch {} did not end within {:?}", batch.id, settings.give_up),
            );
        }
        tokio::time::sleep(settings.poll).await;
        match client.retrieve_batch(&batch.id).await {
            Ok(r) => batch = r.body,
            Err(e) => {
                tracing::warn!(batch = batch.id, error = %e, "polling a judge batch failed; trying again")
            }
        }
    }
    let results = match client.batch_results(&batch.id).await {
        Ok(r) => r.body,
        Err(e) => return fail(jobs, format!("reading the results of message batch {}: {e}", batch.id)),
    };
    let mut by_id: HashMap<String, BatchOutcome> =
        results.into_iter().map(|r| (r.custom_id, r.result)).collect();
    for (i, job) in jobs.into_iter().enumerate() {
        let custom_id = id_of(i);
        let answer = match by_id.remove(&custom_id) {
            Some(BatchOutcome::Succeeded { message }) => {
                let u = &message.usage;
                Ok(JudgeReply {
                    text: message.text(),
                    usage: Usage {
                        input_tokens: u.input_tokens,
                        output_tokens: u.output_tokens,
                        cache_read_tokens: u.cache_read_input_tokens.unwrap_or(0),
                        cache_write_tokens: u.cache_creation_input_tokens.unwrap_or(0),
                    },
                    upstream_id: Some(format!("{}/{custom_id}", batch.id)),
                    model: Some(message.model.clone()),
                    batch: true,
                })
            }
            Some(BatchOutcome::Errored { error }) => {
                Err(JudgeError::new(format!("message batch {} request {custom_id}: {error}", batch.id)))
            }
            Some(BatchOutcome::Canceled) => {
                Err(JudgeError::new(format!("message batch {}: canceled", batch.id)))
            }
            Some(BatchOutcome::Expired) => {
                Err(JudgeError::new(format!("message batch {}: expired", batch.id)))
            }
            None => Err(JudgeError::new(format!("message batch {}: no result for {custom_id}", batch.id))),
        };
        let _ = job.reply.send(answer);
    }
}
