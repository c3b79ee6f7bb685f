//! Helpers shared by the devnet's contract tests.

#![allow(dead_code)] // each test binary uses a different subset

use alloy::{
    contract::{CallBuilder, CallDecoder},
    network::EthereumWallet,
    primitives::{Address, B256, Bytes, aliases::U48},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
    sol_types::SolValue,
};
use bindings::HopProof;
use devnet::anvil::Anvil;

pub mod chain;

/// anvil's first dev key: deployer and owner of every double.
pub const OWNER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// anvil's second dev key: the mock prover.
pub const PROVER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// anvil's default chain id, used for L1.
pub const L1_CHAIN_ID: u64 = 31_337;
/// The devnet L2 chain id.
pub const L2_CHAIN_ID: u64 = 167_001;

/// A provider that signs with `key`.
pub fn wallet_provider(anvil: &Anvil, key: &str) -> DynProvider {
    let signer: PrivateKeySigner = key.parse().unwrap();
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.url.clone())
        .erased()
}

/// A uint48 protocol field.
pub fn u48(n: u64) -> U48 {
    U48::from(n)
}

/// Sends a contract call and waits for a successful receipt.
#[allow(async_fn_in_trait)]
pub trait Confirm {
    /// The receipt of the mined, successful transaction.
    async fn confirmed(self) -> TransactionReceipt;
}

impl<P: Provider, D: CallDecoder> Confirm for CallBuilder<P, D> {
    async fn confirmed(self) -> TransactionReceipt {
        let receipt = self.send().await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "transaction reverted: {receipt:?}");
        receipt
    }
}

/// `abi.encode(HopProof[])` proving `slot` of `signal_service` at `block` (whose state root is
/// `root`) on the chain behind `provider`, as the node builds it for L1 calls.
pub async fn hop_proof(
    provider: &DynProvider,
    chain_id: u64,
    signal_service: Address,
    slot: B256,
    block: u64,
    root: B256,
) -> Bytes {
    let proof = provider
        .get_proof(signal_service, vec![slot])
        .block_id(block.into())
        .await
        .unwrap();
    vec![HopProof {
        chainId: chain_id,
        blockId: block,
        rootHash: root,
        cacheOption: 0,
        accountProof: proof.account_proof,
        storageProof: proof.storage_proof[0].proof.clone(),
    }]
    .abi_encode()
    .into()
}
