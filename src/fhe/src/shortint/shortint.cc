#include "shortint/shortint.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <chrono>
#include <thread>

#include "veil/fhe/diagnostics.h"

namespace veil::fhe::shortint {

// ---------------- ClientKey ----------------

ClientKey ClientKey::generate(const Parameters& params) {
  core::Csprng secret(core::Csprng::os_seed());
  auto small = core::LweSecretKey::generate(params.lwe_dimension, secret);
  auto glwe = core::GlweSecretKey::generate(params.glwe_dimension, params.polynomial_size, secret);
  return from_parts(params, std::move(small), std::move(glwe));
}

ClientKey ClientKey::from_parts(const Parameters& params, core::LweSecretKey small, core::GlweSecretKey glwe) {
  ClientKey ck;
  ck.params_ = &params;
  ck.small_ = std::move(small);
  ck.glwe_ = std::move(glwe);
  ck.big_ = ck.glwe_.as_lwe();
  return ck;
}

Ciphertext ClientKey::encrypt(std::uint64_t value) const {
  thread_local core::Csprng noise(core::Csprng::os_seed());
  thread_local core::Csprng mask(core::Csprng::os_seed(), 1);
  Ciphertext out;
  const std::uint64_t p = params_->plaintext_modulus();
  core::lwe_encrypt(out.ct, big_.bits.data(), big_.dimension(), (value % p) * params_->delta(),
                    params_->glwe_noise, mask, noise);
  // The degree is public metadata: never the value itself.
  out.degree = value % p < params_->message_modulus ? params_->message_modulus - 1 : p - 1;
  out.noise_level = 1;
  return out;
}

namespace {
constexpr std::uint32_t kCiphertextMaskStream = 4;
}  // namespace

CompressedCiphertext ClientKey::encrypt_compressed(std::uint64_t value) const {
  thread_local core::Csprng noise(core::Csprng::os_seed());
  CompressedCiphertext out;
  out.seed = core::Csprng::os_seed();
  core::Csprng mask(out.seed, kCiphertextMaskStream);
  core::LweCiphertext ct;
  const std::uint64_t p = params_->plaintext_modulus();
  core::lwe_encrypt(ct, big_.bits.data(), big_.dimension(), (value % p) * params_->delta(), params_->glwe_noise,
                    mask, noise);
  out.body = ct.body();
  out.degree = value % p < params_->message_modulus ? params_->message_modulus - 1 : p - 1;
  return out;
}

Ciphertext CompressedCiphertext::decompress(const Parameters& params) const {
  Ciphertext out;
  const std::size_t n = params.big_lwe_dimension();
  out.ct = core::LweCiphertext(n);
  core::Csprng mask(seed, kCiphertextMaskStream);
  mask.fill_u64(out.ct.data.data(), n);
  out.ct.body() = body;
  out.degree = degree;
  out.noise_level = 1;
  return out;
}

Torus ClientKey::phase(const Ciphertext& ct) const { return core::lwe_phase(ct.ct, big_.bits.data()); }

std::uint64_t ClientKey::decrypt_full(const Ciphertext& ct) const {
  const Torus delta = params_->delta();
  const Torus rounded = (phase(ct) + delta / 2) / delta;
  return rounded % params_->plaintext_modulus();
}

// ---------------- ServerKey ----------------

ServerKey::ServerKey(const Parameters& params, core::FourierBootstrapKey bsk, core::KeySwitchKey ksk)
    : params_(&params), bsk_(std::move(bsk)), ksk_(std::move(ksk)), fft_(&core::fft_plan(params.polynomial_size)) {
  ksk_.make_blocked();  // the 32-bit copy the key switches read (30 MB by default)
  identity_ = lut([](std::uint64_t x) { return x; });
}

LookupTable ServerKey::build(std::size_t count, const std::function<Torus(std::size_t, std::uint64_t)>& f) const {
  // Box of size B = N / p per input value; region r of N / count words holds function r.
  // Word j answers phases around j: t = j + B/2 picks region t / (N/count) and input
  // (t mod N/count) / B. Words past N wrap negacyclically and must hold -f_0(0).
  const std::size_t n = params_->polynomial_size;
  const std::uint64_t p = params_->plaintext_modulus();
  const std::size_t box = n / p;
  const std::size_t region = n / count;
  LookupTable lut;
  lut.count = count;
  lut.poly.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    const std::size_t t = j + box / 2;
    if (t >= n) {
      lut.poly[j] = 0 - f(0, 0);
    } else {
      lut.poly[j] = f(t / region, (t % region) / box);
    }
  }
  return lut;
}

LookupTable ServerKey::lut(const std::function<std::uint64_t(std::uint64_t)>& f) const {
  const std::uint64_t p = params_->plaintext_modulus();
  const Torus delta = params_->delta();
  LookupTable lut = build(1, [&](std::size_t, std::uint64_t x) { return (f(x) % p) * delta; });
  lut.values.assign(1, std::vector<std::uint64_t>(p));
  for (std::uint64_t x = 0; x < p; ++x) lut.values[0][x] = f(x) % p;
  return lut;
}

LookupTable ServerKey::lut_torus(const std::function<Torus(std::uint64_t)>& f, std::uint64_t degree) const {
  const std::uint64_t p = params_->plaintext_modulus();
  LookupTable lut = build(1, [&](std::size_t, std::uint64_t x) { return f(x); });
  lut.values.assign(1, std::vector<std::uint64_t>(p, degree));
  return lut;
}

LookupTable ServerKey::many_lut(const std::vector<std::function<std::uint64_t(std::uint64_t)>>& fs) const {
  const std::uint64_t p = params_->plaintext_modulus();
  const Torus delta = params_->delta();
  const std::size_t count = fs.size();
  assert(count >= 1 && (count & (count - 1)) == 0 && count <= p);
  LookupTable lut = build(count, [&](std::size_t r, std::uint64_t x) { return (fs[r](x) % p) * delta; });
  lut.values.assign(count, std::vector<std::uint64_t>(p / count));
  for (std::size_t r = 0; r < count; ++r) {
    for (std::uint64_t x = 0; x < p / count; ++x) lut.values[r][x] = fs[r](x) % p;
  }
  return lut;
}

namespace {
// Counts programmable bootstraps process-wide, for benchmarks (veil::fhe::bootstrap_count()).
std::atomic<std::uint64_t> g_bootstraps{0};

// The size of apply_batch()'s next chunk of blind rotations when `left` remain for `threads`
// threads: half of what is left per thread, and at least two rotations (which then share each
// key read), so the chunks shrink towards the batch's end.
std::size_t next_chunk(std::size_t left, std::size_t threads) {
  constexpr std::size_t kSmallestChunk = 2;
  if (threads <= 1) return left;
  return std::min(left, std::max(kSmallestChunk, (left + 2 * threads - 1) / (2 * threads)));
}

// Where apply_batch() cuts a batch of `count` blind rotations: chunk g is [starts[g], starts[g + 1]).
std::vector<std::size_t> rotation_chunks(std::size_t count, std::size_t threads) {
  std::vector<std::size_t> starts{0};
  for (std::size_t left = count; left > 0;) {
    const std::size_t size = next_chunk(left, threads);
    starts.push_back(starts.back() + size);
    left -= size;
  }
  return starts;
}

// rotation_chunks(count, threads).size() - 1, without building the list (counted per batch).
std::size_t rotation_chunk_count(std::size_t count, std::size_t threads) {
  std::size_t chunks = 0;
  for (std::size_t left = count; left > 0; left -= next_chunk(left, threads)) ++chunks;
  return chunks;
}

// Level widths of apply_batch(), for benchmarks (veil::fhe::batch_profile()).
struct BatchCounters {
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> bootstraps{0};
  std::array<std::atomic<std::uint64_t>, BatchProfile::kThreads.size()> steps_at{};
  std::array<std::atomic<std::uint64_t>, BatchProfile::kThreads.size()> streams_at{};
  std::atomic<std::uint64_t> wall_ns{0};

  void record(std::size_t width) {
    batches.fetch_add(1, std::memory_order_relaxed);
    bootstraps.fetch_add(width, std::memory_order_relaxed);
    for (std::size_t i = 0; i < steps_at.size(); ++i) {
      const std::size_t t = BatchProfile::kThreads[i];
      steps_at[i].fetch_add((width + t - 1) / t, std::memory_order_relaxed);
      streams_at[i].fetch_add(rotation_chunk_count(width, t), std::memory_order_relaxed);
    }
  }
};
BatchCounters g_batches;

std::uint64_t degree_after(const LookupTable& lut, std::size_t r, std::uint64_t in_degree) {
  const auto& v = lut.values[r];
  std::uint64_t d = 0;
  for (std::uint64_t x = 0; x <= in_degree && x < v.size(); ++x) d = std::max(d, v[x]);
  return d;
}
}  // namespace

std::uint64_t bootstrap_count() { return g_bootstraps.load(std::memory_order_relaxed); }

void batch_profile(std::uint64_t& batches, std::uint64_t& bootstraps, std::span<std::uint64_t> steps_at,
                   std::span<std::uint64_t> streams_at, std::uint64_t& batch_wall_ns) {
  batches = g_batches.batches.load(std::memory_order_relaxed);
  bootstraps = g_batches.bootstraps.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < steps_at.size() && i < g_batches.steps_at.size(); ++i)
    steps_at[i] = g_batches.steps_at[i].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < streams_at.size() && i < g_batches.streams_at.size(); ++i)
    streams_at[i] = g_batches.streams_at[i].load(std::memory_order_relaxed);
  batch_wall_ns = g_batches.wall_ns.load(std::memory_order_relaxed);
}

Ciphertext ServerKey::apply(const Ciphertext& in, const LookupTable& lut) const {
  thread_local core::LweCiphertext small;
  core::keyswitch32(ksk_, in.ct, small);
  Ciphertext out;
  core::programmable_bootstrap(out.ct, bsk_, small, lut.poly.data(), *fft_);
  g_bootstraps.fetch_add(1, std::memory_order_relaxed);
  out.degree = degree_after(lut, 0, in.degree);
  out.noise_level = 1;
  return out;
}

std::vector<Ciphertext> ServerKey::apply_many(const Ciphertext& in, const LookupTable& lut) const {
  assert(in.degree < params_->plaintext_modulus() / lut.count);
  thread_local core::LweCiphertext small;
  core::keyswitch32(ksk_, in.ct, small);
  std::vector<core::LweCiphertext> raw;
  core::programmable_bootstrap_many(raw, bsk_, small, lut.poly.data(), lut.count, *fft_);
  g_bootstraps.fetch_add(1, std::memory_order_relaxed);  // one blind rotation serves every table
  std::vector<Ciphertext> out(lut.count);
  for (std::size_t r = 0; r < lut.count; ++r) {
    out[r].ct = std::move(raw[r]);
    out[r].degree = degree_after(lut, r, in.degree);
    out[r].noise_level = 1;
  }
  return out;
}

Ciphertext ServerKey::with_noise_at_most(const Ciphertext& a, std::uint64_t budget) const {
  if (a.noise_level <= budget) return a;
  return clean(a);
}

Ciphertext ServerKey::bivariate(const Ciphertext& lhs, const Ciphertext& rhs,
                                const std::function<std::uint64_t(std::uint64_t, std::uint64_t)>& f) const {
  const std::uint64_t m = params_->message_modulus;
  assert(rhs.degree < m && lhs.degree * m + rhs.degree < params_->plaintext_modulus());
  // Budget: lhs counts m times. Clean lhs first (it weighs more), then rhs if still needed.
  Ciphertext l = lhs;
  if (l.noise_level * m + rhs.noise_level > params_->max_noise_level) l = clean(l);
  Ciphertext r = with_noise_at_most(rhs, params_->max_noise_level - l.noise_level * m);
  scalar_mul_assign(l, m);
  add_assign(l, r);
  return apply(l, lut([&](std::uint64_t x) { return f(x / m, x % m); }));
}

Ciphertext ServerKey::pack_bivariate(const Ciphertext& lhs, const Ciphertext& rhs) const {
  const std::uint64_t m = params_->message_modulus;
  Ciphertext l = lhs;
  if (l.noise_level * m + rhs.noise_level > params_->max_noise_level) l = clean(l);
  Ciphertext r = with_noise_at_most(rhs, params_->max_noise_level - l.noise_level * m);
  scalar_mul_assign(l, m);
  add_assign(l, r);
  return l;
}

LookupTable ServerKey::bivariate_lut(const std::function<std::uint64_t(std::uint64_t, std::uint64_t)>& f) const {
  const std::uint64_t m = params_->message_modulus;
  return lut([&](std::uint64_t x) { return f(x / m, x % m); });
}

std::vector<std::vector<Ciphertext>> ServerKey::apply_batch(const std::vector<Ciphertext>& inputs,
                                                            const std::vector<const LookupTable*>& luts,
                                                            ThreadPool& pool) const {
  const std::size_t count = inputs.size();
  std::vector<std::vector<Ciphertext>> out(count);
  if (count == 0) return out;
  g_batches.record(count);
  const auto started = std::chrono::steady_clock::now();
  struct AddWallTime {
    std::chrono::steady_clock::time_point started;
    ~AddWallTime() {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started);
      g_batches.wall_ns.fetch_add(static_cast<std::uint64_t>(ns.count()), std::memory_order_relaxed);
    }
  } add_wall_time{started};
  if (count == 1) {
    out[0] = luts[0]->count == 1 ? std::vector<Ciphertext>{apply(inputs[0], *luts[0])} : apply_many(inputs[0], *luts[0]);
    return out;
  }
  const std::size_t threads =
      std::max<std::size_t>(1, std::min<std::size_t>(pool.size(), std::max(1u, std::thread::hardware_concurrency())));
  // 1. Key switching, the key read once; output columns split across threads in whole
  // blocks of the blocked key layout.
  const std::size_t per_input = ksk_.rows();
  const std::size_t cols = ksk_.padded_columns();
  std::vector<std::int8_t> digits(count * per_input);
  core::AlignedVector<std::uint32_t> ks_acc(count * cols);
  std::vector<const core::LweCiphertext*> in_ptrs(count);
  std::vector<std::uint32_t*> ks_ptrs(count);
  for (std::size_t c = 0; c < count; ++c) {
    in_ptrs[c] = &inputs[c].ct;
    ks_ptrs[c] = ks_acc.data() + c * cols;
  }
  pool.parallel_for(0, count, [&](std::size_t c) { core::keyswitch_digits(ksk_, inputs[c].ct, digits.data() + c * per_input); });
  const std::size_t blocks = cols / core::KeySwitchKey::kBlockColumns;
  pool.parallel_for(0, threads, [&](std::size_t t) {
    const std::size_t begin = t * blocks / threads * core::KeySwitchKey::kBlockColumns;
    const std::size_t end = (t + 1) * blocks / threads * core::KeySwitchKey::kBlockColumns;
    if (begin < end) core::keyswitch32_batch_columns(ksk_, in_ptrs.data(), ks_ptrs.data(), count, digits.data(), begin, end);
  });
  std::vector<core::LweCiphertext> small(count);
  for (std::size_t c = 0; c < count; ++c) core::lift_keyswitched32(ks_ptrs[c], ksk_.output_dimension, small[c]);
  // 2. Blind rotations in contiguous chunks, large ones first: each thread takes the next chunk
  // when it is done with its last (guided scheduling), so a chunk's rotations still share key
  // reads while a thread that runs slower (another tenant on its core, a lower clock) leaves
  // only a small chunk behind at the end of the batch instead of part of its half.
  const std::size_t acc_words = (params_->glwe_dimension + 1) * params_->polynomial_size;
  core::AlignedVector<Torus> accs(count * acc_words);
  const std::vector<std::size_t> chunk_starts = rotation_chunks(count, threads);
  pool.parallel_for(0, chunk_starts.size() - 1, [&](std::size_t g) {
    const std::size_t begin = chunk_starts[g], end = chunk_starts[g + 1];
    std::vector<Torus*> acc_ptrs;
    std::vector<const core::LweCiphertext*> ins;
    std::vector<const Torus*> polys;
    for (std::size_t c = begin; c < end; ++c) {
      acc_ptrs.push_back(accs.data() + c * acc_words);
      ins.push_back(&small[c]);
      polys.push_back(luts[c]->poly.data());
    }
    core::blind_rotate_batch(acc_ptrs.data(), bsk_, ins.data(), polys.data(), end - begin, *fft_);
  });
  g_bootstraps.fetch_add(count, std::memory_order_relaxed);
  // 3. Sample extraction.
  for (std::size_t c = 0; c < count; ++c) {
    const LookupTable& lut = *luts[c];
    out[c].resize(lut.count);
    const std::size_t stride = params_->polynomial_size / lut.count;
    for (std::size_t r = 0; r < lut.count; ++r) {
      core::sample_extract(out[c][r].ct, accs.data() + c * acc_words, params_->glwe_dimension, params_->polynomial_size,
                           r * stride);
      out[c][r].degree = degree_after(lut, r, inputs[c].degree);
      out[c][r].noise_level = 1;
    }
  }
  return out;
}

Ciphertext ServerKey::clean(const Ciphertext& ct) const {
  return apply(ct, identity_);
}

Ciphertext ServerKey::trivial(std::uint64_t value) const {
  Ciphertext out;
  const std::uint64_t p = params_->plaintext_modulus();
  out.ct = core::lwe_trivial(params_->big_lwe_dimension(), (value % p) * params_->delta());
  out.degree = value % p;
  out.noise_level = 0;
  return out;
}

void ServerKey::add_assign(Ciphertext& a, const Ciphertext& b) const {
  core::lwe_add_assign(a.ct, b.ct);
  a.degree += b.degree;
  a.noise_level += b.noise_level;
}

void ServerKey::scalar_add_assign(Ciphertext& a, std::uint64_t c) const {
  a.ct.body() += c * params_->delta();
  a.degree += c;
}

void ServerKey::scalar_sub_assign(Ciphertext& a, std::uint64_t c) const { a.ct.body() -= c * params_->delta(); }

void ServerKey::scalar_mul_assign(Ciphertext& a, std::uint64_t c) const {
  core::lwe_mul_scalar_assign(a.ct, c);
  a.degree *= c;
  a.noise_level *= c;
}

Ciphertext ServerKey::scalar_sub_from(std::uint64_t c, const Ciphertext& a) const {
  assert(a.degree <= c);
  Ciphertext out = a;
  core::lwe_neg_assign(out.ct);
  out.ct.body() += c * params_->delta();
  out.degree = c;
  return out;
}

// ---------------- CompressedServerKey ----------------

namespace {
constexpr std::uint32_t kBskStream = 1;
constexpr std::uint32_t kKskStream = 2;
}  // namespace

CompressedServerKey CompressedServerKey::generate(const ClientKey& ck) {
  const Parameters& p = ck.params();
  CompressedServerKey out;
  out.params = &p;
  out.seed = core::Csprng::os_seed();
  core::Csprng noise(core::Csprng::os_seed());
  {
    core::Csprng mask(out.seed, kBskStream);
    auto bsk = core::generate_bsk(ck.small_key(), ck.glwe_key(), p.pbs_base_log, p.pbs_level, p.glwe_noise, mask, noise);
    const std::size_t n = p.polynomial_size, k = p.glwe_dimension;
    const std::size_t glwes = bsk.size() / ((k + 1) * n);
    out.bsk_bodies.resize(glwes * n);
    for (std::size_t g = 0; g < glwes; ++g) {
      std::copy_n(bsk.begin() + static_cast<std::ptrdiff_t>(g * (k + 1) * n + k * n), n,
                  out.bsk_bodies.begin() + static_cast<std::ptrdiff_t>(g * n));
    }
  }
  {
    core::Csprng mask(out.seed, kKskStream);
    auto ksk = core::generate_ksk(ck.big_key(), ck.small_key(), p.ks_base_log, p.ks_level, p.lwe_noise, mask, noise);
    const std::size_t stride = ksk.output_dimension + 1;
    const std::size_t entries = ksk.data.size() / stride;
    out.ksk_bodies.resize(entries);
    for (std::size_t e = 0; e < entries; ++e) out.ksk_bodies[e] = ksk.data[e * stride + ksk.output_dimension];
  }
  return out;
}

ServerKey CompressedServerKey::decompress() const {
  const Parameters& p = *params;
  const std::size_t n = p.polynomial_size, k = p.glwe_dimension;
  core::GgswShape shape{k, n, p.pbs_base_log, p.pbs_level};
  // Regenerate the masks in the order generate() drew them, then put the bodies back.
  std::vector<Torus> bsk(p.lwe_dimension * shape.standard_words());
  {
    core::Csprng mask(seed, kBskStream);
    const std::size_t glwes = bsk.size() / ((k + 1) * n);
    for (std::size_t g = 0; g < glwes; ++g) {
      Torus* glwe = bsk.data() + g * (k + 1) * n;
      mask.fill_u64(glwe, k * n);
      std::copy_n(bsk_bodies.begin() + static_cast<std::ptrdiff_t>(g * n), n, glwe + k * n);
    }
  }
  core::KeySwitchKey ksk;
  ksk.input_dimension = p.big_lwe_dimension();
  ksk.output_dimension = p.lwe_dimension;
  ksk.base_log = p.ks_base_log;
  ksk.level = p.ks_level;
  {
    core::Csprng mask(seed, kKskStream);
    const std::size_t stride = ksk.output_dimension + 1;
    const std::size_t entries = ksk.input_dimension * ksk.level;
    ksk.data.resize(entries * stride);
    for (std::size_t e = 0; e < entries; ++e) {
      mask.fill_u64(ksk.data.data() + e * stride, ksk.output_dimension);
      ksk.data[e * stride + ksk.output_dimension] = ksk_bodies[e];
    }
  }
  return ServerKey(p, core::bsk_to_fourier(bsk, p.lwe_dimension, shape), std::move(ksk));
}

}  // namespace veil::fhe::shortint
