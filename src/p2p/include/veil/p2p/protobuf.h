// A minimal protobuf (proto2/proto3 wire format) writer and reader.
//
// Choice: libp2p's wire messages are small and few (keys, Noise payload, Identify,
// GossipSub RPC), so a hand-written codec is used instead of protoc-generated classes: no
// code generation step, no exceptions, every length bounded and checked, and the fuzzers see
// exactly the code that parses network bytes. Each protocol's header lists the field
// numbers of its messages (from the libp2p specs' .proto definitions).
//
// Writers emit fields in the order called (callers call them in field-number order, the
// canonical encoding that signatures over re-encoded messages rely on).
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string_view>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil::p2p::pb {

enum WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class Writer {
 public:
  void varint(std::uint32_t field, std::uint64_t value);
  void bytes(std::uint32_t field, ByteView value);
  void string(std::uint32_t field, std::string_view value) { bytes(field, as_bytes(value)); }
  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

// One decoded field. `value` is set for varint/fixed fields, `payload` (a view into the
// reader's input) for length-delimited ones.
struct Field {
  std::uint32_t number = 0;
  WireType type = kVarint;
  std::uint64_t value = 0;
  ByteView payload;
};

class Reader {
 public:
  explicit Reader(ByteView in) : in_(in) {}
  // Reads the next field into *field. Returns false at the clean end of input; an error for
  // truncated or malformed input (bad tag, field 0, groups, lengths past the end).
  Result<bool> next(Field* field);

 private:
  ByteView in_;
  std::size_t pos_ = 0;
};

// Calls `f(field)` (returning Status) for each field of `message`, in order. Returns the
// reader's error for malformed input, or the first error `f` returns; fields before the bad
// one have been seen by `f`.
template <typename F>
Status for_each_field(ByteView message, F&& f) {
  Reader r(message);
  Field field;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool more, r.next(&field));
    if (!more) return {};
    VEIL_RETURN_IF_ERROR(f(field));
  }
}

// The same, restricted to length-delimited fields (the bytes, strings and sub-messages that
// libp2p's messages are made of): calls `f(number, payload)`; fields of other wire types are
// skipped.
template <typename F>
Status for_each_bytes_field(ByteView message, F&& f) {
  return for_each_field(message, [&f](const Field& field) -> Status {
    if (field.type != kLengthDelimited) return {};
    return f(field.number, field.payload);
  });
}

}  // namespace veil::p2p::pb
