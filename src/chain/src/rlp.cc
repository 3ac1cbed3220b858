#include "veil/chain/rlp.h"

#include <string>

namespace veil::chain {
namespace {

void append_length(Bytes& out, std::size_t length, std::uint8_t short_base, std::uint8_t long_base) {
  if (length <= 55) {
    out.push_back(static_cast<std::uint8_t>(short_base + length));
    return;
  }
  Bytes len = U256(static_cast<std::uint64_t>(length)).to_be_minimal();
  out.push_back(static_cast<std::uint8_t>(long_base + len.size()));
  out.insert(out.end(), len.begin(), len.end());
}

void encode_into(const RlpItem& item, Bytes& out) {
  if (!item.is_list()) {
    const Bytes& b = item.as_bytes();
    if (b.size() == 1 && b[0] < 0x80) {
      out.push_back(b[0]);
      return;
    }
    append_length(out, b.size(), 0x80, 0xb7);
    out.insert(out.end(), b.begin(), b.end());
    return;
  }
  Bytes payload;
  for (const auto& child : item.as_list()) encode_into(child, payload);
  append_length(out, payload.size(), 0xc0, 0xf7);
  out.insert(out.end(), payload.begin(), payload.end());
}

class Decoder {
 public:
  Decoder(ByteView data, RlpLimits limits) : data_(data), limits_(limits) {}

  Result<RlpItem> item(std::size_t& pos, std::size_t end, std::size_t depth) {
    if (pos >= end) return error(pos, "unexpected end of input");
    std::uint8_t prefix = data_[pos];
    if (prefix < 0x80) {
      ++pos;
      return RlpItem::bytes(Bytes{prefix});
    }
    bool is_list = prefix >= 0xc0;
    std::uint8_t base = is_list ? 0xc0 : 0x80;
    std::size_t header = pos;
    std::size_t length = 0;
    ++pos;
    if (prefix - base <= 55) {
      length = prefix - base;
    } else {
      std::size_t len_of_len = prefix - base - 55;
      if (len_of_len > 8 || len_of_len > end - pos)
        return error(header, "length of length runs past the end");
      if (data_[pos] == 0) return error(header, "non-canonical length (leading zero)");
      for (std::size_t i = 0; i < len_of_len; ++i) length = (length << 8) | data_[pos++];
      if (length <= 55)
        return error(header, "non-canonical long form for a payload of " + std::to_string(length) + " bytes");
    }
    if (length > end - pos)
      return error(header, "payload of " + std::to_string(length) + " bytes runs past the end");
    std::size_t payload_end = pos + length;
    if (!is_list) {
      if (length == 1 && data_[pos] < 0x80) return error(header, "non-canonical single byte below 0x80");
      RlpItem out = RlpItem::bytes(data_.subspan(pos, length));
      pos = payload_end;
      return out;
    }
    if (depth + 1 > limits_.max_depth)
      return error(header, "lists nested deeper than " + std::to_string(limits_.max_depth));
    std::vector<RlpItem> children;
    while (pos < payload_end) {
      auto child = item(pos, payload_end, depth + 1);
      if (!child.ok()) return child.status();
      children.push_back(std::move(child).value());
    }
    return RlpItem::list(std::move(children));
  }

 private:
  static Status error(std::size_t offset, const std::string& what) {
    return invalid_argument("malformed RLP at byte " + std::to_string(offset) + ": " + what);
  }

  ByteView data_;
  RlpLimits limits_;
};

}  // namespace

Bytes rlp_encode(const RlpItem& item) {
  Bytes out;
  encode_into(item, out);
  return out;
}

Result<RlpItem> rlp_decode(ByteView data, RlpLimits limits) {
  Decoder decoder(data, limits);
  std::size_t pos = 0;
  auto item = decoder.item(pos, data.size(), 0);
  if (!item.ok()) return item.status();
  if (pos != data.size()) {
    return invalid_argument("malformed RLP: " + std::to_string(data.size() - pos) +
                            " trailing bytes after the item");
  }
  return item;
}

Result<U256> rlp_to_uint(const RlpItem& item) {
  if (item.is_list()) return invalid_argument("RLP integer expected, got a list");
  const Bytes& b = item.as_bytes();
  if (!b.empty() && b[0] == 0) return invalid_argument("RLP integer has a leading zero");
  return U256::from_be_bytes(b);
}

}  // namespace veil::chain
