// Codegen's shared state for one compilation: the DRAM frame layout (bindings, constant segments,
// intermediates, scratch), the per-op unified-buffer allocator, and the instruction stream with its
// op attribution and queue ordering. Private to compiler_backend/src.
//
// Compilation runs in two phases over the same context:
//   plan:  every region of the frame is assigned (graph bindings, constants, node outputs, scratch);
//          the frame size is then checked against the device DRAM before any instruction exists.
//   emit:  each op's lowering looks regions up (never allocates) and appends instructions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "isa/proto/program.pb.h"
#include "tpusim/compiler_backend/compiler.h"
#include "tpusim/compiler_backend/ir.h"
#include "tpusim/compiler_backend/schedule_tokens.h"
#include "tpusim/isa/instruction.h"

namespace tpusim::compiler::codegen {

inline constexpr uint64_t kFrameAlign = 64;  // bytes; every frame region starts on this boundary
inline constexpr uint64_t kF32Bytes = 4;
inline constexpr uint64_t kBf16Bytes = 2;
// Largest row count one DMA / MATMUL / ACTIVATE / VECTOR instruction can carry (16-bit `rows` fields).
inline constexpr uint64_t kMaxInstRows = 0xFFFF;

// A 2-D strided view of a tensor in the frame, in the DMA's terms: element (r, l) lives at byte
// addr + (r * row_stride + l * lane_stride) * element bytes. Strides are in elements; 0 broadcasts.
struct DramView {
  uint64_t addr = 0;
  uint64_t row_stride = 0;
  uint64_t lane_stride = 0;
  // The view moved by `rows` rows and `lanes` lanes (element bytes `bytes`).
  DramView Offset(uint64_t rows, uint64_t lanes, uint64_t bytes = kF32Bytes) const {
    return {addr + (rows * row_stride + lanes * lane_stride) * bytes, row_stride, lane_stride};
  }
};

// Bump allocator over the UB rows of one op. Lowerings size their tiles from free() first, so Take()
// running out is a codegen bug (checked).
class UbAllocator {
 public:
  explicit UbAllocator(uint64_t rows) : rows_(rows) {}
  uint64_t Take(uint64_t rows);  // returns the first row of a fresh region of `rows` rows
  uint64_t free() const { return rows_ - next_; }

 private:
  uint64_t rows_;
  uint64_t next_ = 0;
};

// An epilogue fused into a MatMul (lower_fused.cc): the MatMul writes func(A.B + bias) straight to
// `output`; the nodes it absorbed emit nothing and their intermediate values get no region.
struct FusedEpilogue {
  std::string bias;  // a constant [N] / [1, N] value, or "" for none
  isa::ActFunc func = isa::ActFunc::None;
  std::string output;
  // Conv heads only (lower_fused.cc): a value of the conv output's shape added before func, i.e. the
  // conv writes func(conv + bias + residual) (a residual Add [-> activation]); "" for none.
  std::string residual;
};

class CodegenContext {
 public:
  // `graph` must outlive the context; every value a node touches has a shape.
  CodegenContext(const Graph& graph, const CompileOptions& options);

  const Graph& graph() const { return graph_; }
  const isa::ArchConfig& arch() const { return options_.arch; }
  Precision precision() const { return options_.precision; }
  // True under Schedule::kTokens: lowerings double-buffer (ping-pong) the UB regions that DMAs touch
  // so that the next tile's LOAD conflicts with nothing still running. Under kSerial nothing overlaps,
  // so they keep single buffers (today's programs, instruction for instruction).
  bool overlapped() const { return options_.schedule == Schedule::kTokens; }
  uint32_t lanes() const { return lanes_; }  // UB row width L = max(array_rows, array_cols)
  uint32_t array_rows() const { return options_.arch.array_rows(); }
  uint32_t array_cols() const { return options_.arch.array_cols(); }
  uint64_t ub_rows() const { return ub_rows_; }  // fp32 UB rows of the arch
  UbAllocator NewUb() const { return UbAllocator(ub_rows_); }
  // Ping-pong counter shared by the streaming lowerings (codegen_vector.cc, softmax): a lowering that
  // alternates between buffers uses buffer (phase + i) % 2 for its i-th chunk and advances the phase
  // by its chunk count, so back-to-back blocks keep alternating and the next block's first LOAD does
  // not wait for the previous block's last STORE.
  uint64_t& stream_phase() { return stream_phase_; }

  // ---- Values -------------------------------------------------------------------------------------
  const Value& ValueOf(const std::string& name) const;  // checked: the graph validated
  const Shape& ShapeOf(const std::string& name) const;  // checked: shapes were inferred
  // Unimplemented naming the node unless the value is float32.
  absl::Status RequireFloat(const Node& node, const std::string& name) const;

  // ---- Frame layout (plan phase) ------------------------------------------------------------------
  bool planning() const { return planning_; }
  void FinishPlanning() { planning_ = false; }
  // Allocates `bytes` (rounded up to kFrameAlign) and returns the region's frame offset.
  uint64_t Allocate(uint64_t bytes);
  uint64_t frame_bytes() const { return frame_end_; }
  // Binds the fp32 data of value `name` to a frame offset (checked: not bound yet).
  void Bind(const std::string& name, uint64_t offset);
  bool IsBound(const std::string& name) const { return f32_regions_.count(name) != 0; }
  // The fp32 region of a value. In the plan phase a constant gets a segment on first request.
  absl::StatusOr<uint64_t> F32Region(const std::string& name);
  // The bf16 part `part` (0 = most significant) of the `num_parts`-way split of a constant, as a
  // bf16 segment with the constant's layout (see SplitBf16Parts). Allocated on first plan-phase request.
  absl::StatusOr<uint64_t> ConstantBf16Part(const std::string& name, int part, int num_parts);
  // Scratch regions owned by one node, keyed by a name unique in the graph (plan allocates, emit reads).
  uint64_t AllocateScratch(const std::string& key, uint64_t bytes);
  absl::StatusOr<uint64_t> Scratch(const std::string& key) const;

  std::vector<isa::Segment>& segments() { return segments_; }

  // Fusions decided before planning, keyed by the head MatMul's node name.
  void SetFusions(std::map<std::string, FusedEpilogue> fusions) { fusions_ = std::move(fusions); }
  const FusedEpilogue* FusionOf(const std::string& node_name) const {
    auto it = fusions_.find(node_name);
    return it == fusions_.end() ? nullptr : &it->second;
  }

  // ---- Emission (emit phase) ----------------------------------------------------------------------
  // Instructions emitted from now on are attributed to op `op_index` (an index into op_names).
  void BeginOp(uint32_t op_index) { current_op_ = op_index; }
  // Appends `inst`, preceded by the SYNC (kSerial) or SIGNAL/WAIT pairs (kTokens) that order it after
  // every earlier instruction it depends on (see codegen_context.cc).
  void Emit(isa::Instruction inst);
  void Load(isa::DType dtype, const DramView& src, uint64_t ub_row, uint64_t rows, uint64_t lanes);
  void Store(isa::DType dtype, const DramView& dst, uint64_t ub_row, uint64_t rows, uint64_t lanes);
  // Weight tile: W[k][n] = src(k, n) for k < rows, n < cols (src.row_stride steps k, lane_stride n),
  // pushed into matrix unit `mxu`'s weight FIFO (checked: mxu < the arch's mxu_count).
  void LoadWeights(isa::DType dtype, const DramView& src, uint64_t rows, uint64_t cols, uint32_t mxu = 0);
  // On matrix unit `mxu` (checked: < mxu_count), with that unit's weights.
  void Matmul(uint64_t ub_row, uint64_t acc_row, uint64_t rows, bool accumulate, bool pop_weights,
              uint32_t mxu = 0);
  void Activate(uint64_t acc_row, uint64_t ub_row, uint64_t rows, isa::ActFunc func,
                std::optional<uint64_t> bias_row = std::nullopt);
  void Vector(isa::VectorOp op, uint64_t dst_row, uint64_t a_row, uint64_t b_row, uint64_t rows,
              bool b_bcast = false, float imm = 0.0f);
  void Halt();

  // The finished stream (after Halt(): under kTokens the SIGNALs are inserted then).
  const std::vector<isa::Instruction>& code() const { return code_; }
  const std::vector<uint32_t>& inst_op() const { return inst_op_; }

 private:
  const Graph& graph_;
  CompileOptions options_;
  uint32_t lanes_;
  uint64_t ub_rows_;
  bool planning_ = true;
  uint64_t frame_end_ = 0;
  std::map<std::string, uint64_t> f32_regions_;
  std::map<std::tuple<std::string, int, int>, uint64_t> part_regions_;  // (name, part, num_parts)
  std::map<std::string, uint64_t> scratch_;
  std::vector<isa::Segment> segments_;
  std::map<std::string, FusedEpilogue> fusions_;

  std::vector<isa::Instruction> code_;
  std::vector<uint32_t> inst_op_;
  uint32_t current_op_ = 0;
  uint64_t stream_phase_ = 0;
  std::optional<isa::Queue> last_queue_;  // kSerial: queue of the last non-control instruction
  TokenStream tokens_;                    // kTokens: the stream until Halt()
  bool halted_ = false;
};

// The `num_parts`-way bf16 split of an fp32 value (numerics.h): p0 = bf16(x), r1 = x - p0,
// p1 = bf16(r1), r2 = r1 - p1, p2 = bf16(r2). Returns the bf16 bit patterns of p0..p{num_parts-1}.
std::vector<uint16_t> SplitBf16Parts(float x, int num_parts);
// The same split written to out[0..num_parts-1] without allocating (the form for whole tensors).
void SplitBf16PartsInto(float x, int num_parts, uint16_t* out);
// The split of x[0..n) written as bf16 tensors: out[p] (2 * n bytes) gets p_p of every element as
// little-endian 16-bit patterns; the same bits as SplitBf16Parts per element.
void SplitBf16Tensor(const float* x, size_t n, int num_parts, char* const* out);
// The most parts any precision splits into (highest: 3); ConstantBf16Part checks num_parts against it.
inline constexpr int kMaxBf16Parts = 3;

// A value's shape: Value::shape, or for a constant without one its tensor's shape; nullptr if unknown.
inline const Shape* KnownShape(const Value& v) {
  if (v.shape.has_value()) return &*v.shape;
  return v.constant.has_value() ? &v.constant->shape() : nullptr;
}

// "node 'name' (OpType)" for error messages.
std::string NodeLabel(const Node& node);

}  // namespace tpusim::compiler::codegen
