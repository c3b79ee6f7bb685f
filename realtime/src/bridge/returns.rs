//! L2→L1→L2 txs from the pool (catalyst-reference §7.2, without §8.3–8.6): which of a block's
//! txs consume the L1 answers to their own L2→L1 messages, and the return signals the block's
//! anchor must carry for them.
//!
//! Per pool tx: a trace shows the answers it processes with an empty proof; a second trace with
//! those answers' signals received shows the messages it then sends to L1 (and that it does not
//! revert). One L1 trace of the proposal's Multicall (user ops, then `processMessage` of every
//! L2→L1 message of the block in order, see [`super::callback`]) says what L1 will answer. A tx
//! whose expected answers are all among those gets their slots as required return signals. A tx
//! whose answers do not match (yet) is held back from the block, with its sender's later txs,
//! so that it does not revert for nothing: the user ops it was built against may still arrive.
//! After `give_up` it is included like any other tx.

use std::collections::HashSet;

use alloy::{
    consensus::{Transaction as _, TxEnvelope, transaction::SignerRecoverable},
    network::TransactionBuilder,
    primitives::{Address, B256},
    providers::DynProvider,
    rpc::types::TransactionRequest,
};
use bindings::{Call, Message};
use common::{ids::SignalSlot, rpc::RpcEndpoint};
use futures::{StreamExt, stream::FuturesOrdered};
use serde::{Deserialize, Serialize};

use super::{
    callback::{self, Answers, L1Side},
    message::BridgeMessage,
    outbound::{self, BridgeSide, Reading, TraceError},
    status::ReadyOp,
};

/// Traces of pool txs in flight at once.
const TRACE_CONCURRENCY: usize = 16;
/// Rounds of re-simulation after holding txs back.
const MAX_ROUNDS: usize = 8;
/// Most traces of one tx while looking for the answers it consumes.
const MAX_CONSUMED_ROUNDS: usize = 4;

/// The L2→L1→L2 txs of a block and the return signals their anchor carries for them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnSignals {
    /// The txs (their statuses follow them by hash).
    pub txs: Vec<B256>,
    /// Slots of the L1→L2 answers they consume, in block order: the required return signals.
    pub slots: Vec<SignalSlot>,
}

impl ReturnSignals {
    /// Whether the block has none.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }
}

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
    fn l2_side(&self) -> BridgeSide {
        BridgeSide {
            bridge: self.l1.l2_bridge,
            dest_chain_id: self.l1_chain_id,
            src_chain_id: self.l1_chain_id,
        }
    }
}

/// What one pool tx does with the bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Sends these messages (none if it reverts), consumes no answer.
    Plain(Vec<Message>),
    /// Consumes these answers and, given them, sends these messages.
    Return {
        consumed: Vec<BridgeMessage>,
        sent: Vec<Message>,
    },
}

/// One pool tx with its sender and what it does.
#[derive(Debug, Clone)]
struct Candidate<'a> {
    tx: &'a TxEnvelope,
    sender: Option<Address>,
    kind: Kind,
}

/// The block's txs from the pool, with their return signals.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Txs for the block, in pool order.
    pub pool: Vec<TxEnvelope>,
    /// The return signals for those that consume L1 answers.
    pub returns: ReturnSignals,
    /// L2→L1→L2 txs held back (with their senders' later txs).
    pub held: Vec<B256>,
}

/// What the block may do with L2→L1→L2 txs.
pub struct PlanRules<'a> {
    /// Whether it may carry return signals (no earlier cross-chain proposal is unlanded).
    pub allowed: bool,
    /// Txs held long enough: included without their answers.
    pub give_up: &'a HashSet<B256>,
    /// User ops of the block: they run on L1 before the answers.
    pub ops: &'a [ReadyOp],
}

/// Plans the block's pool txs (see the module doc); `None`: the pool goes in as it is (no tx
/// consumes L1 answers).
pub async fn plan<'a>(
    l1: (&RpcEndpoint, &DynProvider),
    l2: (&RpcEndpoint, &DynProvider),
    route: &ReturnRoute,
    pool: &'a [TxEnvelope],
    rules: &PlanRules<'_>,
) -> Result<Option<Plan>, TraceError> {
    // A sliding window of traces, in pool order (written out: a stream combinator over the
    // borrowed pool defeats the compiler's Send check of the spawned tick).
    let mut candidates: Vec<Candidate<'a>> = Vec::with_capacity(pool.len());
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
    if !candidates
        .iter()
        .any(|c| matches!(c.kind, Kind::Return { .. }))
    {
        return Ok(None);
    }
    let prefix: Vec<Call> = rules.ops.iter().map(|op| op.op.call()).collect();
    let mut held: HashSet<B256> = HashSet::new();
    let mut plain: HashSet<B256> = rules.give_up.clone();
    for _ in 0..MAX_ROUNDS {
        let block = arrange(&candidates, rules.allowed, &held, &plain, route);
        if block.returns.is_empty() {
            return Ok(Some(block.into_plan(&candidates)));
        }
        let answers = callback::answers(l1.0, l1.1, &route.l1, &prefix, &block.l1_messages).await?;
        let unmatched = check(&block, &answers);
        tracing::debug!(
            returns = block.returns.len(),
            unmatched = unmatched.len(),
            "L2→L1→L2 answers simulated on L1"
        );
        if unmatched.is_empty() {
            return Ok(Some(block.into_plan(&candidates)));
        }
        // Only the first: its answers may be what shifted the ids of the later ones.
        let hash = unmatched[0];
        if rules.give_up.contains(&hash) {
            plain.insert(hash);
        } else {
            held.insert(hash);
        }
    }
    // Still no consistent prediction: no return signals this block.
    let block = arrange(&candidates, false, &held, &plain, route);
    Ok(Some(block.into_plan(&candidates)))
}

/// Traces one pool tx (twice if it consumes answers).
async fn classify<'a>(
    l2: (&RpcEndpoint, &DynProvider),
    route: &ReturnRoute,
    tx: &'a TxEnvelope,
) -> Result<Candidate<'a>, TraceError> {
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
        last = Some((strict.reverted, frame.error));
        if consumed.len() == before {
            break;
        }
    }
    let kind = match last {
        _ if consumed.is_empty() => Kind::Plain(sent),
        Some((false, _)) if !sent.is_empty() => Kind::Return { consumed, sent },
        other => {
            // It fails even with its answers, or asks nothing of L1: no signal can help it.
            tracing::info!(tx = %tx.tx_hash(), outcome = ?other,
                "pool tx consumes L1→L2 messages but fails even with them as fast signals; included as it is");
            Kind::Plain(Vec::new())
        }
    };
    Ok(Candidate { tx, sender, kind })
}

/// One arrangement of the block: which txs are in, their L2→L1 messages numbered in block
/// order, and which of them are processed on L1 (those with a gas limit, as the L1 calls).
struct Arranged {
    included: Vec<usize>,
    l1_messages: Vec<BridgeMessage>,
    /// Per included Return tx: its hash, what it consumes, and its messages' indexes in
    /// `l1_messages`.
    returns: Vec<(B256, Vec<BridgeMessage>, Vec<usize>)>,
}

impl Arranged {
    fn into_plan(self, candidates: &[Candidate]) -> Plan {
        let pool: Vec<TxEnvelope> = self
            .included
            .iter()
            .map(|&i| candidates[i].tx.clone())
            .collect();
        let included: HashSet<B256> = pool.iter().map(|t| *t.tx_hash()).collect();
        let mut returns = ReturnSignals::default();
        for (hash, consumed, _) in self.returns {
            returns.txs.push(hash);
            returns.slots.extend(consumed.iter().map(|m| m.slot));
        }
        Plan {
            pool,
            returns,
            held: candidates
                .iter()
                .map(|c| *c.tx.tx_hash())
                .filter(|h| !included.contains(h))
                .collect(),
        }
    }
}

/// Lays the block out: Return txs in `held` (or all of them when not `allowed`) are left out
/// with their senders' later txs; those in `plain` go in as txs that will revert.
fn arrange(
    candidates: &[Candidate],
    allowed: bool,
    held: &HashSet<B256>,
    plain: &HashSet<B256>,
    route: &ReturnRoute,
) -> Arranged {
    let mut out = Arranged {
        included: Vec::new(),
        l1_messages: Vec::new(),
        returns: Vec::new(),
    };
    let mut stopped: HashSet<Address> = HashSet::new();
    let mut l2_sent = 0u64;
    for (i, c) in candidates.iter().enumerate() {
        let hash = *c.tx.tx_hash();
        if c.sender.is_some_and(|s| stopped.contains(&s)) {
            continue;
        }
        let (sent, consumed) = match &c.kind {
            Kind::Plain(sent) => (sent.as_slice(), None),
            Kind::Return { .. } if plain.contains(&hash) => (&[][..], None),
            Kind::Return { .. } if !allowed || held.contains(&hash) => {
                stopped.extend(c.sender);
                continue;
            }
            Kind::Return { consumed, sent } => (sent.as_slice(), Some(consumed)),
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
            }
        }
        if let Some(consumed) = consumed {
            out.returns.push((hash, consumed.clone(), indexes));
        }
    }
    out
}

/// The Return txs whose consumed answers L1 would not send.
fn check(block: &Arranged, answers: &Answers) -> Vec<B256> {
    let Answers::Each(each) = answers else {
        return block.returns.iter().map(|(h, _, _)| *h).collect();
    };
    block
        .returns
        .iter()
        .filter(|(_, consumed, indexes)| {
            let produced: HashSet<B256> = indexes
                .iter()
                .filter_map(|&i| each.get(i))
                .flatten()
                .map(|m| m.hash)
                .collect();
            !consumed.iter().all(|m| produced.contains(&m.hash))
        })
        .map(|(h, _, _)| *h)
        .collect()
}
