// Multiaddr (libp2p/specs addressing, multiformats/multiaddr): parse, print and binary
// for /ip4, /ip6, /tcp, /dns, /dns4, /dns6 and /p2p.
//
// Binary form: for each component, uvarint protocol code then the value: 4 bytes (ip4),
// 16 bytes (ip6), 2 bytes big-endian (tcp), or uvarint length + bytes (dns*, p2p — the
// latter a PeerId multihash). Thread safety: a value type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/p2p/identity.h"

namespace veil::p2p {

enum class Protocol : std::uint32_t {
  kIp4 = 4,
  kTcp = 6,
  kIp6 = 41,
  kDns = 53,
  kDns4 = 54,
  kDns6 = 55,
  kP2p = 421,
};

class Multiaddr {
 public:
  struct Component {
    Protocol protocol;
    Bytes value;  // binary value as on the wire (without the length prefix)
    friend bool operator==(const Component&, const Component&) = default;
  };

  Multiaddr() = default;
  // Parses "/ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…". Fails naming the bad component.
  static Result<Multiaddr> parse(std::string_view text);
  // Parses the binary form. Fails on unknown codes or truncated values.
  static Result<Multiaddr> from_bytes(ByteView binary);

  std::string to_string() const;
  Bytes to_bytes() const;
  const std::vector<Component>& components() const { return components_; }
  bool empty() const { return components_.empty(); }

  // The trailing /p2p/<id>, if present.
  std::optional<PeerId> peer_id() const;
  // This address with its /p2p component replaced by (or set to) `id`.
  Multiaddr with_peer_id(const PeerId& id) const;
  Multiaddr without_peer_id() const;

  // For /ip4|ip6|dns*/…/tcp/<port>: the host text (IP literal or DNS name) and port.
  // Fails if the address is not a TCP address.
  struct TcpTarget {
    std::string host;
    std::uint16_t port = 0;
    bool is_dns = false;
  };
  Result<TcpTarget> tcp_target() const;
  // Builds /ip4/<a>/tcp/<port> or /ip6/<a>/tcp/<port> from an IP literal.
  static Result<Multiaddr> from_ip_port(std::string_view ip, std::uint16_t port);

  friend bool operator==(const Multiaddr&, const Multiaddr&) = default;

 private:
  std::vector<Component> components_;
};

}  // namespace veil::p2p
