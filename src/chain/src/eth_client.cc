#include "veil/chain/eth_client.h"

#include <thread>

namespace veil::chain {
namespace {

using nlohmann::json;

Result<std::uint64_t> to_u64(const json& value, std::string_view what) {
  auto q = parse_quantity(value);
  if (!q.ok()) return data_loss(std::string(what) + ": " + q.status().message());
  if (!q->fits_u64()) return data_loss(std::string(what) + ": value does not fit 64 bits");
  return q->low_u64();
}

Result<Hash32> to_hash(const json& value, std::string_view what) {
  if (!value.is_string()) return data_loss(std::string(what) + ": expected a hex string");
  auto h = parse_hash(value.get<std::string>());
  if (!h.ok()) return data_loss(std::string(what) + ": " + h.status().message());
  return *h;
}

Result<Address> to_address(const json& value, std::string_view what) {
  if (!value.is_string()) return data_loss(std::string(what) + ": expected an address");
  auto a = Address::parse(value.get<std::string>());
  if (!a.ok()) return data_loss(std::string(what) + ": " + a.status().message());
  return *a;
}

json call_json(const CallRequest& r) {
  json j = json::object();
  if (r.from) j["from"] = r.from->to_hex();
  if (r.to) j["to"] = r.to->to_hex();
  j["data"] = to_hex_prefixed(r.data);
  if (!r.value.is_zero()) j["value"] = r.value.to_hex_quantity();
  return j;
}

// Revert data arrives as error.data: a hex string (geth, anvil) or {"data": hex} (some nodes).
Bytes revert_data(const RpcError& e) {
  const json* d = &e.data;
  if (d->is_object() && d->contains("data")) d = &(*d)["data"];
  if (!d->is_string()) return {};
  auto bytes = from_hex(d->get<std::string>());
  return bytes.ok() ? *bytes : Bytes{};
}

bool is_revert(const RpcError& e) { return e.code == 3 || e.message.find("revert") != std::string::npos; }

Result<Receipt> parse_receipt(const json& r) {
  Receipt out;
  VEIL_ASSIGN_OR_RETURN(out.transaction_hash, to_hash(r["transactionHash"], "receipt.transactionHash"));
  VEIL_ASSIGN_OR_RETURN(out.block_number, to_u64(r["blockNumber"], "receipt.blockNumber"));
  VEIL_ASSIGN_OR_RETURN(out.block_hash, to_hash(r["blockHash"], "receipt.blockHash"));
  VEIL_ASSIGN_OR_RETURN(std::uint64_t status, to_u64(r.value("status", json("0x0")), "receipt.status"));
  out.success = status == 1;
  VEIL_ASSIGN_OR_RETURN(out.gas_used, to_u64(r["gasUsed"], "receipt.gasUsed"));
  if (r.contains("effectiveGasPrice")) {
    auto p = parse_quantity(r["effectiveGasPrice"]);
    if (p.ok()) out.effective_gas_price = *p;
  }
  if (r.contains("contractAddress") && r["contractAddress"].is_string()) {
    VEIL_ASSIGN_OR_RETURN(out.contract_address, to_address(r["contractAddress"], "receipt.contractAddress"));
  }
  VEIL_ASSIGN_OR_RETURN(out.from, to_address(r["from"], "receipt.from"));
  if (r.contains("to") && r["to"].is_string()) {
    VEIL_ASSIGN_OR_RETURN(out.to, to_address(r["to"], "receipt.to"));
  }
  if (r.contains("logs") && r["logs"].is_array()) {
    for (const auto& l : r["logs"]) {
      VEIL_ASSIGN_OR_RETURN(Log log, parse_log(l));
      out.logs.push_back(std::move(log));
    }
  }
  return out;
}

}  // namespace

Result<U256> parse_quantity(const json& value) {
  if (value.is_number_unsigned()) return U256(value.get<std::uint64_t>());
  if (!value.is_string()) return invalid_argument("expected a hex quantity, got " + value.dump());
  std::string s = value.get<std::string>();
  if (!s.starts_with("0x")) return invalid_argument("quantity '" + s + "' lacks 0x");
  if (s == "0x") return U256(0);
  return U256::parse(s);
}

Result<Bytes> parse_data(const json& value) {
  if (!value.is_string()) return invalid_argument("expected hex data, got " + value.dump());
  return from_hex(value.get<std::string>());
}

Result<Log> parse_log(const json& l) {
  if (!l.is_object()) return data_loss("log is not an object");
  Log out;
  VEIL_ASSIGN_OR_RETURN(out.address, to_address(l["address"], "log.address"));
  if (!l.contains("topics") || !l["topics"].is_array()) return data_loss("log.topics missing");
  for (const auto& t : l["topics"]) {
    VEIL_ASSIGN_OR_RETURN(Hash32 h, to_hash(t, "log.topic"));
    out.topics.push_back(h);
  }
  auto data = parse_data(l.value("data", json("0x")));
  if (!data.ok()) return data_loss("log.data: " + data.status().message());
  out.data = std::move(data).value();
  VEIL_ASSIGN_OR_RETURN(out.block_number, to_u64(l["blockNumber"], "log.blockNumber"));
  VEIL_ASSIGN_OR_RETURN(out.block_hash, to_hash(l["blockHash"], "log.blockHash"));
  VEIL_ASSIGN_OR_RETURN(out.transaction_hash, to_hash(l["transactionHash"], "log.transactionHash"));
  VEIL_ASSIGN_OR_RETURN(out.log_index, to_u64(l["logIndex"], "log.logIndex"));
  out.removed = l.value("removed", false);
  return out;
}

Result<EthClient> EthClient::connect(std::string_view url, RpcOptions options) {
  VEIL_ASSIGN_OR_RETURN(JsonRpcClient rpc, JsonRpcClient::create(url, options));
  return EthClient(std::move(rpc));
}

Result<std::uint64_t> EthClient::chain_id() {
  VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_chainId", json::array()));
  return to_u64(r, "eth_chainId");
}

Result<std::uint64_t> EthClient::block_number() {
  VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_blockNumber", json::array()));
  return to_u64(r, "eth_blockNumber");
}

Result<Hash32> EthClient::block_hash(std::uint64_t number) {
  VEIL_ASSIGN_OR_RETURN(
      json r, rpc_.call("eth_getBlockByNumber", json::array({U256(number).to_hex_quantity(), false})));
  if (r.is_null()) return not_found("block " + std::to_string(number) + " does not exist yet");
  return to_hash(r["hash"], "block.hash");
}

Result<U256> EthClient::balance(const Address& account) {
  VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_getBalance", json::array({account.to_hex(), "latest"})));
  return parse_quantity(r);
}

Result<std::uint64_t> EthClient::transaction_count(const Address& account, std::string_view block_tag) {
  VEIL_ASSIGN_OR_RETURN(json r,
                        rpc_.call("eth_getTransactionCount", json::array({account.to_hex(), block_tag})));
  return to_u64(r, "eth_getTransactionCount");
}

Result<Bytes> EthClient::code(const Address& account) {
  VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_getCode", json::array({account.to_hex(), "latest"})));
  return parse_data(r);
}

Result<U256> EthClient::gas_price() {
  VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_gasPrice", json::array()));
  return parse_quantity(r);
}

Result<FeeSuggestion> EthClient::suggest_fees() {
  VEIL_ASSIGN_OR_RETURN(json block, rpc_.call("eth_getBlockByNumber", json::array({"latest", false})));
  if (!block.is_object() || !block.contains("baseFeePerGas"))
    return failed_precondition("the chain has no EIP-1559 base fee");
  FeeSuggestion fees;
  VEIL_ASSIGN_OR_RETURN(fees.base_fee, parse_quantity(block["baseFeePerGas"]));
  auto tip = rpc_.call("eth_maxPriorityFeePerGas", json::array());
  fees.max_priority_fee_per_gas =
      tip.ok() ? parse_quantity(*tip).value_or(U256(1'000'000'000)) : U256(1'000'000'000);
  fees.max_fee_per_gas = fees.base_fee * U256(2) + fees.max_priority_fee_per_gas;
  return fees;
}

Result<CallOutcome> EthClient::call(const CallRequest& request, std::string_view block_tag) {
  VEIL_ASSIGN_OR_RETURN(RpcReply reply,
                        rpc_.request("eth_call", json::array({call_json(request), block_tag})));
  CallOutcome out;
  if (reply.error) {
    if (!is_revert(*reply.error)) {
      return failed_precondition("eth_call: " + reply.error->message + " (code " +
                                 std::to_string(reply.error->code) + ")");
    }
    out.reverted = true;
    out.data = revert_data(*reply.error);
    out.node_message = reply.error->message;
    return out;
  }
  VEIL_ASSIGN_OR_RETURN(out.data, parse_data(reply.result));
  return out;
}

Result<std::uint64_t> EthClient::estimate_gas(const CallRequest& request, CallOutcome* revert) {
  VEIL_ASSIGN_OR_RETURN(RpcReply reply, rpc_.request("eth_estimateGas", json::array({call_json(request)})));
  if (reply.error) {
    if (revert != nullptr && is_revert(*reply.error)) {
      revert->reverted = true;
      revert->data = revert_data(*reply.error);
      revert->node_message = reply.error->message;
    }
    return failed_precondition("eth_estimateGas: " + reply.error->message + " (code " +
                               std::to_string(reply.error->code) + ")");
  }
  return to_u64(reply.result, "eth_estimateGas");
}

Result<Hash32> EthClient::send_raw_transaction(ByteView raw) {
  VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_sendRawTransaction", json::array({to_hex_prefixed(raw)})));
  return to_hash(r, "eth_sendRawTransaction");
}

Result<Receipt> EthClient::receipt(const Hash32& tx_hash) {
  VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_getTransactionReceipt", json::array({hash_hex(tx_hash)})));
  if (r.is_null()) return not_found("transaction " + hash_hex(tx_hash) + " has no receipt yet");
  return parse_receipt(r);
}

Result<Receipt> EthClient::wait_for_receipt(const Hash32& tx_hash, std::uint64_t confirmations,
                                            std::chrono::milliseconds timeout,
                                            std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  if (confirmations == 0) confirmations = 1;
  for (;;) {
    auto r = receipt(tx_hash);
    if (r.ok()) {
      VEIL_ASSIGN_OR_RETURN(std::uint64_t head, block_number());
      if (head + 1 >= r->block_number + confirmations) {
        // The receipt may come from a block a reorg just replaced: check it is still canonical.
        VEIL_ASSIGN_OR_RETURN(Hash32 canonical, block_hash(r->block_number));
        if (canonical == r->block_hash) return r;
      }
    } else if (r.status().code() != StatusCode::kNotFound) {
      return r.status();
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return deadline_exceeded("transaction " + hash_hex(tx_hash) + " not mined with " +
                               std::to_string(confirmations) + " confirmation(s) within " +
                               std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(poll);
  }
}

Result<std::vector<Log>> EthClient::logs(const LogFilter& filter, std::uint64_t from_block,
                                         std::uint64_t to_block, std::uint64_t max_range) {
  std::vector<Log> out;
  if (max_range == 0) max_range = 1;
  json topics = json::array();
  for (const auto& position : filter.topics) {
    if (position.empty()) {
      topics.push_back(nullptr);
    } else {
      json any = json::array();
      for (const auto& t : position) any.push_back(hash_hex(t));
      topics.push_back(any);
    }
  }
  for (std::uint64_t start = from_block; start <= to_block;) {
    std::uint64_t end = std::min(to_block, start + max_range - 1);
    json params = {{"fromBlock", U256(start).to_hex_quantity()},
                   {"toBlock", U256(end).to_hex_quantity()},
                   {"topics", topics}};
    if (filter.address) params["address"] = filter.address->to_hex();
    VEIL_ASSIGN_OR_RETURN(json r, rpc_.call("eth_getLogs", json::array({params})));
    if (!r.is_array()) return data_loss("eth_getLogs did not return an array");
    for (const auto& l : r) {
      VEIL_ASSIGN_OR_RETURN(Log log, parse_log(l));
      out.push_back(std::move(log));
    }
    if (end == UINT64_MAX) break;
    start = end + 1;
  }
  return out;
}

}  // namespace veil::chain
