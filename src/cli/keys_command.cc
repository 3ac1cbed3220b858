// `veil keys ...`: committee member keys, the key ceremony, partial decryption and combination
// (threshold decryption, veil/fhe/threshold.h; the dealer's trust is in docs/threat-model.md).
//
//   veil keys member-keygen --out DIR                  DIR/member.key (secret), DIR/member.pub
//   veil keys ceremony --threshold t --member PUB... --out DIR [--params default|test]
//   veil keys request --keys DIR --ct FILE --out FILE [--purpose P] [--requester R]
//   veil keys partial-decrypt --member-key DIR --share FILE --ct FILE --out FILE [--request FILE]
//                             [--squash-key FILE]   (default: squash.key beside the share file)
//   veil keys combine --keys DIR [--request FILE | --ct FILE] SHAREFILE...
//   veil keys bench [-o json|yaml] [--params test|default] [--samples k]
#include <sodium.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "member_keys.h"
#include "step_progress.h"
#include "veil/common/printable.h"
#include "veil/common/sha256.h"
#include "veil/fhe/fhe.h"

namespace veil::cli {
namespace {

namespace fs = std::filesystem;
using namespace veil::fhe;
using namespace veil::fhe::threshold;

constexpr std::size_t kCiphertextLimit = kCiphertextFile.max_bytes;
constexpr std::size_t kSquashKeyLimit = kFheKeyFile.max_bytes;  // ~270 MB with the default parameters

std::string hex(const Hash& h) { return to_hex(ByteView(h.data(), h.size())); }

Result<Committee> load_committee(const fs::path& dir) {
  VEIL_ASSIGN_OR_RETURN(Bytes bytes, read_file_bytes(dir / "committee.bin", kCommitteeFile));
  auto c = Committee::deserialize(bytes);
  if (!c.ok()) return c.status().with_context((dir / "committee.bin").string());
  return c;
}

// Opens a sealed share with the member's X25519 key and checks it against its committee.
Result<KeyShare> open_share(const fs::path& path, const MemberSecretKey& member) {
  VEIL_ASSIGN_OR_RETURN(Bytes sealed, read_file_bytes(path, kKeyShareFile));
  if (sealed.size() < crypto_box_SEALBYTES) return data_loss(path.string() + ": too short for a sealed share");
  Bytes plain(sealed.size() - crypto_box_SEALBYTES);
  if (crypto_box_seal_open(plain.data(), sealed.data(), sealed.size(), member.public_key().box.data(),
                           member.box_secret().data()) != 0) {
    return permission_denied(path.string() + ": cannot open the sealed share with this member key (another member's "
                                             "share, or corrupted)");
  }
  auto share = KeyShare::deserialize(plain);
  secure_wipe(plain);
  if (!share.ok()) return share.status().with_context(path.string());
  return share;
}

// Loads the public squashing key and checks it is the one the committee was dealt with.
Result<SquashingKey> load_squashing_key(const fs::path& path, const Committee& committee) {
  VEIL_ASSIGN_OR_RETURN(Bytes bytes, read_file_bytes(path, kFheKeyFile));
  auto key = SquashingKey::deserialize(bytes, kSquashKeyLimit);
  if (!key.ok()) return key.status().with_context(path.string());
  if (key->hash() != committee.squashing_key_hash) {
    return failed_precondition(path.string() + " is not the squashing key this committee was dealt with");
  }
  return key;
}

// The request every member derives on its own when none is given: it names the ciphertext and
// has a zero nonce, so all members' masks agree without exchanging a request file.
DecryptionRequest default_request(const EncryptedValue& value) {
  DecryptionRequest r;
  r.params = value.params;
  r.ciphertext_hash = value.hash();
  r.kind = value.kind;
  r.purpose = "veil keys partial-decrypt";
  return r;
}

struct KeysOptions {
  std::string out, keys, member_key, share, ct, request, params = "default", purpose = "cli", requester, squash_key;
  unsigned threshold = 0;
  std::vector<std::string> members, shares;
  std::string output = "table";  // -o/--output; --json is -o json
  int samples = 5;
};

int cmd_member_keygen(const KeysOptions& o) {
  const fs::path dir(o.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(o.out + ": " + ec.message());
  if (fs::exists(dir / "member.key")) return fail((dir / "member.key").string() + " exists; refusing to overwrite a member key");
  const auto key = MemberSecretKey::generate();
  Bytes secret = key.serialize();
  auto st = write_file(dir / "member.key", secret, true);
  secure_wipe(secret);
  if (!st.ok()) return fail(st);
  const std::string pub = key.public_key().to_text();
  if (auto s = write_file(dir / "member.pub", as_bytes(pub)); !s.ok()) return fail(s);
  std::cout << (dir / "member.pub").string() << ": " << pub;
  return kExitOk;
}

int cmd_ceremony(const KeysOptions& o) {
  const Parameters* params = params_by_name(o.params);
  if (params == nullptr) return usage("--params must be default or test");
  std::vector<MemberPublicKey> members;
  for (const auto& path : o.members) {
    auto key = load_member_public_key(path);
    if (!key.ok()) return fail(key.status());
    members.push_back(*key);
  }
  if (o.threshold == 0 || o.threshold > members.size() || members.size() > kMaxMembers) {
    return usage("--threshold must be between 1 and the number of --member files (at most 15)");
  }
  const fs::path dir(o.out);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(o.out + ": " + ec.message());

  StepProgress steps("keys ceremony", 4);
  steps.begin("generating the FHE key set (" + std::string(params->name) + ")");
  const auto client = ClientKey::generate(*params);
  const Bytes public_key = CompactPublicKey::generate(client).serialize();
  steps.begin("generating the server (evaluation) key");
  const Bytes server_key = CompressedServerKey::generate(client).serialize();
  steps.begin("dealing the secret key " + std::to_string(o.threshold) + "-of-" + std::to_string(members.size()));
  auto ceremony = deal(client, o.threshold, members, public_key, server_key);
  wipe_client_key(client);  // the dealer keeps nothing: only the sealed shares can decrypt
  if (!ceremony.ok()) return fail(ceremony.status());
  steps.begin("sealing the shares and writing " + o.out);

  nlohmann::json hashes = {{"parameters", std::string(params->name)},
                           {"threshold", o.threshold},
                           {"members", members.size()},
                           {"public.key", hex(sha256(public_key))},
                           {"server.compressed.key", hex(sha256(server_key))},
                           {"squash.key", hex(ceremony->squashing_key.hash())}};
  const Bytes committee = ceremony->committee.serialize();
  hashes["committee.bin"] = hex(sha256(committee));
  std::vector<std::pair<std::string, Bytes>> files = {{"public.key", public_key},
                                                      {"server.compressed.key", server_key},
                                                      {"squash.key", ceremony->squashing_key.serialize()},
                                                      {"committee.bin", committee}};
  for (std::size_t i = 0; i < ceremony->shares.size(); ++i) {
    Bytes plain = ceremony->shares[i].serialize();
    ceremony->shares[i].wipe();
    Bytes sealed(plain.size() + crypto_box_SEALBYTES);
    crypto_box_seal(sealed.data(), plain.data(), plain.size(), members[i].box.data());
    secure_wipe(plain);
    const std::string name = "share-" + std::to_string(i + 1) + ".sealed";
    hashes[name] = hex(sha256(sealed));
    files.emplace_back(name, std::move(sealed));
  }
  const std::string hash_text = hashes.dump(2) + "\n";
  files.emplace_back("hashes.json", Bytes(hash_text.begin(), hash_text.end()));
  for (const auto& [name, bytes] : files) {
    if (auto st = write_file(dir / name, bytes); !st.ok()) return fail(st);
  }
  steps.finish();
  std::cout << "committee of " << members.size() << " members, threshold " << o.threshold << " (" << params->name
            << "); public material and " << members.size() << " sealed shares in " << dir.string()
            << "; the dealer's secret key was wiped\n"
            << hash_text;
  return kExitOk;
}

int cmd_request(const KeysOptions& o) {
  auto bytes = read_file_bytes(o.ct, kCiphertextFile);
  if (!bytes.ok()) return fail(bytes.status());
  auto value = EncryptedValue::parse(*bytes, {kCiphertextLimit, nullptr});
  if (!value.ok()) return fail(o.ct + ": " + value.status().message());
  const auto req = DecryptionRequest::for_value(*value, o.purpose, o.requester);
  if (auto st = write_file(o.out, req.serialize()); !st.ok()) return fail(st);
  std::cout << "request " << hex(req.hash()) << " for " << value_kind_name(value->kind) << " " << hex(value->hash()) << "\n";
  return kExitOk;
}

int cmd_partial_decrypt(const KeysOptions& o) {
  auto member = load_member_secret_key(o.member_key);
  if (!member.ok()) return fail(member.status());
  auto share = open_share(o.share, *member);
  if (!share.ok()) return fail(share.status());
  const fs::path squash_path = o.squash_key.empty() ? fs::path(o.share).parent_path() / "squash.key" : fs::path(o.squash_key);
  auto squashing = load_squashing_key(squash_path, share->committee);
  if (!squashing.ok()) {
    share->wipe();
    return fail(squashing.status());
  }
  share->squashing_key = *squashing;
  auto bytes = read_file_bytes(o.ct, kCiphertextFile);
  if (!bytes.ok()) return fail(bytes.status());
  auto value = EncryptedValue::parse(*bytes, {kCiphertextLimit, share->committee.params});
  if (!value.ok()) return fail(o.ct + ": " + value.status().message());
  DecryptionRequest request = default_request(*value);
  if (!o.request.empty()) {
    auto rb = read_file_bytes(o.request, kDecryptionRequestFile);
    if (!rb.ok()) return fail(rb.status());
    auto r = DecryptionRequest::deserialize(*rb);
    if (!r.ok()) return fail(o.request + ": " + r.status().message());
    request = *r;
  }
  auto result = partial_decrypt(*share, *member, request, *value);
  share->wipe();
  if (!result.ok()) return fail(result.status());
  if (auto st = write_file(o.out, result->serialize()); !st.ok()) return fail(st);
  std::cout << "member " << int(result->member) << ": partial decryption of " << value_kind_name(value->kind)
            << " for request " << hex(result->request_hash) << " -> " << o.out << "\n";
  return kExitOk;
}

int cmd_combine(const KeysOptions& o, const GlobalOptions& global) {
  auto committee = load_committee(o.keys);
  if (!committee.ok()) return fail(committee.status());
  std::vector<DecryptionShare> shares;
  for (const auto& path : o.shares) {
    auto bytes = read_file_bytes(path, kKeyShareFile);
    if (!bytes.ok()) return fail(bytes.status());
    auto s = DecryptionShare::deserialize(*bytes);
    // An unreadable file cannot be attributed to a member: it is reported and skipped.
    if (!s.ok()) {
      std::cerr << "veil: warning: " << printable(path + ": " + s.status().message()) << " (skipped)\n";
      continue;
    }
    shares.push_back(std::move(s).value());
  }
  if (shares.empty()) return fail("no readable decryption shares");
  Hash request_hash{};
  ValueKind kind{};
  if (!o.request.empty() || !o.ct.empty()) {
    DecryptionRequest request;
    if (!o.request.empty()) {
      auto rb = read_file_bytes(o.request, kDecryptionRequestFile);
      if (!rb.ok()) return fail(rb.status());
      auto r = DecryptionRequest::deserialize(*rb);
      if (!r.ok()) return fail(o.request + ": " + r.status().message());
      request = *r;
    } else {
      auto cb = read_file_bytes(o.ct, kCiphertextFile);
      if (!cb.ok()) return fail(cb.status());
      auto value = EncryptedValue::parse(*cb, {kCiphertextLimit, committee->params});
      if (!value.ok()) return fail(o.ct + ": " + value.status().message());
      request = default_request(*value);
    }
    request_hash = request.hash();
    kind = request.kind;
  } else {
    // No request named: take the (request, kind) most shares answer; signatures are still
    // checked, and shares answering anything else are named.
    std::map<std::pair<Hash, ValueKind>, int> votes;
    for (const auto& s : shares) votes[{s.request_hash, s.kind}]++;
    const auto best = std::max_element(votes.begin(), votes.end(), [](auto& a, auto& b) { return a.second < b.second; });
    request_hash = best->first.first;
    kind = best->first.second;
  }
  auto result = combine(*committee, request_hash, kind, shares);
  if (!result.ok()) return fail(result.status());
  if (structured_output(global.output)) {
    nlohmann::json wrong = nlohmann::json::array();
    for (const auto& w : result->wrong) wrong.push_back({{"member", w.member}, {"reason", w.reason}});
    print_data({{"value", result->value}, {"kind", value_kind_name(kind)}, {"request", hex(request_hash)},
                {"used", result->used}, {"wrong", wrong}},
               global.output);
  } else {
    std::cout << (kind == ValueKind::kBool ? (result->value ? "true" : "false") : std::to_string(result->value)) << "\n";
  }
  for (const auto& w : result->wrong) std::cerr << "veil: wrong share from member " << int(w.member) << ": " << printable(w.reason) << "\n";
  return kExitOk;
}

double wall_clock_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// CPU time of every thread of this process: on a shared machine it barely moves with the load
// that stretches wall-clock figures.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

template <typename F>
double median_ms(int samples, F&& f, double (*now)() = wall_clock_ms) {
  std::vector<double> ms;
  for (int i = 0; i < samples; ++i) {
    const double start = now();
    f();
    ms.push_back(now() - start);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Median milliseconds of the threshold steps for a (3, 5) committee: the noise-squashing
// bootstrap of a FheUint16 (8 blocks, two per bootstrap, in parallel on the machine's cores),
// one member's partial decryption of the squashed value, combining 3 shares, a decision end to
// end, and one member's committee step for a 2-replica placement (every block secret).
}  // namespace

Result<nlohmann::json> threshold_bench(const Parameters& params_ref, int samples) {
  const Parameters* params = &params_ref;
  samples = std::max(1, samples);
  const auto client = ClientKey::generate(*params);
  std::vector<MemberSecretKey> members;
  std::vector<MemberPublicKey> pubs;
  for (int i = 0; i < 5; ++i) {
    members.push_back(MemberSecretKey::generate());
    pubs.push_back(members.back().public_key());
  }
  auto ceremony = deal(client, 3, pubs, {}, {});
  if (!ceremony.ok()) return ceremony.status();
  const auto u16 = EncryptedValue::of(FheUint16::encrypt(0xBEEF, client));
  const auto decision = EncryptedValue::of(FheBool::encrypt(true, client));
  const auto req16 = DecryptionRequest::for_value(u16, "bench", "bench");
  SquashedValue sq16;
  const double squash_ms = median_ms(samples, [&] { sq16 = squash(ceremony->squashing_key, u16).value(); });
  const double squash_cpu_ms =
      median_ms(samples, [&] { sq16 = squash(ceremony->squashing_key, u16).value(); }, process_cpu_ms);
  std::vector<DecryptionShare> shares16;
  const double partial_ms = median_ms(samples, [&] {
    shares16.clear();
    shares16.push_back(partial_decrypt(ceremony->shares[0], members[0], req16, sq16).value());
  });
  for (int i = 1; i < 3; ++i) shares16.push_back(partial_decrypt(ceremony->shares[i], members[i], req16, sq16).value());
  std::uint64_t got = 0;
  const double combine_ms = median_ms(samples, [&] { got = combine(ceremony->committee, req16, shares16).value().value; });
  if (got != 0xBEEF) return internal_error("bench: threshold decryption returned a wrong value");
  // A decision (FheBool) threshold-decrypted end to end: request, the squash (each member
  // squashes on its own machine, in parallel: counted once), t partials in sequence, combine.
  const double decision_ms = median_ms(samples, [&] {
    const auto req = DecryptionRequest::for_value(decision, "bench", "bench");
    const auto sq = squash(ceremony->squashing_key, decision).value();
    std::vector<DecryptionShare> s;
    for (int i = 0; i < 3; ++i) s.push_back(partial_decrypt(ceremony->shares[i], members[i], req, sq).value());
    got = combine(ceremony->committee, req, s).value().value;
  });
  if (got != 1) return internal_error("bench: threshold decryption of the decision returned a wrong value");
  // One member's committee step for a 2-replica placement: the node index (FheUint16) and the
  // found flag (FheBool) of each replica, squashed in one batch, then partially decrypted.
  const std::vector<EncryptedValue> placement{u16, decision, EncryptedValue::of(FheUint16::encrypt(7, client)), decision};
  std::vector<DecryptionRequest> placement_requests;
  for (const auto& v : placement) placement_requests.push_back(DecryptionRequest::for_value(v, "bench", "bench"));
  auto committee_step = [&] {
    (void)partial_decrypt(ceremony->shares[0], members[0], placement_requests, placement).value();
  };
  const double committee_ms = median_ms(samples, committee_step);
  const double committee_cpu_ms = median_ms(samples, committee_step, process_cpu_ms);
  const Bytes share_file = ceremony->shares[0].serialize();
  const std::size_t sealed_size = share_file.size() + crypto_box_SEALBYTES;
  const std::size_t decryption_share_size = shares16[0].serialize().size();
  nlohmann::json out = {{"parameters", std::string(params->name)},
                        {"committee", "3-of-5"},
                        {"samples", samples},
                        {"noise_squash_ms", squash_ms},
                        {"noise_squash_note", "one FheUint16 (8 blocks, two per 128-bit bootstrap, on all cores)"},
                        {"noise_squash_cpu_ms", squash_cpu_ms},
                        {"committee_step_2_replicas_ms", committee_ms},
                        {"committee_step_2_replicas_cpu_ms", committee_cpu_ms},
                        {"partial_decrypt_u16_ms", partial_ms},
                        {"combine_u16_ms", combine_ms},
                        {"decision_end_to_end_ms", decision_ms},
                        {"share_file_bytes", sealed_size},
                        {"decryption_share_u16_bytes", decryption_share_size},
                        {"squash_key_bytes", ceremony->squashing_key.serialize().size()}};
  return out;
}

namespace {

int cmd_bench(const KeysOptions& o) {
  const Parameters* params = params_by_name(o.params);
  if (params == nullptr) return usage("--params must be default or test");
  auto result = threshold_bench(*params, o.samples);
  if (!result.ok()) return fail(result.status());
  const nlohmann::json& out = *result;
  if (structured_output(o.output)) {
    print_data(out, o.output, -1);
  } else {
    std::cout << out.dump(2) << "\n";
  }
  return kExitOk;
}

}  // namespace

Result<MemberSecretKey> load_member_secret_key(const fs::path& dir) {
  VEIL_ASSIGN_OR_RETURN(Bytes bytes, read_file_bytes(dir / "member.key", kKeyFile));
  auto key = MemberSecretKey::deserialize(bytes);
  secure_wipe(bytes);
  if (!key.ok()) return key.status().with_context((dir / "member.key").string());
  return key;
}

Result<MemberPublicKey> load_member_public_key(const fs::path& path) {
  VEIL_ASSIGN_OR_RETURN(Bytes text, read_file_bytes(path, kKeyFile));
  auto key = MemberPublicKey::from_text(to_string(text));
  if (!key.ok()) return invalid_argument(path.string() + ": " + key.status().message());
  return key;
}

void register_keys_commands(CLI::App& app, GlobalOptions& global, CommandAction& action) {
  auto options = std::make_shared<KeysOptions>();
  auto* noun = app.add_subcommand("keys", "Threshold key ceremony and decryption by a committee");
  noun->require_subcommand(1);

  auto* keygen = noun->add_subcommand("member-keygen", "Generate a committee member's Ed25519 + X25519 keys");
  keygen->add_option("--out", options->out, "Directory for member.key (secret, 0600) and member.pub")->required();
  keygen->callback([&action, options] { action = [options] { return cmd_member_keygen(*options); }; });

  auto* ceremony = noun->add_subcommand("ceremony", "Generate the cluster key set and seal one key share per member");
  ceremony->add_option("--threshold", options->threshold, "Shares needed to decrypt (t)")->required();
  ceremony->add_option("--member", options->members, "A member's member.pub (repeat; n = count, at most 15)")->required();
  ceremony->add_option("--out", options->out, "Directory for the public material and the sealed shares")->required();
  ceremony->add_option("--params", options->params, "Parameter set: default (TFHE-rs 2M128) or test (INSECURE)");
  ceremony->callback([&action, options] { action = [options] { return cmd_ceremony(*options); }; });

  auto* request = noun->add_subcommand("request", "Write a decryption request (random nonce) for a ciphertext");
  request->add_option("--ct", options->ct, "Ciphertext file")->required();
  request->add_option("--out", options->out, "Request file to write")->required();
  request->add_option("--purpose", options->purpose, "Why the value is decrypted (at most 256 bytes)");
  request->add_option("--requester", options->requester, "Who asks (at most 256 bytes)");
  request->callback([&action, options] { action = [options] { return cmd_request(*options); }; });

  auto* partial = noun->add_subcommand("partial-decrypt", "A member's signed partial decryption of a ciphertext");
  partial->add_option("--member-key", options->member_key, "The member's key directory (member.key)")->required();
  partial->add_option("--share", options->share, "The member's sealed share file")->required();
  partial->add_option("--ct", options->ct, "Ciphertext file")->required();
  partial->add_option("--out", options->out, "Decryption share file to write")->required();
  partial->add_option("--request", options->request, "Request file (default: derived from the ciphertext)");
  partial->add_option("--squash-key", options->squash_key,
                      "The ceremony's public squash.key (default: squash.key beside the --share file)");
  partial->callback([&action, options] { action = [options] { return cmd_partial_decrypt(*options); }; });

  auto* comb = noun->add_subcommand("combine", "Combine decryption shares: print the plaintext, name wrong members");
  comb->add_option("--keys", options->keys, "Ceremony directory (committee.bin)")->required();
  comb->add_option("--request", options->request, "Request file the shares must answer");
  comb->add_option("--ct", options->ct, "Ciphertext file (for shares made without --request)");
  comb->add_option("shares", options->shares, "Decryption share files")->required();
  add_output_option(comb, global.output);
  comb->callback([&action, &global, options] { action = [options, &global] { return cmd_combine(*options, global); }; });

  auto* bench = noun->add_subcommand("bench", "Median milliseconds of partial decryption and combination (3-of-5)");
  add_output_option(bench, options->output);
  add_json_alias(bench, options->output);
  bench->add_option("--params", options->params, "Parameter set: default or test (INSECURE)");
  bench->add_option("--samples", options->samples, "Samples per step (default 5)");
  bench->callback([&action, options] { action = [options] { return cmd_bench(*options); }; });
}

}  // namespace veil::cli
