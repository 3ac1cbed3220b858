// The in-memory DKG harness of the fhe tests: m members created from fresh keys, and the
// messages between them delivered in the order sent (each pair's order kept), with a hook that
// may rewrite, drop or re-queue any message; then the checks of a complete run (identical files,
// the ceremony's hashes.json, keys that decrypt FheUint16 add/ge through partial_decrypt +
// combine, t - 1 partials that do not). Used by fhe_dkg_test (test parameters) and
// fhe_dkg_default_test (default parameters).
#pragma once

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>

#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "threshold/dkg_member_internal.h"
#include "veil/common/sha256.h"
#include "veil/fhe/dkg.h"
#include "veil/fhe/fhe.h"
#include "veil/fhe/threshold.h"

namespace veil::fhe::dkg::dkgtest {

inline std::mt19937_64& run_rng() {
  static std::mt19937_64 r(std::random_device{}());
  return r;
}

struct Delivery {
  std::uint8_t from, to;
  Bytes bytes;
};

// m members and the messages between them. Messages are delivered in the order sent (which keeps
// each pair's order); `tamper` may rewrite, drop (return false) or hold back a message.
struct DkgRun {
  const Parameters* params;
  std::vector<std::shared_ptr<const threshold::MemberSecretKey>> keys;
  std::vector<Member> members;  // by id - 1
  std::deque<Delivery> queue;
  std::function<bool(Delivery&)> tamper;
  std::vector<bool> written;
  std::optional<std::pair<std::uint8_t, Status>> failure;  // the first receiver that failed
  std::vector<std::uint64_t> sent_bytes;

  DkgRun(const Parameters& p, unsigned t, unsigned m, std::vector<unsigned> thresholds = {}) : params(&p) {
    std::vector<threshold::MemberPublicKey> pubs;
    for (unsigned i = 0; i < m; ++i) {
      keys.push_back(std::make_shared<threshold::MemberSecretKey>(threshold::MemberSecretKey::generate()));
      pubs.push_back(keys.back()->public_key());
    }
    std::vector<std::optional<Member>> by_id(m);
    for (unsigned i = 0; i < m; ++i) {
      Config c;
      c.params = &p;
      c.threshold = thresholds.empty() ? t : thresholds[i];
      std::vector<threshold::MemberPublicKey> order = pubs;
      std::shuffle(order.begin(), order.end(), run_rng());  // ids do not depend on the listed order
      c.members = order;
      c.self = keys[i];
      auto member = Member::create(c);
      EXPECT_TRUE(member.ok()) << member.status().to_string();
      const auto id = member->id();
      by_id[id - 1].emplace(std::move(*member));
    }
    for (auto& mb : by_id) members.push_back(std::move(*mb));
    written.assign(m, false);
    sent_bytes.assign(m + 1, 0);
  }
  Member& member(std::uint8_t id) { return members[id - 1]; }

  void post(std::uint8_t from, std::vector<Outgoing> out) {
    for (auto& o : out) {
      EXPECT_LE(o.bytes.size(), kMaxMessageBytes);
      sent_bytes[from] += o.bytes.size();
      queue.push_back(Delivery{from, o.to, std::move(o.bytes)});
    }
  }
  void start() {
    for (auto& m : members) {
      auto out = m.start();
      ASSERT_TRUE(out.ok()) << out.status().to_string();
      post(m.id(), std::move(*out));
    }
  }
  // Delivers until the queue is empty or a member fails; returns false on a failure.
  bool pump() {
    while (!queue.empty()) {
      Delivery d = std::move(queue.front());
      queue.pop_front();
      if (tamper && !tamper(d)) continue;
      auto out = member(d.to).receive(d.from, d.bytes);
      if (!out.ok()) {
        if (!failure) failure.emplace(d.to, out.status());
        return false;
      }
      post(d.to, std::move(*out));
      for (auto& m : members) {
        if (m.output_ready() && !written[m.id() - 1]) {
          written[m.id() - 1] = true;
          auto ready = m.confirm_written();
          EXPECT_TRUE(ready.ok()) << ready.status().to_string();
          if (ready.ok()) post(m.id(), std::move(*ready));
        }
      }
    }
    return true;
  }
};

inline const threshold::MemberSecretKey& key_of(const DkgRun& run, std::uint8_t id) {
  for (const auto& k : run.keys) {
    if (k->public_key() == run.members[id - 1].member(id)) return *k;
  }
  std::abort();
}

// Opens member `id`'s sealed share the way `veil keys partial-decrypt` does.
inline threshold::KeyShare open_share(const DkgRun& run, std::uint8_t id, const threshold::SquashingKey& squashing) {
  const auto& key = key_of(run, id);
  const Bytes& sealed = run.members[id - 1].output().sealed_share;
  Bytes plain(sealed.size() - crypto_box_SEALBYTES);
  EXPECT_EQ(crypto_box_seal_open(plain.data(), sealed.data(), sealed.size(), key.public_key().box.data(),
                                 key.box_secret().data()),
            0);
  auto share = threshold::KeyShare::deserialize(plain);
  EXPECT_TRUE(share.ok()) << share.status().to_string();
  EXPECT_EQ(share->member, id);
  share->squashing_key = squashing;
  return std::move(*share);
}

inline std::uint64_t decrypt_through(const DkgRun& run, const threshold::Committee& committee,
                              const std::vector<threshold::KeyShare>& shares, const threshold::EncryptedValue& value,
                              const std::vector<unsigned>& ids, Status* error = nullptr) {
  const auto request = threshold::DecryptionRequest::for_value(value, "dkg test", "dkg_test");
  auto squashed = threshold::squash(shares[0].squashing_key, value);
  EXPECT_TRUE(squashed.ok());
  std::vector<threshold::DecryptionShare> partials;
  for (unsigned id : ids) {
    auto p = threshold::partial_decrypt(shares[id - 1], key_of(run, static_cast<std::uint8_t>(id)), request, *squashed);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    partials.push_back(std::move(*p));
  }
  auto r = threshold::combine(committee, request, partials);
  if (!r.ok()) {
    if (error) *error = r.status();
    return ~std::uint64_t{0};
  }
  return r->value;
}

inline void complete_run(const Parameters& params, unsigned t, unsigned m, int trials) {
  DkgRun run(params, t, m);
  const auto began = std::chrono::steady_clock::now();
  run.start();
  ASSERT_TRUE(run.pump()) << run.failure->second.to_string();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("[ dkg %u-of-%u %s ] %.1f s wall for all members in one process, CPU %.1f s, peak RSS %.0f MB\n", t, m,
              std::string(params.name).c_str(), wall,
              static_cast<double>(usage.ru_utime.tv_sec) + usage.ru_utime.tv_usec / 1e6,
              static_cast<double>(usage.ru_maxrss) / 1024);
  for (const auto& r : run.members[0].stats()) {
    std::printf("[ dkg %u-of-%u ]   member 1 %-18s sent %11llu received %11llu bytes, %.2f s\n", t, m, r.name.c_str(),
                static_cast<unsigned long long>(r.bytes_sent), static_cast<unsigned long long>(r.bytes_received),
                r.seconds);
  }
  for (auto& mb : run.members) {
    ASSERT_TRUE(mb.finished()) << "member " << int(mb.id()) << " in round " << mb.round();
    EXPECT_TRUE(MemberTestAccess::secrets_wiped(mb)) << "member " << int(mb.id());
    EXPECT_TRUE(mb.waiting_on().empty());
  }
  // Identical public files everywhere; every member's own sealed share.
  const Output& first = run.members[0].output();
  for (auto& mb : run.members) {
    const Output& o = mb.output();
    EXPECT_EQ(o.public_key, first.public_key);
    EXPECT_EQ(o.server_key, first.server_key);
    EXPECT_EQ(o.squash_key, first.squash_key);
    EXPECT_EQ(o.committee_bytes, first.committee_bytes);
    EXPECT_EQ(o.hashes_json, first.hashes_json);
    EXPECT_EQ(o.session, first.session);
    EXPECT_EQ(sha256_hex(o.sealed_share),
              nlohmann::json::parse(first.hashes_json)["share-" + std::to_string(mb.id()) + ".sealed"]);
  }
  // The ceremony's fields, in its order.
  const auto hashes = nlohmann::json::parse(first.hashes_json);
  std::vector<std::string> keys;
  for (auto it = hashes.begin(); it != hashes.end(); ++it) keys.push_back(it.key());
  std::vector<std::string> expected = {"committee.bin", "members", "parameters", "public.key", "server.compressed.key"};
  for (unsigned j = 1; j <= m; ++j) expected.push_back("share-" + std::to_string(j) + ".sealed");
  expected.push_back("squash.key");
  expected.push_back("threshold");
  std::sort(expected.begin() + 5, expected.end() - 2);
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(hashes["committee.bin"], sha256_hex(first.committee_bytes));
  EXPECT_EQ(hashes["public.key"], sha256_hex(first.public_key));
  EXPECT_EQ(hashes["threshold"], t);
  EXPECT_EQ(hashes["members"], m);

  auto committee = threshold::Committee::deserialize(first.committee_bytes);
  ASSERT_TRUE(committee.ok()) << committee.status().to_string();
  EXPECT_EQ(committee->threshold, t);
  auto pk = CompactPublicKey::deserialize(first.public_key);
  ASSERT_TRUE(pk.ok()) << pk.status().to_string();
  auto csk = CompressedServerKey::deserialize(first.server_key);
  ASSERT_TRUE(csk.ok()) << csk.status().to_string();
  const ServerKey sk = csk->decompress();
  auto squashing = threshold::SquashingKey::deserialize(first.squash_key);
  ASSERT_TRUE(squashing.ok()) << squashing.status().to_string();
  EXPECT_EQ(squashing->hash(), committee->squashing_key_hash);
  std::vector<threshold::KeyShare> shares;
  for (unsigned id = 1; id <= m; ++id) shares.push_back(open_share(run, static_cast<std::uint8_t>(id), *squashing));

  std::vector<unsigned> ids(m);
  for (unsigned i = 0; i < m; ++i) ids[i] = i + 1;
  for (int trial = 0; trial < trials; ++trial) {
    const std::uint64_t a = run_rng()() & 0xffff, b = run_rng()() & 0xffff;
    const auto x = FheUint16::encrypt(a, *pk), y = FheUint16::encrypt(b, *pk);
    const auto sum = threshold::EncryptedValue::of(x.add(y, sk));
    const auto ge = threshold::EncryptedValue::of(x.ge(y, sk));
    std::shuffle(ids.begin(), ids.end(), run_rng());
    const std::vector<unsigned> some(ids.begin(), ids.begin() + t);
    EXPECT_EQ(decrypt_through(run, *committee, shares, sum, some), (a + b) & 0xffff) << a << " + " << b;
    EXPECT_EQ(decrypt_through(run, *committee, shares, ge, some), a >= b ? 1u : 0u) << a << " >= " << b;
    const std::vector<unsigned> fewer(ids.begin(), ids.begin() + t - 1);
    Status error;
    EXPECT_EQ(decrypt_through(run, *committee, shares, sum, fewer, &error), ~std::uint64_t{0});
    EXPECT_EQ(error.code(), StatusCode::kFailedPrecondition) << "t - 1 partials must not decrypt";
  }
  for (auto& s : shares) s.wipe();

  for (auto& mb : run.members) {
    std::uint64_t sent = 0;
    for (const auto& r : mb.stats()) sent += r.bytes_sent;
    EXPECT_EQ(sent, run.sent_bytes[mb.id()]) << "stats() counts every byte sent";
    std::printf("[ dkg %u-of-%u ] member %d sent %llu bytes\n", t, m, mb.id(), static_cast<unsigned long long>(sent));
  }
}

}  // namespace veil::fhe::dkg::dkgtest
