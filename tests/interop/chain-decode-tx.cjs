#!/usr/bin/env node
// Independent reader for transactions signed by Veil's C++ chain client: reads one raw
// transaction (0x-hex) per stdin line, decodes it with ethers.js v6 and prints one JSON line with
// the fields and the sender ethers recovers from the signature. Used by chain_interop_test.
'use strict';
const path = require('path');
const { Transaction } = require(path.join(__dirname, '..', '..', 'node_modules', 'ethers'));

const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter((l) => l.trim() !== '');
for (const raw of lines) {
  try {
    const tx = Transaction.from(raw.trim());
    const s = (v) => (v === null || v === undefined ? null : v.toString());
    console.log(JSON.stringify({
      ok: true, from: tx.from, hash: tx.hash, type: tx.type, chainId: s(tx.chainId), nonce: tx.nonce,
      to: tx.to, value: s(tx.value), data: tx.data, gasLimit: s(tx.gasLimit), gasPrice: s(tx.gasPrice),
      maxFeePerGas: s(tx.maxFeePerGas), maxPriorityFeePerGas: s(tx.maxPriorityFeePerGas),
    }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e.message || e) }));
  }
}
