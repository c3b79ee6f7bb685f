// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// The proposer's Multicall (not Multicall3): runs calls in order, reverts everything on the
/// first failure, and accepts ETH (forced-inclusion fees are paid to the proposer).
contract Multicall {
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    error MULTICALL_CALL_FAILED(uint256 index, bytes returnData);

    receive() external payable { }

    function multicall(Call[] calldata calls) external payable returns (bytes[] memory results) {
        results = new bytes[](calls.length);
        for (uint256 i; i < calls.length; ++i) {
            (bool ok, bytes memory ret) = calls[i].target.call{ value: calls[i].value }(calls[i].data);
            require(ok, MULTICALL_CALL_FAILED(i, ret));
            results[i] = ret;
        }
    }
}
