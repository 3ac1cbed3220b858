// Logging through spdlog, one named logger per component ("p2p", "fhe", "node", ...).
//
// Levels come from VEIL_LOG, in the style of RUST_LOG: a default level optionally followed
// by per-component overrides, e.g. `VEIL_LOG=info` or `VEIL_LOG=warn,p2p=debug,swim=trace`.
// Levels: trace, debug, info, warn, error, critical, off. Logs go to stderr so that
// commands can keep stdout for their results (JSON, ids, addresses).
//
// Thread safety: all functions may be called from any thread.
#pragma once

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

#include "veil/common/status.h"

namespace veil::log {

// Applies a level specification (the VEIL_LOG grammar above). Loggers created before and
// after the call follow it. Returns invalid_argument naming the bad level or component.
Status configure(std::string_view spec);

// Reads VEIL_LOG from the environment (default "info") and applies it. A bad value is
// reported on stderr and the default is kept, so a typo never silences the logs.
void init_from_env();

// The logger for a component, created on first use with the configured level.
std::shared_ptr<spdlog::logger> get(std::string_view component);

}  // namespace veil::log
