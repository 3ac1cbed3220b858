// A NodeContext of a test's own, for the roles (executor_test.cc, executor_docker_test.cc,
// telemetry_role_test.cc, decision_roles_test.cc, coordinator_role_test.cc): an io_context, a
// worker that serves as both the blocking and the FHE worker, and a temporary state database.
// No network or chain: what a role sends (requests, gossip) is recorded, and what it asks (live
// members, SWIM's dead, pings, registrations, agreement) is answered from fields the test sets.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "node_context.h"
#include "secret_box.h"
#include "worker.h"
#include "veil/chain/keys.h"

namespace veil::node {

class FakeContext : public NodeContext {
 public:
  explicit FakeContext(const std::filesystem::path& dir) : blocking(std::make_unique<Worker>("blocking")) {
    auto opened = StateStore::open(dir / "state.db");
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    db = std::move(opened).value();
  }

  struct Sent {
    std::string peer, protocol;
    Bytes message;
    OnReply on_reply;
  };

  const std::string& self() const override { return self_id; }
  std::int64_t now_ms() const override { return clock_ms; }
  bool stopping() const override { return false; }
  boost::asio::io_context& io() override { return io_context; }
  void post_blocking(std::function<void()> task) override { blocking->post(std::move(task)); }
  void post_fhe(std::function<void()> task) override { blocking->post(std::move(task)); }
  void post_fhe_first(std::function<void()> task) override { blocking->post_first(std::move(task)); }
  void request(const std::string& peer, std::string_view protocol, Bytes message, OnReply on_reply) override {
    sent.push_back({peer, std::string(protocol), std::move(message), std::move(on_reply)});
  }
  void publish(const std::string& topic, const Bytes& data) override { published.push_back({topic, data}); }
  void ping(const std::string& peer, OnRtt done) override {
    auto it = rtts.find(peer);
    if (it == rtts.end()) return done(unavailable("not connected to " + peer));
    done(it->second);
  }
  std::vector<std::string> live_members() const override { return live; }
  bool is_registered(const std::string& peer) const override { return registered.count(peer) > 0; }
  bool declared_dead(const std::string& peer) const override { return dead.count(peer) > 0; }
  std::size_t known_members() const override { return live.size() + dead.size(); }
  sched::FreeCapacity reserved_capacity() const override { return reserved; }
  StateStore& store() override { return *db; }
  MetricsRegistry& metrics() override { return registry; }
  const ClusterKeys& keys() const override { return cluster_keys; }
  void when_decision_agreed(const std::string& coordinator, const Hash32& job, std::uint32_t round,
                            sched::DecisionRecord record, AgreedCallback then) override {
    ++agreement_asked;
    if (agree) return agree(coordinator, job, round, std::move(record), std::move(then));
    then(agreement, nullptr);
  }
  Result<bool> image_allowed(const chain::Hash32&) override { return true; }
  bool policy_allowed(std::string_view policy) const override {
    return allowed_policies.empty() || allowed_policies.count(std::string(policy)) > 0;
  }
  void report_to_local_coordinator(Bytes report, Reply reply) override {
    local_reports.push_back(std::move(report));
    reply(encode(AssignmentAck{}));
  }
  std::optional<chain::RegistryDomain> announcement_domain() const override { return domain; }
  Result<std::map<std::string, std::string>> open_secrets(const std::map<std::string, Bytes>& sealed) const override {
    return secret_opener.open_all(sealed);
  }
  std::optional<chain::Address> operator_of(const std::string& peer) const override {
    auto it = operators.find(peer);
    return it == operators.end() ? std::nullopt : std::optional<chain::Address>(it->second);
  }
  Bytes sign_as_operator(const Hash32& digest) const override {
    return operator_key ? chain::signature_bytes(operator_key->sign(digest)) : Bytes{};
  }
  void report_equivocation(const std::string& scheduler, const chain::Evidence& evidence,
                           const chain::Address& signer) override {
    equivocations.push_back({scheduler, evidence, signer});
  }
  void report_contradiction(const std::string& scheduler, const chain::Contradiction& contradiction,
                            const chain::Address& signer) override {
    contradictions.push_back({scheduler, contradiction, signer});
  }

  // The reports sent so far to `peer`, decoded.
  std::vector<ReplicaReport> reports_to(const std::string& peer) const {
    std::vector<ReplicaReport> out;
    for (const auto& s : sent) {
      if (s.peer != peer || s.protocol != kReportProtocol) continue;
      auto r = decode_replica_report(s.message);
      EXPECT_TRUE(r.ok());
      if (r.ok()) out.push_back(*r);
    }
    return out;
  }

  std::string self_id = "12D3KooWThisNode";
  std::int64_t clock_ms = 1'000;  // the node's clock: restart delays and check intervals follow it
  boost::asio::io_context io_context;
  std::unique_ptr<Worker> blocking;
  std::unique_ptr<StateStore> db;
  MetricsRegistry registry;
  ClusterKeys cluster_keys;
  // What when_decision_agreed answers: `agree` when set (a scheduler role of the test's),
  // else `agreement`, at once.
  std::function<void(const std::string&, const Hash32&, std::uint32_t, sched::DecisionRecord, AgreedCallback)> agree;
  Result<std::string> agreement = permission_denied("not agreed in this test");
  int agreement_asked = 0;
  std::vector<Sent> sent;
  std::vector<Bytes> local_reports;
  std::vector<std::pair<std::string, Bytes>> published;  // topic, data
  std::map<std::string, std::chrono::nanoseconds> rtts;  // what ping() answers; others unreachable
  std::vector<std::string> live;
  std::set<std::string> registered;
  std::set<std::string> dead;  // what declared_dead() answers
  std::set<std::string> allowed_policies;  // empty: every policy
  sched::FreeCapacity reserved{};
  // The chain's view of signed announcements: none by default (nothing signed or checked).
  std::optional<chain::RegistryDomain> domain;
  std::map<std::string, chain::Address> operators;  // what operator_of() answers
  SecretOpener secret_opener;                       // what open_secrets() opens with (nothing by default)
  std::optional<chain::PrivateKey> operator_key;     // what sign_as_operator() signs with
  struct Equivocation {
    std::string scheduler;
    chain::Evidence evidence;
    chain::Address signer;
  };
  std::vector<Equivocation> equivocations;  // what report_equivocation() was given
  struct ReportedContradiction {
    std::string scheduler;
    chain::Contradiction contradiction;
    chain::Address signer;
  };
  std::vector<ReportedContradiction> contradictions;  // what report_contradiction() was given
};

}  // namespace veil::node
