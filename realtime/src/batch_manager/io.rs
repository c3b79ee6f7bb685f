//! The BatchManager's I/O, run on spawned tasks so the actor never waits on the network:
//! start-up facts, the per-tick observation (L2 head, pool, L1 head), building one block, and
//! the reorg that recovers a head that moved under us.

use std::{collections::HashSet, time::Duration};

use alloy::{
    consensus::BlockHeader,
    eips::{BlockId, BlockNumberOrTag},
    primitives::{Address, B256},
    providers::{DynProvider, Provider},
};
use alloy::{consensus::transaction::SignerRecoverable, signers::local::PrivateKeySigner};
use common::{
    anchor::GOLDEN_TOUCH_ADDRESS,
    basefee::{self, ParentFacts},
    driver::{DriverError, InsertedBlock},
    engine::{EngineError, PoolQuery},
    faults::{self, FaultPoint},
    rpc::RpcError,
};
use tokio::time::Instant;

use crate::{
    block_build::{self, AssembledBlock, BlockFrame, ParentBlock},
    bridge::{
        callback::LayoutError,
        l2_calls::{self, L2CallParams},
        returns::Consumption,
        signals::ReturnSignals,
        status::{ReadyOp, StatusError},
        tx_outcome,
    },
    proposal::L1Anchor,
};

pub use super::clients::Clients;
use super::cross_chain::{self, CrossChainContent, CrossChainSource};

/// Why a tick could not finish.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    /// An L1 read failed.
    #[error("L1: {0}")]
    L1(RpcError),
    /// An L2 read failed.
    #[error("L2: {0}")]
    L2(RpcError),
    /// A block or value that must exist does not.
    #[error("{0}")]
    Missing(String),
    /// The pool could not be read.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The driver did not accept the block; `block` is set when it may still have been inserted.
    #[error(transparent)]
    Driver(DriverError),
    /// The user-op store could not be read.
    #[error(transparent)]
    UserOps(#[from] StatusError),
    /// The node's L2 signer could not sign.
    #[error("signing the L2 processMessage txs: {0}")]
    Sign(String),
    /// The deployed contracts do not have the storage layout the predictions override.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// What a restart keeps could not be read.
    #[error("reading back the blocks preconfirmed before the restart: {0}")]
    Restart(String),
    /// What landed could not be read back from the chains.
    #[error("reading back what landed: {0}")]
    ReadBack(#[from] crate::restart::ReadBackError),
    /// The block was only for pool txs and the Credible Layer left them all out.
    #[error("every pool tx was left out by the Credible Layer; no block this tick")]
    AllLeftOut,
    /// L2→L1→L2 txs whose answers the block carries fail a Credible Layer assertion.
    #[error(
        "L2→L1→L2 txs {0:?} fail a Credible Layer assertion; the block is planned again without their answers"
    )]
    AssertionFailed(Vec<B256>),
    /// A forced inclusion's blob could not be had (tried again on the next tick).
    #[error("forced inclusion blob: {0}")]
    ForcedInclusion(crate::forced_inclusion::FetchError),
}

impl TickError {
    /// Whether the tick failed because something the node needs did not work (an endpoint, the
    /// pool, the driver, its own store), rather than because of what the txs do.
    pub fn stops_production(&self) -> bool {
        !matches!(self, TickError::AllLeftOut | TickError::AssertionFailed(_))
    }

    /// Label for the failure metric.
    pub fn cause(&self) -> &'static str {
        match self {
            TickError::L1(_) => "l1_rpc",
            TickError::L2(_) => "l2_rpc",
            TickError::Missing(_) => "missing_data",
            TickError::Engine(EngineError::Malformed { .. }) => "pool_malformed",
            TickError::Engine(_) => "pool_unavailable",
            TickError::Driver(DriverError::Timeout { .. }) => "driver_timeout",
            TickError::Driver(DriverError::Rejected { .. }) => "driver_rejected",
            TickError::Driver(DriverError::Server { .. }) => "driver_error",
            TickError::Driver(_) => "driver_unavailable",
            TickError::UserOps(_) => "user_op_store",
            TickError::Sign(_) => "l2_signer",
            TickError::Layout(_) => "contract_layout",
            TickError::Restart(_) | TickError::ReadBack(_) => "restart_read",
            TickError::AssertionFailed(_) => "tracked_tx_assertion_failed",
            TickError::AllLeftOut => "all_txs_left_out",
            TickError::ForcedInclusion(_) => "forced_inclusion_blob",
        }
    }
}

/// What one tick sees.
pub struct Observation {
    /// The L2 head (the next block's parent).
    pub parent: ParentBlock,
    /// Its state root.
    pub state_root: B256,
    /// Hash of its first tx (the anchor), if any.
    pub first_tx: Option<B256>,
    /// The next block's base fee.
    pub base_fee: u64,
    /// Txs the pool offers.
    pub pool: Vec<alloy::consensus::TxEnvelope>,
    /// The L1 head number.
    pub l1_head: u64,
    /// The tick's time (the next block's timestamp), seconds.
    pub now: u64,
    /// The block's user ops and L2→L1→L2 txs, as its L1 run predicts them.
    pub cross_chain: CrossChainContent,
}

/// Inputs of an observation that come from the actor.
pub struct ObserveArgs {
    /// Fee recipient.
    pub coinbase: Address,
    /// Tx-list byte budget.
    pub max_bytes: u64,
    /// Lower base fee clamp.
    pub min_base_fee: u64,
    /// A block whose timestamp is known (saves a grandparent fetch): (hash, timestamp).
    pub known: Option<(B256, u64)>,
    /// Where user ops and L2→L1→L2 txs are planned from, with cross-chain contracts.
    pub cross_chain: Option<CrossChainSource>,
    /// The L1 head number, as the chain monitor last told it.
    pub l1_head: u64,
}

/// Reads the L2 head, the pool for the next block, and the L1 head.
pub async fn observe(
    clients: &Clients,
    l1: &DynProvider,
    l2: &DynProvider,
    args: ObserveArgs,
) -> Result<Observation, TickError> {
    let head = clients
        .l2
        .call(l2.get_block_by_number(BlockNumberOrTag::Latest))
        .await
        .map_err(TickError::L2)?
        .ok_or_else(|| TickError::Missing("the L2 has no latest block".into()))?;
    let h = &head.header;
    let grandparent_timestamp = match args.known {
        Some((hash, ts)) if hash == h.parent_hash => ts,
        _ if h.number == 0 => h.timestamp,
        _ => {
            clients
                .l2
                .call(l2.get_block_by_number(BlockNumberOrTag::Number(h.number - 1)))
                .await
                .map_err(TickError::L2)?
                .ok_or_else(|| TickError::Missing(format!("L2 block {} is missing", h.number - 1)))?
                .header
                .timestamp
        }
    };
    let parent = ParentBlock {
        number: h.number,
        hash: h.hash,
        facts: ParentFacts {
            number: h.number,
            timestamp: h.timestamp,
            gas_limit: h.gas_limit,
            gas_used: h.gas_used,
            base_fee: h
                .base_fee_per_gas
                .unwrap_or(basefee::SHASTA_INITIAL_BASE_FEE),
            grandparent_timestamp,
        },
    };
    let base_fee = parent.next_base_fee(args.min_base_fee);
    let user_ops = match &args.cross_chain {
        Some(source) => cross_chain::ready_ops(source).await?,
        None => Vec::new(),
    };
    let op_gas = l2_calls::reserved_gas(&user_ops);
    let pool = clients
        .engine
        .pool_content(&PoolQuery {
            beneficiary: args.coinbase,
            base_fee,
            max_gas: parent.gas_limit_without_anchor().saturating_sub(op_gas),
            max_bytes: args.max_bytes,
        })
        .await?;
    let (pool, cross_chain) = match &args.cross_chain {
        None => (pool, CrossChainContent::default()),
        Some(source) => {
            cross_chain::plan(
                clients,
                (l1, l2),
                source,
                (user_ops, op_gas),
                pool,
                parent.number,
            )
            .await
        }
    };
    let l1_head = args.l1_head;
    Ok(Observation {
        cross_chain,
        first_tx: head.transactions.hashes().next(),
        state_root: h.state_root(),
        parent,
        base_fee,
        pool,
        l1_head,
        now: common::fork::unix_now(),
    })
}

/// Which L1 block the block anchors to.
pub enum AnchorChoice {
    /// The open proposal's anchor.
    Known(L1Anchor),
    /// A new proposal's: this L1 block number, to be fetched.
    Fetch {
        /// The block to anchor to.
        number: u64,
        /// The previous block's anchor, kept when L1 cannot be reached (the Anchor contract
        /// accepts a repeated anchor, so blocks go on while L1 is away).
        previous: Option<L1Anchor>,
    },
}

/// A block the driver inserted.
pub struct BuiltBlock {
    /// What was sent.
    pub assembled: AssembledBlock,
    /// The anchor used.
    pub anchor: L1Anchor,
    /// What the driver returned.
    pub inserted: InsertedBlock,
    /// Node-side assembly time.
    pub node_time: Duration,
    /// The driver call's time.
    pub driver_time: Duration,
    /// The tracked txs that reverted in it (`None`: their receipts could not be read).
    pub reverted: Option<HashSet<B256>>,
    /// How its tracked txs consume answers.
    pub consumers: Vec<(B256, Consumption)>,
}

/// A failed build; `sent` is the block when the driver may have inserted it anyway.
pub struct BuildFailure {
    /// The cause.
    pub error: TickError,
    /// The block and anchor, if the outcome is unknown.
    pub sent: Option<(AssembledBlock, L1Anchor)>,
}

impl From<TickError> for BuildFailure {
    fn from(error: TickError) -> Self {
        Self { error, sent: None }
    }
}

/// What goes into a block after its anchor.
pub struct BlockContent {
    /// The pool's txs.
    pub pool: Vec<alloy::consensus::TxEnvelope>,
    /// User ops, whose L2 txs come last.
    pub user_ops: Option<BlockUserOps>,
    /// The pool's L2→L1→L2 txs.
    pub returns: ReturnSignals,
    /// How each of them consumes answers.
    pub consumers: Vec<(B256, Consumption)>,
    /// The block is built only for the pool's txs (no other reason to build it now).
    pub only_for_txs: bool,
    /// The forced inclusion the block is (then `pool` is its txs, which nobody may drop).
    pub forced: Option<crate::forced_inclusion::ForcedSource>,
}

/// The user ops a block carries and who signs their L2 txs.
pub struct BlockUserOps {
    /// The ops, messages numbered.
    pub ops: Vec<ReadyOp>,
    /// The node's L2 signer.
    pub signer: PrivateKeySigner,
    /// The L2 Bridge.
    pub l2_bridge: Address,
}

/// Appends the processMessage txs of `user_ops` after `txs` (nonces after the signer's own
/// pool txs, if any).
async fn append_l2_calls(
    clients: &Clients,
    l2: &DynProvider,
    parent: &ParentBlock,
    frame: &BlockFrame,
    user_ops: &BlockUserOps,
    txs: &mut Vec<alloy::consensus::TxEnvelope>,
) -> Result<(), TickError> {
    let signer = user_ops.signer.address();
    let at_parent = clients
        .l2
        .call(
            l2.get_transaction_count(signer)
                .block_id(BlockId::hash(parent.hash)),
        )
        .await
        .map_err(TickError::L2)?;
    let own = txs
        .iter()
        .filter(|tx| tx.recover_signer().is_ok_and(|s| s == signer))
        .count() as u64;
    let calls = l2_calls::process_message_txs(
        &L2CallParams {
            signer: &user_ops.signer,
            chain_id: frame.chain_id,
            nonce: at_parent + own,
            base_fee: frame.base_fee,
            l2_bridge: user_ops.l2_bridge,
        },
        &user_ops.ops,
    )
    .map_err(|e| TickError::Sign(e.to_string()))?;
    txs.extend(calls);
    Ok(())
}

/// Fetches what is missing (anchor block, golden-touch nonce), assembles and sends the block.
pub async fn build(
    clients: &Clients,
    l1: &DynProvider,
    l2: &DynProvider,
    parent: ParentBlock,
    mut frame: BlockFrame,
    anchor: AnchorChoice,
    content: BlockContent,
) -> Result<BuiltBlock, BuildFailure> {
    let BlockContent {
        pool: mut txs,
        user_ops,
        returns,
        consumers,
        only_for_txs,
        forced,
    } = content;
    frame.anchor = match anchor {
        AnchorChoice::Known(anchor) => anchor,
        AnchorChoice::Fetch { number, previous } => {
            let read = clients
                .l1
                .call(l1.get_block_by_number(BlockNumberOrTag::Number(number)))
                .await;
            match (read, previous) {
                (Ok(Some(block)), _) => L1Anchor {
                    number,
                    hash: block.header.hash,
                    state_root: block.header.state_root,
                },
                (Ok(None), _) => {
                    return Err(TickError::Missing(format!("L1 block {number} is missing")).into());
                }
                (Err(error), Some(previous)) if error.no_answer() => {
                    tracing::warn!(%error, anchor = previous.number,
                        "L1 does not answer; the new proposal keeps the previous block's anchor");
                    previous
                }
                (Err(error), _) => return Err(TickError::L1(error).into()),
            }
        }
    };
    frame.golden_touch_nonce = clients
        .l2
        .call(
            l2.get_transaction_count(GOLDEN_TOUCH_ADDRESS)
                .block_id(BlockId::hash(parent.hash)),
        )
        .await
        .map_err(TickError::L2)?;
    let before = txs.len();
    if let Some(user_ops) = &user_ops {
        append_l2_calls(clients, l2, &parent, &frame, user_ops, &mut txs).await?;
    }
    let iteration = match &clients.credible_layer {
        // The derivation executes an inclusion's txs whatever the sidecar says.
        Some(ask) if forced.is_none() => {
            let node = super::credible::NodeTxs {
                appended: txs.len() - before,
                signer: user_ops.as_ref().map(|u| u.signer.address()),
            };
            let iteration =
                super::credible::judge(ask, &parent, &frame, &mut txs, node, &consumers)
                    .await
                    .map_err(TickError::AssertionFailed)?;
            if only_for_txs && txs.is_empty() {
                return Err(TickError::AllLeftOut.into());
            }
            Some(iteration)
        }
        _ => None,
    };
    let started = Instant::now();
    let anchor = frame.anchor;
    // Milliseconds of CPU for a large block (deflate): off the async workers.
    let mut assembled =
        tokio::task::spawn_blocking(move || block_build::assemble(&parent, &frame, txs))
            .await
            .map_err(|e| TickError::Missing(format!("the block assembly task died: {e}")))?;
    assembled.user_ops = user_ops.map(|u| u.ops).unwrap_or_default();
    assembled.request.is_forced_inclusion = forced.is_some();
    assembled.forced = forced;
    assembled.returns = returns;
    let node_time = started.elapsed();
    let started = Instant::now();
    match clients.driver.preconf_blocks(&assembled.request).await {
        Ok(inserted) => {
            faults::pause(FaultPoint::PreconfAnswered).await;
            let driver_time = started.elapsed();
            if let (Some(ask), Some(iteration)) = (&clients.credible_layer, iteration) {
                ask.committed(
                    super::credible::committed(clients, l2, &assembled, &inserted, iteration).await,
                );
            }
            let reverted = if consumers.is_empty() {
                Some(HashSet::new())
            } else {
                let hashes: Vec<B256> = consumers.iter().map(|(h, _)| *h).collect();
                tx_outcome::reverted(&clients.l2, l2, hashes)
                    .await
                    .inspect_err(|e| tracing::warn!(error = %e,
                        "cannot read the receipts of the block's L2→L1→L2 txs; their statuses are settled when it lands"))
                    .ok()
            };
            Ok(BuiltBlock {
                assembled,
                anchor,
                inserted,
                node_time,
                driver_time,
                reverted,
                consumers,
            })
        }
        Err(error) => Err(BuildFailure {
            sent: error.outcome_unknown().then_some((assembled, anchor)),
            error: TickError::Driver(error),
        }),
    }
}
