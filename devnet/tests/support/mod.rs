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

/// The inbox's forced-inclusion settings: delay (s), base fee (gwei), doubling threshold.
pub type ForcedInclusionSettings = (u16, u64, u64);

/// The inbox's forced-inclusion settings as the devnet deploys them.
pub const DEVNET_FORCED_INCLUSIONS: ForcedInclusionSettings = (
    devnet::deploy::FORCED_INCLUSION_DELAY_SEC,
    devnet::deploy::FORCED_INCLUSION_FEE_GWEI,
    devnet::deploy::FORCED_INCLUSION_FEE_DOUBLE_THRESHOLD,
);

/// The inbox with its proof path, deployed by the owner and not activated yet:
/// (SignalService, mock verifier, inbox). The SignalService is the inbox's.
pub async fn deploy_inbox(
    provider: &DynProvider,
    pctg: u8,
    (delay, fee, threshold): ForcedInclusionSettings,
) -> (Address, Address, Address) {
    let owner: Address = OWNER_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let prover = PROVER_KEY.parse::<PrivateKeySigner>().unwrap().address();
    let ss = bindings::doubles::SignalService::deploy(provider, owner)
        .await
        .unwrap();
    let verifier = bindings::doubles::SurgeVerifier::deploy(provider, 1, owner)
        .await
        .unwrap();
    let dummy = bindings::doubles::ProofVerifierDummy::deploy(provider, prover, L2_CHAIN_ID)
        .await
        .unwrap();
    verifier.setVerifier(1, *dummy.address()).confirmed().await;
    let inbox = bindings::doubles::RealTimeInbox::deploy(
        provider,
        owner,
        *verifier.address(),
        *ss.address(),
        pctg,
        delay,
        fee,
        threshold,
    )
    .await
    .unwrap();
    ss.init(*inbox.address(), Address::repeat_byte(0x55))
        .confirmed()
        .await;
    (*ss.address(), *dummy.address(), *inbox.address())
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
