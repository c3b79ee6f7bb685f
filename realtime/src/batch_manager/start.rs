//! What the batch manager reads once before its first tick: the chains' facts, the L1 slot
//! clock, and the blocks preconfirmed before a restart.

use std::time::Duration;

use alloy::{
    consensus::Transaction as _,
    eips::BlockNumberOrTag,
    primitives::Address,
    providers::{DynProvider, Provider},
    sol_types::SolCall,
};
use bindings::{IAnchor, IRealTimeInbox};
use common::supervisor::Handle;

use crate::{
    bridge::{BridgeHandler, protocol::TakeReadyOps},
    bridge::{
        callback::{self, L1Side},
        config::CrossChainContracts,
        returns::ReturnRoute,
    },
    proposal_store::ProposalStore,
    restart::{self, Rebuilt},
    slot_clock::SlotClock,
};

use super::{clients::Clients, io::TickError};

/// Facts read once at start-up.
pub struct StartFacts {
    /// Connected L1 provider.
    pub l1: DynProvider,
    /// Connected L2 provider.
    pub l2: DynProvider,
    /// L2 chain id.
    pub l2_chain_id: u64,
    /// The inbox's basefee-sharing percentage.
    pub basefee_sharing_pctg: u8,
    /// The L1 block the current L2 head anchors to (0 at genesis).
    pub last_anchor: u64,
    /// The L1 slot clock, if the beacon answered.
    pub clock: Result<SlotClock, String>,
    /// Where L2→L1→L2 answers are predicted (with cross-chain contracts).
    pub returns: Option<ReturnRoute>,
    /// The blocks preconfirmed before a restart that the open proposal takes back (when the
    /// node proposes).
    pub rebuilt: Option<Rebuilt>,
    /// The L1 head at start: ticks anchor on it until the chain monitor tells a newer one (it
    /// tells only changes, so a restarted batch manager would otherwise wait for an L1 block).
    pub l1_head: u64,
}

/// How long the start waits for the bridge handler (started right after the batch manager).
const BRIDGE_START_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// What start-up rebuilds the open proposal from: the stored proposals and how old an anchor
/// may be.
pub struct RebuildFrom<'a> {
    /// Sealed, unlanded proposals.
    pub store: &'a ProposalStore,
    /// Who hands out the ops waiting for a block (a block inserted while the node died may
    /// carry some).
    pub bridge: &'a Handle<BridgeHandler>,
    /// Largest `L1 head − anchor` a proposal may have.
    pub max_anchor_age: u64,
}

/// Reads the start-up facts.
pub async fn start_facts(
    clients: &Clients,
    inbox: Address,
    (beacon, fallback_slot): (&url::Url, Duration),
    cross_chain: Option<(CrossChainContracts, Address)>,
    rebuild_from: Option<RebuildFrom<'_>>,
) -> Result<StartFacts, TickError> {
    let l1 = clients.l1.connect().await.map_err(TickError::L1)?;
    let l2 = clients.l2.connect().await.map_err(TickError::L2)?;
    let l2_chain_id = clients
        .l2
        .call(l2.get_chain_id())
        .await
        .map_err(TickError::L2)?;
    let config = clients
        .l1
        .call(IRealTimeInbox::new(inbox, &l1).getConfig().call())
        .await
        .map_err(TickError::L1)?;
    let head = clients
        .l2
        .call(l2.get_block_by_number(BlockNumberOrTag::Latest).full())
        .await
        .map_err(TickError::L2)?
        .ok_or_else(|| TickError::Missing("the L2 has no latest block".into()))?;
    let last_anchor = head
        .transactions
        .txns()
        .next()
        .and_then(|tx| IAnchor::anchorV4WithSignalSlotsCall::abi_decode(tx.input()).ok())
        .map_or(0, |call| call._checkpoint.blockNumber.to::<u64>());
    let clock =
        SlotClock::fetch(&clients.http, beacon, fallback_slot, Duration::from_secs(2)).await;
    let returns = match cross_chain {
        None => None,
        Some((contracts, proposer)) => {
            let l1_chain_id = clients
                .l1
                .call(l1.get_chain_id())
                .await
                .map_err(TickError::L1)?;
            let route = ReturnRoute {
                l1: L1Side {
                    multicall: contracts.multicall,
                    proposer,
                    bridge: contracts.l1_bridge,
                    signal_service: config.signalService,
                    l2_bridge: contracts.l2_bridge,
                    l2_chain_id,
                },
                l1_chain_id,
                l2_signal_service: contracts.l2_signal_service,
            };
            callback::check_layout(&clients.l1, &l1, &route.l1).await?;
            Some(route)
        }
    };
    let l1_head = clients.l1.block_number(&l1).await.map_err(TickError::L1)?;
    let rebuilt = match rebuild_from {
        None => None,
        Some(from) => {
            let landed = restart::inbox_head(&clients.l1, &l1, &clients.l2, &l2, inbox).await?;
            let stored = from
                .store
                .all()
                .map_err(|e| TickError::Restart(e.to_string()))?;
            let (_, _, tip) = restart::continuing(&clients.l2, &l2, stored, landed).await?;
            let ready = match tokio::time::timeout(BRIDGE_START_WAIT, from.bridge.live()).await {
                Ok(Ok(handler)) => handler
                    .request(TakeReadyOps { max: usize::MAX })
                    .await
                    .map_err(|e| {
                        TickError::Restart(format!(
                            "asking the bridge handler for the ready user ops: {e}"
                        ))
                    })??,
                _ => {
                    return Err(TickError::Restart(format!(
                        "the bridge handler did not run within {} s: the ready user ops are needed to take back blocks with fast signals",
                        BRIDGE_START_WAIT.as_secs()
                    )));
                }
            };
            Some(
                restart::rebuild(
                    &clients.l2,
                    &l2,
                    (tip.number, head.header.number),
                    l1_head,
                    (from.max_anchor_age, &ready),
                )
                .await
                .map_err(TickError::L2)?,
            )
        }
    };
    Ok(StartFacts {
        l1_head,
        rebuilt,
        returns,
        l1,
        l2,
        l2_chain_id,
        basefee_sharing_pctg: config.basefeeSharingPctg,
        last_anchor,
        clock,
    })
}
