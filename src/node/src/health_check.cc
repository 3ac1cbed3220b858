// Health checks and restart policy (health_check.h).
#include "health_check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace veil::node {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

// A socket that closes itself.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
};

// Connects to host:port before `deadline`, without blocking past it.
Status connect_before(Socket& s, const HealthTarget& target, Clock::time_point deadline) {
  const std::string where = target.host + ":" + std::to_string(target.port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(target.port);
  if (::inet_pton(AF_INET, target.host.c_str(), &addr.sin_addr) != 1) return invalid_argument("'" + target.host + "' is not an IPv4 address");
  s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return unavailable(std::string("socket: ") + std::strerror(errno));
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return {};
  if (errno != EINPROGRESS) return unavailable("cannot connect to " + where + ": " + std::strerror(errno));
  pollfd p{s.fd, POLLOUT, 0};
  const int ready = ::poll(&p, 1, remaining_ms(deadline));
  if (ready == 0) return deadline_exceeded("no connection to " + where + " within the timeout");
  int error = 0;
  socklen_t len = sizeof error;
  if (ready < 0 || ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error != 0) return unavailable("cannot connect to " + where + ": " + std::strerror(error));
  return {};
}

Status http_check(const sched::HealthCheckSpec& check, const HealthTarget& target, Clock::time_point deadline) {
  Socket s;
  VEIL_RETURN_IF_ERROR(connect_before(s, target, deadline));
  const std::string request = "GET " + check.path + " HTTP/1.1\r\nHost: " + target.host + ":" + std::to_string(target.port) +
                              "\r\nUser-Agent: veil-health-check\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < request.size()) {
    pollfd p{s.fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return deadline_exceeded("GET " + check.path + ": no answer within the timeout");
    const ssize_t n = ::send(s.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) return unavailable("GET " + check.path + ": " + std::strerror(errno));
    if (n > 0) sent += static_cast<std::size_t>(n);
  }
  // Only the status line matters: "HTTP/1.x NNN ...".
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 512) {
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return deadline_exceeded("GET " + check.path + ": no answer within the timeout");
    char buf[256];
    const ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return unavailable("GET " + check.path + ": " + std::strerror(errno));
    if (n > 0) head.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12 || std::sscanf(head.c_str() + 9, "%3d", &status) != 1) {
    return unavailable("GET " + check.path + ": the answer is not HTTP");
  }
  if (status < 200 || status >= 400) return failed_precondition("GET " + check.path + " answered " + std::to_string(status));
  return {};
}

Status exec_check(const sched::HealthCheckSpec& check, const HealthTarget& target) {
  if (target.driver == nullptr || target.container_id.empty()) return invalid_argument("an exec check needs the replica's container");
  VEIL_ASSIGN_OR_RETURN(int code, target.driver->exec(target.container_id, check.command, check.timeout));
  if (code != 0) return failed_precondition("'" + check.command.front() + "' exited with code " + std::to_string(code));
  return {};
}

}  // namespace

Status run_health_check(const sched::HealthCheckSpec& check, const HealthTarget& target) {
  if (check.kind == sched::HealthCheckSpec::Kind::kExec) return exec_check(check, target);
  if (target.port == 0) return invalid_argument("port " + std::to_string(check.port) + " has no host port on this node");
  const auto deadline = Clock::now() + check.timeout;
  if (check.kind == sched::HealthCheckSpec::Kind::kHttp) return http_check(check, target, deadline);
  Socket s;
  return connect_before(s, target, deadline);
}

// ---- HealthTracker ----------------------------------------------------------------------------

void HealthTracker::restarted(std::int64_t now_ms) {
  verdict_ = Verdict::kStarting;
  started_ms_ = now_ms;
  last_check_ms_ = -1;
  failures_ = 0;
  last_error_.clear();
}

bool HealthTracker::due(std::int64_t now_ms) const {
  return last_check_ms_ < 0 || now_ms - last_check_ms_ >= check_.interval.count();
}

void HealthTracker::record(std::int64_t now_ms, const Status& result) {
  last_check_ms_ = now_ms;
  if (result.ok()) {
    verdict_ = Verdict::kHealthy;
    failures_ = 0;
    last_error_.clear();
    return;
  }
  last_error_ = result.message();
  if (now_ms - started_ms_ < check_.grace.count()) return;  // still starting up: not counted
  if (++failures_ >= check_.failures) verdict_ = Verdict::kUnhealthy;
}

// ---- RestartTracker ---------------------------------------------------------------------------

RestartTracker::Plan RestartTracker::on_failure(std::int64_t now_ms) {
  const std::int64_t window = policy_.interval.count();
  // Restarts older than the window no longer count (kept while a later one may still need them).
  std::erase_if(restarts_ms_, [&](std::int64_t at) { return at + window <= now_ms; });
  Plan plan;
  std::int64_t at = now_ms + policy_.delay.count();
  if (restarts_ms_.size() >= policy_.attempts) {
    if (policy_.mode == sched::RestartPolicy::Mode::kFail || policy_.attempts == 0) {
      plan.give_up = true;
      return plan;
    }
    // Mode delay: once the oldest restart of the window leaves it, another is allowed.
    at = std::max(at, restarts_ms_[restarts_ms_.size() - policy_.attempts] + window);
  }
  restarts_ms_.push_back(at);
  plan.restart_at_ms = at;
  plan.attempt = static_cast<std::uint32_t>(std::count_if(restarts_ms_.begin(), restarts_ms_.end(),
                                                          [&](std::int64_t t) { return t + window > at; }));
  return plan;
}

}  // namespace veil::node
