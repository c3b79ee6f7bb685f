// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import { SecureMerkleTrie } from "@eth-optimism/contracts-bedrock/src/libraries/trie/SecureMerkleTrie.sol";
import { RLPReader } from "@eth-optimism/contracts-bedrock/src/libraries/rlp/RLPReader.sol";
import { RLPWriter } from "@eth-optimism/contracts-bedrock/src/libraries/rlp/RLPWriter.sol";

/// Verifies that `account`'s storage slot `slot` holds `value` under the state root `root`, from
/// an `eth_getProof` answer (account proof, then storage proof), as Taiko's LibTrieProof does.
library LibTrieProof {
    error LTP_INVALID_ACCOUNT_PROOF();
    error LTP_INVALID_INCLUSION_PROOF();

    function verifyMerkleProof(
        bytes32 root,
        address account,
        bytes32 slot,
        bytes32 value,
        bytes[] memory accountProof,
        bytes[] memory storageProof
    ) internal pure {
        bytes memory accountRlp = SecureMerkleTrie.get(abi.encodePacked(account), accountProof, root);
        RLPReader.RLPItem[] memory fields = RLPReader.readList(accountRlp);
        require(fields.length == 4, LTP_INVALID_ACCOUNT_PROOF());
        bytes32 storageRoot = bytes32(RLPReader.readBytes(fields[2]));
        bool ok = SecureMerkleTrie.verifyInclusionProof(
            abi.encodePacked(slot), RLPWriter.writeUint(uint256(value)), storageProof, storageRoot
        );
        require(ok, LTP_INVALID_INCLUSION_PROOF());
    }
}
