// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { SubProof } from "../shared/Types.sol";

interface ISurgeVerifier {
    function verifyProof(bool _requiresThreshold, bytes32 _commitmentHash, bytes calldata _proof)
        external
        view
        returns (uint8);
}

interface IProofVerifier {
    function verifyProof(uint256 _proposalAge, bytes32 _commitmentHash, bytes calldata _proof) external view;
}

/// Test double of SurgeVerifier: dispatches each `SubProof` to the verifier registered under its
/// bit flag and requires enough distinct proof systems.
contract SurgeVerifier is ISurgeVerifier {
    address public immutable owner;
    uint8 public immutable numProofsThreshold;
    mapping(uint8 flag => address verifier) public verifiers;

    error Surge_InvalidProofBitFlag();
    error Surge_NumProofsThresholdNotMet();
    error ACCESS_DENIED();

    constructor(uint8 _numProofsThreshold, address _owner) {
        numProofsThreshold = _numProofsThreshold;
        owner = _owner;
    }

    function setVerifier(uint8 _flag, address _verifier) external {
        require(msg.sender == owner, ACCESS_DENIED());
        verifiers[_flag] = _verifier;
    }

    function verifyProof(bool, bytes32 _commitmentHash, bytes calldata _proof) external view returns (uint8 bitmap_) {
        SubProof[] memory proofs = abi.decode(_proof, (SubProof[]));
        for (uint256 i; i < proofs.length; ++i) {
            address verifier = verifiers[proofs[i].proofBitFlag];
            require(verifier != address(0), Surge_InvalidProofBitFlag());
            IProofVerifier(verifier).verifyProof(0, _commitmentHash, proofs[i].data);
            bitmap_ |= proofs[i].proofBitFlag;
        }
        uint8 count;
        for (uint8 b = bitmap_; b != 0; b &= b - 1) {
            ++count;
        }
        require(count >= numProofsThreshold, Surge_NumProofsThresholdNotMet());
    }
}
