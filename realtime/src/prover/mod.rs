//! The Prover actor: the Raiko client (wire format in [`wire`]). It owns the proof jobs in
//! flight, polls each on a timer (one request at a time per job, on a spawned task that always
//! reports back), keeps the request budget (Raiko's per-key rate limit, pauses after 429/503),
//! and the prover's health, which it publishes for `/readyz`, `/status` and the metrics.
//!
//! A job's first request carries the blobs; later requests are status-only polls of the same
//! cache key, and the job is submitted in full again when Raiko does not know the key (expired,
//! evicted) or drew no prover (`zk_any_not_drawn`, retried as its own case until the deadline).
//! A terminal `TaskStatus` ends the job at once with Raiko's reason. The answer goes back on the
//! job's reply channel; a closed channel (the submitter abandoned the proposal) ends the job.
//!
//! The messages it receives are listed in [`protocol`]: `Prove` and `Cancel` from the submitter
//! (the proof or the error goes back on the job's reply channel), `Poll` and `Answered` from its
//! own timers and tasks.

pub mod budget;
pub mod protocol;
pub mod wire;

use std::{collections::HashMap, sync::Arc, time::Duration};

use alloy::primitives::Bytes;
use budget::{Budget, Health};
use common::{
    faults::{self, FaultPoint},
    health::ProverStatus,
    ids::ProposalId,
    rpc::redact_url,
    secret::Secret,
    supervisor::{ChildLink, Handle},
    work::spawn_reporting,
};
use protocol::{Answered, Poll};
pub use protocol::{Cancel, Prove};
use spawned_concurrency::tasks::{Actor, Context, Handler, send_after};
use tokio::{
    sync::{oneshot, watch},
    time::Instant,
};
use url::Url;
use wire::{Answer, ProofError};

use crate::{config::prover::ProverConfig, metrics};

/// Times a proof is asked of a restarted Prover before giving up on the attempt.
const PROVER_RESTARTS: u32 = 3;

/// Why [`ask`] got no proof.
#[derive(Debug, thiserror::Error)]
pub enum AskError {
    /// Raiko gave none.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The Prover is not there to ask (the node is stopping, or it keeps restarting).
    #[error("the prover is not running ({0})")]
    Gone(String),
}

/// Asks the Prover for a proof and waits for its answer. A Prover that restarts meanwhile lost
/// the job (its reply channel closes), so the new instance is asked again, a few times.
pub async fn ask(
    prover: &Handle<Prover>,
    proposal: ProposalId,
    full: Bytes,
    poll: Bytes,
) -> Result<Bytes, AskError> {
    let (mut lost, mut restarts) = (None, 0);
    loop {
        let (instance, actor) = prover
            .live_after(lost)
            .await
            .map_err(|e| AskError::Gone(e.to_string()))?;
        let (reply, answer) = oneshot::channel();
        let sent = actor.send(Prove {
            proposal,
            full: full.clone(),
            poll: poll.clone(),
            reply,
        });
        if sent.is_ok()
            && let Ok(result) = answer.await
        {
            return result.map_err(AskError::Proof);
        }
        restarts += 1;
        if restarts >= PROVER_RESTARTS {
            return Err(AskError::Gone(format!(
                "it lost the job {restarts} times (restarted)"
            )));
        }
        // Only a stopping instance drops a job's reply; the next one is asked.
        lost = Some(instance);
        tracing::warn!(%proposal, "the prover restarted with this proof in flight; asking it again");
    }
}

/// What the Prover needs.
#[derive(Clone)]
pub struct ProverSetup {
    /// HTTP client.
    pub http: reqwest::Client,
    /// Raiko's URL, key, poll interval, deadline, timeouts, request budget.
    pub config: ProverConfig,
    /// Where its health is published.
    pub status: Arc<watch::Sender<ProverStatus>>,
}

struct Job {
    generation: u64,
    full: Bytes,
    poll: Bytes,
    submitted: bool,
    started: Instant,
    requests: u64,
    in_flight: bool,
    last: String,
    reply: oneshot::Sender<Result<Bytes, ProofError>>,
}

/// Raiko jobs in flight.
pub struct Prover {
    setup: ProverSetup,
    link: ChildLink,
    endpoint: Url,
    jobs: HashMap<ProposalId, Job>,
    generation: u64,
    budget: Budget,
    health: Health,
}

impl Prover {
    /// A Prover reporting to its supervisor through `link`.
    pub fn new(setup: ProverSetup, link: ChildLink) -> Self {
        let base = setup.config.url.as_str().trim_end_matches('/');
        let endpoint = Url::parse(&format!("{base}/v3/proof/batch/realtime"))
            .unwrap_or_else(|_| setup.config.url.clone());
        Self {
            budget: Budget::new(setup.config.max_requests_per_minute),
            setup,
            link,
            endpoint,
            jobs: HashMap::new(),
            generation: 0,
            health: Health::default(),
        }
    }

    /// Publishes the health (metrics and the watch the health server reads).
    fn publish(&self) {
        let up = self.health.up();
        metrics::prover().up.set(i64::from(up));
        let status = ProverStatus {
            up,
            jobs: self.jobs.len(),
            consecutive_failures: self.health.consecutive_failures,
            seconds_since_answer: self.health.last_ok.map(|t| t.elapsed().as_secs()),
            last_error: self.health.last_error.clone(),
            refusing: self.health.refusing,
        };
        self.setup.status.send_replace(status);
    }

    /// Ends a job with `result` (the submitter may have gone: then nobody listens).
    fn finish(&mut self, proposal: ProposalId, result: Result<Bytes, ProofError>) {
        if let Some(job) = self.jobs.remove(&proposal) {
            if result.is_ok() {
                metrics::submitter()
                    .proof_seconds
                    .observe(job.started.elapsed().as_secs_f64());
            }
            let _ = job.reply.send(result);
        }
        self.publish();
    }

    /// Polls the job again after `delay`, unless that passes its deadline.
    fn again(&mut self, proposal: ProposalId, delay: Duration, ctx: &Context<Self>) {
        let Some(job) = self.jobs.get(&proposal) else {
            return;
        };
        let deadline = self.setup.config.deadline;
        let out_of_polls = job.requests >= self.setup.config.max_polls;
        if out_of_polls || job.started.elapsed() + delay > deadline {
            let error = ProofError::OutOfTime {
                requests: job.requests,
                elapsed_ms: job.started.elapsed().as_millis() as u64,
                last: job.last.clone(),
            };
            self.finish(proposal, Err(error));
            return;
        }
        let poll = Poll {
            proposal,
            generation: job.generation,
        };
        if delay.is_zero() {
            let _ = ctx.send(poll);
        } else {
            send_after(delay, ctx.clone(), poll);
        }
    }
}

impl Actor for Prover {
    async fn started(&mut self, _: &Context<Self>) {
        self.link.attach();
        self.publish();
    }
}

impl Handler<Prove> for Prover {
    async fn handle(&mut self, prove: Prove, ctx: &Context<Self>) {
        self.generation += 1;
        let proposal = prove.proposal;
        self.jobs.insert(
            proposal,
            Job {
                generation: self.generation,
                full: prove.full,
                poll: prove.poll,
                submitted: false,
                started: Instant::now(),
                requests: 0,
                in_flight: false,
                last: "nothing yet".into(),
                reply: prove.reply,
            },
        );
        self.publish();
        self.again(proposal, Duration::ZERO, ctx);
    }
}

impl Handler<Cancel> for Prover {
    async fn handle(&mut self, cancel: Cancel, _: &Context<Self>) {
        if self.jobs.remove(&cancel.proposal).is_some() {
            tracing::debug!(proposal = %cancel.proposal, "proof job cancelled");
        }
        self.publish();
    }
}

impl Handler<Poll> for Prover {
    async fn handle(&mut self, poll: Poll, ctx: &Context<Self>) {
        let Some(job) = self.jobs.get_mut(&poll.proposal) else {
            return;
        };
        if job.generation != poll.generation || job.in_flight {
            return;
        }
        if job.reply.is_closed() {
            // Nobody waits for this proof any more.
            self.jobs.remove(&poll.proposal);
            self.publish();
            return;
        }
        let now = Instant::now();
        if let Some(wait) = self.budget.wait(now.into_std()) {
            self.again(poll.proposal, wait, ctx);
            return;
        }
        self.budget.spend(now.into_std());
        job.in_flight = true;
        job.requests += 1;
        let body = if job.submitted {
            job.poll.clone()
        } else {
            job.full.clone()
        };
        metrics::prover().request_bytes.inc_by(body.len() as u64);
        let request = self.request(body);
        let (proposal, generation) = (poll.proposal, poll.generation);
        // The request's task reports back even if it panics, so a job never waits forever.
        spawn_reporting(ctx.clone(), request, move |answer| Answered {
            proposal,
            generation,
            answer: answer.unwrap_or_else(|panic| Answer::Transient(panic.to_string())),
        });
    }
}

impl Prover {
    /// One POST to Raiko, as a future that owns what it needs.
    fn request(&self, body: Bytes) -> impl std::future::Future<Output = Answer> + Send + 'static {
        let http = self.setup.http.clone();
        let endpoint = self.endpoint.clone();
        let api_key: Option<Secret<String>> = self.setup.config.api_key.clone();
        let timeout = self.setup.config.request_timeout;
        async move {
            let mut request = http
                .post(endpoint)
                .timeout(timeout)
                .header("content-type", "application/json")
                .body(body.0);
            if let Some(key) = &api_key {
                request = request.header("X-API-KEY", key.expose());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Answer::Transient(format!("no answer within {} s", timeout.as_secs()));
                }
                Err(e) => return Answer::Transient(common::rpc::error_chain(&e)),
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let answer = match response.text().await {
                Ok(text) => wire::interpret(status, &text, retry_after),
                Err(e) => Answer::Transient(common::rpc::error_chain(&e)),
            };
            if matches!(answer, Answer::Pending(_)) {
                faults::pause(FaultPoint::Proving).await;
            }
            answer
        }
    }
}

impl Handler<Answered> for Prover {
    async fn handle(&mut self, answered: Answered, ctx: &Context<Self>) {
        let now = Instant::now();
        self.health.record(&answered.answer, now.into_std());
        metrics::prover()
            .requests
            .with_label_values(&[answered.answer.label()])
            .inc();
        let proposal = answered.proposal;
        let poll_interval = self.setup.config.poll_interval;
        let Some(job) = self.jobs.get_mut(&proposal) else {
            self.publish();
            return;
        };
        if job.generation != answered.generation {
            self.publish();
            return;
        }
        job.in_flight = false;
        job.last = format!("{:?}", answered.answer);
        let delay = match answered.answer {
            Answer::Proof(proof) => {
                tracing::info!(proposal = %proposal, requests = job.requests,
                    took_ms = job.started.elapsed().as_millis() as u64, "Raiko proved the proposal");
                self.finish(proposal, Ok(proof));
                return;
            }
            Answer::Final(error) => {
                tracing::warn!(proposal = %proposal, %error, raiko = %redact_url(&self.setup.config.url),
                    "Raiko will not prove the proposal as requested");
                self.finish(proposal, Err(error));
                return;
            }
            Answer::Pending(_) => {
                job.submitted = true;
                poll_interval
            }
            Answer::Unknown(message) => {
                tracing::info!(proposal = %proposal, %message, "Raiko does not know the job (any more); submitting it again");
                job.submitted = false;
                Duration::ZERO
            }
            Answer::NotDrawn(status) => {
                tracing::warn!(proposal = %proposal, %status, "Raiko drew no prover; submitting again");
                job.submitted = false;
                poll_interval
            }
            Answer::RateLimited(retry_after) => {
                tracing::warn!(proposal = %proposal, retry_after_ms = retry_after.map(|d| d.as_millis() as u64),
                    "Raiko is over its rate limit or capacity; pausing requests");
                self.budget.pause(now.into_std(), retry_after);
                Duration::ZERO
            }
            Answer::Transient(why) => {
                tracing::warn!(proposal = %proposal, error = %why, raiko = %redact_url(&self.setup.config.url),
                    "Raiko request failed; trying again");
                poll_interval
            }
        };
        self.publish();
        self.again(proposal, delay, ctx);
    }
}

#[cfg(test)]
mod supervised_tests;
