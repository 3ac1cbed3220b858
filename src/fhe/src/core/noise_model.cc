#include "core/noise_model.h"

#include <cmath>

namespace veil::fhe::core {
namespace {

constexpr double kQ2 = 0x1p128;  // q^2, q = 2^64

// Blind rotation of n CMUXes with a binary GLWE key (E[s^2] = 1/2, Var s = 1/4): the key noise
// carried through the gadget digits, the decomposition's rounding, and the FFT's rounding as
// TFHE-rs models it for 64-bit floats (external_product_glwe.rs).
double blind_rotation_variance(const Parameters& p) {
  const double n = static_cast<double>(p.lwe_dimension);
  const double k = static_cast<double>(p.glwe_dimension);
  const double big_n = static_cast<double>(p.polynomial_size);
  const double level = static_cast<double>(p.pbs_level);
  const double base = std::ldexp(1.0, static_cast<int>(p.pbs_base_log));
  const double kept2 = std::ldexp(1.0, static_cast<int>(2 * p.pbs_base_log * p.pbs_level));
  const double key = level * (k + 1) * big_n * (base * base + 2) / 12 * noise_variance(p.glwe_noise);
  const double rounding = (kQ2 - kept2) / (24 * kept2) * (1 + k * big_n * 0.5) + k * big_n / 8 * 0.25 +
                          (1 - k * big_n) * (1 - k * big_n) / 16 * 0.25;
  const double fft = std::exp2(-2.57722494) * 0x1p22 * level * base * base * big_n * big_n * (k + 1);
  return n * (key + rounding + fft);
}

// Key switch from the big key (dimension k*N): KSK noise through the digits, and the
// rounding of each input word to its base_log * level top bits (keyswitch_one_bit.rs).
double key_switch_variance(const Parameters& p) {
  const double n_in = static_cast<double>(p.big_lwe_dimension());
  const double level = static_cast<double>(p.ks_level);
  const double base = std::ldexp(1.0, static_cast<int>(p.ks_base_log));
  const double kept2 = std::ldexp(1.0, static_cast<int>(2 * p.ks_base_log * p.ks_level));
  const double rounding = (kQ2 / (12 * kept2) - 1.0 / 12) * 0.5 + 1.0 / 16;
  const double key = level * noise_variance(p.lwe_noise) * (base * base + 2) / 12;
  return n_in * (key + rounding) + key_switch32_rounding_variance(p);
}

// log2 P(|N(0, var)| > bound).
double log2_two_sided_tail(double var, double bound) {
  const double x = bound / std::sqrt(2 * var);
  const double tail = std::erfc(x);
  if (tail > 0) return std::log2(tail);
  // erfc underflows past x ~ 26: its asymptotic form.
  return -x * x / std::log(2.0) - std::log2(x * std::sqrt(M_PI));
}

}  // namespace

double noise_variance(const NoiseDistribution& dist) {
  if (dist.kind == NoiseKind::kTUniform) return (std::exp2(2 * dist.value + 1) + 1) / 6;
  const double std_dev = dist.value * 0x1p64;
  return std_dev * std_dev;
}

double key_switch32_rounding_variance(const Parameters& p, double key_weight) {
  const double rows = static_cast<double>(p.big_lwe_dimension() * p.ks_level);
  const double base = std::ldexp(1.0, static_cast<int>(p.ks_base_log));
  const double word = 0x1p64 / 12;  // a word rounded to a multiple of 2^32: uniform error
  if (key_weight < 0) key_weight = static_cast<double>(p.lwe_dimension) / 2;
  const double per_row = word * (1 + key_weight);  // the body's rounding and the key's ones'
  return rows * (base * base + 2) / 12 * per_row + word;
}

double modulus_switch_variance(std::size_t n, std::size_t polynomial_size, ModulusSwitch kind) {
  const double step = 0x1p64 / (2.0 * static_cast<double>(polynomial_size));  // q / 2N
  const double per_word = kind == ModulusSwitch::kCentred ? 48.0 : 24.0;
  return step * step * (1.0 / 12 + static_cast<double>(n) / per_word);
}

PbsNoise model_pbs_noise(const Parameters& params, ModulusSwitch kind, double input_norm) {
  if (input_norm <= 0) input_norm = static_cast<double>(params.max_noise_level);
  const double pbs = blind_rotation_variance(params);
  const double ks = key_switch_variance(params);
  const double ms = modulus_switch_variance(params.lwe_dimension, params.polynomial_size, kind);
  const double total = input_norm * input_norm * pbs + ks + ms;
  PbsNoise out;
  out.log2_var_pbs_output = std::log2(pbs);
  out.log2_var_key_switch = std::log2(ks);
  out.log2_var_modulus_switch = std::log2(ms);
  out.log2_var_total = std::log2(total);
  out.log2_p_fail = log2_two_sided_tail(total, static_cast<double>(params.delta()) / 2);
  return out;
}

}  // namespace veil::fhe::core
