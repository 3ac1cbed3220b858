// Fast tests of the runtime's parsers and pure functions, and of the Docker driver's
// errors when there is no usable engine.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <random>
#include <thread>

#include "test_support.h"
#include "veil/runtime/container.h"
#include "veil/runtime/docker_driver.h"
#include "veil/runtime/image_ref.h"
#include "veil/runtime/log_frames.h"
#include "veil/runtime/reconciler.h"

namespace veil::runtime {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(ImageReference, ParsesRegistryPortTagAndDigest) {
  auto r = parse_image_reference("127.0.0.1:5000/team/app:v1.2@" + kDigest);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->repository, "127.0.0.1:5000/team/app");
  EXPECT_EQ(r->tag, "v1.2");
  EXPECT_EQ(r->digest, kDigest);
  EXPECT_EQ(r->to_string(), "127.0.0.1:5000/team/app:v1.2@" + kDigest);

  auto port_only = parse_image_reference("localhost:5000/app");
  ASSERT_TRUE(port_only.ok());
  EXPECT_EQ(port_only->repository, "localhost:5000/app");
  EXPECT_EQ(port_only->tag, "");
}

TEST(ImageReference, RejectsMalformedReferences) {
  for (const char* bad : {"", "App", "app:", "app@sha256:abc", "app@md5:" "00", "/app", "app//x", "a:b:c",
                          "app:-tag", "-app"}) {
    auto r = parse_image_reference(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
  EXPECT_TRUE(is_valid_digest(kDigest));
  EXPECT_FALSE(is_valid_digest("sha256:" + std::string(64, 'A')));
}

TEST(Sizes, ParseMemoryCpuAndPorts) {
  EXPECT_EQ(*parse_memory_size("128M"), 128LL << 20);
  EXPECT_EQ(*parse_memory_size("1g"), 1LL << 30);
  EXPECT_EQ(*parse_memory_size("512k"), 512LL << 10);
  EXPECT_EQ(*parse_memory_size("64MB"), 64LL << 20);
  EXPECT_EQ(*parse_memory_size("4096"), 4096);
  EXPECT_FALSE(parse_memory_size("12Q").ok());
  EXPECT_FALSE(parse_memory_size("-1M").ok());
  EXPECT_FALSE(parse_memory_size("").ok());
  EXPECT_EQ(*parse_cpus("0.5"), 500000000);
  EXPECT_EQ(*parse_cpus("2"), 2000000000);
  EXPECT_FALSE(parse_cpus("0").ok());
  EXPECT_FALSE(parse_cpus("half").ok());

  auto p = parse_port_binding("8080:80");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->host_ip, "127.0.0.1");
  EXPECT_EQ(p->host_port, 8080);
  EXPECT_EQ(p->container_port, 80);
  auto q = parse_port_binding("0.0.0.0:53:5353/udp");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->host_ip, "0.0.0.0");
  EXPECT_EQ(q->protocol, "udp");
  EXPECT_FALSE(parse_port_binding("80").ok());
  EXPECT_FALSE(parse_port_binding("70000:80").ok());
  EXPECT_FALSE(parse_port_binding("1:2/sctp").ok());
}

TEST(LogFrames, DemuxesFramesSplitAtEveryByte) {
  std::string stream;
  append_log_frame(stream, 1, "out one\n");
  append_log_frame(stream, 2, "err one\n");
  append_log_frame(stream, 1, "");
  append_log_frame(stream, 1, std::string(70000, 'x'));
  for (std::size_t split = 0; split <= stream.size(); split += (split < 64 ? 1 : 997)) {
    LogFrameDemuxer demuxer;
    std::string out, err;
    auto sink = [&](LogStream s, std::string_view bytes) {
      (s == LogStream::kStdout ? out : err).append(bytes);
      return true;
    };
    ASSERT_TRUE(demuxer.feed(std::string_view(stream).substr(0, split), sink).ok());
    ASSERT_TRUE(demuxer.feed(std::string_view(stream).substr(split), sink).ok());
    EXPECT_TRUE(demuxer.at_boundary());
    EXPECT_EQ(out, "out one\n" + std::string(70000, 'x'));
    EXPECT_EQ(err, "err one\n");
  }
}

TEST(LogFrames, RejectsBadHeadersAndStopsOnRequest) {
  LogFrameDemuxer tty;
  auto ignore = [](LogStream, std::string_view) { return true; };
  Status s = tty.feed("hello world, this is raw TTY output", ignore);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(tty.feed("more", ignore).code(), StatusCode::kDataLoss);  // stays failed

  std::string huge = {1, 0, 0, 0, '\x7f', '\xff', '\xff', '\xff'};
  LogFrameDemuxer big;
  EXPECT_EQ(big.feed(huge, ignore).code(), StatusCode::kDataLoss);

  std::string two;
  append_log_frame(two, 1, "a");
  append_log_frame(two, 1, "b");
  LogFrameDemuxer stop;
  int calls = 0;
  EXPECT_EQ(stop.feed(two, [&](LogStream, std::string_view) { return ++calls < 1; }).code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 1);
}

TEST(LogFrames, SurvivesRandomAndMutatedInput) {
  std::mt19937 rng(7);
  std::string valid;
  for (int i = 0; i < 20; ++i) append_log_frame(valid, 1 + i % 2, std::string(static_cast<std::size_t>(i * 13), 'z'));
  for (int round = 0; round < 3000; ++round) {
    std::string input = valid;
    if (round % 2) {
      input.resize(rng() % 200);
      for (auto& c : input) c = static_cast<char>(rng());
    } else {
      for (int m = 0; m < 4; ++m) input[rng() % input.size()] = static_cast<char>(rng());
    }
    LogFrameDemuxer demuxer;
    std::size_t delivered = 0;
    std::size_t pos = 0;
    while (pos < input.size()) {
      std::size_t n = 1 + rng() % 40;
      auto s = demuxer.feed(std::string_view(input).substr(pos, n), [&](LogStream, std::string_view b) {
        delivered += b.size();
        return true;
      });
      if (!s.ok()) break;
      pos += n;
    }
    EXPECT_LE(delivered, input.size());
  }
}

TEST(SpecHash, StableAndSensitiveToWhatMatters) {
  ContainerSpec a{.name = "x", .image = "img", .command = {"sh", "-c", "true"}, .env = {{"A", "1"}}};
  ContainerSpec b = a;
  b.name = "other-name";  // the name is not part of the identity
  b.labels[std::string(kLabelSpecHash)] = "whatever";
  EXPECT_EQ(spec_hash(a), spec_hash(b));
  ContainerSpec c = a;
  c.memory_bytes = 1;
  EXPECT_NE(spec_hash(a), spec_hash(c));
  ContainerSpec d = a;
  d.command = {"sh", "-c true"};
  EXPECT_NE(spec_hash(a), spec_hash(d));
}

TEST(RegistryAuth, HeaderIsBase64UrlJson) {
  std::string header = registry_auth_header({.username = "veil", .password = "s3cr?t>>", .server_address = "h:1"});
  EXPECT_EQ(header.find_first_of("+/"), std::string::npos);
  std::string standard = header;
  for (auto& c : standard) c = c == '-' ? '+' : (c == '_' ? '/' : c);
  std::string decoded(standard.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(standard.data()), static_cast<int>(standard.size()));
  ASSERT_GT(n, 0);
  decoded.resize(static_cast<std::size_t>(n));
  EXPECT_NE(decoded.find("\"username\":\"veil\""), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("\"password\":\"s3cr?t>>\""), std::string::npos) << decoded;
  EXPECT_NE(decoded.find("\"serveraddress\":\"h:1\""), std::string::npos) << decoded;
}

TEST(Reconciler, BackoffDoublesUpToTheCap) {
  ReconcilerOptions options{.cluster = "c", .backoff_initial = std::chrono::milliseconds(100),
                            .backoff_max = std::chrono::milliseconds(1000)};
  EXPECT_EQ(restart_backoff(options, 1).count(), 100);
  EXPECT_EQ(restart_backoff(options, 2).count(), 200);
  EXPECT_EQ(restart_backoff(options, 4).count(), 800);
  EXPECT_EQ(restart_backoff(options, 5).count(), 1000);
  EXPECT_EQ(restart_backoff(options, 60).count(), 1000);
  EXPECT_EQ(Reconciler::container_name("c1", "web/api", "0"), "veil-c1-web-api-0");
}

TEST(DockerErrors, MissingSocketIsNotFound) {
  testing::TempDir dir;
  auto d = open_docker_driver({.socket_path = (dir.path() / "nope.sock").string()});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kNotFound);
  EXPECT_NE(d.status().message().find("does not exist"), std::string::npos) << d.status().message();
}

int bind_unix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  return fd;
}

TEST(DockerErrors, StaleSocketIsUnavailable) {
  testing::TempDir dir;
  std::string path = (dir.path() / "stale.sock").string();
  int fd = bind_unix(path);  // bound, never listening: connect is refused
  auto d = open_docker_driver({.socket_path = path});
  ::close(fd);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable) << d.status().to_string();
}

TEST(DockerErrors, NonEngineSocketIsUnavailable) {
  testing::TempDir dir;
  std::string path = (dir.path() / "http.sock").string();
  int fd = bind_unix(path);
  ASSERT_EQ(::listen(fd, 4), 0);
  std::thread server([fd] {
    int c = ::accept(fd, nullptr, nullptr);
    // Read the whole request first, so our answer never races the client's write.
    std::string request;
    char buf[1024];
    while (request.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      request.append(buf, static_cast<std::size_t>(n));
    }
    std::string answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno";
    (void)::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(c);
  });
  auto d = open_docker_driver({.socket_path = path});
  server.join();
  ::close(fd);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(d.status().message().find("API-Version"), std::string::npos) << d.status().message();
}

TEST(DockerErrors, PermissionDeniedSocket) {
  testing::TempDir dir;
  ::chmod(dir.path().c_str(), 0755);
  std::string path = (dir.path() / "locked.sock").string();
  int fd = bind_unix(path);
  ASSERT_EQ(::listen(fd, 4), 0);
  ::chmod(path.c_str(), 0600);
  // Root ignores file modes, so when we are root the attempt is made by a child that
  // dropped to "nobody" first.
  pid_t child = ::fork();
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(100);
    auto d = open_docker_driver({.socket_path = path});
    ::_exit(d.ok() ? 0 : static_cast<int>(d.status().code()));
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(fd);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_NE(WEXITSTATUS(status), 100) << "could not drop privileges";
  EXPECT_EQ(WEXITSTATUS(status), static_cast<int>(StatusCode::kPermissionDenied));
}

}  // namespace
}  // namespace veil::runtime
