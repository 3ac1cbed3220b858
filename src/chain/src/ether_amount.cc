// Ether amounts (veil/chain/ether_amount.h).
#include "veil/chain/ether_amount.h"

#include <algorithm>
#include <array>

#include "veil/common/printable.h"
#include "veil/common/quantity.h"

namespace veil::chain {
namespace {

struct EtherUnit {
  std::string_view suffix;
  std::size_t decimals;  // one unit is 10^decimals wei
};

constexpr std::array<EtherUnit, 5> kUnits = {{{"", 0}, {"wei", 0}, {"gwei", 9}, {"eth", 18}, {"ether", 18}}};
constexpr std::size_t kEtherDecimals = 18;

}  // namespace

Result<U256> parse_ether_amount(std::string_view text) {
  const std::string quoted = "'" + printable(text) + "'";
  const auto not_one = [&] {
    return invalid_argument(quoted +
                            " is not an ether amount (e.g. 1eth, 0.5ether, 100gwei or 250000wei; "
                            "a plain number is wei)");
  };

  const auto parts = split_quantity(text);  // DIGITS [ "." DIGITS ] [ UNIT ]
  if (!parts) return not_one();
  std::string_view fraction = parts->fraction;
  const std::string_view suffix = parts->suffix;
  const auto unit =
      std::find_if(kUnits.begin(), kUnits.end(), [&](const EtherUnit& u) { return u.suffix == suffix; });
  if (unit == kUnits.end()) return not_one();

  // Moving the point `decimals` places right turns the text into a whole number of wei, unless
  // digits other than trailing zeros remain after it.
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (fraction.size() > unit->decimals) {
    return invalid_argument(quoted + " is not a whole number of wei (1 wei is 0.000000001 gwei, 10^-18 eth)");
  }
  std::string wei_digits(parts->integer);
  wei_digits += fraction;
  wei_digits.append(unit->decimals - fraction.size(), '0');
  auto wei = U256::parse(wei_digits);
  if (!wei.ok() && wei.status().code() == StatusCode::kOutOfRange) {
    return out_of_range(quoted + " is out of range: at most 2^256 - 1 wei");
  }
  return wei;
}

std::string format_ether(const U256& wei) {
  std::string digits = wei.to_dec();
  if (digits.size() <= kEtherDecimals) digits.insert(0, kEtherDecimals + 1 - digits.size(), '0');
  std::string whole = digits.substr(0, digits.size() - kEtherDecimals);
  std::string fraction = digits.substr(digits.size() - kEtherDecimals);
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  return whole + (fraction.empty() ? "" : "." + fraction) + " ETH";
}

}  // namespace veil::chain
