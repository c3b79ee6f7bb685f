//! Forced-inclusion blocks: which inclusion the next block is, and building it. An inclusion
//! is taken by the next proposal that opens after the chain monitor saw it (not when it falls
//! due: its payer waits less, and the deadline is never at risk), one block each, before any
//! block of the node's own ([`crate::forced_inclusion`] has the derivation rules).

use alloy::primitives::{Address, B256};
use common::{anchor::ANCHOR_GAS_LIMIT, work::spawn_reporting};
use spawned_concurrency::tasks::Context;

use super::{
    BatchManager,
    io::{self, BlockContent, BuildFailure, Observation, TickError},
    protocol::Built,
};
use crate::{
    block_build::BlockFrame,
    forced_inclusion::{self, OpenProposal, QueuedInclusion, metrics::forced},
    proposal::L1Anchor,
};

impl BatchManager {
    /// The inclusion the next block must be, if any: while the open proposal has no block of
    /// the node's own and fewer than `FI_MAX_PER_PROPOSAL` inclusions, the first waiting
    /// inclusion that no proposal of ours takes yet. Under PRECONF_ONLY the node proposes
    /// nothing, so it consumes nothing either.
    pub(super) fn next_forced(&self) -> Option<QueuedInclusion> {
        let queue = self.forced_queue.as_ref()?;
        self.setup.submitter.as_ref()?;
        let forced = self.proposals.open_forced();
        let open = OpenProposal {
            forced: forced as u64,
            own: (self.proposals.open_blocks() - forced) as u64,
            forced_through: self.proposals.open_forced_through(),
        };
        let sealed = self.forced_through.values().max().copied();
        let next = forced_inclusion::next_index(
            queue,
            open,
            sealed,
            self.setup.config.fi_max_per_proposal,
        )?;
        queue.at(next).cloned()
    }

    /// Builds the block of `inclusion` on the observed head: its blob is fetched and opened
    /// on the build task, then the block goes to the driver with `isForcedInclusion`.
    pub(super) fn build_forced(
        &mut self,
        seen: Observation,
        inclusion: QueuedInclusion,
        ctx: &Context<Self>,
    ) {
        let Some(running) = &self.running else {
            return self.tick_done(ctx);
        };
        let i = self.proposals.open_forced() as u64;
        let anchor = self.anchor_choice(seen.l1_head);
        let parent = seen.parent;
        let gas_limit = forced_inclusion::block_gas_limit(parent.number, parent.facts.gas_limit, i);
        let frame = BlockFrame {
            chain_id: running.l2_chain_id,
            anchor_contract: self.setup.config.anchor,
            coinbase: Address::ZERO,
            basefee_sharing_pctg: running.basefee_sharing_pctg,
            golden_touch_nonce: 0,
            anchor: L1Anchor {
                number: 0,
                hash: B256::ZERO,
                state_root: B256::ZERO,
            },
            signal_slots: Vec::new(),
            timestamp: parent.facts.timestamp + 1,
            base_fee: seen.base_fee,
            gas_limit: gas_limit.saturating_sub(ANCHOR_GAS_LIMIT),
        };
        tracing::info!(
            index = inclusion.index,
            number = parent.number + 1,
            position = i,
            "building a forced inclusion's block"
        );
        let clients = self.setup.clients.clone();
        let (l1, l2) = (running.l1.clone(), running.l2.clone());
        let clock = running.cadence.clock;
        let beacon = self.setup.config.l1_beacon_url.clone();
        let config = &self.setup.config;
        let keys = forced_inclusion::Keys {
            symmetric: config.privacy_key.as_ref().map(|k| *k.expose()),
            forced: config.fi_privkey.as_ref().map(|k| *k.expose()),
        };
        // Boxed: the build future is large, and moving it would cost the task's stack.
        let work = Box::pin(async move {
            let (source, txs) =
                forced_inclusion::fetch_blob(&clients.http, &beacon, &clock, &inclusion, keys)
                    .await
                    .map_err(|e| {
                        forced().fetch_failures.inc();
                        BuildFailure::from(TickError::ForcedInclusion(e))
                    })?;
            io::build(
                &clients,
                &l1,
                &l2,
                parent,
                frame,
                anchor,
                BlockContent {
                    pool: txs,
                    user_ops: None,
                    returns: Default::default(),
                    consumers: Vec::new(),
                    only_for_txs: false,
                    forced: Some(source),
                },
            )
            .await
        });
        spawn_reporting(ctx.clone(), work, move |outcome| Built { parent, outcome });
    }
}
