//! What the BatchManager does with a block the driver inserted: its tracked L2→L1→L2 txs get
//! their first statuses from their receipts, the block joins the open proposal, and sealed
//! proposals are stored and handed to the submitter.

use std::collections::HashSet;

use alloy::primitives::B256;
use common::{driver::InsertedBlock, ids::SignalSlot};

use spawned_concurrency::tasks::Context;

use super::{BatchManager, Head, cross_chain};
use crate::{
    block_build::AssembledBlock,
    bridge::{
        l2_calls,
        returns::Consumption,
        signals::ReturnSignals,
        status::{ReadyOp, UserOpStatus},
    },
    forced_inclusion::metrics::forced,
    metrics,
    proposal::{L1Anchor, PreconfirmedBlock, SealReason, SealedProposal},
    proposal_store::ProposalRecord,
    restart::Rebuilt,
    submitter::protocol::Submit,
};

/// How a block's L2→L1→L2 txs ran.
pub(super) struct TxOutcomes {
    /// How each consumes answers.
    pub(super) consumers: Vec<(B256, Consumption)>,
    /// Those that reverted (`None`: unknown).
    pub(super) reverted: Option<HashSet<B256>>,
}

impl BatchManager {
    /// Publishes the preconfirmed head and the open proposal (metrics and `/status`).
    pub(super) fn publish(&self) {
        let age_ms = self
            .proposals
            .open_since_ms()
            .map(|since| common::fork::unix_now_ms().saturating_sub(since));
        let blocks = self.proposals.open_blocks();
        let m = metrics::preconf();
        m.open_proposal_age_seconds
            .set(age_ms.unwrap_or(0) as f64 / 1_000.0);
        m.open_proposal_blocks
            .set(i64::try_from(blocks).unwrap_or(i64::MAX));
        m.block_production_up
            .set(i64::from(self.production.failed_ticks == 0));
        let head = self.head.map(|h| h.number);
        let production = self.production.clone();
        self.setup.settlement.send_modify(|s| {
            s.production = production;
            s.preconfirmed_head = head.or(s.preconfirmed_head);
            s.open_proposal_blocks = blocks;
            s.open_proposal_age_ms = age_ms;
        });
    }

    /// Takes back the blocks preconfirmed before a restart into the open proposal (sealed
    /// where their anchor changes), and reorgs away the first one that cannot be proposed any
    /// more, with those after it; ticks wait for that reorg. True when it rolls back.
    pub(super) fn take_back(&mut self, rebuilt: Rebuilt, ctx: &Context<Self>) -> bool {
        let m = metrics::preconf();
        let taken = rebuilt.blocks.len();
        for (anchor, block) in rebuilt.blocks {
            let signals = !block.signal_slots.is_empty();
            let other_anchor = self
                .proposals
                .open_anchor()
                .is_some_and(|open| open != anchor);
            if signals || other_anchor {
                let sealed = self.proposals.seal(SealReason::Rebuilt);
                self.hand_over(sealed);
            }
            self.known_anchor = Some(anchor);
            let mut sealed = self.proposals.push(anchor, block, None);
            if signals {
                // As when it was built: a block with user ops is proposed at once, and later
                // ones wait for it.
                sealed.extend(self.proposals.seal(SealReason::UserOps));
                self.ops_proposal = sealed.last().map(|p| p.id);
            }
            self.hand_over(sealed);
        }
        m.blocks_recovered.inc_by(taken as u64);
        let Some((at, cause)) = rebuilt.stop else {
            if taken > 0 {
                tracing::info!(
                    blocks = taken,
                    "blocks preconfirmed before the restart taken back into the open proposal"
                );
            }
            return false;
        };
        m.blocks_reorged_on_start
            .with_label_values(&[cause.label()])
            .inc();
        tracing::warn!(
            blocks_taken_back = taken,
            from = at,
            cause = cause.label(),
            "an L2 block preconfirmed before the restart cannot be proposed any more; reorging it and the blocks after it away"
        );
        self.spawn_reorg(at.saturating_sub(1), None, ctx);
        true
    }

    /// Records a block the driver inserted into the open proposal; `outcome` says how its
    /// L2→L1→L2 txs ran, when known.
    pub(super) fn record(
        &mut self,
        block: AssembledBlock,
        anchor: L1Anchor,
        inserted: InsertedBlock,
        outcome: Option<TxOutcomes>,
    ) {
        let m = metrics::preconf();
        m.blocks_preconfirmed.inc();
        m.txs_per_block
            .observe(block.manifest.transactions.len() as f64);
        tracing::info!(
            number = inserted.number,
            hash = %inserted.hash,
            txs = block.manifest.transactions.len(),
            anchor = anchor.number,
            "preconfirmed L2 block"
        );
        self.head = Some(Head {
            number: inserted.number,
            hash: inserted.hash,
            timestamp: block.manifest.timestamp,
        });
        self.known_anchor = Some(anchor);
        self.idle_ticks = 0;
        let carries_ops = !block.user_ops.is_empty() || !block.returns.is_empty();
        let hold = self.setup.config.bridge.return_hold.as_secs();
        let statuses = match outcome {
            Some(TxOutcomes {
                consumers,
                reverted: Some(reverted),
            }) => cross_chain::tracked_statuses(&consumers, &reverted, hold),
            // Settled from their receipts when the block lands.
            _ => block
                .returns
                .tracked()
                .map(|h| (*h, UserOpStatus::Pending, None))
                .collect(),
        };
        for (hash, status, note) in statuses {
            self.failing.remove(&hash);
            self.setup.statuses.track_soon(hash, status, note);
        }
        if let Some(f) = &block.forced {
            let content = if f.valid { "txs" } else { "empty" };
            forced().blocks.with_label_values(&[content]).inc();
            tracing::info!(
                index = f.index,
                number = inserted.number,
                content,
                "forced inclusion preconfirmed"
            );
        }
        let signal_slots = block_signals(&block.user_ops, &block.returns);
        let mut sealed = self.proposals.push(
            anchor,
            PreconfirmedBlock {
                manifest: block.manifest,
                header: inserted,
                signal_slots,
                user_ops: block.user_ops,
                returns: block.returns,
                preconfirmed_at_ms: common::fork::unix_now_ms(),
                forced: block.forced,
            },
            block.txs,
        );
        if carries_ops {
            sealed.extend(self.proposals.seal(SealReason::UserOps));
            self.ops_proposal = sealed
                .iter()
                .rev()
                .find(|p| !p.user_ops.is_empty() || !p.returns.is_empty())
                .map(|p| p.id);
        }
        self.hand_over(sealed);
    }
}

impl BatchManager {
    /// Counts sealed proposals and hands them to the submitter (stored first, so a crash
    /// between the two loses nothing), or drops them under PRECONF_ONLY.
    pub(super) fn hand_over(&mut self, sealed: Vec<SealedProposal>) {
        for proposal in sealed {
            report_sealed(&proposal, self.setup.submitter.is_some());
            let (Some(submitter), Some(record)) =
                (&self.setup.submitter, ProposalRecord::of(&proposal))
            else {
                continue;
            };
            if let Err(e) = self.setup.store.put(&record) {
                tracing::error!(error = %e, proposal = %record.id,
                    "could not store the sealed proposal; a restart before it lands loses it");
            }
            self.unlanded.insert(record.id);
            if let Some(last) = record.forced.last() {
                self.forced_through.insert(record.id, last.index + 1);
            }
            // Queued before the submitter hears of it, so it is recorded before Processing.
            self.setup.statuses.set_soon(
                &record.status_keys(),
                UserOpStatus::ProvingBlock {
                    block_id: record.checkpoint.number,
                },
            );
            let id = record.id;
            if let Err(e) = submitter.send(Submit(record)) {
                tracing::warn!(error = %e, proposal = %id,
                    "submitter not running; it picks the stored proposal up when it starts");
            }
        }
    }
}

/// The fast signals of a block: its user ops' L1→L2 messages (sent on L1 before the
/// propose), then the answers its L2→L1→L2 txs consume (sent by its L1 calls): the order
/// `tentativePropose` commits to (existing ‖ required).
pub(super) fn block_signals(ops: &[ReadyOp], returns: &ReturnSignals) -> Vec<SignalSlot> {
    let mut slots = l2_calls::fast_signals(ops);
    slots.extend(&returns.slots);
    slots
}

impl BatchManager {
    /// Starts the hold clock of newly held txs and forgets those no longer held.
    pub(super) fn note_holds(&mut self, held: &[B256]) {
        let now = std::time::Instant::now();
        self.holds.retain(|hash, _| held.contains(hash));
        for hash in held {
            self.holds.entry(*hash).or_insert_with(|| {
                tracing::info!(tx = %hash,
                    "L2→L1→L2 tx held back: L1 would not send the answers it consumes (yet)");
                now
            });
        }
    }
}

/// Logs and counts a sealed proposal.
fn report_sealed(proposal: &SealedProposal, submitting: bool) {
    {
        let m = metrics::preconf();
        m.proposals_sealed
            .with_label_values(&[&format!("{:?}", proposal.reason)])
            .inc();
        m.proposal_bytes.observe(proposal.payload.len() as f64);
        m.proposal_blocks.observe(proposal.blocks.len() as f64);
        let first = proposal.blocks.first().map(|b| b.header.number);
        let last = proposal.checkpoint().map(|c| c.number);
        tracing::info!(
            proposal = %proposal.id,
            reason = ?proposal.reason,
            blocks = proposal.blocks.len(),
            first_block = ?first,
            last_block = ?last,
            anchor = proposal.anchor.number,
            payload_bytes = proposal.payload.len(),
            blobs = common::codec::blob::blobs_needed(proposal.payload.len()),
            "{}",
            if submitting {
                "proposal sealed; handed to the submitter"
            } else {
                "proposal sealed; PRECONF_ONLY: not proved or proposed, dropped"
            }
        );
    }
}
