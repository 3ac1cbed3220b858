// Node and CLI configuration: built-in defaults, overridden by a YAML file, overridden by
// VEIL_* environment variables, overridden by command-line flags. Every value remembers
// where it came from so `veil config show` can explain the effective configuration.
//
// The known settings form one schema (config_schema()). A setting's YAML key is a dotted
// path (`libp2p.bootstrap` is `libp2p: {bootstrap: ...}` in the file) and its environment
// variable is derived from that key by one rule: `VEIL_` + upper case, dots to
// underscores (`VEIL_LIBP2P_BOOTSTRAP`). List values in the environment are comma-separated.
//
// Unknown keys in the file are errors (a typo must not silently fall back to a default);
// unknown VEIL_* variables are warnings (the environment is shared with other tools).
//
// Thread safety: a loaded Config is immutable apart from set(); share it read-only. (The typed
// accessors record which settings were asked for, with atomics, so concurrent reads are safe.)
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/status.h"

namespace veil {

enum class ConfigKind { kString, kStringList, kInteger, kBoolean };

struct ConfigField {
  std::string_view key;            // dotted YAML path, e.g. "docker.socket"
  ConfigKind kind;
  std::string_view default_value;  // text form; lists comma-separated; "" means unset
  std::string_view help;
  // Optional check of a value's text; returns a message describing the problem, or "".
  std::string (*validate)(std::string_view value) = nullptr;
};

// All settings Veil Stack knows, in display order.
const std::vector<ConfigField>& config_schema();

// VEIL_LIBP2P_BOOTSTRAP for "libp2p.bootstrap".
std::string config_env_name(std::string_view key);

// VEIL_* variables that are not settings but are read elsewhere (VEIL_LOG, VEIL_CONFIG, ...).
bool is_reserved_env_name(std::string_view name);

struct ConfigEntry {
  const ConfigField* field;
  std::vector<std::string> values;  // one element for scalars; empty when unset
  std::string source;               // "default", "file /etc/veil.yaml:3", "env VEIL_X", "flag --x"
};

class Config {
 public:
  struct LoadOptions {
    std::optional<std::filesystem::path> file;  // YAML file; none means defaults + env only
    // YAML text to use instead of reading `file` (which then only names it in messages).
    std::optional<std::string> text;
    // The environment to read. Empty means the process environment (tests pass their own).
    std::optional<std::map<std::string, std::string>> environment;
  };

  // Loads defaults, then the file, then the environment. Errors name the file, line, column
  // and the problem, followed by the offending line and a caret.
  static Result<Config> load(const LoadOptions& options);

  // Overrides a setting (e.g. from a command-line flag), validating it.
  Status set(std::string_view key, std::string_view value, std::string source);

  // Typed access by key. Asking for an unknown key or the wrong kind is a programming error.
  std::string string(std::string_view key) const;
  std::vector<std::string> strings(std::string_view key) const;
  std::int64_t integer(std::string_view key) const;
  bool boolean(std::string_view key) const;
  bool is_set(std::string_view key) const;

  // Whether a typed accessor above (string, strings, integer, boolean or is_set) has been
  // called for `key` on this Config or on the Config it was copied from. entries() does not
  // count: it is display, not use. This lets a test prove that every setting in the schema
  // has a consumer (tests/node/settings_test.cc runs the node's settings loader for that).
  bool was_read(std::string_view key) const;

  // Every setting with its value and source, in schema order.
  const std::vector<ConfigEntry>& entries() const { return entries_; }
  // Non-fatal findings while loading, e.g. an unknown VEIL_* variable.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Config();
  const ConfigEntry& entry(std::string_view key, ConfigKind kind) const;
  ConfigEntry* find(std::string_view key);
  std::size_t index_of(std::string_view key) const;  // entries_.size() when unknown

  // Whether entries_[i] was asked for (was_read); copyable so that Config stays a value.
  struct ReadMark {
    std::atomic<bool> read{false};
    ReadMark() = default;
    ReadMark(const ReadMark& other) : read(other.read.load(std::memory_order_relaxed)) {}
    ReadMark& operator=(const ReadMark& other) {
      read.store(other.read.load(std::memory_order_relaxed), std::memory_order_relaxed);
      return *this;
    }
  };

  std::vector<ConfigEntry> entries_;
  mutable std::vector<ReadMark> reads_;  // parallel to entries_
  std::vector<std::string> warnings_;
};

// Parses "true/false/yes/no/1/0/on/off".
Result<bool> parse_bool(std::string_view text);

}  // namespace veil
