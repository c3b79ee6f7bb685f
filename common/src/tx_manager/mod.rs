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

pub mod fees;
pub mod journal;
pub mod mempool;

use std::{sync::OnceLock, time::Duration};

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
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use tokio::time::Instant;

use crate::{
    ids::ProposalId,
    metrics::{register, registry},
    rpc::{RpcEndpoint, RpcError, error_chain},
};
use fees::{FeeError, FeeMarket, FeePolicy, Fees};
use journal::{Journal, JournalEntry, JournalError};
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

/// Why a transaction did not get mined successfully.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// L1 could not be read before anything was broadcast.
    #[error("L1 unavailable: {0}")]
    Rpc(#[from] RpcError),
    /// `eth_estimateGas` says the call reverts: nothing was sent.
    #[error("the transaction would revert (eth_estimateGas): {0}")]
    WouldRevert(String),
    /// The market is above the fee caps.
    #[error(transparent)]
    Fees(#[from] FeeError),
    /// The proposer cannot pay.
    #[error(
        "the proposer account {account} cannot pay for the transaction ({message}): fund it on L1"
    )]
    InsufficientFunds {
        /// The proposer address.
        account: Address,
        /// The node's message.
        message: String,
    },
    /// A lower nonce of ours is no longer used on chain (an L1 reorg dropped a mined tx), so
    /// this one cannot be mined until the gap is filled.
    #[error(
        "nonce {nonce} cannot be mined: the chain's next nonce is {chain} (an L1 reorg removed an earlier tx)"
    )]
    NonceGap {
        /// Our nonce.
        nonce: u64,
        /// The chain's `latest` count.
        chain: u64,
    },
    /// Another transaction was mined at our nonce.
    #[error("nonce {nonce} was used by a transaction this node did not send")]
    NonceTaken {
        /// The nonce.
        nonce: u64,
    },
    /// The node refused the transaction for a reason a retry does not fix.
    #[error("L1 refused the transaction: {0}")]
    Refused(String),
    /// Mined, but reverted.
    #[error("transaction {hash} reverted in L1 block {block}")]
    Reverted {
        /// The mined hash.
        hash: B256,
        /// Its block.
        block: u64,
        /// The receipt.
        receipt: Box<TransactionReceipt>,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The journal failed; without it a crash could double-send, so nothing is sent.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A journal entry's tx does not decode.
    #[error("the journaled tx at nonce {nonce} does not decode: {reason}")]
    BadJournalTx {
        /// The nonce.
        nonce: u64,
        /// Why.
        reason: String,
    },
}

/// Tx manager metrics.
pub struct TxMetrics {
    /// Current bid per fee field, in wei.
    pub fee_wei: IntGaugeVec,
    /// Replacements published.
    pub replacements: IntCounterVec,
    /// Refused publications by class.
    pub publish_errors: IntCounterVec,
    /// The nonce of the tx in flight (or the next one).
    pub nonce: IntGauge,
    /// First broadcast → receipt.
    pub inclusion_seconds: Histogram,
}

/// The metrics, registered on first use.
#[allow(clippy::expect_used)] // static definitions: a failure is a programming error
pub fn metrics() -> &'static TxMetrics {
    static METRICS: OnceLock<TxMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let r = registry();
        TxMetrics {
            fee_wei: register(
                r,
                IntGaugeVec::new(
                    Opts::new("l1_tx_fee_wei", "Current bid of the L1 tx in flight"),
                    &["field"],
                )
                .expect("valid metric definition"),
            ),
            replacements: register(
                r,
                IntCounterVec::new(
                    Opts::new(
                        "l1_tx_replacements_total",
                        "Fee-bumped replacements published",
                    ),
                    &["kind"],
                )
                .expect("valid metric definition"),
            ),
            publish_errors: register(
                r,
                IntCounterVec::new(
                    Opts::new("l1_tx_publish_errors_total", "Refused L1 tx publications"),
                    &["error"],
                )
                .expect("valid metric definition"),
            ),
            nonce: register(
                r,
                IntGauge::new("l1_tx_nonce", "Nonce of the proposer's L1 tx in flight")
                    .expect("valid metric definition"),
            ),
            inclusion_seconds: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "l1_tx_inclusion_seconds",
                        "First broadcast of an L1 tx to its receipt",
                    )
                    .buckets(vec![0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 24.0, 36.0, 60.0, 120.0]),
                )
                .expect("valid metric definition"),
            ),
        }
    })
}

fn show(fees: &Fees) {
    let m = metrics();
    let gauge = |field: &str, v: u128| {
        m.fee_wei
            .with_label_values(&[field])
            .set(i64::try_from(v).unwrap_or(i64::MAX));
    };
    gauge("max_fee_per_gas", fees.max_fee_per_gas);
    gauge("max_priority_fee_per_gas", fees.max_priority_fee_per_gas);
    gauge("max_fee_per_blob_gas", fees.max_fee_per_blob_gas);
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
            Err(RpcError::Timeout { .. }) if accepted_elsewhere => Ok(()),
            Err(RpcError::Failed { ref message, .. })
                if accepted_elsewhere
                    && matches!(Refusal::classify(message), Refusal::Other(_)) =>
            {
                Ok(())
            }
            Err(e) => {
                let refusal = match e {
                    RpcError::Timeout { .. } => Refusal::NoAnswer,
                    e => Refusal::classify(&e.to_string()),
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

    /// Publishes and waits for any of the entry's hashes to be mined,
    /// replacing the tx every `replace_after_blocks` L1 blocks.
    async fn watch(
        &mut self,
        mut entry: JournalEntry,
        mut body: BlobTxWithSidecar,
        before: Published,
    ) -> Result<Included, TxError> {
        let started = Instant::now();
        let nonce = entry.nonce;
        let mut replacements = 0u32;
        let mut published = before == Published::Before;
        let mut publish = true;
        let mut nonce_too_low = 0u32;
        let mut bump_now = false;
        let mut unanswered = false;
        let mut last_publish_block = self.head().await.unwrap_or(0);
        show(&entry.fees);
        loop {
            if publish {
                unanswered = false;
                match self.broadcast(&entry.raw).await {
                    Ok(()) | Err(Refusal::AlreadyKnown) => published = true,
                    Err(Refusal::NoAnswer) => {
                        // Not a refusal: the tx may be in the pool and may be mined, so its
                        // nonce stays taken; watch for it and publish the same tx again.
                        tracing::warn!(
                            nonce,
                            "L1 did not answer the publication in time; watching for the tx and publishing it again"
                        );
                        published = true;
                        unanswered = true;
                    }
                    Err(Refusal::Underpriced) => {
                        tracing::warn!(nonce, "L1 tx underpriced for the mempool; bumping now");
                        published = true;
                        bump_now = true;
                    }
                    Err(Refusal::NonceTooLow) => nonce_too_low += 1,
                    Err(Refusal::InsufficientFunds) if !published => {
                        self.journal.remove(nonce)?;
                        self.next_nonce = None;
                        return Err(TxError::InsufficientFunds {
                            account: self.address(),
                            message: "insufficient funds for gas and blobs".into(),
                        });
                    }
                    Err(Refusal::Other(message)) if !published && replacements == 0 => {
                        self.journal.remove(nonce)?;
                        self.next_nonce = None;
                        return Err(TxError::Refused(message));
                    }
                    Err(refusal) => {
                        tracing::warn!(nonce, error = ?refusal, "L1 refused the publication; the previous bid stays");
                    }
                }
            }
            if let Some(receipt) = self.receipt(&entry.hashes).await {
                self.journal.remove(nonce)?;
                metrics()
                    .inclusion_seconds
                    .observe(started.elapsed().as_secs_f64());
                let block = receipt.block_number.unwrap_or_default();
                if !receipt.status() {
                    return Err(TxError::Reverted {
                        hash: receipt.transaction_hash,
                        block,
                        receipt: Box::new(receipt),
                    });
                }
                tracing::info!(hash = %receipt.transaction_hash, nonce, block, replacements,
                    waited_ms = started.elapsed().as_millis() as u64, "L1 tx mined");
                return Ok(Included {
                    receipt,
                    nonce,
                    fees: entry.fees,
                    replacements,
                });
            }
            if nonce_too_low >= NONCE_TOO_LOW_LIMIT {
                self.journal.remove(nonce)?;
                self.next_nonce = None;
                return Err(TxError::NonceTaken { nonce });
            }
            tokio::time::sleep(self.config.poll_interval).await;
            let head = self.head().await.unwrap_or(last_publish_block);
            let due = head >= last_publish_block + self.config.replace_after_blocks;
            publish = bump_now || due || nonce_too_low > 0 || unanswered;
            if !(bump_now || due) {
                continue;
            }
            bump_now = false;
            last_publish_block = head;
            if let Ok(chain) = self.chain_nonce().await
                && chain < nonce
            {
                self.journal.remove(nonce)?;
                self.next_nonce = None;
                return Err(TxError::NonceGap { nonce, chain });
            }
            let market = match self.market().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, nonce, "fee history unavailable; re-publishing the current bid");
                    continue;
                }
            };
            match self.config.fees.bump(&entry.fees, &market, true) {
                Ok(fees) => {
                    body.tx.max_fee_per_gas = fees.max_fee_per_gas;
                    body.tx.max_priority_fee_per_gas = fees.max_priority_fee_per_gas;
                    body.tx.max_fee_per_blob_gas = fees.max_fee_per_blob_gas;
                    let (hash, raw) = self.sign(&mut body)?;
                    entry.hashes.push(hash);
                    entry.raw = raw;
                    entry.fees = fees;
                    self.journal.put(&entry)?;
                    replacements += 1;
                    metrics().replacements.with_label_values(&["blob"]).inc();
                    show(&fees);
                    tracing::warn!(%hash, nonce, replacements, head, max_fee = fees.max_fee_per_gas,
                        tip = fees.max_priority_fee_per_gas, blob_fee = fees.max_fee_per_blob_gas,
                        "L1 tx not mined in time; publishing a replacement");
                }
                Err(e) => {
                    tracing::error!(error = %e, nonce, "L1 tx not mined and cannot be bumped; re-publishing the current bid")
                }
            }
        }
    }
}
