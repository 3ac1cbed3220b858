// Reading a committee member's key files (`veil keys member-keygen` writes them): shared by the
// ceremony, partial decryption and the DKG.
#pragma once

#include <filesystem>

#include "veil/common/status.h"
#include "veil/fhe/threshold.h"

namespace veil::cli {

// DIR/member.key, the member's secret keys.
Result<fhe::threshold::MemberSecretKey> load_member_secret_key(const std::filesystem::path& dir);
// A member.pub file; errors name the file.
Result<fhe::threshold::MemberPublicKey> load_member_public_key(const std::filesystem::path& path);

}  // namespace veil::cli
