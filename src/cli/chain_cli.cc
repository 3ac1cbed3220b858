#include "chain_cli.h"

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "veil/chain/ether_amount.h"
#include "veil/chain/keccak.h"
#include "veil/common/config.h"

namespace veil::cli {

void add_chain_options(CLI::App* cmd, ChainOptions& o, bool with_key, bool with_contract) {
  cmd->add_option("--rpc", o.rpc, "Ethereum JSON-RPC endpoint (env VEIL_ETH_RPC, config eth.rpc)");
  if (with_key)
    cmd->add_option("--key-file", o.key_file,
                    "File holding the operator's secp256k1 key as hex (env VEIL_ETH_KEY_FILE)");
  if (with_contract)
    cmd->add_option("--contract", o.contract, "VeilRegistry address (env VEIL_CONTRACT_ADDRESS)");
  if (with_key)
    cmd->add_option("--confirmations", o.confirmations, "Blocks to wait for after mining (default 1)");
}

chain::Hash32 hash_arg(const std::string& text) {
  if (text.size() == 66 && text.starts_with("0x")) {
    auto h = chain::parse_hash(text);
    if (h.ok()) return *h;
  }
  return chain::keccak256(as_bytes(text));
}

bool reverted_with(const Status& status, std::string_view error_name) {
  return !status.ok() &&
         status.message().find("reverted: " + std::string(error_name) + "(") != std::string::npos;
}

Result<std::uint64_t> chain_time(chain::EthClient& client) {
  VEIL_ASSIGN_OR_RETURN(nlohmann::json block,
                        client.rpc().call("eth_getBlockByNumber", nlohmann::json::array({"latest", false})));
  if (!block.is_object() || !block.contains("timestamp"))
    return data_loss("eth_getBlockByNumber(latest) answered without a timestamp");
  VEIL_ASSIGN_OR_RETURN(chain::U256 timestamp, chain::parse_quantity(block["timestamp"]));
  if (!timestamp.fits_u64()) return data_loss("the head block's timestamp does not fit in 64 bits");
  return timestamp.low_u64();
}

std::string utc_time(std::uint64_t unix_seconds) {
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

Status explain_insufficient_stake(const Status& status, chain::VeilRegistry& registry,
                                  const chain::Address& operator_address) {
  if (!reverted_with(status, "InsufficientStake")) return status;
  auto bonded = registry.stake_of(operator_address);
  auto params = registry.stake_params();
  if (!bonded.ok() || !params.ok() || *bonded >= params->min_stake_wei) return status;  // changed since
  const chain::U256 missing = params->min_stake_wei - *bonded;
  return failed_precondition(
      "operator " + operator_address.to_checksum() + " has " + chain::format_ether(*bonded) +
      " bonded and the cluster's minimum stake is " + chain::format_ether(params->min_stake_wei) +
      "; bond the rest with 'veil stake deposit " + missing.to_dec() + "wei' (" + status.message() + ")");
}

Result<std::unique_ptr<ChainSession>> open_chain_session(const GlobalOptions& global, const ChainOptions& o,
                                                         bool need_key, bool need_contract) {
  Config::LoadOptions load;
  if (!global.config_file.empty()) load.file = global.config_file;
  VEIL_ASSIGN_OR_RETURN(Config config, Config::load(load));
  // Flags win over the environment and the file; Config::set validates them like any value.
  if (!o.rpc.empty()) VEIL_RETURN_IF_ERROR(config.set("eth.rpc", o.rpc, "--rpc"));
  if (!o.key_file.empty()) VEIL_RETURN_IF_ERROR(config.set("eth.key_file", o.key_file, "--key-file"));
  if (!o.contract.empty()) VEIL_RETURN_IF_ERROR(config.set("contract.address", o.contract, "--contract"));

  auto session = std::make_unique<ChainSession>();
  VEIL_ASSIGN_OR_RETURN(chain::EthClient client, chain::EthClient::connect(config.string("eth.rpc")));
  session->client = std::make_unique<chain::EthClient>(std::move(client));
  if (need_key) {
    std::string path = config.string("eth.key_file");
    if (path.empty())
      return invalid_argument("no signing key: pass --key-file or set VEIL_ETH_KEY_FILE (eth.key_file)");
    VEIL_ASSIGN_OR_RETURN(chain::PrivateKey key, chain::PrivateKey::load_file(path));
    session->key.emplace(std::move(key));
    chain::TransactorOptions topts;
    topts.confirmations = o.confirmations;
    VEIL_ASSIGN_OR_RETURN(session->sender, chain::Transactor::create(*session->client, *session->key, topts));
  }
  if (need_contract) {
    std::string address = config.string("contract.address");
    if (address.empty())
      return invalid_argument("no contract: pass --contract or set VEIL_CONTRACT_ADDRESS (contract.address)");
    VEIL_ASSIGN_OR_RETURN(chain::Address a, chain::Address::parse(address));
    session->registry.emplace(*session->client, a, session->sender.get());
  }
  return session;
}

}  // namespace veil::cli
