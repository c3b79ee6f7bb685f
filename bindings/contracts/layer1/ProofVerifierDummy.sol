// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { ECDSA } from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import { IProofVerifier } from "./SurgeVerifier.sol";

/// The mock proof system (flag MOCK_ECDSA = 1): a proof is a 65-byte ECDSA signature by the
/// configured signer over the public input, exactly what real ZK verifiers bind to.
contract ProofVerifierDummy is IProofVerifier {
    address public immutable signer;
    uint64 public immutable l2ChainId;

    error InvalidProof();
    error InvalidCommitment();

    constructor(address _signer, uint64 _l2ChainId) {
        signer = _signer;
        l2ChainId = _l2ChainId;
    }

    function publicInput(bytes32 _commitmentHash) public view returns (bytes32) {
        return keccak256(
            abi.encode(
                bytes32("VERIFY_PROOF"), uint256(l2ChainId), uint256(uint160(address(this))), _commitmentHash, bytes32(0)
            )
        );
    }

    function verifyProof(uint256, bytes32 _commitmentHash, bytes calldata _proof) external view {
        require(_commitmentHash != bytes32(0), InvalidCommitment());
        require(_proof.length == 65, InvalidProof());
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(publicInput(_commitmentHash), _proof);
        require(err == ECDSA.RecoverError.NoError && recovered == signer, InvalidProof());
    }
}
