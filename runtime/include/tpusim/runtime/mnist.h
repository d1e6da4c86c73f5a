// Readers for the IDX files of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), plain or
// gzip-compressed (Debian's dataset-fashion-mnist ships them gzipped).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tpusim::runtime {

inline constexpr char kFashionMnistTestImages[] =
    "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
inline constexpr char kFashionMnistTestLabels[] =
    "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

// `count` images of rows x cols pixels, row-major, each pixel scaled from [0, 255] to [0, 1].
struct IdxImages {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> pixels;  // count * rows * cols
};

// Reads the first min(max_images, stored) images of an idx3-ubyte file (magic 0x00000803).
// NotFound if the file is missing; DataLoss naming the file for a bad magic, dimensions or a
// truncated/corrupt stream.
absl::StatusOr<IdxImages> ReadIdxImages(const std::string& path, int64_t max_images);

// Reads the first min(max_labels, stored) labels of an idx1-ubyte file (magic 0x00000801).
absl::StatusOr<std::vector<uint8_t>> ReadIdxLabels(const std::string& path, int64_t max_labels);

}  // namespace tpusim::runtime
