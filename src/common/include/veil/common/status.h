// Error values used at every library boundary (after LevelDB's Status).
//
// A Status is either ok() or carries an error code and a human-readable message that says
// what went wrong and, where possible, what to do next. Result<T> holds either a T or a
// non-ok Status. Neither throws; exceptions never cross a library boundary.
//
// Thread safety: both are plain values; distinct objects may be used from distinct threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace veil {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // the caller passed something malformed (bad hex, bad YAML, ...)
  kNotFound,          // a file, key, peer or object does not exist
  kAlreadyExists,
  kPermissionDenied,
  kFailedPrecondition,  // the system is not in a state where the call can succeed
  kOutOfRange,          // a value or a size exceeds a limit
  kDataLoss,            // stored or received bytes are corrupted or truncated
  kUnavailable,         // a dependency (peer, RPC endpoint, daemon) cannot be reached; retry may help
  kDeadlineExceeded,
  kCancelled,
  kUnimplemented,
  kInternal,
};

// "invalid argument", "not found", ...
std::string_view status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "not found: key file /x missing" or "ok".
  std::string to_string() const;

  // Returns a copy whose message is prefixed by `context: `, keeping the code. Used to add
  // where an error happened as it travels up ("config.yaml: line 3: ...").
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status already_exists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status permission_denied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status out_of_range(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status data_loss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status deadline_exceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a value or an error. Accessing value() of an error Result is a programming error
// (asserted in debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Status error) : state_(std::in_place_index<1>, std::move(error)) {  // NOLINT
    assert(!std::get<1>(state_).ok() && "Result constructed from an ok Status");
  }

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  const T& value() const& { assert(ok()); return std::get<0>(state_); }
  T& value() & { assert(ok()); return std::get<0>(state_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(state_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The error, or an ok Status when a value is held.
  Status status() const { return ok() ? Status() : std::get<1>(state_); }

  T value_or(T fallback) const& { return ok() ? std::get<0>(state_) : std::move(fallback); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace veil

// Propagate a non-ok Status from an expression returning Status.
#define VEIL_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::veil::Status veil_status_ = (expr);        \
    if (!veil_status_.ok()) return veil_status_; \
  } while (0)

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` may be a declaration such as `auto x`.
#define VEIL_CONCAT_INNER_(a, b) a##b
#define VEIL_CONCAT_(a, b) VEIL_CONCAT_INNER_(a, b)
#define VEIL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()

// `VEIL_ASSIGN_OR_RETURN(auto key, load_key(path));` binds the value or returns the error.
#define VEIL_ASSIGN_OR_RETURN(lhs, expr) \
  VEIL_ASSIGN_OR_RETURN_IMPL_(VEIL_CONCAT_(veil_result_, __LINE__), lhs, expr)
// NOLINTEND(bugprone-macro-parentheses)
