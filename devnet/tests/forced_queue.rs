//! The inbox double's forced-inclusion queue behaves as the real one (surge-taiko-mono 38f35588
//! `LibForcedInclusion.sol`, `RealTimeInbox.sol`): activation, exactly one blob, the fee on the
//! queue length before the save with the excess refunded, the views, the due check on the first
//! entry left over, consumption clamped to the queue, the inclusions' sources first in the hashed
//! proposal, and their fees to the caller of propose.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use alloy::{
    consensus::{SidecarBuilder, SimpleCoder},
    eips::{BlockNumberOrTag, eip7594::BlobTransactionSidecarEip7594},
    hex,
    network::{TransactionBuilder, TransactionBuilder4844},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolError, SolValue},
};
use bindings::{
    BlobReference, BlobSlice, Checkpoint, Commitment, DerivationSource, IRealTimeInbox, Proposal,
    ProposeInput, SubProof, doubles,
};
use devnet::anvil::{Anvil, AnvilOptions};

mod support;

use support::{Confirm, L2_CHAIN_ID, OWNER_KEY, PROVER_KEY, deploy_inbox, u48, wallet_provider};

const PCTG: u8 = 75;
/// Every entry left over is due at once.
const DELAY: u16 = 0;
const FEE_GWEI: u64 = 1_000;
/// The fee grows by half the base per waiting inclusion.
const THRESHOLD: u64 = 2;
const GWEI: u64 = 1_000_000_000;

struct L1 {
    provider: DynProvider,
    inbox: Address,
    dummy: Address,
    owner: Address,
    _anvil: Anvil,
}

impl L1 {
    async fn start() -> Self {
        let anvil = Anvil::start(&AnvilOptions::default()).unwrap();
        let provider = wallet_provider(&anvil, OWNER_KEY);
        let owner: Address = OWNER_KEY.parse::<PrivateKeySigner>().unwrap().address();
        let (_, dummy, inbox) = deploy_inbox(&provider, PCTG, (DELAY, FEE_GWEI, THRESHOLD)).await;
        Self {
            inbox,
            dummy,
            owner,
            provider,
            _anvil: anvil,
        }
    }

    fn inbox(&self) -> IRealTimeInbox::IRealTimeInboxInstance<&DynProvider> {
        IRealTimeInbox::new(self.inbox, &self.provider)
    }

    async fn fee_gwei(&self) -> u64 {
        self.inbox()
            .getCurrentForcedInclusionFee()
            .call()
            .await
            .unwrap()
    }

    fn save_tx(&self, blobs: usize, value_gwei: u64, tag: u8) -> TransactionRequest {
        let call = IRealTimeInbox::saveForcedInclusionCall {
            _blobReference: BlobReference {
                blobStartIndex: 0,
                numBlobs: blobs as u16,
                offset: Default::default(),
            },
        };
        let tx = TransactionRequest::default()
            .with_to(self.inbox)
            .with_input(call.abi_encode())
            .with_value(U256::from(value_gwei) * U256::from(GWEI));
        match blobs {
            0 => tx,
            // One blob holds 126,976 bytes through the simple coder.
            n => tx.with_blob_sidecar_7594(sidecar(&vec![tag; 100 + (n - 1) * 127_000])),
        }
    }

    async fn send(&self, tx: TransactionRequest) -> TransactionReceipt {
        let receipt = self
            .provider
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status(), "reverted: {receipt:?}");
        receipt
    }

    async fn balance(&self) -> U256 {
        self.provider.get_balance(self.owner).await.unwrap()
    }

    /// A `propose` of one blob consuming `n` inclusions, proved over `sources` when given.
    async fn propose_tx(
        &self,
        n: u16,
        sources: Option<Vec<DerivationSource>>,
    ) -> TransactionRequest {
        let own = sidecar(&[0xaa; 100]);
        let own_hash = own.versioned_hashes().next().unwrap();
        let anchor = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header;
        let checkpoint = Checkpoint {
            blockNumber: u48(9),
            blockHash: B256::repeat_byte(9),
            stateRoot: B256::repeat_byte(10),
        };
        let proof = match sources {
            None => Bytes::from(vec![0u8; 4]),
            Some(mut sources) => {
                sources.push(DerivationSource {
                    isForcedInclusion: false,
                    blobSlice: BlobSlice {
                        blobHashes: vec![own_hash],
                        offset: Default::default(),
                        timestamp: Default::default(),
                    },
                });
                let proposal = Proposal {
                    maxAnchorBlockNumber: u48(anchor.number),
                    maxAnchorBlockHash: anchor.hash,
                    basefeeSharingPctg: PCTG,
                    sources,
                    signalSlotsHash: B256::ZERO,
                };
                self.prove(keccak256(proposal.abi_encode()), &checkpoint)
            }
        };
        let data = ProposeInput {
            blobReference: BlobReference {
                blobStartIndex: 0,
                numBlobs: 1,
                offset: Default::default(),
            },
            numForcedInclusions: n,
            signalSlots: vec![],
            maxAnchorBlockNumber: u48(anchor.number),
        };
        let call = IRealTimeInbox::proposeCall {
            _data: data.abi_encode().into(),
            _checkpoint: checkpoint,
            _proof: proof,
        };
        TransactionRequest::default()
            .with_to(self.inbox)
            .with_input(call.abi_encode())
            .with_blob_sidecar_7594(own)
    }

    /// The mock proof the dummy verifier accepts, over the genesis head.
    fn prove(&self, proposal_hash: B256, checkpoint: &Checkpoint) -> Bytes {
        let commitment = Commitment {
            proposalHash: proposal_hash,
            lastFinalizedBlockHash: GENESIS,
            checkpoint: checkpoint.clone(),
        };
        let public_input = keccak256(
            (
                B256::right_padding_from(b"VERIFY_PROOF"),
                U256::from(L2_CHAIN_ID),
                U256::from_be_slice(self.dummy.as_slice()),
                keccak256(commitment.abi_encode()),
                B256::ZERO,
            )
                .abi_encode(),
        );
        let prover: PrivateKeySigner = PROVER_KEY.parse().unwrap();
        let signature = prover.sign_hash_sync(&public_input).unwrap();
        vec![SubProof {
            proofBitFlag: 1,
            data: signature.as_bytes().to_vec().into(),
        }]
        .abi_encode()
        .into()
    }
}

const GENESIS: B256 = B256::repeat_byte(0x99);

fn sidecar(data: &[u8]) -> BlobTransactionSidecarEip7594 {
    SidecarBuilder::<SimpleCoder>::from_slice(data)
        .build_7594()
        .unwrap()
}

/// The revert text of `tx` from the owner, as gas estimation reports it. (Sending it would
/// leave the wallet's cached nonce one ahead of the chain.)
async fn revert_of(l1: &L1, tx: TransactionRequest) -> String {
    match l1.provider.estimate_gas(tx.with_from(l1.owner)).await {
        Err(e) => format!("{e:?}"),
        Ok(gas) => panic!("expected a revert, the tx would run with {gas} gas"),
    }
}

fn reverts_with(text: &str, selector: [u8; 4]) -> bool {
    text.contains(&hex::encode(selector))
}

/// What a receipt cost its sender besides the value: execution gas and blob gas.
fn cost(receipt: &TransactionReceipt) -> U256 {
    let blob = receipt.blob_gas_used.unwrap_or_default() as u128
        * receipt.blob_gas_price.unwrap_or_default();
    U256::from(receipt.gas_used as u128 * receipt.effective_gas_price + blob)
}

#[tokio::test]
async fn the_queue_charges_refunds_falls_due_and_pays_the_proposer_who_consumes_it() {
    let l1 = L1::start().await;
    use doubles::RealTimeInbox as Inbox;

    let err = revert_of(&l1, l1.save_tx(1, FEE_GWEI, 1)).await;
    assert!(reverts_with(&err, Inbox::NotActivated::SELECTOR), "{err}");
    l1.inbox().activate(GENESIS).confirmed().await;

    // The fee, and what is refused.
    assert_eq!(l1.fee_gwei().await, FEE_GWEI);
    let err = revert_of(&l1, l1.save_tx(1, FEE_GWEI - 1, 1)).await;
    assert!(
        reverts_with(&err, Inbox::InsufficientFee::SELECTOR),
        "{err}"
    );
    let err = revert_of(&l1, l1.save_tx(2, FEE_GWEI, 1)).await;
    assert!(
        reverts_with(&err, Inbox::OnlySingleBlobAllowed::SELECTOR),
        "{err}"
    );
    let err = revert_of(&l1, l1.save_tx(0, FEE_GWEI, 1)).await;
    assert!(reverts_with(&err, Inbox::NoBlobs::SELECTOR), "{err}");

    // Overpaying is refunded; the stored fee is the one required, the time the save's block.
    let before = l1.balance().await;
    let receipt = l1.send(l1.save_tx(1, 3 * FEE_GWEI, 1)).await;
    let paid = before - l1.balance().await - cost(&receipt);
    assert_eq!(paid, U256::from(FEE_GWEI * GWEI), "the excess came back");
    let saved = receipt
        .decoded_log::<IRealTimeInbox::ForcedInclusionSaved>()
        .unwrap()
        .data
        .forcedInclusion;
    let block = l1
        .provider
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.feeInGwei, FEE_GWEI);
    assert_eq!(
        saved.blobSlice.timestamp.to::<u64>(),
        block.header.timestamp
    );
    // One waiting of threshold 2: half the base more.
    assert_eq!(l1.fee_gwei().await, FEE_GWEI * 3 / 2);
    l1.send(l1.save_tx(1, FEE_GWEI * 3 / 2, 2)).await;

    // The views.
    let state = l1.inbox().getForcedInclusionState().call().await.unwrap();
    assert_eq!((state.head.to::<u64>(), state.tail.to::<u64>()), (0, 2));
    let all = l1
        .inbox()
        .getForcedInclusions(u48(0), u48(10))
        .call()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], saved);
    assert_eq!(all[1].feeInGwei, FEE_GWEI * 3 / 2);
    for (start, count) in [(2, 1), (0, 0)] {
        let none = l1
            .inbox()
            .getForcedInclusions(u48(start), u48(count))
            .call()
            .await
            .unwrap();
        assert!(none.is_empty(), "start {start}, count {count}");
    }

    // With delay 0 the entry left over is due: a proposal that leaves one out reverts.
    let err = revert_of(&l1, l1.propose_tx(1, None).await).await;
    assert!(
        reverts_with(&err, Inbox::UnprocessedForcedInclusionIsDue::SELECTOR),
        "{err}"
    );
    // Asking for more than waits is clamped: the due check passes and the junk proof fails.
    let err = revert_of(&l1, l1.propose_tx(5, None).await).await;
    assert!(
        !reverts_with(&err, Inbox::UnprocessedForcedInclusionIsDue::SELECTOR),
        "{err}"
    );

    // Consumed by a proof over [inclusion 0, inclusion 1, proposer]: both fees to the caller.
    let sources: Vec<DerivationSource> = all
        .iter()
        .map(|f| DerivationSource {
            isForcedInclusion: true,
            blobSlice: f.blobSlice.clone(),
        })
        .collect();
    let before = l1.balance().await;
    let receipt = l1.send(l1.propose_tx(2, Some(sources.clone())).await).await;
    let gained = l1.balance().await + cost(&receipt) - before;
    assert_eq!(gained, U256::from((FEE_GWEI + FEE_GWEI * 3 / 2) * GWEI));
    let event = receipt
        .decoded_log::<IRealTimeInbox::ProposedAndProved>()
        .unwrap()
        .data;
    assert_eq!(event.sources[..2], sources[..]);
    assert!(!event.sources[2].isForcedInclusion);
    let state = l1.inbox().getForcedInclusionState().call().await.unwrap();
    assert_eq!((state.head.to::<u64>(), state.tail.to::<u64>()), (2, 2));
    assert_eq!(
        l1.fee_gwei().await,
        FEE_GWEI,
        "an empty queue costs the base"
    );
}
