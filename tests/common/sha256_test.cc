#include "veil/common/sha256.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex(std::string_view("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex(std::string_view("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, BytesTextAndIncrementalAgree) {
  const Bytes bytes{'a', 'b', 'c'};
  EXPECT_EQ(sha256(bytes), sha256(std::string_view("abc")));
  Sha256 h;
  h.update(std::string_view("a")).update(ByteView(bytes).subspan(1));
  EXPECT_EQ(h.finish(), sha256(bytes));
}

}  // namespace
}  // namespace veil
