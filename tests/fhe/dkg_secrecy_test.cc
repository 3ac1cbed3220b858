// Issue 16, "no one ever holds a whole secret key" (docs/dkg.md): every byte a DKG run puts on
// the wire and every file its members write, searched for the run's whole secret keys.
//
// The test runs a committee on the test parameters in memory (dkg_run.h), recording each message
// as it is delivered and each member's output files. It learns the run's real keys the way no
// member can: a test-only seam (MemberTestAccess::observe_bit_shares) hands it every member's
// shares of the key bits s (LWE), z (GLWE) and w (noise squashing) just before the body rounds
// use them, and it interpolates each bit from t members (dkg_reconstruct.h). Before searching,
// it proves those are the run's keys by decrypting what the run's public files encrypt under
// each of them, and that the search finds a key planted in a real message, so a search that
// finds nothing means something.
//
// Searched: each message as sent; each member-to-member chunk stream reassembled (a key cut
// across chunks); each member's files, and its sealed share once opened. Searched for: each key
// b, its complement 1 - b and its negation -b, one coefficient per 1, 2, 4, 8 or 16 bytes
// (little- and big-endian), as a Galois-ring constant (four u128, KeyShare's layout), as ASCII
// '0'/'1', as a double, and bit-packed LSB- or MSB-first at each of the 8 bit offsets. A finding
// is the key's first 128 coefficients (all of s) in one encoding anywhere in one buffer, whether
// or not the rest follows.
#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "dkg_reconstruct.h"
#include "dkg_run.h"
#include "threshold/dkg_keys.h"
#include "threshold/dkg_member_internal.h"
#include "threshold/dkg_wire.h"
#include "veil/common/sha256.h"
#include "veil/fhe/dkg.h"
#include "veil/fhe/fhe.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::dkg {
namespace {

using namespace dkgtest;
using core::Torus;

const Parameters& kParams = kParamInsecureTestOnly;

// ---------------- the run's secret keys ----------------

struct SecretKey {
  std::string name;
  KeyBits bits;
};

std::vector<SecretKey> all_keys(const RunKeys& keys) {
  return {{"s (LWE)", keys.s}, {"z (GLWE)", keys.z}, {"w (squashing)", keys.w}};
}

// What a complete run left behind, and the keys interpolated from the members' shares.
struct Recording {
  struct Buffer {
    std::string name;
    Bytes bytes;
  };
  std::vector<Buffer> buffers;
  Output output;  // member 1's (every member's public files are the same)
  RunKeys keys;
};

// ---------------- recording a run ----------------

// Chunks of one (sender, receiver, round, object) stream, in order: their words concatenated.
using StreamId = std::tuple<std::uint8_t, std::uint8_t, unsigned, std::uint32_t>;

Recording record_run(unsigned t, unsigned m) {
  Recording rec;
  DkgRun run(kParams, t, m);
  const KeyBitRecorder recorder(run);
  std::map<StreamId, Bytes> streams;
  std::size_t count = 0;
  run.tamper = [&](Delivery& d) {
    auto msg = wire::decode(d.bytes, kMaxMessageBytes);
    EXPECT_TRUE(msg.ok()) << msg.status().to_string();
    const std::string round = msg.ok() ? wire::round_name(msg->round) : "undecodable";
    rec.buffers.push_back({"message " + std::to_string(count++) + " (" + round + ") from member " +
                               std::to_string(d.from) + " to member " + std::to_string(d.to),
                           d.bytes});
    if (msg.ok()) {
      if (const auto* c = std::get_if<wire::Chunk>(&msg->body)) {
        Bytes& stream = streams[{d.from, d.to, static_cast<unsigned>(msg->round), c->object}];
        stream.insert(stream.end(), c->words.begin(), c->words.end());
      }
    }
    return true;
  };
  run.start();
  EXPECT_TRUE(run.pump()) << run.failure->second.to_string();
  for (auto& mb : run.members) {
    EXPECT_TRUE(mb.finished()) << "member " << int(mb.id()) << " in round " << mb.round();
    EXPECT_TRUE(MemberTestAccess::secrets_wiped(mb))
        << "the observer must leave nothing in member " << int(mb.id());
    EXPECT_TRUE(recorder.observed(mb.id())) << "member " << int(mb.id()) << "'s shares were not observed";
  }
  if (::testing::Test::HasFailure()) return rec;

  for (const auto& [id, words] : streams) {
    const auto& [from, to, round, object] = id;
    rec.buffers.push_back({"chunk stream " + std::string(wire::round_name(static_cast<wire::Round>(round))) +
                               " object " + std::to_string(object) + " from member " + std::to_string(from) +
                               " to member " + std::to_string(to),
                           words});
  }
  for (auto& mb : run.members) {
    const Output& o = mb.output();
    const std::string who = "member " + std::to_string(mb.id()) + "'s ";
    rec.buffers.push_back({who + "public.key", o.public_key});
    rec.buffers.push_back({who + "server.compressed.key", o.server_key});
    rec.buffers.push_back({who + "squash.key", o.squash_key});
    rec.buffers.push_back({who + "committee.bin", o.committee_bytes});
    rec.buffers.push_back({who + "share-" + std::to_string(mb.id()) + ".sealed", o.sealed_share});
    rec.buffers.push_back({who + "hashes.json", Bytes(o.hashes_json.begin(), o.hashes_json.end())});
    // What the member reads when it opens its own share (veil keys partial-decrypt).
    const Bytes& sealed = o.sealed_share;
    Bytes opened(sealed.size() - crypto_box_SEALBYTES);
    const auto& key = key_of(run, mb.id());
    EXPECT_EQ(crypto_box_seal_open(opened.data(), sealed.data(), sealed.size(), key.public_key().box.data(),
                                   key.box_secret().data()),
              0);
    rec.buffers.push_back({who + "share-" + std::to_string(mb.id()) + ".sealed, opened", std::move(opened)});
  }
  rec.output = run.members[0].output();
  rec.keys = recorder.keys(t);
  return rec;
}

// ---------------- encodings ----------------

// How a key might sit in a buffer. write(bits, count) is the bytes of coefficients [0, count)
// that depend on nothing else (bit-packed forms at an offset drop their partial bytes), so the
// bytes for a prefix of the key are a prefix of the bytes for the whole key.
struct Encoding {
  std::string name;
  std::function<Bytes(const KeyBits&, std::size_t)> write;
};

enum class Form { kBit, kComplement, kNegation };
const char* form_name(Form f) { return f == Form::kBit ? "b" : f == Form::kComplement ? "1-b" : "-b"; }
u128 value_of(Torus bit, Form f) {
  return f == Form::kBit ? u128{bit} : f == Form::kComplement ? u128{1 - bit} : u128{0} - bit;
}

Encoding fixed_width(unsigned width, bool big_endian, Form form) {
  return {
      std::to_string(8 * width) + "-bit " + (big_endian ? "big" : "little") + "-endian " + form_name(form),
      [=](const KeyBits& bits, std::size_t count) {
        Bytes out(count * width);
        for (std::size_t i = 0; i < count; ++i) {
          const u128 v = value_of(bits[i], form);
          for (unsigned b = 0; b < width; ++b) {
            out[i * width + (big_endian ? width - 1 - b : b)] = static_cast<std::uint8_t>(v >> (8 * b));
          }
        }
        return out;
      }};
}

// A constant of GR(2^128, 4) as galois_ring.h and KeyShare::values lay it out: four u128
// coefficients, little-endian, the constant first.
Encoding ring_constant(Form form) {
  return {std::string("Galois-ring constant ") + form_name(form),
          [=](const KeyBits& bits, std::size_t count) {
            Bytes out(count * 64, 0);
            for (std::size_t i = 0; i < count; ++i) {
              const u128 v = value_of(bits[i], form);
              std::memcpy(out.data() + 64 * i, &v, sizeof v);
            }
            return out;
          }};
}

Encoding ascii_digits(Form form) {
  return {std::string("ASCII digits ") + form_name(form), [=](const KeyBits& bits, std::size_t count) {
            Bytes out(count);
            for (std::size_t i = 0; i < count; ++i) {
              out[i] = static_cast<std::uint8_t>('0' + (value_of(bits[i], form) & 1));
            }
            return out;
          }};
}

Encoding doubles(Form form) {
  return {std::string("double ") + form_name(form), [=](const KeyBits& bits, std::size_t count) {
            Bytes out(count * 8);
            for (std::size_t i = 0; i < count; ++i) {
              const double v = form == Form::kBit          ? double(bits[i])
                               : form == Form::kComplement ? 1.0 - double(bits[i])
                                                           : 0.0 - double(bits[i]);  // +0.0, -1.0
              std::memcpy(out.data() + 8 * i, &v, 8);
            }
            return out;
          }};
}

// Bit i of the key at bit `shift + i` of a stream, each byte filled from its least or most
// significant bit first; only the bytes made of key bits alone.
Encoding packed(unsigned shift, bool msb_first, Form form) {
  return {std::string("bit-packed ") + (msb_first ? "MSB" : "LSB") + "-first at bit offset " +
              std::to_string(shift) + " " + form_name(form),
          [=](const KeyBits& bits, std::size_t count) {
            const std::size_t first_byte = shift == 0 ? 0 : 1, end_byte = (shift + count) / 8;
            Bytes out(end_byte > first_byte ? end_byte - first_byte : 0, 0);
            for (std::size_t i = 0; i < count; ++i) {
              const std::size_t at = shift + i, byte = at / 8;
              if (byte < first_byte || byte >= end_byte) continue;
              const unsigned pos = msb_first ? 7 - at % 8 : at % 8;
              out[byte - first_byte] |= static_cast<std::uint8_t>((value_of(bits[i], form) & 1) << pos);
            }
            return out;
          }};
}

std::vector<Encoding> all_encodings() {
  std::vector<Encoding> out;
  for (Form f : {Form::kBit, Form::kComplement, Form::kNegation}) {
    for (unsigned width : {1u, 2u, 4u, 8u, 16u}) {
      out.push_back(fixed_width(width, false, f));
      if (width > 1) out.push_back(fixed_width(width, true, f));
    }
    out.push_back(ring_constant(f));
    out.push_back(doubles(f));
  }
  // Modulo 2 the negation is the bit itself.
  for (Form f : {Form::kBit, Form::kComplement}) {
    out.push_back(ascii_digits(f));
    for (bool msb : {false, true}) {
      for (unsigned shift = 0; shift < 8; ++shift) out.push_back(packed(shift, msb, f));
    }
  }
  return out;
}

// ---------------- the search ----------------

// One key in one encoding: the whole of it, and how many of its first bytes are the first
// kPrefixCoefficients coefficients (the needle searched for; a hit is then compared whole).
constexpr std::size_t kPrefixCoefficients = 128;

struct Pattern {
  std::string key, encoding;
  Bytes whole;
  std::size_t needle = 0;
};

std::vector<Pattern> patterns_for(const std::vector<SecretKey>& keys) {
  std::vector<Pattern> out;
  for (const auto& key : keys) {
    for (const auto& e : all_encodings()) {
      Pattern p{key.name, e.name, e.write(key.bits, key.bits.size()), 0};
      const Bytes prefix = e.write(key.bits, std::min(kPrefixCoefficients, key.bits.size()));
      EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), p.whole.begin()))
          << e.name << ": prefix is not a prefix";
      p.needle = prefix.size();
      out.push_back(std::move(p));
    }
  }
  return out;
}

struct Finding {
  std::string buffer, key, encoding;
  std::size_t offset = 0;
  bool whole = false;  // the whole key follows the first 128 coefficients
};

std::string describe(const Finding& f) {
  return f.buffer + " holds " + (f.whole ? "the whole of " : "the first 128 coefficients of ") + f.key +
         " as " + f.encoding + " at byte " + std::to_string(f.offset);
}

// The first occurrence of every pattern in every buffer.
std::vector<Finding> search(const std::vector<Recording::Buffer>& buffers,
                            const std::vector<Pattern>& patterns) {
  std::vector<Finding> out;
  for (const auto& b : buffers) {
    for (const auto& p : patterns) {
      const void* hit = memmem(b.bytes.data(), b.bytes.size(), p.whole.data(), p.needle);
      if (hit == nullptr) continue;
      const std::size_t offset =
          static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - b.bytes.data());
      const bool whole = b.bytes.size() - offset >= p.whole.size() &&
                         std::memcmp(b.bytes.data() + offset, p.whole.data(), p.whole.size()) == 0;
      out.push_back(Finding{b.name, p.key, p.encoding, offset, whole});
    }
  }
  return out;
}

// What a positive control must find: `key` (in `encoding`, or in any when empty), whole or not.
struct Expected {
  std::string key, encoding;
  bool whole = true;
};

bool found(const std::vector<Finding>& findings, const Expected& e) {
  return std::any_of(findings.begin(), findings.end(), [&](const Finding& f) {
    return f.whole == e.whole && f.key == e.key && (e.encoding.empty() || f.encoding == e.encoding);
  });
}

// Distinct contents only: the public files are the same bytes at every member.
std::vector<Recording::Buffer> distinct(const std::vector<Recording::Buffer>& buffers) {
  std::set<Sha256Digest> seen;
  std::vector<Recording::Buffer> out;
  for (const auto& b : buffers) {
    if (seen.insert(sha256(ByteView(b.bytes))).second) out.push_back(b);
  }
  return out;
}

// ---------------- positive controls ----------------

// The smallest message the run sent with at least 64 bytes: a real carrier for planted keys.
Recording::Buffer carrier_of(const Recording& rec) {
  const Recording::Buffer* best = nullptr;
  for (const auto& b : rec.buffers) {
    const bool message = b.name.rfind("message ", 0) == 0;
    if (message && b.bytes.size() >= 64 && (!best || b.bytes.size() < best->bytes.size())) best = &b;
  }
  return *best;
}

Recording::Buffer planted(const Recording::Buffer& carrier, const Bytes& key_bytes, const std::string& how) {
  Recording::Buffer out{"a message with " + how + " planted", carrier.bytes};
  const std::size_t at = run_rng()() % (out.bytes.size() + 1);
  out.bytes.insert(out.bytes.begin() + static_cast<std::ptrdiff_t>(at), key_bytes.begin(), key_bytes.end());
  return out;
}

template <typename T>
Bytes memory_of(const std::vector<T>& v) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
  return Bytes(p, p + v.size() * sizeof(T));
}

std::vector<Elem> ring_constants(const KeyBits& bits) {
  std::vector<Elem> out;
  for (Torus b : bits) out.push_back(Elem::constant(b));
  return out;
}

// `bits` written one by one over the carrier's own bits from a random bit position, MSB first.
Recording::Buffer overwritten_bitwise(const Recording::Buffer& carrier, const KeyBits& bits) {
  Recording::Buffer out{"a message with s overwritten bit by bit at a random bit position", carrier.bytes};
  out.bytes.resize(std::max(out.bytes.size(), bits.size() / 8 + 2));
  const std::size_t start = run_rng()() % (8 * out.bytes.size() - bits.size() + 1);
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const std::size_t at = start + i;
    const auto mask = static_cast<std::uint8_t>(0x80u >> (at % 8));
    out.bytes[at / 8] =
        static_cast<std::uint8_t>(bits[i] ? out.bytes[at / 8] | mask : out.bytes[at / 8] & ~mask);
  }
  return out;
}

// ---------------- the test ----------------

class DkgSecrecy : public ::testing::TestWithParam<std::pair<unsigned, unsigned>> {};

TEST_P(DkgSecrecy, NoFileOrMessageHoldsAWholeSecretKey) {
  const auto [t, m] = GetParam();
  const auto began = std::chrono::steady_clock::now();
  const Recording rec = record_run(t, m);
  ASSERT_FALSE(HasFailure());
  const RunKeys& keys = rec.keys;

  // 1. The interpolated keys are the run's: each decrypts what the public files encrypt, and a
  //    random key of the same size does not (so these checks can fail).
  const RunPublicKeys public_keys = load_public_keys(rec.output);
  EXPECT_TRUE(z_decrypts(public_keys, keys.s, keys.z)) << "z does not decrypt the public key's FheUint16";
  EXPECT_TRUE(s_decrypts(public_keys, keys.s)) << "s does not decrypt key-switched blocks";
  EXPECT_TRUE(w_decrypts(public_keys, keys.w)) << "w does not decrypt squashed blocks";
  EXPECT_FALSE(z_decrypts(public_keys, keys.s, random_key(keys.z.size())));
  EXPECT_FALSE(s_decrypts(public_keys, random_key(keys.s.size())));
  EXPECT_FALSE(w_decrypts(public_keys, random_key(keys.w.size())));
  ASSERT_FALSE(HasFailure()) << "the keys to search for are not the run's";

  const std::vector<SecretKey> secrets = all_keys(keys);
  const std::vector<Pattern> patterns = patterns_for(secrets);

  // 2. The search finds a key planted in a real message: every key in every encoding, at a
  //    random offset; and, written by the engine's own types rather than by the encoders, w as
  //    the words of a core key (one u64 per bit), z as GR(2^128, 4) constants in memory, w as
  //    the values of a KeyShare whose "share" is the secret itself, s written bit by bit, and
  //    z's first 128 coefficients alone (a partial finding).
  const Recording::Buffer carrier = carrier_of(rec);
  std::vector<std::pair<Recording::Buffer, Expected>> controls;
  for (const auto& p : patterns) {
    controls.push_back({planted(carrier, p.whole, p.key + " as " + p.encoding), {p.key, p.encoding}});
  }
  controls.push_back({planted(carrier, memory_of(keys.w), "a core key's words"), {secrets[2].name}});
  controls.push_back(
      {planted(carrier, memory_of(ring_constants(keys.z)), "ring constants"), {secrets[1].name}});
  controls.push_back(
      {planted(carrier, memory_of(threshold::dkg_keys::key_share_values(ring_constants(keys.w))),
               "KeyShare values"),
       {secrets[2].name}});
  controls.push_back({overwritten_bitwise(carrier, keys.s), {secrets[0].name}});
  const KeyBits z_prefix(keys.z.begin(), keys.z.begin() + kPrefixCoefficients);
  controls.push_back({planted(carrier, memory_of(z_prefix), "z's first 128 coefficients"),
                      {secrets[1].name, "64-bit little-endian b", false}});
  for (const auto& [buffer, expected] : controls) {
    EXPECT_TRUE(found(search({buffer}, patterns), expected)) << "missed in " << buffer.name;
  }
  ASSERT_FALSE(HasFailure()) << "the search misses keys it should find";

  // 3. The run itself: no buffer holds any of them.
  const auto buffers = distinct(rec.buffers);
  std::size_t bytes = 0;
  for (const auto& b : buffers) bytes += b.bytes.size();
  const auto searched = std::chrono::steady_clock::now();
  const auto findings = search(buffers, patterns);
  for (const auto& f : findings) ADD_FAILURE() << describe(f);
  const auto done = std::chrono::steady_clock::now();
  std::printf(
      "[ dkg secrecy %u-of-%u ] %zu buffers (%zu distinct, %.1f MB), %zu patterns (3 keys x %zu encodings), "
      "%zu findings; search %.2f s, whole test %.2f s\n",
      t, m, rec.buffers.size(), buffers.size(), static_cast<double>(bytes) / 1e6, patterns.size(),
      patterns.size() / 3, findings.size(), std::chrono::duration<double>(done - searched).count(),
      std::chrono::duration<double>(done - began).count());
}

INSTANTIATE_TEST_SUITE_P(Committees, DkgSecrecy, ::testing::Values(std::pair{2u, 3u}, std::pair{3u, 5u}),
                         [](const auto& info) {
                           return std::to_string(info.param.first) + "of" + std::to_string(info.param.second);
                         });

}  // namespace
}  // namespace veil::fhe::dkg
