// The cluster keys of the role tests (decision_roles_test.cc, coordinator_role_test.cc), on the
// INSECURE test parameters: a client key (the tests' own, to encrypt telemetry; no node has it),
// the public and server keys, and a 2-of-3 committee dealt from them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "veil/fhe/fhe.h"
#include "veil/fhe/threshold.h"

namespace veil::node {

struct TestClusterKeys {
  fhe::ClientKey client;
  fhe::CompactPublicKey public_key;
  fhe::ServerKey server_key;
  std::vector<fhe::threshold::MemberSecretKey> members;  // member i+1's key
  std::unique_ptr<fhe::threshold::Ceremony> ceremony;

  // Generates them (about a second); a failed ceremony fails the calling test.
  static std::unique_ptr<TestClusterKeys> generate() {
    auto client = fhe::ClientKey::generate(fhe::kParamInsecureTestOnly);
    auto public_key = fhe::CompactPublicKey::generate(client);
    auto server_key = fhe::ServerKey::generate(client);
    auto keys = std::unique_ptr<TestClusterKeys>(
        new TestClusterKeys{std::move(client), std::move(public_key), std::move(server_key), {}, nullptr});
    std::vector<fhe::threshold::MemberPublicKey> pubs;
    for (int i = 0; i < 3; ++i) {
      keys->members.push_back(fhe::threshold::MemberSecretKey::generate());
      pubs.push_back(keys->members.back().public_key());
    }
    auto ceremony = fhe::threshold::deal(keys->client, 2, pubs, keys->public_key.serialize(), {});
    EXPECT_TRUE(ceremony.ok()) << ceremony.status().to_string();
    if (ceremony.ok()) keys->ceremony = std::make_unique<fhe::threshold::Ceremony>(std::move(*ceremony));
    return keys;
  }
};

}  // namespace veil::node
