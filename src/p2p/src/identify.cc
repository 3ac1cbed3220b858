#include "veil/p2p/identify.h"

#include "veil/p2p/protobuf.h"

namespace veil::p2p::identify {

Bytes encode(const Message& m) {
  pb::Writer w;
  if (!m.public_key.empty()) w.bytes(1, m.public_key);
  for (const auto& a : m.listen_addrs) w.bytes(2, a.to_bytes());
  for (const auto& p : m.protocols) w.string(3, p);
  if (m.observed_addr) w.bytes(4, m.observed_addr->to_bytes());
  if (!m.protocol_version.empty()) w.string(5, m.protocol_version);
  if (!m.agent_version.empty()) w.string(6, m.agent_version);
  return w.take();
}

Result<Message> decode(ByteView bytes) {
  constexpr std::size_t kMaxEntries = 1024;
  Message m;
  Status st = pb::for_each_bytes_field(bytes, [&m](std::uint32_t number, ByteView payload) -> Status {
    switch (number) {
      case 1: m.public_key.assign(payload.begin(), payload.end()); break;
      case 2: {
        if (m.listen_addrs.size() >= kMaxEntries) return out_of_range("identify: too many addresses");
        auto a = Multiaddr::from_bytes(payload);  // unknown transports (quic, ws) are skipped
        if (a.ok()) m.listen_addrs.push_back(std::move(*a));
        break;
      }
      case 3:
        if (m.protocols.size() >= kMaxEntries) return out_of_range("identify: too many protocols");
        m.protocols.push_back(to_string(payload));
        break;
      case 4: {
        auto a = Multiaddr::from_bytes(payload);
        if (a.ok()) m.observed_addr = std::move(*a);
        break;
      }
      case 5: m.protocol_version = to_string(payload); break;
      case 6: m.agent_version = to_string(payload); break;
      default: break;
    }
    return {};
  });
  if (!st.ok()) return st;
  return m;
}

}  // namespace veil::p2p::identify
