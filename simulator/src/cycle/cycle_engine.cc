// CycleEngine: validation, the hand-off to the kernel thread, progress and the statistics
// (cycle_engine.h).
#include "cycle_engine.h"

#include <chrono>
#include <exception>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accounting.h"
#include "job.h"
#include "kernel_thread.h"
#include "mxu_timing.h"
#include "top.h"
#include "tpusim/isa/program.h"
#include "tpusim/isa/status_macros.h"
#include "tpusim/simulator/functional_engine.h"

namespace tpusim::simulator {
namespace {

class CycleEngine final : public Engine {
 public:
  explicit CycleEngine(const isa::ArchConfig& arch) : arch_(arch) {}
  std::string_view name() const override { return "cycle"; }
  absl::StatusOr<RunStats> Run(const Launch& launch, DeviceState& state) override;

 private:
  isa::ArchConfig arch_;
};

absl::StatusOr<RunStats> CycleEngine::Run(const Launch& launch, DeviceState& state) {
  TPUSIM_RETURN_IF_ERROR(functional_detail::CheckStateShape(arch_, state));
  std::vector<isa::Instruction> decoded;
  const std::vector<isa::Instruction>* code = launch.code;
  if (code == nullptr) {
    if (launch.program == nullptr) {
      return absl::InvalidArgumentError("launch has neither decoded code nor a program");
    }
    TPUSIM_ASSIGN_OR_RETURN(decoded, isa::DecodeCode(*launch.program));
    code = &decoded;
  }
  if (code->size() > UINT32_MAX) {
    return absl::InvalidArgumentError("program has more than 2^32 - 1 instructions");
  }
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<const cycle::MxuTiming> mxu, cycle::MakeMxuTiming(arch_));
  cycle::Job job(launch, state, *code, arch_, std::move(mxu));
  std::function<void()> progress;
  if (launch.progress) {
    progress = [&] {
      launch.progress(job.progress_cycle.load(std::memory_order_relaxed),
                      job.progress_done.load(std::memory_order_relaxed), code->size());
    };
  }
  cycle::KernelThread::Get().Run(
      [&] {
        try {
          cycle::TheChip().Run(job);
        } catch (const std::exception& e) {  // SystemC reports errors by throwing
          job.Fail(absl::InternalError(absl::StrCat("SystemC: ", e.what())));
        }
      },
      progress, std::chrono::milliseconds(1000));
  if (!job.status.ok()) return job.status;
  RunStats stats = job.ExecutorStats();
  stats.engine = std::string(name());
  cycle::Account(job, launch.collect_trace, stats);
  return stats;
}

}  // namespace

std::unique_ptr<Engine> MakeCycleEngine(const isa::ArchConfig& arch) {
  return std::make_unique<CycleEngine>(arch);
}

}  // namespace tpusim::simulator
