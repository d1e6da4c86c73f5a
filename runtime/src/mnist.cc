#include "tpusim/runtime/mnist.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tpusim/isa/status_macros.h"

namespace tpusim::runtime {
namespace {

// A gzip (or, transparently, uncompressed) input stream that reads exact byte counts.
class GzFile {
 public:
  static absl::StatusOr<std::unique_ptr<GzFile>> Open(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return absl::NotFoundError(absl::StrCat("'", path, "' does not exist or is not a file"));
    }
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
    return std::unique_ptr<GzFile>(new GzFile(path, f));
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  // Reads exactly n bytes; DataLoss naming the file and the offset otherwise.
  absl::Status Read(void* dst, size_t n, const char* what) {
    size_t done = 0;
    while (done < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
      const int got = gzread(file_, static_cast<char*>(dst) + done, chunk);
      if (got < 0) {
        int err = 0;
        const char* msg = gzerror(file_, &err);
        return absl::DataLossError(absl::StrCat(path_, ": corrupt gzip stream while reading ", what,
                                                " at byte ", offset_ + done, ": ", msg));
      }
      if (got == 0) {
        return absl::DataLossError(absl::StrCat(path_, ": truncated: needed ", n, " bytes of ", what,
                                                " at byte ", offset_, ", got ", done));
      }
      done += static_cast<size_t>(got);
    }
    offset_ += n;
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> ReadBigEndian32(const char* what) {
    uint8_t b[4];
    TPUSIM_RETURN_IF_ERROR(Read(b, 4, what));
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }

  const std::string& path() const { return path_; }

 private:
  GzFile(std::string path, gzFile f) : path_(std::move(path)), file_(f) {}
  std::string path_;
  gzFile file_;
  uint64_t offset_ = 0;
};

absl::Status CheckMagic(const GzFile& f, uint32_t magic, uint32_t expected, const char* kind) {
  if (magic == expected) return absl::OkStatus();
  return absl::DataLossError(absl::StrFormat("%s: not an IDX %s file (magic 0x%08x, expected 0x%08x)",
                                             f.path(), kind, magic, expected));
}

}  // namespace

absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path, int64_t max_images) {
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<GzFile> f, GzFile::Open(path));
  TPUSIM_ASSIGN_OR_RETURN(uint32_t magic, f->ReadBigEndian32("the magic number"));
  TPUSIM_RETURN_IF_ERROR(CheckMagic(*f, magic, 0x00000803, "idx3-ubyte image"));
  TPUSIM_ASSIGN_OR_RETURN(uint32_t count, f->ReadBigEndian32("the image count"));
  TPUSIM_ASSIGN_OR_RETURN(uint32_t rows, f->ReadBigEndian32("the row count"));
  TPUSIM_ASSIGN_OR_RETURN(uint32_t cols, f->ReadBigEndian32("the column count"));
  if (rows == 0 || cols == 0 || rows > 4096 || cols > 4096) {
    return absl::DataLossError(
        absl::StrCat(path, ": implausible image size ", rows, "x", cols, " (expected 1..4096 each)"));
  }
  IdxImages images;
  images.count = std::min<int64_t>(std::max<int64_t>(max_images, 0), count);
  images.rows = rows;
  images.cols = cols;
  std::vector<uint8_t> raw(static_cast<size_t>(images.count * rows * cols));
  TPUSIM_RETURN_IF_ERROR(f->Read(raw.data(), raw.size(), "pixel data"));
  images.pixels.resize(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) images.pixels[i] = static_cast<float>(raw[i]) / 255.0f;
  return images;
}

absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path, int64_t max_labels) {
  TPUSIM_ASSIGN_OR_RETURN(std::unique_ptr<GzFile> f, GzFile::Open(path));
  TPUSIM_ASSIGN_OR_RETURN(uint32_t magic, f->ReadBigEndian32("the magic number"));
  TPUSIM_RETURN_IF_ERROR(CheckMagic(*f, magic, 0x00000801, "idx1-ubyte label"));
  TPUSIM_ASSIGN_OR_RETURN(uint32_t count, f->ReadBigEndian32("the label count"));
  std::vector<uint8_t> labels(
      static_cast<size_t>(std::min<int64_t>(std::max<int64_t>(max_labels, 0), count)));
  TPUSIM_RETURN_IF_ERROR(f->Read(labels.data(), labels.size(), "labels"));
  return labels;
}

}  // namespace tpusim::runtime
