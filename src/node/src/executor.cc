// The executor role (executor.h).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "executor.h"

#include "secret_box.h"

#include <algorithm>
#include <optional>

#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "veil/chain/veil_registry.h"
#include "veil/common/log.h"
#include "veil/node/job_replication.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
using fhe::threshold::DecryptionShare;

auto logger() { return log::get("executor"); }

std::string replica_key(const Hash32& job, std::uint32_t replica) { return hash_hex(job) + "/" + std::to_string(replica); }

// A free TCP port on 127.0.0.1 right now; chosen once per replica and then kept.
std::uint16_t pick_free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Whether the engine refused to create or restart a container because its host port is taken:
// another process — or, on a host shared by several nodes, another node's replica — bound it
// since the port was picked. (The engine says so only in its message.)
bool port_taken(const runtime::ReconcileError& error) {
  if (error.action != "create" && error.action != "restart") return false;
  const std::string& m = error.status.message();
  return m.find("port is already allocated") != std::string::npos || m.find("address already in use") != std::string::npos;
}

nlohmann::json replica_json(const LocalReplica& r) {
  return {{"job", hash_hex(r.job)}, {"replica", r.replica}, {"round", r.round}, {"coordinator", r.coordinator}, {"spec", r.spec_yaml},
          {"host_port", r.host_port}, {"owner", r.owner}, {"sealed_secrets", sealed_secrets_json(r.sealed_secrets)}};
}

Result<LocalReplica> replica_from_json(const nlohmann::json& j) {
  try {
    LocalReplica r;
    VEIL_ASSIGN_OR_RETURN(r.job, parse_hash_hex(j.at("job").get<std::string>()));
    r.replica = j.at("replica");
    r.round = j.value("round", 0u);  // absent in documents written before rounds were kept
    r.coordinator = j.at("coordinator");
    r.owner = j.value("owner", std::string());  // absent in documents written before owners
    if (auto sealed = j.find("sealed_secrets"); sealed != j.end()) {
      VEIL_ASSIGN_OR_RETURN(r.sealed_secrets, sealed_secrets_from_json(*sealed));
    }
    r.spec_yaml = j.at("spec");
    r.host_port = j.at("host_port");
    VEIL_ASSIGN_OR_RETURN(r.spec, sched::parse_job_spec(r.spec_yaml, "stored replica"));
    return r;
  } catch (const nlohmann::json::exception& e) {
    return data_loss(std::string("stored replica is malformed: ") + e.what());
  }
}

}  // namespace

Executor::Executor(NodeContext& context, std::unique_ptr<runtime::Driver> driver, std::string reason,
                   runtime::ReconcilerOptions options)
    : ctx_(context),
      driver_(std::move(driver)),
      driver_reason_(std::move(reason)),
      stop_grace_(options.stop_grace),
      own_containers_({{std::string(runtime::kLabelCluster), options.cluster}}),
      reconciler_(std::make_unique<runtime::Reconciler>(*driver_, with_pull_reports(std::move(options)))) {}

runtime::ReconcilerOptions Executor::with_pull_reports(runtime::ReconcilerOptions options) {
  options.on_pull_progress = [this](const std::string& job, const std::string& replica, const std::string& image,
                                    const runtime::PullProgress& progress) {
    ctx_.post([this, job, replica, image, progress] { report_pull(job, replica, image, progress); });
  };
  return options;
}

LocalReplica* Executor::replica_labelled(const std::string& job_label, const std::string& replica_text) {
  for (auto& [key, replica] : local_) {
    if (hash_hex(key.first).substr(0, job_label.size()) == job_label && std::to_string(key.second) == replica_text) return &replica;
  }
  return nullptr;
}

void Executor::report_pull(const std::string& job_label, const std::string& replica_text, const std::string& image,
                           const runtime::PullProgress& progress) {
  LocalReplica* replica = job_label.empty() ? nullptr : replica_labelled(job_label, replica_text);
  if (replica == nullptr || replica->given_up || replica->settled) return;
  constexpr std::int64_t kReportEveryMs = 1000;
  const std::int64_t now = ctx_.now_ms();
  replica->pull = ImagePull{image, static_cast<std::uint32_t>(progress.layers), static_cast<std::uint32_t>(progress.layers_done),
                            progress.bytes_done, progress.bytes_total};
  const bool complete = progress.layers > 0 && progress.layers_done == progress.layers;
  if (replica->pull_reported_ms >= 0 && now - replica->pull_reported_ms < kReportEveryMs && !complete) return;
  replica->pull_reported_ms = now;
  ReplicaReport report{replica->job, replica->replica, std::string(phase_name(ReplicaPhase::kStarting)), "",
                       "pulling image " + image, static_cast<std::uint64_t>(now)};
  report.pull = replica->pull;
  // A refusal is acted on by the next state report, which the pass after the pull sends.
  send_report(*replica, report, [](Result<Bytes>) {});
}

void Executor::send_report(const LocalReplica& replica, const ReplicaReport& report, std::function<void(Result<Bytes>)> on_reply) {
  if (replica.coordinator == ctx_.self()) {
    // Answered later, on the io thread: the answer may remove an entry of local_.
    ctx_.report_to_local_coordinator(encode(report), [this, on_reply = std::move(on_reply)](Bytes reply) {
      ctx_.post([on_reply, reply = std::move(reply)]() mutable { on_reply(std::move(reply)); });
    });
  } else {
    ctx_.request(replica.coordinator, kReportProtocol, encode(report), std::move(on_reply));
  }
}

Executor::~Executor() = default;

void Executor::handle_assignment(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
  auto answer = [reply](const std::string& error) { reply(encode(AssignmentAck{error})); };
  auto assignment = decode_assignment(message);
  if (!assignment.ok()) return answer(assignment.status().message());
  const auto key = std::make_pair(assignment->job_id, assignment->replica);
  if (assignment->stop) {
    auto it = local_.find(key);
    if (it != local_.end() && it->second.coordinator != peer) return answer("only the job's coordinator may stop it");
    // Also when nothing runs here yet: an assignment of this round may still be on its way,
    // or still being checked, and must not start a container once it arrives.
    stop_fence_.record_stop(key.first, key.second, peer, assignment->round);
    if (it == local_.end()) return answer("");
    local_.erase(it);
    (void)ctx_.store().erase(kReplicaDoc, replica_key(key.first, key.second));
    logger()->info("replica {} of job {} stopped by its coordinator", key.second, hash_hex(key.first).substr(0, 12));
    answer("");
    reconcile_now();
    return;
  }
  if (!refusal_.empty()) return answer(refusal_);
  const Assignment a = std::move(*assignment);
  if (!stop_fence_.admits(a.job_id, a.replica, peer, a.round)) return answer("the coordinator stopped this replica");
  ctx_.when_decision_agreed(peer, a.job_id, a.round, a.record, [this, peer, assignment = a, answer, key](
                                                                     const Result<std::string>& agreed, const ScheduleRequest* round) {
    if (!agreed.ok()) return answer(agreed.status().message());
    const auto& request = *round;
    const ClusterKeys& keys = ctx_.keys();
    auto values = decision_values(assignment.record, request.replicas, keys.public_key.params());
    if (!values.ok()) return answer(values.status().message());
    const std::size_t c = assignment.choice;
    if (2 * c + 1 >= values->size() || assignment.shares.size() != values->size()) return answer("assignment names no replica choice");
    auto combine = [&](std::size_t v) -> Result<std::uint64_t> {
      std::vector<DecryptionShare> shares;
      for (const auto& bytes : assignment.shares[v]) {
        VEIL_ASSIGN_OR_RETURN(auto s, DecryptionShare::deserialize(bytes));
        shares.push_back(std::move(s));
      }
      VEIL_ASSIGN_OR_RETURN(auto r, fhe::threshold::combine(keys.committee,
                                                            decision_request(assignment.job_id, assignment.round, v, (*values)[v]),
                                                            shares));
      return r.value;
    };
    auto index = combine(2 * c);
    auto found = combine(2 * c + 1);
    if (!index.ok() || !found.ok()) return answer("the shares do not decrypt the decision");
    if (*found != 1 || *index >= request.nodes.size() || request.nodes[*index].peer != ctx_.self()) {
      return answer("the decision does not place this replica on this node");
    }
    auto spec = sched::parse_job_spec(request.spec_yaml, "job");
    if (!spec.ok()) return answer(spec.status().message());
    auto digest = chain::parse_image_digest(spec->image.digest);
    if (!digest.ok()) return answer(digest.status().message());
    // The chain decides whether this image may run here: a blocking call, off the io thread.
    ctx_.post_blocking([this, peer, answer, key, round = assignment.round, spec = *spec, spec_yaml = request.spec_yaml,
                        digest = *digest, owner = assignment.owner, secrets = assignment.secrets] {
      auto allowed = ctx_.image_allowed(digest);
      ctx_.post([this, peer, answer, key, round, spec, spec_yaml, allowed, owner, secrets] {
        // A stop may have come while the chain was asked.
        if (!stop_fence_.admits(key.first, key.second, peer, round)) return answer("the coordinator stopped this replica");
        if (!allowed.ok()) return answer("cannot check the image on chain: " + allowed.status().message());
        if (!*allowed) {
          logger()->warn("refused job {}: image {} is not allowed on chain", hash_hex(key.first).substr(0, 12),
                         spec.image.to_string());
          return answer("image " + spec.image.digest + " is not allowed on chain");
        }
        accept(peer, key, round, spec, spec_yaml, owner, secrets, answer);
      });
    });
  });
}

// Records the checked assignment and runs it.
void Executor::accept(const std::string& peer, const ReplicaKey& key, std::uint32_t round, const sched::JobSpec& spec,
                      const std::string& spec_yaml, const std::string& owner,
                      const std::map<std::string, Bytes>& sealed_secrets, std::function<void(const std::string&)> answer) {
  for (const auto& [name, source] : spec.secrets) {
    if (sealed_secrets.count(name) == 0) return answer("the assignment lacks secret " + name + " of the job");
  }
  if (auto opened = ctx_.open_secrets(sealed_secrets); !opened.ok()) return answer(opened.status().message());
  for (const auto& volume : spec.volumes) {
    if (host_volumes_.count(volume.source) == 0) return answer("this node does not offer host volume " + volume.source);
  }
  LocalReplica replica;
  replica.job = key.first;
  replica.replica = key.second;
  replica.round = round;
  replica.coordinator = peer;
  replica.owner = owner;
  replica.sealed_secrets = sealed_secrets;
  replica.spec_yaml = spec_yaml;
  replica.spec = spec;
  supervise(replica);
  if (auto existing = local_.find(key); existing != local_.end()) replica.host_port = existing->second.host_port;
  if (replica.host_port == 0 && !spec.ports.empty()) {
    replica.host_port = spec.ports.front().host_port != 0 ? spec.ports.front().host_port : pick_free_port();
  }
  if (auto st = ctx_.store().put(kReplicaDoc, replica_key(key.first, key.second), replica_json(replica)); !st.ok()) {
    return answer("cannot record the replica: " + st.message());
  }
  local_[key] = replica;
  logger()->info("accepted replica {} of job {} ({})", key.second, hash_hex(key.first).substr(0, 12), spec.image.to_string());
  answer("");
  reconcile_now();
}

void Executor::start() {
  auto docs = ctx_.store().all(kReplicaDoc);
  if (docs.ok()) {
    for (const auto& doc : *docs) {
      auto r = replica_from_json(doc);
      if (r.ok()) {
        supervise(*r);
        local_[{r->job, r->replica}] = std::move(*r);
      }
      else logger()->error("state: skipping a replica: {}", r.status().to_string());
    }
  }
  reconcile_timer_ = std::make_unique<asio::steady_timer>(ctx_.io());
  auto tick = std::make_shared<std::function<void()>>();
  *tick = [this, tick] {
    reconcile_timer_->expires_after(pass_interval());
    reconcile_timer_->async_wait([this, tick](const boost::system::error_code& ec) {
      if (ec || ctx_.stopping()) return;
      reconcile_now();
      (*tick)();
    });
  };
  reconcile_now();
  (*tick)();
}

void Executor::stop() {
  if (reconcile_timer_) reconcile_timer_->cancel();
}

sched::FreeCapacity Executor::reserved_capacity() const {
  sched::FreeCapacity reserved;
  for (const auto& [key, replica] : local_) {
    if (replica.finished || replica.given_up) continue;  // its container no longer runs
    reserved.cpu_millicores += replica.spec.resources.cpu_millicores;
    reserved.memory_mib += replica.spec.resources.memory_mib;
    reserved.disk_mib += replica.spec.resources.disk_mib;
    reserved.gpus += replica.spec.resources.gpus;
  }
  return reserved;
}

std::vector<Executor::ReplicaLogs> Executor::logs(const std::string& wanted, int tail) {
  std::vector<ReplicaLogs> out;
  for (const auto& [key, replica] : local_) {
    if (match_job(wanted, key.first, replica.spec.name) == JobMatch::kNone) continue;
    const std::string hex = hash_hex(key.first);
    std::string text;
    runtime::LabelSelector selector = own_containers_;
    selector[std::string(runtime::kLabelJob)] = hex.substr(0, 32);
    selector[std::string(runtime::kLabelReplica)] = std::to_string(key.second);
    auto containers = driver_->list(selector, true);
    if (containers.ok() && !containers->empty()) {
      runtime::LogOptions options;
      options.tail = tail;
      (void)driver_->logs(containers->front().id, options, [&text](runtime::LogStream, std::string_view bytes) {
        text.append(bytes);
        return text.size() < (1 << 20);
      });
    }
    out.push_back({key.first, key.second, std::move(text)});
  }
  return out;
}

void Executor::handle_logs_request(const std::string& peer, Bytes message, std::function<void(Bytes)> reply) {
  auto request = decode_logs_request(message);
  if (!request.ok()) {
    reply(encode(LogsReply{request.status().message(), {}}));
    return;
  }
  // Only the job's own operator reads its output (a workload's logs are its owner's business).
  for (const auto& [key, replica] : local_) {
    if (key.first != request->job_id || replica.owner.empty()) continue;
    const auto requester = ctx_.operator_of(peer);
    if (!requester || requester->to_checksum() != replica.owner) {
      log::get("node")->info("logs of job {} refused to {}: operator {} is not the job's owner {}",
                             hash_hex(request->job_id).substr(0, 12), peer, requester ? requester->to_checksum() : "unknown",
                             replica.owner);
      reply(encode(LogsReply{"the logs of job " + hash_hex(request->job_id).substr(0, 12) + " are for nodes of its operator " +
                                 replica.owner + " only",
                             {}}));
      return;
    }
    break;
  }
  auto logs = this->logs(hash_hex(request->job_id), static_cast<int>(request->tail));
  // Every replica's end fits: the reply stays well under the protocol's message limit.
  constexpr std::size_t kReplyBudget = 12u << 20;
  const std::size_t each = std::min(kMaxReplicaLogBytes, kReplyBudget / std::max<std::size_t>(1, logs.size()));
  LogsReply out;
  for (auto& l : logs) {
    std::string text = std::move(l.text);
    if (text.size() > each) {
      // Keep whole lines where one ends inside the part kept.
      std::size_t cut = text.size() - each;
      const std::size_t newline = text.find('\n', cut);
      if (newline != std::string::npos && newline + 1 < text.size()) cut = newline + 1;
      text.erase(0, cut);
    }
    out.replicas.push_back({l.replica, std::move(text)});
  }
  log::get("node")->debug("logs of job {}: {} replica(s) for {}", hash_hex(request->job_id).substr(0, 12),
                          out.replicas.size(), peer);
  reply(encode(out));
}

runtime::ContainerSpec Executor::container_spec(const LocalReplica& r) const {
  runtime::ContainerSpec c;
  const auto& spec = r.spec;
  const bool processes = driver_->name() == "process";
  // By digest alone: the tag is informational, the digest is what the chain allowed.
  c.image = spec.image.repository + "@" + spec.image.digest;
  c.command = spec.command;
  c.env = spec.env;
  c.env["VEIL_JOB"] = hash_hex(r.job);
  c.env["VEIL_REPLICA"] = std::to_string(r.replica);
  // Opened for each pass rather than kept open: the values live in memory only as long as the
  // driver call that needs them. accept() checked that they open.
  if (!r.sealed_secrets.empty()) {
    if (auto secrets = ctx_.open_secrets(r.sealed_secrets); secrets.ok()) {
      for (auto& [name, value] : *secrets) c.env[name] = std::move(value);
    }
  }
  c.labels = spec.labels;
  c.labels[std::string(runtime::kLabelJob)] = hash_hex(r.job).substr(0, 32);
  c.labels[std::string(runtime::kLabelReplica)] = std::to_string(r.replica);
  for (std::size_t i = 0; i < spec.ports.size(); ++i) {
    runtime::PortBinding p;
    p.container_port = spec.ports[i].container_port;
    p.host_port = i == 0 ? r.host_port : spec.ports[i].host_port;
    p.protocol = spec.ports[i].protocol;
    c.ports.push_back(p);
  }
  c.nano_cpus = static_cast<std::int64_t>(spec.resources.cpu_millicores) * 1'000'000;
  c.memory_bytes = static_cast<std::int64_t>(spec.resources.memory_mib) << 20;
  for (const auto& volume : spec.volumes) {
    // accept() refused a replica whose volume this node does not offer; a config changed since
    // (a restart without the volume) leaves the mount out, and the reconciler's error says so.
    auto host = host_volumes_.find(volume.source);
    if (host != host_volumes_.end()) c.mounts.push_back({host->second.string(), volume.path, volume.read_only});
  }
  if (processes) {
    // No images without an engine: the command's first word is the executable, and a process
    // binds the host port itself (the driver cannot translate ports).
    if (!c.command.empty()) c.image = c.command.front();
    for (auto& arg : c.command) {
      for (const auto& p : c.ports) {
        const std::string port = std::to_string(p.container_port);
        if (arg == port) arg = std::to_string(p.host_port);
        else if (arg.ends_with(":" + port)) arg = arg.substr(0, arg.size() - port.size()) + std::to_string(p.host_port);
      }
    }
  }
  return c;
}

void Executor::supervise(LocalReplica& replica) {
  replica.restarts = RestartTracker(replica.spec.restart);
  if (replica.spec.health) replica.health.emplace(*replica.spec.health);
}

std::chrono::milliseconds Executor::pass_interval() const {
  std::chrono::milliseconds interval = std::chrono::seconds(2);
  for (const auto& [key, replica] : local_) {
    if (replica.health) interval = std::min(interval, replica.health->check().interval);
  }
  return interval;
}

HealthTarget Executor::health_target(const LocalReplica& r) const {
  HealthTarget target;
  target.container_id = r.container_id;
  target.driver = driver_.get();
  if (!r.health) return target;
  for (const auto& p : container_spec(r).ports) {
    if (p.container_port == r.health->check().port && p.protocol == "tcp") target.port = p.host_port;
  }
  return target;
}

void Executor::reconcile_now() {
  if (reconcile_running_) return;
  reconcile_running_ = true;
  const std::int64_t now = ctx_.now_ms();
  struct Restart {
    ReplicaKey key;
    std::string container;
    bool stop_first = false;
  };
  struct Check {
    ReplicaKey key;
    sched::HealthCheckSpec spec;
    HealthTarget target;
    Status result;
  };
  std::vector<runtime::DesiredContainer> desired;
  std::vector<Restart> restarts;
  std::vector<Check> checks;
  for (auto& [key, replica] : local_) {
    if (replica.given_up) continue;  // its container goes; the replica goes once its coordinator knows
    runtime::DesiredContainer want{container_spec(replica)};
    want.restart_exited = false;  // restarts follow the job's restart policy (observe())
    desired.push_back(std::move(want));
    if (replica.restart_at_ms >= 0 && now >= replica.restart_at_ms && !replica.container_id.empty()) {
      restarts.push_back({key, replica.container_id, replica.stop_before_restart});
      replica.restart_at_ms = -1;
      replica.stop_before_restart = false;
    } else if (replica.health && replica.was_running && replica.restart_at_ms < 0 && replica.health->due(now)) {
      checks.push_back({key, replica.health->check(), health_target(replica), {}});
    }
  }
  runtime_worker_.post([this, desired = std::move(desired), restarts = std::move(restarts), checks = std::move(checks),
                      now]() mutable {
    std::vector<runtime::ContainerInfo> containers;
    std::vector<runtime::ReconcileError> errors;
    if (auto st = reconciler_->set_desired(std::move(desired)); !st.ok()) {
      logger()->error("reconcile: {}", st.to_string());
    } else if (auto report = reconciler_->reconcile(); !report.ok()) {
      logger()->warn("reconcile: {}", report.status().to_string());
    } else {
      for (const auto& e : report->errors) logger()->warn("reconcile: {}", e.to_string());
      for (const auto& r : restarts) {
        if (r.stop_first) {
          if (auto st = driver_->stop(r.container, stop_grace_); !st.ok()) logger()->warn("restart: {}", st.to_string());
        }
        if (auto st = driver_->start(r.container); !st.ok()) logger()->warn("restart: {}", st.to_string());
      }
      for (auto& c : checks) c.result = run_health_check(c.spec, c.target);
      auto listed = driver_->list(own_containers_, true);
      if (listed.ok()) containers = std::move(*listed);
      errors = std::move(report->errors);
    }
    ctx_.post([this, containers = std::move(containers), errors = std::move(errors), restarts = std::move(restarts),
               checks = std::move(checks), now] {
      reconcile_running_ = false;
      for (const auto& e : errors) {
        if (port_taken(e)) move_off_taken_port(e.job, e.replica);
      }
      // Any pull this pass ran is over: the next report carries none (the coordinator notes
      // the pull's end), and says why a container could not be created, a failed pull included.
      for (auto& [key, replica] : local_) {
        std::string start_error;
        for (const auto& e : errors) {
          if (e.action == "create" && replica_labelled(e.job, e.replica) == &replica) start_error = e.status.message();
        }
        if (replica.pull || start_error != replica.start_error) replica.last_reported.clear();
        replica.pull.reset();
        replica.pull_reported_ms = -1;
        replica.start_error = std::move(start_error);
      }
      for (const auto& r : restarts) {
        auto it = local_.find(r.key);
        if (it == local_.end()) continue;
        // Whatever is seen next is a new run: its health starts afresh, and an exit is a new failure.
        it->second.was_running = false;
        it->second.exit_code.reset();
        logger()->info("replica {} of job {} restarted under its restart policy", r.key.second,
                       hash_hex(r.key.first).substr(0, 12));
      }
      for (const auto& c : checks) {
        auto it = local_.find(c.key);
        if (it != local_.end() && it->second.health) it->second.health->record(now, c.result);
      }
      report_replicas(containers);
    });
  });
}

void Executor::move_off_taken_port(const std::string& job_label, const std::string& replica_text) {
  LocalReplica* replica = replica_labelled(job_label, replica_text);
  // Only a port this node picked moves; a port the spec fixes is the operator's to free.
  if (replica == nullptr || replica->spec.ports.empty() || replica->spec.ports.front().host_port != 0) return;
  const std::uint16_t taken = replica->host_port;
  replica->host_port = pick_free_port();
  if (replica->host_port == 0 || replica->host_port == taken) return;
  const std::string job = hash_hex(replica->job).substr(0, 12);
  if (auto st = ctx_.store().put(kReplicaDoc, replica_key(replica->job, replica->replica), replica_json(*replica)); !st.ok()) {
    logger()->error("replica {} of job {}: cannot record its new port: {}", replica->replica, job, st.to_string());
  }
  logger()->warn("replica {} of job {}: host port {} is taken on this host; it moves to port {}", replica->replica, job, taken,
                 replica->host_port);
}

void Executor::plan_restart(LocalReplica& r, std::int64_t now_ms, bool stop_first, const std::string& why) {
  const auto plan = r.restarts.on_failure(now_ms);
  const sched::RestartPolicy& policy = r.restarts.policy();
  if (plan.give_up) {
    r.given_up = true;
    r.failure = why + "; " + std::to_string(policy.attempts) + " restart(s) in " + sched::format_duration(policy.interval) +
                " used up";
    logger()->warn("replica {} of job {}: {}; giving it up", r.replica, hash_hex(r.job).substr(0, 12), r.failure);
    return;
  }
  r.restart_at_ms = plan.restart_at_ms;
  r.stop_before_restart = stop_first;
  logger()->info("replica {} of job {}: {}; restart {}/{} in {}", r.replica, hash_hex(r.job).substr(0, 12), why, plan.attempt,
                 policy.attempts, sched::format_duration(std::chrono::milliseconds(plan.restart_at_ms - now_ms)));
}

ReplicaPhase Executor::observe(LocalReplica& r, const runtime::ContainerInfo* c, std::string& detail) {
  const std::int64_t now = ctx_.now_ms();
  if (r.finished) return ReplicaPhase::kSucceeded;
  if (c == nullptr) {
    detail = r.start_error;
    return r.given_up ? ReplicaPhase::kFailed : ReplicaPhase::kStarting;
  }
  r.container_id = c->id;
  detail = c->error.empty() ? c->id.substr(0, 12) : c->error;
  if (c->running()) {
    if (!r.was_running && r.health) r.health->restarted(now);
    r.was_running = true;
    if (r.given_up) return ReplicaPhase::kFailed;  // being removed
    if (!r.health) return ReplicaPhase::kRunning;
    switch (r.health->verdict()) {
      case HealthTracker::Verdict::kHealthy: return ReplicaPhase::kRunning;
      case HealthTracker::Verdict::kStarting:
        if (!r.health->last_error().empty()) detail = "health check: " + r.health->last_error();
        return ReplicaPhase::kStarting;  // not healthy until a check passes
      case HealthTracker::Verdict::kUnhealthy: break;
    }
    detail = "health check failed " + std::to_string(r.health->consecutive_failures()) + " time(s): " + r.health->last_error();
    if (r.restart_at_ms < 0) plan_restart(r, now, /*stop_first=*/true, "unhealthy (" + r.health->last_error() + ")");
    return r.given_up ? ReplicaPhase::kFailed : ReplicaPhase::kUnhealthy;
  }
  if (c->state != runtime::ContainerState::kExited && c->state != runtime::ContainerState::kDead) {
    return r.given_up ? ReplicaPhase::kFailed : ReplicaPhase::kStarting;
  }
  // A new exit: seen running before, or the first exit seen of this run (it may have exited
  // between two passes; a restart clears exit_code).
  const bool exited_now = r.was_running || !r.exit_code;
  r.was_running = false;
  r.exit_code = c->exit_code;
  if (r.given_up) return ReplicaPhase::kFailed;
  if (r.spec.type == sched::JobType::kBatch && c->exit_code == 0) {
    r.finished = true;
    return ReplicaPhase::kSucceeded;
  }
  detail = "exited with code " + std::to_string(c->exit_code) + (c->oom_killed ? " (out of memory)" : "");
  if (r.restart_at_ms < 0 && exited_now) plan_restart(r, now, /*stop_first=*/false, detail);
  return r.given_up ? ReplicaPhase::kFailed : ReplicaPhase::kExited;
}

void Executor::report_replicas(const std::vector<runtime::ContainerInfo>& containers) {
  // Unchanged states are reported again every kReportAgainPasses passes (about 30 s): a node
  // that was away (a partition, a pause) learns so that its replica was replaced meanwhile —
  // the coordinator refuses the report — and removes it.
  constexpr std::uint64_t kReportAgainPasses = 15;
  const bool report_all = ++reconcile_passes_ % kReportAgainPasses == 0;
  for (auto& [key, replica] : local_) {
    const std::string job_label = hash_hex(key.first).substr(0, 32);
    const runtime::ContainerInfo* container = nullptr;
    for (const auto& c : containers) {
      auto job = c.labels.find(std::string(runtime::kLabelJob));
      auto rep = c.labels.find(std::string(runtime::kLabelReplica));
      if (job == c.labels.end() || rep == c.labels.end() || job->second != job_label || rep->second != std::to_string(key.second)) {
        continue;
      }
      container = &c;
    }
    std::string detail;
    const ReplicaPhase phase = observe(replica, container, detail);
    if (phase == ReplicaPhase::kFailed) detail = replica.failure;
    if (replica.settled) continue;
    const std::string state(phase_name(phase));  // text on the wire only
    const std::string endpoint = replica.host_port != 0 ? "127.0.0.1:" + std::to_string(replica.host_port) : "";
    if (state == replica.last_reported && !report_all) continue;
    replica.last_reported = state;
    ReplicaReport report{key.first, key.second, state, endpoint, detail, static_cast<std::uint64_t>(ctx_.now_ms())};
    if (phase == ReplicaPhase::kSucceeded || phase == ReplicaPhase::kFailed || phase == ReplicaPhase::kExited) {
      report.exit_code = replica.exit_code;
    }
    auto on_reply = [this, key, round = replica.round, phase](Result<Bytes> reply) {
      auto it = local_.find(key);
      // Answers about an assignment this node has since replaced say nothing about the new one.
      if (it == local_.end() || it->second.round != round) return;
      if (!reply.ok()) {
        it->second.last_reported.clear();  // not delivered: report again on the next pass
        if (ctx_.declared_dead(it->second.coordinator)) ask_who_coordinates(key.first, it->second.coordinator);
        return;
      }
      auto ack = decode_assignment_ack(*reply);
      if (ack.ok() && ack->error.empty() && !ack->coordinator.empty() && ack->coordinator != it->second.coordinator) {
        // Answered from a copy of the job's record (that node coordinated it before a
        // fail-over): the coordinator the copy names judges the replica at the next pass.
        adopt_coordinator(key.first, ack->coordinator, "named by the former coordinator's copy of the record");
        return;
      }
      const bool refused = ack.ok() && !ack->error.empty();
      if (refused) {
        // The job was stopped, or the replica moved elsewhere while we were away (restart,
        // partition): the coordinator refuses the report, and the replica goes.
        logger()->info("replica {} of job {} is no longer ours ({}); removing it", key.second,
                       hash_hex(key.first).substr(0, 12), ack->error);
      }
      if (refused || (ack.ok() && phase == ReplicaPhase::kFailed)) {
        // Refused, or given up and now known to the coordinator (which places it elsewhere).
        (void)ctx_.store().erase(kReplicaDoc, replica_key(key.first, key.second));
        local_.erase(it);
        reconcile_now();
        return;
      }
      if (ack.ok() && phase == ReplicaPhase::kSucceeded) it->second.settled = true;  // kept for its logs
    };
    send_report(replica, report, on_reply);
  }
}

void Executor::adopt_coordinator(const Hash32& job, const std::string& coordinator, std::string_view how) {
  for (auto& [key, replica] : local_) {
    if (key.first != job || replica.coordinator == coordinator) continue;
    logger()->info("replica {} of job {}: coordinator {} ({}) instead of {}", key.second, hash_hex(job).substr(0, 12),
                   coordinator, how, replica.coordinator);
    replica.coordinator = coordinator;
    replica.last_reported.clear();  // the new coordinator hears its state at the next pass
    (void)ctx_.store().put(kReplicaDoc, replica_key(key.first, key.second), replica_json(replica));
  }
}

void Executor::ask_who_coordinates(const Hash32& job, const std::string& dead) {
  constexpr std::int64_t kAskEveryMs = 30'000;
  const std::int64_t now = ctx_.now_ms();
  // Entries older than the interval limit nothing any more: dropping them keeps the map to the
  // jobs asked about lately, not every job this node ever ran.
  std::erase_if(asked_who_coordinates_ms_, [now](const auto& entry) { return now - entry.second >= kAskEveryMs; });
  if (asked_who_coordinates_ms_.contains(job)) return;
  asked_who_coordinates_ms_[job] = now;
  // The highest epoch named so far in this round of questions: a member's copy may be older.
  auto best = std::make_shared<std::optional<Epoch>>();
  const Bytes get = encode(JobStateRequest{JobStateKind::kGet, job, ""});
  for (const auto& peer : ctx_.live_members()) {
    if (peer == ctx_.self() || peer == dead) continue;
    ctx_.request(peer, kJobStateProtocol, get, [this, job, dead, peer, best](Result<Bytes> reply) {
      auto record = record_in_get_reply(reply, job);
      if (!record.ok() || record->coordinator == dead || ctx_.declared_dead(record->coordinator)) return;
      if (*best && epoch_of(*record) <= **best) return;
      *best = epoch_of(*record);
      adopt_coordinator(job, record->coordinator, "named by " + peer + "'s copy of the record; " + dead + " is dead");
    });
  }
}

void Executor::drain(std::function<void()> done, std::string why) {
  if (local_.empty()) return done();
  logger()->info("draining {} replica(s): {}", local_.size(), why);
  std::vector<std::pair<std::string, ReplicaReport>> reports;
  for (const auto& [key, replica] : local_) {
    reports.emplace_back(replica.coordinator, ReplicaReport{key.first, key.second, std::string(phase_name(ReplicaPhase::kDrained)), "", why,
                                                            static_cast<std::uint64_t>(ctx_.now_ms())});
    (void)ctx_.store().erase(kReplicaDoc, replica_key(key.first, key.second));
  }
  local_.clear();
  runtime_worker_.post([this, reports, done] {
    (void)reconciler_->set_desired({});
    (void)reconciler_->reconcile();
    ctx_.post([this, reports, done] {
      auto remaining = std::make_shared<std::size_t>(reports.size());
      for (const auto& [coordinator, report] : reports) {
        auto finish = [remaining, done](auto&&...) {
          if (--*remaining == 0) done();
        };
        if (coordinator == ctx_.self()) {
          ctx_.report_to_local_coordinator(encode(report), [](Bytes) {});
          finish();
        } else {
          ctx_.request(coordinator, kReportProtocol, encode(report), finish);
        }
      }
    });
  });
}

}  // namespace veil::node
