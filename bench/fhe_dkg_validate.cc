// `veil fhe validate` on keys from a DKG (issue 16): runs a t-of-m DKG in memory (all members in
// this process, t = (m + 1) / 2), rebuilds the client key from the members' shares of s and z
// (tests/fhe/dkg_reconstruct.h; no member holds it, any t of them could decrypt anyway), and
// runs check_bootstraps, the check behind `veil fhe validate --pbs N`, with that key and the
// run's own server.compressed.key. Not a test: on the default parameters it takes minutes of
// DKG and ~30 ms of CPU per bootstrap. fhe_dkg_validate_test runs the same path, small.
//
// Usage: fhe_dkg_validate [--params default|test] [--members M] [--pbs N]
// Prints the JSON of `veil fhe validate --json` plus members, threshold and dkg_seconds (wall
// time of the whole run). Exit status: 0 with no failures, 1 otherwise, 2 on a usage error.
#include <gtest/gtest.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "dkg_reconstruct.h"
#include "veil/common/thread_pool.h"

namespace {

using namespace veil::fhe;

struct Options {
  const Parameters* params = &kParamMessage2Carry2KsPbsTUniform2M128;
  unsigned members = 3;
  std::size_t bootstraps = 20000;
};

std::optional<std::uint64_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

std::optional<Options> parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i], value = argv[i + 1];
    const auto count = parse_count(value);
    if (flag == "--params" && (o.params = params_by_name(value)) != nullptr) continue;
    if (flag == "--members" && count && *count >= 2 && *count <= 16) {
      o.members = static_cast<unsigned>(*count);
      continue;
    }
    if (flag == "--pbs" && count && *count > 0) {
      o.bootstraps = *count;
      continue;
    }
    return std::nullopt;
  }
  if (argc % 2 == 0) return std::nullopt;  // a flag without its value
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const auto options = parse(argc, argv);
  if (!options) {
    std::cerr << "usage: fhe_dkg_validate [--params default|test] [--members M (2..16)] [--pbs N (> 0)]\n";
    return 2;
  }
  const unsigned t = (options->members + 1) / 2;
  const auto v = dkg::dkgtest::validate_dkg(*options->params, t, options->members, options->bootstraps);
  if (!v) {
    std::cerr << "fhe_dkg_validate: the DKG run failed (see above)\n";
    return 1;
  }
  const BootstrapCheck& r = v->check;
  const nlohmann::json j{{"params", std::string(options->params->name)},
                         {"bootstraps", r.bootstraps},
                         {"failures", r.failures},
                         {"max_abs_error_log2", r.max_abs_error_log2},
                         {"error_std_log2", r.error_std_log2},
                         {"seconds", r.seconds},
                         {"threads", veil::ThreadPool::shared().size()},
                         {"fft", fft_backend_name()},
                         {"members", v->run.members},
                         {"threshold", v->run.threshold},
                         {"dkg_seconds", v->run.dkg_seconds}};
  std::cout << j.dump() << "\n";
  return r.failures == 0 && !::testing::Test::HasFailure() ? 0 : 1;
}
