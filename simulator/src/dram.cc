// Sparse device DRAM (device_state.h): 64 KiB pages allocated on first write; unwritten bytes read
// 0.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_format.h"
#include "tpusim/simulator/device_state.h"

namespace tpusim::simulator {

Dram Dram::Clone() const {
  Dram copy(size_);
  for (const auto& [page, data] : pages_) {
    auto bytes = std::make_unique<uint8_t[]>(kPageBytes);
    std::memcpy(bytes.get(), data.get(), kPageBytes);
    copy.pages_.emplace(page, std::move(bytes));
  }
  return copy;
}

absl::Status Dram::CheckRange(uint64_t addr, uint64_t n) const {
  // Written as two comparisons so that addr + n never overflows.
  if (n > size_ || addr > size_ - n) {
    const unsigned __int128 end = static_cast<unsigned __int128>(addr) + n;
    return absl::OutOfRangeError(
        absl::StrFormat("DRAM range [0x%x, 0x%x%s) (%u bytes) is outside the %u-byte DRAM", addr,
                        static_cast<uint64_t>(end), end > UINT64_MAX ? " + 2^64" : "", n, size_));
  }
  return absl::OkStatus();
}

absl::Status Dram::Read(uint64_t addr, void* dst, uint64_t n) const {
  if (absl::Status s = CheckRange(addr, n); !s.ok()) return s;
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const uint64_t page = addr / kPageBytes;
    const uint64_t offset = addr % kPageBytes;
    const uint64_t chunk = std::min(n, kPageBytes - offset);
    auto it = pages_.find(page);
    if (it == pages_.end()) {
      std::memset(out, 0, chunk);
    } else {
      std::memcpy(out, it->second.get() + offset, chunk);
    }
    out += chunk;
    addr += chunk;
    n -= chunk;
  }
  return absl::OkStatus();
}

absl::Status Dram::Write(uint64_t addr, const void* src, uint64_t n) {
  if (absl::Status s = CheckRange(addr, n); !s.ok()) return s;
  const auto* in = static_cast<const uint8_t*>(src);
  while (n > 0) {
    const uint64_t page = addr / kPageBytes;
    const uint64_t offset = addr % kPageBytes;
    const uint64_t chunk = std::min(n, kPageBytes - offset);
    std::unique_ptr<uint8_t[]>& data = pages_[page];
    if (!data) data.reset(new uint8_t[kPageBytes]());  // zero-filled
    std::memcpy(data.get() + offset, in, chunk);
    in += chunk;
    addr += chunk;
    n -= chunk;
  }
  return absl::OkStatus();
}

}  // namespace tpusim::simulator
