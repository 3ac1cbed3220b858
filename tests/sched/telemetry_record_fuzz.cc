// Fuzz entry point for telemetry records, which arrive from any peer over GossipSub.
// The first input byte picks how the rest is used, so the fuzzer reaches deep fields:
//   0: the bytes are a record;  1: (u16 position, u8 value) edits applied to a valid record;
//   2: a valid record truncated to a length read from the input.
#include <cstddef>
#include <cstdint>

#include <sodium.h>

#include "veil/sched/telemetry_record.h"

namespace {

const veil::Bytes& valid_record() {
  static const veil::Bytes record = [] {
    if (sodium_init() < 0) __builtin_trap();
    auto client = veil::fhe::ClientKey::generate(veil::fhe::kParamInsecureTestOnly);
    veil::sched::QuantizedTelemetry t;
    t.free = {1, 2, 3, 0};
    veil::sched::Ed25519PublicKey pk{};
    veil::sched::Ed25519SecretKey sk{};
    crypto_sign_keypair(pk.data(), sk.data());
    return veil::sched::sign_telemetry_record("12D3KooWFuzz", 1, 1, veil::sched::encrypt_telemetry(t, client),
                                              veil::fhe::kParamInsecureTestOnly, sk);
  }();
  return record;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  veil::Bytes input;
  const std::uint8_t mode = data[0] % 3;
  const std::uint8_t* rest = data + 1;
  const std::size_t rest_size = size - 1;
  if (mode == 0) {
    input.assign(rest, rest + rest_size);
  } else if (mode == 1) {
    input = valid_record();
    for (std::size_t i = 0; i + 3 <= rest_size; i += 3) {
      const std::size_t position = (std::size_t{rest[i]} << 8 | rest[i + 1]) % input.size();
      input[position] = rest[i + 2];
    }
  } else {
    const std::size_t length = rest_size >= 2 ? (std::size_t{rest[0]} << 8 | rest[1]) : 0;
    input.assign(valid_record().begin(), valid_record().begin() + static_cast<long>(std::min(length, valid_record().size())));
  }
  auto record = veil::sched::parse_telemetry_record(input, veil::fhe::kParamInsecureTestOnly);
  if (mode == 1 && rest_size < 3 && !record.ok()) __builtin_trap();  // an unedited record must parse
  return 0;
}
