// One-stream throughput over loopback: raw TCP, C++ libp2p (TCP + Noise + Yamux, the Veil
// stack on both ends) and js-libp2p <-> js-libp2p, measured in one run; prints each median
// and the ratios the p2p issue sets targets for (C++/raw >= 0.40, C++/js >= 5).
//
// Usage: p2p_throughput [--mib N] [--js-mib N] [--reps N] [--no-js]
// Each side runs on its own thread (two io_contexts), as two processes would. The JS pair
// runs as two node processes (bench/p2p_js_throughput.mjs). Output: one JSON object, which also
// gives the C++ sender's and receiver's thread CPU seconds per GiB (medians): on a shared
// machine those say more about the code than the wall-clock rate.
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "veil/p2p/host.h"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::string_view kSink = "/veil/bench/sink/1.0.0";

// CPU time of the calling thread: with the machine shared, seconds of CPU per GiB on each
// side say more about the code than wall-clock rates do.
double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Libp2pRun {
  double mib_s = 0;
  double send_cpu_s_per_gib = 0;  // sender thread: Yamux framing, sealing, socket writes
  double recv_cpu_s_per_gib = 0;  // receiver thread: socket reads, opening, Yamux, the copy out
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double raw_tcp_mib_s(std::size_t bytes) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto port = acceptor.local_endpoint().port();
  std::thread receiver([&] {
    pthread_setname_np(pthread_self(), "raw-recv");  // names for perf --sort comm
    tcp::socket s = acceptor.accept();
    std::vector<std::uint8_t> buf(kChunk);
    std::size_t got = 0;
    boost::system::error_code ec;
    while (got < bytes) {
      std::size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      got += n;
    }
    asio::write(s, asio::buffer("k", 1), ec);
  });
  asio::io_context io2;
  tcp::socket s(io2);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::vector<std::uint8_t> buf(kChunk, 0x5a);
  auto start = Clock::now();
  for (std::size_t sent = 0; sent < bytes; sent += kChunk) asio::write(s, asio::buffer(buf.data(), std::min(kChunk, bytes - sent)));
  char ack;
  asio::read(s, asio::buffer(&ack, 1));
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  receiver.join();
  return static_cast<double>(bytes) / (1 << 20) / secs;
}

Libp2pRun libp2p_run(std::size_t bytes) {
  using namespace veil::p2p;
  asio::io_context io_a, io_b;
  Host receiver(io_a);
  Libp2pRun run;
  double gib = static_cast<double>(bytes) / (1 << 30);
  receiver.set_handler(std::string(kSink), [bytes, gib, &run](StreamPtr s) -> Task<void> {
    std::vector<std::uint8_t> buf(kChunk);
    double cpu0 = thread_cpu_s();
    std::size_t got = 0;
    while (got < bytes) {
      auto n = co_await s->read_some(buf);
      if (!n.ok() || *n == 0) break;
      got += *n;
    }
    run.recv_cpu_s_per_gib = (thread_cpu_s() - cpu0) / gib;
    std::uint8_t ack = 'k';
    (void)co_await s->write(veil::ByteView(&ack, 1));
    (void)s->close_write();
  });
  if (!receiver.listen(*Multiaddr::parse("/ip4/127.0.0.1/tcp/0")).ok()) return run;
  Multiaddr addr = receiver.listen_addrs().front().with_peer_id(receiver.id());
  auto work_a = asio::make_work_guard(io_a);
  std::thread thread_a([&] {
    pthread_setname_np(pthread_self(), "libp2p-recv");
    io_a.run();
  });

  Host sender(io_b);
  asio::co_spawn(io_b, [&]() -> Task<void> {
    auto peer = co_await sender.connect(addr);
    if (!peer.ok()) co_return;
    std::vector<std::string> protocols{std::string(kSink)};
    auto s = co_await sender.new_stream(*peer, std::move(protocols));
    if (!s.ok()) co_return;
    std::vector<std::uint8_t> buf(kChunk, 0x5a);
    auto start = Clock::now();
    double cpu0 = thread_cpu_s();
    for (std::size_t sent = 0; sent < bytes; sent += kChunk) {
      if (!(co_await (*s)->write(veil::ByteView(buf.data(), std::min(kChunk, bytes - sent)))).ok()) co_return;
    }
    std::uint8_t ack = 0;
    if (!(co_await (*s)->read_exact(std::span<std::uint8_t>(&ack, 1))).ok()) co_return;
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    run.send_cpu_s_per_gib = (thread_cpu_s() - cpu0) / gib;
    run.mib_s = static_cast<double>(bytes) / (1 << 20) / secs;
    sender.close();
  }, asio::detached);
  io_b.run();
  asio::post(io_a, [&] { receiver.close(); });
  work_a.reset();
  io_a.stop();
  thread_a.join();
  return run;
}

double js_mib_s(std::size_t bytes, const std::string& script) {
  std::string cmd = "node " + script + " " + std::to_string(bytes);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return 0;
  char line[512] = {};
  double v = 0;
  while (fgets(line, sizeof line, p)) {
    if (const char* at = std::strstr(line, "\"mib_per_s\":")) v = std::atof(at + 12);
  }
  pclose(p);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mib = 256, js_mib = 64;
  int reps = 5;
  bool js = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mib" && i + 1 < argc) mib = std::stoul(argv[++i]);
    else if (a == "--js-mib" && i + 1 < argc) js_mib = std::stoul(argv[++i]);
    else if (a == "--reps" && i + 1 < argc) reps = std::stoi(argv[++i]);
    else if (a == "--no-js") js = false;
    else {
      std::cerr << "usage: p2p_throughput [--mib N] [--js-mib N] [--reps N] [--no-js]\n";
      return 2;
    }
  }
  std::string script = std::string(VEIL_SOURCE_DIR) + "/bench/p2p_js_throughput.mjs";
  std::vector<double> raw, cpp, jsv, send_cpu, recv_cpu;
  for (int r = 0; r < reps; ++r) {
    raw.push_back(raw_tcp_mib_s(mib << 20));
    Libp2pRun run = libp2p_run(mib << 20);
    cpp.push_back(run.mib_s);
    send_cpu.push_back(run.send_cpu_s_per_gib);
    recv_cpu.push_back(run.recv_cpu_s_per_gib);
    if (js) jsv.push_back(js_mib_s(js_mib << 20, script));
  }
  double m_raw = median(raw), m_cpp = median(cpp), m_js = js ? median(jsv) : 0;
  std::printf("{\"reps\":%d,\"mib\":%zu,\"js_mib\":%zu,\"raw_tcp_mib_s\":%.1f,\"cpp_libp2p_mib_s\":%.1f,"
              "\"js_libp2p_mib_s\":%.1f,\"cpp_over_raw\":%.3f,\"cpp_over_js\":%.2f,"
              "\"cpp_send_cpu_s_per_gib\":%.3f,\"cpp_recv_cpu_s_per_gib\":%.3f}\n",
              reps, mib, js_mib, m_raw, m_cpp, m_js, m_cpp / m_raw, m_js > 0 ? m_cpp / m_js : 0.0,
              median(send_cpu), median(recv_cpu));
  return 0;
}
