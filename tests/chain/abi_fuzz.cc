// Fuzz entry point: ABI decoding of hostile bytes. The first byte picks a type list; whatever
// decodes must re-encode to a prefix-equal, decodable form (decode(encode(decode(x))) ==
// decode(x)). Also feeds the bytes to VeilRegistry's revert and log decoders.
#include <cstddef>
#include <cstdint>

#include "veil/chain/abi.h"
#include "veil/chain/veil_registry.h"

namespace {
const char* kTypeLists[] = {
    "uint256",
    "bytes",
    "string,uint8",
    "uint256[]",
    "bytes32[],address",
    "(uint64,bytes)[]",
    "bool,int16,bytes4",
    "address[],bytes32[],uint8",
    "(string,(bytes,uint256[2]))",
    "uint8[][]",
};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const char* list = kTypeLists[data[0] % (sizeof(kTypeLists) / sizeof(kTypeLists[0]))];
  auto types = veil::chain::parse_abi_types(list).value();
  veil::ByteView input(data + 1, size - 1);
  auto values = veil::chain::abi_decode(types, input);
  if (values.ok()) {
    auto encoded = veil::chain::abi_encode(types, *values);
    if (!encoded.ok()) __builtin_trap();
    auto again = veil::chain::abi_decode(types, *encoded);
    if (!again.ok() || *again != *values) __builtin_trap();
  }
  (void)veil::chain::VeilRegistry::decode_revert(input);
  veil::chain::Log log;
  if (size >= 33) {
    veil::chain::Hash32 topic{};
    std::copy(data + 1, data + 33, topic.begin());
    log.topics.push_back(topic);
    log.topics.push_back(veil::chain::VeilRegistry::abi().event("DeploymentAnchored").value()->topic);
  }
  log.data.assign(input.begin(), input.end());
  (void)veil::chain::VeilRegistry::abi().decode_log(log);
  return 0;
}
