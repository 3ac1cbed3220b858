#include "veil/chain/transaction.h"

#include "veil/chain/keccak.h"
#include "veil/chain/rlp.h"

namespace veil::chain {
namespace {

// Half the secp256k1 group order: signatures with s above it are malleable (EIP-2).
const U256& half_order() {
  static const U256 v =
      U256::parse("0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0").value();
  return v;
}

RlpItem to_item(const std::optional<Address>& to) {
  return to ? RlpItem::bytes(ByteView(to->bytes)) : RlpItem::bytes(Bytes{});
}

std::vector<RlpItem> unsigned_fields(const TxRequest& tx) {
  if (tx.type == TxType::kLegacy) {
    return {RlpItem::uint(tx.nonce), RlpItem::uint(tx.gas_price), RlpItem::uint(tx.gas_limit),
            to_item(tx.to),          RlpItem::uint(tx.value),     RlpItem::bytes(tx.data)};
  }
  return {RlpItem::uint(tx.chain_id),
          RlpItem::uint(tx.nonce),
          RlpItem::uint(tx.max_priority_fee_per_gas),
          RlpItem::uint(tx.max_fee_per_gas),
          RlpItem::uint(tx.gas_limit),
          to_item(tx.to),
          RlpItem::uint(tx.value),
          RlpItem::bytes(tx.data),
          RlpItem::list({})};
}

Bytes typed(std::uint8_t type, const Bytes& payload) {
  Bytes out{type};
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

U256 word(const Hash32& h) { return U256::from_be_bytes(h).value(); }

}  // namespace

Hash32 signing_hash(const TxRequest& tx) {
  auto fields = unsigned_fields(tx);
  if (tx.type == TxType::kLegacy) {
    fields.push_back(RlpItem::uint(tx.chain_id));
    fields.push_back(RlpItem::uint(0));
    fields.push_back(RlpItem::uint(0));
    return keccak256(rlp_encode(RlpItem::list(std::move(fields))));
  }
  return keccak256(typed(0x02, rlp_encode(RlpItem::list(std::move(fields)))));
}

Result<SignedTx> sign_transaction(const TxRequest& tx, const PrivateKey& key) {
  if (tx.type == TxType::kLegacy && tx.chain_id > (UINT64_MAX - 36) / 2)
    return invalid_argument("chain id too large for EIP-155");
  Signature sig = key.sign(signing_hash(tx));
  auto fields = unsigned_fields(tx);
  if (tx.type == TxType::kLegacy) {
    fields.push_back(RlpItem::uint(tx.chain_id * 2 + 35 + sig.recovery_id));
  } else {
    fields.push_back(RlpItem::uint(sig.recovery_id));
  }
  fields.push_back(RlpItem::uint(word(sig.r)));
  fields.push_back(RlpItem::uint(word(sig.s)));
  Bytes body = rlp_encode(RlpItem::list(std::move(fields)));
  SignedTx out;
  out.raw = tx.type == TxType::kLegacy ? std::move(body) : typed(0x02, body);
  out.hash = keccak256(out.raw);
  out.from = key.address();
  return out;
}

Result<DecodedTx> decode_transaction(ByteView raw) {
  if (raw.empty()) return invalid_argument("empty transaction");
  DecodedTx out;
  bool legacy = raw[0] >= 0xc0;
  if (!legacy && raw[0] != 0x02)
    return invalid_argument("unsupported transaction type 0x" + to_hex(raw.subspan(0, 1)));
  VEIL_ASSIGN_OR_RETURN(RlpItem item, rlp_decode(legacy ? raw : raw.subspan(1)));
  if (!item.is_list()) return invalid_argument("transaction is not an RLP list");
  const auto& f = item.as_list();
  std::size_t expected = legacy ? 9 : 12;
  if (f.size() != expected)
    return invalid_argument("transaction has " + std::to_string(f.size()) + " fields, expected " +
                            std::to_string(expected));
  auto u64 = [](const RlpItem& i, const char* name) -> Result<std::uint64_t> {
    VEIL_ASSIGN_OR_RETURN(U256 v, rlp_to_uint(i));
    if (!v.fits_u64()) return invalid_argument(std::string(name) + " does not fit 64 bits");
    return v.low_u64();
  };
  auto to = [](const RlpItem& i) -> Result<std::optional<Address>> {
    if (i.is_list()) return invalid_argument("'to' is a list");
    if (i.as_bytes().empty()) return std::optional<Address>();
    if (i.as_bytes().size() != 20) return invalid_argument("'to' is not 20 bytes");
    Address a;
    std::copy(i.as_bytes().begin(), i.as_bytes().end(), a.bytes.begin());
    return std::optional<Address>(a);
  };
  auto bytes = [](const RlpItem& i) -> Result<Bytes> {
    if (i.is_list()) return invalid_argument("data is a list");
    return i.as_bytes();
  };
  TxRequest& tx = out.request;
  std::size_t sig_at = 0;
  U256 v;
  if (legacy) {
    tx.type = TxType::kLegacy;
    VEIL_ASSIGN_OR_RETURN(tx.nonce, u64(f[0], "nonce"));
    VEIL_ASSIGN_OR_RETURN(tx.gas_price, rlp_to_uint(f[1]));
    VEIL_ASSIGN_OR_RETURN(tx.gas_limit, u64(f[2], "gas"));
    VEIL_ASSIGN_OR_RETURN(tx.to, to(f[3]));
    VEIL_ASSIGN_OR_RETURN(tx.value, rlp_to_uint(f[4]));
    VEIL_ASSIGN_OR_RETURN(tx.data, bytes(f[5]));
    VEIL_ASSIGN_OR_RETURN(std::uint64_t vv, u64(f[6], "v"));
    if (vv == 27 || vv == 28) {
      return unimplemented("pre-EIP-155 legacy transaction (v=" + std::to_string(vv) + ") has no chain id");
    }
    if (vv < 35) return invalid_argument("legacy v=" + std::to_string(vv) + " is invalid");
    tx.chain_id = (vv - 35) / 2;
    out.signature.recovery_id = static_cast<std::uint8_t>((vv - 35) % 2);
    sig_at = 7;
  } else {
    tx.type = TxType::kEip1559;
    VEIL_ASSIGN_OR_RETURN(tx.chain_id, u64(f[0], "chainId"));
    VEIL_ASSIGN_OR_RETURN(tx.nonce, u64(f[1], "nonce"));
    VEIL_ASSIGN_OR_RETURN(tx.max_priority_fee_per_gas, rlp_to_uint(f[2]));
    VEIL_ASSIGN_OR_RETURN(tx.max_fee_per_gas, rlp_to_uint(f[3]));
    VEIL_ASSIGN_OR_RETURN(tx.gas_limit, u64(f[4], "gas"));
    VEIL_ASSIGN_OR_RETURN(tx.to, to(f[5]));
    VEIL_ASSIGN_OR_RETURN(tx.value, rlp_to_uint(f[6]));
    VEIL_ASSIGN_OR_RETURN(tx.data, bytes(f[7]));
    if (!f[8].is_list()) return invalid_argument("access list is not a list");
    if (!f[8].as_list().empty()) return unimplemented("transactions with access lists are not supported");
    VEIL_ASSIGN_OR_RETURN(std::uint64_t parity, u64(f[9], "yParity"));
    if (parity > 1) return invalid_argument("yParity must be 0 or 1");
    out.signature.recovery_id = static_cast<std::uint8_t>(parity);
    sig_at = 10;
  }
  VEIL_ASSIGN_OR_RETURN(U256 r, rlp_to_uint(f[sig_at]));
  VEIL_ASSIGN_OR_RETURN(U256 s, rlp_to_uint(f[sig_at + 1]));
  if (s > half_order()) return invalid_argument("signature has a high S value (EIP-2)");
  out.signature.r = r.to_be32();
  out.signature.s = s.to_be32();
  VEIL_ASSIGN_OR_RETURN(out.from, recover_address(signing_hash(tx), out.signature));
  out.hash = keccak256(raw);
  return out;
}

}  // namespace veil::chain
