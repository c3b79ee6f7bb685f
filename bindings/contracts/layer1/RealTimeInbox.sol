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
/// proposal of tentativePropose/finalizePropose. The forced-inclusion queue follows
/// surge-taiko-mono 38f35588 `LibForcedInclusion.sol` and `RealTimeInbox.sol`
/// (`saveForcedInclusion`, `_consumeForcedInclusions`): fee on the queue length before the
/// save, refund of the excess, consumption clamped to the queue, the due check on the first
/// entry left over, inclusion sources first in the hashed proposal, fees to `msg.sender`.
contract RealTimeInbox is ReentrancyGuardTransient {
    uint256[251] private __layoutGap; // slots 0..250 (EssentialContract)
    bytes32 public lastFinalizedBlockHash; // slot 251
    // LibForcedInclusion.Storage, slots 252-253 as in the real inbox.
    mapping(uint256 => ForcedInclusion) private _queue; // slot 252
    uint48 private _head; // slot 253
    uint48 private _tail; // slot 253

    uint256 private transient _pendingExists;
    bytes32 private transient _pendingProposalId;
    bytes32 private transient _pendingRequiredSignalsHash;

    address public immutable owner;
    address public immutable proofVerifier;
    ISignalService public immutable signalService;
    uint8 public immutable basefeeSharingPctg;
    uint16 public immutable forcedInclusionDelay;
    uint64 public immutable forcedInclusionFeeInGwei;
    uint64 public immutable forcedInclusionFeeDoubleThreshold;

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
    error OnlySingleBlobAllowed();
    error InsufficientFee();
    error InvalidFeeDoubleThreshold();
    error ETH_TRANSFER_FAILED();
    error ACCESS_DENIED();

    constructor(
        address _owner,
        address _proofVerifier,
        ISignalService _signalService,
        uint8 _basefeeSharingPctg,
        uint16 _forcedInclusionDelay,
        uint64 _forcedInclusionFeeInGwei,
        uint64 _forcedInclusionFeeDoubleThreshold
    ) {
        require(_forcedInclusionFeeDoubleThreshold != 0, InvalidFeeDoubleThreshold());
        owner = _owner;
        proofVerifier = _proofVerifier;
        signalService = _signalService;
        basefeeSharingPctg = _basefeeSharingPctg;
        forcedInclusionDelay = _forcedInclusionDelay;
        forcedInclusionFeeInGwei = _forcedInclusionFeeInGwei;
        forcedInclusionFeeDoubleThreshold = _forcedInclusionFeeDoubleThreshold;
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
        DerivationSource[] memory sources = _sources(input.blobReference, input.numForcedInclusions);
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

        DerivationSource[] memory sources = _sources(input.blobReference, input.numForcedInclusions);
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
        return InboxConfig(
            proofVerifier,
            address(signalService),
            basefeeSharingPctg,
            forcedInclusionDelay,
            forcedInclusionFeeInGwei,
            forcedInclusionFeeDoubleThreshold
        );
    }

    function getLastFinalizedBlockHash() external view returns (bytes32) {
        return lastFinalizedBlockHash;
    }

    function getForcedInclusionState() external view returns (uint48 head_, uint48 tail_) {
        return (_head, _tail);
    }

    function saveForcedInclusion(BlobReference calldata _blobReference) external payable nonReentrant {
        _requireActivated();
        BlobSlice memory slice = _blobSlice(_blobReference, uint48(block.timestamp));
        require(slice.blobHashes.length == 1, OnlySingleBlobAllowed());
        uint64 fee = getCurrentForcedInclusionFee();
        require(msg.value >= uint256(fee) * 1 gwei, InsufficientFee());
        ForcedInclusion memory inclusion = ForcedInclusion(fee, slice);
        _queue[_tail++] = inclusion;
        emit ForcedInclusionSaved(inclusion);
        uint256 refund = msg.value - uint256(fee) * 1 gwei;
        if (refund > 0) _sendEther(msg.sender, refund);
    }

    /// base × (threshold + pending) / threshold gwei, on the queue length before a save.
    function getCurrentForcedInclusionFee() public view returns (uint64) {
        uint256 fee = uint256(forcedInclusionFeeInGwei) * (forcedInclusionFeeDoubleThreshold + (_tail - _head))
            / forcedInclusionFeeDoubleThreshold;
        return fee > type(uint64).max ? type(uint64).max : uint64(fee);
    }

    /// Up to `_maxCount` entries from `_start`; none when `_start` is outside `[head, tail)`.
    function getForcedInclusions(uint48 _start, uint48 _maxCount)
        external
        view
        returns (ForcedInclusion[] memory inclusions_)
    {
        if (_start < _head || _start >= _tail || _maxCount == 0) return inclusions_;
        uint256 count = _tail - _start;
        if (count > _maxCount) count = _maxCount;
        inclusions_ = new ForcedInclusion[](count);
        for (uint256 i; i < count; ++i) {
            inclusions_[i] = _queue[_start + i];
        }
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

    /// The consumed forced inclusions in queue order, then the proposer's blobs (always last).
    /// The proposer's slice timestamp is zeroed so the proof does not depend on the inclusion
    /// time; an inclusion keeps the time it was saved. Their fees go to the caller.
    function _sources(BlobReference memory _ref, uint16 _numForcedInclusions)
        private
        returns (DerivationSource[] memory sources_)
    {
        BlobSlice memory own = _blobSlice(_ref, 0);
        uint48 head = _head;
        uint256 available = _tail - head;
        uint256 toProcess = _numForcedInclusions < available ? _numForcedInclusions : available;
        uint48 headAfter = head + uint48(toProcess);
        if (available > toProcess) {
            uint48 savedAt = _queue[headAfter].blobSlice.timestamp;
            require(
                savedAt == 0 || block.timestamp < uint256(savedAt) + forcedInclusionDelay,
                UnprocessedForcedInclusionIsDue()
            );
        }
        sources_ = new DerivationSource[](toProcess + 1);
        uint256 fees;
        for (uint256 i; i < toProcess; ++i) {
            ForcedInclusion memory inclusion = _queue[head + i];
            sources_[i] = DerivationSource(true, inclusion.blobSlice);
            fees += uint256(inclusion.feeInGwei) * 1 gwei;
        }
        sources_[toProcess] = DerivationSource(false, own);
        _head = headAfter;
        if (fees > 0) _sendEther(msg.sender, fees);
    }

    function _blobSlice(BlobReference memory _ref, uint48 _timestamp) private view returns (BlobSlice memory) {
        require(_ref.numBlobs > 0, NoBlobs());
        bytes32[] memory hashes = new bytes32[](_ref.numBlobs);
        for (uint256 i; i < _ref.numBlobs; ++i) {
            hashes[i] = blobhash(_ref.blobStartIndex + i);
            require(hashes[i] != bytes32(0), BlobNotFound());
        }
        return BlobSlice(hashes, _ref.offset, _timestamp);
    }

    function _sendEther(address _to, uint256 _amount) private {
        (bool ok,) = _to.call{ value: _amount }("");
        require(ok, ETH_TRANSFER_FAILED());
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
