// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

// Structs shared by the protocol test doubles. Field order is the ABI order of the real
// Surge contracts (see shared/spec/protocol.md); the node's bindings depend on it.

struct Checkpoint {
    uint48 blockNumber;
    bytes32 blockHash;
    bytes32 stateRoot;
}

struct BlobReference {
    uint16 blobStartIndex;
    uint16 numBlobs;
    uint24 offset;
}

struct BlobSlice {
    bytes32[] blobHashes;
    uint24 offset;
    uint48 timestamp;
}

struct DerivationSource {
    bool isForcedInclusion;
    BlobSlice blobSlice;
}

struct ProposeInput {
    BlobReference blobReference;
    uint16 numForcedInclusions;
    bytes32[] signalSlots;
    uint48 maxAnchorBlockNumber;
}

struct ProposeInputV2 {
    BlobReference blobReference;
    uint16 numForcedInclusions;
    bytes32[] existingSignals;
    bytes32[] requiredReturnSignals;
    uint48 maxAnchorBlockNumber;
}

struct Proposal {
    uint48 maxAnchorBlockNumber;
    bytes32 maxAnchorBlockHash;
    uint8 basefeeSharingPctg;
    DerivationSource[] sources;
    bytes32 signalSlotsHash;
}

struct Commitment {
    bytes32 proposalHash;
    bytes32 lastFinalizedBlockHash;
    Checkpoint checkpoint;
}

struct InboxConfig {
    address proofVerifier;
    address signalService;
    uint8 basefeeSharingPctg;
    uint16 forcedInclusionDelay;
    uint64 forcedInclusionFeeInGwei;
    uint64 forcedInclusionFeeDoubleThreshold;
}

struct ForcedInclusion {
    uint64 feeInGwei;
    BlobSlice blobSlice;
}

struct SubProof {
    uint8 proofBitFlag;
    bytes data;
}

struct HopProof {
    uint64 chainId;
    uint64 blockId;
    bytes32 rootHash;
    uint8 cacheOption;
    bytes[] accountProof;
    bytes[] storageProof;
}

struct Message {
    uint64 id;
    uint64 fee;
    uint32 gasLimit;
    address from;
    uint64 srcChainId;
    address srcOwner;
    uint64 destChainId;
    address destOwner;
    address to;
    uint256 value;
    bytes data;
}

struct BridgeContext {
    bytes32 msgHash;
    address from;
    uint64 srcChainId;
}

interface ISignalService {
    function sendSignal(bytes32 _signal) external returns (bytes32 slot_);
    function isSignalSent(bytes32 _signalSlot) external view returns (bool);
    function setSignalsReceived(bytes32[] calldata _signalSlots) external;
    function saveCheckpoint(Checkpoint calldata _checkpoint) external;
    function proveSignalReceived(uint64 _chainId, address _app, bytes32 _signal, bytes calldata _proof)
        external
        returns (uint256);
}

interface IBridge {
    function sendMessage(Message calldata _message) external payable returns (bytes32 msgHash_, Message memory message_);
    function processMessage(Message calldata _message, bytes calldata _proof) external returns (uint8, uint8);
    function context() external view returns (BridgeContext memory);
}

interface IMessageInvocable {
    function onMessageInvocation(bytes calldata _data) external payable;
}
