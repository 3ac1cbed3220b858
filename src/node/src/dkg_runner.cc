#include "veil/node/dkg_runner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "veil/common/bytes.h"
#include "veil/p2p/host.h"

namespace veil::node {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fhe::dkg::Member;
using fhe::dkg::Outgoing;
using p2p::PeerId;
using p2p::StreamPtr;
using p2p::Task;

Status errno_status(const std::string& what, int error) { return data_loss(what + ": " + std::strerror(error)); }

// Writes a new file and makes it durable before returning.
Status write_durable(const fs::path& path, ByteView bytes, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return errno_status("create " + path.string(), errno);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      return errno_status("write " + path.string(), error);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    return errno_status("fsync " + path.string(), error);
  }
  if (::close(fd) != 0) return errno_status("close " + path.string(), errno);
  return {};
}

Status fsync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + dir.string(), errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return rc == 0 ? Status{} : errno_status("fsync " + dir.string(), error);
}

fs::path parent_of(const fs::path& out) {
  const fs::path parent = out.parent_path();
  return parent.empty() ? fs::path(".") : parent;
}

// Hidden beside `out`, so that the final rename(2) stays on one file system.
std::string temp_prefix(const fs::path& out) { return "." + out.filename().string() + ".dkg-"; }

fs::path temp_directory(const fs::path& out, const std::array<std::uint8_t, 32>& session) {
  return parent_of(out) / (temp_prefix(out) + to_hex(ByteView(session.data(), 4)) + ".tmp");
}

std::string megabytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

class Run {
 public:
  Run(const DkgRunConfig& config, Member member, p2p::HostConfig host_config)
      : config_(config), host_(io_, std::move(host_config)), member_(std::move(member)), watchdog_(io_), grace_(io_) {}

  Result<DkgRunReport> execute();

 private:
  struct Peer {
    explicit Peer(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
    std::uint8_t id = 0;
    PeerId peer_id;
    p2p::Multiaddr address;
    StreamPtr stream;
    std::deque<Bytes> queue;
    asio::steady_timer wake;  // a writer waiting for its queue or its stream
    bool writer_done = false;
    bool reader_done = false;
    bool closed_by_peer = false;  // its side ended after its Ready: the normal end
    bool dialing = false;         // our dial loop is running (an aborting run waits for it to deliver)
  };

  Status prepare();
  void describe(const std::string& line) const {
    if (config_.progress) config_.progress(line);
  }
  std::string name(std::uint8_t id) const {
    const auto& key = member_.member(id).sign;
    return "member " + std::to_string(id) + " (" + to_hex(ByteView(key.data(), 4)) + "…)";
  }
  Peer* peer_by_id(const PeerId& id) {
    for (auto& p : peers_) {
      if (p && p->peer_id == id) return p.get();
    }
    return nullptr;
  }
  bool all_connected() const {
    return std::all_of(peers_.begin(), peers_.end(), [](const auto& p) { return !p || p->stream; });
  }
  // The member has nothing more to send us in this run.
  bool said_everything(std::uint8_t id) const {
    if (member_.finished()) return true;
    if (!member_.output_ready()) return false;
    const auto waiting = member_.waiting_on();
    return std::find(waiting.begin(), waiting.end(), id) == waiting.end();
  }

  void send(std::vector<Outgoing> messages);
  void attach(Peer& peer, StreamPtr stream);
  Task<void> dial_loop(Peer& peer);
  Task<void> read_loop(Peer& peer);
  Task<void> write_loop(Peer& peer);
  Task<void> watchdog_loop();
  void handle(Peer& peer, const Bytes& bytes);
  Status write_output();
  Status move_into_place();
  void abort(std::uint8_t blamed, const Status& why);
  void maybe_stop();
  void stop();
  void note_round();

  const DkgRunConfig& config_;
  asio::io_context io_;
  p2p::Host host_;
  Member member_;
  asio::steady_timer watchdog_;
  asio::steady_timer grace_;  // after an abort: how long the Abort messages and the peers' ends may take
  std::vector<std::unique_ptr<Peer>> peers_;  // by member id; this member's slot is empty
  Clock::time_point started_{};
  Clock::time_point last_message_{};
  std::string round_;
  std::optional<Status> outcome_;
  bool stopping_ = false;  // no new work: the run has ended or is ending
  bool closed_ = false;    // the host is closed; the io_context runs out of work
  bool connected_announced_ = false;
  fs::path temp_;
  bool temp_written_ = false;
  std::uint64_t bytes_received_ = 0;
  double seconds_ = 0;
};

Status Run::prepare() {
  peers_.resize(member_.size() + 1);
  for (const auto& m : config_.members) {
    const std::uint8_t id = member_.id_of(m.key);
    if (id == member_.id()) continue;
    auto peer = std::make_unique<Peer>(io_);
    peer->id = id;
    peer->peer_id = dkg_peer_id(m.key);
    if (auto named = m.address.peer_id(); named && *named != peer->peer_id) {
      return invalid_argument(m.address.to_string() + " names peer " + named->to_base58() + ", but " + name(id) +
                              "'s key is peer " + peer->peer_id.to_base58());
    }
    peer->address = m.address.with_peer_id(peer->peer_id);
    peers_[id] = std::move(peer);
  }

  std::set<PeerId> admitted;
  for (const auto& p : peers_) {
    if (p) admitted.insert(p->peer_id);
  }
  host_.set_gater([admitted](const PeerId& id, p2p::Direction) { return admitted.count(id) > 0; });
  host_.set_handler(std::string(kDkgProtocol), [this](StreamPtr stream) -> Task<void> {
    Peer* peer = peer_by_id(stream->remote_peer());
    // A second stream from the same member is refused: the first one stays the run's. An aborting
    // member still takes a first one, to deliver its Abort on it.
    if (peer == nullptr || peer->stream || closed_) {
      stream->reset();
      co_return;
    }
    attach(*peer, std::move(stream));
    co_await read_loop(*peer);
  });
  if (auto st = host_.listen(config_.listen); !st.ok()) {
    return unavailable("cannot listen on " + config_.listen.to_string() + ": " + st.message());
  }
  return {};
}

void Run::attach(Peer& peer, StreamPtr stream) {
  peer.stream = std::move(stream);
  peer.wake.cancel();
  describe("connected to " + name(peer.id) + " (" + peer.peer_id.to_base58() + ")");
  asio::co_spawn(io_, write_loop(peer), asio::detached);
  if (all_connected() && !connected_announced_) {
    connected_announced_ = true;
    last_message_ = Clock::now();
    describe("all " + std::to_string(member_.size()) + " members connected");
  }
}

Task<void> Run::dial_loop(Peer& peer) {
  peer.dialing = true;
  asio::steady_timer pause(io_);
  while (!closed_ && !peer.stream) {
    auto connected = co_await host_.connect(peer.address);
    if (connected.ok() && !peer.stream && !closed_) {
      std::vector<std::string> protocols{std::string(kDkgProtocol)};
      auto stream = co_await host_.new_stream(peer.peer_id, std::move(protocols));
      if (stream.ok() && !peer.stream && !closed_) {
        peer.dialing = false;
        attach(peer, std::move(*stream));
        co_await read_loop(peer);
        co_return;
      }
    }
    // An aborting member makes one attempt only, to deliver its Abort.
    if (stopping_) break;
    pause.expires_after(std::chrono::milliseconds(250));
    boost::system::error_code ec;
    co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  peer.dialing = false;
  maybe_stop();
}

Task<void> Run::read_loop(Peer& peer) {
  StreamPtr stream = peer.stream;
  while (true) {
    auto message = co_await stream->read_message(fhe::dkg::kMaxMessageBytes);
    if (stopping_) {
      // Aborting: read on until the peer ends its side (it does once it read our Abort). A
      // connection closed with unread input is reset, and a reset can discard our Abort in the
      // peer's socket before the peer read it (the peer would then blame us for closing).
      if (!message.ok()) break;
      secure_wipe(*message);
      continue;
    }
    if (!message.ok()) {
      if (said_everything(peer.id)) {
        peer.closed_by_peer = true;
      } else {
        const std::string how = message.status().code() == StatusCode::kOutOfRange
                                    ? "sent a message over the " + megabytes(fhe::dkg::kMaxMessageBytes) + " limit"
                                    : "closed its connection";
        abort(peer.id, failed_precondition("dkg aborted: " + name(peer.id) + " " + how + " in round " +
                                           std::string(member_.round())));
      }
      break;
    }
    bytes_received_ += message->size();
    handle(peer, *message);
    secure_wipe(*message);  // a Hello carries the run's keys
    // Silence is counted from here: our own computation for this message is not the peer's.
    last_message_ = Clock::now();
  }
  peer.reader_done = true;
  maybe_stop();
}

Task<void> Run::write_loop(Peer& peer) {
  StreamPtr stream = peer.stream;
  while (true) {
    if (peer.queue.empty()) {
      // The run is over for this peer once our last message is out: half-close, so it sees the
      // end of our side right after our Ready.
      if (stopping_ || member_.finished()) break;
      boost::system::error_code ec;
      peer.wake.expires_at(asio::steady_timer::time_point::max());
      co_await peer.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    Bytes message = std::move(peer.queue.front());
    peer.queue.pop_front();
    const bool written = (co_await stream->write_message(message)).ok();
    secure_wipe(message);  // a Hello carries the run's keys
    if (!written) {
      peer.queue.clear();
      break;
    }
  }
  (void)stream->close_write();
  peer.writer_done = true;
  maybe_stop();
}

Task<void> Run::watchdog_loop() {
  const auto start_deadline = started_ + config_.start_timeout;
  while (!stopping_) {
    watchdog_.expires_after(std::chrono::milliseconds(200));
    boost::system::error_code ec;
    co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_) break;
    if (outcome_) continue;  // aborting: waiting for the Abort messages to leave
    const auto now = Clock::now();
    if (!all_connected()) {
      if (now < start_deadline) continue;
      std::string missing;
      for (const auto& p : peers_) {
        if (p && !p->stream) missing += (missing.empty() ? "" : ", ") + name(p->id) + " at " + p->address.to_string();
      }
      abort(0, deadline_exceeded("dkg aborted: not connected within " +
                                 std::to_string(config_.start_timeout.count() / 1000) + " s to " + missing));
      continue;
    }
    note_round();
    if (member_.finished() || now - last_message_ < config_.round_timeout) continue;
    const auto silent = member_.waiting_on();
    if (silent.empty()) continue;
    std::string names;
    for (auto id : silent) names += (names.empty() ? "" : ", ") + name(id);
    abort(silent.front(), failed_precondition("dkg aborted: " + names + " sent nothing for " +
                                              std::to_string(config_.round_timeout.count() / 1000) +
                                              " s in round " + std::string(member_.round())));
  }
}

void Run::note_round() {
  if (member_.round() == round_) return;
  round_ = std::string(member_.round());
  std::uint64_t sent = 0;
  for (const auto& r : member_.stats()) sent += r.bytes_sent;
  const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
  char line[160];
  std::snprintf(line, sizeof line, "round %s (%.1f s, %s sent, %s received)", round_.c_str(), elapsed,
                megabytes(sent).c_str(), megabytes(bytes_received_).c_str());
  describe(line);
}

void Run::send(std::vector<Outgoing> messages) {
  for (auto& m : messages) {
    if (m.to >= peers_.size() || !peers_[m.to]) continue;
    Peer& peer = *peers_[m.to];
    peer.queue.push_back(std::move(m.bytes));
    peer.wake.cancel();
  }
}

void Run::handle(Peer& peer, const Bytes& bytes) {
  if (outcome_) return;
  auto out = member_.receive(peer.id, bytes);
  if (!out.ok()) {
    abort(member_.blamed(), out.status());
    return;
  }
  send(std::move(*out));
  note_round();
  if (member_.output_ready() && !temp_written_) {
    if (auto st = write_output(); !st.ok()) {
      abort(0, failed_precondition("dkg aborted: " + name(member_.id()) + " could not write its files: " + st.message()));
      return;
    }
    temp_written_ = true;
    auto ready = member_.confirm_written();
    if (!ready.ok()) {
      abort(member_.blamed(), ready.status());
      return;
    }
    send(std::move(*ready));
  }
  if (member_.finished()) {
    if (auto st = move_into_place(); !st.ok()) {
      abort(0, failed_precondition("dkg aborted: " + name(member_.id()) + " could not rename its files into place: " +
                                   st.message()));
      return;
    }
    seconds_ = std::chrono::duration<double>(Clock::now() - started_).count();
    outcome_ = Status{};
    describe("key set in " + config_.out.string() + "; waiting for the others to finish");
    for (auto& p : peers_) {
      if (p) p->wake.cancel();  // writers half-close once their queues are empty
    }
    maybe_stop();
  }
}

Status Run::write_output() {
  const auto& o = member_.output();
  temp_ = temp_directory(config_.out, o.session);
  std::error_code ec;
  fs::remove_all(temp_, ec);
  if (!fs::create_directory(temp_, ec) || ec) {
    return data_loss("cannot create " + temp_.string() + (ec ? ": " + ec.message() : std::string{}));
  }
  ::chmod(temp_.c_str(), 0700);
  const std::pair<std::string, const Bytes*> public_files[] = {{"public.key", &o.public_key},
                                                               {"server.compressed.key", &o.server_key},
                                                               {"squash.key", &o.squash_key},
                                                               {"committee.bin", &o.committee_bytes}};
  for (const auto& [file, bytes] : public_files) {
    VEIL_RETURN_IF_ERROR(write_durable(temp_ / file, *bytes, 0644));
  }
  VEIL_RETURN_IF_ERROR(
      write_durable(temp_ / ("share-" + std::to_string(member_.id()) + ".sealed"), o.sealed_share, 0600));
  VEIL_RETURN_IF_ERROR(write_durable(temp_ / "hashes.json", as_bytes(o.hashes_json), 0644));
  VEIL_RETURN_IF_ERROR(fsync_directory(temp_));
  describe("files written to " + temp_.string() + "; waiting for every member's confirmation");
  return {};
}

Status Run::move_into_place() {
  std::error_code ec;
  ::chmod(temp_.c_str(), 0755);
  // rename(2) replaces an empty directory atomically; prepare() refused a non-empty one.
  fs::rename(temp_, config_.out, ec);
  if (ec) return data_loss("rename " + temp_.string() + " to " + config_.out.string() + ": " + ec.message());
  temp_.clear();
  return fsync_directory(parent_of(config_.out));
}

void Run::abort(std::uint8_t blamed, const Status& why) {
  if (outcome_) return;
  outcome_ = why;
  describe(why.message());
  // Best effort: tell every member, then stop once that is written. A member not connected yet
  // gets its Abort on the connection still to come: ours to a larger id (the dial loop makes one
  // more attempt), its own to us from a smaller id (maybe_stop waits for it, within grace_).
  // Dialling a smaller id here instead would cross its own dial: each side keeps the stream it
  // accepted and drops the one it opened, and both streams die.
  stopping_ = true;
  for (const auto& o : member_.abort_messages(blamed, why.message())) {
    if (o.to >= peers_.size() || !peers_[o.to] || peers_[o.to]->writer_done) continue;
    Peer& peer = *peers_[o.to];
    peer.queue.clear();
    peer.queue.push_back(o.bytes);
  }
  if (!temp_.empty()) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
    temp_.clear();
  }
  for (auto& p : peers_) {
    if (p) p->wake.cancel();
  }
  // The writers send the Abort first, then half-close, and each reader waits for its peer's end;
  // a peer that reads nothing any more, or never ends its side, must not keep us waiting.
  grace_.expires_after(std::chrono::seconds(5));
  grace_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) stop();
  });
  maybe_stop();
}

void Run::maybe_stop() {
  if (!outcome_) return;
  for (const auto& p : peers_) {
    if (!p) continue;
    if (!p->stream) {
      // Aborting: a connection still to come is the one that would deliver the Abort (stopping
      // now would close it as it opens, and the member would blame us for closing).
      if (p->dialing || p->id < member_.id()) return;
      continue;
    }
    if (!p->writer_done) return;
    // Wait for each member to end its side: after a success it has then seen our Ready, after an
    // abort our Abort (grace_ bounds the wait for a member that never ends its side).
    if (!p->reader_done) return;
  }
  stop();
}

void Run::stop() {
  if (closed_) return;
  closed_ = true;
  stopping_ = true;
  watchdog_.cancel();
  grace_.cancel();
  for (auto& p : peers_) {
    if (!p) continue;
    p->wake.cancel();
    if (p->stream && !p->reader_done) p->stream->reset();
  }
  host_.close();
}

Result<DkgRunReport> Run::execute() {
  started_ = Clock::now();
  VEIL_RETURN_IF_ERROR(prepare());
  describe(name(member_.id()) + " of " + std::to_string(member_.size()) + ", peer " + host_.id().to_base58() +
           ", listening on " + config_.listen.to_string());
  auto hello = member_.start();
  if (!hello.ok()) return hello.status();
  send(std::move(*hello));
  for (auto& p : peers_) {
    // The member with the smaller id dials: one connection, one stream per pair.
    if (p && p->id > member_.id()) asio::co_spawn(io_, dial_loop(*p), asio::detached);
  }
  asio::co_spawn(io_, watchdog_loop(), asio::detached);
  io_.run();

  if (!outcome_) return internal_error("dkg: the run stopped without an outcome");
  if (!outcome_->ok()) return *outcome_;
  DkgRunReport report;
  report.id = member_.id();
  report.members = member_.size();
  report.out = config_.out;
  report.hashes_json = member_.output().hashes_json;
  report.rounds = member_.stats();
  for (const auto& r : report.rounds) report.bytes_sent += r.bytes_sent;
  report.bytes_received = bytes_received_;
  report.seconds = seconds_;
  return report;
}

// An `out` that a run may fill: absent, or an empty directory; stale temporaries of earlier runs
// of the same `out` are removed (a SIGKILL leaves one; no node reads hidden directories).
Status check_out(const DkgRunConfig& config) {
  std::error_code ec;
  const fs::path parent = parent_of(config.out);
  if (!fs::is_directory(parent, ec)) return invalid_argument(parent.string() + ": no such directory");
  if (fs::exists(config.out, ec)) {
    if (!fs::is_directory(config.out, ec)) return invalid_argument(config.out.string() + " exists and is not a directory");
    if (!fs::is_empty(config.out, ec)) {
      return invalid_argument(config.out.string() + " is not empty; a run writes a whole key set or nothing");
    }
  }
  const std::string prefix = temp_prefix(config.out);
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string file = entry.path().filename().string();
    if (file.rfind(prefix, 0) == 0 && file.size() > 4 && file.substr(file.size() - 4) == ".tmp") {
      if (config.progress) config.progress("removing " + entry.path().string() + ", left by an interrupted run");
      fs::remove_all(entry.path(), ec);
    }
  }
  return {};
}

}  // namespace

p2p::PeerId dkg_peer_id(const fhe::threshold::MemberPublicKey& key) {
  return p2p::PeerId::from_public_key(p2p::PublicKey(key.sign));
}

Result<DkgRunReport> run_dkg(const DkgRunConfig& config) {
  if (config.self == nullptr) return invalid_argument("dkg: no member key");
  fhe::dkg::Config protocol;
  protocol.params = config.params;
  protocol.threshold = config.threshold;
  protocol.self = config.self;
  for (const auto& m : config.members) protocol.members.push_back(m.key);
  auto member = Member::create(std::move(protocol));
  if (!member.ok()) return member.status();
  VEIL_RETURN_IF_ERROR(check_out(config));

  p2p::HostConfig host;
  host.identity = p2p::KeyPair::from_seed(ByteView(config.self->sign_secret().data(), 32));
  host.agent_version = "veil-dkg/1.0.0";
  // Members start minutes apart; a short, flat retry keeps the first connection prompt.
  host.backoff_base = std::chrono::milliseconds(250);
  host.backoff_max = std::chrono::milliseconds(2'000);
  host.max_connections = 4 * config.members.size();
  Run run(config, std::move(*member), std::move(host));
  return run.execute();
}

}  // namespace veil::node
