#include "address_space.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tpusim::driver::detail {

std::string Hex(uint64_t value) { return absl::StrFormat("0x%x", value); }

namespace {
uint64_t AlignUp(uint64_t v) {
  return (v + AddressSpace::kAlignment - 1) / AddressSpace::kAlignment * AddressSpace::kAlignment;
}
uint64_t AlignDown(uint64_t v) { return v / AddressSpace::kAlignment * AddressSpace::kAlignment; }
}  // namespace

AddressSpace::AddressSpace(std::string device, uint64_t base, uint64_t capacity, uint64_t limit)
    : device_(std::move(device)) {
  const uint64_t start = AlignUp(std::max<uint64_t>(base, kAlignment));
  const uint64_t end =
      AlignDown(capacity > std::numeric_limits<uint64_t>::max() - base ? std::numeric_limits<uint64_t>::max()
                                                                       : base + capacity);
  capacity_ = end > start ? end - start : 0;
  if (capacity_ > 0) free_.emplace(start, capacity_);
  limit_ = limit == 0 ? capacity_ : std::min(limit, capacity_);
}

absl::Status AddressSpace::CheckLimit(uint64_t limit) const {
  if (limit <= capacity_) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(device_, ": DeviceOptions.memory_limit_bytes (", limit,
                                                 ") exceeds the device memory of ", capacity_, " bytes"));
}

absl::StatusOr<DeviceMemory> AddressSpace::Allocate(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t free_bytes = capacity_ - in_use_;
  uint64_t largest = 0;
  if (limit_ < capacity_ && bytes > 0 && (bytes > limit_ || AlignUp(bytes) > limit_ - in_use_)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        device_, ": cannot allocate ", bytes, " bytes (", AlignUp(std::min(bytes, capacity_)),
        " with alignment): ", in_use_, " bytes in use of the ", limit_,
        "-byte memory limit (DeviceOptions.memory_limit_bytes), ", limit_ - in_use_, " bytes free under it"));
  }
  if (bytes > 0 && bytes <= capacity_) {
    const uint64_t need = AlignUp(bytes);
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      const auto [start, length] = *it;
      if (length < need) {
        largest = std::max(largest, length);
        continue;
      }
      free_.erase(it);
      if (length > need) free_.emplace(start + need, length - need);
      live_.emplace(start, Live{bytes, need});
      in_use_ += need;
      peak_ = std::max(peak_, in_use_);
      ++total_allocs_;
      return DeviceMemory{start, bytes};
    }
  } else {
    for (const auto& [start, length] : free_) largest = std::max(largest, length);
  }
  if (bytes == 0) return absl::InvalidArgumentError(absl::StrCat(device_, ": cannot allocate 0 bytes"));
  return absl::ResourceExhaustedError(absl::StrCat(device_, ": cannot allocate ", bytes,
                                                   " bytes: ", free_bytes, " of ", capacity_,
                                                   " bytes free, largest free block ", largest, " bytes"));
}

absl::Status AddressSpace::Free(uint64_t address) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(address);
  if (it == live_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(device_, ": Free(", Hex(address), "): not the start of a live allocation"));
  }
  uint64_t start = address;
  uint64_t length = it->second.reserved;
  in_use_ -= length;
  live_.erase(it);
  // Merge with the free block that ends at `start` and the one that begins at `start + length`.
  auto next = free_.lower_bound(start);
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      length += prev->second;
      free_.erase(prev);
    }
  }
  if (next != free_.end() && next->first == start + length) {
    length += next->second;
    free_.erase(next);
  }
  free_.emplace(start, length);
  return absl::OkStatus();
}

absl::StatusOr<DeviceMemory> AddressSpace::Resolve(DeviceMemory mem, uint64_t bytes,
                                                   const std::string& role) const {
  if (bytes > mem.size) {
    return absl::OutOfRangeError(absl::StrCat(device_, ": ", role, ": ", bytes, " bytes do not fit the ",
                                              mem.size, "-byte buffer at ", Hex(mem.address)));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.upper_bound(mem.address);
  if (it == live_.begin() || mem.address >= std::prev(it)->first + std::prev(it)->second.requested) {
    return absl::InvalidArgumentError(absl::StrCat(device_, ": ", role, ": device address ", Hex(mem.address),
                                                   " is not in a live allocation"));
  }
  --it;
  const uint64_t end = it->first + it->second.requested;
  if (bytes > end - mem.address) {
    return absl::OutOfRangeError(absl::StrCat(device_, ": ", role, ": device range [", Hex(mem.address),
                                              ", +", bytes, " bytes) runs past the end of its allocation [",
                                              Hex(it->first), ", ", Hex(end), ")"));
  }
  return DeviceMemory{it->first, it->second.requested};
}

uint64_t AddressSpace::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

uint64_t AddressSpace::bytes_free() const {
  std::lock_guard<std::mutex> lock(mu_);
  return capacity_ - in_use_;
}

MemoryStats AddressSpace::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  MemoryStats s;
  s.bytes_in_use = in_use_;
  s.peak_bytes_in_use = peak_;
  s.bytes_limit = limit_;
  for (const auto& [start, length] : free_) s.largest_free_block = std::max(s.largest_free_block, length);
  s.largest_free_block = std::min(s.largest_free_block, limit_ - in_use_);
  s.num_allocs = live_.size();
  s.total_allocs = total_allocs_;
  return s;
}

}  // namespace tpusim::driver::detail
