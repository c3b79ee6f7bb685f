// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { BridgeApp } from "./BridgeApp.sol";
import { IBridge } from "../shared/Types.sol";

/// L1 side of the "many users at once" demo: sells numbered tickets from a fixed stock, and each
/// sale tells L2 the numbers it got. Those numbers are read from L1 state the previous sale
/// changed, so two sales in one proposal only land if the node predicts them in execution order;
/// a sale that asks for more than the sales before it left fails only when it runs after them.
contract TicketsL1 is BridgeApp {
    uint256 public stock;
    uint256 public sold;

    event Sold(uint256 first, uint256 count);

    constructor(IBridge _bridge, uint64 _l2ChainId, uint256 _stock) BridgeApp(_bridge, _l2ChainId) {
        stock = _stock;
    }

    function buy(uint256 _count) external {
        require(_count <= stock, "sold out");
        stock -= _count;
        uint256 first = sold + 1;
        sold += _count;
        _sendToPeer(abi.encode(first, _count), 0);
        emit Sold(first, _count);
    }

    function _onPeerMessage(bytes calldata) internal pure override {
        revert("TicketsL1 takes no messages");
    }
}

/// L2 side: records each sale it hears of, by the number of its first ticket.
contract TicketsL2 is BridgeApp {
    uint256 public sales;
    mapping(uint256 first => uint256 count) public countOf;

    event Recorded(uint256 first, uint256 count);

    constructor(IBridge _bridge, uint64 _l1ChainId) BridgeApp(_bridge, _l1ChainId) { }

    function _onPeerMessage(bytes calldata _data) internal override {
        (uint256 first, uint256 count) = abi.decode(_data, (uint256, uint256));
        countOf[first] = count;
        ++sales;
        emit Recorded(first, count);
    }
}
