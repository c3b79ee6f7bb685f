//! The cross-chain content of one block: which user ops and which L2→L1→L2 txs it carries, and
//! the predictions it commits to (each op's L1→L2 messages, each tx's answers). Everything is
//! decided by the combined L1 run ([`super::l1_run`]) of the proposal's Multicall as it will
//! run, on the state after the calls already committed ahead ([`super::ahead`]).
//!
//! A run that a call of the block fails takes that call out, with its own reason, and runs
//! again: an op that reverts after the ops before it is rejected, the tx whose L2→L1 message
//! cannot be processed is held back, a tx whose answers L1 would not send is held back (or,
//! held too long, goes in without them). A block never carries a prediction the last run did
//! not confirm. In the common case (nothing fails) a block costs one run, whatever the number
//! of ops and answers.

use std::collections::HashSet;

use alloy::{primitives::B256, providers::DynProvider};
use common::{ids::UserOpId, rpc::RpcEndpoint};

use super::{
    ahead::Ahead,
    l1_run::{self, RunInput, RunOutcome, Step},
    l2_calls,
    message::BridgeMessage,
    outbound::TraceError,
    returns::{Arranged, Candidate, Kind, ReturnRoute, arrange, unmatched},
    status::ReadyOp,
};

/// Most L1 runs for one block before it goes without cross-chain content.
const MAX_RUNS: usize = 8;

pub mod error;

pub use error::PlanError;

/// What a block may carry, and where it stands.
pub struct PlanInput<'a> {
    /// Both chains' contracts.
    pub route: &'a ReturnRoute,
    /// Calls committed before this block's.
    pub ahead: &'a Ahead,
    /// Ready user ops, in id order.
    pub ops: Vec<ReadyOp>,
    /// The block's candidate txs, in pool order (and the probe last, for the RPC).
    pub candidates: &'a [Candidate],
    /// Whether the block may carry user ops and return signals.
    pub allowed: bool,
    /// Txs held back long enough: they go in without their answers.
    pub give_up: &'a HashSet<B256>,
    /// L2 gas the ops' processMessage txs may use.
    pub op_gas: u64,
}

/// The block's cross-chain content.
#[derive(Debug, Clone, Default)]
pub struct BlockPlan {
    /// The ops it carries, their messages as the last run sent them.
    pub ops: Vec<ReadyOp>,
    /// Ops the run showed cannot run in it, with why (their own failure: rejected).
    pub rejected: Vec<(UserOpId, String)>,
    /// Its txs and what they consume.
    pub block: Arranged,
    /// Per L2→L1 message of the block, the answers the last run sent for it.
    pub answers: Vec<Vec<BridgeMessage>>,
    /// L1 runs it took.
    pub runs: usize,
    /// Why it carries no cross-chain content although it had some to carry, if so.
    pub blocked: Option<String>,
}

impl BlockPlan {
    /// Candidates left out of the block.
    pub fn held(&self, candidates: &[Candidate]) -> Vec<B256> {
        let included: HashSet<usize> = self.block.included.iter().copied().collect();
        (0..candidates.len())
            .filter(|i| !included.contains(i))
            .map(|i| candidates[i].hash)
            .collect()
    }

    /// How many answers its txs consume (return signals).
    pub fn answers_consumed(&self) -> usize {
        self.block
            .consumers
            .iter()
            .map(|(_, c, _)| match c {
                super::returns::Consumption::Answered(consumed) => consumed.len(),
                _ => 0,
            })
            .sum()
    }
}

/// Plans the block (see the module doc).
pub async fn plan(
    l1: (&RpcEndpoint, &DynProvider),
    input: PlanInput<'_>,
) -> Result<BlockPlan, TraceError> {
    let candidates = input.candidates;
    let has_probe = candidates.iter().any(|c| matches!(c.kind, Kind::Probe(_)));
    let mut plan = BlockPlan {
        ops: if input.allowed { input.ops } else { Vec::new() },
        ..Default::default()
    };
    let mut held: HashSet<B256> = HashSet::new();
    let mut plain: HashSet<B256> = input.give_up.clone();
    while plan.runs < MAX_RUNS {
        let block = arrange(candidates, input.allowed, &held, &plain, input.route);
        if plan.ops.is_empty() && !block.has_returns() && !has_probe {
            plan.block = block;
            return Ok(plan);
        }
        plan.runs += 1;
        let run = RunInput {
            ahead: input.ahead,
            ops: &plan.ops,
            messages: &block.l1_messages,
        };
        match l1_run::run(l1.0, l1.1, &input.route.l1, &run).await? {
            RunOutcome::Failed {
                step: Some(Step::Op(i)),
                why,
            } => {
                let op = plan.ops.remove(i);
                tracing::info!(user_op = %op.id, %why, "user op reverts in its block's L1 run; rejected");
                plan.rejected.push((
                    op.id,
                    format!(
                        "the op reverts on L1 when it runs in its block after the calls ahead of it ({why}); it did not run"
                    ),
                ));
            }
            RunOutcome::Failed {
                step: Some(Step::Message(j)),
                why,
            } => {
                let sender = &candidates[block.senders[j]];
                if matches!(sender.kind, Kind::Probe(_)) {
                    plan.blocked = Some(format!(
                        "processing the call's message on L1 reverts ({why})"
                    ));
                    plan.block = block;
                    return Ok(plan);
                }
                tracing::info!(tx = %sender.hash, %why,
                    "an L2→L1 message of a pool tx cannot be processed on L1; the tx is held back");
                held.insert(sender.hash);
            }
            RunOutcome::Failed { step, why } => {
                let why = match step {
                    Some(Step::Ahead(i)) => format!(
                        "call {i} of the proposals not on L1 yet reverts now ({why}); they will not land as they are"
                    ),
                    _ => format!("the L1 multicall reverts ({why})"),
                };
                return Ok(nothing(candidates, input.route, &held, &plain, plan, why));
            }
            RunOutcome::Ran {
                op_messages,
                answers,
            } => {
                if take_messages(&mut plan, op_messages) {
                    continue; // an op left: the others run on another state
                }
                if l2_calls::reserved_gas(&plan.ops) > input.op_gas {
                    // Sent more than their intake simulation said: the last waits for a block.
                    plan.ops.pop();
                    continue;
                }
                if let Some(&i) = unmatched(&block, &answers).first() {
                    // Only the first: its answers may be what shifted the ids of the later ones.
                    let hash = candidates[i].hash;
                    if input.give_up.contains(&hash) {
                        plain.insert(hash);
                    } else {
                        held.insert(hash);
                    }
                    continue;
                }
                plan.block = block;
                plan.answers = answers;
                return Ok(plan);
            }
        }
    }
    let why = format!("no consistent prediction after {MAX_RUNS} L1 runs");
    Ok(nothing(candidates, input.route, &held, &plain, plan, why))
}

/// The block without any prediction: no ops, Return txs held back (or, held long enough, in
/// without their answers); no L1 run.
pub fn without_predictions(
    candidates: &[Candidate],
    route: &ReturnRoute,
    give_up: &HashSet<B256>,
) -> BlockPlan {
    BlockPlan {
        block: arrange(candidates, false, &HashSet::new(), give_up, route),
        ..Default::default()
    }
}

/// Gives each op the messages the run saw it send; an op that sent none is rejected. True
/// when one was.
fn take_messages(plan: &mut BlockPlan, op_messages: Vec<Vec<BridgeMessage>>) -> bool {
    let before = plan.rejected.len();
    let ops = std::mem::take(&mut plan.ops);
    for (mut op, messages) in ops.into_iter().zip(op_messages) {
        if messages.is_empty() {
            plan.rejected.push((
                op.id,
                format!(
                    "{} (when it runs in its block after the calls ahead of it)",
                    super::simulate::NO_MESSAGE
                ),
            ));
        } else {
            op.messages = messages;
            plan.ops.push(op);
        }
    }
    plan.rejected.len() > before
}

/// A block without cross-chain content: no ops, no return signals.
fn nothing(
    candidates: &[Candidate],
    route: &ReturnRoute,
    held: &HashSet<B256>,
    plain: &HashSet<B256>,
    mut plan: BlockPlan,
    why: String,
) -> BlockPlan {
    tracing::warn!(%why, "this block carries no user ops or return signals");
    plan.ops.clear();
    plan.block = arrange(candidates, false, held, plain, route);
    plan.answers.clear();
    plan.blocked = Some(why);
    plan
}
