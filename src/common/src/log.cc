#include "veil/common/log.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace veil::log {
namespace {

struct LogState {
  std::mutex mutex;
  spdlog::level::level_enum default_level = spdlog::level::info;
  std::map<std::string, spdlog::level::level_enum, std::less<>> overrides;
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
};

LogState& state() {
  static LogState instance;
  return instance;
}

Result<spdlog::level::level_enum> parse_level(std::string_view name) {
  static const std::map<std::string_view, spdlog::level::level_enum> kLevels = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
  auto it = kLevels.find(name);
  if (it == kLevels.end()) {
    return invalid_argument("unknown log level '" + std::string(name) +
                            "' (use trace, debug, info, warn, error, critical or off)");
  }
  return it->second;
}

spdlog::level::level_enum level_for(const LogState& s, std::string_view component) {
  auto it = s.overrides.find(component);
  return it == s.overrides.end() ? s.default_level : it->second;
}

}  // namespace

Status configure(std::string_view spec) {
  spdlog::level::level_enum default_level = spdlog::level::info;
  std::map<std::string, spdlog::level::level_enum, std::less<>> overrides;
  while (!spec.empty()) {
    std::size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      VEIL_ASSIGN_OR_RETURN(default_level, parse_level(item));
    } else {
      std::string_view component = item.substr(0, eq);
      if (component.empty()) return invalid_argument("empty component name in log spec");
      VEIL_ASSIGN_OR_RETURN(auto level, parse_level(item.substr(eq + 1)));
      overrides[std::string(component)] = level;
    }
  }
  LogState& s = state();
  std::lock_guard lock(s.mutex);
  s.default_level = default_level;
  s.overrides = std::move(overrides);
  for (auto& [name, logger] : s.loggers) logger->set_level(level_for(s, name));
  return {};
}

void init_from_env() {
  const char* spec = std::getenv("VEIL_LOG");
  if (spec == nullptr) return;
  Status status = configure(spec);
  if (!status.ok()) get("log")->warn("ignoring VEIL_LOG: {}", status.message());
}

std::shared_ptr<spdlog::logger> get(std::string_view component) {
  LogState& s = state();
  std::lock_guard lock(s.mutex);
  auto it = s.loggers.find(component);
  if (it != s.loggers.end()) return it->second;
  auto logger = std::make_shared<spdlog::logger>(std::string(component), s.sink);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
  logger->set_level(level_for(s, component));
  s.loggers.emplace(std::string(component), logger);
  return logger;
}

}  // namespace veil::log
