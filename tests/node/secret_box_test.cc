#include "secret_box.h"

#include <gtest/gtest.h>

#include "veil/p2p/identity.h"

namespace veil::node {
namespace {

// A node's identity as the daemon holds it: the PeerId text and the 64-byte secret.
struct TestIdentity {
  std::string peer;
  sched::Ed25519SecretKey secret{};
};

TestIdentity make_identity() {
  const auto pair = p2p::KeyPair::generate();
  TestIdentity id;
  id.peer = p2p::PeerId::from_public_key(pair.public_key()).to_string();
  const Bytes encoded = pair.encode_private();  // 08 01 12 40 || seed || public
  std::copy(encoded.begin() + 4, encoded.end(), id.secret.begin());
  return id;
}

TEST(SecretBox, OnlyTheNodeASecretIsSealedToOpensIt) {
  const TestIdentity executor = make_identity(), other = make_identity();
  auto box = seal_to_peer(executor.peer, "hunter2");
  ASSERT_TRUE(box.ok()) << box.status().to_string();
  EXPECT_EQ(std::string(box->begin(), box->end()).find("hunter2"), std::string::npos);
  auto opened = SecretOpener(executor.secret).open(*box);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  EXPECT_EQ(*opened, "hunter2");
  EXPECT_EQ(SecretOpener(other.secret).open(*box).status().code(), StatusCode::kInvalidArgument);
  Bytes altered = *box;
  altered.back() ^= 1;
  EXPECT_FALSE(SecretOpener(executor.secret).open(altered).ok());
  EXPECT_FALSE(SecretOpener(executor.secret).open(ByteView(box->data(), 10)).ok());
  EXPECT_EQ(SecretOpener().open(*box).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(seal_to_peer("not-a-peer-id", "x").ok());
}

TEST(SecretBox, OpenAllNamesTheSecretThatFailsAndStoredFormRoundTrips) {
  const TestIdentity me = make_identity(), other = make_identity();
  std::map<std::string, Bytes> sealed = {{"A", *seal_to_peer(me.peer, "one")}, {"B", *seal_to_peer(other.peer, "two")}};
  auto all = SecretOpener(me.secret).open_all(sealed);
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("secret B"), std::string::npos) << all.status().message();
  sealed.erase("B");
  auto back = sealed_secrets_from_json(sealed_secrets_json(sealed));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, sealed);
  EXPECT_EQ(SecretOpener(me.secret).open_all(*back)->at("A"), "one");
  EXPECT_FALSE(sealed_secrets_from_json(nlohmann::json{{"A", 5}}).ok());
  EXPECT_FALSE(sealed_secrets_from_json(nlohmann::json{{"A", "zz"}}).ok());
}

}  // namespace
}  // namespace veil::node
