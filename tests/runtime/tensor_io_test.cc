// .npy and TensorProto input files, file names for outputs, deterministic random inputs.
// The .npy images are assembled byte by byte here, following numpy/lib/format.py.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include <filesystem>
#include <fstream>

#include "onnx_test_data.h"
#include "tpusim/runtime/mnist.h"
#include "tpusim/runtime/tensor_io.h"

namespace tpusim::runtime {
namespace {

using ::testing::HasSubstr;
using compiler::DataType;

// magic, version, little-endian header length (2 bytes for v1, 4 for v2), header, data.
std::string NpyImage(int major, const std::string& header, const void* data, size_t n) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const size_t len = header.size();
  out += static_cast<char>(len & 0xff);
  out += static_cast<char>((len >> 8) & 0xff);
  if (major >= 2) {
    out += '\0';
    out += '\0';
  }
  out += header;
  out.append(static_cast<const char*>(data), n);
  return out;
}

TEST(TensorIoNpy, ReadsVersion1Float32) {
  const float values[6] = {1, 2, 3, 4, 5, -6.5f};
  const std::string img = NpyImage(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }      \n",
                                   values, sizeof(values));
  absl::StatusOr<compiler::Tensor> t = ParseNpy(img, "a.npy");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), DataType::kFloat32);
  EXPECT_EQ(t->shape(), (compiler::Shape{2, 3}));
  EXPECT_EQ(std::memcmp(t->data(), values, sizeof(values)), 0);
}

TEST(TensorIoNpy, ReadsVersion2Int64WithOneElementTuple) {
  const int64_t values[3] = {-1, 0, int64_t{1} << 40};
  const std::string img = NpyImage(2, "{\"descr\": \"<i8\", \"shape\": (3,), \"fortran_order\": False}\n",
                                   values, sizeof(values));
  absl::StatusOr<compiler::Tensor> t = ParseNpy(img, "b.npy");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), DataType::kInt64);
  EXPECT_EQ(t->shape(), (compiler::Shape{3}));
  EXPECT_EQ(t->as<int64_t>()[2], int64_t{1} << 40);
}

TEST(TensorIoNpy, ReadsInt32ScalarAndInt8Matrix) {
  const int32_t scalar = -7;
  absl::StatusOr<compiler::Tensor> s =
      ParseNpy(NpyImage(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }\n", &scalar, 4), "s.npy");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dtype(), DataType::kInt32);
  EXPECT_TRUE(s->shape().empty());
  EXPECT_EQ(s->as<int32_t>()[0], -7);

  const int8_t m[4] = {-128, 127, 0, 1};
  absl::StatusOr<compiler::Tensor> t =
      ParseNpy(NpyImage(1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 2), }\n", m, 4), "m.npy");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), DataType::kInt8);
  EXPECT_EQ(t->as<int8_t>()[0], -128);
}

TEST(TensorIoNpy, RejectsFortranOrder) {
  const float v[4] = {};
  absl::StatusOr<compiler::Tensor> t =
      ParseNpy(NpyImage(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", v, 16), "f.npy");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("fortran_order"));
  EXPECT_THAT(t.status().message(), HasSubstr("f.npy"));
}

TEST(TensorIoNpy, RejectsUnsupportedDtypeNamingTheSupportedOnes) {
  const double v[2] = {};
  absl::StatusOr<compiler::Tensor> t =
      ParseNpy(NpyImage(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", v, 16), "d.npy");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("'<f8'"));
  EXPECT_THAT(t.status().message(), HasSubstr("<f4"));
}

TEST(TensorIoNpy, RejectsBadMagicTruncatedDataAndMalformedHeaders) {
  const float v[4] = {};
  EXPECT_FALSE(ParseNpy("PK\x03\x04 not numpy", "z.npy").ok());
  EXPECT_FALSE(ParseNpy(std::string("\x93NUMPY\x01", 7), "short.npy").ok());
  // 3 floats of data for a (2, 2) shape.
  absl::StatusOr<compiler::Tensor> t =
      ParseNpy(NpyImage(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n", v, 12), "t.npy");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("12 bytes"));
  // Header length larger than the file.
  std::string cut = NpyImage(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }\n", v, 16);
  EXPECT_FALSE(ParseNpy(cut.substr(0, 20), "cut.npy").ok());
  // Missing key, unterminated string, unexpected key, bad shape, unsupported version.
  for (const char* header : {"{'descr': '<f4', 'fortran_order': False}\n", "{'descr': '<f4\n",
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}\n",
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }\n",
                             "{'descr': '<f4', 'fortran_order': maybe, 'shape': (4,), }\n"}) {
    EXPECT_FALSE(ParseNpy(NpyImage(1, header, v, 16), "h.npy").ok()) << header;
  }
  EXPECT_FALSE(
      ParseNpy(NpyImage(9, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", v, 16), "v.npy")
          .ok());
}

TEST(TensorIoNpy, SerializedImageHasA64ByteAlignedHeaderAndParsesBack) {
  const compiler::Tensor t = compiler::Tensor::FromFloats({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  const std::string img = SerializeNpy(t);
  const size_t header_len = static_cast<uint8_t>(img[8]) | (static_cast<uint8_t>(img[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(img[10 + header_len - 1], '\n');
  absl::StatusOr<compiler::Tensor> back = ParseNpy(img, "rt.npy");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape(), t.shape());
  EXPECT_EQ(std::memcmp(back->data(), t.data(), t.byte_size()), 0);
}

TEST(TensorIoFile, ReadsOnnxTensorProtoAndReportsMissingFiles) {
  absl::StatusOr<compiler::Tensor> t =
      ReadTensorFile(testing::OnnxNodeTestDir("test_matmul_2d") + "/test_data_set_0/input_0.pb");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->shape(), (compiler::Shape{3, 4}));  // test_matmul_2d: a is 3x4
  absl::StatusOr<compiler::Tensor> missing = ReadTensorFile("/nonexistent/x.pb");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/x.pb"));
}

TEST(TensorIoFile, SafeFileNameReplacesPathCharacters) {
  EXPECT_EQ(SafeFileName("logits"), "logits");
  EXPECT_EQ(SafeFileName("dense/BiasAdd:0"), "dense_BiasAdd_0");
  EXPECT_EQ(SafeFileName(".."), "_");
  EXPECT_EQ(SafeFileName(""), "_");
}

TEST(TensorIoRandom, AreDeterministicUniformInMinusOneToOne) {
  const compiler::Tensor a = RandomTensor(DataType::kFloat32, {100, 100}, 7);
  const compiler::Tensor b = RandomTensor(DataType::kFloat32, {100, 100}, 7);
  const compiler::Tensor c = RandomTensor(DataType::kFloat32, {100, 100}, 8);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.byte_size()), 0);
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.byte_size()), 0);
  double sum = 0;
  float lo = 1, hi = -1;
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    const float v = a.as<float>()[i];
    sum += v;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, -1.0f);
  EXPECT_LT(hi, 1.0f);
  EXPECT_LT(lo, -0.99f);  // 10^4 draws: the extremes are within 1% of the ends
  EXPECT_GT(hi, 0.99f);
  EXPECT_NEAR(sum / 1e4, 0.0, 0.05);  // std of the mean is 0.577/100
}

TEST(TensorIoRandom, PrepareFeedsUsesFilesAndDeclaredShapes) {
  compiler::Graph g;
  g.AddValue("x", DataType::kFloat32, compiler::Shape{2, 3});
  g.AddValue("n", DataType::kInt64, compiler::Shape{4});
  g.inputs = {"x", "n"};
  absl::StatusOr<std::map<std::string, compiler::Tensor>> feeds = PrepareFeeds(g, {});
  ASSERT_TRUE(feeds.ok()) << feeds.status();
  EXPECT_EQ(feeds->at("x").shape(), (compiler::Shape{2, 3}));
  EXPECT_EQ(feeds->at("n").dtype(), DataType::kInt64);
  for (int i = 0; i < 4; ++i) {
    EXPECT_GE(feeds->at("n").as<int64_t>()[i], -4);
    EXPECT_LE(feeds->at("n").as<int64_t>()[i], 4);
  }
  absl::StatusOr<std::map<std::string, compiler::Tensor>> bad = PrepareFeeds(g, {{"y", "/tmp/y.pb"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("inputs: x, n"));

  compiler::Graph unknown;
  unknown.AddValue("u", DataType::kFloat32);
  unknown.inputs = {"u"};
  absl::StatusOr<std::map<std::string, compiler::Tensor>> no_shape = PrepareFeeds(unknown, {});
  ASSERT_FALSE(no_shape.ok());
  EXPECT_THAT(no_shape.status().message(), HasSubstr("--input u=FILE"));
}

// An uncompressed IDX file (zlib reads plain files transparently): big-endian header, then bytes.
std::string WriteIdx(const std::string& name, std::vector<uint32_t> header, const std::string& body) {
  const std::string path = (std::filesystem::path(::testing::TempDir()) / name).string();
  std::string bytes;
  for (uint32_t v : header) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((v >> shift) & 0xff);
  }
  std::ofstream(path, std::ios::binary) << bytes << body;
  return path;
}

TEST(TensorIoMnist, ReadsImagesScaledToUnitRange) {
  // Two 2x2 images; pixel bytes 0, 255, 51, 102, ... -> 0, 1, 0.2, 0.4 (x / 255).
  const std::string path =
      WriteIdx("two.idx3", {0x803, 2, 2, 2}, std::string("\x00\xff\x33\x66\x01\x02\x03\x04", 8));
  absl::StatusOr<IdxImages> all = ReadIdxImages(path, 100);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->count, 2);
  EXPECT_EQ(all->rows, 2);
  EXPECT_EQ(all->cols, 2);
  ASSERT_EQ(all->pixels.size(), 8u);
  EXPECT_FLOAT_EQ(all->pixels[1], 1.0f);
  EXPECT_FLOAT_EQ(all->pixels[2], 0.2f);
  EXPECT_FLOAT_EQ(all->pixels[3], 0.4f);
  absl::StatusOr<IdxImages> one = ReadIdxImages(path, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->count, 1);
  EXPECT_EQ(one->pixels.size(), 4u);
}

TEST(TensorIoMnist, MissingTruncatedAndWrongFilesAreClearErrors) {
  EXPECT_EQ(ReadIdxImages("/nonexistent/images.gz", 1).status().code(), absl::StatusCode::kNotFound);
  const std::string cut = WriteIdx("cut.idx3", {0x803, 2, 2, 2}, "abc");
  absl::StatusOr<IdxImages> truncated = ReadIdxImages(cut, 2);
  ASSERT_FALSE(truncated.ok());
  EXPECT_THAT(truncated.status().message(), HasSubstr("truncated"));
  const std::string labels = WriteIdx("labels.idx1", {0x801, 3}, "\x01\x02\x03");
  absl::StatusOr<IdxImages> wrong = ReadIdxImages(labels, 2);
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("magic 0x00000801"));
  absl::StatusOr<std::vector<uint8_t>> l = ReadIdxLabels(labels, 10);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(*l, (std::vector<uint8_t>{1, 2, 3}));
}

TEST(TensorIoMnist, ReadsTheGzippedFashionMnistTestSet) {
  if (!std::filesystem::exists(kFashionMnistTestImages))
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  absl::StatusOr<IdxImages> images = ReadIdxImages(kFashionMnistTestImages, 3);
  ASSERT_TRUE(images.ok()) << images.status();
  EXPECT_EQ(images->count, 3);
  EXPECT_EQ(images->rows * images->cols, 784);  // 28x28, as the dataset documents
  EXPECT_GT(*std::max_element(images->pixels.begin(), images->pixels.end()), 0.5f);
  EXPECT_LE(*std::max_element(images->pixels.begin(), images->pixels.end()), 1.0f);
}

}  // namespace
}  // namespace tpusim::runtime
