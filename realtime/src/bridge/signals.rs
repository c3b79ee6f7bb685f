//! The return signals a block carries for its L2→L1→L2 txs (leaf module: the proposal model
//! and the stores keep them without importing how they are found).

use alloy::primitives::B256;
use common::ids::SignalSlot;
use serde::{Deserialize, Serialize};

/// The L2→L1→L2 txs of a block and the return signals their anchor carries for them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnSignals {
    /// The txs (their statuses follow them by hash).
    pub txs: Vec<B256>,
    /// Slots of the L1→L2 answers they consume, in block order: the required return signals.
    pub slots: Vec<SignalSlot>,
    /// How many of `slots` each of `txs` consumes, in order (empty in records stored before
    /// the node kept it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_tx: Vec<u32>,
    /// The block's other txs that consume L1→L2 messages, without return signals (held back
    /// too long, or failing even with their answers): followed by hash too, so that their
    /// status says how they ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<B256>,
}

impl ReturnSignals {
    /// Whether the block has no return signals.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Every tx whose status the node follows.
    pub fn tracked(&self) -> impl Iterator<Item = &B256> {
        self.txs.iter().chain(&self.others)
    }

    /// Adds a tx whose answers the block's anchor carries.
    pub fn push_answered(&mut self, tx: B256, slots: impl IntoIterator<Item = SignalSlot>) {
        let before = self.slots.len();
        self.txs.push(tx);
        self.slots.extend(slots);
        self.per_tx
            .push(u32::try_from(self.slots.len() - before).unwrap_or(u32::MAX));
    }

    /// Appends a later block's.
    pub fn extend(&mut self, later: &ReturnSignals) {
        self.txs.extend(&later.txs);
        self.slots.extend(&later.slots);
        self.per_tx.extend(&later.per_tx);
        self.others.extend(&later.others);
    }

    /// Each tx with the slots of the answers it consumes (none known for old records).
    pub fn answers_of(&self) -> Vec<(B256, &[SignalSlot])> {
        if self.per_tx.len() != self.txs.len() {
            return Vec::new();
        }
        let mut rest = self.slots.as_slice();
        self.txs
            .iter()
            .zip(&self.per_tx)
            .map(|(tx, n)| {
                let (mine, later) = rest.split_at((*n as usize).min(rest.len()));
                rest = later;
                (*tx, mine)
            })
            .collect()
    }
}
