// The corpus list and what every corpus program shares: arch loading, the RTL subset, fresh devices
// and launches.
#include "cosim_corpus.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "tpusim/isa/arch_config.h"

namespace tpusim::rtl::cosim {

namespace {

// Random programs per (arch, mode): `tiny` is the CI size, the 16x16 core the second model.
constexpr uint32_t kTinySeedsPerMode = 20;
constexpr uint32_t kArch16SeedsPerMode = 5;
constexpr char kArch16Path[] = "configs/rtl-16x16.textproto";

std::string ModeName(isa::MatmulType mode) { return mode == isa::INT8_INT32 ? "int8" : "bf16"; }

}  // namespace

std::vector<CosimSpec> RandomSpecs() {
  std::vector<CosimSpec> specs;
  struct ArchSeeds {
    std::string label, arch;
    uint32_t seeds;
  };
  for (const ArchSeeds& a : {ArchSeeds{"tiny", "tiny", kTinySeedsPerMode},
                             ArchSeeds{"a16x16", kArch16Path, kArch16SeedsPerMode}}) {
    for (isa::MatmulType mode : {isa::BF16_FP32, isa::INT8_INT32}) {
      for (uint32_t seed = 1; seed <= a.seeds; ++seed) {
        specs.push_back({absl::StrCat(a.label, "_", ModeName(mode), "_seed", seed),
                         CosimKind::kRandom, a.arch, mode, seed, ""});
      }
    }
  }
  return specs;
}

std::vector<CosimSpec> CompiledSpecs() {
  std::vector<CosimSpec> specs;
  for (const char* layer : {"gemm_8x16x8_bias_relu_bf16", "gemm_5x20x12_bias_relu_highest",
                            "gemm_transb_9x12x10_bias_bf16", "matmul_6x8x16_relu_high_serial",
                            "add_6x10", "mul_bcast_4x12", "reduce_sum_6x20_axis1",
                            "reduce_max_12x5_axis0", "mlp_784_100_10_logits_b8"}) {
    specs.push_back({layer, CosimKind::kCompiled, "tiny", isa::BF16_FP32, 7, layer});
  }
  return specs;
}

absl::StatusOr<CosimCase> BuildCase(const CosimSpec& spec) {
  absl::StatusOr<CosimCase> c =
      spec.kind == CosimKind::kRandom ? RandomCase(spec) : CompiledCase(spec);
  if (!c.ok()) {
    return absl::Status(c.status().code(),
                        absl::StrCat("corpus case ", spec.name, ": ", c.status().message()));
  }
  return c;
}

absl::StatusOr<isa::ArchConfig> LoadCosimArch(const std::string& name_or_path) {
  if (name_or_path.find('/') == std::string::npos) return isa::LoadPreset(name_or_path);
  const char* root = std::getenv("TPUSIM_SOURCE_DIR");
  return isa::LoadArchConfigFile(absl::StrCat(root != nullptr ? root : TPUSIM_SOURCE_DIR, "/",
                                              name_or_path));
}

std::vector<isa::VectorOp> RtlVectorOps(isa::MatmulType mode) {
  using Op = isa::VectorOp;
  if (mode == isa::INT8_INT32) return {Op::Copy, Op::Relu};
  return {Op::Copy,   Op::Relu,   Op::RoundBf16, Op::Add,       Op::Sub,       Op::Mul,
          Op::Max,    Op::Min,    Op::AddImm,    Op::MulImm,    Op::Fill,      Op::ReduceSum,
          Op::ReduceMax, Op::Abs, Op::MaxImm,    Op::MinImm,    Op::LeakyRelu, Op::CvtI2f,
          Op::CvtF2i};
}

absl::Status InRtlSubset(const std::vector<isa::Instruction>& code, isa::MatmulType mode) {
  const std::vector<isa::VectorOp> ops = RtlVectorOps(mode);
  for (size_t i = 0; i < code.size(); ++i) {
    const isa::Instruction& inst = code[i];
    bool ok = true;
    if (inst.opcode == isa::Opcode::MATMUL) {
      ok = inst.as<isa::MatmulArgs>().rows > 0;
    } else if (inst.opcode == isa::Opcode::ACTIVATE) {
      const auto& a = inst.as<isa::ActivateArgs>();
      ok = a.rows > 0 && (a.func == static_cast<uint64_t>(isa::ActFunc::None) ||
                          a.func == static_cast<uint64_t>(isa::ActFunc::Relu) ||
                          (mode == isa::INT8_INT32 &&
                           a.func == static_cast<uint64_t>(isa::ActFunc::Requantize)));
    } else if (inst.opcode == isa::Opcode::VECTOR) {
      const auto& a = inst.as<isa::VectorArgs>();
      ok = a.rows > 0 && std::any_of(ops.begin(), ops.end(), [&](isa::VectorOp o) {
             return static_cast<uint64_t>(o) == a.op;
           });
      if (ok && isa::VectorOpArity(static_cast<isa::VectorOp>(a.op)) != isa::VectorArity::Reduce) {
        auto inside = [&](uint64_t src) { return a.dst_row > src && a.dst_row < src + a.rows; };
        const bool binary =
            isa::VectorOpArity(static_cast<isa::VectorOp>(a.op)) == isa::VectorArity::Binary;
        ok = !inside(a.a_row) && !(binary && !a.b_bcast && inside(a.b_row));
      }
    }
    if (!ok) {
      return absl::UnimplementedError(absl::StrCat("instruction ", i, " (",
                                                   isa::Disassemble(inst),
                                                   ") is outside the RTL subset"));
    }
  }
  return absl::OkStatus();
}

std::string RandomDramBytes(uint64_t bytes, uint32_t seed) {
  std::mt19937_64 rng(seed ^ 0x5eedD8A3ull);
  static constexpr uint32_t kSpecial[] = {
      0x7fc00000, 0xffc00001, 0x7f800001, 0x7fa00000,  // quiet / signalling NaNs with payloads
      0x7f800000, 0xff800000,                          // +-Inf
      0x00000000, 0x80000000,                          // +-0
      0x00000001, 0x807fffff, 0x00400000,              // subnormals
      0x00800000, 0x7f7fffff, 0xff7fffff,              // smallest normal, +-largest finite
      0x3f808000, 0x3f818000,                          // bf16 rounding ties (even / odd)
      0x0000007f, 0xffffff80, 0x7fffffff, 0x80000000}; // int8 / int32 extremes
  std::string out(bytes, '\0');
  for (uint64_t off = 0; off + 4 <= bytes; off += 4) {
    uint32_t word;
    switch (rng() % 8) {
      case 0:
        word = kSpecial[rng() % std::size(kSpecial)];
        break;
      case 1:
        word = static_cast<uint32_t>(rng());
        break;
      case 2:
        word = static_cast<uint32_t>(static_cast<int32_t>(rng() % 256) - 128);
        break;
      default: {
        const float f = std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
        std::memcpy(&word, &f, 4);
      }
    }
    std::memcpy(&out[off], &word, 4);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<simulator::DeviceState>> FreshState(const CosimCase& c) {
  auto state = std::make_unique<simulator::DeviceState>(c.arch, c.mode);
  for (const DramSegment& seg : c.dram) {
    if (seg.offset + seg.bytes.size() > c.frame_bytes) {
      return absl::OutOfRangeError(absl::StrCat(c.name, ": a DRAM segment of ", seg.bytes.size(),
                                                " bytes at ", seg.offset, " leaves the ",
                                                c.frame_bytes, "-byte frame"));
    }
    absl::Status s = state->dram.Write(seg.offset, seg.bytes.data(), seg.bytes.size());
    if (!s.ok()) return s;
  }
  return state;
}

absl::StatusOr<simulator::RunStats> RunOn(const CosimCase& c, std::string_view engine,
                                          const std::vector<isa::Instruction>& code,
                                          simulator::DeviceState& state, bool collect_trace) {
  absl::StatusOr<std::unique_ptr<simulator::Engine>> e = simulator::CreateEngine(engine, c.arch);
  if (!e.ok()) return e.status();
  // A prefix of the code runs with the frame only: the debug info describes the whole program.
  isa::Program frame_only;
  frame_only.set_isa_version(c.program.isa_version());
  *frame_only.mutable_arch() = c.program.arch();
  frame_only.set_frame_bytes(c.frame_bytes);
  simulator::Launch launch;
  launch.program = code.size() == c.code.size() ? &c.program : &frame_only;
  launch.code = &code;
  launch.frame_base = 0;
  launch.collect_trace = collect_trace;
  return (*e)->Run(launch, state);
}

}  // namespace tpusim::rtl::cosim
