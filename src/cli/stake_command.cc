// `veil stake deposit|status|unstake|withdraw|withdraw-rewards`: the ETH an account bonds in
// VeilRegistry so that its nodes are admitted, and the reporter rewards it earned (docs/chain.md,
// "Stake"). Amounts are typed as ether amounts (1eth, 0.5ether, 100gwei, plain wei) and shown in
// ether with the exact wei beside them.
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "chain_cli.h"
#include "cli_io.h"
#include "veil/chain/ether_amount.h"

namespace veil::cli {
namespace {

using chain::Address;
using chain::format_ether;
using chain::U256;
using chain::VeilRegistry;

struct StakeArgs {
  ChainOptions chain;
  std::string amount;   // deposit, unstake
  std::string account;  // status: whose stake; empty means the key's address
};

// "1.5 ETH (1500000000000000000 wei)": ether to read, wei to compare with the contract.
std::string ether_and_wei(const U256& wei) { return format_ether(wei) + " (" + wei.to_dec() + " wei)"; }

// "12.5 %" for 1,250 basis points.
std::string percent(std::uint16_t bps) {
  std::string text = std::to_string(bps / 100);
  if (bps % 100 != 0) {
    text += "." + std::to_string(bps % 100 / 10);
    if (bps % 10 != 0) text += std::to_string(bps % 10);
  }
  return text + " %";
}

// "2026-12-12T07:00:00Z, in 604800 s" or "..., released", by the chain's clock `now`.
std::string release_text(std::uint64_t release_at, std::uint64_t now) {
  const std::string when = utc_time(release_at);
  return release_at <= now ? when + ", released" : when + ", in " + std::to_string(release_at - now) + " s";
}

Result<U256> positive_amount(const std::string& text) {
  VEIL_ASSIGN_OR_RETURN(U256 wei, chain::parse_ether_amount(text));
  if (wei.is_zero()) return invalid_argument("the amount must be more than 0 wei");
  return wei;
}

// The uint256 argument `field` of the first `event` of this registry in `receipt`.
std::optional<U256> event_amount(const VeilRegistry& reg, const chain::Receipt& receipt,
                                 std::string_view event, std::string_view field) {
  for (const auto& log : receipt.logs) {
    if (log.address != reg.address()) continue;
    auto decoded = VeilRegistry::abi().decode_log(log);
    if (!decoded.ok() || decoded->event->name != event) continue;
    auto value = decoded->get(field);
    if (value.ok()) return value->as_uint();
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- status

Result<nlohmann::json> stake_status(ChainSession& session, const Address& account) {
  VeilRegistry& reg = *session.registry;
  // The parameters first: a wrong address or endpoint fails here with its own message.
  VEIL_ASSIGN_OR_RETURN(VeilRegistry::StakeParams params, reg.stake_params());
  VEIL_ASSIGN_OR_RETURN(U256 bonded, reg.stake_of(account));
  VEIL_ASSIGN_OR_RETURN(VeilRegistry::Unbonding unbonding, reg.unbonding_of(account));
  VEIL_ASSIGN_OR_RETURN(U256 rewards, reg.rewards_of(account));
  VEIL_ASSIGN_OR_RETURN(bool is_operator, reg.is_operator(account));
  VEIL_ASSIGN_OR_RETURN(bool staked, reg.is_operator_staked(account));
  VEIL_ASSIGN_OR_RETURN(std::uint64_t now, chain_time(*session.client));
  // Wei as decimal strings: a JSON number loses precision above 2^53 (0.009 ETH).
  nlohmann::json unbonding_json = {{"amount_wei", unbonding.amount.to_dec()},
                                   {"release_at", nullptr},
                                   {"release_at_utc", nullptr},
                                   {"released", false}};
  if (!unbonding.amount.is_zero()) {
    unbonding_json["release_at"] = unbonding.release_at;
    unbonding_json["release_at_utc"] = utc_time(unbonding.release_at);
    unbonding_json["released"] = unbonding.release_at <= now;
  }
  return nlohmann::json{{"account", account.to_checksum()},
                        {"operator", is_operator},
                        {"staked", staked},
                        {"bonded_wei", bonded.to_dec()},
                        {"unbonding", unbonding_json},
                        {"rewards_wei", rewards.to_dec()},
                        {"cluster",
                         {{"min_stake_wei", params.min_stake_wei.to_dec()},
                          {"unbonding_delay_s", params.unbonding_delay_s},
                          {"slash_bps", params.slash_bps},
                          {"reporter_bps", params.reporter_bps}}},
                        {"chain_time", now}};
}

void print_stake_status(const nlohmann::json& s) {
  const auto wei = [](const nlohmann::json& text) {
    return U256::parse(text.get<std::string>()).value_or(U256(0));
  };
  const auto& cluster = s["cluster"];
  const U256 min_stake = wei(cluster["min_stake_wei"]);
  std::cout << "Account    " << s["account"].get<std::string>()
            << (s["operator"].get<bool>() ? " (operator)" : " (not an operator: its stake admits no nodes)")
            << "\n"
            << "Bonded     " << ether_and_wei(wei(s["bonded_wei"])) << "\n";
  const auto& unbonding = s["unbonding"];
  const U256 unbonding_wei = wei(unbonding["amount_wei"]);
  std::cout << "Unbonding  " << ether_and_wei(unbonding_wei);
  if (!unbonding_wei.is_zero()) {
    std::cout << ", released at "
              << release_text(unbonding["release_at"].get<std::uint64_t>(),
                              s["chain_time"].get<std::uint64_t>());
  }
  std::cout << "\nRewards    " << ether_and_wei(wei(s["rewards_wei"])) << " owed as reporter\n"
            << "Staked     "
            << (s["staked"].get<bool>() ? "yes: bonded stake is at least the cluster's minimum of "
                                        : "NO: bonded stake is below the cluster's minimum of ")
            << ether_and_wei(min_stake)
            << (s["staked"].get<bool>() ? "" : "; gaters refuse this operator's nodes") << "\n"
            << "Rules      unbonding delay " << cluster["unbonding_delay_s"].get<std::uint64_t>()
            << " s; a proven lie takes " << percent(cluster["slash_bps"].get<std::uint16_t>())
            << " of bonded and unbonding stake, " << percent(cluster["reporter_bps"].get<std::uint16_t>())
            << " of it to the reporter\n";
}

int run_status(const GlobalOptions& global, const StakeArgs& a) {
  std::optional<Address> account;
  if (!a.account.empty()) {
    auto parsed = Address::parse(a.account);
    if (!parsed.ok()) return usage(parsed.status().with_context("ADDRESS"));
    account = *parsed;
  }
  // Without an ADDRESS the key file says whose stake to show; with one no key is needed.
  auto session = open_chain_session(global, a.chain, /*need_key=*/!account, /*need_contract=*/true);
  if (!session.ok()) return fail(session.status());
  if (!account) account = (*session)->key->address();
  auto status = stake_status(**session, *account);
  if (!status.ok()) return fail(status.status());
  if (structured_output(global.output)) {
    print_data(*status, global.output);
  } else {
    print_stake_status(*status);
  }
  return kExitOk;
}

// ---------------------------------------------------------------- writes

// A write verb's body: `session` holds the key of `me`; `wei` is AMOUNT (zero for the verbs that
// take none).
using WriteBody = int (*)(ChainSession& session, const Address& me, const U256& wei);

// The steps every write verb shares: AMOUNT parsed first (a usage error, before any connection)
// when the verb takes one, then a session with the key.
int run_write(const GlobalOptions& global, const StakeArgs& a, bool takes_amount, WriteBody body) {
  U256 wei;
  if (takes_amount) {
    auto parsed = positive_amount(a.amount);
    if (!parsed.ok()) return usage(parsed.status());
    wei = *parsed;
  }
  auto session = open_chain_session(global, a.chain, /*need_key=*/true, /*need_contract=*/true);
  if (!session.ok()) return fail(session.status());
  return body(**session, (*session)->key->address(), wei);
}

int deposit(ChainSession& session, const Address& me, const U256& wei) {
  VeilRegistry& reg = *session.registry;
  auto receipt = reg.stake(wei);
  if (!receipt.ok()) return fail(receipt.status().with_context("bonding " + format_ether(wei)));
  std::cout << "bonded " << ether_and_wei(wei) << " from " << me.to_checksum() << " in block "
            << receipt->block_number << "\n";
  auto bonded = reg.stake_of(me);
  auto params = reg.stake_params();
  if (bonded.ok() && params.ok()) {
    std::cout << "bonded stake now " << format_ether(*bonded) << "; the cluster's minimum is "
              << format_ether(params->min_stake_wei)
              << (*bonded >= params->min_stake_wei ? " (staked)" : " (still below it)") << "\n";
  }
  return kExitOk;
}

int unstake(ChainSession& session, const Address& me, const U256& wei) {
  VeilRegistry& reg = *session.registry;
  auto receipt = reg.request_unstake(wei);
  if (reverted_with(receipt.status(), "InsufficientBonded")) {
    auto bonded = reg.stake_of(me);
    return fail("cannot unstake " + format_ether(wei) + ": " + me.to_checksum() + " has " +
                (bonded.ok() ? format_ether(*bonded) : std::string("less")) +
                " bonded (stake already unbonding is not bonded; see 'veil stake status')");
  }
  if (!receipt.ok()) return fail(receipt.status().with_context("unstaking " + format_ether(wei)));
  auto unbonding = reg.unbonding_of(me);
  auto now = chain_time(*session.client);
  std::cout << "moved " << ether_and_wei(wei) << " to unbonding in block " << receipt->block_number << "\n";
  if (unbonding.ok() && now.ok()) {
    // The contract releases all unbonding stake together, the delay after the latest request.
    std::cout << "unbonding now " << format_ether(unbonding->amount) << ", released at "
              << release_text(unbonding->release_at, *now) << "; then run 'veil stake withdraw'\n";
  }
  auto staked = reg.is_operator_staked(me);
  auto is_operator = reg.is_operator(me);
  if (staked.ok() && !*staked && is_operator.ok() && *is_operator) {
    std::cerr << "veil: warning: " << me.to_checksum()
              << " is now below the cluster's minimum stake: gaters refuse its nodes and their replicas are "
                 "drained\n";
  }
  return kExitOk;
}

int withdraw(ChainSession& session, const Address& me, const U256& /*wei*/) {
  VeilRegistry& reg = *session.registry;
  auto receipt = reg.withdraw();
  if (reverted_with(receipt.status(), "UnbondingPending")) {
    auto unbonding = reg.unbonding_of(me);
    auto now = chain_time(*session.client);
    if (unbonding.ok() && now.ok()) {
      return fail("the unbonding stake of " + me.to_checksum() + " (" + format_ether(unbonding->amount) +
                  ") is not released yet: it is released at " + release_text(unbonding->release_at, *now) +
                  " by the chain's clock; run 'veil stake withdraw' then");
    }
  }
  if (reverted_with(receipt.status(), "NothingToWithdraw")) {
    return fail(me.to_checksum() +
                " has no unbonding stake to withdraw: first 'veil stake unstake AMOUNT', then wait for the "
                "unbonding delay ('veil stake status' shows it)");
  }
  if (!receipt.ok()) return fail(receipt.status().with_context("withdrawing"));
  const auto amount = event_amount(reg, *receipt, "Withdrawn", "amount");
  std::cout << "withdrew " << (amount ? ether_and_wei(*amount) : std::string("the unbonding stake")) << " to "
            << me.to_checksum() << " in block " << receipt->block_number << "\n";
  return kExitOk;
}

int withdraw_rewards(ChainSession& session, const Address& me, const U256& /*wei*/) {
  VeilRegistry& reg = *session.registry;
  auto receipt = reg.withdraw_rewards();
  if (reverted_with(receipt.status(), "NothingToWithdraw")) {
    return fail("no reporter rewards are owed to " + me.to_checksum() +
                ": they come from evidence it submitted ('veil dispute submit')");
  }
  if (!receipt.ok()) return fail(receipt.status().with_context("withdrawing rewards"));
  const auto amount = event_amount(reg, *receipt, "RewardsWithdrawn", "amount");
  std::cout << "withdrew " << (amount ? ether_and_wei(*amount) : std::string("the rewards"))
            << " of reporter rewards to " << me.to_checksum() << " in block " << receipt->block_number
            << "\n";
  return kExitOk;
}

constexpr const char* kAmountHelp =
    "Ether amount: 1eth, 0.5ether, 100gwei, 250000wei, or a plain number of wei";

}  // namespace

void register_stake_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* noun = app.add_subcommand(
      "stake",
      "The ETH an operator bonds in VeilRegistry so that its nodes are admitted (docs/chain.md, Stake)");
  noun->require_subcommand(1);

  using Runner = std::function<int(const GlobalOptions&, const StakeArgs&)>;
  const auto verb = [&](const char* name, const char* help, Runner run) {
    auto args = std::make_shared<StakeArgs>();
    auto* cmd = noun->add_subcommand(name, help);
    add_chain_options(cmd, args->chain, /*with_key=*/true, /*with_contract=*/true);
    cmd->callback(
        [&global, &action, args, run] { action = [&global, args, run] { return run(global, *args); }; });
    return std::pair{cmd, args};
  };
  const auto write_verb = [&](const char* name, const char* help, bool takes_amount, WriteBody body) {
    auto [cmd, args] = verb(name, help, [takes_amount, body](const GlobalOptions& g, const StakeArgs& a) {
      return run_write(g, a, takes_amount, body);
    });
    if (takes_amount) cmd->add_option("amount", args->amount, kAmountHelp)->required();
  };

  write_verb("deposit", "Bond AMOUNT of the key's ETH as stake (stake())", true, &deposit);
  auto [status, status_args] =
      verb("status",
           "Bonded and unbonding stake (with its release time), reporter rewards owed, the cluster's minimum "
           "stake and whether the account is staked",
           &run_status);
  status->add_option("address", status_args->account, "Account to show (default: the key file's address)");
  add_output_option(status, global.output);
  write_verb("unstake",
             "Move AMOUNT of bonded stake to unbonding (requestUnstake); all unbonding stake is released "
             "together, the unbonding delay after the latest request",
             true, &unstake);
  write_verb("withdraw", "Pay the unbonding stake back to the key's address once it is released (withdraw())",
             false, &withdraw);
  write_verb("withdraw-rewards", "Pay the reporter rewards earned by submitted evidence (withdrawRewards())",
             false, &withdraw_rewards);
}

}  // namespace veil::cli
