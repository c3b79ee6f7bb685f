// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { Checkpoint, HopProof } from "./Types.sol";
import { LibTrieProof } from "./LibTrieProof.sol";

/// Test double of the Taiko SignalService (same code on L1 and L2), with the real storage layout
/// where the node reads storage directly: a sent signal lives at its raw slot, received (fast)
/// signals in the mapping at slot 253, checkpoints in the mapping at slot 254.
contract SignalService {
    struct CheckpointRecord {
        bytes32 blockHash;
        bytes32 stateRoot;
    }

    // Slots 0..250 (EssentialContract) and 251..252 (_slotsUsedByPacaya) of the real layout.
    uint256[253] private __layoutGap;
    mapping(bytes32 slot => bool received) internal _receivedSignals; // slot 253
    mapping(uint48 blockNumber => CheckpointRecord) internal _checkpoints; // slot 254

    address public immutable owner;
    /// L1: the RealTimeInbox; L2: the Anchor. Set once by `init`.
    address public authorizedSyncer;
    /// The other chain's SignalService, whose storage HopProofs prove.
    address public remoteSignalService;

    event SignalSent(address app, bytes32 signal, bytes32 slot, bytes32 value);
    event CheckpointSaved(uint48 indexed blockNumber, bytes32 blockHash, bytes32 stateRoot);

    error SS_CHECKPOINT_NOT_FOUND();
    error SS_EMPTY_PROOF();
    error SS_INVALID_CHECKPOINT();
    error SS_INVALID_PROOF_LENGTH();
    error SS_SIGNAL_NOT_RECEIVED();
    error SS_UNAUTHORIZED();
    error SS_INVALID_VALUE();
    error SS_ALREADY_INITIALIZED();

    constructor(address _owner) {
        owner = _owner;
    }

    /// Wires the syncer and the remote service (they are deployed after this contract).
    function init(address _authorizedSyncer, address _remoteSignalService) external {
        require(msg.sender == owner, SS_UNAUTHORIZED());
        require(authorizedSyncer == address(0), SS_ALREADY_INITIALIZED());
        authorizedSyncer = _authorizedSyncer;
        remoteSignalService = _remoteSignalService;
    }

    function sendSignal(bytes32 _signal) external returns (bytes32 slot_) {
        require(_signal != bytes32(0), SS_INVALID_VALUE());
        slot_ = getSignalSlot(uint64(block.chainid), msg.sender, _signal);
        assembly {
            sstore(slot_, _signal)
        }
        emit SignalSent(msg.sender, _signal, slot_, _signal);
    }

    function isSignalSent(bytes32 _signalSlot) public view returns (bool sent_) {
        bytes32 value;
        assembly {
            value := sload(_signalSlot)
        }
        sent_ = value != bytes32(0);
    }

    function isSignalSent(address _app, bytes32 _signal) external view returns (bool) {
        return isSignalSent(getSignalSlot(uint64(block.chainid), _app, _signal));
    }

    function getSignalSlot(uint64 _chainId, address _app, bytes32 _signal) public pure returns (bytes32) {
        return keccak256(abi.encodePacked("SIGNAL", _chainId, _app, _signal));
    }

    /// Fast signals: the L2 anchor marks L1 signals as received without a proof.
    function setSignalsReceived(bytes32[] calldata _signalSlots) external {
        require(msg.sender == authorizedSyncer, SS_UNAUTHORIZED());
        for (uint256 i; i < _signalSlots.length; ++i) {
            _receivedSignals[_signalSlots[i]] = true;
        }
    }

    function saveCheckpoint(Checkpoint calldata _checkpoint) external {
        require(msg.sender == authorizedSyncer, SS_UNAUTHORIZED());
        require(_checkpoint.blockHash != bytes32(0) && _checkpoint.stateRoot != bytes32(0), SS_INVALID_CHECKPOINT());
        _checkpoints[_checkpoint.blockNumber] = CheckpointRecord(_checkpoint.blockHash, _checkpoint.stateRoot);
        emit CheckpointSaved(_checkpoint.blockNumber, _checkpoint.blockHash, _checkpoint.stateRoot);
    }

    function getCheckpoint(uint48 _blockNumber) external view returns (Checkpoint memory checkpoint_) {
        CheckpointRecord storage record = _checkpoints[_blockNumber];
        require(record.blockHash != bytes32(0), SS_CHECKPOINT_NOT_FOUND());
        checkpoint_ = Checkpoint(_blockNumber, record.blockHash, record.stateRoot);
    }

    function proveSignalReceived(uint64 _chainId, address _app, bytes32 _signal, bytes calldata _proof)
        external
        returns (uint256)
    {
        bytes32 slot = _verifySignalReceived(_chainId, _app, _signal, _proof);
        _receivedSignals[slot] = true;
        return 0;
    }

    function verifySignalReceived(uint64 _chainId, address _app, bytes32 _signal, bytes calldata _proof)
        external
        view
    {
        _verifySignalReceived(_chainId, _app, _signal, _proof);
    }

    function _verifySignalReceived(uint64 _chainId, address _app, bytes32 _signal, bytes calldata _proof)
        private
        view
        returns (bytes32 slot_)
    {
        slot_ = getSignalSlot(_chainId, _app, _signal);
        if (_proof.length == 0) {
            require(_receivedSignals[slot_], SS_SIGNAL_NOT_RECEIVED());
            return slot_;
        }
        HopProof[] memory hops = abi.decode(_proof, (HopProof[]));
        require(hops.length == 1, SS_INVALID_PROOF_LENGTH());
        HopProof memory hop = hops[0];
        CheckpointRecord storage record = _checkpoints[uint48(hop.blockId)];
        require(record.stateRoot != bytes32(0), SS_CHECKPOINT_NOT_FOUND());
        require(record.stateRoot == hop.rootHash, SS_INVALID_CHECKPOINT());
        LibTrieProof.verifyMerkleProof(
            hop.rootHash, remoteSignalService, slot_, _signal, hop.accountProof, hop.storageProof
        );
    }
}
