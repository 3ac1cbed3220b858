#include "veil/chain/nonce_manager.h"

namespace veil::chain {

bool send_outcome_unknown(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kDataLoss:
      return true;  // the request may have been delivered before the failure
    default:
      break;
  }
  const std::string& m = status.message();
  return m.find("nonce too low") != std::string::npos || m.find("already known") != std::string::npos ||
         m.find("nonce too high") != std::string::npos ||
         m.find("replacement transaction") != std::string::npos;
}

Result<Hash32> NonceManager::submit(const std::function<Result<Hash32>(std::uint64_t nonce)>& send) {
  std::lock_guard lock(mu_);
  if (!next_) {
    VEIL_ASSIGN_OR_RETURN(std::uint64_t pending, client_.transaction_count(account_, "pending"));
    next_ = pending;
  }
  Result<Hash32> result = send(*next_);
  if (result.ok()) {
    ++*next_;
  } else if (send_outcome_unknown(result.status())) {
    next_.reset();
  }
  return result;
}

void NonceManager::reset() {
  std::lock_guard lock(mu_);
  next_.reset();
}

std::optional<std::uint64_t> NonceManager::cached_next() const {
  std::lock_guard lock(mu_);
  return next_;
}

}  // namespace veil::chain
