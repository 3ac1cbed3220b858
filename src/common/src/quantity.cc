#include "veil/common/quantity.h"

#include <algorithm>
#include <string>

#include "veil/common/printable.h"

namespace veil {
namespace {

__extension__ typedef unsigned __int128 u128;  // GCC and Clang; exact products of two 64-bit values

constexpr std::size_t kMaxIntegerDigits = 19;   // below 10^19 < 2^64
constexpr std::size_t kMaxFractionDigits = 18;  // 10^18 < 2^64

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::size_t count_digits(std::string_view text, std::size_t from) {
  std::size_t end = from;
  while (end < text.size() && is_digit(text[end])) ++end;
  return end - from;
}

std::uint64_t digits_value(std::string_view digits) {
  std::uint64_t value = 0;
  for (char c : digits) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  return value;
}

std::string quoted(std::string_view text) { return "'" + printable(text) + "'"; }

}  // namespace

std::optional<QuantityText> split_quantity(std::string_view text) {
  QuantityText parts;
  const std::size_t integer_length = count_digits(text, 0);
  if (integer_length == 0) return std::nullopt;
  parts.integer = text.substr(0, integer_length);
  std::size_t suffix_begin = integer_length;
  if (suffix_begin < text.size() && text[suffix_begin] == '.') {
    const std::size_t fraction_length = count_digits(text, suffix_begin + 1);
    if (fraction_length == 0) return std::nullopt;
    parts.fraction = text.substr(suffix_begin + 1, fraction_length);
    suffix_begin += 1 + fraction_length;
  }
  parts.suffix = text.substr(suffix_begin);
  return parts;
}

Result<std::uint64_t> parse_quantity(std::string_view text, const QuantitySyntax& syntax) {
  const auto not_one = [&] {
    return invalid_argument(quoted(text) + " is not a " + std::string(syntax.what) + " (e.g. " +
                            std::string(syntax.examples) + ")");
  };
  const auto out_of_bounds = [&] {
    return out_of_range(quoted(text) + " is out of range: at most " + std::to_string(syntax.max) + " " +
                        std::string(syntax.base));
  };

  const auto parts = split_quantity(text);
  if (!parts) return not_one();
  std::string_view integer = parts->integer;
  std::string_view fraction = parts->fraction;
  const std::string_view suffix = parts->suffix;
  const auto unit = std::find_if(syntax.units.begin(), syntax.units.end(),
                                 [&](const QuantityUnit& u) { return u.suffix == suffix; });
  if (unit == syntax.units.end()) {
    if (suffix.empty())
      return invalid_argument(quoted(text) + " needs a unit (e.g. " + std::string(syntax.examples) + ")");
    return invalid_argument(quoted(text) + " has an unknown unit " + quoted(suffix) + " (a " +
                            std::string(syntax.what) + " is written like " + std::string(syntax.examples) +
                            ")");
  }

  integer.remove_prefix(std::min(integer.find_first_not_of('0'), integer.size()));
  fraction = fraction.substr(0, fraction.find_last_not_of('0') + 1);  // npos + 1 == 0: all zeros
  if (integer.size() > kMaxIntegerDigits) return out_of_bounds();
  if (fraction.size() > kMaxFractionDigits) {
    return invalid_argument(quoted(text) + " has more than " + std::to_string(kMaxFractionDigits) +
                            " decimal places");
  }

  // value = (I + F / 10^k) * n / d, computed exactly: I*n < 2^128, and the fractional part
  // (r1 * 10^k + F * n) / (10^k * d) with r1 < d keeps every term below 2^127.
  u128 scale = 1;
  for (std::size_t i = 0; i < fraction.size(); ++i) scale *= 10;
  const u128 scaled_integer = u128{digits_value(integer)} * unit->numerator;
  const u128 whole = scaled_integer / unit->denominator;
  const u128 carried = scaled_integer % unit->denominator;
  const u128 fraction_numerator = carried * scale + u128{digits_value(fraction)} * unit->numerator;
  const u128 fraction_denominator = scale * unit->denominator;
  u128 result = whole + fraction_numerator / fraction_denominator;
  if (fraction_numerator % fraction_denominator != 0) {
    if (!syntax.round_up) {
      return invalid_argument(quoted(text) + " is not a whole number of " + std::string(syntax.base));
    }
    result += 1;
  }
  if (result > syntax.max) return out_of_bounds();
  return static_cast<std::uint64_t>(result);
}

namespace {

constexpr std::uint64_t kMib = std::uint64_t{1} << 20;

constexpr QuantityUnit kCpuUnits[] = {{"", 1000}, {"m", 1}};

constexpr QuantityUnit kSizeMibUnits[] = {
    {"", 1},
    {"Ki", 1, 1024},
    {"Mi", 1},
    {"Gi", 1024},
    {"Ti", std::uint64_t{1} << 20},
    {"Pi", std::uint64_t{1} << 30},
    {"k", 1000, kMib},
    {"K", 1000, kMib},
    {"M", 1'000'000, kMib},
    {"G", 1'000'000'000, kMib},
    {"T", 1'000'000'000'000, kMib},
    {"P", 1'000'000'000'000'000, kMib},
};

constexpr QuantityUnit kCountUnits[] = {{"", 1}};

constexpr std::uint64_t kKiB = 1024, kMiB = kKiB << 10, kGiB = kMiB << 10, kTiB = kGiB << 10;
// One row per multiple.
// clang-format off
constexpr QuantityUnit kDockerMemoryUnits[] = {
    {"", 1},     {"b", 1},    {"B", 1},
    {"k", kKiB}, {"K", kKiB}, {"kb", kKiB}, {"kB", kKiB}, {"Kb", kKiB}, {"KB", kKiB},
    {"m", kMiB}, {"M", kMiB}, {"mb", kMiB}, {"mB", kMiB}, {"Mb", kMiB}, {"MB", kMiB},
    {"g", kGiB}, {"G", kGiB}, {"gb", kGiB}, {"gB", kGiB}, {"Gb", kGiB}, {"GB", kGiB},
    {"t", kTiB}, {"T", kTiB}, {"tb", kTiB}, {"tB", kTiB}, {"Tb", kTiB}, {"TB", kTiB},
};
// clang-format on

constexpr QuantityUnit kNanoCpuUnits[] = {{"", 1'000'000'000}};

}  // namespace

const QuantitySyntax kCpuMillicores{.what = "CPU quantity",
                                    .examples = "500m, 0.5 or 2",
                                    .base = "millicores",
                                    .units = kCpuUnits,
                                    .round_up = false,
                                    .max = 1'000'000};
const QuantitySyntax kSizeMib{.what = "size",
                              .examples = "256Mi, 2Gi, or MiB as a plain number",
                              .base = "MiB",
                              .units = kSizeMibUnits,
                              .round_up = true,
                              .max = 0xffff'ffff};
const QuantitySyntax kGpuCount{.what = "GPU count",
                               .examples = "0, 1 or 2",
                               .base = "GPUs",
                               .units = kCountUnits,
                               .round_up = false,
                               .max = 64};
const QuantitySyntax kMemoryBytes{.what = "memory size",
                                  .examples = "128M, 1G, 512k or bytes",
                                  .base = "bytes",
                                  .units = kDockerMemoryUnits,
                                  .round_up = false,
                                  .max = std::uint64_t{1} << 62};
const QuantitySyntax kNanoCpus{.what = "CPU amount",
                               .examples = "0.5 or 2",
                               .base = "nano-CPUs",
                               .units = kNanoCpuUnits,
                               .round_up = false,
                               .max = std::uint64_t{4096} * 1'000'000'000};

}  // namespace veil
