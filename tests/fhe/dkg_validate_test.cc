// `veil fhe validate` on DKG keys (issue 16), small: a 2-of-3 run on the test parameters, its
// client key rebuilt from the members' shares (dkg_reconstruct.h), and check_bootstraps on the
// run's own server key. bench/fhe_dkg_validate runs the same path on the default parameters
// with 20000 bootstraps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>

#include "dkg_reconstruct.h"

namespace veil::fhe::dkg::dkgtest {
namespace {

const Parameters& kParams = kParamInsecureTestOnly;
constexpr std::size_t kBootstraps = 384;

// One run for both tests (a DKG on the test parameters takes about a second).
class DkgValidate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { validation() = validate_dkg(kParams, 2, 3, kBootstraps); }
  static void TearDownTestSuite() { validation().reset(); }
  static std::optional<DkgValidation>& validation() {
    static std::optional<DkgValidation> v;
    return v;
  }
  void SetUp() override { ASSERT_TRUE(validation().has_value()) << "the DKG run failed"; }
};

TEST_F(DkgValidate, RebuiltClientKeyAndTheRunsServerKeyBootstrapWithoutFailure) {
  const DkgValidation& v = *validation();
  const RunKeys& keys = v.run.keys;

  // The rebuilt key is the run's, shown without bootstrapping: z decrypts what the public key
  // encrypts, s what the server key key-switches to.
  const RunPublicKeys public_keys = load_public_keys(v.run.output);
  EXPECT_TRUE(z_decrypts(public_keys, keys.s, keys.z)) << "z does not decrypt the public key's FheUint16";
  EXPECT_TRUE(s_decrypts(public_keys, keys.s)) << "s does not decrypt key-switched blocks";

  EXPECT_EQ(v.check.bootstraps, kBootstraps);
  EXPECT_EQ(v.check.failures, 0u);
  const double decoding_bound_log2 = std::log2(static_cast<double>(kParams.delta())) - 1;
  EXPECT_LT(v.check.max_abs_error_log2, decoding_bound_log2);
  EXPECT_GT(v.check.error_std_log2, 0) << "no output error measured";
  std::printf(
      "[ dkg validate 2-of-3 test params ] %zu bootstraps, %zu failures, error max 2^%.2f std 2^%.2f "
      "(bound 2^%.0f); DKG %.1f s, bootstraps %.1f s\n",
      v.check.bootstraps, v.check.failures, v.check.max_abs_error_log2, v.check.error_std_log2,
      decoding_bound_log2, v.run.dkg_seconds, v.check.seconds);
}

// The check fails when the key does not match the server key, so zero failures above says the
// rebuilt key and the run's server key belong together: one flipped bit of z, or a fresh key.
TEST_F(DkgValidate, AWrongClientKeyFailsTheCheck) {
  const DkgValidation& v = *validation();
  KeyBits z = v.run.keys.z;
  z[run_rng()() % z.size()] ^= 1;
  const BootstrapCheck one_bit = check_bootstraps(client_key_of(kParams, v.run.keys.s, z), v.server, 64);
  EXPECT_GT(one_bit.failures, 0u) << "z with one bit flipped passed";
  const BootstrapCheck fresh = check_bootstraps(ClientKey::generate(kParams), v.server, 64);
  EXPECT_GT(fresh.failures, 0u) << "a fresh client key passed with the DKG's server key";
}

}  // namespace
}  // namespace veil::fhe::dkg::dkgtest
