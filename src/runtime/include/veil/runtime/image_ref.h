// Image references as the Engine API and registries understand them:
//   [registry-host[:port]/]path[:tag][@sha256:<64 hex>]
//
// Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>

#include "veil/common/status.h"

namespace veil::runtime {

struct ImageReference {
  std::string repository;  // "127.0.0.1:5000/app" (registry host kept in it)
  std::string tag;         // empty when absent
  std::string digest;      // "sha256:..." or empty

  // "repo:tag", "repo@digest" or "repo:tag@digest".
  std::string to_string() const;
};

// Parses and validates a reference. invalid_argument names the bad part.
Result<ImageReference> parse_image_reference(std::string_view text);

// True for "sha256:" followed by 64 lower-case hex digits.
bool is_valid_digest(std::string_view digest);

}  // namespace veil::runtime
