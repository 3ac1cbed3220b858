#include "veil/common/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include "veil/common/printable.h"

namespace veil {
namespace {

// Closes a descriptor when the read is over, whichever way it ends.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string_view file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

Status open_error(const std::string& name, int err) {
  const std::string message = name + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return not_found(message);
    case EACCES:
    case EPERM:
      return permission_denied(message);
    case ENXIO:
      return failed_precondition(name + " is a socket or a device without a reader; name a regular file");
    default:
      return unavailable(message);
  }
}

// "job spec big.yaml is 100 MiB; a job spec may be at most 1 MiB".
Status too_large(const std::string& name, FileLimit limit, std::string_view size) {
  return out_of_range(name + " is " + std::string(size) + "; a " + std::string(limit.kind) +
                      " may be at most " + format_byte_size(limit.max_bytes));
}

// Reads into `out` (a std::string or Bytes), never more than limit + 1 bytes.
template <typename Container>
Status read_bounded(const std::filesystem::path& path, FileLimit limit, Container& out) {
  const std::string name = std::string(limit.kind) + " " + printable(path.string());
  // O_NONBLOCK: opening a FIFO that no one writes to must not hang before fstat can refuse it.
  const Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return open_error(name, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return data_loss(name + ": fstat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return failed_precondition(name + " is " + std::string(file_type_name(st.st_mode)) +
                               ", not a regular file; name a regular file");
  }
  if (static_cast<std::uintmax_t>(st.st_size) > limit.max_bytes) {
    return too_large(name, limit, format_byte_size(static_cast<std::size_t>(st.st_size)));
  }
  // The size fstat gave is a hint (a file may grow while we read, /proc files say 0): read until
  // end of file, but stop one byte past the limit.
  std::size_t capacity = std::min<std::size_t>(static_cast<std::size_t>(st.st_size), limit.max_bytes) + 1;
  out.resize(capacity);
  std::size_t filled = 0;
  for (;;) {
    if (filled == out.size()) {
      if (filled > limit.max_bytes)
        return too_large(name, limit, "larger than " + format_byte_size(limit.max_bytes));
      out.resize(std::min(out.size() * 2, limit.max_bytes + 1));
    }
    const ssize_t n = ::read(fd.get(), out.data() + filled, out.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return data_loss(name + ": read: " + std::strerror(errno));
    if (n == 0) break;
    filled += static_cast<std::size_t>(n);
  }
  if (filled > limit.max_bytes)
    return too_large(name, limit, "larger than " + format_byte_size(limit.max_bytes));
  out.resize(filled);
  return {};
}

}  // namespace

Result<std::string> read_file(const std::filesystem::path& path, FileLimit limit) {
  std::string text;
  VEIL_RETURN_IF_ERROR(read_bounded(path, limit, text));
  return text;
}

Result<Bytes> read_file_bytes(const std::filesystem::path& path, FileLimit limit) {
  Bytes bytes;
  VEIL_RETURN_IF_ERROR(read_bounded(path, limit, bytes));
  return bytes;
}

std::string format_byte_size(std::size_t bytes) {
  static constexpr std::pair<std::size_t, std::string_view> kUnits[] = {
      {kGiB, "GiB"}, {kMiB, "MiB"}, {kKiB, "KiB"}};
  for (const auto& [size, unit] : kUnits) {
    if (bytes >= size && bytes % size == 0) return std::to_string(bytes / size) + " " + std::string(unit);
  }
  return std::to_string(bytes) + " bytes";
}

}  // namespace veil
