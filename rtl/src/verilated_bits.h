// Bit access to Verilated ports: scalars (CData .. QData) and VlWide<N> (N 32-bit words, bit 0 in
// word 0). Fields may straddle words; widths are at most 64 bits.
#pragma once

#include <cstdint>
#include <type_traits>

#include "verilated.h"

namespace tpusim::rtl {

template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
inline uint64_t GetBits(const T& v, unsigned lsb, unsigned width) {
  const uint64_t x = static_cast<uint64_t>(v) >> lsb;
  return width >= 64 ? x : x & ((uint64_t{1} << width) - 1);
}
template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
inline void SetBits(T& v, unsigned lsb, unsigned width, uint64_t value) {
  const uint64_t mask = (width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1) << lsb;
  v = static_cast<T>((static_cast<uint64_t>(v) & ~mask) | ((value << lsb) & mask));
}

template <std::size_t N>
inline uint64_t GetBits(const VlWide<N>& v, unsigned lsb, unsigned width) {
  uint64_t out = 0;
  for (unsigned done = 0; done < width;) {
    const unsigned bit = lsb + done, word = bit / 32, off = bit % 32;
    const unsigned take = std::min(32 - off, width - done);
    const uint64_t chunk = (static_cast<uint64_t>(v[word]) >> off) & ((uint64_t{1} << take) - 1);
    out |= chunk << done;
    done += take;
  }
  return out;
}
template <std::size_t N>
inline void SetBits(VlWide<N>& v, unsigned lsb, unsigned width, uint64_t value) {
  for (unsigned done = 0; done < width;) {
    const unsigned bit = lsb + done, word = bit / 32, off = bit % 32;
    const unsigned take = std::min(32 - off, width - done);
    const uint32_t mask = static_cast<uint32_t>(((uint64_t{1} << take) - 1) << off);
    const uint32_t chunk = static_cast<uint32_t>(((value >> done) & ((uint64_t{1} << take) - 1)) << off);
    v[word] = (v[word] & ~mask) | chunk;
    done += take;
  }
}

}  // namespace tpusim::rtl
