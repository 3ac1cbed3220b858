#include "veil/node/protocol.h"

#include <sodium.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "veil/sched/sampling.h"

namespace veil::node {
namespace {

using nlohmann::json;
using fhe::threshold::DecryptionRequest;
using fhe::threshold::EncryptedValue;

constexpr int kVersion = 1;
constexpr std::size_t kMaxListEntries = 4096;
constexpr std::size_t kMaxText = 1 << 16;
constexpr std::size_t kMaxSpec = 1 << 20;
constexpr std::uint64_t kMaxPullLayers = 4096;  // overlay2 stacks 128 layers at most: only nonsense is above
constexpr std::size_t kAnnouncementSignatureSize = 65;  // r ‖ s ‖ v

json bin(ByteView bytes) { return json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end())); }
json bin(const Hash32& hash) { return bin(ByteView(hash.data(), hash.size())); }

Bytes to_bytes(const json& j) { return json::to_cbor(j); }

// Typed access to one decoded CBOR map; the first problem becomes the status.
class Fields {
 public:
  Fields(const json& map, std::string_view what) : map_(map), what_(what) {}

  bool has(const char* key) const { return map_.contains(key); }
  const json* get(const char* key, json::value_t type) {
    auto it = map_.find(key);
    if (it == map_.end()) return fail(std::string("missing field '") + key + "'");
    if (it->type() != type) return fail(std::string("field '") + key + "' has the wrong type");
    return &*it;
  }
  std::string text(const char* key, std::size_t limit = kMaxText) {
    const json* j = get(key, json::value_t::string);
    if (j == nullptr) return {};
    const auto& s = j->get_ref<const std::string&>();
    if (s.size() > limit) return fail(std::string("field '") + key + "' is too long"), std::string();
    return s;
  }
  std::uint64_t number(const char* key, std::uint64_t max = UINT64_MAX) {
    const json* j = get(key, json::value_t::number_unsigned);
    if (j == nullptr) return 0;
    const auto v = j->get<std::uint64_t>();
    if (v > max) return fail(std::string("field '") + key + "' is out of range"), 0;
    return v;
  }
  bool flag(const char* key) {
    const json* j = get(key, json::value_t::boolean);
    return j != nullptr && j->get<bool>();
  }
  Bytes bytes(const char* key, std::size_t limit = kMaxProtocolMessage) {
    const json* j = get(key, json::value_t::binary);
    if (j == nullptr) return {};
    const auto& b = j->get_binary();
    if (b.size() > limit) return fail(std::string("field '") + key + "' is too long"), Bytes();
    return Bytes(b.begin(), b.end());
  }
  Hash32 hash(const char* key) {
    Hash32 h{};
    const json* j = get(key, json::value_t::binary);
    if (j == nullptr) return h;
    const auto& b = j->get_binary();
    if (b.size() != h.size()) return fail(std::string("field '") + key + "' is not 32 bytes"), h;
    std::copy(b.begin(), b.end(), h.begin());
    return h;
  }
  const json* list(const char* key) {
    const json* j = get(key, json::value_t::array);
    if (j != nullptr && j->size() > kMaxListEntries) return fail(std::string("field '") + key + "' has too many entries");
    return j;
  }
  std::vector<std::string> texts(const char* key) {
    std::vector<std::string> out;
    const json* j = list(key);
    if (j == nullptr) return out;
    for (const auto& e : *j) {
      if (!e.is_string() || e.get_ref<const std::string&>().size() > kMaxText) {
        fail(std::string("field '") + key + "' must hold short strings");
        return {};
      }
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::nullptr_t fail(std::string message) {
    if (status_.ok()) status_ = invalid_argument(std::string(what_) + ": " + message);
    return nullptr;
  }
  const Status& status() const { return status_; }

 private:
  const json& map_;
  std::string_view what_;
  Status status_;
};

// Parses CBOR, checks it is a map of our version and type, and hands it to `read`.
template <typename T, typename Read>
Result<T> decode_message(ByteView bytes, std::string_view type, Read read) {
  if (bytes.size() > kMaxProtocolMessage) return out_of_range(std::string(type) + ": message too large");
  json j;
  try {
    // allow_exceptions=false is not enough: a huge declared length still throws (out_of_range).
    j = json::from_cbor(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
  } catch (const json::exception& e) {
    return data_loss(std::string(type) + ": malformed CBOR (" + e.what() + ")");
  }
  if (j.is_discarded()) return data_loss(std::string(type) + ": not a CBOR message (truncated or corrupted)");
  if (!j.is_object()) return invalid_argument(std::string(type) + ": not a CBOR map");
  Fields f(j, type);
  const auto version = f.number("v");
  const std::string t = f.text("t");
  if (!f.status().ok()) return f.status();
  if (version != kVersion) return invalid_argument(std::string(type) + ": unsupported version " + std::to_string(version));
  if (t != type) return invalid_argument("expected a " + std::string(type) + " message, got '" + t + "'");
  T out;
  read(f, out);
  if (!f.status().ok()) return f.status();
  return out;
}

json header(std::string_view type) { return json{{"v", kVersion}, {"t", std::string(type)}}; }

json record_json(const sched::DecisionRecord& r) {
  json inputs = json::array();
  for (const auto& h : r.inputs) inputs.push_back(bin(h));
  return json{{"job", bin(r.job)}, {"policy", r.policy}, {"inputs", inputs}, {"outputs", bin(r.outputs)}};
}

sched::DecisionRecord read_record(Fields& f, const char* key) {
  sched::DecisionRecord r;
  const json* j = f.get(key, json::value_t::object);
  if (j == nullptr) return r;
  Fields inner(*j, "decision record");
  r.job = inner.hash("job");
  r.policy = inner.text("policy", 1024);
  r.outputs = inner.bytes("outputs");
  if (const json* inputs = inner.list("inputs")) {
    for (const auto& e : *inputs) {
      if (!e.is_binary() || e.get_binary().size() != 32) {
        inner.fail("inputs must be 32-byte hashes");
        break;
      }
      Hash32 h;
      std::copy(e.get_binary().begin(), e.get_binary().end(), h.begin());
      r.inputs.push_back(h);
    }
  }
  if (!inner.status().ok()) f.fail(inner.status().message());
  return r;
}

json bytes_list(const std::vector<Bytes>& items) {
  json out = json::array();
  for (const auto& b : items) out.push_back(bin(b));
  return out;
}

std::vector<Bytes> read_bytes_list(Fields& f, const json& list, const char* what) {
  std::vector<Bytes> out;
  if (list.size() > kMaxListEntries) return f.fail(std::string(what) + " has too many entries"), out;
  for (const auto& e : list) {
    if (!e.is_binary()) return f.fail(std::string(what) + " must hold byte strings"), std::vector<Bytes>();
    out.emplace_back(e.get_binary().begin(), e.get_binary().end());
  }
  return out;
}

void sha256_update(crypto_hash_sha256_state& st, ByteView b) { crypto_hash_sha256_update(&st, b.data(), b.size()); }

}  // namespace

Topics Topics::for_cluster(std::string_view contract_address) {
  std::string base = "/veil/";
  for (char c : contract_address) base.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return Topics{base + "/telemetry/1", base + "/jobs/1", base + "/decisions/1"};
}

// ---- encoders ---------------------------------------------------------------------------------

Bytes encode(const ScheduleRequest& m) {
  json j = header("schedule");
  j["job"] = bin(m.job_id);
  j["round"] = m.round;
  j["coordinator"] = m.coordinator;
  j["spec"] = m.spec_yaml;
  j["candidates"] = m.candidates;
  j["schedulers"] = m.schedulers;
  json nodes = json::array();
  for (const auto& n : m.nodes) nodes.push_back(json{{"peer", n.peer}, {"telemetry", bin(n.telemetry_hash)}});
  j["nodes"] = nodes;
  j["replicas"] = m.replicas;
  j["created_ms"] = m.created_ms;
  // Written only for a sampled round, so a full scan's message is what it always was.
  if (!m.sample_pool.empty()) {
    j["sample_pool"] = m.sample_pool;
    j["sample_size"] = m.sample_size;
  }
  j["decision_format"] = m.decision_format;
  return to_bytes(j);
}

Bytes encode(const DecisionAnnouncement& m) {
  json j = header("announce");
  j["job"] = bin(m.job_id);
  j["round"] = m.round;
  j["scheduler"] = m.scheduler;
  j["hash"] = bin(m.decision_hash);
  j["error"] = m.error;
  j["sig"] = bin(m.signature);
  j["inputs"] = bin(m.inputs_root);
  return to_bytes(j);
}

Bytes encode(const DecisionSubmission& m) {
  json j = header("decision");
  j["job"] = bin(m.job_id);
  j["round"] = m.round;
  j["record"] = record_json(m.record);
  return to_bytes(j);
}

Bytes encode(const DecryptRequest& m) {
  json j = header("decrypt");
  j["job"] = bin(m.job_id);
  j["round"] = m.round;
  j["record"] = record_json(m.record);
  return to_bytes(j);
}

Bytes encode(const DecryptResponse& m) {
  json j = header("shares");
  j["error"] = m.error;
  j["shares"] = bytes_list(m.shares);
  return to_bytes(j);
}

Bytes encode(const Assignment& m) {
  json j = header("assign");
  j["job"] = bin(m.job_id);
  j["round"] = m.round;
  j["replica"] = m.replica;
  j["choice"] = m.choice;
  j["stop"] = m.stop;
  j["record"] = record_json(m.record);
  json shares = json::array();
  for (const auto& per_value : m.shares) shares.push_back(bytes_list(per_value));
  j["shares"] = shares;
  if (!m.owner.empty()) j["owner"] = m.owner;
  if (!m.secrets.empty()) {
    json secrets = json::object();
    for (const auto& [name, box] : m.secrets) secrets[name] = bin(box);
    j["secrets"] = secrets;
  }
  return to_bytes(j);
}

Bytes encode(const AssignmentAck& m) {
  json j = header("ack");
  j["error"] = m.error;
  if (!m.coordinator.empty()) j["coordinator"] = m.coordinator;
  return to_bytes(j);
}

Bytes encode(const ReplicaReport& m) {
  json j = header("report");
  j["job"] = bin(m.job_id);
  j["replica"] = m.replica;
  j["state"] = m.state;
  j["endpoint"] = m.endpoint;
  j["detail"] = m.detail;
  j["at_ms"] = m.at_ms;
  if (m.exit_code) j["exit"] = static_cast<std::uint64_t>(*m.exit_code & 0xff);
  if (m.pull) j["pull"] = image_pull_json(*m.pull);
  return to_bytes(j);
}

Bytes encode(const LogsRequest& m) {
  json j = header("logs?");
  j["job"] = bin(m.job_id);
  j["tail"] = m.tail;
  return to_bytes(j);
}

Bytes encode(const LogsReply& m) {
  json j = header("logs");
  j["error"] = m.error;
  json replicas = json::array();
  for (const auto& r : m.replicas) replicas.push_back({{"replica", r.replica}, {"text", r.text}});
  j["replicas"] = std::move(replicas);
  return to_bytes(j);
}

// ---- decoders ---------------------------------------------------------------------------------

Result<ScheduleRequest> decode_schedule_request(ByteView bytes) {
  return decode_message<ScheduleRequest>(bytes, "schedule", [](Fields& f, ScheduleRequest& m) {
    m.job_id = f.hash("job");
    m.round = static_cast<std::uint32_t>(f.number("round", UINT32_MAX));
    m.coordinator = f.text("coordinator", 128);
    m.spec_yaml = f.text("spec", kMaxSpec);
    m.candidates = f.texts("candidates");
    m.schedulers = f.texts("schedulers");
    if (const json* nodes = f.list("nodes")) {
      for (const auto& n : *nodes) {
        if (!n.is_object()) return void(f.fail("nodes must hold maps"));
        Fields nf(n, "schedule node");
        TelemetryRef ref{nf.text("peer", 128), nf.hash("telemetry")};
        if (!nf.status().ok()) return void(f.fail(nf.status().message()));
        m.nodes.push_back(std::move(ref));
      }
    }
    m.replicas = static_cast<std::uint32_t>(f.number("replicas", 64));
    m.created_ms = f.number("created_ms");
    if (f.has("sample_pool")) {
      m.sample_pool = f.texts("sample_pool");
      m.sample_size = static_cast<std::uint32_t>(f.number("sample_size", UINT32_MAX));
      if (f.status().ok() && (m.sample_size == 0 || m.sample_size > m.sample_pool.size() || m.sample_size != m.nodes.size())) {
        f.fail("sample_size must be the number of nodes, between 1 and the pool's size");
      }
    }
    m.decision_format = f.has("decision_format") ? static_cast<std::uint32_t>(f.number("decision_format", UINT32_MAX)) : 1;
    if (f.status().ok() && m.decision_format == 0) f.fail("decision_format must be at least 1");
    if (f.status().ok() && m.schedulers.empty()) f.fail("no schedulers");
  });
}

Result<DecisionAnnouncement> decode_decision_announcement(ByteView bytes) {
  return decode_message<DecisionAnnouncement>(bytes, "announce", [](Fields& f, DecisionAnnouncement& m) {
    m.job_id = f.hash("job");
    m.round = static_cast<std::uint32_t>(f.number("round", UINT32_MAX));
    m.scheduler = f.text("scheduler", 128);
    m.decision_hash = f.hash("hash");
    m.error = f.text("error", 1024);
    m.signature = f.bytes("sig", kAnnouncementSignatureSize);
    m.inputs_root = f.hash("inputs");
    if (f.status().ok() && !m.signature.empty() && m.signature.size() != kAnnouncementSignatureSize) {
      f.fail("field 'sig' must be empty or 65 bytes");
    }
  });
}

Result<DecisionSubmission> decode_decision_submission(ByteView bytes) {
  return decode_message<DecisionSubmission>(bytes, "decision", [](Fields& f, DecisionSubmission& m) {
    m.job_id = f.hash("job");
    m.round = static_cast<std::uint32_t>(f.number("round", UINT32_MAX));
    m.record = read_record(f, "record");
  });
}

Result<DecryptRequest> decode_decrypt_request(ByteView bytes) {
  return decode_message<DecryptRequest>(bytes, "decrypt", [](Fields& f, DecryptRequest& m) {
    m.job_id = f.hash("job");
    m.round = static_cast<std::uint32_t>(f.number("round", UINT32_MAX));
    m.record = read_record(f, "record");
  });
}

Result<DecryptResponse> decode_decrypt_response(ByteView bytes) {
  return decode_message<DecryptResponse>(bytes, "shares", [](Fields& f, DecryptResponse& m) {
    m.error = f.text("error", 4096);
    if (const json* shares = f.list("shares")) m.shares = read_bytes_list(f, *shares, "shares");
  });
}

Result<Assignment> decode_assignment(ByteView bytes) {
  return decode_message<Assignment>(bytes, "assign", [](Fields& f, Assignment& m) {
    m.job_id = f.hash("job");
    m.round = static_cast<std::uint32_t>(f.number("round", UINT32_MAX));
    m.replica = static_cast<std::uint32_t>(f.number("replica", 63));
    m.choice = static_cast<std::uint32_t>(f.number("choice", 63));
    m.stop = f.flag("stop");
    m.record = read_record(f, "record");
    if (const json* shares = f.list("shares")) {
      for (const auto& per_value : *shares) {
        if (!per_value.is_array()) return void(f.fail("shares must hold lists"));
        m.shares.push_back(read_bytes_list(f, per_value, "shares"));
      }
    }
    if (f.has("owner")) m.owner = f.text("owner", 42);
    if (const json* secrets = f.has("secrets") ? f.get("secrets", json::value_t::object) : nullptr) {
      if (secrets->size() > sched::kMaxSecrets) return void(f.fail("too many secrets"));
      for (const auto& [name, box] : secrets->items()) {
        if (!box.is_binary() || box.get_binary().size() > sched::kMaxSecretBytes + 64 || name.empty() || name.size() > 128) {
          return void(f.fail("malformed secret '" + name.substr(0, 64) + "'"));
        }
        m.secrets[name] = Bytes(box.get_binary().begin(), box.get_binary().end());
      }
    }
  });
}

Result<AssignmentAck> decode_assignment_ack(ByteView bytes) {
  return decode_message<AssignmentAck>(bytes, "ack", [](Fields& f, AssignmentAck& m) {
    m.error = f.text("error", 4096);
    if (f.has("coordinator")) m.coordinator = f.text("coordinator", 128);
  });
}

nlohmann::json image_pull_json(const ImagePull& pull) {
  return {{"image", pull.image},
          {"layers", pull.layers},
          {"layers_done", pull.layers_done},
          {"bytes_done", pull.bytes_done},
          {"bytes_total", pull.bytes_total}};
}

Result<ReplicaReport> decode_replica_report(ByteView bytes) {
  return decode_message<ReplicaReport>(bytes, "report", [](Fields& f, ReplicaReport& m) {
    m.job_id = f.hash("job");
    m.replica = static_cast<std::uint32_t>(f.number("replica", 63));
    m.state = f.text("state", 32);
    m.endpoint = f.text("endpoint", 256);
    m.detail = f.text("detail", 4096);
    m.at_ms = f.number("at_ms");
    if (f.has("exit")) m.exit_code = static_cast<int>(f.number("exit", 255));  // absent from older nodes
    if (f.has("pull")) {  // absent from older nodes
      const json* pull = f.get("pull", json::value_t::object);
      if (pull == nullptr) return;
      Fields p(*pull, "report pull");
      ImagePull out;
      out.image = p.text("image", 512);
      out.layers = static_cast<std::uint32_t>(p.number("layers", kMaxPullLayers));
      out.layers_done = static_cast<std::uint32_t>(p.number("layers_done", kMaxPullLayers));
      out.bytes_done = p.number("bytes_done");
      out.bytes_total = p.number("bytes_total");
      if (!p.status().ok()) return void(f.fail(p.status().message()));
      if (out.layers_done > out.layers) return void(f.fail("pull: more layers done than named"));
      m.pull = std::move(out);
    }
  });
}

Result<LogsRequest> decode_logs_request(ByteView bytes) {
  return decode_message<LogsRequest>(bytes, "logs?", [](Fields& f, LogsRequest& m) {
    m.job_id = f.hash("job");
    m.tail = static_cast<std::uint32_t>(f.number("tail", kMaxLogLines));
    if (f.status().ok() && m.tail == 0) f.fail("field 'tail' must be at least 1");
  });
}

Result<LogsReply> decode_logs_reply(ByteView bytes) {
  return decode_message<LogsReply>(bytes, "logs", [](Fields& f, LogsReply& m) {
    m.error = f.text("error", 4096);
    const json* replicas = f.list("replicas");
    if (replicas == nullptr) return;
    if (replicas->size() > 64) return (void)f.fail("more replicas than a job has");
    for (const auto& entry : *replicas) {
      if (!entry.is_object()) return (void)f.fail("a replica's logs must be a map");
      Fields r(entry, "replica");
      LogsReply::Replica out;
      out.replica = static_cast<std::uint32_t>(r.number("replica", 63));
      out.text = r.text("text", kMaxReplicaLogBytes);
      if (!r.status().ok()) return (void)f.fail(r.status().message());
      m.replicas.push_back(std::move(out));
    }
  });
}

// ---- deterministic choices --------------------------------------------------------------------

namespace {

// The candidates by SHA-256(domain | job | round | peer), largest first.
std::vector<std::string> by_rendezvous_weight(std::string_view domain, const Hash32& job_id, std::uint32_t round,
                                              const std::vector<std::string>& candidates) {
  std::vector<std::pair<Hash32, std::string>> weighted;
  for (const auto& peer : candidates) weighted.emplace_back(sched::rendezvous_weight(domain, job_id, round, peer), peer);
  std::sort(weighted.begin(), weighted.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> out;
  for (auto& [weight, peer] : weighted) out.push_back(std::move(peer));
  return out;
}

}  // namespace

std::vector<std::string> select_schedulers(const Hash32& job_id, std::uint32_t round,
                                           const std::vector<std::string>& candidates, std::size_t k) {
  std::vector<std::string> out = by_rendezvous_weight("veil-sched-v1", job_id, round, candidates);
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<std::string> committee_asking_order(const Hash32& job_id, std::uint32_t round,
                                                const std::vector<std::string>& members, const std::string& self,
                                                const std::function<bool(const std::string&)>& known_dead) {
  std::vector<std::string> ranked = by_rendezvous_weight("veil-committee-v1", job_id, round, members);
  // Stable: each group keeps the weight order.
  std::stable_partition(ranked.begin(), ranked.end(), [&](const std::string& m) { return !known_dead(m); });
  std::stable_partition(ranked.begin(), ranked.end(), [&](const std::string& m) { return m == self; });
  return ranked;
}

std::size_t agreement_quorum(std::size_t schedulers) { return schedulers / 2 + 1; }

std::uint32_t round_robin_offset(const Hash32& job_id, std::size_t node_count) {
  if (node_count == 0) return 0;
  return read_u32_be(job_id.data()) % static_cast<std::uint32_t>(node_count);
}

Result<std::vector<EncryptedValue>> decision_values(const sched::DecisionRecord& record, std::uint32_t replicas,
                                                    const fhe::Parameters& params) {
  std::vector<EncryptedValue> values;
  std::size_t offset = 0;
  const Bytes& out = record.outputs;
  const fhe::DeserializeOptions options{kMaxProtocolMessage, &params};
  for (std::uint32_t i = 0; i < 2 * replicas; ++i) {
    if (out.size() - offset < 8) return invalid_argument("decision outputs end before replica " + std::to_string(i / 2));
    const std::uint64_t size = read_u64_be(out.data() + offset);
    offset += 8;
    if (size > out.size() - offset) return invalid_argument("decision outputs: item longer than the record");
    auto value = EncryptedValue::parse(ByteView(out.data() + offset, size), options);
    if (!value.ok()) return value.status().with_context("decision value " + std::to_string(i));
    const auto expected = i % 2 == 0 ? fhe::threshold::ValueKind::kUint16 : fhe::threshold::ValueKind::kBool;
    if (value->kind != expected) return invalid_argument("decision value " + std::to_string(i) + " has the wrong type");
    values.push_back(std::move(*value));
    offset += size;
  }
  return values;
}

DecryptionRequest decision_request(const Hash32& job_id, std::uint32_t round, std::size_t index,
                                   const EncryptedValue& value) {
  DecryptionRequest r;
  r.params = value.params;
  r.ciphertext_hash = value.hash();
  r.kind = value.kind;
  r.purpose = "veil decision " + hash_hex(job_id) + " round " + std::to_string(round) + " value " + std::to_string(index);
  r.requester = "veil-node";
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  sha256_update(st, as_bytes(r.purpose));
  sha256_update(st, ByteView(r.ciphertext_hash.data(), r.ciphertext_hash.size()));
  Hash32 digest;
  crypto_hash_sha256_final(&st, digest.data());
  std::copy_n(digest.begin(), r.nonce.size(), r.nonce.begin());
  return r;
}

Hash32 inputs_root(std::uint32_t decision_format, const std::vector<Hash32>& telemetry_hashes) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  if (decision_format <= 1) {
    sha256_update(st, as_bytes(std::string_view("veil-inputs-v1")));
  } else {
    sha256_update(st, as_bytes(std::string_view("veil-inputs-v2")));
    Bytes format;
    append_u32_be(format, decision_format);
    sha256_update(st, format);
  }
  for (const auto& h : telemetry_hashes) sha256_update(st, ByteView(h.data(), h.size()));
  Hash32 root;
  crypto_hash_sha256_final(&st, root.data());
  return root;
}

Hash32 inputs_root_of(std::uint32_t decision_format, const std::vector<TelemetryRef>& nodes) {
  std::vector<Hash32> hashes;
  hashes.reserve(nodes.size());
  for (const auto& n : nodes) hashes.push_back(n.telemetry_hash);
  return inputs_root(decision_format, hashes);
}

Hash32 round_inputs_root(const ScheduleRequest& request) { return inputs_root_of(request.decision_format, request.nodes); }

std::string decision_format_mismatch(std::uint32_t decision_format) {
  if (decision_format == sched::kDecisionFormat) return "";
  return "the round asks for decision format " + std::to_string(decision_format) + " and this node's release computes " +
         std::to_string(sched::kDecisionFormat) + ": its decisions could not agree (upgrade every node together, " +
         "docs/operations.md)";
}

std::string hash_hex(const Hash32& hash) { return to_hex(ByteView(hash.data(), hash.size())); }

Result<Hash32> parse_hash_hex(std::string_view text) {
  if (text.starts_with("0x")) text.remove_prefix(2);
  auto bytes = fixed_from_hex<32>(text);
  if (!bytes.ok()) return invalid_argument("expected a 32-byte hex hash, got '" + std::string(text) + "'");
  return *bytes;
}

}  // namespace veil::node
