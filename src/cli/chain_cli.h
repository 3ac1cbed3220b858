// Shared plumbing of the chain-facing commands (chain, node register, gov, image, audit):
// endpoint/key/contract options with config and environment fallbacks, and an open session.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli_io.h"
#include "commands.h"
#include "veil/chain/veil_registry.h"

namespace veil::cli {

// --rpc / --key-file / --contract; empty means "take it from the config file or VEIL_ETH_RPC,
// VEIL_ETH_KEY_FILE, VEIL_CONTRACT_ADDRESS" (the config schema's eth.rpc, eth.key_file,
// contract.address).
struct ChainOptions {
  std::string rpc;
  std::string key_file;
  std::string contract;
  std::uint64_t confirmations = 1;
};

void add_chain_options(CLI::App* cmd, ChainOptions& options, bool with_key, bool with_contract);

// An open connection: client, optional signer and the registry handle. Not thread-safe.
struct ChainSession {
  std::unique_ptr<chain::EthClient> client;
  std::optional<chain::PrivateKey> key;
  std::unique_ptr<chain::Transactor> sender;
  std::optional<chain::VeilRegistry> registry;
};

// Resolves the options (flag > env > config file > default) and connects. `need_key` loads the
// key file; `need_contract` requires a contract address. Errors say which setting is missing.
Result<std::unique_ptr<ChainSession>> open_chain_session(const GlobalOptions& global,
                                                         const ChainOptions& options, bool need_key,
                                                         bool need_contract);

// A job's record as its node's API shows it (GET /v1/jobs/JOB, `veil job status -o json`), for
// `veil audit --from-node` (veil/node/audit.h recomputes its commitments). Defined in
// node_command.cc.
Result<nlohmann::json> job_from_node(const GlobalOptions& global, const std::string& job, const std::string& api,
                                     const std::string& token);

// A 32-byte value from 0x-hex, or keccak256 of any other text (job ids, policy names).
chain::Hash32 hash_arg(const std::string& text);

// True when `status` is a VeilRegistry revert with the custom error `error_name`, as the
// transactor words it ("reverted: NAME(args)").
bool reverted_with(const Status& status, std::string_view error_name);

// The head block's timestamp in unix seconds: unbonding is released by the chain's clock, which
// need not be this machine's (anvil's evm_increaseTime, a stalled chain).
Result<std::uint64_t> chain_time(chain::EthClient& client);

// "2026-12-05T07:00:00Z".
std::string utc_time(std::uint64_t unix_seconds);

// An InsufficientStake revert (registering or reactivating a node) said with the amounts in
// ether and the command that fixes it; any other status is returned unchanged.
Status explain_insufficient_stake(const Status& status, chain::VeilRegistry& registry,
                                  const chain::Address& operator_address);

// `veil stake ...` and `veil dispute ...` (stake_command.cc, dispute_command.cc).
void register_stake_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);
void register_dispute_commands(CLI::App& app, GlobalOptions& global, CommandAction& action);

}  // namespace veil::cli
