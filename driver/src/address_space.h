// A device's address-space allocator: first-fit over an address-ordered free list, coalescing on free.
// Addresses are opaque 64-bit numbers in [base, base + capacity); base is nonzero so that 0 is never a
// valid device address. Every allocation is rounded up to kAlignment bytes and starts aligned.
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "tpusim/driver/driver.h"

namespace tpusim::driver::detail {

class AddressSpace {
 public:
  static constexpr uint64_t kAlignment = 256;

  // `device` names the owner in error messages ("/job:localhost/.../device:TPU:0").
  // The usable range is [base, base + capacity) shrunk to kAlignment boundaries. `limit` caps the
  // bytes live allocations may reserve (0 = the usable range); see CheckLimit.
  AddressSpace(std::string device, uint64_t base, uint64_t capacity, uint64_t limit = 0);

  // InvalidArgument if a nonzero `limit` exceeds the usable range of this space.
  absl::Status CheckLimit(uint64_t limit) const;

  // A fresh allocation of `bytes` (> 0) bytes; ResourceExhausted naming the request, the bytes free and
  // the largest free block when it does not fit.
  absl::StatusOr<DeviceMemory> Allocate(uint64_t bytes);
  // InvalidArgument unless `address` is the start of a live allocation.
  absl::Status Free(uint64_t address);

  // The live allocation that wholly holds [mem.address, mem.address + bytes), after checking that
  // `bytes` fits in `mem`. InvalidArgument if the address is in no live allocation (never allocated or
  // freed), OutOfRange if the range runs past the end of its allocation. `role` names the operand in
  // messages ("MemcpyHostToDevice destination").
  absl::StatusOr<DeviceMemory> Resolve(DeviceMemory mem, uint64_t bytes, const std::string& role) const;

  // Bytes reserved by live allocations, alignment padding included.
  uint64_t bytes_in_use() const;
  uint64_t bytes_free() const;
  // The counters, read under one lock.
  MemoryStats stats() const;

 private:
  struct Live {
    uint64_t requested;  // bytes asked for: the valid range of the allocation
    uint64_t reserved;   // requested rounded up to kAlignment
  };

  std::string device_;
  uint64_t capacity_;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> free_;  // start -> length, disjoint and never adjacent (coalesced)
  std::map<uint64_t, Live> live_;      // start -> allocation
  uint64_t limit_;                     // <= capacity_
  uint64_t in_use_ = 0;
  uint64_t peak_ = 0;
  uint64_t total_allocs_ = 0;
};

// "0x1f00" style hex, used in every address message.
std::string Hex(uint64_t value);

}  // namespace tpusim::driver::detail
