// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { BridgeApp } from "./BridgeApp.sol";
import { IBridge } from "../shared/Types.sol";

/// L1 side of the L1→L2→L1 demo: `ping` sends a number to L2; the L2 counter adds it and answers
/// with its new total, which lands back here in the same L1 transaction.
contract PingL1 is BridgeApp {
    uint256 public lastAnswer;
    uint256 public answers;

    event Pinged(uint256 amount);
    event Answered(uint256 total);

    constructor(IBridge _bridge, uint64 _l2ChainId) BridgeApp(_bridge, _l2ChainId) { }

    function ping(uint256 _amount) external payable {
        _sendToPeer(abi.encode(_amount), msg.value);
        emit Pinged(_amount);
    }

    function _onPeerMessage(bytes calldata _data) internal override {
        lastAnswer = abi.decode(_data, (uint256));
        ++answers;
        emit Answered(lastAnswer);
    }
}

/// L2 side of the L1→L2→L1 demo.
contract CounterL2 is BridgeApp {
    uint256 public total;

    event Counted(uint256 amount, uint256 total);

    constructor(IBridge _bridge, uint64 _l1ChainId) BridgeApp(_bridge, _l1ChainId) { }

    function _onPeerMessage(bytes calldata _data) internal override {
        uint256 amount = abi.decode(_data, (uint256));
        total += amount;
        emit Counted(amount, total);
        _sendToPeer(abi.encode(total), 0);
    }
}
