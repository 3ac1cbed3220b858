// Fuzzes the decoders of /veil/jobstate/1.0.0 (job_replication.h) and the record a holder
// parses from a push: each must return a value or a clear error for any bytes, never crash,
// hang or allocate without bound.
#include <cstddef>
#include <cstdint>

#include "veil/node/job_replication.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace veil::node;
  const veil::ByteView bytes(data, size);
  if (auto m = decode_job_state_request(bytes); m.ok()) {
    (void)parse_record(m->record);
    // A message that decodes must encode to something that decodes to the same message.
    auto again = decode_job_state_request(encode(*m));
    if (!again.ok() || again->kind != m->kind || again->job_id != m->job_id || again->record != m->record) __builtin_trap();
  }
  if (auto m = decode_job_state_reply(bytes); m.ok()) {
    for (const auto& r : m->records) (void)parse_record(r);
    auto again = decode_job_state_reply(encode(*m));
    if (!again.ok() || again->records != m->records || again->superseded != m->superseded) __builtin_trap();
  }
  return 0;
}
