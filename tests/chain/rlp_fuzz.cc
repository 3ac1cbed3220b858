// Fuzz entry point: RLP decoding (and transaction decoding on top of it) either fails cleanly or
// yields an item whose encoding is exactly the input (the decoder accepts only canonical RLP).
#include <cstddef>
#include <cstdint>

#include "veil/chain/rlp.h"
#include "veil/chain/transaction.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  veil::ByteView input(data, size);
  auto item = veil::chain::rlp_decode(input);
  if (item.ok() && veil::chain::rlp_encode(*item) != veil::Bytes(input.begin(), input.end()))
    __builtin_trap();
  (void)veil::chain::decode_transaction(input);
  return 0;
}
