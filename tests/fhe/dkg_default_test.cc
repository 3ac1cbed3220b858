// A 2-of-3 DKG on the default parameters, all members in this process (docs/dkg.md section 9,
// commit 7): identical files at every member, FheUint16 add/ge decrypting through the sealed
// shares, t - 1 partials refused. Prints the wall time, CPU, peak memory and bytes sent per
// member and round (figures for bench/README.md). Integration: minutes of CPU, ~2 GB.
#include "dkg_run.h"

namespace veil::fhe::dkg::dkgtest {
namespace {

TEST(DkgDefaultParams, TwoOfThreeInMemory) { complete_run(kParamMessage2Carry2KsPbsTUniform2M128, 2, 3, 1); }

}  // namespace
}  // namespace veil::fhe::dkg::dkgtest
