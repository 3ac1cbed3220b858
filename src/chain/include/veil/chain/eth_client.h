// Typed Ethereum JSON-RPC calls (eth_* methods) on top of JsonRpcClient.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "veil/chain/rpc.h"
#include "veil/chain/types.h"
#include "veil/common/bytes.h"

namespace veil::chain {

// One event log as returned by eth_getLogs or in a receipt.
struct Log {
  Address address;
  std::vector<Hash32> topics;
  Bytes data;
  std::uint64_t block_number = 0;
  Hash32 block_hash{};
  Hash32 transaction_hash{};
  std::uint64_t log_index = 0;
  bool removed = false;  // true when a reorg dropped the block that held it
};

struct Receipt {
  Hash32 transaction_hash{};
  std::uint64_t block_number = 0;
  Hash32 block_hash{};
  bool success = false;  // status == 1
  std::uint64_t gas_used = 0;
  U256 effective_gas_price;
  std::optional<Address> contract_address;
  Address from;
  std::optional<Address> to;
  std::vector<Log> logs;
};

// A read-only call or gas-estimation request.
struct CallRequest {
  std::optional<Address> from;
  std::optional<Address> to;  // empty: contract creation (estimate only)
  Bytes data;
  U256 value;
};

// The result of eth_call: the return data, or the revert data when the call reverted.
struct CallOutcome {
  bool reverted = false;
  Bytes data;                // return data, or revert data (may be empty)
  std::string node_message;  // the node's text for a revert, e.g. "execution reverted"
};

// eth_getLogs parameters for one block range.
struct LogFilter {
  std::optional<Address> address;
  // topics[i] empty: any value at position i.
  std::vector<std::vector<Hash32>> topics;
};

// EIP-1559 fee suggestion.
struct FeeSuggestion {
  U256 base_fee;
  U256 max_priority_fee_per_gas;
  U256 max_fee_per_gas;  // 2 * base fee + priority fee
};

// Thread-safe (shares JsonRpcClient's guarantees).
class EthClient {
 public:
  explicit EthClient(JsonRpcClient rpc) : rpc_(std::move(rpc)) {}
  static Result<EthClient> connect(std::string_view url, RpcOptions options = {});

  JsonRpcClient& rpc() { return rpc_; }

  Result<std::uint64_t> chain_id();
  Result<std::uint64_t> block_number();
  // Hash of the block at `number`; kNotFound when the chain is shorter.
  Result<Hash32> block_hash(std::uint64_t number);
  Result<U256> balance(const Address& account);
  // eth_getTransactionCount at `block_tag` ("latest", "pending").
  Result<std::uint64_t> transaction_count(const Address& account, std::string_view block_tag = "pending");
  Result<Bytes> code(const Address& account);
  Result<FeeSuggestion> suggest_fees();
  Result<U256> gas_price();

  // eth_call at `block_tag`. A revert is an outcome (reverted = true), not an error; errors are
  // transport failures and malformed answers.
  Result<CallOutcome> call(const CallRequest& request, std::string_view block_tag = "latest");
  // eth_estimateGas. A revert gives CallOutcome{reverted=true} through `revert` and kFailedPrecondition.
  Result<std::uint64_t> estimate_gas(const CallRequest& request, CallOutcome* revert = nullptr);

  // eth_sendRawTransaction; returns the transaction hash. The node's refusal (nonce too low,
  // insufficient funds, ...) is kFailedPrecondition with the node's message.
  Result<Hash32> send_raw_transaction(ByteView raw);

  // kNotFound while the transaction is pending or unknown.
  Result<Receipt> receipt(const Hash32& tx_hash);
  // Polls until the transaction is mined and `confirmations` blocks deep (1 = in the head
  // block), re-checking that its block is still canonical. kDeadlineExceeded after `timeout`.
  Result<Receipt> wait_for_receipt(const Hash32& tx_hash, std::uint64_t confirmations = 1,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(60),
                                   std::chrono::milliseconds poll = std::chrono::milliseconds(50));

  // eth_getLogs over [from_block, to_block], split into ranges of at most `max_range` blocks.
  Result<std::vector<Log>> logs(const LogFilter& filter, std::uint64_t from_block, std::uint64_t to_block,
                                std::uint64_t max_range = 2000);

 private:
  JsonRpcClient rpc_;
};

// Helpers for the JSON forms used by the RPC (exposed for tests).
Result<U256> parse_quantity(const nlohmann::json& value);
Result<Bytes> parse_data(const nlohmann::json& value);
Result<Log> parse_log(const nlohmann::json& value);

}  // namespace veil::chain
