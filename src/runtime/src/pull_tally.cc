#include "pull_tally.h"

#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>

namespace veil::runtime {

namespace {

// The statuses the engine gives a layer (distribution/xfer progress); anything else is about
// the image as a whole.
bool is_layer_status(std::string_view status) {
  for (std::string_view known : {"Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete",
                                 "Extracting", "Pull complete", "Already exists", "Retrying"}) {
    if (status.rfind(known, 0) == 0) return true;
  }
  return false;
}

std::uint64_t count_field(const nlohmann::json& detail, const char* name) {
  if (!detail.is_object()) return 0;
  auto it = detail.find(name);
  if (it == detail.end() || !it->is_number_integer()) return 0;
  const auto value = it->get<std::int64_t>();
  return value > 0 ? static_cast<std::uint64_t>(value) : 0;
}

}  // namespace

bool PullTally::add(const nlohmann::json& message) {
  if (!message.is_object()) return false;
  auto status_it = message.find("status");
  auto id_it = message.find("id");
  if (status_it == message.end() || !status_it->is_string() || id_it == message.end() || !id_it->is_string()) return false;
  const std::string status = status_it->get<std::string>();
  if (!is_layer_status(status)) return false;
  const std::string id = id_it->get<std::string>();
  const bool is_new = layers_.count(id) == 0;
  Layer& layer = layers_[id];
  const Layer before = layer;
  if (status == "Downloading") {
    const auto detail = message.value("progressDetail", nlohmann::json::object());
    layer.total = std::max(layer.total, count_field(detail, "total"));
    layer.current = std::max(layer.current, count_field(detail, "current"));
    if (layer.total > 0) layer.current = std::min(layer.current, layer.total);
  } else if (status == "Download complete" || status.rfind("Extracting", 0) == 0) {
    layer.current = layer.total;
  } else if (status == "Pull complete" || status == "Already exists") {
    layer.current = layer.total;
    layer.done = true;
  }
  return is_new || before.current != layer.current || before.total != layer.total || before.done != layer.done;
}

PullProgress PullTally::progress() const {
  PullProgress out;
  out.layers = layers_.size();
  for (const auto& [id, layer] : layers_) {
    if (layer.done) ++out.layers_done;
    if (layer.total == 0) continue;  // bytes without a size would make a fraction over 100 %
    out.bytes_done += layer.current;
    out.bytes_total += layer.total;
  }
  return out;
}

}  // namespace veil::runtime
