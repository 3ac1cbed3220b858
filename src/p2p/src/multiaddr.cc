#include "veil/p2p/multiaddr.h"

#include <arpa/inet.h>

#include <charconv>

#include "veil/p2p/encoding.h"

namespace veil::p2p {
namespace {

struct ProtocolInfo {
  Protocol protocol;
  std::string_view name;
  int fixed_size;  // bytes; -1 = length-prefixed
};

constexpr ProtocolInfo kProtocols[] = {
    {Protocol::kIp4, "ip4", 4},   {Protocol::kTcp, "tcp", 2},    {Protocol::kIp6, "ip6", 16},
    {Protocol::kDns, "dns", -1},  {Protocol::kDns4, "dns4", -1}, {Protocol::kDns6, "dns6", -1},
    {Protocol::kP2p, "p2p", -1},
};

const ProtocolInfo* find_by_name(std::string_view name) {
  if (name == "ipfs") name = "p2p";  // the old name of /p2p
  for (const auto& p : kProtocols) if (p.name == name) return &p;
  return nullptr;
}
const ProtocolInfo* find_by_code(std::uint64_t code) {
  for (const auto& p : kProtocols) if (static_cast<std::uint64_t>(p.protocol) == code) return &p;
  return nullptr;
}

constexpr std::size_t kMaxDnsName = 253;

Result<Bytes> value_from_text(const ProtocolInfo& info, std::string_view text) {
  std::string s(text);
  switch (info.protocol) {
    case Protocol::kIp4: {
      Bytes out(4);
      if (inet_pton(AF_INET, s.c_str(), out.data()) != 1) return invalid_argument("bad IPv4 address '" + s + "'");
      return out;
    }
    case Protocol::kIp6: {
      Bytes out(16);
      if (inet_pton(AF_INET6, s.c_str(), out.data()) != 1) return invalid_argument("bad IPv6 address '" + s + "'");
      return out;
    }
    case Protocol::kTcp: {
      unsigned port = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
      if (ec != std::errc() || ptr != text.data() + text.size() || port > 65535 || text.empty()) {
        return invalid_argument("bad TCP port '" + s + "'");
      }
      return Bytes{static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    }
    case Protocol::kDns:
    case Protocol::kDns4:
    case Protocol::kDns6:
      if (text.empty() || text.size() > kMaxDnsName) return invalid_argument("bad DNS name '" + s + "'");
      return Bytes(text.begin(), text.end());
    case Protocol::kP2p: {
      VEIL_ASSIGN_OR_RETURN(PeerId id, PeerId::parse(text));
      return id.bytes();
    }
  }
  return invalid_argument("unknown protocol");
}

Result<std::string> value_to_text(Protocol protocol, ByteView v) {
  switch (protocol) {
    case Protocol::kIp4:
    case Protocol::kIp6: {
      char buf[INET6_ADDRSTRLEN] = {};
      inet_ntop(protocol == Protocol::kIp4 ? AF_INET : AF_INET6, v.data(), buf, sizeof buf);
      return std::string(buf);
    }
    case Protocol::kTcp:
      return std::to_string((v[0] << 8) | v[1]);
    case Protocol::kDns:
    case Protocol::kDns4:
    case Protocol::kDns6:
      for (auto c : v) if (c == '/' || c < 0x21 || c > 0x7e) return invalid_argument("DNS name has a bad character");
      return to_string(v);
    case Protocol::kP2p: {
      VEIL_ASSIGN_OR_RETURN(PeerId id, PeerId::from_bytes(v));
      return id.to_base58();
    }
  }
  return invalid_argument("unknown protocol");
}

}  // namespace

Result<Multiaddr> Multiaddr::parse(std::string_view text) {
  if (text.empty() || text[0] != '/') return invalid_argument("multiaddr must start with '/': '" + std::string(text) + "'");
  Multiaddr out;
  std::size_t pos = 1;
  while (pos < text.size()) {
    auto next = text.find('/', pos);
    std::string_view name = text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    const ProtocolInfo* info = find_by_name(name);
    if (!info) return invalid_argument("multiaddr: unknown protocol '" + std::string(name) + "'");
    if (next == std::string_view::npos) return invalid_argument("multiaddr: /" + std::string(name) + " needs a value");
    pos = next + 1;
    next = text.find('/', pos);
    std::string_view value = text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    auto bytes = value_from_text(*info, value);
    if (!bytes.ok()) return bytes.status().with_context("multiaddr /" + std::string(info->name));
    out.components_.push_back({info->protocol, std::move(*bytes)});
    if (next == std::string_view::npos) break;
    pos = next + 1;
    if (pos == text.size()) break;  // tolerate one trailing '/'
  }
  if (out.components_.empty()) return invalid_argument("multiaddr: empty");
  return out;
}

Result<Multiaddr> Multiaddr::from_bytes(ByteView in) {
  Multiaddr out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    VEIL_ASSIGN_OR_RETURN(VarintDecode code, decode_uvarint(in.subspan(pos)));
    if (code.consumed == 0) return invalid_argument("multiaddr: truncated protocol code");
    pos += code.consumed;
    const ProtocolInfo* info = find_by_code(code.value);
    if (!info) return invalid_argument("multiaddr: unknown protocol code " + std::to_string(code.value));
    std::size_t size;
    if (info->fixed_size >= 0) {
      size = static_cast<std::size_t>(info->fixed_size);
    } else {
      VEIL_ASSIGN_OR_RETURN(VarintDecode len, decode_uvarint(in.subspan(pos)));
      if (len.consumed == 0) return invalid_argument("multiaddr: truncated length");
      pos += len.consumed;
      if (len.value > in.size() - pos) return invalid_argument("multiaddr: value past end");
      size = static_cast<std::size_t>(len.value);
    }
    if (size > in.size() - pos) return invalid_argument("multiaddr: value past end");
    ByteView value = in.subspan(pos, size);
    // Validate by rendering, so that every parsed address can be printed.
    auto text = value_to_text(info->protocol, value);
    if (!text.ok()) return text.status().with_context("multiaddr /" + std::string(info->name));
    if ((info->protocol == Protocol::kDns || info->protocol == Protocol::kDns4 ||
         info->protocol == Protocol::kDns6) && (size == 0 || size > kMaxDnsName)) {
      return invalid_argument("multiaddr: bad DNS name length");
    }
    out.components_.push_back({info->protocol, Bytes(value.begin(), value.end())});
    pos += size;
  }
  if (out.components_.empty()) return invalid_argument("multiaddr: empty");
  return out;
}

std::string Multiaddr::to_string() const {
  std::string out;
  for (const auto& c : components_) {
    out += "/";
    out += find_by_code(static_cast<std::uint64_t>(c.protocol))->name;
    out += "/";
    auto text = value_to_text(c.protocol, c.value);
    out += text.ok() ? *text : "<invalid>";
  }
  return out;
}

Bytes Multiaddr::to_bytes() const {
  Bytes out;
  for (const auto& c : components_) {
    append_uvarint(out, static_cast<std::uint64_t>(c.protocol));
    if (find_by_code(static_cast<std::uint64_t>(c.protocol))->fixed_size < 0) append_uvarint(out, c.value.size());
    out.insert(out.end(), c.value.begin(), c.value.end());
  }
  return out;
}

std::optional<PeerId> Multiaddr::peer_id() const {
  if (components_.empty() || components_.back().protocol != Protocol::kP2p) return std::nullopt;
  auto id = PeerId::from_bytes(components_.back().value);
  if (!id.ok()) return std::nullopt;
  return *id;
}

Multiaddr Multiaddr::without_peer_id() const {
  Multiaddr out = *this;
  if (!out.components_.empty() && out.components_.back().protocol == Protocol::kP2p) out.components_.pop_back();
  return out;
}

Multiaddr Multiaddr::with_peer_id(const PeerId& id) const {
  Multiaddr out = without_peer_id();
  out.components_.push_back({Protocol::kP2p, id.bytes()});
  return out;
}

Result<Multiaddr::TcpTarget> Multiaddr::tcp_target() const {
  Multiaddr base = without_peer_id();
  if (base.components_.size() != 2 || base.components_[1].protocol != Protocol::kTcp) {
    return invalid_argument("not a TCP multiaddr (want /ip4|ip6|dns4|dns6/<host>/tcp/<port>): " + to_string());
  }
  const auto& host = base.components_[0];
  TcpTarget target;
  auto text = value_to_text(host.protocol, host.value);
  if (!text.ok()) return text.status();
  target.host = *text;
  target.is_dns = host.protocol == Protocol::kDns || host.protocol == Protocol::kDns4 || host.protocol == Protocol::kDns6;
  const auto& port = base.components_[1].value;
  target.port = static_cast<std::uint16_t>((port[0] << 8) | port[1]);
  return target;
}

Result<Multiaddr> Multiaddr::from_ip_port(std::string_view ip, std::uint16_t port) {
  bool v6 = ip.find(':') != std::string_view::npos;
  return parse(std::string(v6 ? "/ip6/" : "/ip4/") + std::string(ip) + "/tcp/" + std::to_string(port));
}

}  // namespace veil::p2p
