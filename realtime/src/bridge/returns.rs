//! L2→L1→L2 txs from the pool (catalyst-reference §7.2, without §8.3–8.6): what each pool tx
//! does with the bridges, and one arrangement of a block's txs with the L2→L1 messages its L1
//! calls process and the answers its txs consume.
//!
//! Per pool tx: a trace shows the answers it processes with an empty proof; a second trace with
//! those answers' signals received shows the messages it then sends to L1 (and that it does not
//! revert). Whether L1 really sends those answers is decided by the block's combined L1 run
//! ([`super::plan`]); a tx whose answers do not match (yet) is held back from the block, with
//! its sender's later txs, so that it does not revert for nothing.

use std::collections::HashSet;

use alloy::{
    consensus::{Transaction as _, TxEnvelope, transaction::SignerRecoverable},
    network::TransactionBuilder,
    primitives::{Address, B256},
    providers::DynProvider,
    rpc::types::TransactionRequest,
};
use bindings::Message;
use common::{ids::SignalSlot, rpc::RpcEndpoint};
use futures::{StreamExt, stream::FuturesOrdered};

use super::{
    callback::L1Side,
    l1_calls::L2Route,
    message::BridgeMessage,
    outbound::{self, BridgeSide, Reading, TraceError},
};

/// Traces of pool txs in flight at once.
const TRACE_CONCURRENCY: usize = 16;
/// Most traces of one tx while looking for the answers it consumes.
const MAX_CONSUMED_ROUNDS: usize = 4;

/// Both chains' sides of the prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReturnRoute {
    /// L1 side (Multicall, bridge, SignalService).
    pub l1: L1Side,
    /// L1 chain id.
    pub l1_chain_id: u64,
    /// L2 SignalService (where the anchor puts fast signals).
    pub l2_signal_service: Address,
}

impl ReturnRoute {
    /// Where L2 txs send messages to L1 and take answers from.
    pub fn l2_side(&self) -> BridgeSide {
        BridgeSide {
            bridge: self.l1.l2_bridge,
            dest_chain_id: self.l1_chain_id,
            src_chain_id: self.l1_chain_id,
        }
    }

    /// Where the L2→L1 messages of blocks are logged.
    pub fn l2_route(&self) -> L2Route {
        L2Route {
            bridge: self.l1.l2_bridge,
            signal_service: self.l2_signal_service,
            l2_chain_id: self.l1.l2_chain_id,
            l1_chain_id: self.l1_chain_id,
        }
    }
}

/// What one pool tx does with the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Sends these messages (none if it reverts), consumes no answer.
    Plain(Vec<Message>),
    /// Consumes these answers and, given them, sends these messages.
    Return {
        /// The L1→L2 answers it processes with an empty proof.
        consumed: Vec<BridgeMessage>,
        /// The L2→L1 messages it sends once it has them.
        sent: Vec<Message>,
    },
    /// Consumes L1→L2 messages but fails even with them as fast signals (or asks nothing of
    /// L1): no signal can help it; it goes in as it is and its status says how it ended.
    Failing(String),
    /// Not a pool tx: a call whose answers `surge_simulateReturnMessage` predicts, placed
    /// after the pool's txs; it sends these messages.
    Probe(Vec<Message>),
}

/// One pool tx (or the probe) with its sender and what it does.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its hash (zero for the probe).
    pub hash: B256,
    /// Who signed it.
    pub sender: Option<Address>,
    /// What it does with the bridges.
    pub kind: Kind,
}

impl Candidate {
    /// The call whose answers are asked for, sending `sent`.
    pub fn probe(sent: Vec<Message>) -> Self {
        Self {
            hash: B256::ZERO,
            sender: None,
            kind: Kind::Probe(sent),
        }
    }
}

/// Classifies `pool` in order, a window of traces at a time.
pub async fn classify_all(
    l2: (&RpcEndpoint, &DynProvider),
    route: &ReturnRoute,
    pool: &[TxEnvelope],
) -> Result<Vec<Candidate>, TraceError> {
    // A sliding window of traces, in pool order (written out: a stream combinator over the
    // borrowed pool defeats the compiler's Send check of the spawned tick).
    let mut candidates = Vec::with_capacity(pool.len());
    let mut next = pool.iter();
    let mut window = FuturesOrdered::new();
    for tx in next.by_ref().take(TRACE_CONCURRENCY) {
        window.push_back(classify(l2, route, tx));
    }
    while let Some(traced) = window.next().await {
        candidates.push(traced?);
        if let Some(tx) = next.next() {
            window.push_back(classify(l2, route, tx));
        }
    }
    Ok(candidates)
}

/// Traces one pool tx (twice if it consumes answers).
async fn classify(
    l2: (&RpcEndpoint, &DynProvider),
    route: &ReturnRoute,
    tx: &TxEnvelope,
) -> Result<Candidate, TraceError> {
    let sender = tx.recover_signer().ok();
    let mut request = TransactionRequest::default()
        .with_input(tx.input().clone())
        .with_value(tx.value())
        .with_gas_limit(tx.gas_limit());
    if let Some(to) = tx.to() {
        request = request.with_to(to);
    }
    if let Some(sender) = sender {
        request = request.with_from(sender);
    }
    let side = route.l2_side();
    // A tx stops at the first answer it cannot process yet: trace again with the answers
    // found so far received, until no new one shows up.
    let mut consumed: Vec<BridgeMessage> = Vec::new();
    let mut sent = Vec::new();
    let mut last = None;
    for _ in 0..MAX_CONSUMED_ROUNDS {
        let slots: Vec<SignalSlot> = consumed.iter().map(|m| m.slot).collect();
        let overrides = (!slots.is_empty())
            .then(|| outbound::fast_signal_override(route.l2_signal_service, &slots));
        let frame = outbound::trace(l2.0, l2.1, request.clone(), overrides).await?;
        let found = outbound::read(&frame, &side, Reading::Lenient).consumed;
        let strict = outbound::read(&frame, &side, Reading::Strict);
        let before = consumed.len();
        for m in found {
            let m = BridgeMessage::new(m, route.l1.bridge);
            if !consumed.contains(&m) {
                consumed.push(m);
            }
        }
        sent = strict.sent;
        last = Some(
            strict
                .reverted
                .then(|| super::simulate::revert_text(&frame)),
        );
        if consumed.len() == before {
            break;
        }
    }
    let kind = match (consumed.is_empty(), last.flatten()) {
        (true, _) => Kind::Plain(sent),
        (false, None) if !sent.is_empty() => Kind::Return { consumed, sent },
        (false, None) => Kind::Failing(
            "it consumes L1→L2 messages that are not answers to messages it sends to L1".into(),
        ),
        (false, Some(why)) => Kind::Failing(format!(
            "it reverts even with the L1 answers it consumes ({why})"
        )),
    };
    if let Kind::Failing(why) = &kind {
        tracing::info!(tx = %tx.tx_hash(), %why,
            "pool tx consumes L1→L2 messages but no fast signal can help it; included as it is");
    }
    Ok(Candidate {
        hash: *tx.tx_hash(),
        sender,
        kind,
    })
}

/// How a tx of the block consumes L1 answers, which decides what its status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumption {
    /// Its answers are the block's return signals.
    Answered(Vec<BridgeMessage>),
    /// Held back too long: it goes in without its answers.
    GivenUp,
    /// No answer can help it (see [`Kind::Failing`]).
    Failing(String),
}

/// One arrangement of the block: which candidates are in, the L2→L1 messages their L1 calls
/// process (numbered in block order; only those with a gas limit, as the L1 calls), and
/// which txs consume answers.
#[derive(Debug, Clone, Default)]
pub struct Arranged {
    /// Indexes of the candidates in the block, in order.
    pub included: Vec<usize>,
    /// The L2→L1 messages processed on L1, in order.
    pub l1_messages: Vec<BridgeMessage>,
    /// Per L2→L1 message, the candidate that sent it.
    pub senders: Vec<usize>,
    /// Per included tx that consumes L1→L2 messages: its candidate index, how, and the
    /// indexes of its own messages in `l1_messages`.
    pub consumers: Vec<(usize, Consumption, Vec<usize>)>,
}

impl Arranged {
    /// Whether the block carries return signals.
    pub fn has_returns(&self) -> bool {
        self.consumers
            .iter()
            .any(|(_, c, _)| matches!(c, Consumption::Answered(_)))
    }

    /// The indexes in `l1_messages` of the probe's messages.
    pub fn probe_messages(&self, candidates: &[Candidate]) -> Vec<usize> {
        (0..self.l1_messages.len())
            .filter(|&i| matches!(candidates[self.senders[i]].kind, Kind::Probe(_)))
            .collect()
    }
}

/// Lays the block out: candidates in `held` (and Return txs when not `allowed`) are left out
/// with their senders' later txs; Return txs in `plain` go in without their answers.
pub fn arrange(
    candidates: &[Candidate],
    allowed: bool,
    held: &HashSet<B256>,
    plain: &HashSet<B256>,
    route: &ReturnRoute,
) -> Arranged {
    let mut out = Arranged::default();
    let mut stopped: HashSet<Address> = HashSet::new();
    let mut l2_sent = 0u64;
    for (i, c) in candidates.iter().enumerate() {
        if c.sender.is_some_and(|s| stopped.contains(&s)) {
            continue;
        }
        let leave_out = held.contains(&c.hash)
            || (matches!(c.kind, Kind::Return { .. }) && !allowed && !plain.contains(&c.hash));
        if leave_out {
            stopped.extend(c.sender);
            continue;
        }
        let (sent, consumption) = match &c.kind {
            Kind::Plain(sent) | Kind::Probe(sent) => (sent.as_slice(), None),
            Kind::Return { .. } if plain.contains(&c.hash) => (&[][..], Some(Consumption::GivenUp)),
            Kind::Return { consumed, sent } => (
                sent.as_slice(),
                Some(Consumption::Answered(consumed.clone())),
            ),
            Kind::Failing(why) => (&[][..], Some(Consumption::Failing(why.clone()))),
        };
        out.included.push(i);
        let mut indexes = Vec::new();
        // Each tx was traced alone on the parent state: the L2 bridge numbers this block's
        // messages after those of the txs before it.
        let offset = l2_sent;
        l2_sent += sent.len() as u64;
        for m in sent {
            let mut m = m.clone();
            m.id += offset;
            let message = BridgeMessage::new(m, route.l1.l2_bridge);
            if message.message.gasLimit != 0 {
                indexes.push(out.l1_messages.len());
                out.l1_messages.push(message);
                out.senders.push(i);
            }
        }
        if let Some(consumption) = consumption {
            out.consumers.push((i, consumption, indexes));
        }
    }
    out
}

/// The candidates whose consumed answers L1 would not send, given `answers` (per L2→L1
/// message of `block`, what its processing sent back).
pub fn unmatched(block: &Arranged, answers: &[Vec<BridgeMessage>]) -> Vec<usize> {
    block
        .consumers
        .iter()
        .filter_map(|(i, consumption, indexes)| {
            let Consumption::Answered(consumed) = consumption else {
                return None;
            };
            let produced: HashSet<B256> = indexes
                .iter()
                .filter_map(|&j| answers.get(j))
                .flatten()
                .map(|m| m.hash)
                .collect();
            (!consumed.iter().all(|m| produced.contains(&m.hash))).then_some(*i)
        })
        .collect()
}

/// A route of made-up addresses, for unit tests.
#[cfg(test)]
pub(crate) const TEST_ROUTE: ReturnRoute = ReturnRoute {
    l1: L1Side {
        multicall: Address::repeat_byte(0x3c),
        proposer: Address::repeat_byte(0x0e),
        bridge: Address::repeat_byte(0xb1),
        signal_service: Address::repeat_byte(0x51),
        l2_bridge: Address::repeat_byte(0xb2),
        l2_chain_id: 167_001,
    },
    l1_chain_id: 3_151_908,
    l2_signal_service: Address::repeat_byte(0x52),
};

#[cfg(test)]
mod tests;
