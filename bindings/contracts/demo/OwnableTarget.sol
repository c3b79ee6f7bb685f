// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

/// The Credible Layer demo's protected contract (issue 21): its assertion is "the owner of this
/// contract never changes". `owner` is storage slot 0, which the devnet sidecar stand-in watches
/// (as the real OwnableAssertion compares `owner()` before and after each tx).
contract OwnableTarget {
    address public owner;
    uint256 public pokes;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Poked(address indexed by, uint256 pokes);

    constructor(address _owner) {
        owner = _owner;
    }

    /// Hands the contract to `_newOwner`; only the owner may, and the assertion forbids it.
    function transferOwnership(address _newOwner) external {
        require(msg.sender == owner, "not the owner");
        emit OwnershipTransferred(owner, _newOwner);
        owner = _newOwner;
    }

    /// Anyone may poke: a call to the protected contract that keeps the assertion.
    function poke() external {
        pokes += 1;
        emit Poked(msg.sender, pokes);
    }
}
