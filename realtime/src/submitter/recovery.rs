//! What the submitter does before it takes new proposals: finish the L1 tx a previous run left
//! in the journal, read the inbox's head, and keep the stored proposals that still continue it
//! (the others are settled: landed, or their ops retried). The L2 blocks after the kept ones are
//! the batch manager's to rebuild ([`crate::restart`]).

use alloy::{eips::BlockNumHash, primitives::Address, providers::Provider};
use bindings::IRealTimeInbox;
use common::{
    rpc::RpcEndpoint,
    supervisor::Subscriber,
    tx_manager::{TxError, TxManager, TxManagerConfig, journal::Journal},
};

use crate::{
    batch_manager::protocol::{ProposalSettled, Settled},
    bridge::{
        status::{StatusError, StatusStore},
        tx_outcome::{self, SettleError},
    },
    chain_read::ChainReadError,
    proposal_store::{ProposalRecord, ProposalStore, ProposalStoreError},
    restart::{self, ReadBackError},
};

/// The state the submitter starts from.
pub struct Recovered {
    /// The proposer's tx manager.
    pub manager: TxManager,
    /// The inbox's basefee-sharing percentage.
    pub basefee_sharing_pctg: u8,
    /// The inbox's head as an L2 block.
    pub landed: BlockNumHash,
    /// Stored proposals that continue it, in order.
    pub queue: Vec<ProposalRecord>,
    /// The L2 chain id.
    pub l2_chain_id: u64,
}

/// Everything recovery touches.
pub struct RecoveryInput<'a> {
    /// L1.
    pub l1: &'a RpcEndpoint,
    /// Further L1 endpoints txs are published to.
    pub l1_backups: &'a [RpcEndpoint],
    /// L2.
    pub l2: &'a RpcEndpoint,
    /// The inbox.
    pub inbox: Address,
    /// Unlanded proposals.
    pub store: &'a ProposalStore,
    /// Statuses of the user ops they carry.
    pub statuses: &'a StatusStore,
    /// The L1 tx journal.
    pub journal: Journal,
    /// The proposer key.
    pub signer: alloy::signers::local::PrivateKeySigner,
    /// Tx settings.
    pub tx: TxManagerConfig,
    /// The batch manager, told of every proposal recovery drops from the store.
    pub settled: Subscriber<ProposalSettled>,
}

/// Why the submitter could not recover yet (it tries again after a backoff).
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// The chains could not be read.
    #[error(transparent)]
    Chain(#[from] ChainReadError),
    /// The tx manager or its journal failed.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// What landed could not be read back.
    #[error(transparent)]
    ReadBack(#[from] ReadBackError),
    /// The proposal store failed.
    #[error(transparent)]
    Store(#[from] ProposalStoreError),
    /// The user-op store failed.
    #[error(transparent)]
    Statuses(#[from] StatusError),
    /// A landed proposal's statuses could not be recorded.
    #[error(transparent)]
    Settle(#[from] SettleError),
}

/// Runs the recovery; an error is retried by the caller.
pub async fn recover(input: RecoveryInput<'_>) -> Result<Recovered, RecoveryError> {
    let l1p = input.l1.connect().await.map_err(ChainReadError::Connect)?;
    let l2p = input.l2.connect().await.map_err(ChainReadError::Connect)?;
    let config = input
        .l1
        .call(IRealTimeInbox::new(input.inbox, &l1p).getConfig().call())
        .await
        .map_err(ChainReadError::InboxConfig)?;
    let manager = TxManager::connect(
        input.l1.clone(),
        l1p.clone(),
        input.signer,
        input.journal,
        input.tx,
    )
    .await?;
    let mut backups = Vec::new();
    for endpoint in input.l1_backups {
        match endpoint.connect().await {
            Ok(provider) => backups.push((endpoint.clone(), provider)),
            Err(e) => tracing::warn!(endpoint = %endpoint.display(), error = %e,
                "backup L1 endpoint unavailable; txs go to the others"),
        }
    }
    let mut manager = manager.with_backups(backups);
    for entry in manager.pending()? {
        let (nonce, proposal) = (entry.nonce, entry.proposal);
        match manager.resume(entry).await {
            Ok(included) => {
                tracing::info!(nonce, %proposal, hash = %included.receipt.transaction_hash,
                "the L1 tx journaled before the restart was mined")
            }
            Err(e) => tracing::warn!(nonce, %proposal, error = %e,
                "the L1 tx journaled before the restart did not land; its proposal is re-checked against the inbox"),
        }
    }
    let landed = restart::inbox_head(input.l1, &l1p, input.l2, &l2p, input.inbox).await?;
    let l2_chain_id = input
        .l2
        .call(l2p.get_chain_id())
        .await
        .map_err(ChainReadError::L2ChainId)?;
    let stored = input.store.all()?;
    let (queue, dropped, _) = restart::continuing(input.l2, &l2p, stored, landed).await?;
    for record in dropped {
        let why = if record.checkpoint.number <= landed.number {
            "landed"
        } else {
            "does not continue the inbox head"
        };
        tracing::info!(proposal = %record.id, why, "dropping a stored proposal");
        if record.checkpoint.number <= landed.number {
            tx_outcome::settle_landed(input.statuses, (input.l2, &l2p), &record).await?;
        } else {
            // Its journaled tx did not land (resumed above): nothing of it ran.
            input
                .statuses
                .retry(
                    record.retries(),
                    "its proposal no longer continued the L1 inbox when the node restarted".into(),
                )
                .await?;
        }
        input.store.remove(record.id)?;
        // It may be counted as unlanded by a batch manager that read the store before.
        let _ = input.settled.send(ProposalSettled {
            id: record.id,
            how: Settled::Dropped,
        });
    }
    // The L2 blocks after the kept proposals stay: the batch manager rebuilds its open
    // proposal from them (crate::restart).
    tracing::info!(
        inbox_head = landed.number,
        resubmit = queue.len(),
        "submitter recovered"
    );
    Ok(Recovered {
        manager,
        basefee_sharing_pctg: config.basefeeSharingPctg,
        landed,
        queue,
        l2_chain_id,
    })
}
