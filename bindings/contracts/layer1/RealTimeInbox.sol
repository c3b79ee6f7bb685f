// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { ReentrancyGuardTransient } from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {
    BlobReference,
    BlobSlice,
    Checkpoint,
    Commitment,
    DerivationSource,
    ForcedInclusion,
    InboxConfig,
    ISignalService,
    Proposal,
    ProposeInput,
    ProposeInputV2
} from "../shared/Types.sol";
import { ISurgeVerifier } from "./SurgeVerifier.sol";

/// Test double of Surge's RealTimeInbox: propose + prove + finalize in one call, with the real
/// checks in the real order (activation, anchor blockhash, sent signal slots, blobs, proposal and
/// commitment hashing, proof, checkpoint saved in the L1 SignalService) and the transient pending
/// proposal of tentativePropose/finalizePropose. Forced inclusions are not modelled: the queue is
/// always empty.
contract RealTimeInbox is ReentrancyGuardTransient {
    uint256[251] private __layoutGap; // slots 0..250 (EssentialContract)
    bytes32 public lastFinalizedBlockHash; // slot 251

    uint256 private transient _pendingExists;
    bytes32 private transient _pendingProposalId;
    bytes32 private transient _pendingRequiredSignalsHash;

    address public immutable owner;
    address public immutable proofVerifier;
    ISignalService public immutable signalService;
    uint8 public immutable basefeeSharingPctg;

    event ProposedAndProved(
        bytes32 indexed proposalHash,
        bytes32 lastFinalizedBlockHash,
        uint48 maxAnchorBlockNumber,
        uint8 basefeeSharingPctg,
        DerivationSource[] sources,
        bytes32[] signalSlots,
        Checkpoint checkpoint
    );
    event TentativeProposed(bytes32 indexed proposalId, bytes32 requiredReturnSignalsHash);
    event Activated(bytes32 genesisBlockHash);
    event ForcedInclusionSaved(ForcedInclusion forcedInclusion);

    error AlreadyActivated();
    error MaxAnchorBlockTooOld();
    error InvalidGenesisBlockHash();
    error NotActivated();
    error SignalSlotNotSent(bytes32 slot);
    error PendingProposalAlreadyExists();
    error NoPendingProposal();
    error RequiredSignalsMismatch();
    error RequiredSignalNotSent(bytes32 slot);
    error UnprocessedForcedInclusionIsDue();
    error BlobNotFound();
    error NoBlobs();
    error ACCESS_DENIED();
    error FUNC_NOT_IMPLEMENTED();

    constructor(address _owner, address _proofVerifier, ISignalService _signalService, uint8 _basefeeSharingPctg) {
        owner = _owner;
        proofVerifier = _proofVerifier;
        signalService = _signalService;
        basefeeSharingPctg = _basefeeSharingPctg;
    }

    function activate(bytes32 _genesisBlockHash) external {
        require(msg.sender == owner, ACCESS_DENIED());
        require(lastFinalizedBlockHash == bytes32(0), AlreadyActivated());
        require(_genesisBlockHash != bytes32(0), InvalidGenesisBlockHash());
        lastFinalizedBlockHash = _genesisBlockHash;
        emit Activated(_genesisBlockHash);
    }

    function propose(bytes calldata _data, Checkpoint calldata _checkpoint, bytes calldata _proof)
        external
        nonReentrant
    {
        bytes32 prev = _requireActivated();
        ProposeInput memory input = abi.decode(_data, (ProposeInput));
        bytes32 anchorHash = _anchorHash(input.maxAnchorBlockNumber);
        _requireSignalsSent(input.signalSlots);
        DerivationSource[] memory sources = _sources(input.blobReference);
        bytes32 proposalHash = hashProposal(
            Proposal(input.maxAnchorBlockNumber, anchorHash, basefeeSharingPctg, sources, hashSignalSlots(input.signalSlots))
        );
        _verifyAndFinalize(proposalHash, prev, _checkpoint, _proof);
        emit ProposedAndProved(
            proposalHash, prev, input.maxAnchorBlockNumber, basefeeSharingPctg, sources, input.signalSlots, _checkpoint
        );
    }

    function tentativePropose(bytes calldata _data, Checkpoint calldata _checkpoint, bytes calldata _proof)
        external
        nonReentrant
        returns (bytes32 proposalId_)
    {
        bytes32 prev = _requireActivated();
        require(_pendingExists == 0, PendingProposalAlreadyExists());
        ProposeInputV2 memory input = abi.decode(_data, (ProposeInputV2));
        bytes32 anchorHash = _anchorHash(input.maxAnchorBlockNumber);
        _requireSignalsSent(input.existingSignals);

        bytes32[] memory union = new bytes32[](input.existingSignals.length + input.requiredReturnSignals.length);
        for (uint256 i; i < input.existingSignals.length; ++i) {
            union[i] = input.existingSignals[i];
        }
        for (uint256 i; i < input.requiredReturnSignals.length; ++i) {
            union[input.existingSignals.length + i] = input.requiredReturnSignals[i];
        }
        bytes32 requiredSignalsHash = hashSignalSlots(input.requiredReturnSignals);

        DerivationSource[] memory sources = _sources(input.blobReference);
        proposalId_ = hashProposal(
            Proposal(input.maxAnchorBlockNumber, anchorHash, basefeeSharingPctg, sources, hashSignalSlots(union))
        );
        _verifyAndFinalize(proposalId_, prev, _checkpoint, _proof);
        emit ProposedAndProved(
            proposalId_, prev, input.maxAnchorBlockNumber, basefeeSharingPctg, sources, union, _checkpoint
        );

        _pendingExists = 1;
        _pendingProposalId = proposalId_;
        _pendingRequiredSignalsHash = requiredSignalsHash;
        emit TentativeProposed(proposalId_, requiredSignalsHash);
    }

    function finalizePropose(bytes32[] calldata _requiredReturnSignals) external {
        require(_pendingExists == 1, NoPendingProposal());
        require(hashSignalSlots(_requiredReturnSignals) == _pendingRequiredSignalsHash, RequiredSignalsMismatch());
        for (uint256 i; i < _requiredReturnSignals.length; ++i) {
            require(
                signalService.isSignalSent(_requiredReturnSignals[i]), RequiredSignalNotSent(_requiredReturnSignals[i])
            );
        }
        _pendingExists = 0;
        _pendingProposalId = bytes32(0);
        _pendingRequiredSignalsHash = bytes32(0);
    }

    function getConfig() external view returns (InboxConfig memory) {
        return InboxConfig(proofVerifier, address(signalService), basefeeSharingPctg, 0, 0, 0);
    }

    function getLastFinalizedBlockHash() external view returns (bytes32) {
        return lastFinalizedBlockHash;
    }

    function getForcedInclusionState() external pure returns (uint48 head_, uint48 tail_) {
        return (0, 0);
    }

    function saveForcedInclusion(BlobReference calldata) external payable {
        revert FUNC_NOT_IMPLEMENTED();
    }

    function getCurrentForcedInclusionFee() external pure returns (uint64) {
        return 0;
    }

    function getForcedInclusions(uint48, uint48) external pure returns (ForcedInclusion[] memory inclusions_) {
        return inclusions_;
    }

    function hashProposal(Proposal memory _proposal) public pure returns (bytes32) {
        return keccak256(abi.encode(_proposal));
    }

    function hashCommitment(Commitment memory _commitment) public pure returns (bytes32) {
        return keccak256(abi.encode(_commitment));
    }

    function hashSignalSlots(bytes32[] memory _signalSlots) public pure returns (bytes32) {
        return _signalSlots.length == 0 ? bytes32(0) : keccak256(abi.encode(_signalSlots));
    }

    function _requireActivated() private view returns (bytes32 prev_) {
        prev_ = lastFinalizedBlockHash;
        require(prev_ != bytes32(0), NotActivated());
    }

    function _anchorHash(uint48 _maxAnchorBlockNumber) private view returns (bytes32 hash_) {
        hash_ = blockhash(_maxAnchorBlockNumber);
        require(hash_ != bytes32(0), MaxAnchorBlockTooOld());
    }

    function _requireSignalsSent(bytes32[] memory _slots) private view {
        for (uint256 i; i < _slots.length; ++i) {
            require(signalService.isSignalSent(_slots[i]), SignalSlotNotSent(_slots[i]));
        }
    }

    /// The proposer's blobs; the slice timestamp is zeroed so the proof does not depend on the
    /// inclusion time.
    function _sources(BlobReference memory _ref) private view returns (DerivationSource[] memory sources_) {
        require(_ref.numBlobs > 0, NoBlobs());
        bytes32[] memory hashes = new bytes32[](_ref.numBlobs);
        for (uint256 i; i < _ref.numBlobs; ++i) {
            hashes[i] = blobhash(_ref.blobStartIndex + i);
            require(hashes[i] != bytes32(0), BlobNotFound());
        }
        sources_ = new DerivationSource[](1);
        sources_[0] = DerivationSource(false, BlobSlice(hashes, _ref.offset, 0));
    }

    function _verifyAndFinalize(
        bytes32 _proposalHash,
        bytes32 _prev,
        Checkpoint calldata _checkpoint,
        bytes calldata _proof
    ) private {
        bytes32 commitmentHash = hashCommitment(Commitment(_proposalHash, _prev, _checkpoint));
        ISurgeVerifier(proofVerifier).verifyProof(true, commitmentHash, _proof);
        signalService.saveCheckpoint(_checkpoint);
        lastFinalizedBlockHash = _checkpoint.blockHash;
    }
}
