#include "veil/node/api_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "veil/common/bytes.h"
#include "veil/common/log.h"
#include "veil/common/read_file.h"

namespace veil::node {
namespace {

Status errno_status(const std::string& what, int err) {
  std::string message = what + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM || err == EROFS) return permission_denied(message);
  if (err == ENOENT) return not_found(message);
  return unavailable(message);
}

Result<std::string> fresh_token() {
  std::array<std::uint8_t, 32> secret{};
  std::size_t filled = 0;
  while (filled < secret.size()) {
    ssize_t n = ::getrandom(secret.data() + filled, secret.size() - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return errno_status("getrandom", errno);
    filled += static_cast<std::size_t>(n);
  }
  std::string token = to_hex(ByteView(secret.data(), secret.size()));
  secure_wipe(secret.data(), secret.size());
  return token;
}

// Writes `text` to a new file with mode 0600 and a unique name starting with `prefix`,
// returning its path.
Result<std::string> write_private_temp_file(const std::string& prefix, const std::string& text) {
  std::string path = prefix + ".XXXXXX";
  int fd = ::mkstemp(path.data());  // mode 0600, created exclusively
  if (fd < 0) return errno_status("cannot create a file beside " + prefix, errno);
  Status status;
  std::size_t done = 0;
  while (status.ok() && done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) status = errno_status("cannot write " + path, errno);
    else done += static_cast<std::size_t>(n);
  }
  if (status.ok() && ::fsync(fd) != 0) status = errno_status("fsync " + path, errno);
  ::close(fd);
  if (!status.ok()) {
    ::unlink(path.c_str());
    return status;
  }
  return path;
}

}  // namespace

std::string api_token_path(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "api.token").string();
}

Result<std::string> load_api_token(const std::string& data_dir) {
  std::string path = api_token_path(data_dir);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT)
      return not_found("no API token at " + path +
                       ": start the node once (`veil node run`, which creates it) or set VEIL_API_TOKEN");
    return errno_status("cannot read " + path, errno);
  }
  if ((st.st_mode & 077) != 0)
    veil::log::get("api")->warn("{} is readable by other users (mode {:o}); chmod 600 it", path,
                                st.st_mode & 0777);
  VEIL_ASSIGN_OR_RETURN(std::string token, read_file(path, kApiTokenFile));
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  token.erase(token.begin(), std::find_if(token.begin(), token.end(), not_space));
  token.erase(std::find_if(token.rbegin(), token.rend(), not_space).base(), token.end());
  if (token.empty()) return invalid_argument(path + " is empty: delete it and restart the node to make a new token");
  return token;
}

Result<std::string> ensure_api_token(const std::string& data_dir) {
  std::string path = api_token_path(data_dir);
  std::error_code ec;
  if (std::filesystem::create_directories(data_dir, ec))
    std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all, ec);
  if (ec) return errno_status("cannot create " + data_dir, ec.value());
  if (::access(path.c_str(), F_OK) == 0) return load_api_token(data_dir);
  VEIL_ASSIGN_OR_RETURN(std::string token, fresh_token());
  // Written aside and linked into place, so a concurrent reader never sees a half-written
  // file and two racing creators agree on the one that linked first.
  VEIL_ASSIGN_OR_RETURN(std::string aside, write_private_temp_file(path, token + "\n"));
  int linked = ::link(aside.c_str(), path.c_str());
  int link_errno = errno;
  ::unlink(aside.c_str());
  if (linked != 0) {
    if (link_errno == EEXIST) return load_api_token(data_dir);
    return errno_status("cannot create " + path, link_errno);
  }
  return token;
}

}  // namespace veil::node
