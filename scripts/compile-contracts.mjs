// Compiles bindings/contracts with solcjs (pinned in scripts/install-tools) through standard JSON
// and writes one artifact per deployable contract to bindings/artifacts/<Name>.json
// ({contractName, sourceName, abi, bytecode}), which alloy's sol! reads. With --check it compiles
// in memory and fails if any committed artifact differs (a stale artifact is a bug).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const modules = path.join(root, ".tools", "node_modules");
const require = createRequire(path.join(modules, "noop.js"));
const solc = require("solc");

const contractsDir = path.join(root, "bindings", "contracts");
const artifactsDir = path.join(root, "bindings", "artifacts");
const check = process.argv.includes("--check");

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : entry.name.endsWith(".sol") ? [full] : [];
  });
}

const sources = {};
for (const file of walk(contractsDir).sort()) {
  sources[path.relative(contractsDir, file)] = { content: fs.readFileSync(file, "utf8") };
}

// Libraries come from npm packages. contracts-bedrock pins one file to `pragma solidity 0.8.15`
// (custom error declarations only); widen that pragma so the pinned solc can compile it.
function findImports(importPath) {
  const file = path.join(modules, importPath);
  if (!fs.existsSync(file)) return { error: `import not found: ${importPath} (run scripts/install-tools)` };
  let content = fs.readFileSync(file, "utf8");
  if (importPath.endsWith("rlp/RLPErrors.sol")) content = content.replace("pragma solidity 0.8.15;", "pragma solidity ^0.8.15;");
  return { contents: content };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "osaka",
    viaIR: true,
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
// Warnings about our own sources are shown; the npm libraries' are not ours to fix.
for (const e of output.errors || []) {
  if (e.severity !== "error" && !(e.sourceLocation?.file || "").startsWith("@")) console.error(e.formattedMessage);
}
if (errors.length) {
  for (const e of errors) console.error(e.formattedMessage);
  process.exit(1);
}

const artifacts = {};
for (const [sourceName, contracts] of Object.entries(output.contracts)) {
  if (!sources[sourceName]) continue; // libraries from npm are inlined, not shipped
  for (const [contractName, out] of Object.entries(contracts)) {
    const bytecode = out.evm.bytecode.object;
    // Interfaces, abstract contracts and internal-only libraries are not deployed.
    const deployable = out.abi.some((item) => item.type === "function" || item.type === "constructor");
    if (!bytecode || !deployable) continue;
    artifacts[`${contractName}.json`] =
      JSON.stringify({ contractName, sourceName, compiler: solc.version(), abi: out.abi, bytecode: `0x${bytecode}` }, null, 2) + "\n";
  }
}

if (check) {
  const stale = [];
  const existing = fs.existsSync(artifactsDir) ? fs.readdirSync(artifactsDir).filter((f) => f.endsWith(".json")) : [];
  for (const [name, text] of Object.entries(artifacts)) {
    const file = path.join(artifactsDir, name);
    if (!fs.existsSync(file) || fs.readFileSync(file, "utf8") !== text) stale.push(name);
  }
  for (const name of existing) if (!artifacts[name]) stale.push(`${name} (no longer produced)`);
  if (stale.length) {
    console.error(`stale artifacts, run scripts/compile-contracts: ${stale.join(", ")}`);
    process.exit(1);
  }
  console.log(`${Object.keys(artifacts).length} artifacts up to date (solc ${solc.version()})`);
} else {
  fs.rmSync(artifactsDir, { recursive: true, force: true });
  fs.mkdirSync(artifactsDir, { recursive: true });
  for (const [name, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(artifactsDir, name), text);
  console.log(`wrote ${Object.keys(artifacts).length} artifacts to bindings/artifacts (solc ${solc.version()})`);
}
