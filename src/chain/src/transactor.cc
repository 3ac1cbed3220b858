#include "veil/chain/transactor.h"

namespace veil::chain {

std::string describe_revert(ByteView data, const RevertDecoder& decoder) {
  std::string reason = decoder ? decoder(data) : std::string();
  if (reason.empty()) reason = data.empty() ? "no revert data" : "revert data " + to_hex_prefixed(data);
  return "reverted: " + reason;
}

Result<std::unique_ptr<Transactor>> Transactor::create(EthClient& client, const PrivateKey& key,
                                                       TransactorOptions options) {
  VEIL_ASSIGN_OR_RETURN(std::uint64_t chain_id, client.chain_id());
  return std::unique_ptr<Transactor>(new Transactor(client, key, options, chain_id));
}

Result<Hash32> Transactor::send(const TxCall& call, const RevertDecoder& decoder) {
  TxRequest tx;
  tx.type = options_.type;
  tx.chain_id = chain_id_;
  tx.to = call.to;
  tx.value = call.value;
  tx.data = call.data;
  if (call.gas_limit) {
    tx.gas_limit = *call.gas_limit;
  } else {
    CallOutcome revert;
    auto gas = client_.estimate_gas(CallRequest{key_.address(), call.to, call.data, call.value}, &revert);
    if (!gas.ok()) {
      if (revert.reverted) return failed_precondition(describe_revert(revert.data, decoder));
      return gas.status();
    }
    tx.gas_limit = *gas + *gas * options_.gas_margin_percent / 100;
  }
  if (tx.type == TxType::kEip1559) {
    auto fees = client_.suggest_fees();
    if (!fees.ok() && fees.status().code() == StatusCode::kFailedPrecondition) {
      tx.type = TxType::kLegacy;  // a pre-London chain: no base fee, so EIP-155 legacy pricing
    } else if (!fees.ok()) {
      return fees.status();
    } else {
      tx.max_priority_fee_per_gas = fees->max_priority_fee_per_gas;
      tx.max_fee_per_gas = fees->max_fee_per_gas;
    }
  }
  if (tx.type == TxType::kLegacy) {
    VEIL_ASSIGN_OR_RETURN(tx.gas_price, client_.gas_price());
  }
  return nonces_.submit([&](std::uint64_t nonce) -> Result<Hash32> {
    tx.nonce = nonce;
    VEIL_ASSIGN_OR_RETURN(SignedTx signed_tx, sign_transaction(tx, key_));
    auto hash = client_.send_raw_transaction(signed_tx.raw);
    // The node may answer "already known" to a retried submission it did receive.
    if (!hash.ok() && hash.status().message().find("already known") != std::string::npos)
      return signed_tx.hash;
    return hash;
  });
}

Result<Receipt> Transactor::wait(const Hash32& tx_hash, const TxCall& call, const RevertDecoder& decoder) {
  VEIL_ASSIGN_OR_RETURN(Receipt receipt,
                        client_.wait_for_receipt(tx_hash, options_.confirmations, options_.receipt_timeout));
  if (!receipt.success) {
    // Replay on the state before its block to learn why: receipts carry no revert data.
    auto replay =
        client_.call(CallRequest{key_.address(), call.to, call.data, call.value},
                     U256(receipt.block_number == 0 ? 0 : receipt.block_number - 1).to_hex_quantity());
    Bytes data = replay.ok() && replay->reverted ? replay->data : Bytes{};
    return failed_precondition("transaction " + hash_hex(tx_hash) + " " + describe_revert(data, decoder));
  }
  return receipt;
}

Result<Receipt> Transactor::send_and_wait(const TxCall& call, const RevertDecoder& decoder) {
  VEIL_ASSIGN_OR_RETURN(Hash32 hash, send(call, decoder));
  return wait(hash, call, decoder);
}

}  // namespace veil::chain
