// `veil fhe ...`: key generation, public-key encryption, homomorphic evaluation, decryption,
// a bootstrap correctness run and the engine's benchmark.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

#include "cli_io.h"
#include "commands.h"
#include "veil/common/thread_pool.h"
#include "veil/fhe/fhe.h"

namespace veil::cli {
namespace {

namespace fs = std::filesystem;
using namespace veil::fhe;

using AnyCiphertext = std::variant<FheUint8, FheUint16, FheUint32, FheBool>;
using Operand = std::variant<AnyCiphertext, std::uint64_t>;

// Client and compact public keys are a few MiB; server keys take the default kFheKeyFile.
constexpr FileLimit kFheSmallKeyFile{"FHE key", 16 * kMiB};

template <typename T>
Result<T> load(const fs::path& path, FileLimit limit = kFheKeyFile) {
  VEIL_ASSIGN_OR_RETURN(Bytes bytes, read_file_bytes(path, limit));
  auto r = T::deserialize(bytes, DeserializeOptions{limit.max_bytes, nullptr});
  if (!r.ok()) return r.status().with_context(path.string());
  return r;
}

Result<ServerKey> load_server_key(const fs::path& dir) {
  if (fs::exists(dir / "server.key")) return load<ServerKey>(dir / "server.key");
  if (fs::exists(dir / "server.compressed.key")) {
    VEIL_ASSIGN_OR_RETURN(auto compressed, load<CompressedServerKey>(dir / "server.compressed.key"));
    return compressed.decompress();
  }
  return not_found((dir / "server.key").string() + " is missing (run 'veil fhe keygen --out " + dir.string() + "')");
}

Result<AnyCiphertext> load_ciphertext(const fs::path& path) {
  VEIL_ASSIGN_OR_RETURN(Bytes bytes, read_file_bytes(path, kCiphertextFile));
  const DeserializeOptions options{kCiphertextFile.max_bytes, nullptr};
  // Byte 6 of the frame names the kind; each deserializer re-checks everything.
  const int kind = bytes.size() > 6 ? bytes[6] : 0;
  auto wrap = [&](auto r) -> Result<AnyCiphertext> {
    if (!r.ok()) return r.status().with_context(path.string());
    return AnyCiphertext(std::move(r).value());
  };
  switch (kind) {
    case 5: return wrap(FheUint8::deserialize(bytes, options));
    case 6: return wrap(FheUint16::deserialize(bytes, options));
    case 7: return wrap(FheUint32::deserialize(bytes, options));
    case 8: return wrap(FheBool::deserialize(bytes, options));
    default: break;
  }
  // Not a ciphertext kind: let a deserializer produce the precise error (magic, kind, ...).
  return wrap(FheUint16::deserialize(bytes, options));
}

std::optional<std::uint64_t> parse_uint(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t next = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (next / 10 != v) return std::nullopt;
    v = next;
  }
  return v;
}

Result<Operand> load_operand(const std::string& text) {
  if (fs::exists(text)) {
    VEIL_ASSIGN_OR_RETURN(auto ct, load_ciphertext(text));
    return Operand(std::move(ct));
  }
  if (auto v = parse_uint(text)) return Operand(*v);
  return not_found(text + ": neither a ciphertext file nor a plain unsigned integer");
}

Bytes serialize(const AnyCiphertext& ct) {
  return std::visit([](const auto& v) { return v.serialize(); }, ct);
}

template <typename T>
Result<AnyCiphertext> eval_uint(const std::string& op, const T& a, const Operand& b_operand, const ServerKey& sk) {
  if (std::holds_alternative<std::uint64_t>(b_operand)) {
    const std::uint64_t c = std::get<std::uint64_t>(b_operand);
    if (op == "add") return AnyCiphertext(a.add(c, sk));
    if (op == "sub") return AnyCiphertext(a.sub(c, sk));
    if (op == "min") return AnyCiphertext(a.min(c, sk));
    if (op == "max") return AnyCiphertext(a.max(c, sk));
    if (op == "and") return AnyCiphertext(a.bit_and(c, sk));
    if (op == "or") return AnyCiphertext(a.bit_or(c, sk));
    if (op == "xor") return AnyCiphertext(a.bit_xor(c, sk));
    if (op == "mul") return AnyCiphertext(a.mul(c, sk));
    if (op == "eq") return AnyCiphertext(a.eq(c, sk));
    if (op == "ne") return AnyCiphertext(a.ne(c, sk));
    if (op == "gt") return AnyCiphertext(a.gt(c, sk));
    if (op == "ge") return AnyCiphertext(a.ge(c, sk));
    if (op == "lt") return AnyCiphertext(a.lt(c, sk));
    if (op == "le") return AnyCiphertext(a.le(c, sk));
    return invalid_argument("unknown operation " + op);
  }
  const AnyCiphertext& b_any = std::get<AnyCiphertext>(b_operand);
  if (!std::holds_alternative<T>(b_any)) return invalid_argument("operands have different types");
  const T& b = std::get<T>(b_any);
  if (op == "add") return AnyCiphertext(a.add(b, sk));
  if (op == "sub") return AnyCiphertext(a.sub(b, sk));
  if (op == "min") return AnyCiphertext(a.min(b, sk));
  if (op == "max") return AnyCiphertext(a.max(b, sk));
  if (op == "and") return AnyCiphertext(a.bit_and(b, sk));
  if (op == "or") return AnyCiphertext(a.bit_or(b, sk));
  if (op == "xor") return AnyCiphertext(a.bit_xor(b, sk));
  if (op == "eq") return AnyCiphertext(a.eq(b, sk));
  if (op == "ne") return AnyCiphertext(a.ne(b, sk));
  if (op == "gt") return AnyCiphertext(a.gt(b, sk));
  if (op == "ge") return AnyCiphertext(a.ge(b, sk));
  if (op == "lt") return AnyCiphertext(a.lt(b, sk));
  if (op == "le") return AnyCiphertext(a.le(b, sk));
  return invalid_argument("operation " + op + " needs a plain integer as B");
}

// A plain integer as the left operand becomes a public constant of the other side's type.
Result<AnyCiphertext> as_ciphertext(const Operand& operand, const AnyCiphertext& like, const ServerKey& sk) {
  if (std::holds_alternative<AnyCiphertext>(operand)) return std::get<AnyCiphertext>(operand);
  const std::uint64_t c = std::get<std::uint64_t>(operand);
  return std::visit(
      [&](const auto& v) -> Result<AnyCiphertext> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, FheBool>) {
          return invalid_argument("boolean operands must be ciphertext files");
        } else {
          return AnyCiphertext(T::trivial(c, sk));
        }
      },
      like);
}

Result<AnyCiphertext> evaluate(const std::string& op, const Operand& a_op, const Operand& b_op, const ServerKey& sk) {
  if (std::holds_alternative<std::uint64_t>(a_op) && std::holds_alternative<std::uint64_t>(b_op)) {
    return invalid_argument("at least one operand must be a ciphertext file");
  }
  VEIL_ASSIGN_OR_RETURN(AnyCiphertext a, std::holds_alternative<std::uint64_t>(a_op)
                                              ? as_ciphertext(a_op, std::get<AnyCiphertext>(b_op), sk)
                                              : Result<AnyCiphertext>(std::get<AnyCiphertext>(a_op)));
  if (std::holds_alternative<FheBool>(a)) {
    if (!std::holds_alternative<AnyCiphertext>(b_op) || !std::holds_alternative<FheBool>(std::get<AnyCiphertext>(b_op))) {
      return invalid_argument("a boolean operation needs two FheBool ciphertext files");
    }
    const FheBool& x = std::get<FheBool>(a);
    const FheBool& y = std::get<FheBool>(std::get<AnyCiphertext>(b_op));
    if (op == "and") return AnyCiphertext(x.bit_and(y, sk));
    if (op == "or") return AnyCiphertext(x.bit_or(y, sk));
    if (op == "xor" || op == "ne") return AnyCiphertext(x.bit_xor(y, sk));
    if (op == "eq") return AnyCiphertext(x.bit_xor(y, sk).bit_not(sk));
    return invalid_argument("operation " + op + " is not defined on booleans");
  }
  return std::visit(
      [&](const auto& v) -> Result<AnyCiphertext> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, FheBool>) {
          return invalid_argument("unreachable");
        } else {
          return eval_uint<T>(op, v, b_op, sk);
        }
      },
      a);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <typename Fn>
double time_ms(int samples, Fn&& fn) {
  std::vector<double> times;
  for (int i = 0; i < samples; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return median(times);
}

const Parameters* params_or_null(const std::string& name) { return params_by_name(name); }

struct FheOptions {
  std::string out, keys, params = "default", type, value, op, a, b, cond, file;
  std::size_t pbs = 20000;
  int samples = 0;
  std::string output = "table";  // -o/--output; --json is -o json
  bool client_ops = false;
};

int cmd_keygen(const FheOptions& o) {
  const Parameters* params = params_or_null(o.params);
  if (params == nullptr) return usage("--params must be default or test");
  if (params->insecure) std::cerr << "veil: warning: INSECURE test parameters, for tests only\n";
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return fail(o.out + ": " + ec.message());
  auto ck = ClientKey::generate(*params);
  auto compressed = CompressedServerKey::generate(ck);
  auto sk = compressed.decompress();
  auto pk = CompactPublicKey::generate(ck);
  const std::pair<const char*, Bytes> files[] = {{"client.key", ck.serialize()},
                                                 {"server.key", sk.serialize()},
                                                 {"server.compressed.key", compressed.serialize()},
                                                 {"public.key", pk.serialize()}};
  for (const auto& [name, bytes] : files) {
    // The secret key is created 0600 before any byte is written (no window where it is readable).
    const bool secret = std::string_view(name) == "client.key";
    if (auto st = write_file(fs::path(o.out) / name, bytes, secret); !st.ok()) return fail(st);
    std::cout << (fs::path(o.out) / name).string() << "\t" << bytes.size() << " bytes\n";
  }
  return kExitOk;
}

int cmd_encrypt(const FheOptions& o) {
  auto pk = load<CompactPublicKey>(fs::path(o.keys) / "public.key", kFheSmallKeyFile);
  if (!pk.ok()) return fail(pk.status());
  Bytes out;
  if (o.type == "bool") {
    if (o.value != "0" && o.value != "1" && o.value != "true" && o.value != "false") return usage("a bool VALUE is 0, 1, true or false");
    out = FheBool::encrypt(o.value == "1" || o.value == "true", *pk).serialize();
  } else {
    auto v = parse_uint(o.value);
    if (!v) return usage("VALUE must be an unsigned integer");
    const unsigned bits = o.type == "u8" ? 8 : o.type == "u16" ? 16 : 32;
    if (bits < 64 && *v >> bits != 0) return usage("VALUE " + o.value + " does not fit in " + o.type);
    if (o.type == "u8") out = FheUint8::encrypt(*v, *pk).serialize();
    if (o.type == "u16") out = FheUint16::encrypt(*v, *pk).serialize();
    if (o.type == "u32") out = FheUint32::encrypt(*v, *pk).serialize();
  }
  if (auto st = write_file(o.out, out); !st.ok()) return fail(st);
  return kExitOk;
}

int cmd_eval(const FheOptions& o) {
  auto a = load_operand(o.a);
  if (!a.ok()) return fail(a.status());
  auto b = load_operand(o.b);
  if (!b.ok()) return fail(b.status());
  auto sk = load_server_key(o.keys);
  if (!sk.ok()) return fail(sk.status());
  auto result = evaluate(o.op, *a, *b, *sk);
  if (!result.ok()) return fail(result.status());
  if (auto st = write_file(o.out, serialize(*result)); !st.ok()) return fail(st);
  return kExitOk;
}

int cmd_select(const FheOptions& o) {
  auto cond = load_ciphertext(o.cond);
  if (!cond.ok()) return fail(cond.status());
  if (!std::holds_alternative<FheBool>(*cond)) return fail(o.cond + ": COND must be a FheBool ciphertext");
  auto a = load_operand(o.a);
  if (!a.ok()) return fail(a.status());
  auto b = load_operand(o.b);
  if (!b.ok()) return fail(b.status());
  if (std::holds_alternative<std::uint64_t>(*a) && std::holds_alternative<std::uint64_t>(*b)) {
    return fail("at least one of A and B must be a ciphertext file");
  }
  auto sk = load_server_key(o.keys);
  if (!sk.ok()) return fail(sk.status());
  const AnyCiphertext& like = std::holds_alternative<AnyCiphertext>(*a) ? std::get<AnyCiphertext>(*a) : std::get<AnyCiphertext>(*b);
  auto x = as_ciphertext(*a, like, *sk);
  if (!x.ok()) return fail(x.status());
  auto y = as_ciphertext(*b, like, *sk);
  if (!y.ok()) return fail(y.status());
  if (x->index() != y->index()) return fail("A and B have different types");
  const FheBool& c = std::get<FheBool>(*cond);
  Result<AnyCiphertext> out = std::visit(
      [&](const auto& v) -> Result<AnyCiphertext> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, FheBool>) {
          return invalid_argument("select chooses between integers, not booleans");
        } else {
          return AnyCiphertext(c.select(v, std::get<T>(*y), *sk));
        }
      },
      *x);
  if (!out.ok()) return fail(out.status());
  if (auto st = write_file(o.out, serialize(*out)); !st.ok()) return fail(st);
  return kExitOk;
}

int cmd_decrypt(const FheOptions& o) {
  auto ck = load<ClientKey>(fs::path(o.keys) / "client.key", kFheSmallKeyFile);
  if (!ck.ok()) return fail(ck.status());
  auto ct = load_ciphertext(o.file);
  if (!ct.ok()) return fail(ct.status());
  if (const auto* b = std::get_if<FheBool>(&*ct)) {
    std::cout << (b->decrypt(*ck) ? "true" : "false") << "\n";
  } else {
    std::cout << std::visit(
                     [&](const auto& v) -> std::uint64_t {
                       if constexpr (std::is_same_v<std::decay_t<decltype(v)>, FheBool>) {
                         return 0;
                       } else {
                         return v.decrypt(*ck);
                       }
                     },
                     *ct)
              << "\n";
  }
  return kExitOk;
}

int cmd_validate(const FheOptions& o) {
  std::optional<ClientKey> ck;
  std::optional<ServerKey> sk;
  if (!o.keys.empty()) {
    auto c = load<ClientKey>(fs::path(o.keys) / "client.key", kFheSmallKeyFile);
    if (!c.ok()) return fail(c.status());
    auto s = load_server_key(o.keys);
    if (!s.ok()) return fail(s.status());
    ck = *c;
    sk = *s;
  } else {
    const Parameters* params = params_or_null(o.params);
    if (params == nullptr) return usage("--params must be default or test");
    ck = ClientKey::generate(*params);
    sk = ServerKey::generate(*ck);
  }
  const BootstrapCheck r = check_bootstraps(*ck, *sk, o.pbs);
  if (structured_output(o.output)) {
    nlohmann::json j{{"params", std::string(ck->params().name)}, {"bootstraps", r.bootstraps},
                     {"failures", r.failures}, {"max_abs_error_log2", r.max_abs_error_log2},
                     {"error_std_log2", r.error_std_log2}, {"seconds", r.seconds},
                     {"threads", ThreadPool::shared().size()}, {"fft", fft_backend_name()}};
    print_data(j, o.output, -1);
  } else {
    std::cout << "params " << ck->params().name << "\nbootstraps " << r.bootstraps << "\nfailures " << r.failures
              << "\noutput error: max 2^" << r.max_abs_error_log2 << ", std-dev 2^" << r.error_std_log2
              << " (decoding fails beyond Delta/2 = 2^" << std::log2(static_cast<double>(ck->params().delta())) - 1
              << ")\nseconds " << r.seconds << "\n";
  }
  return r.failures == 0 ? kExitOk : kExitFailure;
}

// The client-side operations that node-tfhe also has (bench/compare-node-tfhe), single thread.
int cmd_bench_client_ops(const Parameters& params, int samples) {
  nlohmann::json j;
  j["params"] = std::string(params.name);
  std::optional<ClientKey> ck;
  j["keygen_client_ms"] = time_ms(std::min(samples, 3), [&] { ck = ClientKey::generate(params); });
  j["keygen_compressed_server_ms"] = time_ms(1, [&] { (void)CompressedServerKey::generate(*ck); });
  auto pk = CompactPublicKey::generate(*ck);
  std::optional<FheUint16> a;
  j["encrypt_pk_u16_ms"] = time_ms(samples * 4, [&] { a = FheUint16::encrypt(51234, pk); });
  volatile std::uint64_t sink = 0;
  j["decrypt_u16_ms"] = time_ms(samples * 4, [&] { sink = a->decrypt(*ck); });
  if (sink != 51234) return fail("decryption check failed");
  std::cout << j.dump() << "\n";
  return kExitOk;
}

int cmd_bench(const FheOptions& o) {
  const Parameters* params = params_or_null(o.params);
  if (params == nullptr) return usage("--params must be default or test");
  const int samples = o.samples > 0 ? o.samples : 5;
  if (o.client_ops) return cmd_bench_client_ops(*params, samples);
  const int key_samples = std::max(1, std::min(samples, 3));
  nlohmann::json j;
  j["params"] = std::string(params->name);
  j["threads"] = ThreadPool::shared().size();
  std::optional<ClientKey> ck;
  j["keygen_client_ms"] = time_ms(key_samples, [&] { ck = ClientKey::generate(*params); });
  std::optional<ServerKey> sk;
  j["keygen_server_ms"] = time_ms(key_samples, [&] { sk = ServerKey::generate(*ck); });
  auto pk = CompactPublicKey::generate(*ck);
  std::optional<FheUint16> a;
  j["encrypt_pk_u16_ms"] = time_ms(samples * 4, [&] { a = FheUint16::encrypt(51234, pk); });
  auto b = FheUint16::encrypt(40000, pk);
  volatile std::uint64_t sink = 0;
  j["decrypt_u16_ms"] = time_ms(samples * 4, [&] { sink = a->decrypt(*ck); });
  j["pbs_ms"] = time_ms(samples * 2, [&] { sink = bootstrap_once(*ck, *sk, 3); });
  // Per bootstrap, in a batch of 32 on all threads (a level of a circuit, as schedulers run them).
  constexpr std::size_t kBatch = 32;
  std::size_t batch_correct = kBatch;
  j["ks_pbs_batch_ms"] = time_ms(samples, [&] { batch_correct = bootstrap_batch(*ck, *sk, kBatch); }) / kBatch;
  if (batch_correct != kBatch) return fail("batched bootstrap check failed");
  j["add_u16_ms"] = time_ms(samples, [&] { (void)a->add(b, *sk); });
  j["ge_u16_ms"] = time_ms(samples, [&] { (void)a->ge(b, *sk); });
  j["ge_scalar_u16_ms"] = time_ms(samples, [&] { (void)a->ge(4242, *sk); });
  j["eq_u16_ms"] = time_ms(samples, [&] { (void)a->eq(b, *sk); });
  j["min_u16_ms"] = time_ms(samples, [&] { (void)a->min(b, *sk); });
  auto cond = a->ge(b, *sk);
  j["select_u16_ms"] = time_ms(samples, [&] { (void)cond.select(*a, b, *sk); });
  std::vector<FheUint16> eight;
  for (std::uint64_t v : {10, 900, 33, 65535, 7, 65535, 100, 4}) eight.push_back(FheUint16::encrypt(v, pk));
  j["argmax8_u16_ms"] = time_ms(std::max(1, samples / 2), [&] { (void)argmax<16>(eight, *sk); });
  const std::uint64_t bootstraps_before = bootstrap_count();
  (void)argmax<16>(eight, *sk);
  j["argmax8_u16_bootstraps"] = bootstrap_count() - bootstraps_before;
  j["server_key_bytes"] = sk->serialize().size();
  j["compressed_server_key_bytes"] = CompressedServerKey::generate(*ck).serialize().size();
  j["compact_public_key_bytes"] = pk.serialize().size();
  j["u16_ciphertext_bytes"] = a->serialize().size();
  // Threshold decryption by a 3-of-5 committee (veil keys bench prints the same on its own).
  auto threshold = threshold_bench(*params, std::max(1, std::min(samples, 3)));
  if (!threshold.ok()) return fail(threshold.status());
  for (const char* key : {"noise_squash_ms", "partial_decrypt_u16_ms", "combine_u16_ms", "decision_end_to_end_ms",
                          "committee_step_2_replicas_ms", "share_file_bytes"}) {
    j[std::string("threshold_") + key] = (*threshold)[key];
  }
  (void)sink;
  if (structured_output(o.output)) {
    print_data(j, o.output, -1);
  } else {
    std::cout << "fft kernels: " << fft_backend_name() << "\n";
    for (const auto& [key, value] : j.items()) std::cout << key << "\t" << value << "\n";
  }
  return kExitOk;
}

}  // namespace

void register_fhe_commands(CLI::App& app, GlobalOptions& /*global*/, CommandAction& action) {
  auto options = std::make_shared<FheOptions>();
  auto* noun = app.add_subcommand("fhe", "TFHE keys, encryption and homomorphic evaluation");
  noun->require_subcommand(1);
  auto params_opt = [&](CLI::App* cmd) {
    cmd->add_option("--params", options->params, "Parameter set: default (TFHE-rs 2M128) or test (INSECURE)")
        ->check(CLI::IsMember({"default", "test"}));
  };

  auto* keygen = noun->add_subcommand("keygen", "Generate client, server (plain and compressed) and compact public keys");
  keygen->add_option("--out", options->out, "Directory to write the keys into")->required();
  params_opt(keygen);
  keygen->callback([options, &action] { action = [options] { return cmd_keygen(*options); }; });

  auto* encrypt = noun->add_subcommand("encrypt", "Encrypt a value with the compact public key");
  encrypt->add_option("--keys", options->keys, "Key directory (public.key)")->required();
  encrypt->add_option("--type", options->type, "u8, u16, u32 or bool")->required()->check(CLI::IsMember({"u8", "u16", "u32", "bool"}));
  encrypt->add_option("VALUE", options->value, "Plain value")->required();
  encrypt->add_option("--out", options->out, "Ciphertext file to write")->required();
  encrypt->callback([options, &action] { action = [options] { return cmd_encrypt(*options); }; });

  auto* eval = noun->add_subcommand("eval", "Evaluate OP on two operands (ciphertext files or plain integers)");
  eval->add_option("--keys", options->keys, "Key directory (server.key)")->required();
  eval->add_option("--op", options->op, "add|sub|mul|eq|ne|gt|ge|lt|le|min|max|and|or|xor")
      ->required()
      ->check(CLI::IsMember({"add", "sub", "mul", "eq", "ne", "gt", "ge", "lt", "le", "min", "max", "and", "or", "xor"}));
  eval->add_option("A", options->a, "Left operand")->required();
  eval->add_option("B", options->b, "Right operand")->required();
  eval->add_option("--out", options->out, "Result file")->required();
  eval->callback([options, &action] { action = [options] { return cmd_eval(*options); }; });

  auto* select = noun->add_subcommand("select", "COND ? A : B on ciphertexts");
  select->add_option("--keys", options->keys, "Key directory (server.key)")->required();
  select->add_option("COND", options->cond, "FheBool ciphertext file")->required();
  select->add_option("A", options->a, "Value if true")->required();
  select->add_option("B", options->b, "Value if false")->required();
  select->add_option("--out", options->out, "Result file")->required();
  select->callback([options, &action] { action = [options] { return cmd_select(*options); }; });

  auto* decrypt = noun->add_subcommand("decrypt", "Decrypt a ciphertext file and print its value");
  decrypt->add_option("--keys", options->keys, "Key directory (client.key)")->required();
  decrypt->add_option("FILE", options->file, "Ciphertext file")->required();
  decrypt->callback([options, &action] { action = [options] { return cmd_decrypt(*options); }; });

  auto* validate = noun->add_subcommand("validate", "Run many bootstraps on random inputs and count failures");
  validate->add_option("--pbs", options->pbs, "Number of bootstraps (default 20000)");
  validate->add_option("--keys", options->keys, "Use this key directory instead of fresh keys");
  add_output_option(validate, options->output);
  add_json_alias(validate, options->output);
  params_opt(validate);
  validate->callback([options, &action] { action = [options] { return cmd_validate(*options); }; });

  auto* bench = noun->add_subcommand("bench", "Measure key generation, encryption and operations (medians, ms)");
  add_output_option(bench, options->output);
  add_json_alias(bench, options->output);
  bench->add_option("--samples", options->samples, "Samples per operation (default 5)");
  bench->add_flag("--client-ops", options->client_ops,
                  "Only the client-side operations node-tfhe also has (JSON; used by bench/compare-node-tfhe)");
  params_opt(bench);
  bench->callback([options, &action] { action = [options] { return cmd_bench(*options); }; });
}

}  // namespace veil::cli
