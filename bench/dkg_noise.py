#!/usr/bin/env python3
"""Noise, failure probability and cost figures for the dealer-free key generation (docs/dkg.md).

Plain python3, no packages. Run `python3 bench/dkg_noise.py` for the tables quoted in
docs/dkg.md, `--json` for the same numbers as one JSON object.

What is computed, and from what:

* The variance of every noise source of one KS-PBS (key switch, modulus switch to Z/2N,
  blind rotation), with the formulas of Zama's noise model as published in TFHE-rs
  (`concrete-cpu-noise-model/src/gaussian_noise/noise/{external_product_glwe,keyswitch_one_bit}.rs`
  and concrete-optimizer's `estimate_modulus_switching_noise_with_binary_key`). Every variance
  below is in integer units (the torus scaled to Z/2^64, or Z/2^128 for the squash).
* The model is first checked against two parameter sets TFHE-rs publishes *without*
  modulus-switch noise reduction: V0_11_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M64
  (log2 p_fail -71.625) and V1_0_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M80 (-80.082), and
  one with the centred modulus switch, TFHE-rs's NIST_PARAM_2_CARRY_2_COMPACT_PK_KS_PBS_TUNIFORM_2M128
  (stated -128.0; the model is ~3% optimistic there).
* The same for the centred ("mean-compensated") modulus switch, which needs no key material.
* p_fail per bootstrap = P(|e| > Delta/2) for a centred Gaussian e of the total variance
  at the modulus switch, with the input a linear combination of 2-norm max_noise_level (5).
* Key-noise variances under the DKG of docs/dkg.md: LWE-side noise (both key-switching keys,
  the public key) is generated *exactly* TUniform from shared bits, so its variance is the
  dealer's; GLWE-side noise of the bootstrapping keys (server and squash) is the sum of one
  TUniform sample per member, so its variance is m times the dealer's (m = members).
* Bytes and rounds of the protocol for the default and test parameter sets.
"""

import argparse
import json
import math

# ---------------------------------------------------------------------------------------------
# Parameter sets (src/fhe/include/veil/fhe/params.h; TFHE-rs files named above for the two
# calibration sets).

DEFAULT = dict(name="veil default (PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128)",
               n=918, k=1, N=2048, lwe_tu=45, glwe_tu=17, pbs_base=23, pbs_level=1,
               ks_base=4, ks_level=4, p=16, nu=5)
TEST = dict(name="veil test (INSECURE_TEST_ONLY_MESSAGE_2_CARRY_2)",
            n=128, k=1, N=512, lwe_tu=45, glwe_tu=17, pbs_base=23, pbs_level=1,
            ks_base=4, ks_level=4, p=16, nu=5)
TFHE_RS_V0_11_2M64 = dict(name="TFHE-rs V0_11_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M64",
                          n=879, k=1, N=2048, lwe_tu=46, glwe_tu=17, pbs_base=23, pbs_level=1,
                          ks_base=3, ks_level=5, p=16, nu=5, published=-71.625)
TFHE_RS_V1_0_2M80 = dict(name="TFHE-rs V1_0_PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M80",
                         n=879, k=1, N=2048, lwe_tu=46, glwe_tu=17, pbs_base=23, pbs_level=1,
                         ks_base=1, ks_level=17, p=16, nu=5, published=-80.082)
# TFHE-rs's NIST submission set, which uses the centred ("mean-compensated") modulus switch
# (ModulusSwitchType::CenteredMeanNoiseReduction); its stated log2 p_fail is a round -128.0.
TFHE_RS_NIST_2_2 = dict(name="TFHE-rs NIST_PARAM_2_CARRY_2_COMPACT_PK_KS_PBS_TUNIFORM_2M128 (centred MS)",
                        n=886, k=1, N=2048, lwe_tu=45, glwe_tu=16, pbs_base=23, pbs_level=1,
                        ks_base=4, ks_level=4, p=16, nu=5, published=-128.0, centered=True)

# Noise squashing (kNoiseSquashing2M128 / kNoiseSquashingInsecureTestOnly), modulus 2^128.
SQUASH_DEFAULT = dict(k=2, N=2048, tu=30, base=24, level=3)
SQUASH_TEST = dict(k=1, N=512, tu=30, base=24, level=3)

# TFHE-rs V1_0 (and V1_1, V1_2) PARAM_MESSAGE_2_CARRY_2_KS_PBS_TUNIFORM_2M128: the same
# parameters as veil's default *plus* modulus-switch noise reduction (1449 encryptions of zero),
# log2 p_fail -129.358, ms_input_variance 2.63039184094559e-7 (torus^2).
DRIFT_PUBLISHED_LOG2_PFAIL = -129.358
DRIFT_MS_INPUT_VARIANCE_TORUS = 2.63039184094559e-7

# Measured on this project (bench/README.md, "Correctness run"): PBS output error std-dev
# 2^49.198 over 20 000 KS-PBS with dealer keys.
MEASURED_PBS_STD_LOG2 = 49.198


def tuniform_variance(b):
    """Variance of TUniform(b): integers in [-2^b, 2^b], ends with half weight."""
    return (2.0 ** (2 * b + 1) + 1) / 6


def log2_two_sided_tail(sigma, bound):
    """log2 P(|N(0, sigma^2)| > bound)."""
    x = bound / (math.sqrt(2) * sigma)
    v = math.erfc(x)
    if v > 0:
        return math.log2(v)
    # Asymptotic expansion when erfc underflows.
    return -x * x / math.log(2) - math.log2(x * math.sqrt(math.pi))


# ---------------------------------------------------------------------------------------------
# Zama's noise model (integer units, modulus 2^64 unless said otherwise).

def blind_rotation_variance(n, k, N, base_log, level, var_bsk, q_log=64, fft=True):
    """Output variance of a blind rotation of n CMUXes; returns (total, key part, rounding
    part, FFT part). The key part is the one that scales with the bootstrapping key noise."""
    B = 2.0 ** base_log
    b2l = 2.0 ** (2 * base_log * level)
    q2 = 2.0 ** (2 * q_log)
    key = level * (k + 1) * N * (B * B + 2) / 12 * var_bsk
    # Decomposition rounding, binary key (variance 1/4, E[s^2] = 1/4 in the model's terms).
    rounding = ((q2 - b2l) / (24 * b2l) * (1 + k * N * 0.5) + k * N / 8 * 0.25
                + (1 - k * N) ** 2 / 16 * 0.25)
    fft_part = 2 ** -2.57722494 * 2.0 ** 22 * level * B * B * N * N * (k + 1) if fft else 0.0
    return n * (key + rounding + fft_part), n * key, n * rounding, n * fft_part


def key_switch_variance(n_in, base_log, level, var_ksk, q_log=64):
    """Variance added by a key switch from dimension n_in; returns (total, key part, rounding)."""
    B = 2.0 ** base_log
    b2l = 2.0 ** (2 * base_log * level)
    q2 = 2.0 ** (2 * q_log)
    rounding = (q2 / (12 * b2l) - 1 / 12) * 0.5 + 1 / 16
    key = level * var_ksk * (B * B + 2) / 12
    return n_in * (key + rounding), n_in * key, n_in * rounding


def modulus_switch_variance(n, N, q_log=64, centered=False):
    """Rounding of n binary-key-weighted coefficients and the body to Z/2N.

    centered: the mask rounding errors eps_i are public, and sum eps_i s_i = sum eps_i / 2 +
    sum eps_i (s_i - 1/2); adding the known first term to the body before it is rounded leaves
    sum eps_i (s_i - 1/2), whose variance is n (q/2N)^2 / 48 for *any* binary key, since
    (s_i - 1/2)^2 = 1/4 (TFHE-rs lwe_ciphertext_centered_binary_modulus_switch; de Ruijter,
    D'Anvers, Verbauwhede, ePrint 2025/809)."""
    w = 2.0 * N
    return (2.0 ** q_log / w) ** 2 * (1 / 12 + n / (48 if centered else 24))


def pbs_failure(ps, members=1, bsk_factor=None, ksk_factor=1, fft=True, measured=False, centered=None):
    """log2 p_fail of one KS-PBS whose input has 2-norm nu, and the terms (log2 variances).

    bsk_factor / ksk_factor: how many times the dealer's key-noise variance the bootstrapping
    and key-switching keys carry (DKG: members and 1). measured=True replaces the model's
    dealer blind-rotation variance by the one measured in bench/README.md."""
    if bsk_factor is None:
        bsk_factor = members
    total, key, rnd, fft_part = blind_rotation_variance(
        ps["n"], ps["k"], ps["N"], ps["pbs_base"], ps["pbs_level"], tuniform_variance(ps["glwe_tu"]), fft=fft)
    if measured:
        dealer = 2.0 ** (2 * MEASURED_PBS_STD_LOG2)
        br = dealer + (bsk_factor - 1) * key
    else:
        br = bsk_factor * key + rnd + fft_part
    ks, ks_key, ks_rnd = key_switch_variance(ps["k"] * ps["N"], ps["ks_base"], ps["ks_level"],
                                             tuniform_variance(ps["lwe_tu"]))
    ks = ksk_factor * ks_key + ks_rnd
    if centered is None:
        centered = ps.get("centered", False)
    ms = modulus_switch_variance(ps["n"], ps["N"], centered=centered)
    var = ps["nu"] ** 2 * br + ks + ms
    bound = 2.0 ** 64 / (2 * ps["p"]) / 2  # Delta / 2 with one padding bit
    return dict(log2_pfail=log2_two_sided_tail(math.sqrt(var), bound),
                log2_std_total=math.log2(var) / 2,
                log2_std_pbs_output=math.log2(br) / 2,
                log2_std_ks=math.log2(ks) / 2,
                log2_std_ms=math.log2(ms) / 2,
                log2_var_ms_input=math.log2(ps["nu"] ** 2 * br + ks))


def drift_scaled(ps, members):
    """Modulus-switch noise reduction (not implemented in veil yet): TFHE-rs publishes
    2^-129.358 for the default parameters with dealer keys. The DKG changes only the
    variance of what enters the modulus switch (the blind-rotation output, through the
    bootstrapping-key noise). If that variance V grows to (1+rho) V, a Gaussian-type tail
    exp(-B^2 / 2V) has its log scaled by 1/(1+rho); the result is a conservative estimate,
    not Zama's estimator."""
    v_in = DRIFT_MS_INPUT_VARIANCE_TORUS * 2.0 ** 128
    _, key, _, _ = blind_rotation_variance(ps["n"], ps["k"], ps["N"], ps["pbs_base"], ps["pbs_level"],
                                           tuniform_variance(ps["glwe_tu"]))
    rho = (members - 1) * ps["nu"] ** 2 * key / v_in
    return dict(rho=rho, log2_pfail=DRIFT_PUBLISHED_LOG2_PFAIL / (1 + rho))


# ---------------------------------------------------------------------------------------------
# Noise squashing (docs/fhe-threshold.md, "Output noise") and the flood's statistical hiding.

def squash_noise(ps, sq, members=1):
    digit = 2.0 ** (2 * sq["base"]) / 12
    key = ps["n"] * (sq["k"] + 1) * sq["level"] * sq["N"] * digit * tuniform_variance(sq["tu"])
    kept = sq["base"] * sq["level"]
    rounding = (ps["n"] / 2) * (1 + sq["k"] * sq["N"] / 2) * (2.0 ** (128 - kept)) ** 2 / 12
    var = members * key + rounding
    std = math.sqrt(var)
    # |e| bound at probability 2^-128 (13.1 standard deviations, as in docs/fhe-threshold.md).
    bound = 13.1 * std
    return dict(log2_var_key=math.log2(members * key), log2_var_rounding=math.log2(rounding),
                log2_std=math.log2(std), log2_bound=math.log2(bound))


def flood_log2(t):
    return 120 - (t - 1).bit_length()


# ---------------------------------------------------------------------------------------------
# Sizes and bytes.

GR_ELEM = 64  # bytes of one GR(2^128, 4) element (four 128-bit coefficients)


def object_words(ps, sq, drift_zeros=0):
    """Bodies the DKG opens, per public object: (count, bytes per word)."""
    n, k, N = ps["n"], ps["k"], ps["N"]
    big = k * N
    return {
        "public.key body (b = a.z + e)": (big, 8),
        "server.compressed.key BSK bodies": (n * (k + 1) * ps["pbs_level"] * N, 8),
        "server.compressed.key KSK bodies": (big * ps["ks_level"], 8),
        "squash.key KSK bodies": (big * ps["ks_level"], 8),
        "squash.key BSK bodies": (n * (sq["k"] + 1) * sq["level"] * sq["N"], 16),
        "modulus-switch zeros (only with noise reduction)": (drift_zeros, 8),
    }


def shared_bits(ps, sq, drift_zeros=0):
    """Random bits the DKG generates (each one opening of a 16-byte value)."""
    big = ps["k"] * ps["N"]
    return {
        "small LWE key s": ps["n"],
        "GLWE key z (big LWE key)": big,
        "squashing key w": sq["k"] * sq["N"],
        "server KSK noise, TUniform(%d)" % ps["lwe_tu"]: big * ps["ks_level"] * (ps["lwe_tu"] + 2),
        "squash KSK noise, TUniform(%d)" % ps["lwe_tu"]: big * ps["ks_level"] * (ps["lwe_tu"] + 2),
        "public key noise, TUniform(%d)" % ps["glwe_tu"]: big * (ps["glwe_tu"] + 2),
        "modulus-switch zeros noise": drift_zeros * (ps["lwe_tu"] + 2),
    }


def products(ps, sq):
    """Products of two shared bits inside the bootstrapping keys (opened, never re-shared)."""
    return {"server BSK: s_i * z_j": ps["n"] * ps["k"] * ps["N"],
            "squash BSK: s_i * w_j": ps["n"] * sq["k"] * sq["N"]}


def file_sizes(ps, sq):
    frame = 16 + 16  # "VFHE" header + BLAKE2b-128 checksum
    n, k, N = ps["n"], ps["k"], ps["N"]
    big = k * N
    pk = frame + 32 + 8 + big * 8
    sk = frame + 32 + 8 + n * (k + 1) * ps["pbs_level"] * N * 8 + 8 + big * ps["ks_level"] * 8
    sqk = frame + 32 + 8 + big * ps["ks_level"] * 8 + 8 + n * (sq["k"] + 1) * sq["level"] * sq["N"] * 16
    share_plain = sq["k"] * sq["N"] * GR_ELEM
    return {"public.key": pk, "server.compressed.key": sk, "squash.key": sqk,
            "key share values (in share-<i>.sealed)": share_plain}


def bytes_per_member(ps, sq, members, drift_zeros=0):
    """Bytes one member sends. Every opening goes through slice kings: each member sends its
    contribution of every other member's slice, then its own slice's sum to the n-1 others:
    2 (n-1)/n of the opened bytes."""
    m = members
    d = (m - 1) // 2
    body = sum(c * w for c, w in object_words(ps, sq, drift_zeros).values())
    bits = sum(shared_bits(ps, sq, drift_zeros).values()) * 16
    open_factor = 2 * (m - 1) / m
    # Hello with PRSS keys: a member is the smallest of C(m-1, m-d-1) of its sets at most; 34
    # bytes per key per recipient; plus 200 bytes of fields per peer. Confirm/sealed/ready:
    # ~200 bytes per peer per round.
    prss = math.comb(m - 1, d) * (m - d - 1) * 34
    small = (m - 1) * (200 + 3 * 200) + prss
    return dict(bits=open_factor * bits, bodies=open_factor * body, control=small,
                total=open_factor * (bits + body) + small,
                all_to_all_total=(m - 1) * (bits + body) + small)


# ---------------------------------------------------------------------------------------------
# CPU estimate per member (default parameters). Unit costs from this project's measurements
# where they exist; the rest are stated assumptions.

NTT128_FORWARD_S = 91e-6      # docs/fhe-threshold.md: forward 3-prime NTT, N = 2048
NTT128_INVERSE_S = 137e-6     # assumption: 1.5x the forward (Garner CRT included)
NTT128_POINTWISE_S = 5.3e-6   # derived from the 1.66 ms squash CMUX (9 fwd, 3 inv, 81 products)
CHACHA_BYTES_PER_S = 1.2e9    # docs/p2p.md: libsodium's ChaCha20-Poly1305 ~1,230 MiB/s
SHA256_BYTES_PER_S = 0.5e9    # assumption
P2P_CPU_S_PER_BYTE = 1.1 / 2 ** 30  # docs/p2p.md: ~1 s/GiB to send, ~1 s/GiB to receive
BIT_CPU_S = 0.5e-6            # assumption: PRSS + square + Hensel solve per shared bit


def cpu_estimate(ps, sq, members):
    n, N = ps["n"], ps["N"]
    scale = N / 2048 * math.log2(N) / 11  # NTT cost for smaller N (test parameters)
    limbs128, limbs64 = 6, 3  # 22-bit limbs of a member's 128-bit / 64-bit additive key share
    sq_rows = n * (sq["k"] + 1) * sq["level"]
    sq_row_s = scale * (sq["k"] * NTT128_FORWARD_S + sq["k"] * limbs128 * NTT128_POINTWISE_S
                        + limbs128 * NTT128_INVERSE_S)
    bsk_rows = n * (ps["k"] + 1) * ps["pbs_level"]
    bsk_row_s = scale * (ps["k"] * NTT128_FORWARD_S + ps["k"] * limbs64 * NTT128_POINTWISE_S
                         + limbs64 * NTT128_INVERSE_S)
    words = object_words(ps, sq)
    body_bytes = sum(c * w for c, w in words.values())
    mask_regen = (n * (ps["k"] + 1) * ps["pbs_level"] * ps["k"] * N * 8
                  + n * (sq["k"] + 1) * sq["level"] * sq["k"] * sq["N"] * 16)
    pair_masks = (members - 1) * body_bytes
    b = bytes_per_member(ps, sq, members)
    parts = {
        "squash BSK: mask x key-share products (exact NTT)": sq_rows * sq_row_s,
        "server BSK: mask x key-share products (exact NTT)": bsk_rows * bsk_row_s,
        "masks regenerated from the seeds": mask_regen / CHACHA_BYTES_PER_S,
        "pairwise masks of the openings": pair_masks / CHACHA_BYTES_PER_S,
        "shared bits": sum(shared_bits(ps, sq).values()) * BIT_CPU_S,
        "hashing the files": 2 * body_bytes / SHA256_BYTES_PER_S,
        "libp2p send + receive": 2 * b["total"] * P2P_CPU_S_PER_BYTE,
    }
    parts["total"] = sum(parts.values())
    return parts


# ---------------------------------------------------------------------------------------------

def tables():
    out = {}
    out["calibration"] = []
    for ps in (TFHE_RS_V0_11_2M64, TFHE_RS_V1_0_2M80, TFHE_RS_NIST_2_2):
        out["calibration"].append(dict(name=ps["name"], published=ps["published"],
                                       model_fft=pbs_failure(ps)["log2_pfail"],
                                       model_no_fft=pbs_failure(ps, fft=False)["log2_pfail"]))
    out["default"] = []
    for m in (1, 3, 5, 7):
        out["default"].append(dict(
            members=m,
            design=pbs_failure(DEFAULT, members=m),
            design_measured=pbs_failure(DEFAULT, members=m, measured=True),
            all_summed=pbs_failure(DEFAULT, members=m, ksk_factor=m),
            drift=drift_scaled(DEFAULT, m),
            centered=pbs_failure(DEFAULT, members=m, centered=True),
            centered_measured=pbs_failure(DEFAULT, members=m, centered=True, measured=True),
            centered_all_summed=pbs_failure(DEFAULT, members=m, ksk_factor=m, centered=True),
            squash_input_nu1=pbs_failure(dict(DEFAULT, nu=1), members=m),
            squash_input_nu1_centered=pbs_failure(dict(DEFAULT, nu=1), members=m, centered=True),
        ))
    out["test"] = [dict(members=m, design=pbs_failure(TEST, members=m),
                        centered=pbs_failure(TEST, members=m, centered=True)) for m in (1, 3, 5)]
    out["alternative_2m80"] = [dict(members=m, model_fft=pbs_failure(TFHE_RS_V1_0_2M80, members=m)["log2_pfail"],
                                    model_no_fft=pbs_failure(TFHE_RS_V1_0_2M80, members=m, fft=False)["log2_pfail"])
                               for m in (1, 3, 5, 7)]
    out["squash"] = []
    for m in (1, 3, 5, 7):
        s = squash_noise(DEFAULT, SQUASH_DEFAULT, m)
        s.update(members=m, hiding_bits={t: flood_log2(t) - s["log2_bound"] for t in (2, 3, 4)})
        out["squash"].append(s)
    out["bytes"] = {}
    for label, ps, sq in (("default", DEFAULT, SQUASH_DEFAULT), ("test", TEST, SQUASH_TEST)):
        out["bytes"][label] = dict(
            objects={k: v[0] * v[1] for k, v in object_words(ps, sq).items()},
            bits=shared_bits(ps, sq), products=products(ps, sq), files=file_sizes(ps, sq),
            per_member={m: bytes_per_member(ps, sq, m) for m in (3, 5, 7)},
            per_member_with_drift={m: bytes_per_member(ps, sq, m, drift_zeros=1449) for m in (3, 5, 7)},
            cpu={m: cpu_estimate(ps, sq, m) for m in (3, 5)})
    return out


def show(out):
    print("== Model check against TFHE-rs's published p_fail")
    for c in out["calibration"]:
        print("  %-60s published %8.3f  model %8.2f (FFT term)  %8.2f (no FFT term)"
              % (c["name"], c["published"], c["model_fft"], c["model_no_fft"]))
    print()
    print("== Default parameters, one KS-PBS, input 2-norm 5: log2 p_fail")
    print("  members | design (exact LWE noise, summed BSK noise) | same, measured PBS noise | naive: every noise summed | with MS noise reduction (scaled) | squash, input 2-norm 1")
    for r in out["default"]:
        print("  %7d | %8.2f  (std 2^%.2f: PBS out 2^%.2f, KS 2^%.2f, MS 2^%.2f) | %8.2f | %8.2f | %8.1f (rho %.3f) | %8.2f" % (
            r["members"], r["design"]["log2_pfail"], r["design"]["log2_std_total"],
            r["design"]["log2_std_pbs_output"], r["design"]["log2_std_ks"], r["design"]["log2_std_ms"],
            r["design_measured"]["log2_pfail"], r["all_summed"]["log2_pfail"],
            r["drift"]["log2_pfail"], r["drift"]["rho"], r["squash_input_nu1"]["log2_pfail"]))
    print()
    print("  with the centred modulus switch (no key material):")
    print("  members | design | same, measured PBS noise | naive: every noise summed | squash, input 2-norm 1")
    for r in out["default"]:
        print("  %7d | %8.2f  (MS std 2^%.2f) | %8.2f | %8.2f | %8.2f" % (
            r["members"], r["centered"]["log2_pfail"], r["centered"]["log2_std_ms"],
            r["centered_measured"]["log2_pfail"], r["centered_all_summed"]["log2_pfail"],
            r["squash_input_nu1_centered"]["log2_pfail"]))
    print("  test parameters (INSECURE):", ", ".join(
        "%d members %.1f (centred %.1f)" % (r["members"], r["design"]["log2_pfail"], r["centered"]["log2_pfail"])
        for r in out["test"]))
    print("  alternative, TFHE-rs 2M80 set (n 879, KS 2^1 x 17) with the same DKG noise:", ", ".join(
        "%d members %.2f / %.2f" % (r["members"], r["model_fft"], r["model_no_fft"]) for r in out["alternative_2m80"]),
        "(model with / without the FFT term)")
    print()
    print("== Noise squashing (default): squashed-noise std and the flood's statistical hiding")
    for s in out["squash"]:
        print("  members %d: key var 2^%.2f, rounding var 2^%.2f, std 2^%.2f, |e| < 2^%.2f at 2^-128;"
              " hiding %s bits" % (
                  s["members"], s["log2_var_key"], s["log2_var_rounding"], s["log2_std"], s["log2_bound"],
                  ", ".join("t = %d (flood 2^%d): %.1f" % (t, flood_log2(t), h) for t, h in s["hiding_bits"].items())))
    print()
    for label in ("default", "test"):
        b = out["bytes"][label]
        print("== Sizes, %s parameters" % label)
        for k, v in b["objects"].items():
            print("  opened %-52s %14s bytes" % (k, format(v, ",")))
        print("  shared bits: " + ", ".join("%s %s" % (k, format(v, ",")) for k, v in b["bits"].items()))
        print("  total shared bits %s (x 16 bytes opened)" % format(sum(b["bits"].values()), ","))
        print("  products: " + ", ".join("%s %s" % (k, format(v, ",")) for k, v in b["products"].items()))
        print("  files: " + ", ".join("%s %s" % (k, format(v, ",")) for k, v in b["files"].items()))
        for m, r in b["per_member"].items():
            rd = b["per_member_with_drift"][m]
            print("  %d members: sent per member %s bytes (bodies %s, bits %s, control %s); all-to-all would be %s;"
                  " with MS zeros %s" % (m, format(round(r["total"]), ","), format(round(r["bodies"]), ","),
                                          format(round(r["bits"]), ","), format(round(r["control"]), ","),
                                          format(round(r["all_to_all_total"]), ","), format(round(rd["total"]), ",")))
        for m, c in b["cpu"].items():
            print("  %d members, CPU per member (estimate): " % m + ", ".join(
                "%s %.1f s" % (k, v) for k, v in c.items()))
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    out = tables()
    if args.json:
        print(json.dumps(out, indent=1, sort_keys=True, default=str))
    else:
        show(out)


if __name__ == "__main__":
    main()
