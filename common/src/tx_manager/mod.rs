//! The proposer account's L1 transactions (l1-tx-reliability.md §5): nonces assigned here, not
//! by alloy's cached filler (it stalls after a refused tx, environment.md §2); fees from
//! `eth_feeHistory`; replacement when a tx is not mined within `replace_after_blocks` L1
//! blocks, bumping every fee to the mempool's threshold and never past the caps; refusals
//! classified ([`mempool::Refusal`]); and a journal written before each broadcast, so a restart
//! resumes watching or replacing ([`TxManager::resume`]).
//!
//! One tx is in flight at a time: the submitter sends proposals strictly in order and each
//! needs the previous one's on-chain head, so there is nothing to pipeline at the nonce level.
//! The manager is therefore a plain value lent to one task at a time (its owner gets it back
//! with the outcome), which keeps the nonce out of any shared lock.

mod error;
pub mod fees;
pub mod journal;
pub mod mempool;
mod stats;
mod watch;

pub use error::TxError;

use stats::show;
pub use stats::{TxMetrics, metrics};

use std::time::Duration;

use alloy::{
    consensus::{SignableTransaction, Signed, TxEip4844, TxEip4844WithSidecar},
    eips::{
        BlockNumberOrTag,
        eip2718::{Decodable2718, Encodable2718},
        eip7594::BlobTransactionSidecarEip7594,
    },
    network::TransactionBuilder,
    network::TxSignerSync,
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
};
use tokio::time::Instant;

use crate::{
    ids::ProposalId,
    rpc::{RpcEndpoint, RpcError, error_chain},
};
use fees::{FeeMarket, FeePolicy, Fees};
use journal::{Journal, JournalEntry};
use mempool::Refusal;

/// A blob tx as signed: the tx body and its EIP-7594 sidecar.
type BlobTxWithSidecar = TxEip4844WithSidecar<BlobTransactionSidecarEip7594>;

/// Observations of `nonce too low` without a receipt of ours after which the nonce counts as
/// taken by another tx (op txmgr's `SafeAbortNonceTooLowCount`).
const NONCE_TOO_LOW_LIMIT: u32 = 3;

/// How the manager bids and waits.
#[derive(Debug, Clone, Copy)]
pub struct TxManagerConfig {
    /// Tip floor and fee caps.
    pub fees: FeePolicy,
    /// Added to the gas estimate, in percent (`EXTRA_GAS_PERCENTAGE`).
    pub extra_gas_percentage: u64,
    /// L1 blocks without inclusion before a replacement (`TX_REPLACE_AFTER_L1_BLOCKS`).
    pub replace_after_blocks: u64,
    /// Time between receipt checks.
    pub poll_interval: Duration,
}

/// A blob transaction to send.
#[derive(Debug, Clone)]
pub struct BlobTx {
    /// Call target.
    pub to: Address,
    /// Calldata.
    pub input: Bytes,
    /// The blobs with their commitments and cell proofs.
    pub sidecar: BlobTransactionSidecarEip7594,
    /// Whose tx it is (journal and logs).
    pub proposal: ProposalId,
}

/// A mined transaction.
#[derive(Debug, Clone)]
pub struct Included {
    /// The receipt (status true).
    pub receipt: TransactionReceipt,
    /// The nonce it used.
    pub nonce: u64,
    /// The fees of the last bid.
    pub fees: Fees,
    /// Replacements published before it was mined.
    pub replacements: u32,
}

/// Where [`TxManager::prepare`] spent its time.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrepareTimings {
    /// Nonce and `eth_feeHistory`.
    pub chain_reads: Duration,
    /// `eth_estimateGas`.
    pub estimate: Duration,
    /// Signing and the network encoding (sidecar included).
    pub sign: Duration,
    /// The journal write.
    pub journal: Duration,
}

/// A signed and journaled tx, ready to publish.
pub struct Prepared {
    /// Where preparing it took time.
    pub timings: PrepareTimings,
    entry: JournalEntry,
    body: BlobTxWithSidecar,
}

impl Prepared {
    /// Its network encoding (what `eth_sendRawTransaction` carries).
    pub fn raw(&self) -> &Bytes {
        &self.entry.raw
    }

    /// Its hash (a replacement gets another one).
    pub fn hash(&self) -> B256 {
        self.entry.hashes.first().copied().unwrap_or_default()
    }
}

/// Whether a tx being watched was published by an earlier run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Published {
    /// Not yet: a refusal of the first publication means it is nowhere.
    Not,
    /// Yes: it may sit in the mempool whatever the node answers now.
    Before,
}

/// The proposer account's sender.
pub struct TxManager {
    l1: RpcEndpoint,
    provider: DynProvider,
    /// Other L1 endpoints every signed tx is also published to (the rest of `L1_RPC_URLS`).
    backups: Vec<(RpcEndpoint, DynProvider)>,
    signer: PrivateKeySigner,
    chain_id: u64,
    journal: Journal,
    config: TxManagerConfig,
    next_nonce: Option<u64>,
}

impl TxManager {
    /// A manager for `signer`'s account on the L1 behind `provider`.
    pub async fn connect(
        l1: RpcEndpoint,
        provider: DynProvider,
        signer: PrivateKeySigner,
        journal: Journal,
        config: TxManagerConfig,
    ) -> Result<Self, TxError> {
        let chain_id = l1.call(provider.get_chain_id()).await?;
        Ok(Self {
            l1,
            provider,
            backups: Vec::new(),
            signer,
            chain_id,
            journal,
            config,
            next_nonce: None,
        })
    }

    /// Also publishes every signed tx to these endpoints, so one node's mempool losing it (or
    /// not gossiping it) does not delay inclusion.
    pub fn with_backups(mut self, backups: Vec<(RpcEndpoint, DynProvider)>) -> Self {
        self.backups = backups;
        self
    }

    /// Reads the nonce from the chain again before the next tx: after an L1 reorg the one
    /// kept here may point past a tx that no longer exists.
    pub fn forget_nonce(&mut self) {
        self.next_nonce = None;
    }

    /// The L1 chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The proposer address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Txs a previous run journaled and did not see mined, lowest nonce first.
    pub fn pending(&self) -> Result<Vec<JournalEntry>, TxError> {
        Ok(self.journal.entries()?)
    }

    /// Re-publishes a journaled tx and watches it (replacing it as usual) until it is mined.
    pub async fn resume(&mut self, entry: JournalEntry) -> Result<Included, TxError> {
        let signed =
            Signed::<BlobTxWithSidecar>::decode_2718(&mut entry.raw.as_ref()).map_err(|e| {
                TxError::BadJournalTx {
                    nonce: entry.nonce,
                    reason: e.to_string(),
                }
            })?;
        let (tx, _, _) = signed.into_parts();
        tracing::info!(nonce = entry.nonce, proposal = %entry.proposal, published = entry.hashes.len(),
            "resuming an L1 tx journaled before the restart");
        self.next_nonce = Some(entry.nonce + 1);
        // It was published before the restart: a refusal now does not mean it is not pooled.
        self.watch(entry, tx, Published::Before).await
    }

    /// Signs, journals and publishes `tx`, replaces it while it is not mined, and returns its
    /// receipt.
    pub async fn send(&mut self, tx: BlobTx) -> Result<Included, TxError> {
        let prepared = self.prepare(tx).await?;
        self.publish(prepared).await
    }

    /// Chooses nonce, fees and gas, signs, and journals `tx`: everything before the broadcast.
    pub async fn prepare(&mut self, tx: BlobTx) -> Result<Prepared, TxError> {
        let started = Instant::now();
        let nonce = self.nonce().await?;
        let market = self.market().await?;
        let fees = self.config.fees.first_bid(&market, true)?;
        let versioned: Vec<B256> = tx.sidecar.versioned_hashes().collect();
        let chain_reads = started.elapsed();
        let gas = self.estimate(&tx, &versioned, &fees, nonce).await?;
        let estimate = started.elapsed() - chain_reads;
        let mut body = BlobTxWithSidecar::from_tx_and_sidecar(
            TxEip4844 {
                chain_id: self.chain_id,
                nonce,
                gas_limit: gas,
                max_fee_per_gas: fees.max_fee_per_gas,
                max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
                to: tx.to,
                value: U256::ZERO,
                access_list: Default::default(),
                blob_versioned_hashes: versioned,
                max_fee_per_blob_gas: fees.max_fee_per_blob_gas,
                input: tx.input,
            },
            tx.sidecar,
        );
        let (hash, raw) = self.sign(&mut body)?;
        let sign = started.elapsed() - chain_reads - estimate;
        let entry = JournalEntry {
            nonce,
            proposal: tx.proposal,
            hashes: vec![hash],
            raw,
            fees,
            gas_limit: gas,
        };
        self.journal.put(&entry)?;
        self.next_nonce = Some(nonce + 1);
        metrics()
            .nonce
            .set(i64::try_from(nonce).unwrap_or(i64::MAX));
        tracing::info!(%hash, nonce, gas, max_fee = fees.max_fee_per_gas, tip = fees.max_priority_fee_per_gas,
            blob_fee = fees.max_fee_per_blob_gas, proposal = %tx.proposal, "publishing L1 tx");
        Ok(Prepared {
            timings: PrepareTimings {
                chain_reads,
                estimate,
                sign,
                journal: started.elapsed() - chain_reads - estimate - sign,
            },
            entry,
            body,
        })
    }

    /// Publishes a prepared tx and watches it until it is mined (replacing it as needed).
    pub async fn publish(&mut self, prepared: Prepared) -> Result<Included, TxError> {
        crate::faults::pause(crate::faults::FaultPoint::Broadcast).await;
        self.watch(prepared.entry, prepared.body, Published::Not)
            .await
    }

    async fn nonce(&mut self) -> Result<u64, TxError> {
        if let Some(nonce) = self.next_nonce {
            return Ok(nonce);
        }
        let chain = self.chain_nonce().await?;
        let journaled = self.journal.entries()?.last().map_or(0, |e| e.nonce + 1);
        Ok(chain.max(journaled))
    }

    /// The account's mined tx count (`latest`): the lowest nonce not used on chain.
    async fn chain_nonce(&self) -> Result<u64, RpcError> {
        self.l1
            .call(
                self.provider
                    .get_transaction_count(self.address())
                    .block_id(BlockNumberOrTag::Latest.into()),
            )
            .await
    }

    async fn market(&self) -> Result<FeeMarket, RpcError> {
        let history = self
            .l1
            .call(
                self.provider
                    .get_fee_history(4, BlockNumberOrTag::Latest, &[50.0]),
            )
            .await?;
        let tip = history
            .reward
            .as_ref()
            .and_then(|r| r.iter().filter_map(|block| block.first().copied()).max())
            .unwrap_or(0);
        Ok(FeeMarket {
            base_fee: history.base_fee_per_gas.last().copied().unwrap_or(0),
            blob_base_fee: history.base_fee_per_blob_gas.last().copied().unwrap_or(1),
            tip,
        })
    }

    async fn estimate(
        &self,
        tx: &BlobTx,
        versioned: &[B256],
        fees: &Fees,
        nonce: u64,
    ) -> Result<u64, TxError> {
        let mut request = TransactionRequest::default()
            .with_from(self.address())
            .with_to(tx.to)
            .with_input(tx.input.clone())
            .with_nonce(nonce)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        request.blob_versioned_hashes = Some(versioned.to_vec());
        request.max_fee_per_blob_gas = Some(fees.max_fee_per_blob_gas);
        let estimate = match tokio::time::timeout(
            Duration::from_secs(30),
            self.provider.estimate_gas(request),
        )
        .await
        {
            Ok(Ok(gas)) => gas,
            Ok(Err(e)) if e.as_error_resp().is_some() => {
                return Err(TxError::WouldRevert(error_chain(&e)));
            }
            Ok(Err(e)) => {
                return Err(TxError::Rpc(RpcError::Failed {
                    endpoint: self.l1.display(),
                    message: error_chain(&e),
                }));
            }
            Err(_) => {
                return Err(TxError::Rpc(RpcError::Timeout {
                    endpoint: self.l1.display(),
                    timeout_ms: 30_000,
                }));
            }
        };
        Ok(
            estimate
                .saturating_add(estimate.saturating_mul(self.config.extra_gas_percentage) / 100),
        )
    }

    fn sign(&self, body: &mut BlobTxWithSidecar) -> Result<(B256, Bytes), TxError> {
        let signature = self
            .signer
            .sign_transaction_sync(body)
            .map_err(|e| TxError::Sign(e.to_string()))?;
        let signed = body.clone().into_signed(signature);
        Ok((*signed.hash(), Bytes::from(signed.encoded_2718())))
    }

    /// Publishes to the main endpoint and every backup at once. The main endpoint's answer
    /// decides, except that a timeout or an unclassified failure there counts as published
    /// when a backup accepted the tx.
    async fn broadcast(&self, raw: &Bytes) -> Result<(), Refusal> {
        let backups = futures::future::join_all(
            self.backups
                .iter()
                .map(|(endpoint, provider)| endpoint.call(provider.send_raw_transaction(raw))),
        );
        let (main, backups) = tokio::join!(
            self.l1.call(self.provider.send_raw_transaction(raw)),
            backups
        );
        for (result, (endpoint, _)) in backups.iter().zip(&self.backups) {
            if let Err(e) = result {
                tracing::debug!(endpoint = %endpoint.display(), error = %e,
                    "backup L1 endpoint did not take the tx");
            }
        }
        let accepted_elsewhere = backups.iter().any(|r| r.is_ok());
        match main {
            Ok(_) => Ok(()),
            Err(e) if e.no_answer() && accepted_elsewhere => Ok(()),
            Err(RpcError::Failed { ref message, .. })
                if accepted_elsewhere
                    && matches!(Refusal::classify(message), Refusal::Other(_)) =>
            {
                Ok(())
            }
            Err(e) => {
                // The request may have reached the node: watch for the tx, publish again.
                let refusal = match e.no_answer() {
                    true => Refusal::NoAnswer,
                    false => Refusal::classify(&e.to_string()),
                };
                metrics()
                    .publish_errors
                    .with_label_values(&[refusal.label()])
                    .inc();
                Err(refusal)
            }
        }
    }

    async fn receipt(&self, hashes: &[B256]) -> Option<TransactionReceipt> {
        for hash in hashes.iter().rev() {
            if let Ok(Some(receipt)) = self
                .l1
                .call(self.provider.get_transaction_receipt(*hash))
                .await
            {
                return Some(receipt);
            }
        }
        None
    }

    async fn head(&self) -> Option<u64> {
        self.l1.block_number(&self.provider).await.ok()
    }
}
