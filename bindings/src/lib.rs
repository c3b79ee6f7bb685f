//! alloy `sol!` bindings of the Surge real-time protocol: the L1 RealTimeInbox, Bridge,
//! SignalService, proposer Multicall, SurgeVerifier and UserOpsSubmitter, and the L2 Anchor.
//! Signatures follow the deployed contracts (`../shared/spec/protocol.md`); the conformance
//! tests check every selector and topic against the shared vectors.

pub mod doubles;
pub mod vectors;

alloy::sol! {
    /// An L2 block as the settlement layer records it.
    #[derive(Debug, PartialEq, Eq)]
    struct Checkpoint { uint48 blockNumber; bytes32 blockHash; bytes32 stateRoot; }

    /// Blobs of the current transaction that carry a proposal.
    #[derive(Debug, PartialEq, Eq)]
    struct BlobReference { uint16 blobStartIndex; uint16 numBlobs; uint24 offset; }

    /// Versioned hashes and position of a proposal's data.
    #[derive(Debug, PartialEq, Eq)]
    struct BlobSlice { bytes32[] blobHashes; uint24 offset; uint48 timestamp; }

    /// One data source of a proposal (forced inclusions first, the proposer's last).
    #[derive(Debug, PartialEq, Eq)]
    struct DerivationSource { bool isForcedInclusion; BlobSlice blobSlice; }

    /// The `bytes _data` of `propose`.
    #[derive(Debug, PartialEq, Eq)]
    struct ProposeInput { BlobReference blobReference; uint16 numForcedInclusions; bytes32[] signalSlots; uint48 maxAnchorBlockNumber; }

    /// The `bytes _data` of `tentativePropose`.
    #[derive(Debug, PartialEq, Eq)]
    struct ProposeInputV2 { BlobReference blobReference; uint16 numForcedInclusions; bytes32[] existingSignals; bytes32[] requiredReturnSignals; uint48 maxAnchorBlockNumber; }

    /// What the inbox hashes into `proposalHash`.
    #[derive(Debug, PartialEq, Eq)]
    struct Proposal { uint48 maxAnchorBlockNumber; bytes32 maxAnchorBlockHash; uint8 basefeeSharingPctg; DerivationSource[] sources; bytes32 signalSlotsHash; }

    /// What the proof commits to.
    #[derive(Debug, PartialEq, Eq)]
    struct Commitment { bytes32 proposalHash; bytes32 lastFinalizedBlockHash; Checkpoint checkpoint; }

    /// RealTimeInbox immutables.
    #[derive(Debug, PartialEq, Eq)]
    struct InboxConfig { address proofVerifier; address signalService; uint8 basefeeSharingPctg; uint16 forcedInclusionDelay; uint64 forcedInclusionFeeInGwei; uint64 forcedInclusionFeeDoubleThreshold; }

    /// A queued forced inclusion.
    #[derive(Debug, PartialEq, Eq)]
    struct ForcedInclusion { uint64 feeInGwei; BlobSlice blobSlice; }

    /// One proof of `abi.encode(SubProof[])`, dispatched by its bit flag.
    #[derive(Debug, PartialEq, Eq)]
    struct SubProof { uint8 proofBitFlag; bytes data; }

    /// A storage proof of a signal against a saved checkpoint.
    #[derive(Debug, PartialEq, Eq)]
    struct HopProof { uint64 chainId; uint64 blockId; bytes32 rootHash; uint8 cacheOption; bytes[] accountProof; bytes[] storageProof; }

    /// A bridge message (field order is the ABI order).
    #[derive(Debug, PartialEq, Eq, Default)]
    struct Message { uint64 id; uint64 fee; uint32 gasLimit; address from; uint64 srcChainId; address srcOwner; uint64 destChainId; address destOwner; address to; uint256 value; bytes data; }

    /// What `Bridge.context()` returns while a message is being processed.
    #[derive(Debug, PartialEq, Eq)]
    struct BridgeContext { bytes32 msgHash; address from; uint64 srcChainId; }

    /// One call of the proposer Multicall.
    #[derive(Debug, PartialEq, Eq)]
    struct Call { address target; uint256 value; bytes data; }

    /// One operation of a UserOpsSubmitter batch.
    #[derive(Debug, PartialEq, Eq)]
    struct UserOp { address target; uint256 value; bytes data; }

    /// The L1 RealTimeInbox: propose + prove + finalize in one call.
    #[sol(rpc)]
    interface IRealTimeInbox {
        function propose(bytes _data, Checkpoint _checkpoint, bytes _proof) external;
        function tentativePropose(bytes _data, Checkpoint _checkpoint, bytes _proof) external returns (bytes32 proposalId);
        function finalizePropose(bytes32[] _requiredReturnSignals) external;
        function getConfig() external view returns (InboxConfig config);
        function getLastFinalizedBlockHash() external view returns (bytes32);
        function lastFinalizedBlockHash() external view returns (bytes32);
        function getForcedInclusionState() external view returns (uint48 head, uint48 tail);
        function activate(bytes32 _genesisBlockHash) external;
        function saveForcedInclusion(BlobReference _blobReference) external payable;
        function getCurrentForcedInclusionFee() external view returns (uint64 feeInGwei);
        function getForcedInclusions(uint48 _start, uint48 _maxCount) external view returns (ForcedInclusion[] inclusions);
        function hashProposal(Proposal _proposal) external pure returns (bytes32);
        function hashCommitment(Commitment _commitment) external pure returns (bytes32);
        function hashSignalSlots(bytes32[] _signalSlots) external pure returns (bytes32);

        event ProposedAndProved(bytes32 indexed proposalHash, bytes32 lastFinalizedBlockHash, uint48 maxAnchorBlockNumber, uint8 basefeeSharingPctg, DerivationSource[] sources, bytes32[] signalSlots, Checkpoint checkpoint);
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
    }

    /// The Taiko bridge on either chain.
    #[sol(rpc)]
    interface IBridge {
        function sendMessage(Message _message) external payable returns (bytes32 msgHash_, Message message_);
        function processMessage(Message _message, bytes _proof) external returns (uint8 status_, uint8 reason_);
        function hashMessage(Message _message) external pure returns (bytes32);
        function nextMessageId() external view returns (uint64);
        function context() external view returns (BridgeContext ctx_);
        function isMessageSent(Message _message) external view returns (bool);

        event MessageSent(bytes32 indexed msgHash, Message message);
        event MessageStatusChanged(bytes32 indexed msgHash, uint8 status);
    }

    /// What a bridge message target implements.
    #[sol(rpc)]
    interface IMessageInvocable {
        function onMessageInvocation(bytes _data) external payable;
    }

    /// The signal service on either chain (signals, fast signals, checkpoints).
    #[sol(rpc)]
    interface ISignalService {
        function sendSignal(bytes32 _signal) external returns (bytes32 slot_);
        function isSignalSent(bytes32 _signalSlot) external view returns (bool);
        function isSignalSent(address _app, bytes32 _signal) external view returns (bool);
        function getSignalSlot(uint64 _chainId, address _app, bytes32 _signal) external pure returns (bytes32);
        function setSignalsReceived(bytes32[] _signalSlots) external;
        function saveCheckpoint(Checkpoint _checkpoint) external;
        function getCheckpoint(uint48 _blockNumber) external view returns (Checkpoint checkpoint_);
        function proveSignalReceived(uint64 _chainId, address _app, bytes32 _signal, bytes _proof) external returns (uint256 numCacheOps_);
        function verifySignalReceived(uint64 _chainId, address _app, bytes32 _signal, bytes _proof) external view;

        event SignalSent(address app, bytes32 signal, bytes32 slot, bytes32 value);
        event CheckpointSaved(uint48 indexed blockNumber, bytes32 blockHash, bytes32 stateRoot);
    }

    /// The L2 anchor: the first transaction of every L2 block.
    #[sol(rpc)]
    interface IAnchor {
        function anchorV4WithSignalSlots(Checkpoint _checkpoint, bytes32[] _signalSlots) external;
        function anchorV4(Checkpoint _checkpoint) external;

        event Anchored(uint48 prevAnchorBlockNumber, uint48 anchorBlockNumber, bytes32 ancestorsHash);
    }

    /// The proposer Multicall (not Multicall3): sequential, all-or-nothing.
    #[sol(rpc)]
    interface IMulticall {
        function multicall(Call[] calls) external payable returns (bytes[] results);

        error MULTICALL_CALL_FAILED(uint256 index, bytes returnData);
    }

    /// The SurgeVerifier the inbox calls.
    #[sol(rpc)]
    interface ISurgeVerifier {
        function verifyProof(bool _requiresThreshold, bytes32 _commitmentHash, bytes _proof) external view returns (uint8);
    }

    /// One proof system's verifier (e.g. ProofVerifierDummy behind the MOCK_ECDSA flag).
    #[sol(rpc)]
    interface IProofVerifier {
        function verifyProof(uint256 _proposalAge, bytes32 _commitmentHash, bytes _proof) external view;
    }

    /// A user's L1 smart wallet: executes an EIP-712-signed batch.
    #[sol(rpc)]
    interface IUserOpsSubmitter {
        function executeBatch(UserOp[] _ops, bytes _signature) external;
        function getDigest(UserOp[] _ops) external view returns (bytes32);
        function domainSeparator() external view returns (bytes32);
    }
}
