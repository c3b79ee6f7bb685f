//! Retry delays for transient faults (an RPC that is down): exponential with jitter, reset on
//! success.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// An exponential backoff that can be reset.
#[derive(Debug)]
pub struct Backoff {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    /// Delays from `min` doubling up to `max`, with jitter, without a limit on attempts.
    pub fn new(min: Duration, max: Duration) -> Self {
        let builder = ExponentialBuilder::new()
            .with_min_delay(min)
            .with_max_delay(max)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        Self {
            delays: builder.build(),
            builder,
            max,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.max)
    }

    /// Starts over from the minimum delay.
    pub fn reset(&mut self) {
        self.delays = self.builder.build();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_is_bounded_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let first = b.next_delay();
        let later: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert!(first >= Duration::from_millis(100) && first < Duration::from_millis(300));
        // Jitter adds at most one extra delay on top of the cap.
        assert!(later.iter().all(|d| *d <= Duration::from_secs(2)));
        assert!(*later.last().unwrap() >= Duration::from_secs(1));
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(300));
    }
}
