//! Who is who on the devnet: anvil's well-known dev keys (funded on both chains by anvil itself).

use alloy::{primitives::Address, signers::local::PrivateKeySigner};

/// anvil's ten dev keys, in its order.
pub const DEV_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdf4081a9a71",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

/// Deploys and owns every contract.
pub const OWNER_KEY: &str = DEV_KEYS[0];
/// Signs mock proofs (the Raiko stand-in) and is the dummy verifier's configured signer.
pub const PROVER_KEY: &str = DEV_KEYS[1];
/// The preconfer's L1 proposer key and L2 signer.
pub const PRECONFER_KEY: &str = DEV_KEYS[2];
/// Keys left for users and tests (`TEST_PRIVATE_KEYS`).
pub const TEST_KEYS: [&str; 7] = [
    DEV_KEYS[3],
    DEV_KEYS[4],
    DEV_KEYS[5],
    DEV_KEYS[6],
    DEV_KEYS[7],
    DEV_KEYS[8],
    DEV_KEYS[9],
];

/// The signer of a dev key (the constants above are valid keys).
pub fn signer(key: &str) -> PrivateKeySigner {
    #[allow(clippy::expect_used)] // start-up invariant: the keys above are constants
    key.parse().expect("dev keys are valid")
}

/// Address of a dev key.
pub fn address(key: &str) -> Address {
    signer(key).address()
}
