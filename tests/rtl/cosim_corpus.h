// The cosimulation corpus (issue 4, item 4): programs that the `functional`, `cycle` and `rtl`
// engines run from identical fresh devices.
//
//   - Random valid programs over the RTL subset (cosim_random.cc), seeded, on `tiny` and on the
//     16x16 core arch (configs/rtl-16x16.textproto), in both matrix modes. Cross-queue hazards are
//     ordered by SIGNAL/WAIT or SYNC the way the compiler orders them (docs/timing.md "Data
//     effects"), so every engine must leave the same bytes.
//   - Compiled layers and the 784-100-10 MLP without its softmax (cosim_compiled.cc), on `tiny`.
//
// A CosimSpec is cheap (a name and a recipe): gtest enumerates them when it lists the tests, and a
// test builds its CosimCase (the program and the DRAM image) only when it runs.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "isa/proto/arch_config.pb.h"
#include "isa/proto/program.pb.h"
#include "tpusim/isa/isa.h"
#include "tpusim/simulator/device_state.h"
#include "tpusim/simulator/engine.h"

namespace tpusim::rtl::cosim {

enum class CosimKind { kRandom, kCompiled };

struct CosimSpec {
  std::string name;     // a gtest parameter name: [A-Za-z0-9_], unique in the corpus
  CosimKind kind = CosimKind::kRandom;
  std::string arch;     // "tiny" or a path under the source tree ("configs/rtl-16x16.textproto")
  isa::MatmulType mode = isa::BF16_FP32;
  uint32_t seed = 0;    // kRandom: the generator's seed; kCompiled: the input data's seed
  std::string layer;    // kCompiled: which layer (cosim_compiled.cc)
};

inline void PrintTo(const CosimSpec& spec, std::ostream* os) { *os << spec.name; }

// Bytes written into DRAM before the launch, at `offset` from the frame base.
struct DramSegment {
  uint64_t offset = 0;
  std::string bytes;
};

// Everything needed to run one corpus program from scratch. The frame is [0, frame_bytes) of DRAM
// (frame base 0); nothing outside it is touched (program.frame_bytes makes that a device error).
struct CosimCase {
  std::string name;
  isa::ArchConfig arch;
  isa::MatmulType mode = isa::BF16_FP32;
  isa::Program program;               // frame_bytes and debug info (code is also encoded in it)
  std::vector<isa::Instruction> code;  // the instructions, ending in HALT
  std::vector<DramSegment> dram;       // DRAM contents at the launch (inputs, constants)
  uint64_t frame_bytes = 0;
};

// The corpus: random programs, then compiled layers and the MLP.
std::vector<CosimSpec> RandomSpecs();
std::vector<CosimSpec> CompiledSpecs();
inline std::string SpecName(const CosimSpec& spec) { return spec.name; }

// Builds the case a spec describes (compiles, for kCompiled). Errors name the spec.
absl::StatusOr<CosimCase> BuildCase(const CosimSpec& spec);

// The random program generator (cosim_random.cc); `code` ends in HALT.
absl::StatusOr<CosimCase> RandomCase(const CosimSpec& spec);
// A compiled layer (cosim_compiled.cc).
absl::StatusOr<CosimCase> CompiledCase(const CosimSpec& spec);

// An ArchConfig by preset name or by a path relative to the source tree (TPUSIM_SOURCE_DIR).
absl::StatusOr<isa::ArchConfig> LoadCosimArch(const std::string& name_or_path);

// Whether every instruction is in the subset the RTL core implements: LOAD/STORE/LOAD_WEIGHTS,
// MATMUL, ACTIVATE none/relu, the VECTOR ops of RtlVectorOps(mode), tokens, SYNC, HALT; no 0-row
// MATMUL/ACTIVATE/VECTOR; no elementwise VECTOR whose destination starts inside a source
// (dst in (src, src + rows); dst == src is fine). Written here from that contract, independently of
// rtl::CheckRtlSupport, so that the two check each other; Unimplemented naming the first
// instruction outside it.
absl::Status InRtlSubset(const std::vector<isa::Instruction>& code, isa::MatmulType mode);
// The VECTOR ops the RTL implements in `mode` (int8: copy and relu only).
std::vector<isa::VectorOp> RtlVectorOps(isa::MatmulType mode);

// `bytes` of random DRAM (deterministic in `seed`), word by word: moderate floats, every special
// fp32 class (NaNs with payloads, infinities, zeros, subnormals, bf16 rounding ties), int8 and
// int32 extremes and raw bits (bf16 and int8 loads read halves and bytes of them).
std::string RandomDramBytes(uint64_t bytes, uint32_t seed);

// A fresh device for the case: on-chip state zero, DRAM holding case.dram.
absl::StatusOr<std::unique_ptr<simulator::DeviceState>> FreshState(const CosimCase& c);

// Runs `code` (the case's code or a prefix of it) on the named engine against `state`, with the
// case's program (frame bounds, debug info) and frame base 0.
absl::StatusOr<simulator::RunStats> RunOn(const CosimCase& c, std::string_view engine,
                                          const std::vector<isa::Instruction>& code,
                                          simulator::DeviceState& state,
                                          bool collect_trace = false);

}  // namespace tpusim::rtl::cosim
