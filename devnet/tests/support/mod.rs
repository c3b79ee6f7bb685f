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

/// Keys and chain ids are the devnet's own, so these tests and the devnet cannot drift apart.
#[allow(unused_imports)] // each test binary uses a different subset
pub use devnet::{
    accounts::{OWNER_KEY, PROVER_KEY},
    network::{L1_CHAIN_ID, L2_CHAIN_ID},
};

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
