#include "cli_io.h"

#include <sys/stat.h>

#include <fstream>
#include <iostream>

#include "commands.h"
#include "veil/common/printable.h"

namespace veil::cli {

namespace fs = std::filesystem;

namespace {

int report(std::string_view message, int code) {
  std::cerr << "veil: error: " << printable_lines(message) << "\n";
  return code;
}

}  // namespace

int fail(const Status& status) { return status.ok() ? kExitOk : report(status.message(), kExitFailure); }
int fail(std::string_view message) { return report(message, kExitFailure); }
int usage(const Status& status) { return status.ok() ? kExitOk : report(status.message(), kExitUsage); }
int usage(std::string_view message) { return report(message, kExitUsage); }

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
