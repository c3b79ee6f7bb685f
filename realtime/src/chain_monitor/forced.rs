//! The inbox's forced-inclusion queue as the chain monitor reads it on every L1 poll: what
//! changed goes to the subscribers, the status and the metrics.

use common::rpc::RpcError;

use super::{ChainMonitor, ForcedInclusions};
use crate::forced_inclusion::{self, ForcedQueue};

impl ChainMonitor {
    /// Publishes a queue that changed (to subscribers, the status and the metrics); a read
    /// that failed shows in the status, and the queue last read stays.
    pub(super) fn forced_read(&mut self, read: Result<ForcedQueue, RpcError>) {
        let m = forced_inclusion::metrics::forced();
        let queue = match read {
            Ok(queue) => queue,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the forced-inclusion queue");
                self.setup.status.send_modify(|s| {
                    s.forced_inclusions.get_or_insert_default().error = Some(e.to_string());
                });
                return;
            }
        };
        let consumed = self
            .forced
            .as_ref()
            .map_or(0, |before| queue.head.saturating_sub(before.head));
        m.consumed.inc_by(consumed);
        m.queue_length.set((queue.tail - queue.head) as i64);
        let due = queue.oldest_due_at();
        let now = common::fork::unix_now();
        m.oldest_due_in_seconds
            .set(due.map_or(0, |d| d as i64 - now as i64));
        self.setup.status.send_modify(|s| {
            let status = s.forced_inclusions.get_or_insert_default();
            status.head = queue.head;
            status.tail = queue.tail;
            status.queued = queue.tail - queue.head;
            status.oldest_saved_at = queue.entries.first().map(|e| e.saved_at);
            status.oldest_due_at = due;
            status.consumed += consumed;
            status.error = None;
        });
        if self.forced.as_ref() == Some(&queue) {
            return;
        }
        if queue.tail > self.forced.as_ref().map_or(0, |f| f.tail) {
            tracing::info!(head = queue.head, tail = queue.tail, oldest_due_at = ?due,
                "forced inclusions waiting in the inbox");
        }
        for to in &self.setup.subscribers.forced {
            let _ = to.send(ForcedInclusions(queue.clone()));
        }
        self.forced = Some(queue);
    }
}
