// A contract's ABI read from its JSON description (solc/forge "abi" array): functions,
// events and custom errors, with encoding of calls and decoding of results, logs and reverts.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/chain/abi.h"
#include "veil/chain/eth_client.h"

namespace veil::chain {

struct AbiParam {
  std::string name;
  AbiType type;
  bool indexed = false;  // events only
};

struct AbiFunction {
  std::string name;
  std::vector<AbiParam> inputs;
  std::vector<AbiParam> outputs;
  std::string state_mutability;  // "view", "pure", "nonpayable", "payable"
  std::string signature;         // "name(type,...)"
  std::array<std::uint8_t, 4> selector{};
};

struct AbiEvent {
  std::string name;
  std::vector<AbiParam> inputs;
  bool anonymous = false;
  std::string signature;
  Hash32 topic{};
};

struct AbiError {
  std::string name;
  std::vector<AbiParam> inputs;
  std::string signature;
  std::array<std::uint8_t, 4> selector{};
};

// A log decoded against an event: values in declaration order (indexed dynamic values are
// their topic hash as 32 bytes).
struct DecodedEvent {
  const AbiEvent* event = nullptr;
  std::vector<AbiValue> values;
  // The value of the argument named `name`; kNotFound when there is none.
  Result<AbiValue> get(std::string_view name) const;
};

// Immutable after construction, so thread-safe.
class ContractAbi {
 public:
  // Parses the JSON ABI array. Fails with kInvalidArgument naming the bad entry.
  static Result<ContractAbi> from_json(std::string_view abi_json);

  // Function by name; with overloads, the first declared. kNotFound when absent.
  Result<const AbiFunction*> function(std::string_view name) const;
  Result<const AbiEvent*> event(std::string_view name) const;
  const std::vector<AbiError>& errors() const { return errors_; }

  // selector || abi_encode(inputs).
  Result<Bytes> encode_call(std::string_view function_name, const std::vector<AbiValue>& args) const;
  Result<std::vector<AbiValue>> decode_output(std::string_view function_name, ByteView data) const;
  // Constructor arguments (appended to the creation bytecode).
  Result<Bytes> encode_constructor(const std::vector<AbiValue>& args) const;

  // Decodes a log with one of this ABI's events. kNotFound when no event matches topic 0.
  Result<DecodedEvent> decode_log(const Log& log) const;

  // Names revert data: "NotOperator(caller=0x...)" for custom errors of this ABI,
  // "Error(\"text\")" for require messages, "Panic(0x11)" for panics. Empty when unknown.
  std::string decode_revert(ByteView data) const;

 private:
  std::vector<AbiFunction> functions_;
  std::vector<AbiEvent> events_;
  std::vector<AbiError> errors_;
  std::vector<AbiParam> constructor_inputs_;
};

}  // namespace veil::chain
