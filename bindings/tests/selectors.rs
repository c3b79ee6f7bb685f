//! Every selector and event topic in the shared vectors matches our bindings, and every vector
//! names a call or event our bindings define. Values are read from the vectors file, never
//! hard-coded here.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use alloy::{
    hex,
    sol_types::{SolCall, SolEvent},
};
use bindings::*;
use serde_json::Value;

/// (contract label as the vectors name it, canonical signature, selector or topic0 bytes).
fn ours() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    fn call<C: SolCall>(contract: &'static str) -> (&'static str, &'static str, Vec<u8>) {
        (contract, C::SIGNATURE, C::SELECTOR.to_vec())
    }
    fn event<E: SolEvent>(contract: &'static str) -> (&'static str, &'static str, Vec<u8>) {
        (contract, E::SIGNATURE, E::SIGNATURE_HASH.to_vec())
    }
    use IAnchor as A;
    use IBridge as B;
    use IRealTimeInbox as I;
    use ISignalService as S;
    vec![
        call::<I::proposeCall>("RealTimeInbox"),
        call::<I::tentativeProposeCall>("RealTimeInbox"),
        call::<I::finalizeProposeCall>("RealTimeInbox"),
        call::<I::getConfigCall>("RealTimeInbox"),
        call::<I::getLastFinalizedBlockHashCall>("RealTimeInbox"),
        call::<I::lastFinalizedBlockHashCall>("RealTimeInbox"),
        call::<I::getForcedInclusionStateCall>("RealTimeInbox"),
        call::<I::activateCall>("RealTimeInbox"),
        call::<I::saveForcedInclusionCall>("RealTimeInbox"),
        call::<I::getCurrentForcedInclusionFeeCall>("RealTimeInbox"),
        call::<I::getForcedInclusionsCall>("RealTimeInbox"),
        call::<I::hashProposalCall>("RealTimeInbox"),
        call::<I::hashCommitmentCall>("RealTimeInbox"),
        call::<I::hashSignalSlotsCall>("RealTimeInbox"),
        event::<I::ProposedAndProved>("RealTimeInbox"),
        event::<I::TentativeProposed>("RealTimeInbox"),
        event::<I::Activated>("RealTimeInbox"),
        event::<I::ForcedInclusionSaved>("RealTimeInbox"),
        call::<B::sendMessageCall>("Bridge"),
        call::<B::processMessageCall>("Bridge"),
        call::<B::hashMessageCall>("Bridge"),
        call::<B::nextMessageIdCall>("Bridge"),
        call::<B::contextCall>("Bridge"),
        call::<B::isMessageSentCall>("Bridge"),
        event::<B::MessageSent>("Bridge"),
        event::<B::MessageStatusChanged>("Bridge"),
        call::<IMessageInvocable::onMessageInvocationCall>("IMessageInvocable"),
        call::<S::sendSignalCall>("SignalService"),
        call::<S::isSignalSent_0Call>("SignalService"),
        call::<S::isSignalSent_1Call>("SignalService"),
        call::<S::getSignalSlotCall>("SignalService"),
        call::<S::setSignalsReceivedCall>("SignalService"),
        call::<S::saveCheckpointCall>("SignalService"),
        call::<S::getCheckpointCall>("SignalService"),
        call::<S::proveSignalReceivedCall>("SignalService"),
        call::<S::verifySignalReceivedCall>("SignalService"),
        event::<S::SignalSent>("SignalService"),
        event::<S::CheckpointSaved>("SignalService"),
        call::<A::anchorV4WithSignalSlotsCall>("Anchor"),
        call::<A::anchorV4Call>("Anchor"),
        event::<A::Anchored>("Anchor"),
        call::<IMulticall::multicallCall>("Multicall"),
        call::<ISurgeVerifier::verifyProofCall>("SurgeVerifier"),
        call::<IProofVerifier::verifyProofCall>("IProofVerifier (ProofVerifierDummy)"),
        call::<IUserOpsSubmitter::executeBatchCall>("UserOpsSubmitter"),
    ]
}

fn load_vectors() -> Value {
    let path = vectors::path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} (set {}): {e}", path.display(), vectors::ENV));
    serde_json::from_str(&text).expect("vectors file is JSON")
}

#[test]
fn conformance_selectors_and_topics_match_the_vectors() {
    let vectors = load_vectors();
    let entries = vectors["selectors"]
        .as_array()
        .expect("`selectors` is an array");
    assert!(!entries.is_empty());
    let ours = ours();
    let mut checked = 0;
    for entry in entries {
        let contract = entry["contract"].as_str().unwrap();
        let signature = entry["signature"].as_str().unwrap();
        let expected = entry["selector"]
            .as_str()
            .or_else(|| entry["topic0"].as_str())
            .expect("each entry has a selector or a topic0");
        let expected = hex::decode(expected).unwrap();
        let (_, _, got) = ours
            .iter()
            .find(|(c, s, _)| *c == contract && *s == signature)
            .unwrap_or_else(|| panic!("our bindings lack {contract}.{signature}"));
        assert_eq!(
            hex::encode(got),
            hex::encode(&expected),
            "{contract}.{signature}: selector/topic differs"
        );
        checked += 1;
    }
    assert_eq!(checked, entries.len());
}

#[test]
fn conformance_overloads_keep_their_own_selectors() {
    // Both isSignalSent overloads exist on the SignalService and are distinct calls.
    assert_ne!(
        ISignalService::isSignalSent_0Call::SELECTOR,
        ISignalService::isSignalSent_1Call::SELECTOR
    );
}
