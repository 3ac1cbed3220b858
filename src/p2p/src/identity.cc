#include "veil/p2p/identity.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

#include "veil/p2p/encoding.h"
#include "veil/p2p/protobuf.h"

namespace veil::p2p {
namespace {

constexpr std::uint8_t kIdentityHash = 0x00;
constexpr std::uint8_t kSha256Hash = 0x12;
constexpr std::uint64_t kLibp2pKeyCodec = 0x72;
constexpr std::size_t kMaxInlineKey = 42;

void ensure_sodium() {
  static const int once = sodium_init();
  (void)once;
}

struct KeyProto {
  std::uint64_t type = ~0ull;
  ByteView data;
};

Result<KeyProto> decode_key_proto(ByteView protobuf) {
  pb::Reader reader(protobuf);
  pb::Field f;
  KeyProto key;
  bool have_data = false;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(bool more, reader.next(&f));
    if (!more) break;
    if (f.number == 1 && f.type == pb::kVarint) key.type = f.value;
    if (f.number == 2 && f.type == pb::kLengthDelimited) {
      key.data = f.payload;
      have_data = true;
    }
  }
  if (key.type == ~0ull || !have_data) return invalid_argument("key protobuf lacks Type or Data");
  if (key.type != static_cast<std::uint64_t>(KeyType::kEd25519)) {
    return unimplemented("key type " + std::to_string(key.type) + " is not supported (only Ed25519)");
  }
  return key;
}

}  // namespace

Result<PublicKey> PublicKey::decode(ByteView protobuf) {
  VEIL_ASSIGN_OR_RETURN(KeyProto key, decode_key_proto(protobuf));
  if (key.data.size() != kSize) return invalid_argument("Ed25519 public key must be 32 bytes");
  std::array<std::uint8_t, kSize> raw{};
  std::memcpy(raw.data(), key.data.data(), kSize);
  return PublicKey(raw);
}

Bytes PublicKey::encode() const {
  pb::Writer w;
  w.varint(1, static_cast<std::uint64_t>(KeyType::kEd25519));
  w.bytes(2, raw_);
  return w.take();
}

bool PublicKey::verify(ByteView message, ByteView signature) const {
  ensure_sodium();
  if (signature.size() != crypto_sign_BYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), raw_.data()) == 0;
}

KeyPair KeyPair::generate() {
  ensure_sodium();
  KeyPair kp;
  std::array<std::uint8_t, 32> pk{};
  crypto_sign_keypair(pk.data(), kp.secret_.data());
  kp.public_ = PublicKey(pk);
  return kp;
}

KeyPair KeyPair::from_seed(ByteView seed32) {
  ensure_sodium();
  KeyPair kp;
  std::array<std::uint8_t, 32> pk{};
  std::array<std::uint8_t, 32> seed{};
  std::memcpy(seed.data(), seed32.data(), std::min<std::size_t>(32, seed32.size()));
  crypto_sign_seed_keypair(pk.data(), kp.secret_.data(), seed.data());
  secure_wipe(seed.data(), seed.size());
  kp.public_ = PublicKey(pk);
  return kp;
}

Result<KeyPair> KeyPair::decode_private(ByteView protobuf) {
  VEIL_ASSIGN_OR_RETURN(KeyProto key, decode_key_proto(protobuf));
  // 96 bytes is an old go-libp2p form (seed || public || public); both start with the seed.
  if (key.data.size() != 64 && key.data.size() != 96) {
    return invalid_argument("Ed25519 private key must be 64 bytes");
  }
  KeyPair kp = from_seed(key.data.first(32));
  if (std::memcmp(kp.public_.raw().data(), key.data.data() + 32, 32) != 0) {
    return invalid_argument("Ed25519 private key: public half does not match the seed");
  }
  return kp;
}

Bytes KeyPair::encode_private() const {
  pb::Writer w;
  w.varint(1, static_cast<std::uint64_t>(KeyType::kEd25519));
  w.bytes(2, secret_);
  return w.take();
}

KeyPair::~KeyPair() { secure_wipe(secret_.data(), secret_.size()); }

Bytes KeyPair::sign(ByteView message) const {
  ensure_sodium();
  Bytes sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_.data());
  return sig;
}

PeerId PeerId::from_public_key(const PublicKey& key) {
  Bytes proto = key.encode();
  PeerId id;
  if (proto.size() <= kMaxInlineKey) {
    id.multihash_.push_back(kIdentityHash);
    append_uvarint(id.multihash_, proto.size());
    id.multihash_.insert(id.multihash_.end(), proto.begin(), proto.end());
  } else {
    ensure_sodium();
    id.multihash_ = {kSha256Hash, 32};
    id.multihash_.resize(34);
    crypto_hash_sha256(id.multihash_.data() + 2, proto.data(), proto.size());
  }
  return id;
}

Result<PeerId> PeerId::from_bytes(ByteView multihash) {
  VEIL_ASSIGN_OR_RETURN(VarintDecode code, decode_uvarint(multihash));
  if (code.consumed == 0) return invalid_argument("PeerId: empty or truncated multihash");
  VEIL_ASSIGN_OR_RETURN(VarintDecode len, decode_uvarint(multihash.subspan(code.consumed)));
  if (len.consumed == 0) return invalid_argument("PeerId: truncated multihash length");
  std::size_t header = code.consumed + len.consumed;
  if (multihash.size() - header != len.value) return invalid_argument("PeerId: multihash length mismatch");
  if (code.value == kIdentityHash) {
    if (len.value > kMaxInlineKey) return invalid_argument("PeerId: identity multihash too long");
  } else if (code.value == kSha256Hash) {
    if (len.value != 32) return invalid_argument("PeerId: sha2-256 digest must be 32 bytes");
  } else {
    return invalid_argument("PeerId: unsupported multihash code " + std::to_string(code.value));
  }
  PeerId id;
  id.multihash_.assign(multihash.begin(), multihash.end());
  return id;
}

Result<PeerId> PeerId::parse(std::string_view text) {
  if (text.empty()) return invalid_argument("PeerId: empty string");
  if (text.starts_with("Qm") || text.starts_with("1")) {
    VEIL_ASSIGN_OR_RETURN(Bytes raw, base58btc_decode(text));
    return from_bytes(raw);
  }
  if (text[0] == 'b' || text[0] == 'B') {
    VEIL_ASSIGN_OR_RETURN(Bytes cid, base32_decode(text.substr(1)));
    VEIL_ASSIGN_OR_RETURN(VarintDecode version, decode_uvarint(cid));
    if (version.consumed == 0 || version.value != 1) return invalid_argument("PeerId: CID is not version 1");
    ByteView rest = ByteView(cid).subspan(version.consumed);
    VEIL_ASSIGN_OR_RETURN(VarintDecode codec, decode_uvarint(rest));
    if (codec.consumed == 0 || codec.value != kLibp2pKeyCodec) {
      return invalid_argument("PeerId: CID codec is not libp2p-key (0x72)");
    }
    return from_bytes(rest.subspan(codec.consumed));
  }
  return invalid_argument("PeerId: expected base58btc (12D3Koo…/Qm…) or a base32 CIDv1 (b…)");
}

std::string PeerId::to_base58() const { return base58btc_encode(multihash_); }

std::string PeerId::to_cid_base32() const {
  Bytes cid;
  append_uvarint(cid, 1);
  append_uvarint(cid, kLibp2pKeyCodec);
  cid.insert(cid.end(), multihash_.begin(), multihash_.end());
  return "b" + base32_encode(cid);
}

Result<PublicKey> PeerId::public_key() const {
  if (multihash_.size() < 2 || multihash_[0] != kIdentityHash) {
    return not_found("PeerId does not inline its public key");
  }
  auto len = decode_uvarint(ByteView(multihash_).subspan(1));
  if (!len.ok() || len->consumed == 0) return invalid_argument("PeerId: bad multihash");
  return PublicKey::decode(ByteView(multihash_).subspan(1 + len->consumed));
}

bool PeerId::matches(const PublicKey& key) const { return from_public_key(key) == *this; }

Status save_key_file(const std::filesystem::path& path, const KeyPair& key) {
  Bytes data = key.encode_private();
  std::string tmp = path.string() + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return permission_denied("cannot create key file " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);  // in case the file existed with wider permissions
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  secure_wipe(data);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return unavailable("cannot write key file " + path.string() + ": " + std::strerror(errno));
  }
  return {};
}

Result<KeyPair> load_key_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return not_found("key file " + path.string() + " does not exist");
  if ((st.st_mode & 077) != 0) {
    return permission_denied("key file " + path.string() +
                             " is readable by group or others; run: chmod 600 " + path.string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return permission_denied("cannot open key file " + path.string());
  Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto key = KeyPair::decode_private(data);
  secure_wipe(data);
  if (!key.ok()) return key.status().with_context("key file " + path.string());
  return key;
}

Result<KeyPair> load_or_create_key_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return load_key_file(path);
  KeyPair key = KeyPair::generate();
  VEIL_RETURN_IF_ERROR(save_key_file(path, key));
  return key;
}

}  // namespace veil::p2p
