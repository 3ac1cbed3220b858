// Reading a whole file that someone else may have named: the one bounded reader every file
// the CLI or the node reads goes through.
//
// A path from a flag or a setting can name /dev/zero, a FIFO nobody writes to, a directory or
// a 100 GB file. read_file() opens the path first and then asks the opened descriptor what it
// is (fstat, so the answer cannot change between the check and the read), refuses anything but
// a regular file, and never reads more than the limit for that kind of file plus one byte,
// whatever the file claims its size is. Errors name the file, its kind and the limit.
//
// Thread safety: pure functions of the file system.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "veil/common/bytes.h"
#include "veil/common/status.h"

namespace veil {

// What a file is for, as messages name it, and the most bytes it may hold.
struct FileLimit {
  std::string_view kind;  // "job spec", "config file", ...
  std::size_t max_bytes;
};

inline constexpr std::size_t kKiB = std::size_t{1} << 10;
inline constexpr std::size_t kMiB = std::size_t{1} << 20;
inline constexpr std::size_t kGiB = std::size_t{1} << 30;

// The limits of the files Veil Stack reads (docs/operations.md lists them).
inline constexpr FileLimit kJobSpecFile{"job spec", 1 * kMiB};
inline constexpr FileLimit kConfigFile{"config file", 1 * kMiB};
inline constexpr FileLimit kNodeListFile{"node list", 1 * kMiB};  // veil job plan --nodes
inline constexpr FileLimit kJobRecordFile{"job record", 16 * kMiB};  // veil audit --record
inline constexpr FileLimit kKeyFile{"key file", 4 * kKiB};        // secp256k1 hex, member.key/.pub
inline constexpr FileLimit kApiTokenFile{"API token file", 4 * kKiB};
inline constexpr FileLimit kSecretFile{"secret", 64 * kKiB};  // a job secret's from_file (sched::kMaxSecretBytes)
inline constexpr FileLimit kCommitteeFile{"committee file", 1 * kMiB};  // committee.bin, committee.json
inline constexpr FileLimit kDecryptionRequestFile{"decryption request", 64 * kKiB};
inline constexpr FileLimit kCiphertextFile{"ciphertext", 64 * kMiB};
inline constexpr FileLimit kKeyShareFile{"key share", 64 * kMiB};
inline constexpr FileLimit kFheKeyFile{"FHE key", 1 * kGiB};               // client, public, squashing keys
inline constexpr FileLimit kFheServerKeyFile{"FHE server key", 4 * kGiB};  // what a node loads at start

// The whole of `path`, at most `limit.max_bytes` bytes.
// Errors: not_found (no such file), permission_denied (not readable), failed_precondition (a
// directory, device, FIFO or socket), out_of_range (larger than the limit), data_loss (a read
// failed). Every message starts with "<kind> <path>".
Result<std::string> read_file(const std::filesystem::path& path, FileLimit limit);

// read_file() as bytes, for binary formats.
Result<Bytes> read_file_bytes(const std::filesystem::path& path, FileLimit limit);

// "1 MiB", "64 KiB", "4 GiB", or "N bytes" when not a whole number of those.
std::string format_byte_size(std::size_t bytes);

}  // namespace veil
