#include "veil/sched/job_spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include <regex.h>
#include <yaml-cpp/yaml.h>

#include "veil/common/printable.h"
#include "veil/common/quantity.h"
#include "veil/common/read_file.h"
#include "veil/common/text_location.h"

namespace veil::sched {
namespace {

constexpr std::string_view kTopLevelKeys[] = {"name", "image", "replicas", "resources", "policy", "priority",
                                              "command", "env", "ports", "labels", "type", "health",
                                              "restart", "reschedule", "constraints", "spread_over", "volumes",
                                              "placement", "secrets", "update"};

bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  return std::all_of(s.begin(), s.end(), ok) && s.front() != '-' && s.back() != '-';
}

bool is_container_path(std::string_view p) {
  if (p.size() < 2 || p.size() > 1024 || p.front() != '/') return false;
  if (p.find("/../") != std::string_view::npos || p.ends_with("/..") || p.find(':') != std::string_view::npos ||
      p.find(',') != std::string_view::npos) {
    return false;
  }
  return std::all_of(p.begin(), p.end(), [](char c) { return static_cast<unsigned char>(c) >= ' ' && c != 127; });
}

bool is_env_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front()))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// Walks one YAML document, turning every problem into "file:line:col: field: message".
class SpecReader {
 public:
  SpecReader(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Status error(const YAML::Node& at, std::string_view field, std::string_view message) const {
    const YAML::Mark mark = at.Mark();
    std::string text = field.empty() ? std::string(message) : std::string(field) + ": " + std::string(message);
    return invalid_argument(describe_text_location(source_, text_, mark.line, mark.column, text));
  }

  Result<std::string> scalar(const YAML::Node& node, std::string_view field) const {
    if (!node.IsScalar()) return error(node, field, "expected a single value");
    VEIL_RETURN_IF_ERROR(charge(node, field, node.Scalar().size()));
    return node.Scalar();
  }

  // Every value copied out of the YAML tree is counted here. Without aliases the values never
  // add up to more than the text; with them (`&big` once, `*big` thousands of times) a 1 MiB
  // spec would otherwise expand into gigabytes of commands and environment.
  Status charge(const YAML::Node& at, std::string_view field, std::size_t bytes) const {
    expanded_bytes_ += bytes;
    if (expanded_bytes_ <= kJobSpecFile.max_bytes) return {};
    return error(at, field, "the spec's values add up to more than " + format_byte_size(kJobSpecFile.max_bytes) +
                                " (a YAML alias repeating a large value?)");
  }

  Result<std::int64_t> integer(const YAML::Node& node, std::string_view field, std::int64_t min,
                               std::int64_t max) const {
    VEIL_ASSIGN_OR_RETURN(std::string text, scalar(node, field));
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return error(node, field, "'" + text + "' is not an integer");
    }
    if (value < min || value > max) {
      return error(node, field, std::to_string(value) + " is out of range [" + std::to_string(min) + ", " +
                                    std::to_string(max) + "]");
    }
    return value;
  }

  // A resource quantity (quantity.h: "500m", "0.5", "128Mi", "2G"), located at the node on error.
  Result<std::uint32_t> quantity(const YAML::Node& node, std::string_view field, const QuantitySyntax& syntax) const {
    VEIL_ASSIGN_OR_RETURN(std::string text, scalar(node, field));
    auto value = parse_quantity(text, syntax);
    if (!value.ok()) return error(node, field, value.status().message());
    return static_cast<std::uint32_t>(*value);  // every syntax used here has a max below 2^32
  }

  Status check_keys(const YAML::Node& map, std::string_view field, std::initializer_list<std::string_view> allowed) const {
    for (const auto& item : map) {
      const std::string key = item.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        return error(item.first, field, "unknown key '" + key + "' (expected one of: " + list + ")");
      }
    }
    return {};
  }

  Result<JobSpec> read(const YAML::Node& root) const {
    if (!root.IsMap()) return error(root, "", "a job spec must be a mapping (name: ..., image: ...)");
    for (const auto& item : root) {
      const std::string key = item.first.Scalar();
      if (std::find(std::begin(kTopLevelKeys), std::end(kTopLevelKeys), key) == std::end(kTopLevelKeys)) {
        return error(item.first, key, "unknown field");
      }
    }
    JobSpec spec;
    if (!root["name"]) return error(root, "name", "is required");
    VEIL_ASSIGN_OR_RETURN(spec.name, scalar(root["name"], "name"));
    if (!is_dns_label(spec.name)) {
      return error(root["name"], "name", "'" + spec.name + "' must be lower-case letters, digits and '-', at most 63 characters");
    }
    if (!root["image"]) return error(root, "image", "is required");
    VEIL_ASSIGN_OR_RETURN(std::string image, scalar(root["image"], "image"));
    auto ref = parse_image_ref(image);
    if (!ref.ok()) return error(root["image"], "image", ref.status().message());
    spec.image = *ref;
    if (root["replicas"]) {
      VEIL_ASSIGN_OR_RETURN(auto replicas, integer(root["replicas"], "replicas", 1, kMaxReplicas));
      spec.replicas = static_cast<std::uint32_t>(replicas);
    }
    if (root["priority"]) {
      VEIL_ASSIGN_OR_RETURN(auto priority, integer(root["priority"], "priority", 0, 100));
      spec.priority = static_cast<std::int32_t>(priority);
    }
    VEIL_RETURN_IF_ERROR(read_resources(root, spec));
    VEIL_RETURN_IF_ERROR(read_policy(root, spec));
    VEIL_RETURN_IF_ERROR(read_command(root, spec));
    VEIL_RETURN_IF_ERROR(read_string_map(root, "env", spec.env, /*env_names=*/true));
    VEIL_RETURN_IF_ERROR(read_string_map(root, "labels", spec.labels, /*env_names=*/false));
    VEIL_RETURN_IF_ERROR(read_ports(root, spec));
    VEIL_RETURN_IF_ERROR(read_type(root, spec));
    VEIL_RETURN_IF_ERROR(read_health(root, spec));
    VEIL_RETURN_IF_ERROR(read_restart(root, spec));
    VEIL_RETURN_IF_ERROR(read_reschedule(root, spec));
    VEIL_RETURN_IF_ERROR(read_update(root, spec));
    VEIL_RETURN_IF_ERROR(read_constraints(root, spec));
    if (const YAML::Node spread = root["spread_over"]) {
      VEIL_ASSIGN_OR_RETURN(spec.spread_over, scalar(spread, "spread_over"));
      if (!is_label_name(spec.spread_over)) return error(spread, "spread_over", "must be a label name of 1..63 characters");
    }
    VEIL_RETURN_IF_ERROR(read_volumes(root, spec));
    VEIL_RETURN_IF_ERROR(read_secrets(root, spec));
    if (const YAML::Node placement = root["placement"]) {
      if (!placement.IsMap()) return error(placement, "placement", "expected {candidates: N|all|auto}");
      VEIL_RETURN_IF_ERROR(check_keys(placement, "placement", {"candidates"}));
      if (placement["candidates"]) {
        VEIL_ASSIGN_OR_RETURN(std::string text, scalar(placement["candidates"], "placement.candidates"));
        auto count = parse_candidate_count(text);
        if (!count.ok()) return error(placement["candidates"], "placement.candidates", count.status().message());
        spec.candidates = *count;
      }
    }
    return spec;
  }

 private:
  Status read_resources(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["resources"];
    if (!node) return error(root, "resources", "is required (cpu, memory; disk and gpus optional)");
    if (!node.IsMap()) return error(node, "resources", "expected a mapping");
    VEIL_RETURN_IF_ERROR(check_keys(node, "resources", {"cpu", "memory", "disk", "gpus"}));
    if (!node["cpu"]) return error(node, "resources.cpu", "is required (e.g. 500m)");
    if (!node["memory"]) return error(node, "resources.memory", "is required (e.g. 128Mi)");
    VEIL_ASSIGN_OR_RETURN(spec.resources.cpu_millicores, quantity(node["cpu"], "resources.cpu", kCpuMillicores));
    VEIL_ASSIGN_OR_RETURN(spec.resources.memory_mib, quantity(node["memory"], "resources.memory", kSizeMib));
    if (node["disk"]) {
      VEIL_ASSIGN_OR_RETURN(spec.resources.disk_mib, quantity(node["disk"], "resources.disk", kSizeMib));
    }
    if (node["gpus"]) {
      VEIL_ASSIGN_OR_RETURN(spec.resources.gpus, quantity(node["gpus"], "resources.gpus", kGpuCount));
    }
    if (spec.resources.cpu_millicores == 0 && spec.resources.memory_mib == 0) {
      return error(node, "resources", "cpu and memory cannot both be zero");
    }
    return {};
  }

  Status read_policy(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["policy"];
    if (!node) return {};  // spread with default weights
    if (node.IsScalar()) {
      auto kind = parse_policy_name(node.Scalar());
      if (!kind.ok()) return error(node, "policy", kind.status().message());
      spec.policy.kind = *kind;
      return {};
    }
    if (!node.IsMap()) return error(node, "policy", "expected a policy name or {name: ..., weights: ...}");
    VEIL_RETURN_IF_ERROR(check_keys(node, "policy", {"name", "weights"}));
    if (node["name"]) {
      VEIL_ASSIGN_OR_RETURN(std::string name, scalar(node["name"], "policy.name"));
      auto kind = parse_policy_name(name);
      if (!kind.ok()) return error(node["name"], "policy.name", kind.status().message());
      spec.policy.kind = *kind;
    }
    if (const YAML::Node weights = node["weights"]) {
      if (!weights.IsMap()) return error(weights, "policy.weights", "expected a mapping");
      VEIL_RETURN_IF_ERROR(check_keys(weights, "policy.weights", {"cpu", "memory", "disk", "gpu", "latency"}));
      auto weight = [&](const char* key, std::uint32_t& out) -> Status {
        if (!weights[key]) return {};
        VEIL_ASSIGN_OR_RETURN(auto w, integer(weights[key], std::string("policy.weights.") + key, 0, kMaxWeight));
        out = static_cast<std::uint32_t>(w);
        return {};
      };
      PolicyWeights& w = spec.policy.weights;
      VEIL_RETURN_IF_ERROR(weight("cpu", w.cpu));
      VEIL_RETURN_IF_ERROR(weight("memory", w.memory));
      VEIL_RETURN_IF_ERROR(weight("disk", w.disk));
      VEIL_RETURN_IF_ERROR(weight("gpu", w.gpu));
      VEIL_RETURN_IF_ERROR(weight("latency", w.latency));
      const bool scores_resources = spec.policy.kind == PolicyKind::kSpread || spec.policy.kind == PolicyKind::kBinpack;
      if (scores_resources && w.cpu + w.memory + w.disk + w.gpu == 0) {
        return error(weights, "policy.weights", "at least one resource weight must be non-zero");
      }
    }
    return {};
  }

  Status read_command(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["command"];
    if (!node) return {};
    if (node.IsScalar()) {
      spec.command = {node.Scalar()};
      return {};
    }
    if (!node.IsSequence()) return error(node, "command", "expected a list of arguments");
    for (const auto& arg : node) {
      VEIL_ASSIGN_OR_RETURN(std::string a, scalar(arg, "command"));
      spec.command.push_back(std::move(a));
    }
    return {};
  }

  Status read_string_map(const YAML::Node& root, const char* field, std::map<std::string, std::string>& out,
                         bool env_names) const {
    const YAML::Node node = root[field];
    if (!node) return {};
    if (!node.IsMap()) return error(node, field, "expected a mapping of names to values");
    for (const auto& item : node) {
      const std::string key = item.first.Scalar();
      VEIL_RETURN_IF_ERROR(charge(item.first, field, key.size()));
      if (env_names && !is_env_name(key)) {
        return error(item.first, field, "'" + key + "' is not a valid environment variable name");
      }
      if (!env_names && (key.empty() || key.size() > 63)) return error(item.first, field, "label names must be 1-63 characters");
      VEIL_ASSIGN_OR_RETURN(std::string value, scalar(item.second, std::string(field) + "." + key));
      out[key] = std::move(value);
    }
    return {};
  }

  Status read_ports(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["ports"];
    if (!node) return {};
    if (!node.IsSequence()) return error(node, "ports", "expected a list of {container, host, protocol}");
    std::set<std::pair<std::uint16_t, std::string>> seen_host_ports;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node port = node[i];
      const std::string field = "ports[" + std::to_string(i) + "]";
      if (!port.IsMap()) return error(port, field, "expected {container: PORT, host: PORT, protocol: tcp|udp}");
      VEIL_RETURN_IF_ERROR(charge(port, field, kChargePerPort));
      VEIL_RETURN_IF_ERROR(check_keys(port, field, {"container", "host", "protocol"}));
      PortMapping mapping;
      if (!port["container"]) return error(port, field + ".container", "is required");
      VEIL_ASSIGN_OR_RETURN(auto container, integer(port["container"], field + ".container", 1, 65535));
      mapping.container_port = static_cast<std::uint16_t>(container);
      if (port["host"]) {
        VEIL_ASSIGN_OR_RETURN(auto host, integer(port["host"], field + ".host", 0, 65535));
        mapping.host_port = static_cast<std::uint16_t>(host);
      }
      if (port["protocol"]) {
        VEIL_ASSIGN_OR_RETURN(mapping.protocol, scalar(port["protocol"], field + ".protocol"));
        if (mapping.protocol != "tcp" && mapping.protocol != "udp") {
          return error(port["protocol"], field + ".protocol", "must be tcp or udp");
        }
      }
      if (mapping.host_port != 0 && !seen_host_ports.insert({mapping.host_port, mapping.protocol}).second) {
        return error(port, field + ".host", "host port " + std::to_string(mapping.host_port) + " is used twice");
      }
      spec.ports.push_back(mapping);
    }
    return {};
  }

  // A duration ("10s", "2m"), at least `min`.
  Result<std::chrono::milliseconds> duration(const YAML::Node& node, std::string_view field,
                                             std::chrono::milliseconds min = std::chrono::milliseconds(0)) const {
    VEIL_ASSIGN_OR_RETURN(std::string text, scalar(node, field));
    auto d = parse_duration(text);
    if (!d.ok()) return error(node, field, d.status().message());
    if (*d < min) return error(node, field, "must be at least " + format_duration(min));
    return *d;
  }

  Status read_type(const YAML::Node& root, JobSpec& spec) const {
    if (const YAML::Node node = root["type"]) {
      VEIL_ASSIGN_OR_RETURN(std::string type, scalar(node, "type"));
      if (type == "service") spec.type = JobType::kService;
      else if (type == "batch") spec.type = JobType::kBatch;
      else return error(node, "type", "'" + type + "' is not a job type (use service or batch)");
    }
    spec.restart = default_restart(spec.type);
    spec.reschedule = default_reschedule(spec.type);
    return {};
  }

  Status read_health(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["health"];
    if (!node) return {};
    if (!node.IsMap()) return error(node, "health", "expected {http: {path, port}} | {tcp: {port}} | {exec: [cmd...]}");
    VEIL_RETURN_IF_ERROR(check_keys(node, "health", {"http", "tcp", "exec", "interval", "timeout", "grace", "failures"}));
    HealthCheckSpec check;
    int kinds = 0;
    for (const char* kind : {"http", "tcp", "exec"}) kinds += node[kind] ? 1 : 0;
    if (kinds != 1) return error(node, "health", "needs exactly one of http, tcp or exec");
    if (const YAML::Node http = node["http"]) {
      check.kind = HealthCheckSpec::Kind::kHttp;
      if (!http.IsMap()) return error(http, "health.http", "expected {path: /healthz, port: PORT}");
      VEIL_RETURN_IF_ERROR(check_keys(http, "health.http", {"path", "port"}));
      if (http["path"]) {
        VEIL_ASSIGN_OR_RETURN(check.path, scalar(http["path"], "health.http.path"));
        const bool printable_path = std::all_of(check.path.begin(), check.path.end(), [](char c) { return c > ' ' && c < 127; });
        if (!check.path.starts_with("/") || !printable_path) {
          return error(http["path"], "health.http.path", "must start with '/' and hold no spaces or control characters");
        }
      }
      VEIL_RETURN_IF_ERROR(health_port(http, "health.http", spec, check));
    } else if (const YAML::Node tcp = node["tcp"]) {
      check.kind = HealthCheckSpec::Kind::kTcp;
      if (!tcp.IsMap()) return error(tcp, "health.tcp", "expected {port: PORT}");
      VEIL_RETURN_IF_ERROR(check_keys(tcp, "health.tcp", {"port"}));
      VEIL_RETURN_IF_ERROR(health_port(tcp, "health.tcp", spec, check));
    } else {
      const YAML::Node exec = node["exec"];
      check.kind = HealthCheckSpec::Kind::kExec;
      if (!exec.IsSequence() || exec.size() == 0) return error(exec, "health.exec", "expected a non-empty list of arguments");
      for (const auto& arg : exec) {
        VEIL_ASSIGN_OR_RETURN(std::string a, scalar(arg, "health.exec"));
        check.command.push_back(std::move(a));
      }
    }
    using std::chrono::milliseconds;
    if (node["interval"]) {
      VEIL_ASSIGN_OR_RETURN(check.interval, duration(node["interval"], "health.interval", milliseconds(100)));
    }
    if (node["timeout"]) {
      VEIL_ASSIGN_OR_RETURN(check.timeout, duration(node["timeout"], "health.timeout", milliseconds(10)));
    }
    if (node["grace"]) {
      VEIL_ASSIGN_OR_RETURN(check.grace, duration(node["grace"], "health.grace"));
    }
    if (node["failures"]) {
      VEIL_ASSIGN_OR_RETURN(auto failures, integer(node["failures"], "health.failures", 1, 100));
      check.failures = static_cast<std::uint32_t>(failures);
    }
    spec.health = std::move(check);
    return {};
  }

  // A check's port must be one the replica publishes over TCP: the node checks it through its host port.
  Status health_port(const YAML::Node& node, const std::string& field, const JobSpec& spec, HealthCheckSpec& check) const {
    if (!node["port"]) return error(node, field + ".port", "is required (a container port listed in ports)");
    VEIL_ASSIGN_OR_RETURN(auto port, integer(node["port"], field + ".port", 1, 65535));
    const bool exposed = std::any_of(spec.ports.begin(), spec.ports.end(), [&](const PortMapping& p) {
      return p.container_port == port && p.protocol == "tcp";
    });
    if (!exposed) {
      return error(node["port"], field + ".port",
                   "port " + std::to_string(port) + " is not exposed; add {container: " + std::to_string(port) + "} to ports");
    }
    check.port = static_cast<std::uint16_t>(port);
    return {};
  }

  Status read_restart(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["restart"];
    if (!node) return {};
    if (!node.IsMap()) return error(node, "restart", "expected {attempts, interval, delay, mode}");
    VEIL_RETURN_IF_ERROR(check_keys(node, "restart", {"attempts", "interval", "delay", "mode"}));
    RestartPolicy& r = spec.restart;
    if (node["attempts"]) {
      VEIL_ASSIGN_OR_RETURN(auto attempts, integer(node["attempts"], "restart.attempts", 0, 100));
      r.attempts = static_cast<std::uint32_t>(attempts);
    }
    if (node["interval"]) {
      VEIL_ASSIGN_OR_RETURN(r.interval, duration(node["interval"], "restart.interval", std::chrono::seconds(1)));
    }
    if (node["delay"]) {
      VEIL_ASSIGN_OR_RETURN(r.delay, duration(node["delay"], "restart.delay"));
    }
    if (node["mode"]) {
      VEIL_ASSIGN_OR_RETURN(std::string mode, scalar(node["mode"], "restart.mode"));
      if (mode == "fail") r.mode = RestartPolicy::Mode::kFail;
      else if (mode == "delay") r.mode = RestartPolicy::Mode::kDelay;
      else return error(node["mode"], "restart.mode", "'" + mode + "' is not a restart mode (use fail or delay)");
    }
    return {};
  }

  Status read_update(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["update"];
    if (!node) return {};
    if (!node.IsMap()) return error(node, "update", "expected {max_parallel, min_healthy_time, healthy_deadline, auto_revert}");
    if (spec.type == JobType::kBatch) return error(node, "update", "applies to services only: a batch job runs to completion");
    VEIL_RETURN_IF_ERROR(check_keys(node, "update", {"max_parallel", "min_healthy_time", "healthy_deadline", "auto_revert"}));
    UpdatePolicy u;
    if (node["max_parallel"]) {
      VEIL_ASSIGN_OR_RETURN(auto parallel, integer(node["max_parallel"], "update.max_parallel", 1, 100));
      u.max_parallel = static_cast<std::uint32_t>(parallel);
    }
    if (node["min_healthy_time"]) {
      VEIL_ASSIGN_OR_RETURN(u.min_healthy_time, duration(node["min_healthy_time"], "update.min_healthy_time"));
    }
    if (node["healthy_deadline"]) {
      VEIL_ASSIGN_OR_RETURN(u.healthy_deadline, duration(node["healthy_deadline"], "update.healthy_deadline", std::chrono::seconds(1)));
    }
    if (u.healthy_deadline <= u.min_healthy_time) {
      return error(node["healthy_deadline"] ? node["healthy_deadline"] : node, "update.healthy_deadline",
                   "must be longer than min_healthy_time (" + format_duration(u.min_healthy_time) + ")");
    }
    if (node["auto_revert"]) {
      VEIL_ASSIGN_OR_RETURN(std::string revert, scalar(node["auto_revert"], "update.auto_revert"));
      if (revert == "true") u.auto_revert = true;
      else if (revert == "false") u.auto_revert = false;
      else return error(node["auto_revert"], "update.auto_revert", "must be true or false");
    }
    spec.update = u;
    return {};
  }

  Status read_reschedule(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["reschedule"];
    if (!node) return {};
    if (!node.IsMap()) return error(node, "reschedule", "expected {attempts, interval}");
    VEIL_RETURN_IF_ERROR(check_keys(node, "reschedule", {"attempts", "interval"}));
    if (node["attempts"]) {
      VEIL_ASSIGN_OR_RETURN(auto attempts, integer(node["attempts"], "reschedule.attempts", 0, 100));
      spec.reschedule.attempts = static_cast<std::uint32_t>(attempts);
    }
    if (node["interval"]) {
      VEIL_ASSIGN_OR_RETURN(spec.reschedule.interval, duration(node["interval"], "reschedule.interval", std::chrono::seconds(1)));
    }
    return {};
  }

  Status read_constraints(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["constraints"];
    if (!node) return {};
    if (!node.IsSequence()) return error(node, "constraints", "expected a list of {attribute, operator, value}");
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string field = "constraints[" + std::to_string(i) + "]";
      if (!item.IsMap()) return error(item, field, "expected {attribute: LABEL, operator: =|!=|in|regexp, value: ...}");
      VEIL_RETURN_IF_ERROR(charge(item, field, kChargePerPort));
      VEIL_RETURN_IF_ERROR(check_keys(item, field, {"attribute", "operator", "value"}));
      Constraint c;
      if (!item["attribute"]) return error(item, field + ".attribute", "is required (a label name, e.g. region)");
      VEIL_ASSIGN_OR_RETURN(c.attribute, scalar(item["attribute"], field + ".attribute"));
      if (!is_label_name(c.attribute)) return error(item["attribute"], field + ".attribute", "must be a label name of 1..63 characters");
      if (item["operator"]) {
        VEIL_ASSIGN_OR_RETURN(std::string op, scalar(item["operator"], field + ".operator"));
        if (op == "=" || op == "==") c.op = Constraint::Operator::kEqual;
        else if (op == "!=") c.op = Constraint::Operator::kNotEqual;
        else if (op == "in" || op == "set_contains_any") c.op = Constraint::Operator::kIn;
        else if (op == "regexp") c.op = Constraint::Operator::kRegexp;
        else return error(item["operator"], field + ".operator", "'" + op + "' is not an operator (use =, !=, in or regexp)");
      }
      const YAML::Node value = item["value"];
      if (!value) return error(item, field + ".value", "is required");
      if (value.IsSequence()) {
        if (c.op != Constraint::Operator::kIn) return error(value, field + ".value", "a list of values needs operator 'in'");
        for (const auto& v : value) {
          VEIL_ASSIGN_OR_RETURN(std::string text, scalar(v, field + ".value"));
          c.values.push_back(std::move(text));
        }
      } else {
        VEIL_ASSIGN_OR_RETURN(std::string text, scalar(value, field + ".value"));
        if (c.op == Constraint::Operator::kIn) {
          // Nomad writes a set as "a,b,c".
          for (std::size_t start = 0;;) {
            const std::size_t comma = text.find(',', start);
            c.values.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
            if (comma == std::string::npos) break;
            start = comma + 1;
          }
        } else {
          c.values.push_back(std::move(text));
        }
      }
      if (c.values.empty()) return error(value, field + ".value", "needs at least one value");
      for (const auto& v : c.values) {
        if (v.size() > kMaxLabelValueBytes) {
          return error(value, field + ".value", "values are at most " + std::to_string(kMaxLabelValueBytes) + " bytes");
        }
      }
      if (c.op == Constraint::Operator::kRegexp) {
        auto compiled = check_label_regexp(c.values.front());
        if (!compiled.ok()) return error(value, field + ".value", compiled.message());
      }
      spec.constraints.push_back(std::move(c));
    }
    return {};
  }

  Status read_volumes(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["volumes"];
    if (!node) return {};
    if (!node.IsSequence()) return error(node, "volumes", "expected a list of {source, path, read_only}");
    std::set<std::string> paths;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string field = "volumes[" + std::to_string(i) + "]";
      if (!item.IsMap()) return error(item, field, "expected {source: NAME, path: /in/container, read_only: true|false}");
      VEIL_RETURN_IF_ERROR(charge(item, field, kChargePerPort));
      VEIL_RETURN_IF_ERROR(check_keys(item, field, {"source", "path", "read_only"}));
      VolumeMount v;
      if (!item["source"]) return error(item, field + ".source", "is required (a host volume a node offers)");
      VEIL_ASSIGN_OR_RETURN(v.source, scalar(item["source"], field + ".source"));
      if (!is_volume_name(v.source)) {
        return error(item["source"], field + ".source", "'" + v.source + "' must be 1..63 of a-z, 0-9, '-', '_'");
      }
      if (!item["path"]) return error(item, field + ".path", "is required (an absolute path in the container)");
      VEIL_ASSIGN_OR_RETURN(v.path, scalar(item["path"], field + ".path"));
      if (!is_container_path(v.path)) {
        return error(item["path"], field + ".path",
                     "must be an absolute path without '..', ':', ',' or control characters, at most 1024 bytes, and not /");
      }
      if (!paths.insert(v.path).second) return error(item["path"], field + ".path", v.path + " is mounted twice");
      if (item["read_only"]) {
        VEIL_ASSIGN_OR_RETURN(std::string ro, scalar(item["read_only"], field + ".read_only"));
        if (ro == "true") v.read_only = true;
        else if (ro == "false") v.read_only = false;
        else return error(item["read_only"], field + ".read_only", "must be true or false");
      }
      spec.volumes.push_back(std::move(v));
    }
    return {};
  }

  Status read_secrets(const YAML::Node& root, JobSpec& spec) const {
    const YAML::Node node = root["secrets"];
    if (!node) return {};
    if (!node.IsMap()) return error(node, "secrets", "expected {NAME: {from_file: PATH} | {from_env: VAR}}");
    if (node.size() > kMaxSecrets) return error(node, "secrets", "at most " + std::to_string(kMaxSecrets) + " secrets");
    for (const auto& item : node) {
      const std::string name = item.first.Scalar();
      const std::string field = "secrets." + name;
      VEIL_RETURN_IF_ERROR(charge(item.first, "secrets", name.size()));
      if (!is_env_name(name)) return error(item.first, "secrets", "'" + name + "' is not a valid environment variable name");
      if (spec.env.count(name) > 0) return error(item.first, field, "is also set in env");
      const YAML::Node source = item.second;
      if (!source.IsMap() || source.size() != 1) return error(source, field, "expected {from_file: PATH} or {from_env: VAR}");
      VEIL_RETURN_IF_ERROR(check_keys(source, field, {"from_file", "from_env"}));
      SecretSource s;
      if (source["from_file"]) {
        s.kind = SecretSource::Kind::kFile;
        VEIL_ASSIGN_OR_RETURN(s.from, scalar(source["from_file"], field + ".from_file"));
        if (s.from.empty()) return error(source["from_file"], field + ".from_file", "is empty");
      } else {
        s.kind = SecretSource::Kind::kEnv;
        VEIL_ASSIGN_OR_RETURN(s.from, scalar(source["from_env"], field + ".from_env"));
        if (!is_env_name(s.from)) return error(source["from_env"], field + ".from_env", "'" + s.from + "' is not an environment variable name");
      }
      spec.secrets[name] = std::move(s);
    }
    return {};
  }

  // Less than the shortest text of a port ("- container: 1\n"), so only aliases can exceed it.
  static constexpr std::size_t kChargePerPort = 8;

  std::string_view text_;
  std::string_view source_;
  mutable std::size_t expanded_bytes_ = 0;  // charge()
};

}  // namespace

std::string ImageRef::to_string() const {
  return repository + (tag.empty() ? "" : ":" + tag) + "@" + digest;
}

Result<ImageRef> parse_image_ref(std::string_view text) {
  const auto at = text.find('@');
  if (at == std::string_view::npos) {
    return invalid_argument("'" + std::string(text) +
                            "' has no digest; pin the image as NAME[:TAG]@sha256:<64 hex> (see `docker inspect` RepoDigests)");
  }
  ImageRef ref;
  ref.digest = std::string(text.substr(at + 1));
  if (ref.digest.rfind("sha256:", 0) != 0 || ref.digest.size() != 7 + 64 ||
      !std::all_of(ref.digest.begin() + 7, ref.digest.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(static_cast<unsigned char>(c)); })) {
    return invalid_argument("digest '" + ref.digest + "' must be sha256: followed by 64 lower-case hex digits");
  }
  std::string_view name = text.substr(0, at);
  // A tag follows the last ':' that comes after the last '/', so "host:5000/app" has none.
  const auto slash = name.rfind('/');
  const auto colon = name.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(name.substr(colon + 1));
    name = name.substr(0, colon);
  }
  if (name.empty()) return invalid_argument("image reference '" + std::string(text) + "' has no repository");
  ref.repository = std::string(name);
  return ref;
}

std::string_view constraint_operator_name(Constraint::Operator op) {
  switch (op) {
    case Constraint::Operator::kEqual: return "=";
    case Constraint::Operator::kNotEqual: return "!=";
    case Constraint::Operator::kIn: return "in";
    case Constraint::Operator::kRegexp: return "regexp";
  }
  return "?";
}

Status check_label_regexp(std::string_view pattern) {
  if (pattern.empty() || pattern.size() > kMaxLabelValueBytes) {
    return invalid_argument("a regexp must be 1.." + std::to_string(kMaxLabelValueBytes) + " bytes");
  }
  // Back-references are the one POSIX feature glibc cannot match in linear time.
  for (std::size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (pattern[i + 1] >= '1' && pattern[i + 1] <= '9') return invalid_argument("back-references (\\1..\\9) are not allowed");
      ++i;
    }
  }
  regex_t re;
  const std::string anchored = "^(" + std::string(pattern) + ")$";
  if (int rc = regcomp(&re, anchored.c_str(), REG_EXTENDED | REG_NOSUB); rc != 0) {
    char message[128];
    regerror(rc, &re, message, sizeof message);
    return invalid_argument("not a POSIX extended regular expression: " + std::string(message));
  }
  regfree(&re);
  return {};
}

bool label_matches_regexp(std::string_view pattern, std::string_view value) {
  if (!check_label_regexp(pattern).ok()) return false;
  regex_t re;
  const std::string anchored = "^(" + std::string(pattern) + ")$";
  if (regcomp(&re, anchored.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return false;
  const bool matched = regexec(&re, std::string(value).c_str(), 0, nullptr, 0) == 0;
  regfree(&re);
  return matched;
}

std::string_view job_type_name(JobType type) { return type == JobType::kBatch ? "batch" : "service"; }

std::string_view health_kind_name(HealthCheckSpec::Kind kind) {
  switch (kind) {
    case HealthCheckSpec::Kind::kHttp: return "http";
    case HealthCheckSpec::Kind::kTcp: return "tcp";
    case HealthCheckSpec::Kind::kExec: return "exec";
  }
  return "?";
}

RestartPolicy default_restart(JobType type) {
  using namespace std::chrono_literals;
  if (type == JobType::kBatch) return {.attempts = 3, .interval = 24h, .delay = 15s, .mode = RestartPolicy::Mode::kFail};
  return {.attempts = 2, .interval = 30min, .delay = 15s, .mode = RestartPolicy::Mode::kFail};
}

ReschedulePolicy default_reschedule(JobType type) {
  using namespace std::chrono_literals;
  if (type == JobType::kBatch) return {.attempts = 1, .interval = 24h};
  return {.attempts = 2, .interval = 1h};
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return invalid_argument("'" + printable(text) + "' is not a duration: " + std::string(why) +
                            " (write it as Nomad does: 10s, 2m, 1h30m, 250ms)");
  };
  if (text.empty()) return bad("it is empty");
  std::uint64_t total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t digits_start = i;
    std::uint64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
      if (value > static_cast<std::uint64_t>(kMaxDuration.count())) return bad("it is too long");
      ++i;
    }
    if (i == digits_start) return bad("each part is digits followed by a unit");
    const std::size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    std::uint64_t scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit.empty()) return bad("a number needs a unit (ms, s, m or h)");
    else return bad("unknown unit '" + std::string(unit) + "'");
    total_ms += value * scale;  // value and the sum stay far below 2^64 (each is checked below)
    if (total_ms > static_cast<std::uint64_t>(kMaxDuration.count())) return bad("it is longer than 365 days");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms));
}

std::string format_duration(std::chrono::milliseconds d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  for (auto [unit, scale] : {std::pair{"h", 3'600'000LL}, {"m", 60'000LL}, {"s", 1000LL}, {"ms", 1LL}}) {
    if (ms >= scale) {
      out += std::to_string(ms / scale) + unit;
      ms %= scale;
    }
  }
  return out;
}

std::string_view policy_name(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::kSpread: return "spread";
    case PolicyKind::kBinpack: return "binpack";
    case PolicyKind::kPriorityRoundRobin: return "priority-round-robin";
    case PolicyKind::kLatency: return "latency";
  }
  return "?";
}

Result<PolicyKind> parse_policy_name(std::string_view name) {
  for (auto kind : {PolicyKind::kSpread, PolicyKind::kBinpack, PolicyKind::kPriorityRoundRobin, PolicyKind::kLatency}) {
    if (policy_name(kind) == name) return kind;
  }
  return invalid_argument("unknown policy '" + std::string(name) +
                          "' (use spread, binpack, priority-round-robin or latency)");
}

Result<JobSpec> parse_job_spec(std::string_view yaml_text, std::string_view source_name) {
  // YAML is Unicode text, and a spec's strings end up in JSON (the API, gossip): bytes that are
  // not UTF-8 are refused here, before yaml-cpp passes them through into names and commands.
  if (yaml_text.size() > kJobSpecFile.max_bytes) {
    return out_of_range(printable(source_name) + ": a job spec may be at most " + format_byte_size(kJobSpecFile.max_bytes) +
                        ", this one is " + std::to_string(yaml_text.size()) + " bytes");
  }
  VEIL_RETURN_IF_ERROR(require_utf8(source_name, yaml_text, "a job spec"));
  SpecReader reader(yaml_text, source_name);
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    return reader.read(root);
  } catch (const YAML::Exception& e) {
    return invalid_argument(describe_text_location(source_name, yaml_text, e.mark.line, e.mark.column, e.msg));
  }
}

std::string describe_spec_field(std::string_view yaml_text, std::string_view source_name, std::string_view field,
                                std::string_view message) {
  int line = 0, column = 0;
  try {
    YAML::Node at = YAML::Load(std::string(yaml_text));
    line = at.Mark().line;
    column = at.Mark().column;
    // Segments "name" or "name[i]", separated by dots; stop at the first one missing.
    std::size_t start = 0;
    while (start < field.size() && at.IsMap()) {
      const std::size_t dot = field.find('.', start);
      std::string_view segment = field.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
      std::optional<std::size_t> index;
      if (auto open = segment.find('['); open != std::string_view::npos && segment.back() == ']') {
        std::size_t i = 0;
        auto digits = segment.substr(open + 1, segment.size() - open - 2);
        if (std::from_chars(digits.data(), digits.data() + digits.size(), i).ec == std::errc()) index = i;
        segment = segment.substr(0, open);
      }
      YAML::Node next = at[std::string(segment)];
      if (!next) break;
      at.reset(next);
      if (index) {
        if (!at.IsSequence() || *index >= at.size()) break;
        YAML::Node element = at[*index];
        at.reset(element);
      }
      line = at.Mark().line;
      column = at.Mark().column;
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  } catch (const YAML::Exception&) {
    // A spec that parsed loads again; if not, the location stays at the start.
  }
  return describe_text_location(source_name, yaml_text, line, column, std::string(field) + ": " + std::string(message));
}

Result<JobSpec> load_job_spec(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(std::string text, read_file(path, kJobSpecFile));
  return parse_job_spec(text, path);
}

std::string to_canonical_yaml(const JobSpec& spec) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << spec.name;
  out << YAML::Key << "image" << YAML::Value << spec.image.to_string();
  out << YAML::Key << "replicas" << YAML::Value << spec.replicas;
  out << YAML::Key << "resources" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cpu" << YAML::Value << (std::to_string(spec.resources.cpu_millicores) + "m");
  out << YAML::Key << "memory" << YAML::Value << (std::to_string(spec.resources.memory_mib) + "Mi");
  out << YAML::Key << "disk" << YAML::Value << (std::to_string(spec.resources.disk_mib) + "Mi");
  out << YAML::Key << "gpus" << YAML::Value << spec.resources.gpus;
  out << YAML::EndMap;
  const PolicyWeights& w = spec.policy.weights;
  out << YAML::Key << "policy" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << std::string(policy_name(spec.policy.kind));
  out << YAML::Key << "weights" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "cpu" << YAML::Value << w.cpu << YAML::Key << "memory" << YAML::Value << w.memory;
  out << YAML::Key << "disk" << YAML::Value << w.disk << YAML::Key << "gpu" << YAML::Value << w.gpu;
  out << YAML::Key << "latency" << YAML::Value << w.latency << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "priority" << YAML::Value << spec.priority;
  out << YAML::Key << "command" << YAML::Value << YAML::Flow << spec.command;
  out << YAML::Key << "env" << YAML::Value << spec.env;
  out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
  for (const auto& p : spec.ports) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "container" << YAML::Value << p.container_port
        << YAML::Key << "host" << YAML::Value << p.host_port << YAML::Key << "protocol" << YAML::Value << p.protocol
        << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "labels" << YAML::Value << spec.labels;
  // The fields below came later: written only when they differ from their defaults, so the
  // canonical text (and the job id hashed from it) of a spec without them is what it was.
  if (spec.type != JobType::kService) out << YAML::Key << "type" << YAML::Value << std::string(job_type_name(spec.type));
  if (spec.health) {
    const HealthCheckSpec& h = *spec.health;
    out << YAML::Key << "health" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << std::string(health_kind_name(h.kind)) << YAML::Value;
    switch (h.kind) {
      case HealthCheckSpec::Kind::kHttp:
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "path" << YAML::Value << h.path << YAML::Key << "port"
            << YAML::Value << h.port << YAML::EndMap;
        break;
      case HealthCheckSpec::Kind::kTcp:
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "port" << YAML::Value << h.port << YAML::EndMap;
        break;
      case HealthCheckSpec::Kind::kExec: out << YAML::Flow << h.command; break;
    }
    out << YAML::Key << "interval" << YAML::Value << format_duration(h.interval);
    out << YAML::Key << "timeout" << YAML::Value << format_duration(h.timeout);
    out << YAML::Key << "grace" << YAML::Value << format_duration(h.grace);
    out << YAML::Key << "failures" << YAML::Value << h.failures;
    out << YAML::EndMap;
  }
  if (spec.restart != default_restart(spec.type)) {
    const RestartPolicy& r = spec.restart;
    out << YAML::Key << "restart" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "attempts" << YAML::Value << r.attempts;
    out << YAML::Key << "interval" << YAML::Value << format_duration(r.interval);
    out << YAML::Key << "delay" << YAML::Value << format_duration(r.delay);
    out << YAML::Key << "mode" << YAML::Value << (r.mode == RestartPolicy::Mode::kDelay ? "delay" : "fail");
    out << YAML::EndMap;
  }
  if (spec.reschedule != default_reschedule(spec.type)) {
    out << YAML::Key << "reschedule" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "attempts" << YAML::Value << spec.reschedule.attempts;
    out << YAML::Key << "interval" << YAML::Value << format_duration(spec.reschedule.interval);
    out << YAML::EndMap;
  }
  if (spec.update) {
    const UpdatePolicy& u = *spec.update;
    out << YAML::Key << "update" << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "max_parallel" << YAML::Value << u.max_parallel;
    out << YAML::Key << "min_healthy_time" << YAML::Value << format_duration(u.min_healthy_time);
    out << YAML::Key << "healthy_deadline" << YAML::Value << format_duration(u.healthy_deadline);
    out << YAML::Key << "auto_revert" << YAML::Value << u.auto_revert;
    out << YAML::EndMap;
  }
  if (!spec.constraints.empty()) {
    out << YAML::Key << "constraints" << YAML::Value << YAML::BeginSeq;
    for (const auto& c : spec.constraints) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "attribute" << YAML::Value << c.attribute << YAML::Key
          << "operator" << YAML::Value << std::string(constraint_operator_name(c.op)) << YAML::Key << "value" << YAML::Value;
      if (c.op == Constraint::Operator::kIn) out << YAML::Flow << c.values;
      else out << c.values.front();
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!spec.spread_over.empty()) out << YAML::Key << "spread_over" << YAML::Value << spec.spread_over;
  if (!spec.secrets.empty()) {
    out << YAML::Key << "secrets" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, s] : spec.secrets) {
      out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
          << (s.kind == SecretSource::Kind::kFile ? "from_file" : "from_env") << YAML::Value << s.from << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  if (spec.candidates) {
    out << YAML::Key << "placement" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "candidates"
        << YAML::Value << format_candidate_count(*spec.candidates) << YAML::EndMap;
  }
  if (!spec.volumes.empty()) {
    out << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
    for (const auto& v : spec.volumes) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "source" << YAML::Value << v.source << YAML::Key << "path"
          << YAML::Value << v.path << YAML::Key << "read_only" << YAML::Value << v.read_only << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

bool is_label_name(std::string_view s) {
  return !s.empty() && s.size() <= 63 && std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127; });
}

bool is_volume_name(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

}  // namespace veil::sched
