// Signs and sends transactions for one account: gas estimation, fees, nonces, receipts.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "veil/chain/eth_client.h"
#include "veil/chain/keys.h"
#include "veil/chain/nonce_manager.h"
#include "veil/chain/transaction.h"

namespace veil::chain {

struct TransactorOptions {
  TxType type = TxType::kEip1559;  // falls back to legacy (EIP-155) when the chain has no base fee
  std::uint64_t confirmations = 1;
  std::chrono::milliseconds receipt_timeout = std::chrono::seconds(60);
  // Gas limit = estimate * (100 + margin) / 100.
  std::uint64_t gas_margin_percent = 20;
};

// Turns revert data into a readable reason ("NotOperator(caller=0x...)"); empty when unknown.
using RevertDecoder = std::function<std::string(ByteView revert_data)>;

// A transaction to send.
struct TxCall {
  std::optional<Address> to;  // empty: contract creation
  Bytes data;
  U256 value;
  std::optional<std::uint64_t> gas_limit;  // estimated when empty
};

// Thread-safe: concurrent send() calls from several threads share the nonce manager.
class Transactor {
 public:
  // Reads the chain id once. `key` must outlive the Transactor.
  static Result<std::unique_ptr<Transactor>> create(EthClient& client, const PrivateKey& key,
                                                    TransactorOptions options = {});

  // Estimates gas (a revert here fails early, decoded with `decoder`, and uses no nonce),
  // signs and submits. Returns the transaction hash. Errors: kFailedPrecondition for a revert or
  // the node's refusal; transport errors as from JsonRpcClient.
  Result<Hash32> send(const TxCall& call, const RevertDecoder& decoder = {});

  // send() and wait for the receipt at the configured depth. A mined transaction that reverted
  // gives kFailedPrecondition with the reason replayed through eth_call at its block.
  Result<Receipt> send_and_wait(const TxCall& call, const RevertDecoder& decoder = {});

  // Waits for `tx_hash` as send_and_wait does.
  Result<Receipt> wait(const Hash32& tx_hash, const TxCall& call, const RevertDecoder& decoder = {});

  Address address() const { return key_.address(); }
  std::uint64_t chain_id() const { return chain_id_; }
  EthClient& client() { return client_; }
  NonceManager& nonces() { return nonces_; }

 private:
  Transactor(EthClient& client, const PrivateKey& key, TransactorOptions options, std::uint64_t chain_id)
      : client_(client), key_(key), options_(options), chain_id_(chain_id), nonces_(client, key.address()) {}

  EthClient& client_;
  const PrivateKey& key_;
  TransactorOptions options_;
  std::uint64_t chain_id_;
  NonceManager nonces_;
};

// "reverted: NAME(args)" from revert data, for messages.
std::string describe_revert(ByteView data, const RevertDecoder& decoder);

}  // namespace veil::chain
