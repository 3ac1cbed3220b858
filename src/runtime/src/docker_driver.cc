// Docker Engine API driver. Endpoints and fields follow the Engine API reference
// (v1.41 is the version Debian 12's docker.io serves; Podman's compat API accepts it too).
#include "veil/runtime/docker_driver.h"

#include <openssl/evp.h>

#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "pull_tally.h"
#include "unix_http.h"
#include "veil/common/log.h"
#include "veil/runtime/image_ref.h"
#include "veil/runtime/log_frames.h"

namespace veil::runtime {
namespace {

using json = nlohmann::json;
constexpr std::string_view kMinApiVersion = "1.24";

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// "1.41" < "1.9" must compare numerically per component.
int compare_versions(std::string_view a, std::string_view b) {
  auto parse = [](std::string_view v) {
    std::pair<long, long> out{0, 0};
    auto dot = v.find('.');
    out.first = std::atol(std::string(v.substr(0, dot)).c_str());
    if (dot != std::string_view::npos) out.second = std::atol(std::string(v.substr(dot + 1)).c_str());
    return out;
  };
  auto pa = parse(a), pb = parse(b);
  return pa < pb ? -1 : (pa == pb ? 0 : 1);
}

std::string json_string(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t json_int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

std::map<std::string, std::string> json_string_map(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) out[k] = v.get<std::string>();
  }
  return out;
}

// The engine's error message from a JSON body {"message": "..."}, else the raw body.
std::string engine_message(const HttpResponse& response) {
  auto parsed = json::parse(response.body, nullptr, false);
  if (parsed.is_object()) {
    if (auto m = json_string(parsed, "message"); !m.empty()) return m;
  }
  std::string body = response.body.substr(0, 300);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body.empty() ? "HTTP " + std::to_string(response.status) : body;
}

bool contains_any(std::string_view text, std::initializer_list<std::string_view> needles) {
  for (auto n : needles) {
    if (text.find(n) != std::string_view::npos) return true;
  }
  return false;
}

// Classifies a registry/pull failure message into a status the caller can act on.
Status pull_error(std::string_view reference, unsigned http_status, const std::string& message) {
  std::string what = "pull " + std::string(reference) + ": " + message;
  if (contains_any(message, {"unauthorized", "authentication required", "no basic auth credentials", "denied", "forbidden"}) &&
      !contains_any(message, {"does not exist"})) {
    return permission_denied(what + " (registry refused the credentials; pass registry auth)");
  }
  if (contains_any(message, {"connection refused", "no such host", "i/o timeout", "dial tcp",
                             "server gave HTTP response", "network is unreachable", "EOF",
                             "connection reset"})) {
    return unavailable(what + " (registry unreachable: is it running, and is the address right?)");
  }
  if (http_status == 404 || contains_any(message, {"manifest unknown", "not found", "does not exist",
                                                   "repository name not known", "unknown"})) {
    return not_found(what + " (unknown image: check the repository, tag and digest)");
  }
  return unavailable(what);
}

// A generic status for an Engine API error answer about a container.
Status container_error(std::string_view op, std::string_view id, const HttpResponse& r) {
  std::string what = std::string(op) + " " + std::string(id) + ": " + engine_message(r);
  switch (r.status) {
    case 400: return invalid_argument(what);
    case 401:
    case 403: return permission_denied(what);
    case 404: return not_found(what);
    case 409: return r.body.find("already in use") != std::string::npos ? already_exists(what)
                                                                          : failed_precondition(what);
    default: return r.status >= 500 ? unavailable(what) : internal_error(what);
  }
}

std::string base64url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  for (auto& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string filters_query(const LabelSelector& selector, bool containers_only) {
  json filters = json::object();
  if (containers_only) filters["type"] = json::array({"container"});
  if (!selector.empty()) {
    json labels = json::array();
    for (const auto& [k, v] : selector) labels.push_back(k + "=" + v);
    filters["label"] = labels;
  }
  return "filters=" + url_encode(filters.dump());
}

std::vector<PortBinding> parse_port_bindings(const json& bindings) {
  std::vector<PortBinding> out;
  if (!bindings.is_object()) return out;
  for (const auto& [key, list] : bindings.items()) {
    auto slash = key.find('/');
    PortBinding base;
    base.container_port = static_cast<std::uint16_t>(std::atoi(key.substr(0, slash).c_str()));
    if (slash != std::string::npos) base.protocol = key.substr(slash + 1);
    if (!list.is_array()) continue;
    for (const auto& b : list) {
      PortBinding p = base;
      p.host_ip = json_string(b, "HostIp");
      p.host_port = static_cast<std::uint16_t>(std::atoi(json_string(b, "HostPort").c_str()));
      out.push_back(p);
    }
  }
  return out;
}

ContainerInfo info_from_inspect(const json& j) {
  ContainerInfo info;
  info.id = json_string(j, "Id");
  info.name = json_string(j, "Name");
  if (!info.name.empty() && info.name.front() == '/') info.name.erase(0, 1);
  info.image_id = json_string(j, "Image");
  if (auto config = j.find("Config"); config != j.end() && config->is_object()) {
    info.image = json_string(*config, "Image");
    if (auto labels = config->find("Labels"); labels != config->end()) info.labels = json_string_map(*labels);
  }
  if (auto state = j.find("State"); state != j.end() && state->is_object()) {
    info.state = parse_container_state(json_string(*state, "Status"));
    info.exit_code = static_cast<int>(json_int(*state, "ExitCode"));
    info.oom_killed = state->value("OOMKilled", false);
    info.pid = static_cast<int>(json_int(*state, "Pid"));
    info.error = json_string(*state, "Error");
    info.started_at = json_string(*state, "StartedAt");
    info.finished_at = json_string(*state, "FinishedAt");
    if (auto health = state->find("Health"); health != state->end() && health->is_object()) {
      std::string h = json_string(*health, "Status");
      info.health = h == "healthy"     ? HealthStatus::kHealthy
                    : h == "unhealthy" ? HealthStatus::kUnhealthy
                    : h == "starting"  ? HealthStatus::kStarting
                                       : HealthStatus::kNone;
    }
  }
  if (auto host = j.find("HostConfig"); host != j.end() && host->is_object()) {
    info.nano_cpus = json_int(*host, "NanoCpus");
    info.memory_bytes = json_int(*host, "Memory");
    if (auto pb = host->find("PortBindings"); pb != host->end()) info.ports = parse_port_bindings(*pb);
  }
  return info;
}

ContainerInfo info_from_list(const json& j) {
  ContainerInfo info;
  info.id = json_string(j, "Id");
  if (auto names = j.find("Names"); names != j.end() && names->is_array() && !names->empty() &&
                                    names->front().is_string()) {
    info.name = names->front().get<std::string>();
    if (!info.name.empty() && info.name.front() == '/') info.name.erase(0, 1);
  }
  info.image = json_string(j, "Image");
  info.image_id = json_string(j, "ImageID");
  info.state = parse_container_state(json_string(j, "State"));
  if (auto labels = j.find("Labels"); labels != j.end()) info.labels = json_string_map(*labels);
  // "Exited (137) 3 seconds ago": the list carries the exit code only in this text.
  std::string status = json_string(j, "Status");
  if (auto open = status.find("Exited ("); open != std::string::npos) {
    info.exit_code = std::atoi(status.c_str() + open + 8);
  }
  if (auto ports = j.find("Ports"); ports != j.end() && ports->is_array()) {
    for (const auto& p : *ports) {
      if (!p.contains("PublicPort")) continue;
      PortBinding b;
      b.host_ip = json_string(p, "IP");
      b.host_port = static_cast<std::uint16_t>(json_int(p, "PublicPort"));
      b.container_port = static_cast<std::uint16_t>(json_int(p, "PrivatePort"));
      b.protocol = json_string(p, "Type");
      info.ports.push_back(b);
    }
  }
  return info;
}

json create_body(const ContainerSpec& spec) {
  json body = json::object();
  body["Image"] = spec.image;
  if (!spec.command.empty()) body["Cmd"] = spec.command;
  json env = json::array();
  for (const auto& [k, v] : spec.env) env.push_back(k + "=" + v);
  body["Env"] = env;
  body["Labels"] = spec.labels;
  if (!spec.working_dir.empty()) body["WorkingDir"] = spec.working_dir;
  body["AttachStdout"] = false;
  body["AttachStderr"] = false;
  body["Tty"] = false;  // keeps logs multiplexed, so stdout and stderr stay apart
  json host = json::object();
  if (spec.nano_cpus > 0) host["NanoCpus"] = spec.nano_cpus;
  if (spec.memory_bytes > 0) {
    host["Memory"] = spec.memory_bytes;
    host["MemorySwap"] = spec.memory_bytes;  // no swap beyond the limit: exceeding it is an OOM kill
  }
  if (!spec.ports.empty()) {
    json exposed = json::object();
    json bindings = json::object();
    for (const auto& p : spec.ports) {
      std::string key = std::to_string(p.container_port) + "/" + p.protocol;
      exposed[key] = json::object();
      if (!bindings.contains(key)) bindings[key] = json::array();
      bindings[key].push_back({{"HostIp", p.host_ip}, {"HostPort", std::to_string(p.host_port)}});
    }
    body["ExposedPorts"] = exposed;
    host["PortBindings"] = bindings;
  }
  if (!spec.mounts.empty()) {
    json mounts = json::array();
    for (const auto& m : spec.mounts) {
      mounts.push_back({{"Type", "bind"}, {"Source", m.host_path}, {"Target", m.container_path}, {"ReadOnly", m.read_only}});
    }
    host["Mounts"] = mounts;
  }
  body["HostConfig"] = host;
  if (spec.health) {
    json test = json::array({"CMD"});
    for (const auto& arg : spec.health->command) test.push_back(arg);
    body["Healthcheck"] = {
        {"Test", test},
        {"Interval", static_cast<std::int64_t>(spec.health->interval.count()) * 1000000},
        {"Timeout", static_cast<std::int64_t>(spec.health->timeout.count()) * 1000000},
        {"Retries", spec.health->retries}};
  }
  return body;
}

Status validate_id(const std::string& id) {
  if (id.empty() || id.size() > 256) return invalid_argument("container id or name is empty or too long");
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      return invalid_argument("bad container id or name '" + id + "'");
    }
  }
  return {};
}

class DockerSubscription final : public EventSubscription {
 public:
  ~DockerSubscription() override {
    cancel_.cancel();
    if (thread_.joinable()) thread_.join();
  }
  Status status() const override {
    std::lock_guard lock(mu_);
    return status_;
  }

  StreamCancel cancel_;
  std::thread thread_;
  mutable std::mutex mu_;
  Status status_;
};

class DockerDriver final : public Driver {
 public:
  DockerDriver(std::string socket, std::string api_version, std::string engine_version,
               std::chrono::milliseconds timeout)
      : client_(std::move(socket)),
        prefix_("/v" + api_version),
        api_version_(std::move(api_version)),
        engine_version_(std::move(engine_version)),
        timeout_(timeout) {}

  std::string name() const override { return "docker"; }
  std::string describe() const override {
    return "docker: engine " + engine_version_ + " on " + client_.socket_path() + ", API v" + api_version_;
  }

  Result<PulledImage> pull(const PullRequest& request) override {
    VEIL_ASSIGN_OR_RETURN(auto ref, parse_image_reference(request.reference));
    if (!request.expected_digest.empty() && !is_valid_digest(request.expected_digest)) {
      return invalid_argument("expected digest '" + request.expected_digest + "' is not sha256:<64 hex>");
    }
    if (!ref.digest.empty() && !request.expected_digest.empty() && ref.digest != request.expected_digest) {
      return data_loss("digest mismatch: reference " + request.reference + " names " + ref.digest +
                       " but " + request.expected_digest + " is expected");
    }
    std::string target = prefix_ + "/images/create?fromImage=" + url_encode(ref.repository);
    std::string pulled_ref = ref.repository;
    if (!ref.digest.empty()) {
      target += "&tag=" + url_encode(ref.digest);
      pulled_ref += "@" + ref.digest;
    } else {
      std::string tag = ref.tag.empty() ? "latest" : ref.tag;
      target += "&tag=" + url_encode(tag);
      pulled_ref += ":" + tag;
    }
    HttpRequest req{.method = "POST", .target = target};
    if (request.auth) req.headers["X-Registry-Auth"] = registry_auth_header(*request.auth);
    // The answer is a stream of JSON progress lines; a failure may arrive as an "error"
    // line inside a 200 answer, so every line is checked.
    std::string pending, stream_error;
    PullTally tally;
    auto on_data = [&](std::string_view piece) {
      pending.append(piece);
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
        auto line = json::parse(pending.substr(0, nl), nullptr, false);
        pending.erase(0, nl + 1);
        if (line.is_object() && line.contains("error")) {
          stream_error = line["error"].is_string() ? line["error"].get<std::string>() : line["error"].dump();
        }
        if (tally.add(line) && request.on_progress) request.on_progress(tally.progress());
      }
      return true;
    };
    VEIL_ASSIGN_OR_RETURN(auto response, client_.stream(req, on_data));
    if (response.status >= 300) return pull_error(request.reference, response.status, engine_message(response));
    if (!pending.empty()) on_data("\n");
    if (!stream_error.empty()) return pull_error(request.reference, response.status, stream_error);

    VEIL_ASSIGN_OR_RETURN(auto image, get_json("/images/" + url_encode(pulled_ref) + "/json", "inspect image"));
    PulledImage out{.reference = pulled_ref, .image_id = json_string(image, "Id")};
    std::vector<std::string> seen;
    if (auto digests = image.find("RepoDigests"); digests != image.end() && digests->is_array()) {
      for (const auto& d : *digests) {
        if (!d.is_string()) continue;
        std::string repo_digest = d.get<std::string>();
        auto at = repo_digest.find('@');
        if (at == std::string::npos || repo_digest.substr(0, at) != ref.repository) continue;
        seen.push_back(repo_digest.substr(at + 1));
      }
    }
    std::string want = !request.expected_digest.empty() ? request.expected_digest : ref.digest;
    if (!want.empty()) {
      if (std::find(seen.begin(), seen.end(), want) == seen.end()) {
        // Untag what we pulled so nothing runs an image that failed verification.
        (void)client_.request({.method = "DELETE", .target = prefix_ + "/images/" + url_encode(pulled_ref),
                               .timeout = timeout_});
        std::string got = seen.empty() ? "no digest" : seen.front();
        return data_loss("digest mismatch for " + request.reference + ": registry served " + got +
                         ", expected " + want + "; the image was removed");
      }
      out.digest = want;
    } else if (!seen.empty()) {
      out.digest = seen.front();
    }
    return out;
  }

  Result<std::string> create(const ContainerSpec& spec) override {
    if (spec.image.empty()) return invalid_argument("container spec has no image");
    std::string target = prefix_ + "/containers/create";
    if (!spec.name.empty()) {
      VEIL_RETURN_IF_ERROR(validate_id(spec.name));
      target += "?name=" + url_encode(spec.name);
    }
    VEIL_ASSIGN_OR_RETURN(auto r, client_.request({.method = "POST", .target = target,
                                                   .body = create_body(spec).dump(), .timeout = timeout_}));
    if (r.status == 404) {
      return not_found("create " + spec.name + ": unknown image " + spec.image + " (pull it first): " +
                       engine_message(r));
    }
    if (r.status >= 300) return container_error("create", spec.name.empty() ? spec.image : spec.name, r);
    auto body = json::parse(r.body, nullptr, false);
    std::string id = body.is_object() ? json_string(body, "Id") : "";
    if (id.empty()) return internal_error("create: engine answered without an Id: " + r.body.substr(0, 200));
    return id;
  }

  Status start(const std::string& id) override {
    return simple_post("start", id, "/containers/" + id + "/start", timeout_);
  }

  Status stop(const std::string& id, std::chrono::seconds grace) override {
    return simple_post("stop", id, "/containers/" + id + "/stop?t=" + std::to_string(grace.count()),
                       timeout_ + grace);
  }

  Status kill(const std::string& id, int signal) override {
    return simple_post("kill", id, "/containers/" + id + "/kill?signal=" + std::to_string(signal), timeout_);
  }

  Status remove(const std::string& id, bool force) override {
    VEIL_RETURN_IF_ERROR(validate_id(id));
    VEIL_ASSIGN_OR_RETURN(auto r, client_.request({.method = "DELETE",
                                                   .target = prefix_ + "/containers/" + id + "?v=1" +
                                                             (force ? "&force=1" : ""),
                                                   .timeout = timeout_}));
    if (r.status >= 300) return container_error("remove", id, r);
    return {};
  }

  Result<ContainerInfo> inspect(const std::string& id) override {
    VEIL_RETURN_IF_ERROR(validate_id(id));
    VEIL_ASSIGN_OR_RETURN(auto j, get_json("/containers/" + id + "/json", "inspect"));
    return info_from_inspect(j);
  }

  Result<std::vector<ContainerInfo>> list(const LabelSelector& selector, bool all) override {
    std::string target = "/containers/json?" + filters_query(selector, false);
    if (all) target += "&all=1";
    VEIL_ASSIGN_OR_RETURN(auto j, get_json(target, "list containers"));
    std::vector<ContainerInfo> out;
    if (!j.is_array()) return internal_error("list containers: engine answered a non-array");
    for (const auto& c : j) out.push_back(info_from_list(c));
    return out;
  }

  Status logs(const std::string& id, const LogOptions& options, const LogSink& sink) override {
    VEIL_RETURN_IF_ERROR(validate_id(id));
    std::string target = prefix_ + "/containers/" + id + "/logs?stdout=" + (options.stdout_stream ? "1" : "0") +
                         "&stderr=" + (options.stderr_stream ? "1" : "0") + (options.follow ? "&follow=1" : "");
    if (options.tail >= 0) target += "&tail=" + std::to_string(options.tail);
    LogFrameDemuxer demuxer;
    Status frame_status;
    bool stopped = false;
    auto on_data = [&](std::string_view piece) {
      frame_status = demuxer.feed(piece, sink);
      if (frame_status.code() == StatusCode::kCancelled) stopped = true;
      return frame_status.ok();
    };
    HttpRequest req{.method = "GET", .target = target};
    if (!options.follow) req.timeout = timeout_;
    VEIL_ASSIGN_OR_RETURN(auto r, client_.stream(req, on_data));
    if (r.status >= 300) return container_error("logs", id, r);
    if (stopped) return {};
    VEIL_RETURN_IF_ERROR(frame_status);
    if (!demuxer.at_boundary()) return data_loss("logs " + id + ": stream ended inside a frame");
    return {};
  }

  Result<ExitStatus> wait(const std::string& id, std::optional<std::chrono::milliseconds> timeout) override {
    VEIL_RETURN_IF_ERROR(validate_id(id));
    HttpRequest req{.method = "POST", .target = prefix_ + "/containers/" + id + "/wait?condition=not-running",
                    .timeout = timeout};
    auto r = client_.request(req);
    if (!r.ok()) {
      if (r.status().code() == StatusCode::kDeadlineExceeded) {
        return deadline_exceeded("container " + id + " still running after " +
                                 std::to_string(timeout ? timeout->count() : 0) + " ms");
      }
      return r.status();
    }
    if (r->status >= 300) return container_error("wait", id, *r);
    auto body = json::parse(r->body, nullptr, false);
    ExitStatus out;
    out.exit_code = body.is_object() ? static_cast<int>(json_int(body, "StatusCode")) : -1;
    // The wait answer does not say why; inspect does.
    if (auto info = inspect(id); info.ok()) out.oom_killed = info->oom_killed;
    return out;
  }

  // Detached exec, then its state polled: no hijacked stream to demultiplex, and the exit code
  // comes from the exec's inspect answer either way.
  Result<int> exec(const std::string& id, const std::vector<std::string>& command,
                   std::chrono::milliseconds timeout) override {
    VEIL_RETURN_IF_ERROR(validate_id(id));
    if (command.empty()) return invalid_argument("exec in " + id + ": the command is empty");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    json body = {{"Cmd", command}, {"AttachStdin", false}, {"AttachStdout", false}, {"AttachStderr", false}};
    VEIL_ASSIGN_OR_RETURN(auto created, client_.request({.method = "POST", .target = prefix_ + "/containers/" + id + "/exec",
                                                         .body = body.dump(), .timeout = timeout_}));
    if (created.status == 409) return failed_precondition("exec in " + id + ": the container is not running");
    if (created.status >= 300) return container_error("exec", id, created);
    auto answer = json::parse(created.body, nullptr, false);
    const std::string exec_id = answer.is_object() ? json_string(answer, "Id") : "";
    if (exec_id.empty()) return internal_error("exec: engine answered without an Id: " + created.body.substr(0, 200));
    VEIL_ASSIGN_OR_RETURN(auto started, client_.request({.method = "POST", .target = prefix_ + "/exec/" + exec_id + "/start",
                                                         .body = json{{"Detach", true}, {"Tty", false}}.dump(),
                                                         .timeout = timeout_}));
    if (started.status == 409) return failed_precondition("exec in " + id + ": the container is not running");
    if (started.status >= 300) return container_error("exec start", id, started);
    for (;;) {
      VEIL_ASSIGN_OR_RETURN(auto state, get_json("/exec/" + exec_id + "/json", "inspect exec"));
      if (!state.value("Running", false) && state.contains("ExitCode") && state["ExitCode"].is_number_integer()) {
        return static_cast<int>(json_int(state, "ExitCode"));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        return deadline_exceeded("exec in " + id + ": '" + command.front() + "' still runs after " +
                                 std::to_string(timeout.count()) + " ms");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  Result<std::unique_ptr<EventSubscription>> subscribe(const LabelSelector& selector,
                                                       EventCallback callback) override {
    auto sub = std::make_unique<DockerSubscription>();
    // `since` makes the engine replay what happened between now and the moment it
    // registers us, so no event after this call returns is missed even if the engine
    // sends its headers only with the first event.
    auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
    std::string since = std::to_string(now_ns / 1000000000) + "." + std::to_string(1000000000 + now_ns % 1000000000).substr(1);
    HttpRequest req{.method = "GET",
                    .target = prefix_ + "/events?since=" + since + "&" + filters_query(selector, true)};
    // Wait until the engine accepted the subscription, so no event after return is missed.
    // The handshake is shared: the thread outlives this frame.
    struct Handshake {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<Status> ready;
      void set(Status s) {
        std::lock_guard lock(mu);
        if (!ready) ready = std::move(s);
        cv.notify_all();
      }
    };
    auto handshake = std::make_shared<Handshake>();
    auto* raw = sub.get();
    raw->thread_ = std::thread([this, req, callback = std::move(callback), raw, handshake] {
      std::string pending;
      auto on_data = [&](std::string_view piece) {
        pending.append(piece);
        for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n')) {
          auto line = json::parse(pending.substr(0, nl), nullptr, false);
          pending.erase(0, nl + 1);
          if (!line.is_object()) continue;
          Event e;
          e.action = json_string(line, "Action");
          e.time_nanos = json_int(line, "timeNano");
          if (auto actor = line.find("Actor"); actor != line.end() && actor->is_object()) {
            e.container_id = json_string(*actor, "ID");
            if (auto attrs = actor->find("Attributes"); attrs != actor->end()) e.attributes = json_string_map(*attrs);
          }
          if (auto n = e.attributes.find("name"); n != e.attributes.end()) e.name = n->second;
          callback(e);
        }
        return true;
      };
      auto on_head = [&](const HttpResponse& head) {
        handshake->set(head.status < 300 ? Status() : unavailable("events: HTTP " + std::to_string(head.status)));
      };
      auto r = client_.stream(req, on_data, &raw->cancel_, on_head);
      Status final = r.ok() ? (r->status < 300 ? Status() : container_error("events", "", *r)) : r.status();
      if (final.ok() && !raw->cancel_.cancelled()) final = unavailable("engine closed the event stream");
      {
        std::lock_guard lock(raw->mu_);
        raw->status_ = final;
      }
      handshake->set(final.ok() ? unavailable("event stream ended") : final);
    });
    Status st;
    {
      std::unique_lock lock(handshake->mu);
      // A refusal (bad filter, old engine) comes at once; silence means it is streaming.
      if (handshake->cv.wait_for(lock, std::chrono::seconds(2), [&] { return handshake->ready.has_value(); })) {
        st = *handshake->ready;
      }
    }
    if (!st.ok()) return st;  // sub's destructor joins the thread
    return std::unique_ptr<EventSubscription>(std::move(sub));
  }

  Result<json> get_json(const std::string& path, std::string_view op) {
    VEIL_ASSIGN_OR_RETURN(auto r, client_.request({.method = "GET", .target = prefix_ + path, .timeout = timeout_}));
    if (r.status >= 300) return container_error(op, path, r);
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) return data_loss(std::string(op) + ": engine answered malformed JSON");
    return j;
  }

 private:
  Status simple_post(std::string_view op, const std::string& id, const std::string& path,
                     std::chrono::milliseconds timeout) {
    VEIL_RETURN_IF_ERROR(validate_id(id));
    VEIL_ASSIGN_OR_RETURN(auto r, client_.request({.method = "POST", .target = prefix_ + path, .timeout = timeout}));
    if (r.status == 304) return {};  // already started / already stopped
    if (r.status >= 300) return container_error(op, id, r);
    return {};
  }

  UnixHttpClient client_;
  std::string prefix_;
  std::string api_version_;
  std::string engine_version_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::string registry_auth_header(const RegistryAuth& auth) {
  json j = json::object();
  if (!auth.identity_token.empty()) {
    j["identitytoken"] = auth.identity_token;
  } else {
    j["username"] = auth.username;
    j["password"] = auth.password;
  }
  if (!auth.server_address.empty()) j["serveraddress"] = auth.server_address;
  return base64url(j.dump());
}

Result<std::unique_ptr<Driver>> open_docker_driver(const DockerDriverOptions& options) {
  std::string socket = options.socket_path;
  if (socket.empty()) {
    const char* env = std::getenv("VEIL_DOCKER_SOCKET");
    socket = env && *env ? env : "/var/run/docker.sock";
  }
  if (socket.rfind("unix://", 0) == 0) socket.erase(0, 7);
  UnixHttpClient client(socket);
  // /_ping names the engine's API version in a header; unversioned, so any engine answers.
  VEIL_ASSIGN_OR_RETURN(auto ping, client.request({.method = "GET", .target = "/_ping", .timeout = options.call_timeout}));
  auto header = ping.headers.find("api-version");
  if (ping.status != 200 || header == ping.headers.end()) {
    return unavailable("engine socket " + socket + " answered /_ping with HTTP " + std::to_string(ping.status) +
                       " and no API-Version; is it a Docker/Podman Engine API socket?");
  }
  std::string engine_api = header->second;
  if (compare_versions(engine_api, kMinApiVersion) < 0) {
    return failed_precondition("engine API " + engine_api + " is older than " + std::string(kMinApiVersion) +
                               "; upgrade Docker");
  }
  std::string api = compare_versions(engine_api, options.max_api_version) < 0 ? engine_api : options.max_api_version;
  std::string engine_version = "unknown";
  if (auto v = client.request({.method = "GET", .target = "/v" + api + "/version", .timeout = options.call_timeout});
      v.ok() && v->status == 200) {
    auto j = json::parse(v->body, nullptr, false);
    if (j.is_object()) engine_version = json_string(j, "Version");
  }
  log::get("runtime")->debug("docker engine {} on {}, API v{}", engine_version, socket, api);
  return std::unique_ptr<Driver>(std::make_unique<DockerDriver>(socket, api, engine_version, options.call_timeout));
}

}  // namespace veil::runtime
