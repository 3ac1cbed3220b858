#include "veil/chain/contract.h"

#include <cstring>
#include <nlohmann/json.hpp>

namespace veil::chain {
namespace {

using nlohmann::json;

// Builds the canonical type of a JSON ABI parameter: "tuple[]" with components becomes
// "(t1,t2)[]".
Result<AbiType> param_type(const json& p) {
  std::string type = p.value("type", "");
  if (type.starts_with("tuple")) {
    std::string inner = "(";
    const json& comps = p.contains("components") ? p["components"] : json::array();
    for (std::size_t i = 0; i < comps.size(); ++i) {
      VEIL_ASSIGN_OR_RETURN(AbiType c, param_type(comps[i]));
      inner += (i ? "," : "") + c.canonical();
    }
    type = inner + ")" + type.substr(5);
  }
  return AbiType::parse(type);
}

Result<std::vector<AbiParam>> params(const json& entry, const char* key) {
  std::vector<AbiParam> out;
  if (!entry.contains(key)) return out;
  for (const auto& p : entry[key]) {
    AbiParam param;
    param.name = p.value("name", "");
    VEIL_ASSIGN_OR_RETURN(param.type, param_type(p));
    param.indexed = p.value("indexed", false);
    out.push_back(std::move(param));
  }
  return out;
}

std::string signature_of(const std::string& name, const std::vector<AbiParam>& inputs) {
  std::string s = name + "(";
  for (std::size_t i = 0; i < inputs.size(); ++i) s += (i ? "," : "") + inputs[i].type.canonical();
  return s + ")";
}

std::vector<AbiType> types_of(const std::vector<AbiParam>& ps) {
  std::vector<AbiType> out;
  for (const auto& p : ps) out.push_back(p.type);
  return out;
}

}  // namespace

Result<AbiValue> DecodedEvent::get(std::string_view name) const {
  for (std::size_t i = 0; i < event->inputs.size(); ++i) {
    if (event->inputs[i].name == name) return values[i];
  }
  return not_found("event " + event->name + " has no argument '" + std::string(name) + "'");
}

Result<ContractAbi> ContractAbi::from_json(std::string_view abi_json) {
  json doc = json::parse(abi_json, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) return invalid_argument("contract ABI is not a JSON array");
  ContractAbi abi;
  for (const auto& entry : doc) {
    std::string kind = entry.value("type", "function");
    std::string name = entry.value("name", "");
    auto inputs = params(entry, "inputs");
    if (!inputs.ok()) return invalid_argument("ABI entry '" + name + "': " + inputs.status().message());
    if (kind == "function") {
      AbiFunction f;
      f.name = name;
      f.inputs = std::move(inputs).value();
      VEIL_ASSIGN_OR_RETURN(f.outputs, params(entry, "outputs"));
      f.state_mutability = entry.value("stateMutability", "nonpayable");
      f.signature = signature_of(name, f.inputs);
      f.selector = function_selector(f.signature);
      abi.functions_.push_back(std::move(f));
    } else if (kind == "event") {
      AbiEvent e;
      e.name = name;
      e.inputs = std::move(inputs).value();
      e.anonymous = entry.value("anonymous", false);
      e.signature = signature_of(name, e.inputs);
      e.topic = event_topic(e.signature);
      abi.events_.push_back(std::move(e));
    } else if (kind == "error") {
      AbiError e;
      e.name = name;
      e.inputs = std::move(inputs).value();
      e.signature = signature_of(name, e.inputs);
      e.selector = function_selector(e.signature);
      abi.errors_.push_back(std::move(e));
    } else if (kind == "constructor") {
      abi.constructor_inputs_ = std::move(inputs).value();
    }
  }
  return abi;
}

Result<const AbiFunction*> ContractAbi::function(std::string_view name) const {
  for (const auto& f : functions_) {
    if (f.name == name) return &f;
  }
  return not_found("the contract ABI has no function '" + std::string(name) + "'");
}

Result<const AbiEvent*> ContractAbi::event(std::string_view name) const {
  for (const auto& e : events_) {
    if (e.name == name) return &e;
  }
  return not_found("the contract ABI has no event '" + std::string(name) + "'");
}

Result<Bytes> ContractAbi::encode_call(std::string_view function_name,
                                       const std::vector<AbiValue>& args) const {
  VEIL_ASSIGN_OR_RETURN(const AbiFunction* f, function(function_name));
  auto encoded = abi_encode(types_of(f->inputs), args);
  if (!encoded.ok()) return invalid_argument(f->signature + ": " + encoded.status().message());
  Bytes out(f->selector.begin(), f->selector.end());
  out.insert(out.end(), encoded->begin(), encoded->end());
  return out;
}

Result<std::vector<AbiValue>> ContractAbi::decode_output(std::string_view function_name,
                                                         ByteView data) const {
  VEIL_ASSIGN_OR_RETURN(const AbiFunction* f, function(function_name));
  auto values = abi_decode(types_of(f->outputs), data);
  if (!values.ok())
    return data_loss(f->signature + " returned undecodable data: " + values.status().message());
  return values;
}

Result<Bytes> ContractAbi::encode_constructor(const std::vector<AbiValue>& args) const {
  return abi_encode(types_of(constructor_inputs_), args);
}

Result<DecodedEvent> ContractAbi::decode_log(const Log& log) const {
  if (log.topics.empty()) return not_found("anonymous log");
  for (const auto& e : events_) {
    if (e.anonymous || e.topic != log.topics[0]) continue;
    std::vector<AbiType> data_types;
    std::size_t indexed = 0;
    for (const auto& p : e.inputs) {
      if (p.indexed)
        ++indexed;
      else
        data_types.push_back(p.type);
    }
    if (log.topics.size() != indexed + 1)
      return invalid_argument("log of " + e.name + " has " + std::to_string(log.topics.size()) +
                              " topics, expected " + std::to_string(indexed + 1));
    auto data = abi_decode(data_types, log.data);
    if (!data.ok()) return invalid_argument("log of " + e.name + ": " + data.status().message());
    DecodedEvent out;
    out.event = &e;
    std::size_t topic = 1, value = 0;
    for (const auto& p : e.inputs) {
      if (!p.indexed) {
        out.values.push_back((*data)[value++]);
        continue;
      }
      const Hash32& t = log.topics[topic++];
      if (p.type.is_dynamic() || p.type.kind == AbiType::Kind::kTuple ||
          p.type.kind == AbiType::Kind::kFixedArray) {
        out.values.emplace_back(t);  // only the hash is on chain
      } else {
        auto v = abi_decode({p.type}, t);
        if (!v.ok())
          return invalid_argument("log of " + e.name + ", topic " + p.name + ": " + v.status().message());
        out.values.push_back((*v)[0]);
      }
    }
    return out;
  }
  return not_found("no event of this contract has topic " + hash_hex(log.topics[0]));
}

std::string ContractAbi::decode_revert(ByteView data) const {
  if (data.size() < 4) return {};
  auto args_of = [&](const std::vector<AbiParam>& ps) -> std::string {
    auto values = abi_decode(types_of(ps), data.subspan(4));
    if (!values.ok()) return "<undecodable arguments>";
    std::string out;
    for (std::size_t i = 0; i < ps.size(); ++i) {
      out += (i ? ", " : "") + (ps[i].name.empty() ? "" : ps[i].name + "=") +
             abi_value_to_string(ps[i].type, (*values)[i]);
    }
    return out;
  };
  for (const auto& e : errors_) {
    if (std::memcmp(e.selector.data(), data.data(), 4) == 0) return e.name + "(" + args_of(e.inputs) + ")";
  }
  if (function_selector("Error(string)") == std::array<std::uint8_t, 4>{data[0], data[1], data[2], data[3]}) {
    return "Error(" + args_of({AbiParam{"", AbiType::parse("string").value(), false}}) + ")";
  }
  if (function_selector("Panic(uint256)") ==
      std::array<std::uint8_t, 4>{data[0], data[1], data[2], data[3]}) {
    return "Panic(" + args_of({AbiParam{"code", AbiType::parse("uint256").value(), false}}) + ")";
  }
  return {};
}

}  // namespace veil::chain
