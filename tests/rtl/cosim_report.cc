// Failure reports of the cosimulation gate (cosim_report.h).
#include "cosim_report.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace tpusim::rtl::cosim {
namespace {

std::string Plural(uint64_t n, const char* one, const char* many) {
  return absl::StrCat(n, " ", n == 1 ? one : many);
}

// The first differing word of two equally sized word arrays of `width` words per row.
std::optional<std::string> FirstWordDifference(const std::vector<uint32_t>& a,
                                               const std::string& a_name,
                                               const std::vector<uint32_t>& b,
                                               const std::string& b_name, uint64_t width,
                                               const char* what, const char* column) {
  if (a.size() != b.size()) {
    return absl::StrCat(what, " sizes differ: ", a_name, " ", a.size(), " words, ", b_name, " ",
                        b.size(), " words");
  }
  std::optional<size_t> first;
  uint64_t count = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    if (!first) first = i;
    ++count;
  }
  if (!first) return std::nullopt;
  return absl::StrFormat("%s row %u %s %u: %s 0x%08x, %s 0x%08x (%s)", what, *first / width,
                         column, *first % width, a_name, a[*first], b_name, b[*first],
                         Plural(count, "word differs", "words differ"));
}

std::string Describe(const std::vector<isa::Instruction>& code, size_t i) {
  return i < code.size() ? isa::Disassemble(code[i]) : "beyond the program";
}

}  // namespace

std::optional<std::string> FirstStateDifference(const simulator::DeviceState& a,
                                                std::string_view a_name,
                                                const simulator::DeviceState& b,
                                                std::string_view b_name, uint64_t dram_begin,
                                                uint64_t dram_end) {
  const std::string an(a_name), bn(b_name);
  constexpr uint64_t kChunk = 64 * 1024;
  std::vector<uint8_t> x(kChunk), y(kChunk);
  std::optional<uint64_t> first;
  uint8_t first_a = 0, first_b = 0;
  uint64_t count = 0;
  for (uint64_t at = dram_begin; at < dram_end; at += kChunk) {
    const uint64_t n = std::min(kChunk, dram_end - at);
    const absl::Status ra = a.dram.Read(at, x.data(), n), rb = b.dram.Read(at, y.data(), n);
    if (!ra.ok() || !rb.ok()) {
      return absl::StrCat("DRAM [", at, ", ", at + n, ") unreadable: ", ra.ToString(), " / ",
                          rb.ToString());
    }
    for (uint64_t i = 0; i < n; ++i) {
      if (x[i] == y[i]) continue;
      if (!first) {
        first = at + i;
        first_a = x[i];
        first_b = y[i];
      }
      ++count;
    }
  }
  if (first) {
    return absl::StrFormat("DRAM byte 0x%x: %s 0x%02x, %s 0x%02x (%s in [0x%x, 0x%x))", *first,
                           an, first_a, bn, first_b,
                           Plural(count, "byte differs", "bytes differ"), dram_begin, dram_end);
  }
  if (auto d = FirstWordDifference(a.ub, an, b.ub, bn, a.lanes, "UB", "lane")) return d;
  return FirstWordDifference(a.acc, an, b.acc, bn, a.arch.array_cols(), "accumulator",
                             "column");
}

std::optional<std::string> FirstTraceDifference(const std::vector<simulator::TraceSlice>& a,
                                                std::string_view a_name,
                                                const std::vector<simulator::TraceSlice>& b,
                                                std::string_view b_name,
                                                const std::vector<isa::Instruction>& code) {
  using Key = std::tuple<std::string, uint64_t, uint64_t>;  // unit, start, end
  auto by_instruction = [](const std::vector<simulator::TraceSlice>& trace) {
    std::map<uint32_t, std::vector<Key>> out;
    for (const simulator::TraceSlice& s : trace) {
      out[s.instruction].emplace_back(s.unit, s.start, s.end);
    }
    for (auto& [i, slices] : out) std::sort(slices.begin(), slices.end());
    return out;
  };
  const auto sa = by_instruction(a), sb = by_instruction(b);
  auto text = [](const std::map<uint32_t, std::vector<Key>>& m, uint32_t i) -> std::string {
    const auto it = m.find(i);
    if (it == m.end()) return "no slice";
    std::vector<std::string> parts;
    for (const auto& [unit, start, end] : it->second) {
      parts.push_back(absl::StrCat(unit, " [", start, ", ", end, ")"));
    }
    return absl::StrJoin(parts, ", ");
  };
  auto ia = sa.begin();
  auto ib = sb.begin();
  while (ia != sa.end() || ib != sb.end()) {
    uint32_t i;
    if (ib == sb.end() || (ia != sa.end() && ia->first < ib->first)) {
      i = ia->first;
    } else {
      i = ib->first;
    }
    const bool in_a = ia != sa.end() && ia->first == i, in_b = ib != sb.end() && ib->first == i;
    if (!in_a || !in_b || ia->second != ib->second) {
      return absl::StrCat("first diverging instruction ", i, " (", Describe(code, i), "): ",
                          std::string(a_name), " ", text(sa, i), "; ", std::string(b_name), " ",
                          text(sb, i));
    }
    ++ia;
    ++ib;
  }
  return std::nullopt;
}

std::vector<isa::Instruction> Prefix(const std::vector<isa::Instruction>& code, size_t k) {
  std::vector<isa::Instruction> out;
  for (size_t i = 0; i < k && i < code.size() && code[i].opcode != isa::Opcode::HALT; ++i) {
    out.push_back(code[i]);
  }
  out.push_back(isa::Make(isa::Opcode::SYNC));
  out.push_back(isa::Make(isa::Opcode::HALT));
  return out;
}

absl::StatusOr<std::optional<PrefixDivergence>> FirstDivergingPrefix(
    size_t n, const std::function<absl::StatusOr<std::optional<std::string>>(size_t k)>& diff,
    size_t linear_limit) {
  if (n <= linear_limit) {
    for (size_t k = 1; k <= n; ++k) {
      absl::StatusOr<std::optional<std::string>> d = diff(k);
      if (!d.ok()) return d.status();
      if (d->has_value()) return PrefixDivergence{k, **d};
    }
    return std::nullopt;
  }
  // Invariant: prefix `equal` leaves equal devices (0: nothing ran), prefix `differs` does not.
  absl::StatusOr<std::optional<std::string>> last = diff(n);
  if (!last.ok()) return last.status();
  if (!last->has_value()) return std::nullopt;
  size_t equal = 0, differs = n;
  std::string detail = **last;
  while (differs - equal > 1) {
    const size_t mid = equal + (differs - equal) / 2;
    absl::StatusOr<std::optional<std::string>> d = diff(mid);
    if (!d.ok()) return d.status();
    if (d->has_value()) {
      differs = mid;
      detail = **d;
    } else {
      equal = mid;
    }
  }
  return PrefixDivergence{differs, detail};
}

std::string FormatPrefixDivergence(const std::vector<isa::Instruction>& code,
                                   const PrefixDivergence& d) {
  const size_t i = d.k - 1;
  return absl::StrCat("first diverging instruction ", i, " (", Describe(code, i),
                      "): after the first ", Plural(d.k, "instruction", "instructions"),
                      " + SYNC + HALT, ", d.detail);
}

}  // namespace tpusim::rtl::cosim
