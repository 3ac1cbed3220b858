// Fuzzes every decoder of the node's wire messages (protocol.h): each must return a value or a
// clear error for any bytes, never crash, hang or allocate without bound.
#include <cstddef>
#include <cstdint>

#include "veil/node/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::node;
  const veil::ByteView bytes(data, size);
  (void)decode_schedule_request(bytes);
  (void)decode_decision_announcement(bytes);
  (void)decode_decision_submission(bytes);
  (void)decode_decrypt_request(bytes);
  (void)decode_decrypt_response(bytes);
  (void)decode_assignment(bytes);
  (void)decode_assignment_ack(bytes);
  (void)decode_replica_report(bytes);
  (void)decode_logs_request(bytes);
  if (auto m = decode_logs_reply(bytes); m.ok()) {
    auto again = decode_logs_reply(encode(*m));
    if (!again.ok() || again->replicas.size() != m->replicas.size() || again->error != m->error) __builtin_trap();
  }
  // A message that decodes must encode to something that decodes to the same message.
  if (auto m = decode_replica_report(bytes); m.ok()) {
    auto again = decode_replica_report(encode(*m));
    if (!again.ok() || again->state != m->state || again->endpoint != m->endpoint) __builtin_trap();
  }
  if (auto m = decode_decision_announcement(bytes); m.ok()) {
    if (!m->signature.empty() && m->signature.size() != 65) __builtin_trap();
    auto again = decode_decision_announcement(encode(*m));
    if (!again.ok() || again->signature != m->signature || again->decision_hash != m->decision_hash ||
        again->scheduler != m->scheduler || again->error != m->error) {
      __builtin_trap();
    }
  }
  if (auto m = decode_schedule_request(bytes); m.ok()) {
    auto again = decode_schedule_request(encode(*m));
    if (!again.ok() || again->nodes != m->nodes || again->schedulers != m->schedulers) __builtin_trap();
  }
  return 0;
}
