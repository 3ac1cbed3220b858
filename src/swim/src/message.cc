#include "veil/swim/message.h"

namespace veil::swim {

MemberId Directory::intern(std::string_view name) {
  if (auto it = ids_.find(std::string(name)); it != ids_.end()) return it->second;
  auto id = static_cast<MemberId>(names_.size());
  names_.emplace_back(name);
  addresses_.emplace_back();
  ids_.emplace(std::string(name), id);
  return id;
}

std::optional<MemberId> Directory::find(std::string_view name) const {
  auto it = ids_.find(std::string(name));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

std::string_view member_state_name(MemberState state) {
  switch (state) {
    case MemberState::kUnknown: return "unknown";
    case MemberState::kAlive: return "alive";
    case MemberState::kSuspect: return "suspect";
    case MemberState::kDead: return "dead";
    case MemberState::kLeft: return "left";
  }
  return "invalid";
}

std::string_view message_type_name(MessageType type) {
  switch (type) {
    case MessageType::kPing: return "ping";
    case MessageType::kPingReq: return "ping-req";
    case MessageType::kAck: return "ack";
    case MessageType::kNack: return "nack";
    case MessageType::kGossip: return "gossip";
    case MessageType::kPushPull: return "push-pull";
  }
  return "invalid";
}

}  // namespace veil::swim
