#include "veil/common/config.h"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include <unistd.h>  // environ
#include <yaml-cpp/yaml.h>

#include "veil/common/bytes.h"
#include "veil/common/printable.h"
#include "veil/common/read_file.h"
#include "veil/common/text_location.h"

namespace veil {
namespace {

std::string validate_eth_address(std::string_view value) {
  auto bytes = from_hex(value);
  if (!bytes.ok() || bytes->size() != 20 || value.substr(0, 2) != "0x") {
    return "expected a 0x-prefixed 20-byte hex address";
  }
  return "";
}

std::string validate_unix_socket(std::string_view value) {
  if (value.empty() || value.front() != '/') {
    return "expected an absolute path to a unix socket (e.g. /var/run/docker.sock)";
  }
  return "";
}

std::string validate_host_port(std::string_view value) {
  auto colon = value.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return "expected HOST:PORT";
  int port = 0;
  auto digits = value.substr(colon + 1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || port < 0 || port > 65535) {
    return "expected HOST:PORT with a port in 0..65535";
  }
  return "";
}

// One entry of a mapping setting: NAME=VALUE with a non-empty name.
std::string validate_name_value(std::string_view value) {
  const auto eq = value.find('=');
  if (eq == std::string_view::npos || eq == 0) return "expected NAME=VALUE (or a YAML mapping NAME: VALUE)";
  return "";
}

std::string validate_multiaddr(std::string_view value) {
  if (value.empty() || value.front() != '/') return "expected a multiaddr such as /ip4/127.0.0.1/tcp/4001";
  return "";
}

std::string validate_http_url(std::string_view value) {
  if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
    return "expected an http:// or https:// URL";
  }
  return "";
}

std::string validate_peer_id(std::string_view value) {
  // PeerIds are base58btc ("12D3Koo...") or CIDv1 base32 ("bafz..."); full checks live in p2p.
  if (value.size() < 20) return "expected a libp2p PeerId such as 12D3KooW...";
  return "";
}

constexpr std::string_view kReservedEnv[] = {"VEIL_LOG", "VEIL_CONFIG", "VEIL_PRESET",
                                             "VEIL_SOURCE_DIR", "VEIL_BINARY_DIR"};

std::string kind_name(ConfigKind kind) {
  switch (kind) {
    case ConfigKind::kString: return "a string";
    case ConfigKind::kStringList: return "a list of strings";
    case ConfigKind::kInteger: return "an integer";
    case ConfigKind::kBoolean: return "a boolean";
  }
  return "?";
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    std::string item(text.substr(0, comma));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

// Levenshtein distance, for "did you mean" suggestions on unknown keys.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string suggestion_for(std::string_view key) {
  std::string_view best;
  std::size_t best_distance = 4;  // farther than this is not a typo
  for (const auto& field : config_schema()) {
    std::size_t d = edit_distance(key, field.key);
    if (d < best_distance) {
      best_distance = d;
      best = field.key;
    }
  }
  return best.empty() ? "" : " (did you mean '" + std::string(best) + "'?)";
}

Status check_value(const ConfigField& field, const std::vector<std::string>& values) {
  for (const auto& value : values) {
    if (field.kind == ConfigKind::kInteger) {
      std::int64_t parsed = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
      if (ec != std::errc() || ptr != value.data() + value.size()) {
        return invalid_argument("'" + value + "' is not an integer");
      }
    }
    if (field.kind == ConfigKind::kBoolean && !parse_bool(value).ok()) {
      return invalid_argument("'" + value + "' is not a boolean (use true or false)");
    }
    if (field.validate != nullptr) {
      std::string problem = field.validate(value);
      if (!problem.empty()) return invalid_argument("'" + value + "': " + problem);
    }
  }
  return {};
}

Status located_error(const std::filesystem::path& path, const std::string& text, const YAML::Mark& mark,
                     const std::string& message) {
  return invalid_argument(describe_text_location(path.string(), text, mark.line, mark.column, message));
}

struct FileLoader {
  const std::filesystem::path& path;
  const std::string& text;
  std::vector<ConfigEntry>& entries;
  // Bytes of values taken from the file so far. Without YAML aliases they never exceed the
  // text; with them (`&big` once, `*big` in a long list) a small file could expand without end.
  std::size_t expanded_bytes = 0;

  Status charge(const YAML::Node& at, std::size_t bytes) {
    expanded_bytes += bytes;
    if (expanded_bytes <= kConfigFile.max_bytes) return {};
    return located_error(path, text, at.Mark(),
                         "the settings' values add up to more than " + format_byte_size(kConfigFile.max_bytes) +
                             " (a YAML alias repeating a large value?)");
  }

  Status walk(const YAML::Node& node, const std::string& prefix) {
    if (!node.IsMap()) {
      return located_error(path, text, node.Mark(),
                           prefix.empty() ? "the top level must be a mapping of settings"
                                          : "'" + prefix + "' must be a mapping");
    }
    for (const auto& item : node) {
      const std::string name = item.first.as<std::string>();
      const std::string key = prefix.empty() ? name : prefix + "." + name;
      auto entry = std::find_if(entries.begin(), entries.end(),
                                [&](const ConfigEntry& e) { return e.field->key == key; });
      if (entry != entries.end()) {
        VEIL_RETURN_IF_ERROR(assign(*entry, item.second));
        continue;
      }
      bool is_section = std::any_of(entries.begin(), entries.end(), [&](const ConfigEntry& e) {
        return e.field->key.rfind(key + ".", 0) == 0;
      });
      if (is_section) {
        VEIL_RETURN_IF_ERROR(walk(item.second, key));
        continue;
      }
      return located_error(path, text, item.first.Mark(), "unknown setting '" + key + "'" + suggestion_for(key));
    }
    return {};
  }

  Status assign(ConfigEntry& entry, const YAML::Node& value) {
    const ConfigField& field = *entry.field;
    std::vector<std::string> values;
    if (value.IsNull()) {
      values.clear();
    } else if (field.kind == ConfigKind::kStringList && value.IsMap() && field.validate == validate_name_value) {
      // A mapping setting (node.labels: {region: eu}) is kept as its NAME=VALUE pairs, the
      // form its environment variable takes (VEIL_NODE_LABELS=region=eu,zone=a).
      for (const auto& item : value) {
        if (!item.first.IsScalar() || !item.second.IsScalar()) {
          return located_error(path, text, item.first.Mark(), "'" + std::string(field.key) + "' must map names to single values");
        }
        VEIL_RETURN_IF_ERROR(charge(item.second, item.first.Scalar().size() + item.second.Scalar().size() + 1));
        values.push_back(item.first.Scalar() + "=" + item.second.Scalar());
      }
    } else if (field.kind == ConfigKind::kStringList && value.IsSequence()) {
      for (const auto& element : value) {
        if (!element.IsScalar()) {
          return located_error(path, text, element.Mark(), "'" + std::string(field.key) + "' must be " + kind_name(field.kind));
        }
        VEIL_RETURN_IF_ERROR(charge(element, element.Scalar().size()));
        values.push_back(element.Scalar());
      }
    } else if (value.IsScalar()) {
      VEIL_RETURN_IF_ERROR(charge(value, value.Scalar().size()));
      values = field.kind == ConfigKind::kStringList ? split_list(value.Scalar())
                                                    : std::vector<std::string>{value.Scalar()};
    } else {
      return located_error(path, text, value.Mark(), "'" + std::string(field.key) + "' must be " + kind_name(field.kind));
    }
    Status valid = check_value(field, values);
    if (!valid.ok()) return located_error(path, text, value.Mark(), std::string(field.key) + ": " + valid.message());
    entry.values = std::move(values);
    entry.source = "file " + path.string() + ":" + std::to_string(value.Mark().line + 1);
    return {};
  }
};

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view item(*e);
    auto eq = item.find('=');
    if (eq != std::string_view::npos) env.emplace(item.substr(0, eq), item.substr(eq + 1));
  }
  return env;
}

}  // namespace

const std::vector<ConfigField>& config_schema() {
  static const std::vector<ConfigField> kSchema = {
      {"contract.address", ConfigKind::kString, "",
       "Address of the cluster's VeilRegistry contract", validate_eth_address},
      {"eth.rpc", ConfigKind::kString, "http://127.0.0.1:8545", "Ethereum JSON-RPC endpoint", validate_http_url},
      {"eth.key_file", ConfigKind::kString, "", "File holding this operator's secp256k1 key (hex)"},
      {"libp2p.listen", ConfigKind::kStringList, "/ip4/0.0.0.0/tcp/4001",
       "Multiaddrs the libp2p host listens on", validate_multiaddr},
      {"libp2p.bootstrap", ConfigKind::kStringList, "",
       "Multiaddrs (with /p2p/PEERID) of peers to dial at start", validate_multiaddr},
      {"node.peerid", ConfigKind::kString, "",
       "Expected PeerId of this node; start fails if the key file disagrees", validate_peer_id},
      {"node.key_file", ConfigKind::kString, "", "Ed25519 identity key of this node (created if absent)"},
      {"node.data_dir", ConfigKind::kString, "./veil-data", "Directory for state (SQLite), keys and logs"},
      {"node.labels", ConfigKind::kStringList, "",
       "Public labels of this node ({region: eu, zone: a}) that job constraints and spread_over match; "
       "published in the clear", validate_name_value},
      {"node.host_volumes", ConfigKind::kStringList, "",
       "Host directories this node lets jobs mount, by name ({data: /srv/data}); the names are published",
       validate_name_value},
      {"zama.publickey_file", ConfigKind::kString, "",
       "Cluster FHE compact public key used to encrypt telemetry"},
      {"docker.socket", ConfigKind::kString, "/var/run/docker.sock",
       "Docker (or Podman) Engine API unix socket", validate_unix_socket},
      {"api.listen", ConfigKind::kString, "127.0.0.1:7600", "HOST:PORT of the local HTTP/JSON API", validate_host_port},
      {"telemetry.interval_ms", ConfigKind::kInteger, "10000", "How often encrypted telemetry is published"},
      {"telemetry.cap_cpu_millicores", ConfigKind::kInteger, "0", "Declared CPU offered to the cluster (0: all measured)"},
      {"telemetry.cap_memory_mib", ConfigKind::kInteger, "0", "Declared memory offered to the cluster (0: all measured)"},
      {"telemetry.cap_disk_mib", ConfigKind::kInteger, "0", "Declared disk offered to the cluster (0: all measured)"},
      {"telemetry.cap_gpus", ConfigKind::kInteger, "-1", "Declared GPUs offered to the cluster (-1: all found)"},
      {"cluster.dir", ConfigKind::kString, "",
       "Directory of the cluster's public FHE material (public.key, server.compressed.key, committee.bin, committee.json)"},
      {"committee.member_key", ConfigKind::kString, "", "This operator's committee member key (member.key); empty: not a member"},
      {"committee.share_file", ConfigKind::kString, "", "This member's sealed threshold key share"},
      {"committee.hedge", ConfigKind::kString, "3s",
       "A coordinator asks t committee members for a decision's shares, and the rest when none came after this "
       "long per two replicas (0s: every member at once)"},
      {"runtime.driver", ConfigKind::kString, "auto", "Container driver: auto (Docker, else processes), docker or process"},
      {"sched.schedulers", ConfigKind::kInteger, "3", "Schedulers that evaluate each job (k)"},
      {"sched.candidates", ConfigKind::kString, "auto",
       "Nodes a scheduling round evaluates, sampled by rendezvous hashing: a number, all (full scan) or auto "
       "(max(16, 2 x replicas)); a job's placement.candidates overrides it"},
      {"jobs.holders", ConfigKind::kInteger, "3", "Nodes that hold each job's record: its coordinator and successors"},
      {"chain.anchor.batch_size", ConfigKind::kInteger, "1",
       "Deployment commitments anchored together as one Merkle root (1: each alone, with anchorCommitment)"},
      {"chain.anchor.batch_max_age", ConfigKind::kString, "10s",
       "With chain.anchor.batch_size > 1: how long a commitment waits for its batch to fill (10s, 2m)"},
      {"swim.preset", ConfigKind::kString, "lan", "SWIM timing preset: lan, local or wan"},
      {"debug.tamper_decisions", ConfigKind::kBoolean, "false",
       "TESTING ONLY: publish corrupted scheduling decisions (to show the cluster names a lying scheduler)"},
      {"debug.equivocate_decisions", ConfigKind::kBoolean, "false",
       "TESTING ONLY: announce each scheduling decision and then a corrupted one, both signed (to show the "
       "cluster proves the equivocation on chain and slashes the operator)"},
      {"debug.fixed_telemetry", ConfigKind::kBoolean, "false",
       "TESTING ONLY: report the declared capacity (telemetry.cap_*) as free, instead of measuring"},
      {"debug.wire_dump", ConfigKind::kString, "", "TESTING ONLY: append every application message sent or received to this file"},
      {"debug.evaluation_delay_ms", ConfigKind::kInteger, "0",
       "TESTING ONLY: hold each scheduling evaluation this long before announcing it (a slow scheduler)"},
  };
  return kSchema;
}

std::string config_env_name(std::string_view key) {
  std::string name = "VEIL_";
  for (char c : key) name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return name;
}

bool is_reserved_env_name(std::string_view name) {
  return std::find(std::begin(kReservedEnv), std::end(kReservedEnv), name) != std::end(kReservedEnv);
}

Result<bool> parse_bool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "yes" || lower == "on" || lower == "1") return true;
  if (lower == "false" || lower == "no" || lower == "off" || lower == "0") return false;
  return invalid_argument("'" + std::string(text) + "' is not a boolean");
}

Config::Config() {
  for (const auto& field : config_schema()) {
    std::vector<std::string> values;
    if (!field.default_value.empty()) {
      values = field.kind == ConfigKind::kStringList ? split_list(field.default_value)
                                                    : std::vector<std::string>{std::string(field.default_value)};
    }
    entries_.push_back({&field, std::move(values), "default"});
  }
  reads_.resize(entries_.size());
}

Result<Config> Config::load(const LoadOptions& options) {
  Config config;
  if (options.file || options.text) {
    const std::filesystem::path path = options.file.value_or("<config>");
    std::string text;
    if (options.text) {
      text = *options.text;
    } else {
      VEIL_ASSIGN_OR_RETURN(text, read_file(path, kConfigFile));
    }
    VEIL_RETURN_IF_ERROR(require_utf8(path.string(), text, "a config file"));
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      return located_error(path, text, e.mark, e.msg);
    }
    if (root.IsDefined() && !root.IsNull()) {
      try {
        FileLoader loader{path, text, config.entries_};
        VEIL_RETURN_IF_ERROR(loader.walk(root, ""));
      } catch (const YAML::Exception& e) {
        return located_error(path, text, e.mark, e.msg);
      }
    }
  }

  const auto env = options.environment ? *options.environment : process_environment();
  for (const auto& variable : env) {
    const std::string& name = variable.first;  // not a structured binding: lambdas capture it
    const std::string& value = variable.second;
    if (name.rfind("VEIL_", 0) != 0 || is_reserved_env_name(name)) continue;
    auto entry = std::find_if(config.entries_.begin(), config.entries_.end(),
                              [&](const ConfigEntry& e) { return config_env_name(e.field->key) == name; });
    if (entry == config.entries_.end()) {
      config.warnings_.push_back("unknown environment variable " + name + " is ignored");
      continue;
    }
    Status status = config.set(entry->field->key, value, "env " + name);
    if (!status.ok()) return status.with_context(name);
  }
  return config;
}

Status Config::set(std::string_view key, std::string_view value, std::string source) {
  ConfigEntry* entry = find(key);
  if (entry == nullptr) return invalid_argument("unknown setting '" + std::string(key) + "'" + suggestion_for(key));
  if (first_invalid_utf8(value)) return invalid_argument("'" + printable(value) + "' is not UTF-8 text");
  std::vector<std::string> values = entry->field->kind == ConfigKind::kStringList
                                        ? split_list(value)
                                        : std::vector<std::string>{std::string(value)};
  if (value.empty()) values.clear();
  VEIL_RETURN_IF_ERROR(check_value(*entry->field, values));
  entry->values = std::move(values);
  entry->source = std::move(source);
  return {};
}

ConfigEntry* Config::find(std::string_view key) {
  for (auto& e : entries_) {
    if (e.field->key == key) return &e;
  }
  return nullptr;
}

std::size_t Config::index_of(std::string_view key) const {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].field->key == key) return i;
  }
  return entries_.size();
}

const ConfigEntry& Config::entry(std::string_view key, ConfigKind kind) const {
  const std::size_t i = index_of(key);
  if (i == entries_.size()) {
    assert(false && "unknown config key");
    std::abort();
  }
  assert(entries_[i].field->kind == kind && "config setting read as the wrong kind");
  (void)kind;
  reads_[i].read.store(true, std::memory_order_relaxed);
  return entries_[i];
}

std::string Config::string(std::string_view key) const {
  const auto& e = entry(key, ConfigKind::kString);
  return e.values.empty() ? "" : e.values.front();
}

std::vector<std::string> Config::strings(std::string_view key) const {
  return entry(key, ConfigKind::kStringList).values;
}

std::int64_t Config::integer(std::string_view key) const {
  const auto& e = entry(key, ConfigKind::kInteger);
  return e.values.empty() ? 0 : std::strtoll(e.values.front().c_str(), nullptr, 10);
}

bool Config::boolean(std::string_view key) const {
  const auto& e = entry(key, ConfigKind::kBoolean);
  return !e.values.empty() && parse_bool(e.values.front()).value_or(false);
}

bool Config::is_set(std::string_view key) const {
  const std::size_t i = index_of(key);
  if (i == entries_.size()) return false;
  reads_[i].read.store(true, std::memory_order_relaxed);
  return !entries_[i].values.empty();
}

bool Config::was_read(std::string_view key) const {
  const std::size_t i = index_of(key);
  return i < entries_.size() && reads_[i].read.load(std::memory_order_relaxed);
}

}  // namespace veil
