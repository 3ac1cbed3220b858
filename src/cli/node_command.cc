// `veil node run|ls` and `veil job run|ls|status|logs|stop`: the daemon and the operator's view
// of it through the node's local API (docs/node-api.md).
#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "chain_cli.h"
#include "cli_io.h"
#include "commands.h"
#include "node_api.h"
#include "round_timeline.h"
#include "step_progress.h"
#include "veil/common/config.h"
#include "veil/common/printable.h"
#include "veil/node/api_client.h"
#include "veil/node/daemon.h"
#include "veil/node/protocol.h"
#include "veil/sched/job_spec.h"

namespace veil::cli {

void add_api_options(CLI::App* cmd, ApiOptions& o, GlobalOptions& global) {
  cmd->add_option("--api", o.api, "The node's API address HOST:PORT (env VEIL_API_ADDR, config api.listen)");
  cmd->add_option("--token", o.token, "API token (env VEIL_API_TOKEN, else <node.data_dir>/api.token)");
  add_output_option(cmd, global.output);
}

Result<Config> load_config(const GlobalOptions& global) {
  Config::LoadOptions load;
  if (!global.config_file.empty()) load.file = global.config_file;
  return Config::load(load);
}

Result<node::ApiClient> open_api(const GlobalOptions& global, const ApiOptions& o) {
  VEIL_ASSIGN_OR_RETURN(Config config, load_config(global));
  std::string api = o.api;
  if (api.empty()) {
    const char* env = std::getenv("VEIL_API_ADDR");
    api = env != nullptr ? env : config.string("api.listen");
  }
  std::string token = o.token;
  if (token.empty()) {
    if (const char* env = std::getenv("VEIL_API_TOKEN")) token = env;
  }
  if (token.empty()) {
    VEIL_ASSIGN_OR_RETURN(token, node::load_api_token(config.string("node.data_dir")));
  }
  return node::ApiClient(api, token, std::chrono::seconds(30));
}

namespace {

using nlohmann::json;

std::string short_peer(const std::string& peer) { return peer.size() > 12 ? "…" + peer.substr(peer.size() - 8) : peer; }

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::cout << std::left << std::setw(static_cast<int>(i + 1 == row.size() ? 0 : width[i] + 2)) << row[i];
    }
    std::cout << "\n";
  }
}

std::string text(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

int cmd_node_run(const GlobalOptions& global) {
  auto config = load_config(global);
  if (!config.ok()) return fail(config.status());
  auto daemon = node::Daemon::start(*config);
  if (!daemon.ok()) return fail(daemon.status());
  auto st = (*daemon)->run();
  if (!st.ok()) return fail(st);
  return kExitOk;
}

int cmd_node_ls(const GlobalOptions& global, const ApiOptions& o) {
  auto api = open_api(global, o);
  if (!api.ok()) return fail(api.status());
  auto nodes = api->get("/v1/nodes");
  if (!nodes.ok()) return fail(nodes.status());
  if (structured_output(global.output)) {
    print_data(*nodes, global.output);
    return kExitOk;
  }
  const bool wide = global.output == "wide";  // every address, not only the first
  std::vector<std::vector<std::string>> rows = {{"PEER ID", "STATE", "INC", "REGISTERED", "OPERATOR", wide ? "ADDRESSES" : "ADDRESS"}};
  for (const auto& n : *nodes) {
    std::string addr;
    for (const auto& a : n["addrs"]) {
      if (!addr.empty() && !wide) break;
      addr += (addr.empty() ? "" : ",") + a.get<std::string>();
    }
    rows.push_back({text(n, "peer_id") + (n.value("self", false) ? " (this node)" : ""), text(n, "state"), text(n, "incarnation"),
                    n.value("registered", false)          ? "yes"
                    : n.value("refused", "") == "unstaked" ? "UNSTAKED"
                                                           : "NO",
                    text(n, "operator"), addr});
  }
  print_table(rows);
  return kExitOk;
}

struct JobArgs {
  ApiOptions api;
  std::string spec_file;
  std::string job;
  bool wait = false;
  int timeout_s = 600;
  int tail = 200;
  int replica = -1;     // job logs --replica: -1 every replica
  bool follow = false;  // job logs --follow
  unsigned version = 0;  // job revert
};

// The lines of `now` that `before` (the previous poll of the same replica's last lines) did not
// show: the window moved by m lines, so `before` minus its first m lines starts `now`. Without
// such an overlap (more new lines than the window) all of `now` is new.
std::string lines_added(const std::string& before, const std::string& now) {
  auto split = [](const std::string& text) {
    std::vector<std::string_view> lines;
    std::string_view rest(text);
    while (!rest.empty()) {
      const auto end = rest.find('\n');
      lines.push_back(rest.substr(0, end == std::string_view::npos ? rest.size() : end + 1));
      rest.remove_prefix(lines.back().size());
    }
    return lines;
  };
  const auto old_lines = split(before), new_lines = split(now);
  for (std::size_t m = 0; m <= old_lines.size(); ++m) {
    const std::size_t overlap = old_lines.size() - m;
    if (overlap > new_lines.size()) continue;
    if (!std::equal(old_lines.begin() + static_cast<std::ptrdiff_t>(m), old_lines.end(), new_lines.begin())) continue;
    std::string added;
    for (std::size_t i = overlap; i < new_lines.size(); ++i) added += new_lines[i];
    return added;
  }
  return now;
}

// " (replica 0 exited with code 3)" for a failed job whose replica is dead with an exit code.
std::string job_outcome(const json& j) {
  if (text(j, "state") != "failed") return "";
  for (const auto& p : j["placement"]) {
    if (text(p, "state") == "dead" && p.contains("exit_code") && p["exit_code"].is_number_integer()) {
      return " (replica " + text(p, "replica") + " exited with code " + std::to_string(p["exit_code"].get<int>()) + ")";
    }
  }
  return "";
}

// "2/3 layers, 1.2 MB of 4.0 MB" of a replica's image pull (the API's placement[].pull), or "".
std::string pull_sums(const json& replica) {
  if (!replica.contains("pull") || !replica["pull"].is_object()) return "";
  const json& pull = replica["pull"];
  std::string sums = text(pull, "layers_done") + "/" + text(pull, "layers") + " layers";
  const std::uint64_t total = pull.value("bytes_total", std::uint64_t{0});
  if (total > 0) sums += ", " + format_bytes(pull.value("bytes_done", std::uint64_t{0})) + " of " + format_bytes(total);
  return sums;
}

// What `job run --wait` shows beside its step while nodes pull: "pulling replica 0: 2/3 layers, …".
std::string pull_progress(const json& placement) {
  std::string out;
  for (const auto& replica : placement) {
    const std::string sums = pull_sums(replica);
    if (!sums.empty()) out += (out.empty() ? "pulling replica " : "; replica ") + text(replica, "replica") + ": " + sums;
  }
  return out;
}

void print_job(const json& j) {
  std::cout << "job " << text(j, "name") << "  id " << text(j, "id") << "\n"
            << "  image      " << text(j, "image") << "\n"
            << "  state      " << text(j, "state") << job_outcome(j) << " (round " << text(j, "round") << ")\n";
  if (j.contains("version")) std::cout << "  version    " << text(j, "version") << "\n";
  if (j.contains("coordinator")) {
    std::cout << "  coordinator " << text(j, "coordinator") << " (term " << text(j, "term") << ")\n";
  }
  if (j.contains("answered_by")) {
    std::cout << "  record     from " << text(j, "answered_by") << " (the newest copy among the live members)\n";
  }
  std::vector<std::vector<std::string>> rows = {{"  REPLICA", "NODE", "STATE", "HEALTH", "EXIT", "ENDPOINT"}};
  for (const auto& p : j["placement"]) {
    const bool exited = p.contains("exit_code") && p["exit_code"].is_number_integer();
    const std::string pulling = pull_sums(p);
    rows.push_back({"  " + text(p, "replica"), text(p, "node").empty() ? "-" : text(p, "node"),
                    text(p, "state") + (pulling.empty() ? "" : " (pulling " + pulling + ")"),
                    p.contains("health") ? text(p, "health") : "-", exited ? std::to_string(p["exit_code"].get<int>()) : "-",
                    text(p, "endpoint")});
  }
  print_table(rows);
  if (j.contains("anchor") && !j["anchor"].is_null()) {
    std::cout << "  anchored   tx " << text(j["anchor"], "tx") << " in block " << text(j["anchor"], "block") << "\n";
    if (!text(j["anchor"], "batch_root").empty()) {
      std::cout << "  batch      root " << text(j["anchor"], "batch_root") << "  leaf " << text(j["anchor"], "batch_index")
                << " of " << text(j["anchor"], "batch_size") << "  proof of " << text(j["anchor"], "proof_length")
                << " hashes (veil audit checks it)\n";
    }
  } else {
    std::cout << "  anchored   not yet\n";
  }
  if (j.contains("decisions")) {
    for (const auto& d : j["decisions"]) {
      const std::string hash = text(d, "hash");
      std::cout << "  scheduler  " << text(d, "scheduler") << "  "
                << (hash.empty() ? "no decision (yet)" : hash.substr(0, 16) + (d.value("agreed", false) ? "  agreed" : "  DISAGREED"))
                << "\n";
    }
  }
  for (const auto& w : j["warnings"]) std::cout << "  WARNING    " << w.get<std::string>() << "\n";
  if (j.contains("events")) {
    std::cout << "  events:\n";
    for (const auto& e : j["events"]) std::cout << "    " << e["at"].get<std::int64_t>() << "  " << text(e, "message") << "\n";
  }
}

int cmd_job_run(const GlobalOptions& global, const JobArgs& a) {
  // Checked here first, as `veil job validate` does: a bad spec is reported with its location
  // without a round trip, and only UTF-8 text (all JSON can carry) is sent.
  auto spec = read_file(a.spec_file, kJobSpecFile);
  if (!spec.ok()) return fail(spec.status());
  auto parsed = sched::parse_job_spec(*spec, a.spec_file);
  if (!parsed.ok()) return fail(parsed.status());
  // Secrets are read here, on the submitting machine, and sent to the local node only.
  json secrets = json::object();
  for (const auto& [name, source] : parsed->secrets) {
    std::string value;
    if (source.kind == sched::SecretSource::Kind::kEnv) {
      const char* env = std::getenv(source.from.c_str());
      if (env == nullptr) return fail("secret " + name + ": environment variable " + source.from + " is not set");
      value = env;
    } else {
      auto text = read_file(source.from, kSecretFile);
      if (!text.ok()) return fail(text.status().with_context("secret " + name));
      value = std::move(*text);
    }
    secrets[name] = to_hex(as_bytes(value));
    secure_wipe(value.data(), value.size());
  }
  auto api = open_api(global, a.api);
  if (!api.ok()) return fail(api.status());
  json body{{"spec", *spec}};
  if (!secrets.empty()) body["secrets"] = std::move(secrets);
  auto job = api->post("/v1/jobs", body);
  if (!job.ok()) return fail(job.status());
  const std::string id = text(*job, "id");
  if (!a.wait) {
    if (structured_output(global.output)) print_data(*job, global.output);
    else std::cout << "job " << text(*job, "name") << " submitted: " << id << " (veil job status " << id.substr(0, 12) << ")\n";
    return kExitOk;
  }
  // --wait: the round timeline as it happens (round_timeline.h), until the replicas run and the
  // deployment is anchored, or the job fails — as `kubectl rollout status` follows a rollout.
  std::cerr << "job " << text(*job, "name") << " submitted: " << id << "\n";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(a.timeout_s);
  StepProgress steps("job " + text(*job, "name"), kRoundTimelineSteps);
  std::size_t steps_done = 0;
  std::size_t events_seen = 0;
  for (;;) {
    auto status = api->get("/v1/jobs/" + id);
    if (!status.ok()) return fail(status.status());
    const auto& events = (*status)["events"];
    const auto timeline = round_timeline(events);
    std::set<std::string> step_messages;
    for (const auto& step : timeline) {
      if (step.at_ms) step_messages.insert(step.message);
    }
    // Events that mark no step (a scheduler named for disagreeing, a retry, a refusal) as notes.
    for (; events.is_array() && events_seen < events.size(); ++events_seen) {
      const std::string message = text(events[events_seen], "message");
      if (step_messages.count(message) == 0) steps.note(message);
    }
    for (; steps_done < timeline.size() && timeline[steps_done].at_ms; ++steps_done) {
      const auto& step = timeline[steps_done];
      if (steps.steps_begun() <= steps_done) steps.begin(step.step + ": " + step.what);
      std::string summary = step.step;
      if (step.took_ms) summary += " " + format_duration(std::chrono::milliseconds(*step.took_ms));
      steps.finish(summary + "  " + step.message);
    }
    if (steps_done < timeline.size() && steps.steps_begun() <= steps_done) {
      steps.begin(timeline[steps_done].step + ": " + timeline[steps_done].what);
    }
    if (const std::string pulls = pull_progress((*status)["placement"]); !pulls.empty()) steps.detail(pulls);
    const std::string state = text(*status, "state");
    const bool anchored = !(*status)["anchor"].is_null();
    if ((state == "running" && anchored) || state == "succeeded" || state == "failed" || state == "stopped") {
      steps.finish();
      if (structured_output(global.output)) print_data(*status, global.output);
      else print_job(*status);
      return state == "running" || state == "succeeded" ? kExitOk : kExitFailure;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      steps.finish();
      return fail("job " + id + " is still " + state + " after " + std::to_string(a.timeout_s) + " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

int cmd_job_ls(const GlobalOptions& global, const JobArgs& a) {
  auto api = open_api(global, a.api);
  if (!api.ok()) return fail(api.status());
  auto jobs = api->get("/v1/jobs");
  if (!jobs.ok()) return fail(jobs.status());
  if (structured_output(global.output)) {
    print_data(*jobs, global.output);
    return kExitOk;
  }
  const bool wide = global.output == "wide";  // full job id and peer ids, and the image
  std::vector<std::vector<std::string>> rows = {{"ID", "NAME", "STATE", "REPLICAS", "NODES", "ANCHORED"}};
  if (wide) rows[0].push_back("IMAGE");
  for (const auto& j : *jobs) {
    int running = 0;
    std::string nodes;
    for (const auto& p : j["placement"]) {
      if (text(p, "state") == "running") ++running;
      const std::string node = text(p, "node");
      if (!node.empty()) nodes += (nodes.empty() ? "" : ",") + (wide ? node : short_peer(node));
    }
    rows.push_back({wide ? text(j, "id") : text(j, "id").substr(0, 12), text(j, "name"), text(j, "state"),
                    std::to_string(running) + "/" + text(j, "replicas"), nodes, j["anchor"].is_null() ? "no" : "yes"});
    if (wide) rows.back().push_back(text(j, "image"));
  }
  print_table(rows);
  return kExitOk;
}

int cmd_job_status(const GlobalOptions& global, const JobArgs& a) {
  auto api = open_api(global, a.api);
  if (!api.ok()) return fail(api.status());
  auto job = api->get("/v1/jobs/" + a.job);
  if (!job.ok()) return fail(job.status());
  if (structured_output(global.output)) print_data(*job, global.output);
  else print_job(*job);
  return kExitOk;
}

int cmd_job_logs(const GlobalOptions& global, const JobArgs& a) {
  auto api = open_api(global, a.api);
  if (!api.ok()) return fail(api.status());
  auto fetch = [&]() -> Result<json> {
    VEIL_ASSIGN_OR_RETURN(json logs, api->get("/v1/jobs/" + a.job + "/logs?tail=" + std::to_string(a.tail)));
    json kept = json::array();
    for (auto& l : logs) {
      if (a.replica < 0 || l.contains("error") || (l.contains("replica") && l["replica"] == a.replica)) kept.push_back(std::move(l));
    }
    return kept;
  };
  auto logs = fetch();
  if (!logs.ok()) return fail(logs.status());
  const bool refused = std::any_of(logs->begin(), logs->end(), [](const json& l) { return l.contains("error"); });
  if (structured_output(global.output)) {
    print_data(*logs, global.output);
    return refused ? kExitFailure : kExitOk;
  }
  if (std::none_of(logs->begin(), logs->end(), [](const json& l) { return l.contains("logs"); }) && !refused) {
    std::cerr << "no replica of " << printable(a.job) << (a.replica >= 0 ? " numbered " + std::to_string(a.replica) : "")
              << " runs anywhere yet (veil job status shows why)\n";
    return kExitFailure;
  }
  std::map<std::string, std::string> shown;  // "replica@node" -> the lines last fetched
  const bool several = logs->size() > 1;
  auto print = [&](const json& batch, bool first) {
    for (const auto& l : batch) {
      if (l.contains("error")) {
        if (first) std::cerr << "veil: node " << text(l, "node") << " did not send its logs: " << text(l, "error") << "\n";
        continue;
      }
      const std::string key = text(l, "replica") + "@" + text(l, "node");
      const std::string now = text(l, "logs");
      const std::string added = first ? now : lines_added(shown[key], now);
      shown[key] = now;
      if (added.empty()) continue;
      if (first || several) std::cout << "==> replica " << text(l, "replica") << " on " << text(l, "node") << " <==\n";
      std::cout << added << std::flush;
    }
  };
  print(*logs, true);
  // --follow polls: the executor answers with a replica's last lines, and only the lines past
  // what the previous answer showed are printed. Ends with Ctrl-C.
  while (a.follow) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto next = fetch();
    if (!next.ok()) {
      std::cerr << "veil: " << next.status().message() << " (still following)\n";
      continue;
    }
    print(*next, false);
  }
  return refused ? kExitFailure : kExitOk;
}

int cmd_job_stop(const GlobalOptions& global, const JobArgs& a) {
  auto api = open_api(global, a.api);
  if (!api.ok()) return fail(api.status());
  auto job = api->del("/v1/jobs/" + a.job);
  if (!job.ok()) return fail(job.status());
  if (structured_output(global.output)) print_data(*job, global.output);
  else std::cout << "job " << text(*job, "name") << " stopped\n";
  return kExitOk;
}

int cmd_job_history(const GlobalOptions& global, const JobArgs& a) {
  auto api = open_api(global, a.api);
  if (!api.ok()) return fail(api.status());
  auto job = api->get("/v1/jobs/" + a.job);
  if (!job.ok()) return fail(job.status());
  const json history = job->value("history", json::array());
  if (structured_output(global.output)) {
    print_data(history, global.output);
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {{"VERSION", "ID", "SUBMITTED", "CAUSE", ""}};
  for (const auto& v : history) {
    const bool current = text(v, "version") == text(*job, "version");  // a revert shares an older version's id
    rows.push_back({text(v, "version"), text(v, "id").substr(0, 12), utc_time(v.value("submitted_at", std::uint64_t{0}) / 1000),
                    text(v, "cause"), current ? "<- " + text(*job, "state") : ""});
  }
  print_table(rows);
  return kExitOk;
}

int cmd_job_revert(const GlobalOptions& global, const JobArgs& a) {
  auto api = open_api(global, a.api);
  if (!api.ok()) return fail(api.status());
  auto job = api->post("/v1/jobs/" + a.job + "/revert", json{{"version", a.version}});
  if (!job.ok()) return fail(job.status());
  if (structured_output(global.output)) print_data(*job, global.output);
  else std::cout << "job " << text(*job, "name") << ": version " << text(*job, "version") << " submitted with the spec of version " << a.version << " (id " << text(*job, "id") << ")\n";
  return kExitOk;
}

}  // namespace

Result<json> job_from_node(const GlobalOptions& global, const std::string& job, const std::string& api_addr,
                           const std::string& token) {
  VEIL_ASSIGN_OR_RETURN(auto api, open_api(global, ApiOptions{api_addr, token}));
  return api.get("/v1/jobs/" + job);
}

void register_node_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto* node = get_or_add_subcommand(app, "node", "Cluster nodes");
  auto* run = node->add_subcommand("run", "Run this machine's node until SIGTERM (settings: --config file and VEIL_* env)");
  run->callback([&global, &action] { action = [&global] { return cmd_node_run(global); }; });

  auto api = std::make_shared<ApiOptions>();
  auto* ls = node->add_subcommand("ls", "Cluster members as this node sees them (SWIM state and chain registration)");
  add_api_options(ls, *api, global);
  ls->callback([&global, &action, api] { action = [&global, api] { return cmd_node_ls(global, *api); }; });

  auto* job = get_or_add_subcommand(app, "job", "Submit and inspect jobs");
  auto args = std::make_shared<JobArgs>();
  auto* jrun = job->add_subcommand("run", "Submit a job spec to a node; it is placed on encrypted telemetry");
  jrun->add_option("spec", args->spec_file, "Job spec YAML (docs/jobspec.md)")->required()->check(CLI::ExistingFile);
  jrun->add_flag("--wait", args->wait, "Follow the job's events until its replicas run and the deployment is anchored");
  jrun->add_option("--timeout", args->timeout_s, "Seconds to wait with --wait (default 600)");
  add_api_options(jrun, args->api, global);
  jrun->callback([&global, &action, args] { action = [&global, args] { return cmd_job_run(global, *args); }; });

  auto* jls = job->add_subcommand("ls", "Jobs this node coordinates");
  add_api_options(jls, args->api, global);
  jls->callback([&global, &action, args] { action = [&global, args] { return cmd_job_ls(global, *args); }; });

  auto* jstatus = job->add_subcommand("status", "Placement, container states, decisions and the anchor of a job");
  jstatus->add_option("job", args->job, "Job name, id or id prefix")->required();
  add_api_options(jstatus, args->api, global);
  jstatus->callback([&global, &action, args] { action = [&global, args] { return cmd_job_status(global, *args); }; });

  auto* jlogs = job->add_subcommand("logs", "Output of the job's replicas, from every node that runs one");
  jlogs->add_option("job", args->job, "Job name, id or id prefix")->required();
  jlogs->add_option("--tail", args->tail, "Last lines per replica (default 200)");
  jlogs->add_option("--replica", args->replica, "Only this replica (its index in the job)")->check(CLI::Range(0, 63));
  jlogs->add_flag("-f,--follow", args->follow, "Keep printing new lines (polls every 2 s) until interrupted");
  add_api_options(jlogs, args->api, global);
  jlogs->callback([&global, &action, args] { action = [&global, args] { return cmd_job_logs(global, *args); }; });

  auto* jstop = job->add_subcommand("stop", "Stop a job: its replicas are stopped and removed");
  jstop->add_option("job", args->job, "Job name, id or id prefix")->required();
  add_api_options(jstop, args->api, global);
  jstop->callback([&global, &action, args] { action = [&global, args] { return cmd_job_stop(global, *args); }; });

  auto* jhistory = job->add_subcommand("history", "The versions of a job: each changed spec run under its name is the next one");
  jhistory->add_option("job", args->job, "Job name, id or id prefix")->required();
  add_api_options(jhistory, args->api, global);
  jhistory->callback([&global, &action, args] { action = [&global, args] { return cmd_job_history(global, *args); }; });

  auto* jrevert = job->add_subcommand("revert", "Run an earlier version's spec again, as the job's next version");
  jrevert->add_option("job", args->job, "Job name, id or id prefix")->required();
  jrevert->add_option("version", args->version, "The version to go back to (veil job history)")->required()->check(CLI::PositiveNumber);
  add_api_options(jrevert, args->api, global);
  jrevert->callback([&global, &action, args] { action = [&global, args] { return cmd_job_revert(global, *args); }; });
}

}  // namespace veil::cli
