// Chain client hot paths: hashing, signing and ABI work done per transaction or log.
#include <benchmark/benchmark.h>

#include "veil/chain/abi.h"
#include "veil/chain/keccak.h"
#include "veil/chain/rlp.h"
#include "veil/chain/transaction.h"
#include "veil/chain/veil_registry.h"

namespace {

using namespace veil::chain;

void BM_Keccak256(benchmark::State& state) {
  veil::Bytes data(static_cast<std::size_t>(state.range(0)), 0xab);
  for (auto _ : state) benchmark::DoNotOptimize(keccak256(data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Keccak256)->Arg(32)->Arg(1024)->Arg(65536);

void BM_SignEip1559(benchmark::State& state) {
  PrivateKey key = PrivateKey::generate();
  TxRequest tx;
  tx.chain_id = 31337;
  tx.gas_limit = 100000;
  tx.to = Address{};
  tx.data = veil::Bytes(100, 1);
  tx.max_fee_per_gas = U256(3'000'000'000ULL);
  for (auto _ : state) {
    ++tx.nonce;
    benchmark::DoNotOptimize(sign_transaction(tx, key));
  }
}
BENCHMARK(BM_SignEip1559);

void BM_DecodeAndRecover(benchmark::State& state) {
  PrivateKey key = PrivateKey::generate();
  TxRequest tx;
  tx.chain_id = 31337;
  tx.gas_limit = 100000;
  tx.max_fee_per_gas = U256(3'000'000'000ULL);
  auto raw = sign_transaction(tx, key)->raw;
  for (auto _ : state) benchmark::DoNotOptimize(decode_transaction(raw));
}
BENCHMARK(BM_DecodeAndRecover);

void BM_AnchorCommitmentEncode(benchmark::State& state) {
  VeilRegistry::Commitment c;
  c.schedulers.resize(5);
  for (auto _ : state) benchmark::DoNotOptimize(VeilRegistry::commitment_hash(c));
}
BENCHMARK(BM_AnchorCommitmentEncode);

void BM_DecodeAnchoredLog(benchmark::State& state) {
  const ContractAbi& abi = VeilRegistry::abi();
  const AbiEvent* ev = *abi.event("DeploymentAnchored");
  Log log;
  log.topics = {ev->topic, Hash32{}, Hash32{}, Hash32{}};
  std::vector<AbiValue> sched(5, AbiValue(Hash32{}));
  log.data =
      *abi_encode(*parse_abi_types("bytes32,bytes32,bytes32[]"), {Hash32{}, Hash32{}, AbiValue(sched)});
  for (auto _ : state) benchmark::DoNotOptimize(abi.decode_log(log));
}
BENCHMARK(BM_DecodeAnchoredLog);

}  // namespace
