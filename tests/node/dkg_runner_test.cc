// The DKG's libp2p transport (veil/node/dkg_runner.h) against a committee member that misbehaves
// on the wire: garbage, an oversized frame, silence, a connection dropped mid-run. Two real
// members run run_dkg on threads; the third is a bare libp2p host holding the third member's key
// (so Noise authenticates it and the gater admits it) that does what each test says. Both real
// members must fail naming it, and leave no key set and no temporary directory. The runs that
// succeed (2-of-3, 3-of-5, one process per member) are in tests/fhe/dkg_cli_test.sh.
#include <gtest/gtest.h>
#include <sodium.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "veil/fhe/fhe.h"
#include "veil/node/dkg_runner.h"
#include "veil/p2p/host.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using fhe::threshold::MemberPublicKey;
using fhe::threshold::MemberSecretKey;

std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

p2p::Multiaddr loopback(std::uint16_t port) { return *p2p::Multiaddr::from_ip_port("127.0.0.1", port); }

// What the impostor does on its stream with each real member.
using Behaviour = std::function<p2p::Task<void>(p2p::StreamPtr)>;

class DkgRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    dir_ = fs::temp_directory_path() / ("veil-dkg-runner-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (int i = 0; i < 3; ++i) {
      keys_.push_back(std::make_shared<const MemberSecretKey>(MemberSecretKey::generate()));
      ports_.push_back(free_port());
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  DkgRunConfig config_for(int index) const {
    DkgRunConfig c;
    c.params = &fhe::kParamInsecureTestOnly;
    c.threshold = 2;
    c.self = keys_[index];
    c.listen = loopback(ports_[index]);
    for (int i = 0; i < 3; ++i) c.members.push_back({keys_[i]->public_key(), loopback(ports_[i])});
    c.out = dir_ / ("out" + std::to_string(index));
    c.start_timeout = std::chrono::seconds(20);
    return c;
  }

  // The impostor's id among the members: the rank of its key (ids follow the keys' bytes).
  int impostor_id() const {
    int id = 1;
    for (int i = 0; i < 2; ++i) id += keys_[i]->public_key().sign < keys_[2]->public_key().sign ? 1 : 0;
    return id;
  }

  // Runs members 0 and 1 for real and member 2 as the impostor; returns the two real outcomes.
  std::vector<Result<DkgRunReport>> run_against(Behaviour behaviour, std::chrono::milliseconds round_timeout) {
    std::vector<std::future<Result<DkgRunReport>>> real;
    for (int i = 0; i < 2; ++i) {
      auto c = config_for(i);
      c.round_timeout = round_timeout;
      real.push_back(std::async(std::launch::async, [c] { return run_dkg(c); }));
    }
    asio::io_context io;
    p2p::HostConfig hc;
    hc.identity = p2p::KeyPair::from_seed(ByteView(keys_[2]->sign_secret().data(), 32));
    p2p::Host host(io, std::move(hc));
    int streams = 0;
    auto serve = [&](p2p::StreamPtr stream) -> p2p::Task<void> {
      ++streams;
      co_await behaviour(stream);
      if (streams == 2) {
        // Keep the connections until both real members gave up.
        asio::steady_timer linger(io, std::chrono::seconds(1));
        co_await linger.async_wait(asio::use_awaitable);
      }
    };
    host.set_handler(std::string(kDkgProtocol), serve);
    EXPECT_TRUE(host.listen(loopback(ports_[2])).ok());
    for (int i = 0; i < 2; ++i) {
      // The member with the smaller id dials: the impostor dials those with larger keys.
      const MemberPublicKey pub = keys_[i]->public_key();
      if (pub.sign < keys_[2]->public_key().sign) continue;
      const auto addr = loopback(ports_[i]).with_peer_id(dkg_peer_id(pub));
      asio::co_spawn(io, [&, pub, addr]() -> p2p::Task<void> {
        for (int attempt = 0; attempt < 100; ++attempt) {
          if ((co_await host.connect(addr)).ok()) {
            std::vector<std::string> protocols{std::string(kDkgProtocol)};
            auto stream = co_await host.new_stream(dkg_peer_id(pub), std::move(protocols));
            if (stream.ok()) co_await serve(*stream);
            co_return;
          }
          asio::steady_timer pause(io, std::chrono::milliseconds(100));
          co_await pause.async_wait(asio::use_awaitable);
        }
      }, asio::detached);
    }
    std::vector<Result<DkgRunReport>> outcomes;
    std::thread impostor([&] { io.run_for(std::chrono::seconds(60)); });
    for (auto& f : real) outcomes.push_back(f.get());
    asio::post(io, [&] { host.close(); });
    impostor.join();
    return outcomes;
  }

  void expect_both_named(const std::vector<Result<DkgRunReport>>& outcomes, const std::string& what) {
    const std::string culprit = "member " + std::to_string(impostor_id()) + " (";
    for (int i = 0; i < 2; ++i) {
      ASSERT_FALSE(outcomes[i].ok()) << "member " << i << " finished a run with an impostor";
      const std::string message = outcomes[i].status().message();
      EXPECT_NE(message.find("dkg aborted"), std::string::npos) << message;
      EXPECT_NE(message.find(culprit), std::string::npos) << "the impostor is not named: " << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
      EXPECT_FALSE(fs::exists(config_for(i).out)) << "a failed run left " << config_for(i).out;
    }
    for (const auto& entry : fs::directory_iterator(dir_)) {
      ADD_FAILURE() << "left behind: " << entry.path();
    }
  }

  fs::path dir_;
  std::vector<std::shared_ptr<const MemberSecretKey>> keys_;
  std::vector<std::uint16_t> ports_;
};

TEST_F(DkgRunnerTest, GarbageFromAMemberAbortsEveryoneNamingIt) {
  auto outcomes = run_against(
      [](p2p::StreamPtr stream) -> p2p::Task<void> {
        Bytes garbage(300);
        randombytes_buf(garbage.data(), garbage.size());
        (void)co_await stream->write_message(garbage);
        Bytes rest(64);
        while ((co_await stream->read_some(rest)).value_or(0) > 0) {
        }
      },
      std::chrono::seconds(30));
  expect_both_named(outcomes, "malformed");
}

TEST_F(DkgRunnerTest, AnOversizedFrameAbortsBeforeItIsRead) {
  auto outcomes = run_against(
      [](p2p::StreamPtr stream) -> p2p::Task<void> {
        // A uvarint length of 1 GiB, then a little data: the reader must refuse it from the prefix.
        const Bytes prefix = {0x80, 0x80, 0x80, 0x80, 0x04, 1, 2, 3};
        (void)co_await stream->write(prefix);
        Bytes rest(64);
        while ((co_await stream->read_some(rest)).value_or(0) > 0) {
        }
      },
      std::chrono::seconds(30));
  expect_both_named(outcomes, "limit");
}

TEST_F(DkgRunnerTest, ASilentMemberIsNamedAfterTheRoundTimeout) {
  const auto began = std::chrono::steady_clock::now();
  auto outcomes = run_against(
      [](p2p::StreamPtr stream) -> p2p::Task<void> {
        Bytes rest(4096);
        while ((co_await stream->read_some(rest)).value_or(0) > 0) {
        }
      },
      std::chrono::seconds(2));
  expect_both_named(outcomes, "sent nothing for 2 s");
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(20));
}

TEST_F(DkgRunnerTest, AMemberThatDisconnectsMidRunIsNamed) {
  auto outcomes = run_against(
      [](p2p::StreamPtr stream) -> p2p::Task<void> {
        // Read the peer's first message (its hello), then vanish as a killed process would.
        (void)co_await stream->read_message(fhe::dkg::kMaxMessageBytes);
        stream->reset();
        co_return;
      },
      std::chrono::seconds(30));
  expect_both_named(outcomes, "closed its connection");
}

TEST_F(DkgRunnerTest, AMemberThatNeverComesIsNamedWithItsAddress) {
  std::vector<std::future<Result<DkgRunReport>>> real;
  for (int i = 0; i < 2; ++i) {
    auto c = config_for(i);
    c.start_timeout = std::chrono::seconds(2);
    real.push_back(std::async(std::launch::async, [c] { return run_dkg(c); }));
  }
  std::vector<Result<DkgRunReport>> outcomes;
  for (auto& f : real) outcomes.push_back(f.get());
  for (auto& o : outcomes) {
    ASSERT_FALSE(o.ok());
    // Each real member times out itself, or first receives the other's Abort, which carries
    // the same reason.
    const bool relayed = o.status().message().find("aborted the run") != std::string::npos;
    EXPECT_EQ(o.status().code(), relayed ? StatusCode::kFailedPrecondition : StatusCode::kDeadlineExceeded)
        << o.status().to_string();
    EXPECT_NE(o.status().message().find("/tcp/" + std::to_string(ports_[2])), std::string::npos)
        << o.status().message();
  }
  expect_both_named(outcomes, "not connected within 2 s");
}

TEST_F(DkgRunnerTest, ANonEmptyOutputDirectoryIsRefusedBeforeAnyNetwork) {
  auto c = config_for(0);
  fs::create_directories(c.out);
  std::ofstream(c.out / "keep") << "x";
  auto r = run_dkg(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::exists(c.out / "keep"));
}

}  // namespace
}  // namespace veil::node
