// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { ReentrancyGuardTransient } from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import { BridgeContext, IMessageInvocable, ISignalService, Message } from "./Types.sol";

/// Test double of the Surge Bridge with the real message hashing, id assignment and storage
/// layout of `nextMessageId` (slot 251, offset 8) and `__ctx` (slots 253-254). Like Surge (and
/// unlike upstream Taiko) `sendMessage` has no reentrancy guard, so a callback running inside
/// `processMessage` can send the return message.
contract Bridge is ReentrancyGuardTransient {
    enum Status {
        NEW,
        RETRIABLE,
        DONE,
        FAILED,
        RECALLED
    }

    enum StatusReason {
        INVOCATION_OK,
        INVOCATION_PROHIBITED,
        INVOCATION_FAILED,
        OUT_OF_ETH_QUOTA
    }

    uint256[251] private __layoutGap; // slots 0..250 (EssentialContract)
    uint64 private __reserved1; // slot 251, offset 0
    uint64 public nextMessageId; // slot 251, offset 8
    mapping(bytes32 msgHash => Status) public messageStatus; // slot 252
    BridgeContext private __ctx; // slots 253..254

    /// Gas kept back from a relayed invocation for the bridge's own bookkeeping.
    uint32 public constant GAS_RESERVE = 800_000;
    uint256 internal constant PLACEHOLDER = type(uint256).max;

    address public immutable owner;
    ISignalService public immutable signalService;
    /// The bridge on each remote chain (stands in for the resolver's "bridge" name).
    mapping(uint64 chainId => address bridge) public remoteBridges;

    event MessageSent(bytes32 indexed msgHash, Message message);
    event MessageStatusChanged(bytes32 indexed msgHash, Status status);

    error B_INVALID_CHAINID();
    error B_INVALID_CONTEXT();
    error B_INVALID_FEE();
    error B_INVALID_GAS_LIMIT();
    error B_INVALID_USER();
    error B_INVALID_VALUE();
    error B_PERMISSION_DENIED();
    error B_PROOF_TOO_LARGE();
    error B_SIGNAL_NOT_RECEIVED();
    error B_STATUS_MISMATCH();
    error B_UNAUTHORIZED();

    constructor(address _owner, ISignalService _signalService) {
        owner = _owner;
        signalService = _signalService;
        __ctx = BridgeContext(bytes32(PLACEHOLDER), address(uint160(PLACEHOLDER)), type(uint64).max);
        nextMessageId = 1;
    }

    receive() external payable { }

    function setRemoteBridge(uint64 _chainId, address _bridge) external {
        require(msg.sender == owner, B_UNAUTHORIZED());
        remoteBridges[_chainId] = _bridge;
    }

    function getMessageMinGasLimit(uint256 _dataLength) public pure returns (uint32) {
        return GAS_RESERVE + uint32(_dataLength) * 16;
    }

    function hashMessage(Message memory _message) public pure returns (bytes32) {
        return keccak256(abi.encode("TAIKO_MESSAGE", _message));
    }

    function sendMessage(Message calldata _message)
        external
        payable
        returns (bytes32 msgHash_, Message memory message_)
    {
        require(
            _message.srcOwner != address(0) && _message.destOwner != address(0) && _message.to != address(0),
            B_INVALID_USER()
        );
        require(
            _message.destChainId != 0 && _message.destChainId != block.chainid
                && remoteBridges[_message.destChainId] != address(0),
            B_INVALID_CHAINID()
        );
        require(msg.value == _message.value + _message.fee, B_INVALID_VALUE());
        if (_message.gasLimit == 0) {
            require(_message.fee == 0, B_INVALID_FEE());
        } else {
            require(_message.gasLimit > getMessageMinGasLimit(_message.data.length), B_INVALID_GAS_LIMIT());
        }
        message_ = _message;
        message_.id = nextMessageId++;
        message_.from = msg.sender;
        message_.srcChainId = uint64(block.chainid);
        msgHash_ = hashMessage(message_);
        emit MessageSent(msgHash_, message_);
        signalService.sendSignal(msgHash_);
    }

    function processMessage(Message calldata _message, bytes calldata _proof)
        external
        nonReentrant
        returns (Status status_, StatusReason reason_)
    {
        require(_message.destChainId == block.chainid, B_INVALID_CHAINID());
        require(_message.srcChainId != 0 && _message.srcChainId != block.chainid, B_INVALID_CHAINID());
        bool byRelayer = msg.sender != _message.destOwner;
        if (byRelayer) {
            require(_message.gasLimit != 0, B_PERMISSION_DENIED());
            require(_proof.length <= 200_000, B_PROOF_TOO_LARGE());
        }
        bytes32 msgHash = hashMessage(_message);
        require(messageStatus[msgHash] == Status.NEW, B_STATUS_MISMATCH());
        try signalService.proveSignalReceived(
            _message.srcChainId, remoteBridges[_message.srcChainId], msgHash, _proof
        ) returns (uint256) { }
        catch {
            revert B_SIGNAL_NOT_RECEIVED();
        }

        if (_invocationProhibited(_message)) {
            status_ = Status.DONE;
            reason_ = StatusReason.INVOCATION_PROHIBITED;
            _send(_message.destOwner, _message.value);
        } else {
            uint256 gasLimit = byRelayer ? _message.gasLimit - getMessageMinGasLimit(_message.data.length) : gasleft();
            __ctx = BridgeContext(msgHash, _message.from, _message.srcChainId);
            (bool ok,) = _message.to.call{ value: _message.value, gas: gasLimit }(_message.data);
            __ctx = BridgeContext(bytes32(PLACEHOLDER), address(uint160(PLACEHOLDER)), type(uint64).max);
            (status_, reason_) = ok
                ? (Status.DONE, StatusReason.INVOCATION_OK)
                : (Status.RETRIABLE, StatusReason.INVOCATION_FAILED);
        }
        if (byRelayer && _message.fee != 0) _send(msg.sender, _message.fee);
        messageStatus[msgHash] = status_;
        emit MessageStatusChanged(msgHash, status_);
    }

    function context() external view returns (BridgeContext memory ctx_) {
        ctx_ = __ctx;
        require(ctx_.msgHash != bytes32(0) && ctx_.msgHash != bytes32(PLACEHOLDER), B_INVALID_CONTEXT());
    }

    function isMessageSent(Message calldata _message) external view returns (bool) {
        if (_message.srcChainId != block.chainid) return false;
        bytes32 slot = keccak256(abi.encodePacked("SIGNAL", uint64(block.chainid), address(this), hashMessage(_message)));
        return signalService.isSignalSent(slot);
    }

    function _invocationProhibited(Message calldata _message) private view returns (bool) {
        address to = _message.to;
        if (to == address(0) || to == address(this) || to == address(signalService)) return true;
        return _message.data.length >= 4 && bytes4(_message.data[:4]) != IMessageInvocable.onMessageInvocation.selector;
    }

    function _send(address _to, uint256 _amount) private {
        if (_amount == 0) return;
        (bool ok,) = _to.call{ value: _amount }("");
        require(ok, B_INVALID_VALUE());
    }
}
