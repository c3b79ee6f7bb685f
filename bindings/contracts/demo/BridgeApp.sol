// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { IBridge, IMessageInvocable, Message } from "../shared/Types.sol";

/// Shared plumbing of the demo apps: send a message to the peer app on the other chain, and
/// accept only messages that the local bridge delivers from that peer.
abstract contract BridgeApp is IMessageInvocable {
    /// Gas the demo messages carry; above the bridge's reserve so relayed invocations get gas.
    uint32 public constant MESSAGE_GAS_LIMIT = 2_000_000;

    IBridge public immutable bridge;
    uint64 public immutable peerChainId;
    address public peer;
    address private immutable deployer;

    error NOT_FROM_PEER();
    error PEER_ALREADY_SET();

    constructor(IBridge _bridge, uint64 _peerChainId) {
        bridge = _bridge;
        peerChainId = _peerChainId;
        deployer = msg.sender;
    }

    receive() external payable { }

    /// The peer is deployed on the other chain after this contract.
    function setPeer(address _peer) external {
        require(msg.sender == deployer && peer == address(0), PEER_ALREADY_SET());
        peer = _peer;
    }

    function onMessageInvocation(bytes calldata _data) external payable {
        require(msg.sender == address(bridge) && bridge.context().from == peer, NOT_FROM_PEER());
        _onPeerMessage(_data);
    }

    function _onPeerMessage(bytes calldata _data) internal virtual;

    function _sendToPeer(bytes memory _payload, uint256 _value) internal returns (Message memory sent_) {
        Message memory message = Message({
            id: 0,
            fee: 0,
            gasLimit: MESSAGE_GAS_LIMIT,
            from: address(0),
            srcChainId: 0,
            srcOwner: address(this),
            destChainId: peerChainId,
            destOwner: peer,
            to: peer,
            value: _value,
            data: abi.encodeCall(IMessageInvocable.onMessageInvocation, (_payload))
        });
        (, sent_) = bridge.sendMessage{ value: _value }(message);
    }
}
