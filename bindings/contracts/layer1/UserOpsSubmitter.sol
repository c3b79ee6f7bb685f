// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { ECDSA } from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import { EIP712 } from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// A user's L1 smart wallet: anyone may submit a batch its owner signed (EIP-712, domain
/// "UserOpsSubmitter" version "1").
contract UserOpsSubmitter is EIP712 {
    struct UserOp {
        address target;
        uint256 value;
        bytes data;
    }

    bytes32 public constant USER_OP_TYPEHASH = keccak256("UserOp(address target,uint256 value,bytes data)");
    bytes32 public constant EXECUTE_BATCH_TYPEHASH =
        keccak256("ExecuteBatch(UserOp[] ops)UserOp(address target,uint256 value,bytes data)");

    address public immutable owner;

    error INVALID_SIGNATURE();
    error OPERATION_FAILED(uint256 index);

    constructor(address _owner) EIP712("UserOpsSubmitter", "1") {
        owner = _owner;
    }

    receive() external payable { }

    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function getDigest(UserOp[] calldata _ops) public view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](_ops.length);
        for (uint256 i; i < _ops.length; ++i) {
            hashes[i] = keccak256(abi.encode(USER_OP_TYPEHASH, _ops[i].target, _ops[i].value, keccak256(_ops[i].data)));
        }
        return _hashTypedDataV4(keccak256(abi.encode(EXECUTE_BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes)))));
    }

    function executeBatch(UserOp[] calldata _ops, bytes calldata _signature) external {
        require(ECDSA.recover(getDigest(_ops), _signature) == owner, INVALID_SIGNATURE());
        for (uint256 i; i < _ops.length; ++i) {
            (bool ok,) = _ops[i].target.call{ value: _ops[i].value }(_ops[i].data);
            require(ok, OPERATION_FAILED(i));
        }
    }
}
