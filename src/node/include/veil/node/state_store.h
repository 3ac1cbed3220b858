// The node's durable state in one SQLite file: jobs it coordinates (with their rounds,
// decisions and placements), replicas it runs, deployment anchors still to post, and an event
// log per job. Each write is one transaction in WAL mode with synchronous=FULL, so a node
// killed with SIGKILL at any point restarts with every write that returned ok.
//
// The store keeps JSON documents by (kind, key); the daemon owns their shape (docs/node.md).
// Keeping documents rather than a column per field lets the daemon's state evolve without
// schema migrations, while SQLite still gives atomic, crash-safe updates.
//
// Thread safety: a StateStore serialises its own calls (one connection behind a mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "veil/common/status.h"

struct sqlite3;

namespace veil::node {

// Document kinds the daemon uses.
inline constexpr const char* kJobDoc = "job";            // key: job id (hex)
inline constexpr const char* kReplicaDoc = "replica";    // key: "<job id>/<replica>", runs here
inline constexpr const char* kAnchorDoc = "anchor";      // key: "<job id>/<round>"
inline constexpr const char* kHeldJobDoc = "held_job";   // key: job id (hex), coordinated elsewhere

struct JobEvent {
  std::int64_t at_ms = 0;
  std::string message;
};

class StateStore {
 public:
  // Opens (creating if needed) the database at `file`; its directory must exist. Fails with
  // unavailable when SQLite cannot open it, data_loss when it is not a Veil state file.
  static Result<std::unique_ptr<StateStore>> open(const std::filesystem::path& file);
  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  // Inserts or replaces the document at (kind, key).
  Status put(std::string_view kind, std::string_view key, const nlohmann::json& doc);
  // not_found when absent; data_loss when the stored text is not JSON.
  Result<nlohmann::json> get(std::string_view kind, std::string_view key);
  // Every document of `kind`, ordered by key.
  Result<std::vector<nlohmann::json>> all(std::string_view kind);
  // Removes (kind, key); ok when it was absent.
  Status erase(std::string_view kind, std::string_view key);

  // Appends to a job's event log; `events` returns the last `limit` in order.
  Status add_event(std::string_view job, std::int64_t at_ms, std::string_view message);
  Result<std::vector<JobEvent>> events(std::string_view job, std::size_t limit = 200);

  const std::filesystem::path& path() const { return path_; }

 private:
  StateStore(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  Status exec(const char* sql);
  sqlite3* db_;
  std::filesystem::path path_;
  std::mutex mutex_;
};

}  // namespace veil::node
