//! The Solidity doubles behave like the real contracts where the node depends on them: they
//! hash exactly as the shared vectors say (conformance), the inbox accepts a correct blob
//! proposal and rejects each kind of wrong one with the real error, and the SignalService
//! verifies a real Merkle-Patricia storage proof from a second chain.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use alloy::{
    consensus::{SidecarBuilder, SimpleCoder},
    eips::BlockNumberOrTag,
    hex,
    network::{TransactionBuilder, TransactionBuilder4844},
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    rpc::types::TransactionRequest,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolError, SolValue},
};
use bindings::{
    BlobReference, BlobSlice, Checkpoint, Commitment, DerivationSource, IMulticall, IRealTimeInbox,
    Message, Proposal, ProposeInput, ProposeInputV2, SubProof, doubles,
};
use devnet::anvil::{Anvil, AnvilOptions};
use serde_json::Value;

mod support;

use support::{
    Confirm, DEVNET_FORCED_INCLUSIONS, L2_CHAIN_ID, OWNER_KEY, PROVER_KEY, deploy_inbox, hop_proof,
    u48, wallet_provider,
};

const PCTG: u8 = 75;

fn vectors() -> Value {
    let path = bindings::vectors::path();
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} (set {}): {e}",
            path.display(),
            bindings::vectors::ENV
        )
    }))
    .unwrap()
}

fn b256(v: &Value) -> B256 {
    v.as_str().unwrap().parse().unwrap()
}
fn addr(v: &Value) -> Address {
    v.as_str().unwrap().parse().unwrap()
}
fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap()
}
fn bytes(v: &Value) -> Bytes {
    hex::decode(v.as_str().unwrap()).unwrap().into()
}
fn b256s(v: &Value) -> Vec<B256> {
    v.as_array().unwrap().iter().map(b256).collect()
}

fn message(v: &Value) -> Message {
    Message {
        id: u64_of(&v["id"]),
        fee: u64_of(&v["fee"]),
        gasLimit: u64_of(&v["gasLimit"]) as u32,
        from: addr(&v["from"]),
        srcChainId: u64_of(&v["srcChainId"]),
        srcOwner: addr(&v["srcOwner"]),
        destChainId: u64_of(&v["destChainId"]),
        destOwner: addr(&v["destOwner"]),
        to: addr(&v["to"]),
        value: v["value"].as_str().unwrap().parse().unwrap(),
        data: bytes(&v["data"]),
    }
}

fn checkpoint(v: &Value) -> Checkpoint {
    Checkpoint {
        blockNumber: u48(u64_of(&v["blockNumber"])),
        blockHash: b256(&v["blockHash"]),
        stateRoot: b256(&v["stateRoot"]),
    }
}

fn proposal(v: &Value) -> Proposal {
    Proposal {
        maxAnchorBlockNumber: u48(u64_of(&v["maxAnchorBlockNumber"])),
        maxAnchorBlockHash: b256(&v["maxAnchorBlockHash"]),
        basefeeSharingPctg: u64_of(&v["basefeeSharingPctg"]) as u8,
        sources: v["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| DerivationSource {
                isForcedInclusion: s["isForcedInclusion"].as_bool().unwrap(),
                blobSlice: BlobSlice {
                    blobHashes: b256s(&s["blobSlice"]["blobHashes"]),
                    offset: alloy::primitives::aliases::U24::from(u64_of(
                        &s["blobSlice"]["offset"],
                    )),
                    timestamp: u48(u64_of(&s["blobSlice"]["timestamp"])),
                },
            })
            .collect(),
        signalSlotsHash: b256(&v["signalSlotsHash"]),
    }
}

/// An L1 with the inbox, its verifier stack, the SignalService, a Bridge and the Multicall.
struct L1 {
    _anvil: Anvil,
    provider: DynProvider,
    inbox: Address,
    signal_service: Address,
    bridge: Address,
    multicall: Address,
    dummy: Address,
    genesis: B256,
}

impl L1 {
    async fn start() -> Self {
        let anvil = Anvil::start(&AnvilOptions::default()).unwrap();
        let provider = wallet_provider(&anvil, OWNER_KEY);
        let owner: Address = OWNER_KEY.parse::<PrivateKeySigner>().unwrap().address();
        let (ss, dummy, inbox) = deploy_inbox(&provider, PCTG, DEVNET_FORCED_INCLUSIONS).await;
        let ss = doubles::SignalService::new(ss, &provider);
        let inbox = doubles::RealTimeInbox::new(inbox, &provider);
        let bridge = doubles::Bridge::deploy(&provider, owner, *ss.address())
            .await
            .unwrap();
        bridge
            .setRemoteBridge(L2_CHAIN_ID, Address::repeat_byte(0x01))
            .confirmed()
            .await;
        let multicall = doubles::Multicall::deploy(&provider).await.unwrap();
        let genesis = B256::repeat_byte(0x99);
        inbox.activate(genesis).confirmed().await;
        let (inbox, signal_service, bridge, multicall) = (
            *inbox.address(),
            *ss.address(),
            *bridge.address(),
            *multicall.address(),
        );
        Self {
            provider,
            inbox,
            signal_service,
            bridge,
            multicall,
            dummy,
            genesis,
            _anvil: anvil,
        }
    }

    async fn head(&self) -> B256 {
        IRealTimeInbox::new(self.inbox, &self.provider)
            .getLastFinalizedBlockHash()
            .call()
            .await
            .unwrap()
    }

    /// A proof over (proposal, prev, checkpoint) signed by `prover`, as the Raiko stand-in will.
    fn prove(
        &self,
        proposal_hash: B256,
        prev: B256,
        checkpoint: &Checkpoint,
        prover: &PrivateKeySigner,
    ) -> Bytes {
        let commitment = Commitment {
            proposalHash: proposal_hash,
            lastFinalizedBlockHash: prev,
            checkpoint: checkpoint.clone(),
        };
        let commitment_hash = keccak256(commitment.abi_encode());
        let public_input = keccak256(
            (
                B256::right_padding_from(b"VERIFY_PROOF"),
                U256::from(L2_CHAIN_ID),
                U256::from_be_slice(self.dummy.as_slice()),
                commitment_hash,
                B256::ZERO,
            )
                .abi_encode(),
        );
        let signature = prover.sign_hash_sync(&public_input).unwrap();
        vec![SubProof {
            proofBitFlag: 1,
            data: signature.as_bytes().to_vec().into(),
        }]
        .abi_encode()
        .into()
    }

    async fn anchor(&self) -> (u64, B256) {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap();
        (block.header.number, block.header.hash)
    }
}

/// A proposal of one blob, ready to be proved and sent.
struct Draft {
    sidecar: alloy::eips::eip7594::BlobTransactionSidecarEip7594,
    blob_hash: B256,
    anchor_number: u64,
    anchor_hash: B256,
    checkpoint: Checkpoint,
}

impl Draft {
    async fn new(l1: &L1, tag: u8) -> Self {
        let sidecar = SidecarBuilder::<SimpleCoder>::from_slice(&[tag; 100])
            .build_7594()
            .unwrap();
        let blob_hash = sidecar.versioned_hashes().next().unwrap();
        let (anchor_number, anchor_hash) = l1.anchor().await;
        let checkpoint = Checkpoint {
            blockNumber: u48(10 + tag as u64),
            blockHash: B256::repeat_byte(tag),
            stateRoot: B256::repeat_byte(tag.wrapping_add(1)),
        };
        Self {
            sidecar,
            blob_hash,
            anchor_number,
            anchor_hash,
            checkpoint,
        }
    }

    fn proposal_hash(&self, signal_slots: &[B256]) -> B256 {
        let slots_hash = if signal_slots.is_empty() {
            B256::ZERO
        } else {
            keccak256(signal_slots.to_vec().abi_encode())
        };
        keccak256(
            Proposal {
                maxAnchorBlockNumber: u48(self.anchor_number),
                maxAnchorBlockHash: self.anchor_hash,
                basefeeSharingPctg: PCTG,
                sources: vec![DerivationSource {
                    isForcedInclusion: false,
                    blobSlice: BlobSlice {
                        blobHashes: vec![self.blob_hash],
                        offset: Default::default(),
                        timestamp: Default::default(),
                    },
                }],
                signalSlotsHash: slots_hash,
            }
            .abi_encode(),
        )
    }

    fn input(&self, signal_slots: Vec<B256>) -> Bytes {
        ProposeInput {
            blobReference: BlobReference {
                blobStartIndex: 0,
                numBlobs: 1,
                offset: Default::default(),
            },
            numForcedInclusions: 0,
            signalSlots: signal_slots,
            maxAnchorBlockNumber: u48(self.anchor_number),
        }
        .abi_encode()
        .into()
    }

    fn propose_tx(
        &self,
        l1: &L1,
        slots: Vec<B256>,
        proof: Bytes,
        with_blob: bool,
    ) -> TransactionRequest {
        let call = IRealTimeInbox::proposeCall {
            _data: self.input(slots),
            _checkpoint: self.checkpoint.clone(),
            _proof: proof,
        };
        let tx = TransactionRequest::default()
            .with_to(l1.inbox)
            .with_input(call.abi_encode());
        if with_blob {
            tx.with_blob_sidecar_7594(self.sidecar.clone())
        } else {
            tx
        }
    }
}

/// Sends `tx` and returns the revert text, which carries the error's encoded data.
async fn revert_of(l1: &L1, tx: TransactionRequest) -> String {
    match l1.provider.send_transaction(tx).await {
        Err(e) => format!("{e:?}"),
        Ok(pending) => {
            let receipt = pending.get_receipt().await.unwrap();
            panic!(
                "expected a revert, the tx landed with status {}",
                receipt.status()
            );
        }
    }
}

fn selector_hex(selector: [u8; 4]) -> String {
    hex::encode(selector)
}

#[tokio::test]
async fn conformance_doubles_hash_exactly_like_the_vectors() {
    let v = vectors();
    let h = &v["hashes"];
    let l1 = L1::start().await;
    let ss = doubles::SignalService::new(l1.signal_service, &l1.provider);
    for case in h["getSignalSlot"].as_array().unwrap() {
        let slot = ss
            .getSignalSlot(
                u64_of(&case["chainId"]),
                addr(&case["app"]),
                b256(&case["signal"]),
            )
            .call()
            .await
            .unwrap();
        assert_eq!(slot, b256(&case["slot"]), "getSignalSlot {case}");
    }
    let bridge = doubles::Bridge::new(l1.bridge, &l1.provider);
    for case in h["hashMessage"].as_array().unwrap() {
        let m = message(&case["message"]);
        let doubled: doubles::Bridge::Message =
            doubles::Bridge::Message::abi_decode(&m.abi_encode()).unwrap();
        let hash = bridge.hashMessage(doubled).call().await.unwrap();
        assert_eq!(hash, b256(&case["msgHash"]), "hashMessage {}", case["note"]);
    }
    let inbox = IRealTimeInbox::new(l1.inbox, &l1.provider);
    for case in h["hashSignalSlots"].as_array().unwrap() {
        let hash = inbox
            .hashSignalSlots(b256s(&case["slots"]))
            .call()
            .await
            .unwrap();
        assert_eq!(hash, b256(&case["hash"]));
    }
    let p = proposal(&h["hashProposal"]["proposal"]);
    assert_eq!(
        inbox.hashProposal(p).call().await.unwrap(),
        b256(&h["hashProposal"]["hash"])
    );
    let c = &h["hashCommitment"]["commitment"];
    let commitment = Commitment {
        proposalHash: b256(&c["proposalHash"]),
        lastFinalizedBlockHash: b256(&c["lastFinalizedBlockHash"]),
        checkpoint: checkpoint(&c["checkpoint"]),
    };
    assert_eq!(
        inbox.hashCommitment(commitment).call().await.unwrap(),
        b256(&h["hashCommitment"]["hash"])
    );
}

#[tokio::test]
async fn conformance_mock_verifier_accepts_the_vector_proof_and_nothing_else() {
    let v = vectors();
    let m = &v["hashes"]["mockProof"];
    let l1 = L1::start().await;
    // The public input binds the verifier's own address: run the double's code at the address
    // the vector was produced for (immutables travel with the runtime code).
    let signer = addr(&m["signerAddress"]);
    let chain = u64_of(&m["l2ChainId"]);
    let deployed = doubles::ProofVerifierDummy::deploy(&l1.provider, signer, chain)
        .await
        .unwrap();
    let code = l1.provider.get_code_at(*deployed.address()).await.unwrap();
    let at = addr(&m["verifierAddress"]);
    l1.provider.anvil_set_code(at, code).await.unwrap();
    let dummy = doubles::ProofVerifierDummy::new(at, &l1.provider);
    let commitment = b256(&m["commitmentHash"]);
    assert_eq!(
        dummy.publicInput(commitment).call().await.unwrap(),
        b256(&m["publicInput"])
    );
    let signature = bytes(&m["signature65"]);
    dummy
        .verifyProof(U256::ZERO, commitment, signature.clone())
        .call()
        .await
        .unwrap();
    let mut tampered = signature.to_vec();
    tampered[10] ^= 1;
    assert!(
        dummy
            .verifyProof(U256::ZERO, commitment, tampered.into())
            .call()
            .await
            .is_err()
    );
    assert!(
        dummy
            .verifyProof(U256::ZERO, B256::repeat_byte(1), signature)
            .call()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn the_inbox_accepts_a_proved_blob_proposal_and_rejects_each_broken_one() {
    let l1 = L1::start().await;
    let prover: PrivateKeySigner = PROVER_KEY.parse().unwrap();
    let ss = doubles::SignalService::new(l1.signal_service, &l1.provider);

    // Happy path: a sent signal slot, a blob, a proof over the inbox's own head.
    let slot = ss
        .sendSignal(B256::repeat_byte(0x42))
        .confirmed()
        .await
        .decoded_log::<doubles::SignalService::SignalSent>()
        .unwrap()
        .data
        .slot;
    let draft = Draft::new(&l1, 1).await;
    let proof = l1.prove(
        draft.proposal_hash(&[slot]),
        l1.genesis,
        &draft.checkpoint,
        &prover,
    );
    let receipt = l1
        .provider
        .send_transaction(draft.propose_tx(&l1, vec![slot], proof, true))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let event = receipt
        .decoded_log::<IRealTimeInbox::ProposedAndProved>()
        .unwrap()
        .data;
    assert_eq!(event.proposalHash, draft.proposal_hash(&[slot]));
    assert_eq!(event.lastFinalizedBlockHash, l1.genesis);
    assert_eq!(event.checkpoint, draft.checkpoint);
    assert_eq!(event.signalSlots, vec![slot]);
    assert_eq!(event.sources[0].blobSlice.blobHashes, vec![draft.blob_hash]);
    assert_eq!(l1.head().await, draft.checkpoint.blockHash);
    let saved = ss
        .getCheckpoint(draft.checkpoint.blockNumber)
        .call()
        .await
        .unwrap();
    assert_eq!(saved.stateRoot, draft.checkpoint.stateRoot);
    let prev = l1.head().await;

    // An L1 signal slot nobody sent.
    let draft = Draft::new(&l1, 2).await;
    let unsent = B256::repeat_byte(0xee);
    let proof = l1.prove(
        draft.proposal_hash(&[unsent]),
        prev,
        &draft.checkpoint,
        &prover,
    );
    let err = revert_of(&l1, draft.propose_tx(&l1, vec![unsent], proof, true)).await;
    assert!(
        err.contains(&selector_hex(IRealTimeInbox::SignalSlotNotSent::SELECTOR)),
        "{err}"
    );

    // No blob attached to the transaction.
    let proof = l1.prove(draft.proposal_hash(&[]), prev, &draft.checkpoint, &prover);
    let err = revert_of(&l1, draft.propose_tx(&l1, vec![], proof, false)).await;
    assert!(
        err.contains(&selector_hex(IRealTimeInbox::BlobNotFound::SELECTOR)),
        "{err}"
    );

    // A proof by someone other than the configured prover.
    let stranger = PrivateKeySigner::random();
    let proof = l1.prove(draft.proposal_hash(&[]), prev, &draft.checkpoint, &stranger);
    let err = revert_of(&l1, draft.propose_tx(&l1, vec![], proof, true)).await;
    assert!(
        err.contains(&selector_hex(
            doubles::ProofVerifierDummy::InvalidProof::SELECTOR
        )),
        "{err}"
    );

    // Broken continuity: proved on top of a head the inbox does not have.
    let proof = l1.prove(
        draft.proposal_hash(&[]),
        l1.genesis,
        &draft.checkpoint,
        &prover,
    );
    let err = revert_of(&l1, draft.propose_tx(&l1, vec![], proof, true)).await;
    assert!(
        err.contains(&selector_hex(
            doubles::ProofVerifierDummy::InvalidProof::SELECTOR
        )),
        "{err}"
    );

    // An anchor block whose hash the EVM no longer serves.
    let mut stale = Draft::new(&l1, 3).await;
    stale.anchor_number = 1_000_000;
    let proof = l1.prove(stale.proposal_hash(&[]), prev, &stale.checkpoint, &prover);
    let err = revert_of(&l1, stale.propose_tx(&l1, vec![], proof, true)).await;
    assert!(
        err.contains(&selector_hex(
            IRealTimeInbox::MaxAnchorBlockTooOld::SELECTOR
        )),
        "{err}"
    );

    assert_eq!(l1.head().await, prev, "a rejected proposal moved the head");
}

#[tokio::test]
async fn tentative_propose_must_be_finalized_with_the_same_sent_signals() {
    let l1 = L1::start().await;
    let prover: PrivateKeySigner = PROVER_KEY.parse().unwrap();
    let required = B256::repeat_byte(0x77);

    let multicall_tx = |draft: &Draft, finalize_with: Vec<B256>, proof: Bytes| {
        let data: Bytes = ProposeInputV2 {
            blobReference: BlobReference {
                blobStartIndex: 0,
                numBlobs: 1,
                offset: Default::default(),
            },
            numForcedInclusions: 0,
            existingSignals: vec![],
            requiredReturnSignals: vec![required],
            maxAnchorBlockNumber: u48(draft.anchor_number),
        }
        .abi_encode()
        .into();
        let calls = vec![
            bindings::Call {
                target: l1.inbox,
                value: U256::ZERO,
                data: IRealTimeInbox::tentativeProposeCall {
                    _data: data,
                    _checkpoint: draft.checkpoint.clone(),
                    _proof: proof,
                }
                .abi_encode()
                .into(),
            },
            bindings::Call {
                target: l1.inbox,
                value: U256::ZERO,
                data: IRealTimeInbox::finalizeProposeCall {
                    _requiredReturnSignals: finalize_with,
                }
                .abi_encode()
                .into(),
            },
        ];
        TransactionRequest::default()
            .with_to(l1.multicall)
            .with_input(IMulticall::multicallCall { calls }.abi_encode())
            .with_blob_sidecar_7594(draft.sidecar.clone())
    };

    let draft = Draft::new(&l1, 4).await;
    let proof = l1.prove(
        draft.proposal_hash(&[required]),
        l1.genesis,
        &draft.checkpoint,
        &prover,
    );

    // Finalizing with a different list than the one committed to.
    let err = revert_of(
        &l1,
        multicall_tx(&draft, vec![B256::repeat_byte(0x78)], proof.clone()),
    )
    .await;
    assert!(
        err.contains(&selector_hex(
            IRealTimeInbox::RequiredSignalsMismatch::SELECTOR
        )),
        "{err}"
    );
    // The right list, but nothing in the transaction sent that signal.
    let err = revert_of(&l1, multicall_tx(&draft, vec![required], proof)).await;
    assert!(
        err.contains(&selector_hex(
            IRealTimeInbox::RequiredSignalNotSent::SELECTOR
        )),
        "{err}"
    );
    // Finalize alone has nothing pending.
    let lone = TransactionRequest::default().with_to(l1.inbox).with_input(
        IRealTimeInbox::finalizeProposeCall {
            _requiredReturnSignals: vec![],
        }
        .abi_encode(),
    );
    let err = revert_of(&l1, lone).await;
    assert!(
        err.contains(&selector_hex(IRealTimeInbox::NoPendingProposal::SELECTOR)),
        "{err}"
    );
    assert_eq!(l1.head().await, l1.genesis);
}

#[tokio::test]
async fn a_real_storage_proof_from_l2_verifies_against_the_saved_checkpoint_and_a_forged_one_does_not()
 {
    let l2 = Anvil::start(&AnvilOptions {
        chain_id: Some(L2_CHAIN_ID),
        ..Default::default()
    })
    .unwrap();
    let l2p = wallet_provider(&l2, OWNER_KEY);
    let owner: Address = OWNER_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let l2_ss = doubles::SignalService::deploy(&l2p, owner).await.unwrap();
    let signal = B256::repeat_byte(0x5a);
    let receipt = l2_ss.sendSignal(signal).confirmed().await;
    let slot = receipt
        .decoded_log::<doubles::SignalService::SignalSent>()
        .unwrap()
        .data
        .slot;
    let block = l2p
        .get_block_by_number(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();

    // On L1 the test plays the inbox (the authorized syncer) and saves L2's checkpoint.
    let l1 = Anvil::start(&AnvilOptions::default()).unwrap();
    let l1p = wallet_provider(&l1, OWNER_KEY);
    let l1_ss = doubles::SignalService::deploy(&l1p, owner).await.unwrap();
    l1_ss.init(owner, *l2_ss.address()).confirmed().await;
    let checkpoint = doubles::SignalService::Checkpoint {
        blockNumber: u48(block.header.number),
        blockHash: block.header.hash,
        stateRoot: block.header.state_root,
    };
    l1_ss.saveCheckpoint(checkpoint).confirmed().await;

    let l2_proof = hop_proof(
        &l2p,
        L2_CHAIN_ID,
        *l2_ss.address(),
        slot,
        block.header.number,
        block.header.state_root,
    )
    .await;
    let forged_root = hop_proof(
        &l2p,
        L2_CHAIN_ID,
        *l2_ss.address(),
        slot,
        block.header.number,
        B256::repeat_byte(1),
    )
    .await;
    let verify = |signal: B256, proof: Bytes| {
        let call = l1_ss.verifySignalReceived(L2_CHAIN_ID, owner, signal, proof);
        async move { call.call().await }
    };
    verify(signal, l2_proof.clone()).await.unwrap();
    // Another signal is not in that slot.
    assert!(verify(B256::repeat_byte(0x5b), l2_proof).await.is_err());
    // A root that is not the saved checkpoint's.
    let err = format!("{:?}", verify(signal, forged_root).await.err().unwrap());
    assert!(
        err.contains(&selector_hex(
            doubles::SignalService::SS_INVALID_CHECKPOINT::SELECTOR
        )),
        "{err}"
    );
    // Without a proof, only fast (anchored) signals count, and none was set.
    let err = format!("{:?}", verify(signal, Bytes::new()).await.err().unwrap());
    assert!(
        err.contains(&selector_hex(
            doubles::SignalService::SS_SIGNAL_NOT_RECEIVED::SELECTOR
        )),
        "{err}"
    );
}
