// Resource quantities as people write them — "500m", "0.5", "128Mi", "2G" — parsed by one strict
// parser into a whole number of a base unit (millicores, MiB, bytes, nano-CPUs, ...).
//
// Grammar: DIGITS [ "." DIGITS ] UNIT, nothing else. There is no sign, no exponent, no
// whitespace, no "nan" or "inf", no hex; UNIT is one of the suffixes a QuantitySyntax lists
// (possibly the empty suffix for a plain number), matched exactly. The arithmetic is exact
// (integers, never floating point), so "99999999999999999Gi" is out of range instead of
// wrapping, and "0.1" CPUs is exactly 100 millicores. Depending on the syntax a result that is
// not a whole base unit is rounded up (sizes: 1Ki is 1 MiB of memory) or is an error (CPU:
// 0.0001 cores).
//
// Thread safety: pure functions; the syntaxes are constants.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "veil/common/status.h"

namespace veil {

// A suffix and what one of it is worth in the base unit, as the fraction numerator/denominator.
struct QuantityUnit {
  std::string_view suffix;  // "" for a plain number
  std::uint64_t numerator;
  std::uint64_t denominator = 1;
};

struct QuantitySyntax {
  std::string_view what;      // "CPU quantity", "size": "'x' is not a <what>"
  std::string_view examples;  // "500m, 0.5 or 2": shown when the text is not one
  std::string_view base;      // the result's unit, "millicores": "not a whole number of <base>"
  std::span<const QuantityUnit> units;
  bool round_up;      // true: round a fraction of the base unit up; false: it is an error
  std::uint64_t max;  // the largest result accepted, in the base unit
};

// Parses `text` by `syntax`. Errors (invalid_argument, or out_of_range above `syntax.max`)
// quote the text through printable() and say what is expected. At most 19 digits before the
// point (more is out of range) and 18 after it (not counting trailing zeros) are accepted.
Result<std::uint64_t> parse_quantity(std::string_view text, const QuantitySyntax& syntax);

// The three parts of DIGITS [ "." DIGITS ] SUFFIX, the grammar above.
struct QuantityText {
  std::string_view integer;   // at least one digit
  std::string_view fraction;  // the digits after the point; empty when there is no point
  std::string_view suffix;    // the rest of the text, possibly empty; not judged here
};

// Splits `text`; nullopt when it does not start with a digit or its point is not followed by
// one. For parsers of this grammar whose units or range parse_quantity cannot express (ether
// amounts, veil/chain/ether_amount.h, go up to 2^256 wei).
std::optional<QuantityText> split_quantity(std::string_view text);

// The syntaxes Veil Stack reads (docs/jobspec.md and docs/runtime.md describe them).

// Job spec `resources.cpu` in millicores: "500m", "0.5", "2"; whole millicores, at most
// 1000 cores.
extern const QuantitySyntax kCpuMillicores;
// Job spec `resources.memory` and `resources.disk` in MiB: binary Ki, Mi, Gi, Ti, Pi, decimal
// k (or K), M, G, T, P, or a plain number of MiB; rounded up to whole MiB, at most 2^32 - 1 MiB.
extern const QuantitySyntax kSizeMib;
// Job spec `resources.gpus`: a plain whole number, at most 64.
extern const QuantitySyntax kGpuCount;
// `veil runtime run --memory`, Docker style, in bytes: "128M", "1g", "512k", "64MB",
// "1048576" (k, m, g, t in either case, with an optional b, are binary multiples); at most 2^62.
extern const QuantitySyntax kMemoryBytes;
// `veil runtime run --cpus`, Docker style, in nano-CPUs: "0.5", "2"; at most 4096 CPUs.
extern const QuantitySyntax kNanoCpus;

}  // namespace veil
