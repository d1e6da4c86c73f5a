// The `rtl` engine (rtl_engine.h): checks, a functional pre-run, then the Verilated core.
//
// Before the core runs, the program runs on the functional engine against a copy of the device
// state: a program the functional engine rejects (out-of-range rows or addresses, a bad dtype, a WAIT
// without its SIGNAL, ...) is refused with the functional engine's own message and nothing is
// written; one it accepts never deadlocks on the core (docs/timing.md). The pre-run also gives the
// counters the core has no reason to count (instructions, MACs, bytes per path) and the state the
// core does not hand back: the weight FIFO, the array's weights and the token semaphores after the
// run (the core returns the UB, the accumulators and DRAM; programs see the rest only through them).
// Cycles and the stall buckets are the core's (its `bucket` output is a per-cycle performance
// counter); per-op cycles are not reported by this engine.
#include <mutex>
#include <variant>

#include "absl/strings/str_cat.h"
#include "core_models.h"
#include "tpusim/isa/arch_config.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/rtl/rtl_engine.h"
#include "tpusim/simulator/functional_engine.h"

namespace tpusim::rtl {
namespace {

// The trace of the cycle engine (docs/timing.md "The trace"), from the core's times.
void FillTrace(const std::vector<isa::Instruction>& code, const CoreResult& r,
               simulator::RunStats& stats) {
  std::vector<simulator::TraceSlice> reversed;
  uint64_t next_matmul_start = kNever;
  for (size_t n = code.size(); n-- > 0;) {
    const CoreTimes& t = r.times[n];
    if (t.start == kNever || t.end == kNever) continue;
    uint64_t end = t.end;
    if (code[n].opcode == isa::Opcode::MATMUL) {
      end = std::min(t.end, next_matmul_start);  // MXU slices never overlap
      next_matmul_start = t.start;
    }
    if (const char* unit = simulator::TraceUnitOf(code[n].opcode)) {
      reversed.push_back(simulator::TraceSlice{unit, static_cast<uint32_t>(n), t.start, end});
    }
  }
  stats.trace.assign(reversed.rbegin(), reversed.rend());
}

class RtlEngine final : public simulator::Engine {
 public:
  explicit RtlEngine(const isa::ArchConfig& arch) : arch_(arch) {}
  std::string_view name() const override { return "rtl"; }

  absl::StatusOr<simulator::RunStats> Run(const simulator::Launch& launch,
                                          simulator::DeviceState& state) override {
    if (launch.code == nullptr) return absl::InvalidArgumentError("launch without code");
    const std::vector<isa::Instruction>& code = *launch.code;
    TPUSIM_RETURN_IF_ERROR(CheckRtlArch(state.arch));
    TPUSIM_RETURN_IF_ERROR(CheckRtlSupport(code, state.mode));
    if (state.mxu.size() != 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the rtl engine's core has one matrix unit; this device state has ", state.mxu.size(),
          " (mxu_count ", state.arch.mxu_count(), ")"));
    }
    if (!state.mxu[0].weight_fifo.empty() || !state.mxu[0].weights.empty()) {
      return absl::FailedPreconditionError(
          "the rtl engine starts a launch with an empty weight FIFO and no array weights (the "
          "driver resets them for every launch); this device state holds weights from before");
    }
    for (uint32_t s : state.semaphores) {
      if (s != 0) {
        return absl::FailedPreconditionError(
            "the rtl engine starts a launch with no tokens; this device state holds tokens from "
            "before");
      }
    }
    // The functional pre-run on a copy.
    simulator::DeviceState trial = state.Clone();
    std::unique_ptr<simulator::Engine> functional = simulator::MakeFunctionalEngine(state.arch);
    simulator::Launch plain = launch;
    plain.vcd_path.clear();
    plain.progress = nullptr;
    TPUSIM_ASSIGN_OR_RETURN(simulator::RunStats stats, functional->Run(plain, trial));

    const CoreModelInfo* model = nullptr;
    for (const CoreModelInfo& m : CoreModels()) {
      if (CoreConfigDifference(m.arch, state.arch).empty()) model = &m;
    }
    if (model == nullptr) return absl::InternalError("CheckRtlArch passed but no model matches");
    std::unique_ptr<CoreRunner> runner = model->make();
    CoreJob job;
    job.code = &code;
    job.frame_base = launch.frame_base;
    job.state = &state;
    job.vcd_path = launch.vcd_path;
    job.vcd_window = launch.vcd_window;
    job.progress = launch.progress;
    TPUSIM_ASSIGN_OR_RETURN(CoreResult result, runner->Run(job));

    state.mxu = std::move(trial.mxu);
    state.semaphores = std::move(trial.semaphores);
    stats.engine = "rtl";
    stats.cycles = result.cycles;
    stats.buckets = result.buckets;
    for (size_t n = 0; n < code.size(); ++n) {
      if (result.times[n].start == kNever) continue;
      if (const auto* a = std::get_if<isa::MatmulArgs>(&code[n].args)) {
        stats.ub_to_array_bytes += a->rows * state.arch.array_rows() * 4;
        stats.accumulator_bytes += a->rows * state.arch.array_cols() * 4;
      } else if (const auto* a = std::get_if<isa::ActivateArgs>(&code[n].args)) {
        stats.accumulator_bytes += a->rows * state.arch.array_cols() * 4;
      }
    }
    if (launch.collect_trace) FillTrace(code, result, stats);
    return stats;
  }

 private:
  isa::ArchConfig arch_;
};

}  // namespace

void RegisterRtlEngine() {
  static std::once_flag once;
  std::call_once(once, [] {
    simulator::RegisterEngine("rtl", [](const isa::ArchConfig& arch) {
      return std::make_unique<RtlEngine>(arch);
    });
  });
}

}  // namespace tpusim::rtl
