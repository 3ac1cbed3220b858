// Cache-line-aligned storage for the buffers the vector kernels stream through.
//
// glibc's malloc returns 16-byte-aligned blocks (and a large block sits 16 bytes past a page
// boundary), so a 64-byte AVX-512 load or store from a std::vector straddles two cache lines
// three times in four. A blind rotation whose transforms, scratch and key all straddled took
// ~1.4x as long as on aligned buffers (12.7 against 8.7 ms; bench/README.md, "Cache-line-aligned
// buffers"). Every offset the kernels use inside these buffers (polynomials of N words, halves
// of N/2 values, GGSWs of 4N values) is a multiple of 64 bytes, so aligning the start aligns
// them all. The keys also get huge pages (below).
#pragma once

#include <cstddef>
#include <new>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace veil::fhe::core {

inline constexpr std::size_t kCacheLineBytes = 64;
// Buffers of kHugePageThresholdBytes or more (the keys: 30-270 MB, streamed once per key switch
// or bootstrap) start on a 2 MiB boundary and ask Linux for transparent huge pages, which it
// gives only on request here (THP "madvise"): a 4 KiB page ends the hardware prefetcher's
// stream and costs a TLB entry every 64 lines. Measured: a lone key switch ~9 % faster, a
// blind rotation (whose 64 KiB GGSW a page holds 1/16 of) within the noise.
inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;
inline constexpr std::size_t kHugePageThresholdBytes = 4 * kHugePageBytes;

constexpr std::size_t alignment_for(std::size_t bytes) {
  return bytes < kHugePageThresholdBytes ? kCacheLineBytes : kHugePageBytes;
}

template <class T>
struct CacheLineAllocator {
  using value_type = T;

  CacheLineAllocator() noexcept = default;
  // Implicit, as the allocator requirements ask of rebinding conversions.
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}

  T* allocate(std::size_t count) {
    const std::size_t bytes = count * sizeof(T);
    void* p = ::operator new(bytes, std::align_val_t{alignment_for(bytes)});
#if defined(__linux__)
    // Advice only: a kernel without THP, or short of huge pages, keeps 4 KiB ones.
    if (bytes >= kHugePageThresholdBytes) madvise(p, bytes / kHugePageBytes * kHugePageBytes, MADV_HUGEPAGE);
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t count) noexcept {
    const std::size_t bytes = count * sizeof(T);
    ::operator delete(p, bytes, std::align_val_t{alignment_for(bytes)});
  }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace veil::fhe::core
