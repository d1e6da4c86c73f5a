#include "tpusim/runtime/trace.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "json_writer.h"
#include "tpusim/isa/isa.h"

namespace tpusim::runtime {
namespace {

constexpr int kPid = 1;
constexpr int kLaunchTid = 0;

// One event, compact, without the trailing newline.
class Event {
 public:
  Event(std::string_view phase, int tid) : w_(/*indent=*/false) {
    w_.BeginObject();
    w_.Key("ph"); w_.String(phase);
    w_.Key("pid"); w_.Int(kPid);
    w_.Key("tid"); w_.Int(tid);
  }
  detail::JsonWriter& w() { return w_; }
  std::string Finish() {
    w_.EndObject();
    std::string s = w_.str();
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
  }

 private:
  detail::JsonWriter w_;
};

std::string Metadata(std::string_view name, int tid, std::string_view value) {
  Event e("M", tid);
  e.w().Key("name"); e.w().String(name);
  e.w().Key("args");
  e.w().BeginObject();
  e.w().Key("name"); e.w().String(value);
  e.w().EndObject();
  return e.Finish();
}

std::string SortIndex(int tid) {
  Event e("M", tid);
  e.w().Key("name"); e.w().String("thread_sort_index");
  e.w().Key("args");
  e.w().BeginObject();
  e.w().Key("sort_index"); e.w().Int(tid);
  e.w().EndObject();
  return e.Finish();
}

}  // namespace

std::string ChromeTraceJson(const std::vector<LaunchRecord>& launches, const isa::ArchConfig& arch,
                            std::string_view process_name) {
  const double us_per_cycle = arch.clock_mhz() > 0 ? 1.0 / arch.clock_mhz() : 0.0;
  std::map<std::string, int, std::less<>> tids;
  std::vector<std::string> track_order = {"launches"};
  for (std::string_view unit : kTraceUnits) {
    tids.emplace(std::string(unit), static_cast<int>(track_order.size()));
    track_order.emplace_back(unit);
  }
  std::vector<std::string> events;
  uint64_t base = 0;  // cycles before this launch
  for (size_t k = 0; k < launches.size(); ++k) {
    const LaunchRecord& launch = launches[k];
    {
      Event e("X", kLaunchTid);
      e.w().Key("name"); e.w().String(launch.label);
      e.w().Key("ts"); e.w().Fixed(base * us_per_cycle, 6);
      e.w().Key("dur"); e.w().Fixed(launch.cycles * us_per_cycle, 6);
      e.w().Key("args");
      e.w().BeginObject();
      e.w().Key("launch"); e.w().Uint(k);
      e.w().Key("cycles"); e.w().Uint(launch.cycles);
      e.w().EndObject();
      events.push_back(e.Finish());
    }
    for (const simulator::TraceSlice& slice : launch.trace) {
      auto it = tids.find(slice.unit);
      if (it == tids.end()) {
        it = tids.emplace(slice.unit, static_cast<int>(track_order.size())).first;
        track_order.push_back(slice.unit);
      }
      const size_t i = slice.instruction;
      const std::string name =
          i < launch.opcodes.size() ? std::string(isa::Mnemonic(launch.opcodes[i])) : "instruction";
      const std::string op = i < launch.inst_op.size() && launch.inst_op[i] < launch.op_names.size()
                                 ? launch.op_names[launch.inst_op[i]]
                                 : "";
      const uint64_t end = slice.end > slice.start ? slice.end : slice.start;
      Event e("X", it->second);
      e.w().Key("name"); e.w().String(name);
      e.w().Key("ts"); e.w().Fixed((base + slice.start) * us_per_cycle, 6);
      e.w().Key("dur"); e.w().Fixed((end - slice.start) * us_per_cycle, 6);
      e.w().Key("args");
      e.w().BeginObject();
      e.w().Key("instruction"); e.w().Uint(slice.instruction);
      e.w().Key("op"); e.w().String(op);
      e.w().Key("launch"); e.w().Uint(k);
      e.w().EndObject();
      events.push_back(e.Finish());
    }
    base += launch.cycles;
  }
  std::vector<std::string> metadata = {Metadata("process_name", kLaunchTid, process_name)};
  for (size_t tid = 0; tid < track_order.size(); ++tid) {
    metadata.push_back(Metadata("thread_name", static_cast<int>(tid), track_order[tid]));
    metadata.push_back(SortIndex(static_cast<int>(tid)));
  }
  std::string out = "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
  absl::StrAppend(&out, absl::StrJoin(metadata, ",\n"));
  if (!events.empty()) absl::StrAppend(&out, ",\n", absl::StrJoin(events, ",\n"));
  out += "\n]}\n";
  return out;
}

}  // namespace tpusim::runtime
