// The noise model of one key switch + programmable bootstrap, and the failure probability it
// gives: Zama's published formulas (TFHE-rs `concrete-cpu-noise-model`, `gaussian_noise/noise/
// {external_product_glwe,keyswitch_one_bit}.rs`; Bergerat et al., "Parameter optimization and
// larger precision for (T)FHE", J. Cryptology 2023), as bench/dkg_noise.py computes them for
// docs/dkg.md. `Parameters::log2_p_fail` is this model's figure for the modulus switch the
// bootstrap implements, and a test keeps the two equal.
//
// Every variance is in integer units of the torus scaled to Z/2^64.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>

#include "veil/fhe/params.h"

namespace veil::fhe::core {

// How a key-switched ciphertext is switched to Z/2N before blind rotation.
enum class ModulusSwitch {
  // Every word rounded on its own: the key-weighted rounding errors sum to n (q/2N)^2 / 24.
  kPlain,
  // Mean-compensated (core::modswitch_centred): n (q/2N)^2 / 48.
  kCentred,
};

// Variance of a noise distribution's samples.
double noise_variance(const NoiseDistribution& dist);

// Variance of the error the switch to Z/2N adds to the phase of an LWE ciphertext of dimension
// n under a uniform binary key (the body's rounding included): (q/2N)^2 (1/12 + n/24), or
// n/48 for the centred switch. For the centred switch it holds for every binary key; for the
// plain one it is the average over keys (a key of weight w gives (q/2N)^2 (1/12 + w/12)).
double modulus_switch_variance(std::size_t n, std::size_t polynomial_size, ModulusSwitch kind);

// The error the 32-bit key switch (core::keyswitch32) adds to the 64-bit one's: every key row
// rounded to 32 bits (its body and the key-weighted mask words), through the digits, and the
// input body's rounding. Part of the key switch's variance below. key_weight: the small key's
// number of ones, n/2 on average (the default).
double key_switch32_rounding_variance(const Parameters& params, double key_weight = -1);

struct PbsNoise {
  double log2_var_pbs_output = 0;     // blind rotation, FFT error included
  double log2_var_key_switch = 0;     // KSK noise, decomposition rounding, the 32-bit switch's rounding
  double log2_var_modulus_switch = 0;
  // At the modulus switch, for an input whose noise is a combination of bootstrapped blocks of
  // 2-norm `input_norm`: input_norm^2 * PBS output + key switch + modulus switch.
  double log2_var_total = 0;
  // P(|error| > Delta / 2) for a centred Gaussian of that variance: one KS-PBS decrypting wrong.
  double log2_p_fail = 0;
};

// The model for `params`; input_norm defaults to params.max_noise_level, the largest linear
// combination the integer layer feeds a bootstrap.
PbsNoise model_pbs_noise(const Parameters& params, ModulusSwitch kind, double input_norm = 0);

}  // namespace veil::fhe::core
