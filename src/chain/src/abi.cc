#include "veil/chain/abi.h"

#include <algorithm>
#include <charconv>

#include "veil/chain/keccak.h"

namespace veil::chain {
namespace {

using Kind = AbiType::Kind;

Status type_error(const AbiType& t, const std::string& what) {
  return invalid_argument("ABI value for " + t.canonical() + ": " + what);
}

Status decode_error(std::size_t offset, const std::string& what) {
  return invalid_argument("malformed ABI data at byte " + std::to_string(offset) + ": " + what);
}

std::size_t padded(std::size_t n) { return (n + 31) / 32 * 32; }

// ---------------------------------------------------------------- type parsing

Result<int> parse_int(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    return invalid_argument("bad number '" + std::string(s) + "'");
  return v;
}

// Splits "a,(b,c),d" at top-level commas.
Result<std::vector<std::string_view>> split_top(std::string_view s) {
  std::vector<std::string_view> parts;
  if (s.empty()) return parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(') ++depth;
    if (s[i] == ')' && --depth < 0) return invalid_argument("unbalanced ')' in '" + std::string(s) + "'");
    if (s[i] == ',' && depth == 0) {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) return invalid_argument("unbalanced '(' in '" + std::string(s) + "'");
  parts.push_back(s.substr(start));
  return parts;
}

}  // namespace

Result<AbiType> AbiType::parse(std::string_view text) {
  AbiType t;
  // Array suffixes bind last: "T[2][]" is a dynamic array of T[2].
  if (!text.empty() && text.back() == ']') {
    std::size_t open = text.rfind('[');
    if (open == std::string_view::npos)
      return invalid_argument("ABI type '" + std::string(text) + "': ']' without '['");
    auto inner = AbiType::parse(text.substr(0, open));
    if (!inner.ok()) return inner.status();
    std::string_view len = text.substr(open + 1, text.size() - open - 2);
    if (len.empty()) {
      t.kind = Kind::kArray;
    } else {
      auto n = parse_int(len);
      if (!n.ok() || *n <= 0)
        return invalid_argument("ABI type '" + std::string(text) + "': bad array length");
      t.kind = Kind::kFixedArray;
      t.length = static_cast<std::size_t>(*n);
    }
    t.children.push_back(std::move(inner).value());
    return t;
  }
  if (!text.empty() && text.front() == '(') {
    if (text.back() != ')')
      return invalid_argument("ABI type '" + std::string(text) + "': unterminated tuple");
    auto parts = split_top(text.substr(1, text.size() - 2));
    if (!parts.ok()) return parts.status();
    t.kind = Kind::kTuple;
    for (auto part : *parts) {
      auto child = AbiType::parse(part);
      if (!child.ok()) return child.status();
      t.children.push_back(std::move(child).value());
    }
    return t;
  }
  auto sized = [&](std::string_view prefix, Kind kind, int dflt, int lo, int hi,
                   int step) -> Result<AbiType> {
    t.kind = kind;
    std::string_view rest = text.substr(prefix.size());
    if (rest.empty()) {
      if (dflt == 0) return invalid_argument("ABI type '" + std::string(text) + "' needs a size");
      t.size = dflt;
      return t;
    }
    auto n = parse_int(rest);
    if (!n.ok() || *n < lo || *n > hi || *n % step != 0)
      return invalid_argument("ABI type '" + std::string(text) + "': bad size");
    t.size = *n;
    return t;
  };
  if (text == "address") return AbiType{Kind::kAddress, 160, 0, {}};
  if (text == "bool") return AbiType{Kind::kBool, 8, 0, {}};
  if (text == "string") return AbiType{Kind::kString, 0, 0, {}};
  if (text == "bytes") return AbiType{Kind::kBytes, 0, 0, {}};
  if (text.starts_with("uint")) return sized("uint", Kind::kUint, 256, 8, 256, 8);
  if (text.starts_with("int")) return sized("int", Kind::kInt, 256, 8, 256, 8);
  if (text.starts_with("bytes")) return sized("bytes", Kind::kFixedBytes, 0, 1, 32, 1);
  return invalid_argument("unknown ABI type '" + std::string(text) + "'");
}

std::string AbiType::canonical() const {
  switch (kind) {
    case Kind::kUint:
      return "uint" + std::to_string(size);
    case Kind::kInt:
      return "int" + std::to_string(size);
    case Kind::kAddress:
      return "address";
    case Kind::kBool:
      return "bool";
    case Kind::kFixedBytes:
      return "bytes" + std::to_string(size);
    case Kind::kBytes:
      return "bytes";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return children[0].canonical() + "[]";
    case Kind::kFixedArray:
      return children[0].canonical() + "[" + std::to_string(length) + "]";
    case Kind::kTuple: {
      std::string out = "(";
      for (std::size_t i = 0; i < children.size(); ++i) out += (i ? "," : "") + children[i].canonical();
      return out + ")";
    }
  }
  return "?";
}

bool AbiType::is_dynamic() const {
  switch (kind) {
    case Kind::kBytes:
    case Kind::kString:
    case Kind::kArray:
      return true;
    case Kind::kFixedArray:
      return children[0].is_dynamic();
    case Kind::kTuple:
      for (const auto& c : children) {
        if (c.is_dynamic()) return true;
      }
      return false;
    default:
      return false;
  }
}

std::size_t AbiType::head_size() const {
  if (is_dynamic()) return 32;
  if (kind == Kind::kFixedArray) return length * children[0].head_size();
  if (kind == Kind::kTuple) {
    std::size_t n = 0;
    for (const auto& c : children) n += c.head_size();
    return n;
  }
  return 32;
}

Result<std::vector<AbiType>> parse_abi_types(std::string_view list) {
  auto parts = split_top(list);
  if (!parts.ok()) return parts.status();
  std::vector<AbiType> out;
  for (auto p : *parts) {
    auto t = AbiType::parse(p);
    if (!t.ok()) return t.status();
    out.push_back(std::move(t).value());
  }
  return out;
}

Hash32 AbiValue::as_bytes32() const {
  Hash32 h{};
  const Bytes& b = as_bytes();
  std::copy_n(b.begin(), std::min<std::size_t>(b.size(), 32), h.begin());
  return h;
}

// ---------------------------------------------------------------- encoding

namespace {

Status encode_tuple(const std::vector<AbiType>& types, const std::vector<AbiValue>& values, Bytes& out);

void put_word(Bytes& out, const Hash32& w) { out.insert(out.end(), w.begin(), w.end()); }

Status check_int_range(const AbiType& t, const U256& v) {
  if (t.kind == Kind::kUint) {
    if (v.bit_length() > t.size) return type_error(t, "value " + v.to_dec() + " does not fit");
    return {};
  }
  // Signed: the two's-complement value must be a sign extension of its low `size` bits.
  bool negative = v.bit(255);
  U256 magnitude = negative ? (~v + U256(1)) : v;
  if (negative ? (magnitude - U256(1)).bit_length() > t.size - 1 : magnitude.bit_length() > t.size - 1) {
    return type_error(t, "value does not fit");
  }
  return {};
}

Status encode_value(const AbiType& t, const AbiValue& value, Bytes& out) {
  switch (t.kind) {
    case Kind::kUint:
    case Kind::kInt: {
      if (!std::holds_alternative<U256>(value.v)) return type_error(t, "expected an integer");
      VEIL_RETURN_IF_ERROR(check_int_range(t, value.as_uint()));
      put_word(out, value.as_uint().to_be32());
      return {};
    }
    case Kind::kAddress: {
      if (!std::holds_alternative<Address>(value.v)) return type_error(t, "expected an address");
      Hash32 w{};
      std::copy(value.as_address().bytes.begin(), value.as_address().bytes.end(), w.begin() + 12);
      put_word(out, w);
      return {};
    }
    case Kind::kBool: {
      if (!std::holds_alternative<bool>(value.v)) return type_error(t, "expected a bool");
      put_word(out, U256(value.as_bool() ? 1 : 0).to_be32());
      return {};
    }
    case Kind::kFixedBytes: {
      if (!std::holds_alternative<Bytes>(value.v)) return type_error(t, "expected bytes");
      const Bytes& b = value.as_bytes();
      if (b.size() != static_cast<std::size_t>(t.size))
        return type_error(t,
                          "expected " + std::to_string(t.size) + " bytes, got " + std::to_string(b.size()));
      Hash32 w{};
      std::copy(b.begin(), b.end(), w.begin());
      put_word(out, w);
      return {};
    }
    case Kind::kBytes:
    case Kind::kString: {
      ByteView data;
      if (t.kind == Kind::kBytes && std::holds_alternative<Bytes>(value.v)) {
        data = value.as_bytes();
      } else if (t.kind == Kind::kString && std::holds_alternative<std::string>(value.v)) {
        data = veil::as_bytes(value.as_string());
      } else {
        return type_error(t, "expected " + t.canonical());
      }
      put_word(out, U256(data.size()).to_be32());
      out.insert(out.end(), data.begin(), data.end());
      out.resize(out.size() + padded(data.size()) - data.size(), 0);
      return {};
    }
    case Kind::kArray:
    case Kind::kFixedArray: {
      if (!std::holds_alternative<std::vector<AbiValue>>(value.v)) return type_error(t, "expected a list");
      const auto& items = value.as_list();
      if (t.kind == Kind::kFixedArray && items.size() != t.length) {
        return type_error(
            t, "expected " + std::to_string(t.length) + " elements, got " + std::to_string(items.size()));
      }
      if (t.kind == Kind::kArray) put_word(out, U256(items.size()).to_be32());
      std::vector<AbiType> types(items.size(), t.children[0]);
      return encode_tuple(types, items, out);
    }
    case Kind::kTuple: {
      if (!std::holds_alternative<std::vector<AbiValue>>(value.v)) return type_error(t, "expected a tuple");
      return encode_tuple(t.children, value.as_list(), out);
    }
  }
  return internal_error("unreachable ABI kind");
}

Status encode_tuple(const std::vector<AbiType>& types, const std::vector<AbiValue>& values, Bytes& out) {
  if (types.size() != values.size()) {
    return invalid_argument("ABI: " + std::to_string(types.size()) + " types but " +
                            std::to_string(values.size()) + " values");
  }
  std::size_t head_len = 0;
  for (const auto& t : types) head_len += t.head_size();
  Bytes head, tail;
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (types[i].is_dynamic()) {
      put_word(head, U256(head_len + tail.size()).to_be32());
      VEIL_RETURN_IF_ERROR(encode_value(types[i], values[i], tail));
    } else {
      VEIL_RETURN_IF_ERROR(encode_value(types[i], values[i], head));
    }
  }
  out.insert(out.end(), head.begin(), head.end());
  out.insert(out.end(), tail.begin(), tail.end());
  return {};
}

// ---------------------------------------------------------------- decoding

class AbiDecoder {
 public:
  AbiDecoder(ByteView data, AbiLimits limits) : data_(data), limits_(limits) {}

  // Decodes a tuple whose head starts at `base`.
  Result<std::vector<AbiValue>> tuple(const std::vector<AbiType>& types, std::size_t base,
                                      std::size_t depth) {
    if (depth > limits_.max_depth)
      return decode_error(base, "nested deeper than " + std::to_string(limits_.max_depth));
    if (base > data_.size()) return decode_error(base, "tuple starts past the end");
    std::vector<AbiValue> out;
    out.reserve(types.size());
    std::size_t pos = base;
    for (const auto& t : types) {
      if (t.is_dynamic()) {
        VEIL_ASSIGN_OR_RETURN(U256 offset, word_uint(pos));
        if (!offset.fits_u64() || offset.low_u64() > data_.size() - base) {
          return decode_error(pos, "offset " + offset.to_dec() + " points past the end");
        }
        VEIL_ASSIGN_OR_RETURN(AbiValue v, value(t, base + offset.low_u64(), depth));
        out.push_back(std::move(v));
      } else {
        VEIL_ASSIGN_OR_RETURN(AbiValue v, value(t, pos, depth));
        out.push_back(std::move(v));
      }
      pos += t.head_size();
    }
    return out;
  }

 private:
  Result<ByteView> word(std::size_t pos) {
    if (pos > data_.size() || data_.size() - pos < 32)
      return decode_error(pos, "need 32 bytes, data ends at " + std::to_string(data_.size()));
    return data_.subspan(pos, 32);
  }
  Result<U256> word_uint(std::size_t pos) {
    VEIL_ASSIGN_OR_RETURN(ByteView w, word(pos));
    return U256::from_be_bytes(w);
  }

  Result<AbiValue> value(const AbiType& t, std::size_t pos, std::size_t depth) {
    switch (t.kind) {
      case Kind::kUint:
      case Kind::kInt: {
        VEIL_ASSIGN_OR_RETURN(U256 v, word_uint(pos));
        if (!check_int_range(t, v).ok()) return decode_error(pos, "value does not fit " + t.canonical());
        return AbiValue(v);
      }
      case Kind::kAddress: {
        VEIL_ASSIGN_OR_RETURN(ByteView w, word(pos));
        for (int i = 0; i < 12; ++i) {
          if (w[i] != 0) return decode_error(pos, "address with non-zero high bytes");
        }
        Address a;
        std::copy(w.begin() + 12, w.end(), a.bytes.begin());
        return AbiValue(a);
      }
      case Kind::kBool: {
        VEIL_ASSIGN_OR_RETURN(U256 v, word_uint(pos));
        if (v > U256(1)) return decode_error(pos, "bool that is neither 0 nor 1");
        return AbiValue(v == U256(1));
      }
      case Kind::kFixedBytes: {
        VEIL_ASSIGN_OR_RETURN(ByteView w, word(pos));
        for (std::size_t i = t.size; i < 32; ++i) {
          if (w[i] != 0) return decode_error(pos, t.canonical() + " with non-zero padding");
        }
        return AbiValue(Bytes(w.begin(), w.begin() + t.size));
      }
      case Kind::kBytes:
      case Kind::kString: {
        VEIL_ASSIGN_OR_RETURN(U256 len, word_uint(pos));
        std::size_t start = pos + 32;
        if (!len.fits_u64() || len.low_u64() > data_.size() - start)
          return decode_error(pos, "length " + len.to_dec() + " runs past the end");
        auto bytes = data_.subspan(start, len.low_u64());
        if (t.kind == Kind::kString) return AbiValue(veil::to_string(bytes));
        return AbiValue(Bytes(bytes.begin(), bytes.end()));
      }
      case Kind::kArray:
      case Kind::kFixedArray: {
        std::size_t count = t.length;
        std::size_t base = pos;
        if (t.kind == Kind::kArray) {
          VEIL_ASSIGN_OR_RETURN(U256 len, word_uint(pos));
          base = pos + 32;
          // Each element needs at least 32 bytes of head, which bounds any honest length.
          if (!len.fits_u64() || len.low_u64() > (data_.size() - base) / 32)
            return decode_error(pos, "array length " + len.to_dec() + " exceeds the data");
          count = len.low_u64();
        }
        elements_ += count;
        if (elements_ > limits_.max_elements)
          return decode_error(pos, "more than " + std::to_string(limits_.max_elements) + " array elements");
        std::vector<AbiType> types(count, t.children[0]);
        VEIL_ASSIGN_OR_RETURN(auto items, tuple(types, base, depth + 1));
        return AbiValue(std::move(items));
      }
      case Kind::kTuple: {
        VEIL_ASSIGN_OR_RETURN(auto items, tuple(t.children, pos, depth + 1));
        return AbiValue(std::move(items));
      }
    }
    return internal_error("unreachable ABI kind");
  }

  ByteView data_;
  AbiLimits limits_;
  std::size_t elements_ = 0;
};

}  // namespace

Result<Bytes> abi_encode(const std::vector<AbiType>& types, const std::vector<AbiValue>& values) {
  Bytes out;
  VEIL_RETURN_IF_ERROR(encode_tuple(types, values, out));
  return out;
}

Result<std::vector<AbiValue>> abi_decode(const std::vector<AbiType>& types, ByteView data, AbiLimits limits) {
  AbiDecoder decoder(data, limits);
  return decoder.tuple(types, 0, 0);
}

std::array<std::uint8_t, 4> function_selector(std::string_view signature) {
  Hash32 h = keccak256(veil::as_bytes(signature));
  return {h[0], h[1], h[2], h[3]};
}

Hash32 event_topic(std::string_view signature) { return keccak256(veil::as_bytes(signature)); }

Result<Hash32> indexed_topic(const AbiType& type, const AbiValue& value) {
  if (type.kind == Kind::kBytes && std::holds_alternative<Bytes>(value.v)) return keccak256(value.as_bytes());
  if (type.kind == Kind::kString && std::holds_alternative<std::string>(value.v))
    return keccak256(veil::as_bytes(value.as_string()));
  if (type.is_dynamic() || type.kind == Kind::kTuple || type.kind == Kind::kFixedArray) {
    return unimplemented("indexed topics of " + type.canonical() + " are not supported");
  }
  VEIL_ASSIGN_OR_RETURN(Bytes enc, abi_encode({type}, {value}));
  Hash32 h{};
  std::copy(enc.begin(), enc.end(), h.begin());
  return h;
}

std::string abi_value_to_string(const AbiType& t, const AbiValue& value) {
  switch (t.kind) {
    case Kind::kUint:
      return value.as_uint().to_dec();
    case Kind::kInt: {
      const U256& v = value.as_uint();
      if (!v.bit(255)) return v.to_dec();
      return "-" + (~v + U256(1)).to_dec();
    }
    case Kind::kAddress:
      return value.as_address().to_checksum();
    case Kind::kBool:
      return value.as_bool() ? "true" : "false";
    case Kind::kFixedBytes:
    case Kind::kBytes:
      return to_hex_prefixed(value.as_bytes());
    case Kind::kString:
      return "\"" + value.as_string() + "\"";
    case Kind::kArray:
    case Kind::kFixedArray:
    case Kind::kTuple: {
      bool tuple = t.kind == Kind::kTuple;
      std::string out = tuple ? "(" : "[";
      const auto& items = value.as_list();
      for (std::size_t i = 0; i < items.size(); ++i) {
        out += (i ? ", " : "") + abi_value_to_string(tuple ? t.children[i] : t.children[0], items[i]);
      }
      return out + (tuple ? ")" : "]");
    }
  }
  return "?";
}

}  // namespace veil::chain
