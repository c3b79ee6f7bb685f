//! What the Prover keeps about Raiko between requests: the request budget (Raiko limits each
//! API key to `RAIKO_RATE_LIMIT` requests a minute, 600 by default, and answers 429 past it) and
//! the prover's health as the node sees it. Pure state, so both are unit-tested.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use super::wire::Answer;

/// The window Raiko's rate limit counts in.
const WINDOW: Duration = Duration::from_secs(60);
/// Pause after a 429/503 that does not say how long.
const DEFAULT_PAUSE: Duration = Duration::from_secs(5);
/// Transport failures in a row after which the prover counts as down.
pub const DOWN_AFTER: u32 = 3;

/// At most `per_minute` requests in any 60 s, and none while paused.
#[derive(Debug, Clone)]
pub struct Budget {
    per_minute: usize,
    sent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Budget {
    /// A budget of `per_minute` requests (at least one).
    pub fn new(per_minute: usize) -> Self {
        Self {
            per_minute: per_minute.max(1),
            sent: VecDeque::new(),
            paused_until: None,
        }
    }

    /// How long until a request may go at `now` (`None`: at once).
    pub fn wait(&mut self, now: Instant) -> Option<Duration> {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.sent.pop_front();
        }
        let paused = self
            .paused_until
            .filter(|until| *until > now)
            .map(|until| until - now);
        let full = (self.sent.len() >= self.per_minute)
            .then(|| self.sent.front().map(|t| *t + WINDOW - now))
            .flatten();
        paused.max(full)
    }

    /// Counts a request sent at `now`.
    pub fn spend(&mut self, now: Instant) {
        self.sent.push_back(now);
    }

    /// No request until `retry_after` (or a default pause) from `now`.
    pub fn pause(&mut self, now: Instant, retry_after: Option<Duration>) {
        let until = now + retry_after.unwrap_or(DEFAULT_PAUSE);
        self.paused_until = Some(self.paused_until.map_or(until, |u| u.max(until)));
    }
}

/// The prover's health: any answer from Raiko (even a refusal) means it is up; transport
/// failures and 5xx in a row mean it is down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Transport failures in a row.
    pub consecutive_failures: u32,
    /// The last answer that came through.
    pub last_ok: Option<Instant>,
    /// The last failure.
    pub last_error: Option<String>,
    /// The last answer was a 429/503: Raiko takes no work for now.
    pub refusing: bool,
}

impl Health {
    /// Takes one request's outcome into account.
    pub fn record(&mut self, answer: &Answer, now: Instant) {
        match answer {
            Answer::Transient(why) => {
                self.consecutive_failures += 1;
                self.last_error = Some(why.clone());
            }
            answer => {
                self.consecutive_failures = 0;
                self.last_ok = Some(now);
                self.refusing = matches!(answer, Answer::RateLimited(_));
            }
        }
    }

    /// Whether Raiko answers.
    pub fn up(&self) -> bool {
        self.consecutive_failures < DOWN_AFTER
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_under_the_limit_and_honours_a_pause() {
        let t0 = Instant::now();
        let mut budget = Budget::new(2);
        assert_eq!(budget.wait(t0), None);
        budget.spend(t0);
        budget.spend(t0 + Duration::from_secs(10));
        assert_eq!(
            budget.wait(t0 + Duration::from_secs(20)),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            budget.wait(t0 + Duration::from_secs(60)),
            None,
            "the first left the window"
        );
        budget.pause(t0 + Duration::from_secs(60), Some(Duration::from_secs(7)));
        assert_eq!(
            budget.wait(t0 + Duration::from_secs(61)),
            Some(Duration::from_secs(6))
        );
        budget.pause(t0 + Duration::from_secs(61), None);
        assert_eq!(
            budget.wait(t0 + Duration::from_secs(62)),
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn the_prover_is_down_after_failures_in_a_row_and_up_at_its_next_answer() {
        let now = Instant::now();
        let mut health = Health::default();
        for _ in 0..DOWN_AFTER {
            assert!(health.up());
            health.record(&Answer::Transient("connection refused".into()), now);
        }
        assert!(!health.up());
        assert_eq!(health.last_error.as_deref(), Some("connection refused"));
        health.record(&Answer::Pending("registered".into()), now);
        assert!(health.up());
        health.record(&Answer::RateLimited(None), now);
        assert!(health.up(), "a 429 is an answer");
        assert!(health.refusing, "but a refusal of work");
        health.record(&Answer::Pending("registered".into()), now);
        assert!(!health.refusing);
    }
}
