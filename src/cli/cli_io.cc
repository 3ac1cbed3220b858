#include "cli_io.h"

#include <sys/stat.h>

#include <fstream>
#include <iostream>

#include "commands.h"

namespace veil::cli {

namespace fs = std::filesystem;

int fail(const std::string& message) {
  std::cerr << "veil: error: " << message << "\n";
  return kExitFailure;
}

int usage(const std::string& message) {
  std::cerr << "veil: " << message << "\n";
  return kExitUsage;
}

Result<Bytes> read_file(const fs::path& path, std::size_t limit) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return not_found(path.string() + ": " + ec.message());
  if (size > limit) {
    return out_of_range(path.string() + ": " + std::to_string(size) + " bytes exceed the limit of " +
                        std::to_string(limit));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found(path.string() + ": cannot open");
  Bytes out(size);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(size));
  if (!in) return data_loss(path.string() + ": short read");
  return out;
}

Status write_file(const fs::path& path, ByteView bytes, bool secret) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return permission_denied(path.string() + ": cannot write");
    if (secret) ::chmod(tmp.c_str(), 0600);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) return data_loss(path.string() + ": short write");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return permission_denied(path.string() + ": " + ec.message());
  return {};
}

}  // namespace veil::cli
