// Side-by-side client operations: Zama's node-tfhe (TFHE-rs compiled to WebAssembly) and our
// engine (`veil fhe bench --client-ops --json`), same parameter set, one run, medians.
//
// Usage: node bench/compare-node-tfhe/compare.mjs [--veil build/bin/veil] [--samples 5]
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const require = createRequire(path.join(root, 'package.json'));
const tfhe = require('node-tfhe');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const veil = opt('--veil', path.join(root, 'build/bin/veil'));
const samples = Number(opt('--samples', '5'));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}
function timeMs(count, fn) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return median(out);
}

const params = new tfhe.ShortintParameters(tfhe.ShortintParametersName.PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128);
const shape = {
  lwe_dimension: params.lwe_dimension(),
  glwe_dimension: params.glwe_dimension(),
  polynomial_size: params.polynomial_size(),
  pbs_base_log: params.pbs_base_log(),
  pbs_level: params.pbs_level(),
  ks_base_log: params.ks_base_log(),
  ks_level: params.ks_level(),
  message_modulus: Number(params.message_modulus()),
  carry_modulus: Number(params.carry_modulus()),
};
const config = tfhe.TfheConfigBuilder.with_custom_parameters(params).build();

const zama = {};
let ck;
zama.keygen_client_ms = timeMs(Math.min(samples, 3), () => { ck = tfhe.TfheClientKey.generate(config); });
zama.keygen_compressed_server_ms = timeMs(1, () => { tfhe.TfheCompressedServerKey.new(ck); });
const pk = tfhe.TfheCompactPublicKey.new(ck);
let ct;
zama.encrypt_pk_u16_ms = timeMs(samples * 4, () => {
  const builder = tfhe.CompactCiphertextList.builder(pk);
  builder.push_u16(51234);
  ct = builder.build().expand().get_uint16(0);
});
let value;
zama.decrypt_u16_ms = timeMs(samples * 4, () => { value = ct.decrypt(ck); });
if (value !== 51234) throw new Error(`node-tfhe decrypted ${value}`);

const ours = JSON.parse(execFileSync(veil, ['fhe', 'bench', '--client-ops', '--json', '--samples', String(samples)],
                                     { encoding: 'utf8', maxBuffer: 1 << 20 }));

const keys = ['keygen_client_ms', 'keygen_compressed_server_ms', 'encrypt_pk_u16_ms', 'decrypt_u16_ms'];
const rows = keys.map((k) => ({ op: k, node_tfhe_ms: zama[k], veil_ms: ours[k], ratio_node_over_veil: zama[k] / ours[k] }));
console.log(JSON.stringify({ params: 'PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128', node_tfhe_shape: shape,
                             veil_params: ours.params, rows }, null, 2));
for (const r of rows) {
  console.error(`${r.op.padEnd(30)} node-tfhe ${r.node_tfhe_ms.toFixed(2).padStart(10)} ms   veil ${r.veil_ms.toFixed(2).padStart(10)} ms   ratio ${r.ratio_node_over_veil.toFixed(2)}`);
}
