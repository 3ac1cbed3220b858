// Identify (/ipfs/id/1.0.0) and Identify Push (/ipfs/id/push/1.0.0) messages
// (libp2p/specs identify/README.md). The host answers Identify on every connection and runs
// it against every new peer; this header holds the message codec.
//
//   Identify { protocolVersion = 5; agentVersion = 6; publicKey = 1; listenAddrs = 2
//              (repeated, binary multiaddrs); observedAddr = 4; protocols = 3 (repeated) }
// On the wire the message is prefixed with its uvarint length; the sender then closes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "veil/common/bytes.h"
#include "veil/common/status.h"
#include "veil/p2p/identity.h"
#include "veil/p2p/multiaddr.h"

namespace veil::p2p::identify {

inline constexpr std::string_view kProtocolId = "/ipfs/id/1.0.0";
inline constexpr std::string_view kPushProtocolId = "/ipfs/id/push/1.0.0";
inline constexpr std::string_view kProtocolVersion = "ipfs/0.1.0";
inline constexpr std::size_t kMaxMessage = 64 * 1024;

struct Message {
  std::string protocol_version;
  std::string agent_version;
  Bytes public_key;                     // PublicKey protobuf, may be empty
  std::vector<Multiaddr> listen_addrs;  // entries that fail to parse are skipped
  std::optional<Multiaddr> observed_addr;
  std::vector<std::string> protocols;
};

Bytes encode(const Message& m);
// Fails on malformed protobuf or more than 1024 protocols/addresses.
Result<Message> decode(ByteView bytes);

}  // namespace veil::p2p::identify
