// Questions the API asks the other members: the records they hold of a job (for `job status|ls`
// on a node that holds no current copy) and the logs of the replicas they run.
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon_impl.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;

// How long `job status|ls` on a node that holds no copy waits for the other members' answers.
constexpr auto kAskMembersTimeout = std::chrono::milliseconds(3000);
constexpr auto kAskForLogsTimeout = std::chrono::milliseconds(5000);

}  // namespace

asio::awaitable<std::map<std::string, Result<Bytes>>> Daemon::Impl::ask_peers(const std::set<std::string>& peers,
                                                                             std::string_view protocol, Bytes message,
                                                                             std::chrono::milliseconds timeout) {
  struct Gathered {
    explicit Gathered(asio::io_context& io) : all_answered(io) {}
    std::map<std::string, Result<Bytes>> answers;
    std::size_t waiting = 0;
    asio::steady_timer all_answered;  // expires at the deadline, cancelled by the last answer
  };
  auto gathered = std::make_shared<Gathered>(io_);
  const std::string unanswered = timeout.count() % 1000 == 0
                                     ? "no answer within " + std::to_string(timeout.count() / 1000) + " s"
                                     : "no answer within " + std::to_string(timeout.count()) + " ms";
  for (const auto& peer : peers) gathered->answers.emplace(peer, deadline_exceeded(unanswered));
  gathered->waiting = peers.size();
  gathered->all_answered.expires_after(timeout);
  for (const auto& peer : peers) {
    request(peer, protocol, message, [gathered, peer](Result<Bytes> reply) {
      gathered->answers.insert_or_assign(peer, std::move(reply));
      if (--gathered->waiting == 0) gathered->all_answered.cancel();
    });
  }
  if (!peers.empty()) {
    boost::system::error_code ec;
    co_await gathered->all_answered.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  // Answers after the deadline land in the shared state and are dropped with it.
  co_return std::map<std::string, Result<Bytes>>(gathered->answers);
}

asio::awaitable<std::vector<std::pair<std::string, JobState>>> Daemon::Impl::ask_members_for_jobs(const Hash32& id) {
  std::set<std::string> peers;
  for (const auto& peer : live_members()) {
    if (peer != self_text_) peers.insert(peer);
  }
  const bool one = id != Hash32{};
  const Bytes ask = encode(JobStateRequest{one ? JobStateKind::kGet : JobStateKind::kList, id, ""});
  std::map<Hash32, std::pair<std::string, JobState>> newest;
  for (const auto& [peer, reply] : co_await ask_peers(peers, kJobStateProtocol, ask, kAskMembersTimeout)) {
    auto answer = reply.ok() ? decode_job_state_reply(*reply) : Result<JobStateReply>(reply.status());
    if (!answer.ok() || !answer->error.empty()) continue;
    for (const auto& text : answer->records) {
      auto record = parse_record(text);
      if (!record.ok()) continue;
      auto [it, fresh] = newest.try_emplace(record->id, peer, *record);
      const JobState& known = it->second.second;
      if (!fresh && std::tie(record->term, record->version) > std::tie(known.term, known.version)) {
        it->second = {peer, std::move(*record)};
      }
    }
  }
  std::vector<std::pair<std::string, JobState>> out;
  for (auto& [_, entry] : newest) out.push_back(std::move(entry));
  co_return out;
}

asio::awaitable<std::optional<nlohmann::json>> Daemon::Impl::newest_job_json(const std::string& wanted, const Hash32& id,
                                                                            const std::optional<JobState>& own) {
  auto found = co_await ask_members_for_jobs(id);
  // The job this node knows by that name is the one wanted; else the name decides.
  const auto* match = best_match(found, own ? hash_hex(own->id) : wanted, [](const auto& entry) -> const JobState& {
    return entry.second;
  });
  if (own && (match == nullptr || std::tie(own->term, own->version) > std::tie(match->second.term, match->second.version))) {
    co_return job_json(*own, true);
  }
  if (match == nullptr) co_return std::nullopt;
  nlohmann::json j = job_json(match->second, true);
  j["answered_by"] = match->first;
  co_return j;
}

asio::awaitable<Result<nlohmann::json>> Daemon::Impl::on_blocking_worker(const std::function<Result<nlohmann::json>()>& work) {
  struct Outcome {
    explicit Outcome(asio::io_context& io) : done(io) {}
    std::optional<Result<nlohmann::json>> result;
    asio::steady_timer done;  // never expires by itself; cancelled on the node's thread once the work ran
  };
  auto outcome = std::make_shared<Outcome>(io_);
  outcome->done.expires_at(asio::steady_timer::time_point::max());
  // The worker hands its reference on, so the timer is only ever destroyed on the node's thread.
  blocking_->post([this, outcome, work]() mutable {
    auto result = work();
    asio::post(io_, [outcome = std::move(outcome), result = std::move(result)]() mutable {
      outcome->result = std::move(result);
      outcome->done.cancel();
    });
  });
  boost::system::error_code ec;
  co_await outcome->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!outcome->result) co_return unavailable("the node stopped before the work ran");
  co_return std::move(*outcome->result);
}

asio::awaitable<std::vector<std::pair<std::string, Result<LogsReply>>>> Daemon::Impl::ask_nodes_for_logs(
    const Hash32& id, const std::set<std::string>& nodes, std::uint32_t tail) {
  std::vector<std::pair<std::string, Result<LogsReply>>> out;
  for (auto& [node, reply] : co_await ask_peers(nodes, kLogsProtocol, encode(LogsRequest{id, tail}), kAskForLogsTimeout)) {
    auto answer = reply.ok() ? decode_logs_reply(*reply) : Result<LogsReply>(reply.status());
    if (answer.ok() && !answer->error.empty()) answer = failed_precondition(answer->error);
    out.emplace_back(node, std::move(answer));
  }
  co_return out;
}

}  // namespace veil::node
