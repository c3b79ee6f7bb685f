//! A user op's way in: its simulation alone on L1 at intake, and the settling at start-up of the
//! ops a previous run left unfinished.

use alloy::{primitives::Address, providers::DynProvider};
use common::rpc::RpcEndpoint;

use super::{
    rpc::Accepted,
    simulate::{self, MessageRoute, Simulated},
    status::{ReadyOp, Retry, StatusError, StatusStore, UserOpStatus},
};
use crate::proposal_store::{ProposalStore, ProposalStoreError};

/// Simulates one op and stores the verdict; true when it must be tried again.
pub(super) async fn simulate_and_record(
    l1: &RpcEndpoint,
    provider: &DynProvider,
    from: Address,
    route: &MessageRoute,
    statuses: &StatusStore,
    accepted: &Accepted,
) -> bool {
    let outcome = match simulate::simulate(l1, provider, from, &accepted.op, route).await {
        Ok(Simulated::Messages(messages)) => {
            tracing::info!(user_op = %accepted.id, messages = messages.len(),
                "user op simulated on L1; waiting for a block");
            statuses
                .ready(ReadyOp {
                    id: accepted.id,
                    op: accepted.op.clone(),
                    messages,
                })
                .await
        }
        Ok(Simulated::Rejected(reason)) => {
            tracing::info!(user_op = %accepted.id, %reason, "user op rejected");
            statuses
                .set(&[accepted.id.into()], UserOpStatus::Rejected { reason })
                .await
        }
        Err(error) => {
            crate::metrics::bridge().simulation_errors.inc();
            tracing::warn!(user_op = %accepted.id, %error, "L1 simulation of a user op failed; retrying");
            return true;
        }
    };
    if let Err(error) = outcome {
        tracing::error!(user_op = %accepted.id, %error, "user op verdict not saved; retrying");
        return true;
    }
    false
}

/// Ops to simulate again; settles the rest: an op whose proposal is stored waits for it, one
/// in a proposal that no longer exists was never executed (the submitter records Executed
/// before it forgets a landed proposal) and is retried. Statuses are read before proposals,
/// so a proposal sealed or landed in between is never mistaken for a lost one.
pub(super) async fn recover(
    statuses: &StatusStore,
    proposals: &ProposalStore,
    disabled: Option<String>,
) -> Result<Vec<Accepted>, RecoverError> {
    let unfinished = statuses.unfinished()?;
    let stored = proposals.all()?;
    let in_proposal = |id| {
        stored
            .iter()
            .find(|p| p.user_ops.iter().any(|op| op.id == id))
            .map(|p| p.checkpoint.number)
    };
    let mut again = Vec::new();
    for op in unfinished {
        let status = match (&op.status, in_proposal(op.id), &disabled) {
            (UserOpStatus::Pending, Some(block_id), _) => UserOpStatus::ProvingBlock { block_id },
            (_, Some(_), _) => continue,
            (_, None, Some(reason)) => UserOpStatus::Rejected {
                reason: reason.clone(),
            },
            (UserOpStatus::Pending, None, None) => {
                match (op.ready, op.op) {
                    (true, _) => {} // the BatchManager takes it
                    (false, Some(user_op)) => again.push(Accepted {
                        id: op.id,
                        op: user_op,
                    }),
                    (false, None) => {
                        tracing::error!(user_op = %op.id, "pending user op has no stored content")
                    }
                }
                continue;
            }
            (_, None, None) => {
                // Its proposal was abandoned (a landed one is forgotten only after its ops
                // are Executed): it did not run, through no fault of its own.
                statuses
                    .retry(
                        vec![Retry::Resimulate(op.id)],
                        "its proposal was dropped while the node restarted".into(),
                    )
                    .await?;
                if let (Ok(Some(UserOpStatus::Pending)), Some(user_op)) =
                    (statuses.get(op.id), op.op)
                {
                    again.push(Accepted {
                        id: op.id,
                        op: user_op,
                    });
                }
                continue;
            }
        };
        tracing::info!(user_op = %op.id, ?status, "settling a user op left by the previous run");
        statuses.set(&[op.id.into()], status).await?;
    }
    Ok(again)
}

/// The ops a previous run left could not be settled yet (tried again after a pause).
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// The user-op store failed.
    #[error(transparent)]
    Statuses(#[from] StatusError),
    /// The proposal store failed.
    #[error(transparent)]
    Proposals(#[from] ProposalStoreError),
}
