// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { ReentrancyGuardTransient } from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import { Checkpoint, ISignalService } from "../shared/Types.sol";

/// Test double of the L2 Anchor: the first transaction of every L2 block, sent by the golden-touch
/// account. Saves the anchored L1 checkpoint (when it moves forward) and marks the block's fast
/// signals as received. The ancestors-hash ring of the real contract is not modelled.
contract Anchor is ReentrancyGuardTransient {
    address public constant GOLDEN_TOUCH_ADDRESS = 0x0000777735367b36bC9B61C50022d9D0700dB4Ec;
    uint64 public constant ANCHOR_GAS_LIMIT = 1_000_000;

    ISignalService public immutable checkpointStore;
    uint64 public immutable l1ChainId;

    uint48 public anchorBlockNumber;
    mapping(uint256 blockNumber => bytes32 blockHash) public blockHashes;

    event Anchored(uint48 prevAnchorBlockNumber, uint48 anchorBlockNumber, bytes32 ancestorsHash);

    error InvalidSender();

    constructor(ISignalService _checkpointStore, uint64 _l1ChainId) {
        checkpointStore = _checkpointStore;
        l1ChainId = _l1ChainId;
    }

    function anchorV4WithSignalSlots(Checkpoint calldata _checkpoint, bytes32[] calldata _signalSlots)
        external
        nonReentrant
    {
        _anchor(_checkpoint);
        if (_signalSlots.length != 0) checkpointStore.setSignalsReceived(_signalSlots);
    }

    function anchorV4(Checkpoint calldata _checkpoint) external nonReentrant {
        _anchor(_checkpoint);
    }

    function getBlockState() external view returns (uint48 anchorBlockNumber_, bytes32 ancestorsHash_) {
        return (anchorBlockNumber, bytes32(0));
    }

    function _anchor(Checkpoint calldata _checkpoint) private {
        require(msg.sender == GOLDEN_TOUCH_ADDRESS, InvalidSender());
        uint48 prev = anchorBlockNumber;
        if (_checkpoint.blockNumber > prev) {
            checkpointStore.saveCheckpoint(_checkpoint);
            anchorBlockNumber = _checkpoint.blockNumber;
        }
        if (block.number > 0) blockHashes[block.number - 1] = blockhash(block.number - 1);
        emit Anchored(prev, anchorBlockNumber, bytes32(0));
    }
}
