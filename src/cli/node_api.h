// How CLI verbs reach a node's local API (docs/node-api.md): the --api/--token flags and the
// client they configure. Defined in node_command.cc.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "veil/common/config.h"
#include "veil/common/status.h"
#include "veil/node/api_client.h"

namespace veil::cli {

struct ApiOptions {
  std::string api;    // --api HOST:PORT
  std::string token;  // --token
};

// Adds --api, --token and -o/--output to `cmd`.
void add_api_options(CLI::App* cmd, ApiOptions& o, GlobalOptions& global);
// The configuration --config names (or defaults and the environment alone).
Result<Config> load_config(const GlobalOptions& global);
// A client of the node's API: --api, else VEIL_API_ADDR, else api.listen; --token, else
// VEIL_API_TOKEN, else the token file in node.data_dir.
Result<node::ApiClient> open_api(const GlobalOptions& global, const ApiOptions& o);

}  // namespace veil::cli
