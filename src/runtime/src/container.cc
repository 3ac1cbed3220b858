#include "veil/runtime/container.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cmath>

#include "veil/common/quantity.h"
#include "veil/common/sha256.h"

namespace veil::runtime {

std::string_view container_state_name(ContainerState state) {
  switch (state) {
    case ContainerState::kCreated: return "created";
    case ContainerState::kRunning: return "running";
    case ContainerState::kPaused: return "paused";
    case ContainerState::kRestarting: return "restarting";
    case ContainerState::kExited: return "exited";
    case ContainerState::kDead: return "dead";
    case ContainerState::kRemoving: return "removing";
    case ContainerState::kUnknown: break;
  }
  return "unknown";
}

ContainerState parse_container_state(std::string_view name) {
  for (auto s : {ContainerState::kCreated, ContainerState::kRunning, ContainerState::kPaused,
                 ContainerState::kRestarting, ContainerState::kExited, ContainerState::kDead,
                 ContainerState::kRemoving}) {
    if (container_state_name(s) == name) return s;
  }
  return ContainerState::kUnknown;
}

std::string_view health_status_name(HealthStatus status) {
  switch (status) {
    case HealthStatus::kStarting: return "starting";
    case HealthStatus::kHealthy: return "healthy";
    case HealthStatus::kUnhealthy: return "unhealthy";
    case HealthStatus::kNone: break;
  }
  return "none";
}

// Both through the one quantity parser (veil/common/quantity.h); zero is no limit at all, so
// it is refused here rather than silently meaning "unlimited".
Result<std::int64_t> parse_memory_size(std::string_view text) {
  VEIL_ASSIGN_OR_RETURN(std::uint64_t bytes, parse_quantity(text, kMemoryBytes));
  if (bytes == 0) return invalid_argument("memory size must be more than 0; use e.g. 128M");
  return static_cast<std::int64_t>(bytes);
}

Result<std::int64_t> parse_cpus(std::string_view text) {
  VEIL_ASSIGN_OR_RETURN(std::uint64_t nano_cpus, parse_quantity(text, kNanoCpus));
  if (nano_cpus == 0) return invalid_argument("CPU amount must be more than 0; use e.g. 0.5 or 2");
  return static_cast<std::int64_t>(nano_cpus);
}

Result<PortBinding> parse_port_binding(std::string_view text) {
  PortBinding binding;
  std::string_view rest = text;
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    binding.protocol = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (binding.protocol != "tcp" && binding.protocol != "udp") {
      return invalid_argument("bad port protocol in '" + std::string(text) + "'; use tcp or udp");
    }
  }
  auto parse_port = [&](std::string_view p, std::uint16_t& out) -> Status {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535) {
      return invalid_argument("bad port '" + std::string(p) + "' in '" + std::string(text) +
                              "'; use HOSTPORT:CONTAINERPORT");
    }
    out = static_cast<std::uint16_t>(value);
    return {};
  };
  auto last_colon = rest.rfind(':');
  if (last_colon == std::string_view::npos) {
    return invalid_argument("bad port binding '" + std::string(text) + "'; use HOSTPORT:CONTAINERPORT");
  }
  VEIL_RETURN_IF_ERROR(parse_port(rest.substr(last_colon + 1), binding.container_port));
  std::string_view host = rest.substr(0, last_colon);
  if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    binding.host_ip = std::string(host.substr(0, colon));
    host = host.substr(colon + 1);
  }
  VEIL_RETURN_IF_ERROR(parse_port(host, binding.host_port));
  return binding;
}

std::string spec_hash(const ContainerSpec& spec) {
  // A length-prefixed canonical encoding, so that no two different specs collide by
  // concatenation ("a","bc" vs "ab","c").
  std::string canon;
  auto put = [&canon](std::string_view field) {
    canon += std::to_string(field.size());
    canon += ':';
    canon += field;
  };
  put(spec.image);
  put(std::to_string(spec.command.size()));
  for (const auto& arg : spec.command) put(arg);
  for (const auto& [k, v] : spec.env) { put(k); put(v); }
  put("labels");
  for (const auto& [k, v] : spec.labels) {
    if (k == kLabelSpecHash) continue;
    put(k);
    put(v);
  }
  put("ports");
  for (const auto& p : spec.ports) {
    put(p.host_ip);
    put(std::to_string(p.host_port));
    put(std::to_string(p.container_port));
    put(p.protocol);
  }
  put(std::to_string(spec.nano_cpus));
  put(std::to_string(spec.memory_bytes));
  put(spec.working_dir);
  // Written only when present, so a spec without mounts keeps the hash it had before them
  // (a node upgrade must not replace every running container).
  if (!spec.mounts.empty()) {
    put("mounts");
    for (const auto& m : spec.mounts) {
      put(m.host_path);
      put(m.container_path);
      put(m.read_only ? "ro" : "rw");
    }
  }
  return sha256_hex(canon).substr(0, 16);
}

}  // namespace veil::runtime
