#include "veil/sched/telemetry_record.h"

#include <cstring>

#include <sodium.h>

namespace veil::sched {
namespace {

constexpr char kMagic[4] = {'V', 'T', 'E', 'L'};
constexpr std::size_t kFieldCount = kResourceCount + 1;
constexpr std::uint64_t kMaxClockSkewMs = 30'000;

const fhe::FheUint16& field(const EncryptedTelemetry& t, std::size_t i) { return i < kResourceCount ? t.free[i] : t.latency; }

// A bounds-checked reader: every read fails cleanly past the end.
class Reader {
 public:
  explicit Reader(ByteView bytes) : bytes_(bytes) {}
  bool take(std::size_t n, ByteView& out) {
    if (bytes_.size() - pos_ < n) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool u8(std::uint8_t& v) { ByteView b; if (!take(1, b)) return false; v = b[0]; return true; }
  bool u16(std::uint16_t& v) { ByteView b; if (!take(2, b)) return false; v = read_u16_be(b.data()); return true; }
  bool u32(std::uint32_t& v) { ByteView b; if (!take(4, b)) return false; v = read_u32_be(b.data()); return true; }
  bool u64(std::uint64_t& v) { ByteView b; if (!take(8, b)) return false; v = read_u64_be(b.data()); return true; }
  std::size_t position() const { return pos_; }
  std::size_t remaining() const { return bytes_.size() - pos_; }

 private:
  ByteView bytes_;
  std::size_t pos_ = 0;
};

constexpr std::uint16_t kVersionWithoutAttributes = 1;

void append_attributes(Bytes& out, const NodeAttributes& attributes) {
  append_u16_be(out, static_cast<std::uint16_t>(attributes.labels.size()));
  for (const auto& [name, value] : attributes.labels) {
    out.push_back(static_cast<std::uint8_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
    append_u16_be(out, static_cast<std::uint16_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  }
  append_u16_be(out, static_cast<std::uint16_t>(attributes.volumes.size()));
  for (const auto& name : attributes.volumes) {
    out.push_back(static_cast<std::uint8_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
  }
}

// Reads what append_attributes wrote; the canonical order (ascending, no repeats) is required
// so that one set of attributes has exactly one encoding under the signature.
Result<NodeAttributes> read_attributes(Reader& in) {
  NodeAttributes attributes;
  std::uint16_t count = 0;
  if (!in.u16(count)) return data_loss("telemetry record truncated in its labels");
  for (std::uint16_t i = 0; i < count; ++i) {
    std::uint8_t name_length = 0;
    std::uint16_t value_length = 0;
    ByteView name, value;
    if (!in.u8(name_length) || !in.take(name_length, name) || !in.u16(value_length) || !in.take(value_length, value)) {
      return data_loss("telemetry record truncated in label " + std::to_string(i));
    }
    std::string key = to_string(name);
    if (!attributes.labels.empty() && key <= attributes.labels.rbegin()->first) {
      return data_loss("telemetry record labels are not in ascending order");
    }
    attributes.labels.emplace(std::move(key), to_string(value));
  }
  if (!in.u16(count)) return data_loss("telemetry record truncated in its volumes");
  for (std::uint16_t i = 0; i < count; ++i) {
    std::uint8_t length = 0;
    ByteView name;
    if (!in.u8(length) || !in.take(length, name)) return data_loss("telemetry record truncated in volume " + std::to_string(i));
    std::string text = to_string(name);
    if (!attributes.volumes.empty() && text <= *attributes.volumes.rbegin()) {
      return data_loss("telemetry record volumes are not in ascending order");
    }
    attributes.volumes.insert(std::move(text));
  }
  if (auto valid = validate_node_attributes(attributes); !valid.ok()) return valid.with_context("telemetry record attributes");
  return attributes;
}

Bytes unsigned_body(const std::string& node_id, std::uint64_t sequence, std::uint64_t timestamp_ms,
                    const EncryptedTelemetry& telemetry, std::uint8_t params_id, const NodeAttributes& attributes) {
  Bytes out(kMagic, kMagic + 4);
  append_u16_be(out, kTelemetryRecordVersion);
  out.push_back(params_id);
  append_u16_be(out, static_cast<std::uint16_t>(node_id.size()));
  out.insert(out.end(), node_id.begin(), node_id.end());
  append_u64_be(out, sequence);
  append_u64_be(out, timestamp_ms);
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    Bytes ct = field(telemetry, i).serialize();
    append_u32_be(out, static_cast<std::uint32_t>(ct.size()));
    out.insert(out.end(), ct.begin(), ct.end());
  }
  append_attributes(out, attributes);
  return out;
}

}  // namespace

Bytes sign_telemetry_record(const std::string& node_id, std::uint64_t sequence, std::uint64_t timestamp_ms,
                            const EncryptedTelemetry& telemetry, const fhe::Parameters& params,
                            const Ed25519SecretKey& secret_key, const NodeAttributes& attributes) {
  Bytes out = unsigned_body(node_id, sequence, timestamp_ms, telemetry, params.id, attributes);
  const std::uint8_t* public_key = secret_key.data() + 32;
  out.insert(out.end(), public_key, public_key + 32);
  std::array<std::uint8_t, crypto_sign_BYTES> signature{};
  crypto_sign_detached(signature.data(), nullptr, out.data(), out.size(), secret_key.data());
  out.insert(out.end(), signature.begin(), signature.end());
  return out;
}

Result<TelemetryRecord> parse_telemetry_record(ByteView bytes, const fhe::Parameters& expected_params,
                                               std::size_t size_limit) {
  if (bytes.size() > size_limit) {
    return out_of_range("telemetry record of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                        std::to_string(size_limit));
  }
  Reader in(bytes);
  ByteView magic;
  std::uint16_t version = 0, id_length = 0;
  std::uint8_t params_id = 0;
  if (!in.take(4, magic) || std::memcmp(magic.data(), kMagic, 4) != 0) return data_loss("not a telemetry record (bad magic)");
  if (!in.u16(version)) return data_loss("telemetry record truncated in its header");
  if (version != kTelemetryRecordVersion && version != kVersionWithoutAttributes) {
    return invalid_argument("telemetry record version " + std::to_string(version) + " is not supported (expected " +
                            std::to_string(kVersionWithoutAttributes) + " or " + std::to_string(kTelemetryRecordVersion) + ")");
  }
  if (!in.u8(params_id) || !in.u16(id_length)) return data_loss("telemetry record truncated in its header");
  if (params_id != expected_params.id) {
    return invalid_argument("telemetry record uses FHE parameter set " + std::to_string(params_id) +
                            ", the cluster uses " + std::to_string(expected_params.id) + " (" + std::string(expected_params.name) + ")");
  }
  ByteView id_bytes;
  std::uint64_t sequence = 0, timestamp_ms = 0;
  if (!in.take(id_length, id_bytes) || !in.u64(sequence) || !in.u64(timestamp_ms)) {
    return data_loss("telemetry record truncated before its ciphertexts");
  }
  fhe::DeserializeOptions options{.size_limit = size_limit, .expected_params = &expected_params};
  std::vector<fhe::FheUint16> fields;
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    std::uint32_t length = 0;
    ByteView ct;
    if (!in.u32(length) || !in.take(length, ct)) return data_loss("telemetry record truncated in ciphertext " + std::to_string(i));
    auto value = fhe::FheUint16::deserialize(ct, options);
    if (!value.ok()) return value.status().with_context("telemetry ciphertext " + std::to_string(i));
    fields.push_back(std::move(value).value());
  }
  NodeAttributes attributes;
  if (version != kVersionWithoutAttributes) {
    VEIL_ASSIGN_OR_RETURN(attributes, read_attributes(in));
  }
  const std::size_t signed_length = in.position();
  ByteView key, signature;
  if (!in.take(32, key) || !in.take(crypto_sign_BYTES, signature)) return data_loss("telemetry record truncated in its signature");
  if (in.remaining() != 0) return data_loss("telemetry record has " + std::to_string(in.remaining()) + " trailing bytes");
  if (crypto_sign_verify_detached(signature.data(), bytes.data(), signed_length + 32, key.data()) != 0) {
    return invalid_argument("telemetry record signature does not verify");
  }
  TelemetryRecord record{to_string(id_bytes), sequence, timestamp_ms,
                         EncryptedTelemetry{{fields[0], fields[1], fields[2], fields[3]}, fields[4]}, {},
                         std::move(attributes)};
  std::memcpy(record.signer.data(), key.data(), 32);
  return record;
}

Result<TelemetryRecord> TelemetryValidator::accept(ByteView bytes, std::uint64_t now_ms) {
  VEIL_ASSIGN_OR_RETURN(TelemetryRecord record, parse_telemetry_record(bytes, *params_));
  auto key = keys_.find(record.node_id);
  if (key == keys_.end()) return permission_denied("telemetry from unknown node " + record.node_id);
  if (key->second != record.signer) return permission_denied("telemetry for " + record.node_id + " is signed by another key");
  if (record.timestamp_ms + max_age_ms_ < now_ms) {
    return failed_precondition("stale telemetry from " + record.node_id + ": " +
                               std::to_string(now_ms - record.timestamp_ms) + " ms old (limit " +
                               std::to_string(max_age_ms_) + " ms)");
  }
  if (record.timestamp_ms > now_ms + kMaxClockSkewMs) {
    return failed_precondition("telemetry from " + record.node_id + " is timestamped in the future");
  }
  auto last = last_sequence_.find(record.node_id);
  if (last != last_sequence_.end() && record.sequence <= last->second) {
    return already_exists("replayed telemetry from " + record.node_id + ": sequence " + std::to_string(record.sequence) +
                          " is not above " + std::to_string(last->second));
  }
  last_sequence_[record.node_id] = record.sequence;
  return record;
}

}  // namespace veil::sched
