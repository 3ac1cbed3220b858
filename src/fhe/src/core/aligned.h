// Cache-line-aligned storage for the buffers the vector kernels stream through.
//
// glibc's malloc returns 16-byte-aligned blocks (and a large block sits 16 bytes past a page
// boundary), so a 64-byte AVX-512 load or store from a std::vector straddles two cache lines
// three times in four. A CMUX whose transforms, scratch and key all straddle took ~20 % longer
// than the same CMUX on aligned buffers (bench/README.md, "Cache-line-aligned buffers"). Every
// offset the kernels use inside these buffers (polynomials of N words, halves of N/2 values,
// GGSWs of 4N values) is a multiple of 64 bytes, so aligning the start aligns them all.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace veil::fhe::core {

inline constexpr std::size_t kCacheLineBytes = 64;

template <class T>
struct CacheLineAllocator {
  using value_type = T;

  CacheLineAllocator() noexcept = default;
  // Implicit, as the allocator requirements ask of rebinding conversions.
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}

  T* allocate(std::size_t count) {
    return static_cast<T*>(::operator new(count * sizeof(T), std::align_val_t{kCacheLineBytes}));
  }
  void deallocate(T* p, std::size_t count) noexcept {
    ::operator delete(p, count * sizeof(T), std::align_val_t{kCacheLineBytes});
  }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace veil::fhe::core
