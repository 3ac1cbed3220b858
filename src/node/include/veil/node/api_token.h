// The node's API token: a secret shared by `veil node run` and the operator's `veil`
// commands through a file in the node's data directory, `<data_dir>/api.token`, readable by
// its owner only. The dashboard gets it in its URL fragment (#token=...), which browsers
// never send to the server.
//
// Thread safety: the functions may be called from any thread; two processes racing to
// create the file both end up with the same token (the file is created exclusively).
#pragma once

#include <string>

#include "veil/common/status.h"

namespace veil::node {

// "<data_dir>/api.token".
std::string api_token_path(const std::string& data_dir);

// Reads the token, without surrounding whitespace. Fails with not_found (saying how to get
// one) when the file is missing, invalid_argument when it is empty, permission_denied when
// it cannot be read. A file readable by group or others is read, with a warning in the log.
Result<std::string> load_api_token(const std::string& data_dir);

// Returns the token, first creating the file with a fresh one (32 random bytes as 64 hex
// characters, mode 0600; data_dir is created with mode 0700 if missing) when there is none.
// Fails with the error of the file system (permission_denied, unavailable) otherwise.
Result<std::string> ensure_api_token(const std::string& data_dir);

}  // namespace veil::node
