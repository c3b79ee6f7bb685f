//! The L1 call that lands a proposal (catalyst-reference §6, protocol.md §1.2, §6):
//! `RealTimeInbox.propose(abi.encode(ProposeInput), checkpoint, abi.encode(SubProof[]))`, sent
//! straight to the inbox in the blob tx, or inside the Multicall with user ops and L1 calls.

use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::{SolCall, SolValue},
};
use bindings::{
    BlobReference, Call, Checkpoint, IMulticall, IRealTimeInbox, ProposeInput, ProposeInputV2,
    SubProof,
};
use common::ids::SignalSlot;

use crate::{
    bridge::{config::CrossChainContracts, l1_calls::L1Call},
    proposal_store::ProposalRecord,
};

/// Selectors of the inbox and verifier errors an operator may see, with what they mean.
const KNOWN_REVERTS: &[(&str, &str)] = &[
    (
        "02967fb6",
        "UnprocessedForcedInclusionIsDue: the proposal leaves out a forced inclusion that is due; the node takes FI_MAX_PER_PROPOSAL inclusions at the start of each proposal, so more were waiting than it could take in time, or their blobs could not be fetched (see forced_inclusions in /status and L1_BEACON_URL)",
    ),
    (
        "5f22a971",
        "MaxAnchorBlockTooOld: the proposal's anchor left L1's 256-block blockhash window",
    ),
    ("037c597f", "NotActivated: the inbox has not been activated"),
    (
        "5353f567",
        "SignalSlotNotSent: a fast signal of the proposal was never sent on L1",
    ),
    (
        "f765f45e",
        "BlobNotFound: the tx carries fewer blobs than referenced",
    ),
    ("fdac229f", "NoBlobs: the tx carries no blobs"),
    (
        "92350664",
        "RequiredSignalNotSent: an L1 answer that the proposal's L2 block consumed was not sent on L1 (L1 state changed since it was predicted)",
    ),
    (
        "93e3ad61",
        "RequiredSignalsMismatch: finalizePropose's list differs from tentativePropose's",
    ),
    (
        "924d1815",
        "PendingProposalAlreadyExists: a tentativePropose without its finalizePropose in this tx",
    ),
    (
        "50b89aa1",
        "Surge_InvalidProofBitFlag: no verifier is registered for the proof's flag (check PROOF_TYPE and MOCK_MODE)",
    ),
    (
        "38f40518",
        "Surge_NumProofsThresholdNotMet: the verifier needs more proofs than were sent",
    ),
];

/// The `propose` calldata of a proved proposal whose payload fills `blobs` blobs; for a
/// proposal with required return signals, `tentativePropose` with `ProposeInputV2`
/// (protocol.md §1.4): its union `existing ‖ required` is `record.signal_slots`, the list the
/// proof and the anchor committed to.
pub fn propose_calldata(record: &ProposalRecord, blobs: usize, proof: Bytes, flag: u8) -> Bytes {
    let blob_reference = BlobReference {
        blobStartIndex: 0,
        numBlobs: blobs as u16,
        offset: alloy::primitives::Uint::ZERO,
    };
    let anchor = alloy::primitives::Uint::from(record.anchor);
    let checkpoint = Checkpoint {
        blockNumber: alloy::primitives::Uint::from(record.checkpoint.number),
        blockHash: record.checkpoint.hash,
        stateRoot: record.checkpoint.state_root,
    };
    let proof: Bytes = vec![SubProof {
        proofBitFlag: flag,
        data: proof,
    }]
    .abi_encode()
    .into();
    let slots = |s: &[SignalSlot]| s.iter().map(|s| s.0).collect::<Vec<_>>();
    let (existing, required) = record.existing_and_required();
    if required.is_empty() {
        let input = ProposeInput {
            blobReference: blob_reference,
            numForcedInclusions: record.forced.len() as u16,
            signalSlots: slots(&record.signal_slots),
            maxAnchorBlockNumber: anchor,
        };
        return IRealTimeInbox::proposeCall {
            _data: input.abi_encode().into(),
            _checkpoint: checkpoint,
            _proof: proof,
        }
        .abi_encode()
        .into();
    }
    let input = ProposeInputV2 {
        blobReference: blob_reference,
        numForcedInclusions: record.forced.len() as u16,
        existingSignals: slots(existing),
        requiredReturnSignals: slots(required),
        maxAnchorBlockNumber: anchor,
    };
    IRealTimeInbox::tentativeProposeCall {
        _data: input.abi_encode().into(),
        _checkpoint: checkpoint,
        _proof: proof,
    }
    .abi_encode()
    .into()
}

/// The proposal tx's target and calldata: `propose` straight to the inbox, or with user ops or
/// L1 calls the classic Multicall `[user ops…, propose, L1 calls…]` (catalyst-reference §6):
/// user ops first because they send the signals propose verifies, L1 calls last because
/// their proofs need the checkpoint propose saves. With required return signals (`propose` is
/// then `tentativePropose`) the deferred shape `[user ops…, tentativePropose, L1 calls…,
/// finalizePropose(required)]`: the L1 calls send the answers finalize checks.
pub fn proposal_call(
    inbox: Address,
    contracts: Option<&CrossChainContracts>,
    record: &ProposalRecord,
    propose: Bytes,
    l1_calls: &[L1Call],
) -> (Address, Bytes) {
    let user_ops = &record.user_ops;
    let (_, required) = record.existing_and_required();
    let Some(contracts) =
        contracts.filter(|_| !user_ops.is_empty() || !l1_calls.is_empty() || !required.is_empty())
    else {
        return (inbox, propose);
    };
    let call = |target: Address, data: Bytes| Call {
        target,
        value: U256::ZERO,
        data,
    };
    let finalize = (!required.is_empty()).then(|| {
        let data = IRealTimeInbox::finalizeProposeCall {
            _requiredReturnSignals: required.iter().map(|s| s.0).collect(),
        };
        call(inbox, data.abi_encode().into())
    });
    let calls = user_ops
        .iter()
        .map(|op| op.op.call())
        .chain([call(inbox, propose)])
        .chain(
            l1_calls
                .iter()
                .map(|c| call(contracts.l1_bridge, c.calldata())),
        )
        .chain(finalize)
        .collect();
    let data = IMulticall::multicallCall { calls }.abi_encode().into();
    (contracts.multicall, data)
}

/// Adds the meaning of a known inbox or verifier error selector found in `message`.
pub fn explain_revert(message: &str) -> String {
    match revert_meaning(message) {
        Some(meaning) => format!("{message} ({meaning})"),
        None => message.to_string(),
    }
}

/// What a revert message means, when it carries a known inbox or verifier error.
pub fn revert_meaning(message: &str) -> Option<&'static str> {
    let lower = message.to_ascii_lowercase();
    KNOWN_REVERTS
        .iter()
        .find(|(sel, _)| lower.contains(sel))
        .map(|(_, meaning)| *meaning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal_store::L2Checkpoint;
    use alloy::primitives::B256;
    use common::ids::{ProposalId, SignalSlot};

    #[test]
    fn calldata_decodes_back_to_the_proposal() {
        let record = ProposalRecord {
            id: ProposalId(1),
            anchor: 77,
            first_block: 5,
            parent_hash: B256::repeat_byte(1),
            checkpoint: L2Checkpoint {
                number: 6,
                hash: B256::repeat_byte(2),
                state_root: B256::repeat_byte(3),
            },
            signal_slots: vec![SignalSlot(B256::repeat_byte(4))],
            payload: Bytes::new(),
            user_ops: vec![],
            returns: Default::default(),
            preconfirmed_at_ms: vec![],
            block_hashes: vec![],
            forced: vec![],
        };
        let data = propose_calldata(&record, 3, Bytes::from(vec![0xab; 65]), 1);
        assert_eq!(data[..4], [0x44, 0x73, 0x2c, 0x62], "propose selector");
        let call = IRealTimeInbox::proposeCall::abi_decode(&data).unwrap();
        let input = ProposeInput::abi_decode(&call._data).unwrap();
        assert_eq!(input.blobReference.numBlobs, 3);
        assert_eq!(input.numForcedInclusions, 0);
        assert_eq!(input.signalSlots, vec![B256::repeat_byte(4)]);
        assert_eq!(input.maxAnchorBlockNumber.to::<u64>(), 77);
        assert_eq!(call._checkpoint.blockNumber.to::<u64>(), 6);
        let proofs = Vec::<SubProof>::abi_decode(&call._proof).unwrap();
        assert_eq!(proofs.len(), 1);
        assert_eq!(proofs[0].proofBitFlag, 1);
        assert_eq!(proofs[0].data.len(), 65);
        assert!(explain_revert("execution reverted: 0x02967fb6").contains("forced inclusion"));
    }

    #[test]
    fn required_return_signals_make_the_deferred_shape() {
        let slot = |b: u8| SignalSlot(B256::repeat_byte(b));
        let mut record = ProposalRecord {
            id: ProposalId(2),
            anchor: 9,
            first_block: 5,
            parent_hash: B256::repeat_byte(1),
            checkpoint: L2Checkpoint {
                number: 5,
                hash: B256::repeat_byte(2),
                state_root: B256::repeat_byte(3),
            },
            signal_slots: vec![slot(4), slot(5), slot(6)],
            payload: Bytes::new(),
            user_ops: vec![],
            returns: Default::default(),
            preconfirmed_at_ms: vec![],
            block_hashes: vec![],
            forced: vec![],
        };
        record.returns.slots = vec![slot(5), slot(6)];
        let data = propose_calldata(&record, 1, Bytes::from(vec![0xab; 65]), 1);
        let call = IRealTimeInbox::tentativeProposeCall::abi_decode(&data).unwrap();
        let input = ProposeInputV2::abi_decode(&call._data).unwrap();
        assert_eq!(input.existingSignals, vec![B256::repeat_byte(4)]);
        assert_eq!(
            input.requiredReturnSignals,
            vec![B256::repeat_byte(5), B256::repeat_byte(6)],
            "existing ‖ required is the list the anchor and the proof committed to"
        );
        let contracts = CrossChainContracts {
            multicall: Address::repeat_byte(0x3c),
            l1_bridge: Address::repeat_byte(0xb1),
            l2_bridge: Address::repeat_byte(0xb2),
            l2_signal_service: Address::repeat_byte(0x52),
        };
        let inbox = Address::repeat_byte(0x1b);
        let (to, input) = proposal_call(inbox, Some(&contracts), &record, data.clone(), &[]);
        assert_eq!(to, contracts.multicall);
        let calls = IMulticall::multicallCall::abi_decode(&input).unwrap().calls;
        assert_eq!(calls.len(), 2, "tentativePropose, finalizePropose");
        assert_eq!(calls[0].data, data);
        let finalize = IRealTimeInbox::finalizeProposeCall::abi_decode(&calls[1].data).unwrap();
        assert_eq!(finalize._requiredReturnSignals, input_required(&record));
        assert!(explain_revert("reverted 0xcc974199...92350664").contains("RequiredSignalNotSent"));
    }

    fn input_required(record: &ProposalRecord) -> Vec<B256> {
        record.returns.slots.iter().map(|s| s.0).collect()
    }
}
