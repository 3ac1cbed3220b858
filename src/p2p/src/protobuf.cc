#include "veil/p2p/protobuf.h"

#include "veil/p2p/encoding.h"

namespace veil::p2p::pb {

void Writer::varint(std::uint32_t field, std::uint64_t value) {
  append_uvarint(out_, (static_cast<std::uint64_t>(field) << 3) | kVarint);
  append_uvarint(out_, value);
}

void Writer::bytes(std::uint32_t field, ByteView value) {
  append_uvarint(out_, (static_cast<std::uint64_t>(field) << 3) | kLengthDelimited);
  append_uvarint(out_, value.size());
  out_.insert(out_.end(), value.begin(), value.end());
}

namespace {
// Protobuf itself tolerates non-minimal varints; only truncation and length matter here.
Result<std::uint64_t> read_varint(ByteView in, std::size_t& pos) {
  std::uint64_t value = 0;
  for (int i = 0; i < 10; ++i) {
    if (pos >= in.size()) return data_loss("protobuf: truncated varint");
    std::uint8_t b = in[pos++];
    value |= static_cast<std::uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return value;
  }
  return invalid_argument("protobuf: varint too long");
}
}  // namespace

Result<bool> Reader::next(Field* field) {
  if (pos_ >= in_.size()) return false;
  VEIL_ASSIGN_OR_RETURN(std::uint64_t tag, read_varint(in_, pos_));
  std::uint64_t number = tag >> 3;
  if (number == 0 || number > 0x1fffffff) return invalid_argument("protobuf: bad field number");
  field->number = static_cast<std::uint32_t>(number);
  field->type = static_cast<WireType>(tag & 7);
  field->value = 0;
  field->payload = {};
  switch (tag & 7) {
    case kVarint: {
      VEIL_ASSIGN_OR_RETURN(field->value, read_varint(in_, pos_));
      return true;
    }
    case kFixed64:
    case kFixed32: {
      std::size_t n = (tag & 7) == kFixed64 ? 8 : 4;
      if (in_.size() - pos_ < n) return data_loss("protobuf: truncated fixed field");
      std::uint64_t v = 0;
      for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(in_[pos_ + i]) << (8 * i);
      field->value = v;
      pos_ += n;
      return true;
    }
    case kLengthDelimited: {
      VEIL_ASSIGN_OR_RETURN(std::uint64_t len, read_varint(in_, pos_));
      if (len > in_.size() - pos_) return data_loss("protobuf: length past end of message");
      field->payload = in_.subspan(pos_, static_cast<std::size_t>(len));
      pos_ += static_cast<std::size_t>(len);
      return true;
    }
    default:
      return invalid_argument("protobuf: unsupported wire type " + std::to_string(tag & 7));
  }
}

}  // namespace veil::p2p::pb
