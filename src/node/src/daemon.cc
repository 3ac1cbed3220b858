// Start-up, wiring and shut-down of the daemon; the small plumbing every role uses.
#include <utility>  // Boost 1.74 asio needs std::exchange declared first
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <fstream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "daemon_impl.h"
#include "veil/chain/abi.h"
#include "veil/common/read_file.h"
#include "veil/common/sha256.h"
#include "veil/node/api_token.h"
#include "veil/p2p/protocols.h"
#include "veil/sched/job_spec.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;

auto logger() { return log::get("node"); }

// The committee.json written by `veil cluster init`: member i's PeerId, in committee order.
Result<std::vector<std::string>> load_member_peers(const fs::path& file) {
  VEIL_ASSIGN_OR_RETURN(Bytes bytes, read_file_bytes(file, kCommitteeFile));
  auto j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.contains("members") || !j["members"].is_array()) {
    return invalid_argument(file.string() + ": expected {\"members\":[{\"peer_id\":...}, ...]}");
  }
  std::vector<std::string> peers;
  for (const auto& m : j["members"]) {
    if (!m.contains("peer_id") || !m["peer_id"].is_string()) return invalid_argument(file.string() + ": a member lacks peer_id");
    peers.push_back(m["peer_id"].get<std::string>());
  }
  return peers;
}

}  // namespace

// ---- Settings --------------------------------------------------------------------------------

Result<Settings> load_settings(const Config& config) {
  Settings s;
  s.data_dir = config.string("node.data_dir");
  s.key_file = config.string("node.key_file");
  if (s.key_file.empty()) s.key_file = s.data_dir / "node.key";
  if (const std::string peer = config.string("node.peerid"); !peer.empty()) {
    auto parsed = p2p::PeerId::parse(peer);
    if (!parsed.ok()) return parsed.status().with_context("node.peerid (VEIL_NODE_PEERID)");
    s.expected_peer = *parsed;
  }
  s.public_key_file = config.string("zama.publickey_file");
  s.cluster_dir = config.string("cluster.dir");
  if (s.cluster_dir.empty()) return invalid_argument("cluster.dir (VEIL_CLUSTER_DIR) is not set: the node needs the cluster's public FHE material");
  s.member_key_file = config.string("committee.member_key");
  s.share_file = config.string("committee.share_file");
  s.eth_key_file = config.string("eth.key_file");
  for (const auto& text : config.strings("libp2p.listen")) {
    VEIL_ASSIGN_OR_RETURN(auto addr, p2p::Multiaddr::parse(text));
    s.listen.push_back(addr);
  }
  for (const auto& text : config.strings("libp2p.bootstrap")) {
    if (text.empty()) continue;
    VEIL_ASSIGN_OR_RETURN(auto addr, p2p::Multiaddr::parse(text));
    if (!addr.peer_id()) return invalid_argument("libp2p.bootstrap: " + text + " lacks /p2p/<PeerId>");
    s.bootstrap.push_back(addr);
  }
  s.rpc = config.string("eth.rpc");
  s.contract = config.string("contract.address");
  if (s.contract.empty()) return invalid_argument("contract.address (VEIL_CONTRACT_ADDRESS) is not set");
  const std::string api = config.string("api.listen");
  const auto colon = api.rfind(':');
  s.api_host = api.substr(0, colon);
  s.api_port = static_cast<std::uint16_t>(std::stoi(api.substr(colon + 1)));
  s.telemetry_interval = std::chrono::milliseconds(std::max<std::int64_t>(200, config.integer("telemetry.interval_ms")));
  auto cap = [&](const char* key, std::optional<std::uint64_t>& out, std::int64_t unset) {
    const auto v = config.integer(key);
    if (v != unset && v >= 0) out = static_cast<std::uint64_t>(v);
  };
  cap("telemetry.cap_cpu_millicores", s.cap.cpu_millicores, 0);
  cap("telemetry.cap_memory_mib", s.cap.memory_mib, 0);
  cap("telemetry.cap_disk_mib", s.cap.disk_mib, 0);
  cap("telemetry.cap_gpus", s.cap.gpus, -1);
  VEIL_ASSIGN_OR_RETURN(s.driver, runtime::parse_driver_kind(config.string("runtime.driver")));
  s.docker_socket = config.string("docker.socket");
  const auto k = config.integer("sched.schedulers");
  if (k < 1 || k > 15) return invalid_argument("sched.schedulers must be between 1 and 15");
  s.schedulers = static_cast<std::size_t>(k);
  auto candidates = sched::parse_candidate_count(config.string("sched.candidates"));
  if (!candidates.ok()) return candidates.status().with_context("sched.candidates (VEIL_SCHED_CANDIDATES)");
  s.candidates = *candidates;
  const auto holders = config.integer("jobs.holders");
  if (holders < 1 || holders > static_cast<std::int64_t>(kMaxJobHolders)) {
    return invalid_argument("jobs.holders must be between 1 and " + std::to_string(kMaxJobHolders));
  }
  s.job_holders = static_cast<std::size_t>(holders);
  const auto batch_size = config.integer("chain.anchor.batch_size");
  if (batch_size < 1 || batch_size > 4096) return invalid_argument("chain.anchor.batch_size must be between 1 and 4096");
  s.anchor_batch_size = static_cast<std::size_t>(batch_size);
  auto max_age = sched::parse_duration(config.string("chain.anchor.batch_max_age"));
  if (!max_age.ok()) return max_age.status().with_context("chain.anchor.batch_max_age");
  if (max_age->count() == 0) return invalid_argument("chain.anchor.batch_max_age must be longer than 0s");
  s.anchor_batch_max_age = *max_age;
  auto hedge = sched::parse_duration(config.string("committee.hedge"));
  if (!hedge.ok()) return hedge.status().with_context("committee.hedge");
  if (*hedge > std::chrono::minutes(10)) return invalid_argument("committee.hedge must be at most 10m");
  s.committee_hedge = *hedge;
  s.swim_preset = config.string("swim.preset");
  if (s.swim_preset != "lan" && s.swim_preset != "local" && s.swim_preset != "wan") {
    return invalid_argument("swim.preset must be lan, local or wan");
  }
  s.tamper_decisions = config.boolean("debug.tamper_decisions");
  s.equivocate_decisions = config.boolean("debug.equivocate_decisions");
  s.evaluation_delay = std::chrono::milliseconds(std::clamp<std::int64_t>(config.integer("debug.evaluation_delay_ms"), 0, 600'000));
  s.fixed_telemetry = config.boolean("debug.fixed_telemetry");
  s.wire_dump = config.string("debug.wire_dump");
  // validate_name_value (config.cc) guarantees the '=' with a non-empty name before it.
  for (const auto& entry : config.strings("node.labels")) {
    if (entry.empty()) continue;
    const auto eq = entry.find('=');
    s.attributes.labels[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& entry : config.strings("node.host_volumes")) {
    if (entry.empty()) continue;
    const auto eq = entry.find('=');
    const std::string name = entry.substr(0, eq);
    const fs::path dir = entry.substr(eq + 1);
    std::error_code ec;
    if (!dir.is_absolute() || !fs::is_directory(dir, ec)) {
      return invalid_argument("node.host_volumes: " + name + " must name an existing directory by its absolute path, not '" +
                              dir.string() + "'");
    }
    s.host_volumes[name] = fs::weakly_canonical(dir, ec);
    s.attributes.volumes.insert(name);
  }
  if (auto valid = sched::validate_node_attributes(s.attributes); !valid.ok()) {
    return valid.with_context("node.labels / node.host_volumes");
  }
  return s;
}

// ---- Daemon ----------------------------------------------------------------------------------

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() = default;

Result<std::unique_ptr<Daemon>> Daemon::start(const Config& config) {
  VEIL_ASSIGN_OR_RETURN(Settings settings, load_settings(config));
  auto impl = std::make_unique<Impl>(std::move(settings));
  VEIL_RETURN_IF_ERROR(impl->start());
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Status Daemon::run() { return impl_->run(); }
void Daemon::stop() { impl_->request_stop(); }

Daemon::Impl::Impl(Settings settings)
    : settings_(std::move(settings)),
      started_at_(std::chrono::steady_clock::now()),
      blocking_(std::make_unique<Worker>("blocking")),
      fhe_(std::make_unique<Worker>("fhe")) {}

Daemon::Impl::~Impl() {
  blocking_.reset();
  fhe_.reset();
}

Result<bool> Daemon::Impl::image_allowed(const chain::Hash32& digest) {
  auto operator_address = chain::Address::parse(operator_address_);
  return operator_address.ok() ? registry_->is_image_allowed_for(digest, *operator_address)
                               : registry_->is_image_allowed(digest);
}

std::int64_t Daemon::Impl::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The stages in order; each fails with what to fix. Nothing is served to peers before the
// chain knows this node and the keys match, and nothing is restored before the API is up.
Status Daemon::Impl::start() {
  VEIL_RETURN_IF_ERROR(prepare_data_dir());
  VEIL_ASSIGN_OR_RETURN(p2p::KeyPair identity, load_identity());
  logger()->info("node {} starting (data in {})", self_text_, settings_.data_dir.string());
  VEIL_ASSIGN_OR_RETURN(store_, StateStore::open(settings_.data_dir / "state.db"));
  VEIL_ASSIGN_OR_RETURN(const fhe::threshold::Hash server_key_hash, load_cluster_keys());
  VEIL_RETURN_IF_ERROR(load_committee_membership());
  VEIL_RETURN_IF_ERROR(connect_chain(server_key_hash));
  VEIL_RETURN_IF_ERROR(open_executor());
  SystemProbe::Options popts;
  popts.disk_path = settings_.data_dir;
  popts.cap = settings_.cap;
  probe_ = std::make_unique<SystemProbe>(popts);
  make_telemetry_role();
  make_scheduler_role();
  make_coordinator_role();
  VEIL_RETURN_IF_ERROR(start_network(identity));
  VEIL_RETURN_IF_ERROR(start_api());
  return restore_and_start_work();
}

Status Daemon::Impl::prepare_data_dir() {
  std::error_code ec;
  fs::create_directories(settings_.data_dir, ec);
  if (ec) return unavailable("cannot create node.data_dir " + settings_.data_dir.string() + ": " + ec.message());
  ::chmod(settings_.data_dir.c_str(), 0700);
  return {};
}

// The libp2p identity; sets self_text_ and the telemetry signing key (the same Ed25519 key).
Result<p2p::KeyPair> Daemon::Impl::load_identity() {
  VEIL_ASSIGN_OR_RETURN(p2p::KeyPair identity, p2p::load_or_create_key_file(settings_.key_file));
  const p2p::PeerId self = p2p::PeerId::from_public_key(identity.public_key());
  self_text_ = self.to_string();
  if (settings_.expected_peer && *settings_.expected_peer != self) {
    return failed_precondition("node.peerid is " + settings_.expected_peer->to_string() +
                               " but the identity key " + settings_.key_file.string() + " is PeerId " +
                               self_text_ + ": point node.key_file at the key of " +
                               settings_.expected_peer->to_string() + ", or correct node.peerid");
  }
  {
    // The libp2p PrivateKey protobuf of an Ed25519 key is 08 01 12 40 || seed || public.
    Bytes encoded = identity.encode_private();
    if (encoded.size() != 68 || encoded[0] != 0x08 || encoded[1] != 0x01 || encoded[2] != 0x12 || encoded[3] != 0x40) {
      return invalid_argument(settings_.key_file.string() + ": not an Ed25519 libp2p key");
    }
    std::copy(encoded.begin() + 4, encoded.end(), identity_secret_.begin());
    secure_wipe(encoded);
  }
  topics_ = Topics::for_cluster(settings_.contract);
  return identity;
}

// The cluster's public key material; returns the server key's hash, which connect_chain
// checks against the registry. The committee first: it records the hashes of the keys it was
// dealt for, so a wrong key fails before the server key's minutes of decompression.
Result<fhe::threshold::Hash> Daemon::Impl::load_cluster_keys() {
  const fs::path dir = settings_.cluster_dir;
  fhe::threshold::Hash server_key_hash{};
  VEIL_ASSIGN_OR_RETURN(Bytes committee, read_file_bytes(dir / "committee.bin", kCommitteeFile));
  VEIL_ASSIGN_OR_RETURN(keys_.committee, fhe::threshold::Committee::deserialize(committee));
  VEIL_ASSIGN_OR_RETURN(keys_.member_peers, load_member_peers(dir / "committee.json"));
  if (keys_.member_peers.size() != keys_.committee.size()) {
    return invalid_argument((dir / "committee.json").string() + " names " + std::to_string(keys_.member_peers.size()) +
                            " members, committee.bin has " + std::to_string(keys_.committee.size()));
  }
  // zama.publickey_file names the key telemetry is encrypted under; it must be the cluster's.
  const fs::path pk_file =
      settings_.public_key_file.empty() ? dir / "public.key" : settings_.public_key_file;
  VEIL_ASSIGN_OR_RETURN(Bytes pk, read_file_bytes(pk_file, kFheKeyFile));
  if (const auto pk_hash = sha256(pk); pk_hash != keys_.committee.public_key_hash) {
    return failed_precondition(pk_file.string() + " has SHA-256 " + to_hex(pk_hash) +
                               ", but the cluster's registered public key hash (committee.bin in " +
                               dir.string() + ", anchored on chain) is " +
                               to_hex(keys_.committee.public_key_hash) +
                               ": set zama.publickey_file to the cluster's public.key, or leave it unset");
  }
  VEIL_ASSIGN_OR_RETURN(keys_.public_key, fhe::CompactPublicKey::deserialize(pk));
  VEIL_ASSIGN_OR_RETURN(Bytes sk, read_file_bytes(dir / "server.compressed.key", kFheServerKeyFile));
  server_key_hash = sha256(sk);
  logger()->info("decompressing the cluster's server key ({} MiB)", sk.size() >> 20);
  VEIL_ASSIGN_OR_RETURN(auto compressed, fhe::CompressedServerKey::deserialize(sk));
  keys_.server_key = compressed.decompress();
  return server_key_hash;
}

// This operator's member key and key share, when it is a committee member.
Status Daemon::Impl::load_committee_membership() {
  const fs::path dir = settings_.cluster_dir;
  if (!settings_.member_key_file.empty()) {
    VEIL_ASSIGN_OR_RETURN(Bytes mk, read_file_bytes(settings_.member_key_file, kKeyFile));
    auto member = fhe::threshold::MemberSecretKey::deserialize(mk);
    secure_wipe(mk);
    if (!member.ok()) return member.status().with_context(settings_.member_key_file.string());
    VEIL_ASSIGN_OR_RETURN(Bytes sealed, read_file_bytes(settings_.share_file, kKeyShareFile));
    if (sealed.size() < crypto_box_SEALBYTES) return data_loss(settings_.share_file.string() + ": too short");
    Bytes plain(sealed.size() - crypto_box_SEALBYTES);
    if (crypto_box_seal_open(plain.data(), sealed.data(), sealed.size(), member->public_key().box.data(),
                             member->box_secret().data()) != 0) {
      return permission_denied(settings_.share_file.string() + ": cannot open this share with committee.member_key");
    }
    auto share = fhe::threshold::KeyShare::deserialize(plain);
    secure_wipe(plain);
    if (!share.ok()) return share.status().with_context(settings_.share_file.string());
    if (share->committee.hash() != keys_.committee.hash()) {
      return failed_precondition(settings_.share_file.string() + " belongs to another committee");
    }
    // The public noise-squashing key: partial decryptions are made on squashed blocks.
    VEIL_ASSIGN_OR_RETURN(Bytes squash, read_file_bytes(dir / "squash.key", kFheServerKeyFile));
    VEIL_ASSIGN_OR_RETURN(auto squashing, fhe::threshold::SquashingKey::deserialize(squash));
    if (squashing.hash() != keys_.committee.squashing_key_hash) {
      return failed_precondition((dir / "squash.key").string() + " is not the squashing key this committee was dealt with");
    }
    share->squashing_key = squashing;
    keys_.member_key.emplace(std::move(*member));
    keys_.share.emplace(std::move(*share));
    logger()->info("committee member {} of {} (threshold {})", int(keys_.share->member), keys_.committee.size(),
                   int(keys_.committee.threshold));
  }
  return {};
}

// The chain: the registry must know this node and hold the keys we were given.
Status Daemon::Impl::connect_chain(const fhe::threshold::Hash& server_key_hash) {
  const fs::path dir = settings_.cluster_dir;
  VEIL_ASSIGN_OR_RETURN(auto client, chain::EthClient::connect(settings_.rpc));
  eth_ = std::make_unique<chain::EthClient>(std::move(client));
  VEIL_ASSIGN_OR_RETURN(chain_id_, eth_->chain_id());
  VEIL_ASSIGN_OR_RETURN(auto address, chain::Address::parse(settings_.contract));
  if (!settings_.eth_key_file.empty()) {
    VEIL_ASSIGN_OR_RETURN(auto key, chain::PrivateKey::load_file(settings_.eth_key_file.string()));
    eth_key_.emplace(std::move(key));
    VEIL_ASSIGN_OR_RETURN(sender_, chain::Transactor::create(*eth_, *eth_key_));
    operator_address_ = eth_key_->address().to_checksum();
  }
  registry_.emplace(*eth_, address, sender_.get());
  domain_ = chain::RegistryDomain{chain_id_, address};
  VEIL_ASSIGN_OR_RETURN(auto keys, registry_->cluster_keys());
  if (keys.first != keys_.committee.public_key_hash || keys.second != server_key_hash) {
    return failed_precondition("the cluster keys in " + dir.string() + " are not the ones registered on chain at " +
                               settings_.contract);
  }
  VEIL_ASSIGN_OR_RETURN(auto me, registry_->node(chain::peer_id_hash(self_text_)));
  if (!me.active) {
    return failed_precondition("node " + self_text_ + " is not registered (or not active) on chain at " + settings_.contract +
                               ": run `veil node register` with its operator's key");
  }
  if (operator_address_.empty()) operator_address_ = me.operator_address.to_checksum();
  auto nodes = registry_->nodes();
  apply_chain_view(nodes, registry_->cluster_policy(), read_stake_view(nodes));
  return {};
}

// The container driver (Docker, else processes; the log says why) and the executor on it.
// After the executor (telemetry offers what its replicas were not promised) and the probe.
void Daemon::Impl::make_telemetry_role() {
  TelemetryRole::Options options;
  options.interval = settings_.telemetry_interval;
  options.topic = topics_.telemetry;
  options.attributes = settings_.attributes;
  if (settings_.fixed_telemetry) {
    const auto& cap = settings_.cap;
    options.fixed = sched::FreeCapacity{cap.cpu_millicores.value_or(0), cap.memory_mib.value_or(0),
                                        cap.disk_mib.value_or(0), cap.gpus.value_or(0), 0};
  }
  telemetry_ = std::make_unique<TelemetryRole>(*this, std::move(options), [this] { return probe_->sample(); },
                                               identity_secret_);
  secret_opener_ = SecretOpener(identity_secret_);
  secure_wipe(identity_secret_.data(), identity_secret_.size());
}

// After the telemetry role, whose records the schedulers evaluate; the committee role asks the
// scheduler role whether a decision is agreed.
void Daemon::Impl::make_scheduler_role() {
  SchedulerRole::Options options;
  options.decisions_topic = topics_.decisions;
  options.tamper_decisions = settings_.tamper_decisions;
  options.equivocate_decisions = settings_.equivocate_decisions;
  options.evaluation_delay = settings_.evaluation_delay;
  options.find_attributes = [this](const std::string& peer, const Hash32& hash) -> std::optional<sched::NodeAttributes> {
    auto kept = telemetry_->find(peer, hash);
    return kept ? std::optional(kept->attributes) : std::nullopt;
  };
  auto find_telemetry = [this](const std::string& peer, const Hash32& hash) -> std::shared_ptr<const sched::EncryptedTelemetry> {
    auto kept = telemetry_->find(peer, hash);
    return kept ? kept->telemetry : nullptr;
  };
  SchedulerRole::CoordinatorHooks hooks;
  hooks.on_announcement = [this](const Hash32& job) { coordinator_->on_announcement(job); };
  hooks.on_own_decision = [this](const ScheduleRequest& round, const Hash32& hash, sched::DecisionRecord record) {
    coordinator_->on_own_decision(round, hash, std::move(record));
  };
  scheduler_ = std::make_unique<SchedulerRole>(*this, std::move(options), std::move(find_telemetry), std::move(hooks));
  committee_ = std::make_unique<CommitteeRole>(*this);
}

bool Daemon::Impl::policy_allowed(std::string_view policy) const {
  return allowed_policies_.empty() || std::find(allowed_policies_.begin(), allowed_policies_.end(), policy) != allowed_policies_.end();
}

// After the other roles, which it asks (their own answers to this node's rounds, requests and
// assignments), and before the network, whose protocols it serves.
void Daemon::Impl::make_coordinator_role() {
  CoordinatorRole::Options options;
  options.jobs_topic = topics_.jobs;
  options.schedulers = settings_.schedulers;
  options.candidates = settings_.candidates;
  options.job_holders = settings_.job_holders;
  options.telemetry_interval = settings_.telemetry_interval;
  // A decision on the real parameters takes seconds for tens of nodes on a 2-core machine
  // (bench/README.md); the timeout only matters when a scheduler stays silent without dying
  // (a dead one ends its rounds at once).
  options.round_timeout = keys_.public_key.params().insecure ? std::chrono::seconds(120) : std::chrono::seconds(300);
  options.committee_hedge = settings_.committee_hedge;
  options.anchoring.batch_size = settings_.anchor_batch_size;
  options.anchoring.max_age = settings_.anchor_batch_max_age;
  options.anchoring.retry = std::min<std::chrono::milliseconds>(settings_.anchor_batch_max_age, std::chrono::seconds(30));
  CoordinatorRole::LocalRoles roles;
  roles.evaluate_round = [this](const Bytes& round) { scheduler_->on_round(self_text_, round); };
  roles.announced = [this](const Hash32& job, std::uint32_t round) { return scheduler_->announced(job, round); };
  roles.round_seen = [this](const Hash32& job, std::uint32_t round) {
    return scheduler_->round_seen(job, round);
  };
  roles.announced_elsewhere = [this](const Hash32& job, std::uint32_t round) {
    return scheduler_->announced_elsewhere(job, round);
  };
  roles.decrypt = [this](Bytes request, Reply reply) { committee_->handle(self_text_, std::move(request), std::move(reply)); };
  roles.assign = [this](Bytes assignment, Reply reply) {
    executor_->handle_assignment(self_text_, std::move(assignment), std::move(reply));
  };
  roles.replicas_of = [this](const Hash32& job) {
    std::vector<LocalReplica> out;
    for (const auto& [key, replica] : executor_->replicas()) {
      if (key.first == job) out.push_back(replica);
    }
    return out;
  };
  roles.adopt_coordinator = [this](const Hash32& job, const std::string& peer) { executor_->adopt_coordinator(job, peer); };
  roles.latest_telemetry = [this](const std::string& peer) { return telemetry_->latest(peer); };
  roles.anchor = [this](const chain::VeilRegistry::Commitment& commitment) { return anchor_on_chain(commitment); };
  roles.anchor_batch = [this](const Hash32& root, std::uint32_t size, bool may_send) {
    return anchor_batch_on_chain(root, size, may_send);
  };
  coordinator_ = std::make_unique<CoordinatorRole>(*this, std::move(options), std::move(roles));
}

Status Daemon::Impl::open_executor() {
  runtime::DriverOptions options;
  options.kind = settings_.driver;
  options.docker_socket = settings_.docker_socket;
  options.process_state_dir = (settings_.data_dir / "processes").string();
  VEIL_ASSIGN_OR_RETURN(auto selection, runtime::open_driver(options));
  logger()->info("container driver: {} ({})", selection.driver->name(), selection.reason);
  runtime::ReconcilerOptions ropts;
  ropts.cluster = settings_.contract.substr(2, 8) + "-" + self_text_.substr(self_text_.size() - 6);
  ropts.pull_missing_images = true;
  ropts.stop_grace = std::chrono::seconds(3);
  executor_ = std::make_unique<Executor>(*this, std::move(selection.driver), std::move(selection.reason), ropts);
  executor_->offer_host_volumes(settings_.host_volumes);
  return {};
}

// The libp2p host gated by the chain's registry, GossipSub, SWIM, and the stream protocols.
Status Daemon::Impl::start_network(const p2p::KeyPair& identity) {
  p2p::HostConfig hc{.identity = identity};
  hc.agent_version = "veil-node/0.1.0";
  hc.backoff_max = std::chrono::milliseconds(2000);
  host_ = std::make_unique<p2p::Host>(io_, hc);
  // The host logs refusals sparingly (the first per peer, then a summary per minute) and
  // counts every one; /metrics shows the counts.
  host_->set_gater([this](const p2p::PeerId& peer, p2p::Direction) {
    return registered_by_hash_.count(chain::peer_id_hash(peer.to_string())) > 0;
  });
  metrics_.on_collect([this] {
    auto& refused = metrics_.counter(
        "veil_p2p_refused_connections_total",
        "libp2p connections refused: gated (not a registered node) or connection_limit.", {"reason"});
    for (auto reason : {p2p::Refusal::kGated, p2p::Refusal::kConnectionLimit}) {
      auto& series = refused.with({std::string(p2p::refusal_name(reason))});
      series.inc(static_cast<double>(host_->refused_connections(reason)) - series.value());
    }
  });
  for (const auto& addr : settings_.listen) VEIL_RETURN_IF_ERROR(host_->listen(addr));
  p2p::enable_ping(*host_);
  for (const auto& addr : host_->listen_addrs()) logger()->info("listening on {}/p2p/{}", addr.to_string(), self_text_);

  pubsub_ = std::make_unique<p2p::GossipSub>(io_, *host_, p2p::GossipSubParams::fast());
  pubsub_->on_message([this](const p2p::PubsubMessage& m) {
    wire_dump("in", "gossip " + m.topic, m.from.to_string(), m.data);
    if (m.topic == topics_.telemetry) telemetry_->on_record(m.from, m.data);
    else if (m.topic == topics_.jobs) scheduler_->on_round(m.from.to_string(), m.data);
    else if (m.topic == topics_.decisions) scheduler_->on_announcement(m.from.to_string(), m.data);
  });
  for (const auto* topic : {&topics_.telemetry, &topics_.jobs, &topics_.decisions}) pubsub_->subscribe(*topic);
  pubsub_->start();

  swim::Config sc = settings_.swim_preset == "local" ? swim::Config::local()
                    : settings_.swim_preset == "wan"  ? swim::Config::wan()
                                                      : swim::Config::lan();
  members_ = std::make_unique<swim::Libp2pMembership>(io_, *host_, sc);
  members_->subscribe([this](const swim::MemberEvent& e) { on_member_event(e); });
  VEIL_RETURN_IF_ERROR(members_->start(settings_.bootstrap));

  serve(kDecisionProtocol, [this](const std::string& p, Bytes m, auto reply) {
    coordinator_->handle_decision_submission(p, std::move(m), reply);
  });
  serve(kDecryptProtocol, [this](const std::string& p, Bytes m, auto reply) { committee_->handle(p, std::move(m), reply); });
  serve(kAssignProtocol, [this](const std::string& p, Bytes m, auto reply) { executor_->handle_assignment(p, std::move(m), reply); });
  serve(kReportProtocol, [this](const std::string& p, Bytes m, auto reply) { coordinator_->handle_report(p, std::move(m), reply); });
  serve(kLogsProtocol, [this](const std::string& p, Bytes m, auto reply) { executor_->handle_logs_request(p, std::move(m), reply); });
  serve(kJobStateProtocol, [this](const std::string& p, Bytes m, auto reply) {
    coordinator_->handle_job_state(p, std::move(m), reply);
  });
  return {};
}

// The local HTTP/JSON API and the dashboard.
Status Daemon::Impl::start_api() {
  VEIL_ASSIGN_OR_RETURN(std::string token, ensure_api_token(settings_.data_dir.string()));
  ApiServerConfig ac;
  ac.listen_host = settings_.api_host;
  ac.port = settings_.api_port;
  ac.token = token;
  ac.metrics = &metrics_;
  // The dashboard: VEIL_WEB_DIR, else web/ of the checkout this binary was built in
  // (build/bin/veil -> web/), else an installed copy.
  if (const char* web = std::getenv("VEIL_WEB_DIR")) {
    ac.static_dir = web;
  } else {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    for (const fs::path& candidate : {exe.parent_path() / ".." / ".." / "web", fs::path("/usr/share/veil/web")}) {
      if (!ec && fs::exists(candidate / "index.html")) {
        ac.static_dir = fs::weakly_canonical(candidate).string();
        break;
      }
    }
  }
  api_ = std::make_unique<ApiServer>(io_, ac);
  register_routes();
  VEIL_RETURN_IF_ERROR(api_->start());
  logger()->info("API on http://{}:{} (token in {}/api.token)", settings_.api_host, api_->port(),
                 settings_.data_dir.string());
  return {};
}

// Restores what the state database holds, then starts the periodic work.
Status Daemon::Impl::restore_and_start_work() {
  VEIL_RETURN_IF_ERROR(coordinator_->restore());
  executor_->start();
  telemetry_->start();
  coordinator_->start();
  chain_timer_ = std::make_unique<asio::steady_timer>(io_);
  asio::co_spawn(io_, [this]() -> p2p::Task<void> {
    for (;;) {
      chain_timer_->expires_after(std::chrono::seconds(5));
      boost::system::error_code ec;
      co_await chain_timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || stopping_) co_return;
      refresh_chain_view();
    }
  }, asio::detached);
  return {};
}

Status Daemon::Impl::run() {
  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    logger()->info("signal {}: draining and leaving", signal);
    shutdown_gracefully();
  });
  io_.run();
  logger()->info("node {} stopped", self_text_);
  return {};
}

void Daemon::Impl::request_stop() {
  asio::post(io_, [this] { shutdown_gracefully(); });
}

void Daemon::Impl::shutdown_gracefully() {
  if (stopping_.exchange(true)) return;
  executor_->drain([this] {
    members_->leave([this] {
      telemetry_->stop();
      if (chain_timer_) chain_timer_->cancel();
      executor_->stop();
      members_->stop();
      pubsub_->stop();
      api_->stop();
      host_->close();
      // Work queued on the workers may still post back; stop the loop once they are idle.
      auto wait = std::make_shared<asio::steady_timer>(io_);
      auto poll = std::make_shared<std::function<void()>>();
      *poll = [this, wait, poll] {
        if (blocking_->pending() == 0 && fhe_->pending() == 0) {
          io_.stop();
          return;
        }
        wait->expires_after(std::chrono::milliseconds(100));
        wait->async_wait([poll](const boost::system::error_code&) { (*poll)(); });
      };
      (*poll)();
    });
  });
}

// ---- plumbing --------------------------------------------------------------------------------

void Daemon::Impl::publish(const std::string& topic, const Bytes& data) {
  wire_dump("out", "gossip " + topic, "*", data);
  auto result = pubsub_->publish(topic, data);
  if (!result.ok()) logger()->warn("publish on {} failed: {}", topic, result.status().to_string());
}

void Daemon::Impl::wire_dump(std::string_view direction, std::string_view kind, const std::string& peer, ByteView data) {
  if (settings_.wire_dump.empty()) return;
  std::lock_guard lock(dump_mutex_);
  std::ofstream out(settings_.wire_dump, std::ios::binary | std::ios::app);
  const std::string header = std::string(direction) + " " + std::string(kind) + " " + peer + " " + std::to_string(data.size()) + "\n";
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  out.put('\n');
}

void Daemon::Impl::request(const std::string& peer, std::string_view protocol, Bytes message,
                           std::function<void(Result<Bytes>)> on_reply) {
  auto id = p2p::PeerId::parse(peer);
  if (!id.ok()) return on_reply(id.status());
  wire_dump("out", protocol, peer, message);
  asio::co_spawn(
      io_,
      [this, id = *id, peer, proto = std::string(protocol), message = std::move(message),
       on_reply = std::move(on_reply)]() -> p2p::Task<void> {
        std::vector<std::string> protocols{proto};
        auto stream = co_await host_->new_stream(id, protocols);
        if (!stream.ok()) {
          on_reply(stream.status().with_context(proto + " to " + peer));
          co_return;
        }
        if (auto st = co_await (*stream)->write_message(message); !st.ok()) {
          on_reply(st.with_context(proto + " to " + peer));
          co_return;
        }
        (void)(*stream)->close_write();
        auto reply = co_await (*stream)->read_message(kMaxProtocolMessage);
        if (reply.ok()) wire_dump("in", proto, peer, *reply);
        on_reply(std::move(reply));
      },
      asio::detached);
}

void Daemon::Impl::serve(std::string_view protocol,
                         std::function<void(const std::string&, Bytes, std::function<void(Bytes)>)> handler) {
  host_->set_handler(std::string(protocol), [this, proto = std::string(protocol), handler](p2p::StreamPtr stream) -> p2p::Task<void> {
    auto message = co_await stream->read_message(kMaxProtocolMessage);
    if (!message.ok()) {
      stream->reset();
      co_return;
    }
    const std::string peer = stream->remote_peer().to_string();
    wire_dump("in", proto, peer, *message);
    // The handler may answer later (after FHE work); wait for it on a timer it cancels.
    struct Pending {
      explicit Pending(asio::io_context& io) : wake(io) {}
      asio::steady_timer wake;
      std::optional<Bytes> reply;
    };
    auto pending = std::make_shared<Pending>(io_);
    pending->wake.expires_after(std::chrono::minutes(30));
    handler(peer, std::move(*message), [this, pending](Bytes reply) {
      asio::post(io_, [pending, reply = std::move(reply)]() mutable {
        pending->reply = std::move(reply);
        pending->wake.cancel();
      });
    });
    boost::system::error_code ec;
    if (!pending->reply) co_await pending->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!pending->reply) {
      stream->reset();
      co_return;
    }
    wire_dump("out", proto, peer, *pending->reply);
    (void)co_await stream->write_message(*pending->reply);
    (void)stream->close_write();
  });
}

bool Daemon::Impl::is_registered(const std::string& peer) const {
  return registered_by_hash_.count(chain::peer_id_hash(peer)) > 0;
}

void Daemon::Impl::ping(const std::string& peer, OnRtt done) {
  auto id = p2p::PeerId::parse(peer);
  if (!id.ok() || !host_->is_connected(*id)) {
    done(unavailable("not connected to " + peer));
    return;
  }
  asio::co_spawn(io_, [this, id = *id, done = std::move(done)]() -> p2p::Task<void> {
    done(co_await p2p::ping(*host_, id));
  }, asio::detached);
}

bool Daemon::Impl::declared_dead(const std::string& peer) const {
  for (const auto& m : members_->members()) {
    if (m.peer.to_string() == peer) return m.state == swim::MemberState::kDead || m.state == swim::MemberState::kLeft;
  }
  return false;  // never seen since this node started: not known to be dead
}

std::size_t Daemon::Impl::known_members() const {
  std::size_t known = 0;
  for (const auto& m : members_->members()) {
    if (m.state != swim::MemberState::kLeft && is_registered(m.peer.to_string())) ++known;
  }
  return known;
}

std::vector<std::string> Daemon::Impl::live_members() const {
  std::vector<std::string> out;
  for (const auto& m : members_->members()) {
    const std::string id = m.peer.to_string();
    const bool live = m.state == swim::MemberState::kAlive || m.state == swim::MemberState::kSuspect;
    if (live && is_registered(id)) {
      out.push_back(id);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void Daemon::Impl::on_member_event(const swim::MemberEvent& event) {
  const std::string peer = event.peer.to_string();
  const auto kind = swim::event_kind_name(event.kind);
  logger()->info("member {} {} (incarnation {})", peer, kind, event.incarnation);
  if (event.kind == swim::Event::Kind::kJoined || event.kind == swim::Event::Kind::kAlive) {
    if (!host_->is_connected(event.peer)) {
      for (const auto& m : members_->members()) {
        if (m.peer == event.peer) host_->peerstore().add_addrs(m.peer, m.addrs);
      }
      asio::co_spawn(io_, [this, id = event.peer]() -> p2p::Task<void> {
        std::vector<std::string> none;
        auto info = host_->peerstore().get(id);
        if (info && !info->addrs.empty()) (void)co_await host_->connect(info->addrs.front().with_peer_id(id));
      }, asio::detached);
    }
  }
  if (event.kind == swim::Event::Kind::kDead || event.kind == swim::Event::Kind::kLeft) {
    coordinator_->on_member_gone(peer, std::string(kind));
  }
}

void Daemon::Impl::refresh_chain_view() {
  blocking_->post([this] {
    auto nodes = registry_->nodes();
    auto policy = registry_->cluster_policy();
    auto stake = read_stake_view(nodes);
    asio::post(io_, [this, nodes = std::move(nodes), policy = std::move(policy), stake = std::move(stake)] {
      apply_chain_view(nodes, policy, stake);
    });
  });
}

void Daemon::Impl::apply_chain_view(const Result<std::vector<chain::VeilRegistry::NodeInfo>>& nodes,
                                    const Result<Bytes>& policy, const StakeView& stake) {
  if (!nodes.ok()) {
    logger()->warn("chain: cannot read the node registry: {}", nodes.status().to_string());
    return;
  }
  std::map<chain::Hash32, std::string> active;
  for (const auto& n : *nodes) {
    if (n.active) active[n.peer_id] = n.operator_address.to_checksum();
  }
  apply_stake_view(stake, active);
  // The registry holds keccak(PeerId); name the ones we know.
  std::set<std::string> known = {self_text_};
  if (host_) {
    for (const auto& p : host_->peerstore().peers()) known.insert(p.to_string());
  }
  if (members_) {
    for (const auto& m : members_->members()) known.insert(m.peer.to_string());
  }
  for (const auto& b : settings_.bootstrap) known.insert(b.peer_id()->to_string());
  for (const auto& p : keys_.member_peers) known.insert(p);
  std::map<std::string, std::string> registered;
  for (const auto& c : known) {
    auto it = active.find(chain::peer_id_hash(c));
    if (it != active.end()) registered[c] = it->second;
  }
  registered_ = std::move(registered);
  registered_by_hash_ = std::move(active);
  if (!policy.ok()) return;
  auto decoded = chain::abi_decode({*chain::AbiType::parse("bytes32"), *chain::AbiType::parse("bytes")}, *policy);
  if (!decoded.ok() || decoded->size() != 2) return;
  std::vector<std::string> names;
  std::string current;
  for (auto b : (*decoded)[1].as_bytes()) {
    if (b == ',') names.push_back(std::exchange(current, {}));
    else current.push_back(static_cast<char>(b));
  }
  if (!current.empty()) names.push_back(current);
  allowed_policies_ = names;
}

AnchorInfo Daemon::Impl::anchor_on_chain(const chain::VeilRegistry::Commitment& commitment) {
  AnchorInfo result;
  result.commitment = to_hex_prefixed(chain::VeilRegistry::commitment_hash(commitment));
  if (!sender_) {
    result.phase = AnchorPhase::kFailed;
    result.error = "no eth.key_file: this node cannot anchor deployments";
    return result;
  }
  auto existing = registry_->deployment(chain::VeilRegistry::commitment_hash(commitment));
  Status status;
  if (!existing.ok() || existing->status == chain::VeilRegistry::DeploymentStatus::kNone) {
    status = registry_->anchor_commitment(commitment).status();
  }
  if (!status.ok()) {
    result.phase = AnchorPhase::kFailed;
    result.error = status.message();
    return result;
  }
  // Sent, but its event not seen yet: stays kPending and is looked for again.
  auto events = registry_->anchored_events(0, 0, commitment.job_id);
  if (!events.ok()) return result;
  for (const auto& e : *events) {
    if (e.assignment_hash == chain::VeilRegistry::commitment_hash(commitment)) {
      result.phase = AnchorPhase::kAnchored;
      result.tx = to_hex_prefixed(e.transaction_hash);
      result.block = e.block_number;
    }
  }
  return result;
}

AnchorInfo Daemon::Impl::anchor_batch_on_chain(const Hash32& root, std::uint32_t size, bool may_send) {
  AnchorInfo result;  // kPending: not anchored (yet)
  auto fail = [&](const Status& status) {
    result.phase = AnchorPhase::kFailed;
    result.error = status.message();
    return result;
  };
  if (!sender_) return fail(failed_precondition("no eth.key_file: this node cannot anchor deployments"));
  // The chain first: a root is never sent twice (after a restart, a take-over or a lost receipt).
  auto anchored = registry_->batch_anchored_event(root);
  if (!anchored.ok()) return fail(anchored.status());
  if (*anchored) {
    result.phase = AnchorPhase::kAnchored;
    result.tx = to_hex_prefixed((*anchored)->transaction_hash);
    result.block = (*anchored)->block_number;
    return result;
  }
  if (!may_send) return result;
  auto receipt = registry_->anchor_batch(root, size);
  if (!receipt.ok()) return fail(receipt.status());
  // Confirmed by the contract's own record of the root (getBatch), not by the receipt alone.
  auto batch = registry_->batch(root);
  if (!batch.ok() || batch->anchored_by == chain::Address{}) return result;
  result.phase = AnchorPhase::kAnchored;
  result.tx = to_hex_prefixed(receipt->transaction_hash);
  result.block = receipt->block_number;
  return result;
}

}  // namespace veil::node
