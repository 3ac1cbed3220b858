#include "veil/runtime/reconciler.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "veil/common/log.h"

namespace veil::runtime {
namespace {

using Key = std::pair<std::string, std::string>;

std::string key_text(const Key& key) { return key.first + "/" + key.second; }

// Docker names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; anything else becomes '-'.
std::string sanitize(std::string_view text) {
  std::string out;
  for (char c : text) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ? c : '-');
  }
  return out;
}

// Which of several containers for one key to keep: a running one, else the newest start.
bool better(const ContainerInfo& a, const ContainerInfo& b) {
  if (a.running() != b.running()) return a.running();
  return a.id < b.id;  // deterministic tie-break, so two passes agree
}

}  // namespace

Reconciler::Reconciler(Driver& driver, ReconcilerOptions options) : driver_(driver), options_(std::move(options)) {}

std::string Reconciler::container_name(std::string_view cluster, std::string_view job, std::string_view replica) {
  return "veil-" + sanitize(cluster) + "-" + sanitize(job) + "-" + sanitize(replica);
}

std::chrono::milliseconds restart_backoff(const ReconcilerOptions& options, int attempt) {
  auto delay = options.backoff_initial;
  for (int i = 1; i < attempt && delay < options.backoff_max; ++i) delay *= 2;
  return std::min(delay, options.backoff_max);
}

Status Reconciler::set_desired(std::vector<DesiredContainer> desired) {
  if (options_.cluster.empty()) return invalid_argument("reconciler needs a cluster name");
  std::map<Key, DesiredContainer> next;
  for (auto& want : desired) {
    auto job = want.spec.labels.find(std::string(kLabelJob));
    auto replica = want.spec.labels.find(std::string(kLabelReplica));
    if (job == want.spec.labels.end() || replica == want.spec.labels.end() || job->second.empty()) {
      return invalid_argument("desired container for image " + want.spec.image + " lacks veil.job/veil.replica labels");
    }
    Key key{job->second, replica->second};
    want.spec.labels[std::string(kLabelCluster)] = options_.cluster;
    want.spec.labels.erase(std::string(kLabelSpecHash));
    want.spec.name = container_name(options_.cluster, key.first, key.second);
    want.spec.labels[std::string(kLabelSpecHash)] = spec_hash(want.spec);
    if (!next.emplace(key, std::move(want)).second) {
      return invalid_argument("two desired containers for " + key_text(key));
    }
  }
  desired_ = std::move(next);
  return {};
}

Status Reconciler::create_and_start(const DesiredContainer& want, ReconcileReport& report) {
  auto id = driver_.create(want.spec);
  if (!id.ok() && id.status().code() == StatusCode::kNotFound && options_.pull_missing_images) {
    PullRequest pull{.reference = want.spec.image};
    if (auto d = options_.image_digests.find(want.spec.image); d != options_.image_digests.end()) {
      pull.expected_digest = d->second;
    }
    if (options_.on_pull_progress) {
      pull.on_progress = [this, &want](const PullProgress& progress) {
        options_.on_pull_progress(want.spec.labels.at(std::string(kLabelJob)), want.spec.labels.at(std::string(kLabelReplica)),
                                  want.spec.image, progress);
      };
    }
    VEIL_RETURN_IF_ERROR(driver_.pull(pull).status());
    id = driver_.create(want.spec);
  }
  if (!id.ok()) return id.status();
  known_ids_[*id] = true;
  VEIL_RETURN_IF_ERROR(driver_.start(*id));
  report.created.push_back(*id);
  return {};
}

std::string ReconcileError::to_string() const {
  const std::string what = container.empty() ? job + "/" + replica : container;
  return action + " " + what + ": " + status.to_string();
}

Result<ReconcileReport> Reconciler::reconcile() {
  ReconcileReport report;
  auto log = log::get("runtime");
  VEIL_ASSIGN_OR_RETURN(auto actual, driver_.list({{std::string(kLabelCluster), options_.cluster}}, true));

  std::map<Key, std::vector<ContainerInfo>> by_key;
  auto now = Clock::now();
  auto fail = [&](std::string action, const Key& key, std::string container, const Status& s) {
    ReconcileError error{key.first, key.second, std::move(action), std::move(container), s};
    log->warn("reconcile {}", error.to_string());
    report.errors.push_back(std::move(error));
  };
  auto key_of = [](const ContainerInfo& c) {
    auto job = c.labels.find(std::string(kLabelJob));
    auto replica = c.labels.find(std::string(kLabelReplica));
    return Key{job == c.labels.end() ? "" : job->second, replica == c.labels.end() ? "" : replica->second};
  };
  for (auto& c : actual) {
    const Key key = key_of(c);
    by_key[key].push_back(std::move(c));
  }
  auto remove_container = [&](const ContainerInfo& c) {
    if (c.running()) {
      if (auto s = driver_.stop(c.id, options_.stop_grace); !s.ok() && s.code() != StatusCode::kNotFound) {
        fail("stop", key_of(c), c.id, s);
      }
    }
    auto s = driver_.remove(c.id, true);
    if (s.ok() || s.code() == StatusCode::kNotFound) {
      report.removed.push_back(c.id);
      known_ids_.erase(c.id);
    } else {
      fail("remove", key_of(c), c.id, s);
    }
  };

  // Unwanted: keys no longer desired (or containers without our labels).
  for (auto& [key, containers] : by_key) {
    if (desired_.count(key)) continue;
    for (const auto& c : containers) remove_container(c);
  }

  for (const auto& [key, want] : desired_) {
    auto& st = state_[key];
    auto found = by_key.find(key);
    if (found == by_key.end() || found->second.empty()) {
      if (now < st.next_restart) {
        report.backing_off.push_back(key_text(key));
        continue;
      }
      if (auto s = create_and_start(want, report); !s.ok()) {
        fail("create", key, "", s);
        if (s.code() == StatusCode::kAlreadyExists) continue;  // a racing instance made it; adopt next pass
        st.restarts++;
        st.next_restart = now + restart_backoff(options_, st.restarts);
      }
      continue;
    }
    auto& containers = found->second;
    std::sort(containers.begin(), containers.end(), better);
    for (std::size_t i = 1; i < containers.size(); ++i) remove_container(containers[i]);  // duplicates
    const ContainerInfo& c = containers.front();
    if (!known_ids_.count(c.id)) {
      known_ids_[c.id] = true;
      report.adopted.push_back(c.id);
    }
    auto hash = c.labels.find(std::string(kLabelSpecHash));
    std::string want_hash = want.spec.labels.at(std::string(kLabelSpecHash));
    if (hash == c.labels.end() || hash->second != want_hash) {
      log->info("reconcile {}: spec changed, replacing {}", key_text(key), c.id);
      remove_container(c);
      if (auto s = create_and_start(want, report); !s.ok()) fail("create", key, "", s);
      continue;
    }
    if (c.running()) {
      if (!st.seen_running) {
        st.seen_running = true;
        st.running_since = now;
      } else if (st.restarts > 0 && now - st.running_since >= options_.backoff_reset) {
        st.restarts = 0;  // it has stayed up: the next crash starts the back-off afresh
      }
      continue;
    }
    // Exited, dead or never started: start again once the back-off allows.
    st.seen_running = false;
    if (!want.restart_exited && (c.state == ContainerState::kExited || c.state == ContainerState::kDead)) continue;
    if (now < st.next_restart) {
      report.backing_off.push_back(key_text(key));
      continue;
    }
    st.restarts++;
    st.next_restart = now + restart_backoff(options_, st.restarts);
    log->info("reconcile {}: {} is {} (exit {}{}), restart #{}", key_text(key), c.id,
              container_state_name(c.state), c.exit_code, c.oom_killed ? ", OOM-killed" : "", st.restarts);
    if (auto s = driver_.start(c.id); s.ok()) {
      report.restarted.push_back(c.id);
    } else {
      fail("restart", key, c.id, s);
    }
  }
  return report;
}

void Reconciler::run_until(std::stop_token stop, std::chrono::milliseconds interval,
                           const std::function<void(const Result<ReconcileReport>&)>& on_pass) {
  std::mutex mu;
  std::condition_variable cv;
  bool poke = false;
  // Events only shorten the wait; the periodic pass is what guarantees convergence, so a
  // failed subscription is logged and otherwise ignored.
  auto sub = driver_.subscribe({{std::string(kLabelCluster), options_.cluster}}, [&](const Event& e) {
    if (e.action == "die" || e.action == "destroy" || e.action == "oom") {
      std::lock_guard lock(mu);
      poke = true;
      cv.notify_all();
    }
  });
  if (!sub.ok()) log::get("runtime")->warn("reconciler: no event stream ({}); polling only", sub.status().to_string());
  while (!stop.stop_requested()) {
    auto report = reconcile();
    if (on_pass) on_pass(report);
    // Short slices instead of condition_variable_any's stop_token wait, which did not wake
    // on our notify with this libstdc++.
    std::unique_lock lock(mu);
    auto deadline = Clock::now() + interval;
    while (!poke && !stop.stop_requested() && Clock::now() < deadline) {
      cv.wait_for(lock, std::chrono::milliseconds(100));
    }
    poke = false;
  }
}

}  // namespace veil::runtime
