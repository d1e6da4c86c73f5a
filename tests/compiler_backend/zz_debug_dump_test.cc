// TEMPORARY debugging aid (removed before hand-off).
#include <cstdio>
#include <cstdlib>
#include "codegen_test_util.h"
#include "tpusim/isa/isa.h"
namespace tpusim::compiler::testing {
TEST(ZzDebug, Dump) {
  const char* m = std::getenv("DUMP_M");
  if (!m) GTEST_SKIP();
  int64_t M = atoi(m), K = atoi(getenv("DUMP_K")), N = atoi(getenv("DUMP_N"));
  GraphBuilder gb;
  gb.Input("a", {M, K});
  if (getenv("DUMP_EW")) {
    gb.Input("row", {1, K});
    gb.Op("Add", {"a", "row"}, "s", {M, K});
    gb.Op("Mul", {"s", "a"}, "y", {M, K});
  } else {
  gb.Constant("w", {K, N}, RandomFloats(K * N, 11));
  gb.Op("MatMul", {"a", "w"}, "y", {M, N});
  }
  gb.Output("y");
  CompileOptions o = Options();
  if (getenv("DUMP_ARCH")) o.arch = *isa::LoadPreset(getenv("DUMP_ARCH"));
  if (getenv("DUMP_SERIAL")) o.schedule = Schedule::kSerial;
  auto prog = Compile(gb.graph(), o);
  ASSERT_TRUE(prog.ok()) << prog.status();
  auto code = isa::DecodeCode(*prog);
  if (!getenv("DUMP_QUIET")) std::printf("%s", isa::DisassembleProgram(*code).c_str());
  if (getenv("DUMP_RUN")) {
    if (getenv("DUMP_TRACE")) {
      auto code2 = isa::DecodeCode(*prog);
      simulator::DeviceState state(prog->arch(), isa::BF16_FP32);
      for (const isa::Segment& seg : prog->constants()) (void)state.dram.Write(seg.dram_offset(), seg.data().data(), seg.data().size());
      auto eng = simulator::CreateEngine("cycle", prog->arch());
      simulator::Launch l; l.program = &*prog; l.code = &*code2; l.collect_trace = true;
      auto st = (*eng)->Run(l, state);
      ASSERT_TRUE(st.ok()) << st.status();
      for (const auto& t : st->trace) std::printf("%6u %-12s %8llu %8llu  %s\n", t.instruction, t.unit.c_str(), (unsigned long long)t.start, (unsigned long long)t.end, isa::Disassemble((*code2)[t.instruction]).substr(0, 60).c_str());
    }
    auto r = RunOnEngine(*prog, getenv("DUMP_EW") ? std::vector<std::vector<float>>{RandomFloats(M * K, 12), RandomFloats(K, 1)} : std::vector<std::vector<float>>{RandomFloats(M * K, 12)}, "cycle");
    ASSERT_TRUE(r.ok()) << r.status();
    const auto& s = r->stats;
    std::printf("cycles %llu active %llu wls %llu wshift %llu input %llu nonmat %llu sync %llu idle %llu\n",
      (unsigned long long)s.cycles, (unsigned long long)s.buckets.active, (unsigned long long)s.buckets.weight_load_stall,
      (unsigned long long)s.buckets.weight_shift, (unsigned long long)s.buckets.input_stall, (unsigned long long)s.buckets.non_matrix,
      (unsigned long long)s.buckets.sync_wait, (unsigned long long)s.buckets.idle);
  }
}
}
