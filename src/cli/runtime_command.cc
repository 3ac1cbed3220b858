// `veil runtime ps|logs|run|stop|rm|info`: drive this machine's container driver by hand,
// to check what the node would do (Docker Engine API, or plain processes).
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "step_progress.h"
#include "veil/common/config.h"
#include "veil/common/printable.h"
#include "veil/runtime/driver.h"

namespace veil::cli {
namespace {

struct RuntimeOptions {
  std::string driver = "auto";
  std::string docker_socket;
  std::string state_dir;
  // ps
  bool all = false;
  std::vector<std::string> labels;
  // logs
  std::string id;
  bool follow = false;
  int tail = -1;
  // run
  std::string image, name, cpu, memory, digest;
  std::vector<std::string> ports, env, command;
  bool pull = false;
  // stop / rm
  int grace = 10;
  bool force = false;
};

Result<runtime::DriverSelection> open(const RuntimeOptions& o, const GlobalOptions& global) {
  VEIL_ASSIGN_OR_RETURN(auto kind, runtime::parse_driver_kind(o.driver));
  runtime::DriverOptions options{.kind = kind, .docker_socket = o.docker_socket, .process_state_dir = o.state_dir};
  if (options.docker_socket.empty()) {
    // docker.socket from the config file or VEIL_DOCKER_SOCKET.
    Config::LoadOptions load;
    if (!global.config_file.empty()) load.file = global.config_file;
    if (auto config = Config::load(load); config.ok()) options.docker_socket = config->string("docker.socket");
  }
  auto selection = runtime::open_driver(options);
  if (selection.ok()) std::cerr << "veil: driver " << selection->driver->name() << ": " << selection->reason << "\n";
  return selection;
}

Result<std::map<std::string, std::string>> parse_pairs(const std::vector<std::string>& items, std::string_view what) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) return invalid_argument("bad " + std::string(what) + " '" + item + "'; use KEY=VALUE");
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

std::string ports_text(const std::vector<runtime::PortBinding>& ports) {
  std::string out;
  for (const auto& p : ports) {
    if (!out.empty()) out += ",";
    out += p.host_ip + ":" + std::to_string(p.host_port) + "->" + std::to_string(p.container_port) + "/" + p.protocol;
  }
  return out;
}

int do_ps(const RuntimeOptions& o, const GlobalOptions& global) {
  auto selector = parse_pairs(o.labels, "label");
  if (!selector.ok()) return usage(selector.status());
  auto sel = open(o, global);
  if (!sel.ok()) return fail(sel.status());
  auto list = sel->driver->list(*selector, o.all);
  if (!list.ok()) return fail(list.status());
  if (structured_output(global.output)) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& c : *list) {
      nlohmann::json ports = nlohmann::json::array();
      for (const auto& p : c.ports) {
        ports.push_back({{"host_ip", p.host_ip}, {"host_port", p.host_port}, {"container_port", p.container_port},
                         {"protocol", p.protocol}});
      }
      out.push_back({{"id", c.id}, {"name", c.name}, {"image", c.image}, {"state", runtime::container_state_name(c.state)},
                     {"exit_code", c.exit_code}, {"labels", c.labels}, {"ports", ports},
                     {"driver", sel->driver->name()}});
    }
    print_data(out, global.output);
    return kExitOk;
  }
  if (global.output == "wide") {  // full id and image, and the labels
    std::printf("%-64s %-28s %-9s %-5s %-30s %-30s %s\n", "ID", "NAME", "STATE", "EXIT", "PORTS", "LABELS", "IMAGE");
    for (const auto& c : *list) {
      std::string labels;
      for (const auto& [key, value] : c.labels) labels += (labels.empty() ? "" : ",") + key + "=" + value;
      std::printf("%-64s %-28s %-9s %-5d %-30s %-30s %s\n", c.id.c_str(), c.name.c_str(),
                  std::string(runtime::container_state_name(c.state)).c_str(), c.exit_code, ports_text(c.ports).c_str(),
                  labels.c_str(), c.image.c_str());
    }
    return kExitOk;
  }
  std::printf("%-14s %-28s %-40s %-9s %-5s %s\n", "ID", "NAME", "IMAGE", "STATE", "EXIT", "PORTS");
  for (const auto& c : *list) {
    std::string image = c.image.size() > 40 ? c.image.substr(0, 37) + "..." : c.image;
    std::printf("%-14s %-28s %-40s %-9s %-5d %s\n", c.id.substr(0, 12).c_str(), c.name.c_str(), image.c_str(),
                std::string(runtime::container_state_name(c.state)).c_str(), c.exit_code, ports_text(c.ports).c_str());
  }
  return kExitOk;
}

int do_logs(const RuntimeOptions& o, const GlobalOptions& global) {
  auto sel = open(o, global);
  if (!sel.ok()) return fail(sel.status());
  auto s = sel->driver->logs(o.id, {.follow = o.follow, .tail = o.tail}, [](runtime::LogStream stream, std::string_view b) {
    auto& out = stream == runtime::LogStream::kStdout ? std::cout : std::cerr;
    out.write(b.data(), static_cast<std::streamsize>(b.size()));
    out.flush();
    return true;
  });
  return s.ok() ? kExitOk : fail(s);
}

// A pull with its layers and bytes on stderr as the engine reports them (a bar on a terminal,
// one done line in a log).
Result<runtime::PulledImage> pull_with_progress(runtime::Driver& driver, const std::string& image,
                                                const std::string& digest) {
  StepProgress progress("pull", 1);
  progress.begin("pulling " + image);
  runtime::PullRequest request{.reference = image, .expected_digest = digest};
  request.on_progress = [&progress](const runtime::PullProgress& p) {
    std::string text = std::to_string(p.layers_done) + "/" + std::to_string(p.layers) + " layers";
    if (p.bytes_total > 0) text += ", " + format_bytes(p.bytes_done) + " of " + format_bytes(p.bytes_total);
    progress.detail(text);
  };
  auto pulled = driver.pull(request);
  if (!pulled.ok()) progress.finish("pulling " + image + " failed");
  return pulled;
}

int do_run(const RuntimeOptions& o, const GlobalOptions& global) {
  runtime::ContainerSpec spec{.name = o.name, .image = o.image, .command = o.command};
  auto env = parse_pairs(o.env, "--env");
  if (!env.ok()) return usage(env.status());
  spec.env = *env;
  auto labels = parse_pairs(o.labels, "--label");
  if (!labels.ok()) return usage(labels.status());
  spec.labels = *labels;
  if (!o.cpu.empty()) {
    auto cpus = runtime::parse_cpus(o.cpu);
    if (!cpus.ok()) return usage(cpus.status());
    spec.nano_cpus = *cpus;
  }
  if (!o.memory.empty()) {
    auto memory = runtime::parse_memory_size(o.memory);
    if (!memory.ok()) return usage(memory.status());
    spec.memory_bytes = *memory;
  }
  for (const auto& p : o.ports) {
    auto binding = runtime::parse_port_binding(p);
    if (!binding.ok()) return usage(binding.status());
    spec.ports.push_back(*binding);
  }
  auto sel = open(o, global);
  if (!sel.ok()) return fail(sel.status());
  auto& driver = *sel->driver;
  if (o.pull || !o.digest.empty()) {
    auto pulled = pull_with_progress(driver, o.image, o.digest);
    if (!pulled.ok()) return fail(pulled.status());
    std::cerr << "veil: pulled " << printable(pulled->reference + " (" + pulled->digest + ")") << "\n";
  }
  auto id = driver.create(spec);
  if (!id.ok() && id.status().code() == StatusCode::kNotFound && !o.pull && driver.name() == "docker") {
    std::cerr << "veil: image " << printable(o.image) << " not present, pulling\n";
    auto pulled = pull_with_progress(driver, o.image, o.digest);
    if (!pulled.ok()) return fail(pulled.status());
    id = driver.create(spec);
  }
  if (!id.ok()) return fail(id.status());
  if (auto s = driver.start(*id); !s.ok()) return fail(s);
  std::cout << *id << "\n";
  return kExitOk;
}

}  // namespace

void register_runtime_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto options = std::make_shared<RuntimeOptions>();
  auto* noun = app.add_subcommand("runtime", "Run and inspect containers through this machine's driver");
  noun->require_subcommand(1);
  noun->add_option("--driver", options->driver, "auto (Docker, else processes), docker or process")
      ->check(CLI::IsMember({"auto", "docker", "process"}));
  noun->add_option("--docker-socket", options->docker_socket, "Engine API socket (default: config docker.socket)");
  noun->add_option("--state-dir", options->state_dir, "Process driver state (env VEIL_PROCESS_STATE_DIR)");

  auto* info = noun->add_subcommand("info", "Say which driver is used and why");
  info->callback([options, &global, &action] {
    action = [options, &global]() -> int {
      auto sel = open(*options, global);
      if (!sel.ok()) return fail(sel.status());
      if (structured_output(global.output)) {
        print_data({{"driver", sel->driver->name()}, {"reason", sel->reason}, {"describe", sel->driver->describe()}},
                   global.output);
      } else {
        std::cout << sel->driver->name() << "\t" << sel->reason << "\n";
      }
      return kExitOk;
    };
  });
  add_output_option(info, global.output);

  auto* ps = noun->add_subcommand("ps", "List containers");
  ps->add_flag("-a,--all", options->all, "Include stopped containers");
  ps->add_option("-l,--label", options->labels, "Only containers with KEY=VALUE (repeatable)")
      ->allow_extra_args(false);  // one value per flag, so `--` still starts the command
  add_output_option(ps, global.output);
  ps->callback([options, &global, &action] { action = [options, &global]() -> int { return do_ps(*options, global); }; });

  auto* logs = noun->add_subcommand("logs", "Print a container's stdout and stderr");
  logs->add_option("id", options->id, "Container id or name")->required();
  logs->add_flag("-f,--follow", options->follow, "Keep printing until the container stops");
  logs->add_option("--tail", options->tail, "Only the last N lines");
  logs->callback([options, &global, &action] { action = [options, &global]() -> int { return do_logs(*options, global); }; });

  auto* run = noun->add_subcommand("run", "Create and start a container; prints its id");
  run->add_option("--image", options->image, "Image reference (docker) or executable (process)")->required();
  run->add_option("--name", options->name, "Container name");
  run->add_option("--cpu", options->cpu, "CPUs, e.g. 0.5");
  run->add_option("--memory", options->memory, "Memory limit, e.g. 128M");
  run->add_option("--port", options->ports, "HOSTPORT:CONTAINERPORT or IP:HOSTPORT:CONTAINERPORT (repeatable)")
      ->allow_extra_args(false);  // one value per flag, so `--` still starts the command
  run->add_option("-e,--env", options->env, "KEY=VALUE (repeatable)")
      ->allow_extra_args(false);  // one value per flag, so `--` still starts the command
  run->add_option("-l,--label", options->labels, "KEY=VALUE (repeatable)")
      ->allow_extra_args(false);  // one value per flag, so `--` still starts the command
  run->add_flag("--pull", options->pull, "Pull the image first");
  run->add_option("--digest", options->digest, "Expected image digest sha256:...; pulls and verifies");
  run->add_option("command", options->command, "Command and arguments (after --)");
  run->callback([options, &global, &action] { action = [options, &global]() -> int { return do_run(*options, global); }; });

  auto* stop = noun->add_subcommand("stop", "Stop a container (SIGTERM, then SIGKILL after the grace period)");
  stop->add_option("id", options->id, "Container id or name")->required();
  stop->add_option("-t,--time", options->grace, "Grace period in seconds (default 10)");
  stop->callback([options, &global, &action] {
    action = [options, &global]() -> int {
      auto sel = open(*options, global);
      if (!sel.ok()) return fail(sel.status());
      auto s = sel->driver->stop(options->id, std::chrono::seconds(options->grace));
      if (!s.ok()) return fail(s);
      std::cout << options->id << "\n";
      return kExitOk;
    };
  });

  auto* rm = noun->add_subcommand("rm", "Remove a container");
  rm->add_option("id", options->id, "Container id or name")->required();
  rm->add_flag("-f,--force", options->force, "Kill it first if running");
  rm->callback([options, &global, &action] {
    action = [options, &global]() -> int {
      auto sel = open(*options, global);
      if (!sel.ok()) return fail(sel.status());
      auto s = sel->driver->remove(options->id, options->force);
      if (!s.ok()) return fail(s);
      std::cout << options->id << "\n";
      return kExitOk;
    };
  });
}

}  // namespace veil::cli
