// Ethereum transactions: legacy with EIP-155 replay protection and EIP-1559 (type 2).
#pragma once

#include <optional>

#include "veil/chain/keys.h"
#include "veil/chain/types.h"
#include "veil/common/bytes.h"

namespace veil::chain {

enum class TxType { kLegacy, kEip1559 };

// What to sign. Plain value type. Access lists are always empty (we never need them).
struct TxRequest {
  TxType type = TxType::kEip1559;
  std::uint64_t chain_id = 1;
  std::uint64_t nonce = 0;
  std::uint64_t gas_limit = 0;
  std::optional<Address> to;  // empty: contract creation
  U256 value;
  Bytes data;
  U256 gas_price;                 // legacy only
  U256 max_priority_fee_per_gas;  // EIP-1559 only
  U256 max_fee_per_gas;           // EIP-1559 only
};

// A signed transaction ready for eth_sendRawTransaction.
struct SignedTx {
  Bytes raw;      // legacy: RLP list; EIP-1559: 0x02 || RLP list
  Hash32 hash{};  // keccak256(raw), the transaction hash
  Address from;
};

// The digest that is signed (EIP-155 for legacy, keccak(0x02 || rlp(fields)) for EIP-1559).
Hash32 signing_hash(const TxRequest& tx);

// Signs `tx` with `key`. Fails with kInvalidArgument for a legacy request whose chain id
// would overflow v.
Result<SignedTx> sign_transaction(const TxRequest& tx, const PrivateKey& key);

// A raw transaction decoded back, with the sender recovered from its signature.
struct DecodedTx {
  TxRequest request;
  Signature signature;
  Address from;
  Hash32 hash{};
};

// Decodes a raw legacy (EIP-155 or pre-155) or EIP-1559 transaction and recovers its sender.
// Fails with kInvalidArgument for malformed RLP, an unknown type byte, wrong field counts,
// non-canonical integers, a high-S signature or one that does not recover; kUnimplemented for
// a non-empty access list.
Result<DecodedTx> decode_transaction(ByteView raw);

}  // namespace veil::chain
