// Hands out account nonces for concurrent senders without gaps or reuse.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

#include "veil/chain/eth_client.h"
#include "veil/chain/types.h"

namespace veil::chain {

// One account's nonce sequence. Thread-safe: submit() may be called from many threads; each
// call holds the account's lock from choosing the nonce until the node has accepted or refused
// the transaction, so nonces are used in order and a refused send never leaves a gap.
//
// After a failure whose outcome is unknown (timeout, dropped connection, "nonce too low",
// "already known"), the cached nonce is discarded and the next submit() reloads the node's
// pending count, so the manager can never stay out of step with the chain.
class NonceManager {
 public:
  NonceManager(EthClient& client, Address account) : client_(client), account_(account) {}

  // Calls `send(nonce)` with the next nonce. On success the nonce is consumed. On failure the
  // nonce is kept for the next caller (clear refusal) or re-read from the node (unknown
  // outcome). Returns send's result, or the node query's error.
  Result<Hash32> submit(const std::function<Result<Hash32>(std::uint64_t nonce)>& send);

  // Forgets the cached nonce; the next submit() asks the node.
  void reset();
  // The nonce the next submit() would use, if cached.
  std::optional<std::uint64_t> cached_next() const;
  const Address& account() const { return account_; }

 private:
  EthClient& client_;
  const Address account_;
  mutable std::mutex mu_;
  std::optional<std::uint64_t> next_;  // guarded by mu_
};

// True when a failed send may nevertheless have reached the mempool, or the nonce is stale.
bool send_outcome_unknown(const Status& status);

}  // namespace veil::chain
