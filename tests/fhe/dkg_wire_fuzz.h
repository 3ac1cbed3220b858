// Fuzz entry point over the DKG's message codec and a member's checks of incoming messages.
//
// Whatever decodes must re-encode to the same bytes (the encoding is canonical; a difference
// aborts). The same bytes then go to a fresh member of a 2-of-3 run on the test parameters as
// if from member 2, before and after start(): receive() may refuse them, never crash, and a
// refusal must name a member of the run.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "threshold/dkg_wire.h"
#include "veil/fhe/dkg.h"

namespace veil::fhe::dkg::fuzz {

inline void require(bool ok) {
  if (!ok) std::abort();
}

inline const Config& fuzz_config() {
  static const Config config = [] {
    Config c;
    c.params = &kParamInsecureTestOnly;
    c.threshold = 2;
    std::vector<std::shared_ptr<const threshold::MemberSecretKey>> keys;
    for (int i = 0; i < 3; ++i) {
      keys.push_back(std::make_shared<threshold::MemberSecretKey>(threshold::MemberSecretKey::generate()));
      c.members.push_back(keys.back()->public_key());
    }
    c.self = keys[0];
    return c;
  }();
  return config;
}

inline int fuzz_one(const std::uint8_t* data, std::size_t size) {
  const ByteView in(data, size);
  if (auto m = wire::decode(in, kMaxMessageBytes); m.ok()) require(wire::encode(*m) == Bytes(in.begin(), in.end()));
  for (bool started : {false, true}) {
    auto member = Member::create(fuzz_config());
    require(member.ok());
    if (started) require(member->start().ok());
    const std::uint8_t other = member->id() == 2 ? 3 : 2;
    auto out = member->receive(other, in);
    if (!out.ok()) require(member->blamed() >= 1 && member->blamed() <= 3);
  }
  return 0;
}

}  // namespace veil::fhe::dkg::fuzz
