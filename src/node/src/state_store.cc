#include "veil/node/state_store.h"

#include <sqlite3.h>

#include <chrono>

namespace veil::node {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS veil_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
  kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, updated_at INTEGER NOT NULL,
  PRIMARY KEY(kind, key));
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, at_ms INTEGER NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_job ON events(job, id);
INSERT OR IGNORE INTO veil_meta(key, value) VALUES ('schema', 'veil-node-state-v1');
)sql";

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  Statement& bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  std::string text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, column));
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  Status error(std::string_view what) const { return unavailable(std::string(what) + ": " + sqlite3_errmsg(db_)); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<nlohmann::json> parse_doc(const std::string& text, std::string_view kind, std::string_view key) {
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return data_loss("state: " + std::string(kind) + " '" + std::string(key) + "' is not JSON");
  return doc;
}

}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::open(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return unavailable("cannot open state database " + file.string() + ": " + message);
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<StateStore> store(new StateStore(db, file));
  for (const char* pragma : {"PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", "PRAGMA foreign_keys=ON;"}) {
    VEIL_RETURN_IF_ERROR(store->exec(pragma));
  }
  if (auto st = store->exec(kSchema); !st.ok()) {
    return data_loss(file.string() + " is not a Veil state database (" + st.message() + ")");
  }
  Statement check(db, "SELECT value FROM veil_meta WHERE key = 'schema'");
  if (!check.ok() || check.step() != SQLITE_ROW || check.text(0) != "veil-node-state-v1") {
    return data_loss(file.string() + ": unknown state schema");
  }
  return store;
}

StateStore::~StateStore() { sqlite3_close(db_); }

Status StateStore::exec(const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    return unavailable("state database " + path_.string() + ": " + message);
  }
  return {};
}

Status StateStore::put(std::string_view kind, std::string_view key, const nlohmann::json& doc) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "INSERT OR REPLACE INTO documents(kind, key, doc, updated_at) VALUES (?1, ?2, ?3, ?4)");
  if (!s.ok()) return s.error("prepare put");
  s.bind(1, kind).bind(2, key).bind(3, doc.dump()).bind(4, now_ms());
  if (s.step() != SQLITE_DONE) return s.error("write " + std::string(kind) + " " + std::string(key));
  return {};
}

Result<nlohmann::json> StateStore::get(std::string_view kind, std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT doc FROM documents WHERE kind = ?1 AND key = ?2");
  if (!s.ok()) return s.error("prepare get");
  s.bind(1, kind).bind(2, key);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return not_found(std::string(kind) + " '" + std::string(key) + "' is not in the state");
  if (rc != SQLITE_ROW) return s.error("read " + std::string(kind));
  return parse_doc(s.text(0), kind, key);
}

Result<std::vector<nlohmann::json>> StateStore::all(std::string_view kind) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "SELECT key, doc FROM documents WHERE kind = ?1 ORDER BY key");
  if (!s.ok()) return s.error("prepare list");
  s.bind(1, kind);
  std::vector<nlohmann::json> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    VEIL_ASSIGN_OR_RETURN(auto doc, parse_doc(s.text(1), kind, s.text(0)));
    out.push_back(std::move(doc));
  }
  if (rc != SQLITE_DONE) return s.error("list " + std::string(kind));
  return out;
}

Status StateStore::erase(std::string_view kind, std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "DELETE FROM documents WHERE kind = ?1 AND key = ?2");
  if (!s.ok()) return s.error("prepare erase");
  s.bind(1, kind).bind(2, key);
  if (s.step() != SQLITE_DONE) return s.error("erase " + std::string(kind));
  return {};
}

Status StateStore::add_event(std::string_view job, std::int64_t at_ms, std::string_view message) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "INSERT INTO events(job, at_ms, message) VALUES (?1, ?2, ?3)");
  if (!s.ok()) return s.error("prepare event");
  s.bind(1, job).bind(2, at_ms).bind(3, message);
  if (s.step() != SQLITE_DONE) return s.error("write event");
  return {};
}

Result<std::vector<JobEvent>> StateStore::events(std::string_view job, std::size_t limit) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT at_ms, message FROM (SELECT id, at_ms, message FROM events WHERE job = ?1 ORDER BY id DESC "
              "LIMIT ?2) ORDER BY id");
  if (!s.ok()) return s.error("prepare events");
  s.bind(1, job).bind(2, static_cast<std::int64_t>(limit));
  std::vector<JobEvent> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.integer(0), s.text(1)});
  if (rc != SQLITE_DONE) return s.error("read events");
  return out;
}

}  // namespace veil::node
