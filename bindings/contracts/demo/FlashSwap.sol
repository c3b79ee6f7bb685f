// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { BridgeApp } from "./BridgeApp.sol";
import { IBridge, Message } from "../shared/Types.sol";

/// L2 side of the L2→L1→L2 demo: one L2 transaction asks the L1 market for a quote-and-fill and
/// consumes the L1 answer in the same transaction. `_returnMessage` is the answer the node
/// predicted (surge_simulateReturnMessage); it only verifies because the node put its signal into
/// this block's anchor.
contract FlashSwapL2 is BridgeApp {
    mapping(address account => uint256 amount) public balanceOf;
    uint256 public swaps;

    event Swapped(address indexed recipient, uint256 amountIn, uint256 amountOut);

    error SWAP_NOT_SETTLED();

    constructor(IBridge _bridge, uint64 _l1ChainId) BridgeApp(_bridge, _l1ChainId) { }

    function swapViaL1(uint256 _amountIn, address _recipient, Message calldata _returnMessage) external {
        uint256 before = swaps;
        _sendToPeer(abi.encode(_amountIn, _recipient), 0);
        bridge.processMessage(_returnMessage, "");
        require(swaps == before + 1, SWAP_NOT_SETTLED());
    }

    /// Two quotes in one transaction: two messages to L1, two answers consumed.
    function swapTwiceViaL1(
        uint256 _amountA,
        uint256 _amountB,
        address _recipient,
        Message calldata _returnA,
        Message calldata _returnB
    )
        external
    {
        uint256 before = swaps;
        _sendToPeer(abi.encode(_amountA, _recipient), 0);
        _sendToPeer(abi.encode(_amountB, _recipient), 0);
        bridge.processMessage(_returnA, "");
        bridge.processMessage(_returnB, "");
        require(swaps == before + 2, SWAP_NOT_SETTLED());
    }

    function _onPeerMessage(bytes calldata _data) internal override {
        (address recipient, uint256 amountIn, uint256 amountOut) = abi.decode(_data, (address, uint256, uint256));
        balanceOf[recipient] += amountOut;
        ++swaps;
        emit Swapped(recipient, amountIn, amountOut);
    }
}

/// L1 side: prices the swap with a rate its owner can move (which makes the L1 answer drift
/// between simulation and inclusion when a test wants it to).
contract SwapMarketL1 is BridgeApp {
    address public immutable owner;
    uint256 public rate = 2;
    uint256 public filled;

    event Filled(address indexed recipient, uint256 amountIn, uint256 amountOut);

    error NOT_OWNER();

    constructor(IBridge _bridge, uint64 _l2ChainId) BridgeApp(_bridge, _l2ChainId) {
        owner = msg.sender;
    }

    function setRate(uint256 _rate) external {
        require(msg.sender == owner, NOT_OWNER());
        rate = _rate;
    }

    function _onPeerMessage(bytes calldata _data) internal override {
        (uint256 amountIn, address recipient) = abi.decode(_data, (uint256, address));
        uint256 amountOut = amountIn * rate;
        ++filled;
        emit Filled(recipient, amountIn, amountOut);
        _sendToPeer(abi.encode(recipient, amountIn, amountOut), 0);
    }
}
