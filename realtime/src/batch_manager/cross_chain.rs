//! The cross-chain part of a tick's observation: the ready user ops, the pool's txs traced for
//! the L1 answers they consume, and the block's plan from one combined L1 run
//! ([`crate::bridge::plan`]) on the state after everything still ahead of it on L1.

use std::collections::{HashMap, HashSet};

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256},
    providers::DynProvider,
};
use common::{ids::UserOpId, supervisor::Handle};

use super::clients::Clients;
use crate::{
    bridge::{
        BridgeHandler,
        ahead::{self, Ahead},
        plan::{self, BlockPlan, PlanInput},
        protocol::TakeReadyOps,
        returns::{self, Candidate, Consumption, Kind, ReturnRoute},
        signals::ReturnSignals,
        status::{ReadyOp, StatusError, StatusStore, UserOpStatus},
        tx_outcome,
    },
    proposal_store::ProposalStore,
};

/// Most user ops one block carries.
const MAX_USER_OPS_PER_BLOCK: usize = 16;

/// What a block's cross-chain content is planned from.
pub struct CrossChainSource {
    /// Both chains' contracts.
    pub route: ReturnRoute,
    /// The RealTimeInbox (its head says what is on L1 already).
    pub inbox: Address,
    /// Tracked txs' statuses.
    pub statuses: StatusStore,
    /// Who hands out the ready user ops.
    pub bridge: Handle<BridgeHandler>,
    /// Unlanded proposals (their calls run on L1 before this block's).
    pub store: ProposalStore,
    /// Whether the block may carry user ops and return signals (no earlier proposal with
    /// either is unlanded).
    pub allowed: bool,
    /// Txs held back long enough: they go in without their answers.
    pub give_up: HashSet<B256>,
    /// Txs that reverted in a block although their answers were there, and why: no answer
    /// helps them.
    pub failing: HashMap<B256, String>,
}

/// The block's cross-chain content.
#[derive(Debug, Clone, Default)]
pub struct CrossChainContent {
    /// User ops, with the messages the block's L1 run saw them send.
    pub ops: Vec<ReadyOp>,
    /// Ops that revert in the block's L1 run, with why.
    pub rejected: Vec<(UserOpId, String)>,
    /// The L2→L1→L2 txs and their return signals.
    pub returns: ReturnSignals,
    /// How each tracked tx consumes answers (decides what its status says).
    pub consumers: Vec<(B256, Consumption)>,
    /// Txs left out of the block.
    pub held: Vec<B256>,
}

/// The ready ops the block may take, when it may take any. A bridge handler that is not running
/// (restarting) or does not answer hands out none: the ops wait for a later block.
pub async fn ready_ops(source: &CrossChainSource) -> Result<Vec<ReadyOp>, StatusError> {
    if !source.allowed {
        return Ok(Vec::new());
    }
    take_ready_ops(&source.bridge, MAX_USER_OPS_PER_BLOCK)
        .await
        .map(Option::unwrap_or_default)
}

/// Asks the bridge handler for up to `max` ready ops; `None` when it is not running or did not
/// answer in time.
pub async fn take_ready_ops(
    bridge: &Handle<BridgeHandler>,
    max: usize,
) -> Result<Option<Vec<ReadyOp>>, StatusError> {
    let asked = match bridge.current() {
        Ok(handler) => handler.request(TakeReadyOps { max }).await,
        Err(e) => {
            tracing::debug!(error = %e, "ready user ops wait for the bridge handler");
            return Ok(None);
        }
    };
    match asked {
        Ok(ops) => ops.map(Some),
        Err(e) => {
            tracing::warn!(error = %e, "the bridge handler did not hand out the ready user ops; they wait for a later block");
            Ok(None)
        }
    }
}

/// Plans `ops` and the pool's txs into the block on `parent`; `op_gas` is the L2 gas kept
/// free for the ops' txs. Returns the pool txs that go in and the content.
pub async fn plan(
    clients: &Clients,
    (l1, l2): (&DynProvider, &DynProvider),
    source: &CrossChainSource,
    (ops, op_gas): (Vec<ReadyOp>, u64),
    pool: Vec<TxEnvelope>,
    parent: u64,
) -> (Vec<TxEnvelope>, CrossChainContent) {
    let candidates = match returns::classify_all((&clients.l2, l2), &source.route, &pool).await {
        Ok(candidates) => candidates,
        Err(error) => {
            tracing::warn!(%error, "cannot trace the pool's txs for L2→L1→L2 calls; the block takes them as they are and no user ops");
            return (pool, CrossChainContent::default());
        }
    };
    let candidates = mark_failing(candidates, &source.failing, &source.statuses);
    let predicts = !ops.is_empty()
        || candidates
            .iter()
            .any(|c| matches!(c.kind, Kind::Return { .. }));
    let ahead = if predicts && source.allowed {
        ahead::read(
            (&clients.l1, l1),
            (&clients.l2, l2),
            source.inbox,
            &source.route,
            &source.store,
            parent,
        )
        .await
        .map_err(|e| e.to_string())
    } else {
        Ok(Ahead::none(0))
    };
    let (ahead, allowed) = match ahead {
        Ok(ahead) => (ahead, source.allowed),
        Err(error) => {
            tracing::warn!(%error, "cannot read what is ahead on L1; this block takes no user ops and holds L2→L1→L2 txs back");
            (Ahead::none(0), false)
        }
    };
    let input = PlanInput {
        route: &source.route,
        ahead: &ahead,
        ops,
        candidates: &candidates,
        allowed,
        give_up: &source.give_up,
        op_gas,
    };
    let plan = match plan::plan((&clients.l1, l1), input).await {
        Ok(plan) => plan,
        Err(error) => {
            tracing::warn!(%error, "the block's L1 run failed; it takes no user ops and holds L2→L1→L2 txs back");
            plan::without_predictions(&candidates, &source.route, &source.give_up)
        }
    };
    if plan.runs > 0 {
        tracing::info!(
            user_ops = plan.ops.len(),
            answers = plan.answers_consumed(),
            rejected = plan.rejected.len(),
            l1_runs = plan.runs,
            calls_ahead = ahead.calls.len(),
            "cross-chain calls of the block simulated on L1"
        );
        crate::metrics::bridge()
            .l1_runs_per_block
            .observe(plan.runs as f64);
    }
    content(pool, &candidates, plan)
}

/// Candidates the node already saw fail with their answers, or whose status is final
/// (Rejected after their attempts): no answer is predicted for them again.
fn mark_failing(
    candidates: Vec<Candidate>,
    failing: &HashMap<B256, String>,
    statuses: &StatusStore,
) -> Vec<Candidate> {
    candidates
        .into_iter()
        .map(|mut c| {
            if !matches!(c.kind, Kind::Return { .. }) {
                return c;
            }
            if let Some(why) = failing.get(&c.hash) {
                c.kind = Kind::Failing(why.clone());
            } else if let Ok(Some(tracked)) = statuses.get_tx(c.hash)
                && let UserOpStatus::Rejected { reason } = tracked.status
            {
                c.kind = Kind::Failing(reason);
            }
            c
        })
        .collect()
}

/// The pool txs the block takes and its content, from `plan`.
fn content(
    pool: Vec<TxEnvelope>,
    candidates: &[Candidate],
    plan: BlockPlan,
) -> (Vec<TxEnvelope>, CrossChainContent) {
    let mut out = CrossChainContent {
        held: plan.held(candidates),
        ..Default::default()
    };
    for (i, consumption, _) in &plan.block.consumers {
        let hash = candidates[*i].hash;
        match consumption {
            Consumption::Answered(consumed) => out
                .returns
                .push_answered(hash, consumed.iter().map(|m| m.slot)),
            Consumption::GivenUp | Consumption::Failing(_) => out.returns.others.push(hash),
        }
        out.consumers.push((hash, consumption.clone()));
    }
    let included: HashSet<usize> = plan.block.included.iter().copied().collect();
    let txs = pool
        .into_iter()
        .enumerate()
        .filter(|(i, _)| included.contains(i))
        .map(|(_, tx)| tx)
        .collect();
    out.ops = plan.ops;
    out.rejected = plan.rejected;
    (txs, out)
}

/// The first status of each tracked tx of a block, from its receipt: Rejected (with why the
/// block took it) when it reverted, else Pending (with a note when it went in without its
/// answers). `hold` is how long a tx is held back, in seconds.
pub fn tracked_statuses(
    consumers: &[(B256, Consumption)],
    reverted: &HashSet<B256>,
    hold: u64,
) -> Vec<(B256, UserOpStatus, Option<String>)> {
    consumers
        .iter()
        .map(|(hash, consumption)| {
            if reverted.contains(hash) {
                (*hash, tx_outcome::rejection(consumption, hold), None)
            } else {
                (
                    *hash,
                    UserOpStatus::Pending,
                    tx_outcome::note(consumption, hold),
                )
            }
        })
        .collect()
}

/// Txs that reverted although their answers were the block's return signals: the proposal
/// requires signals that only their own L2→L1 messages make L1 send.
pub fn doomed(consumers: &[(B256, Consumption)], reverted: Option<&HashSet<B256>>) -> Vec<B256> {
    let Some(reverted) = reverted else {
        return Vec::new();
    };
    consumers
        .iter()
        .filter(|(hash, c)| matches!(c, Consumption::Answered(_)) && reverted.contains(hash))
        .map(|(hash, _)| *hash)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reverted_tx_is_rejected_and_only_an_answered_one_dooms_its_block() {
        let (answered, given_up, fine) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        );
        let consumers = vec![
            (answered, Consumption::Answered(vec![])),
            (given_up, Consumption::GivenUp),
            (fine, Consumption::GivenUp),
        ];
        let reverted: HashSet<B256> = [answered, given_up].into();
        let statuses = tracked_statuses(&consumers, &reverted, 30);
        assert!(matches!(statuses[0].1, UserOpStatus::Rejected { .. }));
        assert!(matches!(statuses[1].1, UserOpStatus::Rejected { .. }));
        assert_eq!(statuses[2].1, UserOpStatus::Pending);
        assert!(
            statuses[2]
                .2
                .as_deref()
                .is_some_and(|n| n.contains("held back 30 s"))
        );
        assert_eq!(doomed(&consumers, Some(&reverted)), vec![answered]);
        assert!(doomed(&consumers, None).is_empty());
    }
}
