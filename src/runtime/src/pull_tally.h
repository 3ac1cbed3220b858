// Sums the progress messages of a Docker Engine pull (POST /images/create streams one JSON
// object per line: {"status": "Downloading", "id": LAYER, "progressDetail": {"current", "total"}},
// "Pull complete", "Already exists", ...) into one PullProgress. Lines that are not such messages
// (the "Pulling from REPO" line, whose id is the tag; digests; errors; malformed JSON) are
// ignored: progress is advice, and the pull's result is decided elsewhere.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "veil/runtime/container.h"

namespace veil::runtime {

class PullTally {
 public:
  // Returns true when the message changed the sums.
  bool add(const nlohmann::json& message);
  PullProgress progress() const;

 private:
  struct Layer {
    std::uint64_t current = 0, total = 0;
    bool done = false;
  };
  std::map<std::string, Layer> layers_;
};

}  // namespace veil::runtime
