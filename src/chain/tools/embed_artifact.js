#!/usr/bin/env node
// Turns forge's VeilRegistry.json into a C++ source holding its ABI (JSON text) and creation
// bytecode (hex), so the binding's ABI always comes from the compiled contract.
// Usage: embed_artifact.js <forge artifact json> <output .cc>
'use strict';
const fs = require('fs');
const [input, output] = process.argv.slice(2);
const artifact = JSON.parse(fs.readFileSync(input, 'utf8'));
const abi = JSON.stringify(artifact.abi);
const bytecode = artifact.bytecode && artifact.bytecode.object;
if (!Array.isArray(artifact.abi) || typeof bytecode !== 'string' || bytecode.length < 4) {
  console.error(`embed_artifact.js: ${input} lacks abi or bytecode`);
  process.exit(1);
}
// C++ raw strings have a length limit per literal on some compilers; split into chunks.
const chunks = (s) => s.match(/[\s\S]{1,8000}/g).map((c) => `R"veil(${c})veil"`).join('\n    ');
const text = `// Generated from ${input} by src/chain/tools/embed_artifact.js. Do not edit.
#include "veil/chain/veil_registry.h"

namespace veil::chain {

std::string_view VeilRegistry::abi_json() {
  static const char kAbi[] =
    ${chunks(abi)};
  return {kAbi, sizeof(kAbi) - 1};
}

std::string_view VeilRegistry::creation_bytecode_hex() {
  static const char kBytecode[] =
    ${chunks(bytecode)};
  return {kBytecode, sizeof(kBytecode) - 1};
}

}  // namespace veil::chain
`;
fs.writeFileSync(output, text);
