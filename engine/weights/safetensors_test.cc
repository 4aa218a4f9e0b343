#include "engine/weights/safetensors.h"

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::videogen::testing::StatusIs;

// A safetensors file from a header text and `data_bytes` bytes of data (value i % 251 at i).
std::vector<uint8_t> MakeFile(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> file(8);
  uint64_t size = header.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<uint8_t>(size >> (8 * i));
  file.insert(file.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) file.push_back(static_cast<uint8_t>(i % 251));
  return file;
}

absl::StatusOr<SafetensorsHeader> Parse(const std::vector<uint8_t>& file) {
  return ParseSafetensorsHeader(file, "model.safetensors");
}

constexpr char kValidHeader[] = R"({"__metadata__":{"format":"pt"},)"
                                R"("b":{"dtype":"F32","shape":[2,3],"data_offsets":[2,26]},)"
                                R"("a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},)"
                                R"("empty":{"dtype":"I64","shape":[0,4],"data_offsets":[26,26]}})"
                                "   ";  // Writers pad the header with spaces.

TEST(ParseSafetensorsHeaderTest, ParsesAValidHeaderInDataOrder) {
  ASSERT_OK_AND_ASSIGN(const SafetensorsHeader header, Parse(MakeFile(kValidHeader, 26)));
  ASSERT_EQ(header.tensors.size(), 3u);
  EXPECT_EQ(header.tensors[0].name, "a");
  EXPECT_EQ(header.tensors[0].dtype, SafetensorsDType::kBF16);
  EXPECT_EQ(header.tensors[1].name, "b");
  EXPECT_THAT(header.tensors[1].shape, ElementsAre(2, 3));
  EXPECT_EQ(header.tensors[1].data_begin, 2u);
  EXPECT_EQ(header.tensors[1].data_end, 26u);
  EXPECT_EQ(header.tensors[2].name, "empty");
  EXPECT_EQ(header.metadata.at("format"), "pt");
  EXPECT_EQ(header.data_offset, 8 + std::string(kValidHeader).size());
}

TEST(ParseSafetensorsHeaderTest, AcceptsScalarsAndAnEmptyFile) {
  EXPECT_OK(Parse(MakeFile(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", 8)));
  EXPECT_OK(Parse(MakeFile("{}", 0)));
}

struct BadCase {
  std::string description;
  std::vector<uint8_t> file;
  std::string message;
};

std::vector<BadCase> BadCases() {
  auto entry = [](const std::string& name, const std::string& body) {
    return absl::StrCat("\"", name, "\":", body);
  };
  auto one = [&](const std::string& body, size_t data) {
    return MakeFile(absl::StrCat("{", entry("w", body), "}"), data);
  };
  std::vector<uint8_t> huge_length = MakeFile("{}", 0);
  huge_length[4] = 1;  // 2^32 + 2 bytes of header.
  std::vector<uint8_t> past_end = MakeFile("{}", 0);
  past_end[0] = 3;
  std::vector<uint8_t> truncated = MakeFile(kValidHeader, 26);
  truncated.resize(truncated.size() - 1);
  return {
      {"shorter than 8 bytes", {1, 0, 0}, "shorter than the 8-byte header length"},
      {"header length over the limit", huge_length, "exceeds the limit"},
      {"header length past the end", past_end, "exceeds the file size"},
      {"not JSON", MakeFile("{\"w\":", 0), "header: not valid JSON"},
      {"not an object", MakeFile("[1,2]", 0), "does not start with '{'"},
      {"duplicate tensor name",
       MakeFile(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                2),
       "repeats the key \"w\""},
      {"duplicate field", one(R"({"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]})", 1),
       "repeats the key \"dtype\""},
      {"entry not an object", one("3", 0), "entry is not an object"},
      {"unknown field", one(R"({"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1})", 1),
       "unknown field \"x\""},
      {"unknown dtype", one(R"({"dtype":"F128","shape":[1],"data_offsets":[0,16]})", 16),
       "unsupported dtype \"F128\""},
      {"leading whitespace", MakeFile(" {}", 0), "does not start with '{'"},
      {"missing dtype", one(R"({"shape":[1],"data_offsets":[0,1]})", 1), "dtype"},
      {"negative dim", one(R"({"dtype":"U8","shape":[-1],"data_offsets":[0,0]})", 0),
       "is not a non-negative integer"},
      {"fractional dim", one(R"({"dtype":"U8","shape":[1.5],"data_offsets":[0,1]})", 1),
       "is not a non-negative integer"},
      {"overflowing shape",
       one(R"({"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]})", 0),
       "overflows"},
      {"offsets not a pair", one(R"({"dtype":"U8","shape":[1],"data_offsets":[0]})", 1),
       "data_offsets must be"},
      {"begin after end", one(R"({"dtype":"U8","shape":[1],"data_offsets":[2,1]})", 2),
       "outside the data section"},
      {"end past the data", one(R"({"dtype":"U8","shape":[4],"data_offsets":[0,4]})", 3),
       "outside the data section"},
      {"size mismatch", one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4), "needs 8"},
      {"overlap",
       MakeFile(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                R"("b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                3),
       "tensor \"b\": overlaps"},
      {"gap",
       MakeFile(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                R"("b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}})",
                3),
       "tensor \"b\": leaves a gap"},
      {"uncovered tail", one(R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})", 5),
       "cover 1 of the 5 bytes"},
      {"truncated data", truncated, "outside the data section"},
      {"metadata not strings", MakeFile(R"({"__metadata__":{"a":1}})", 0), "is not a string"},
  };
}

TEST(ParseSafetensorsHeaderTest, RejectsEveryMalformedHeaderWithAClearError) {
  for (const BadCase& c : BadCases()) {
    EXPECT_THAT(Parse(c.file),
                StatusIs(absl::StatusCode::kDataLoss,
                         ::testing::AllOf(HasSubstr("model.safetensors: invalid safetensors file"),
                                          HasSubstr(c.message))))
        << c.description;
  }
}

// Random corruptions of a valid file: the parser must return (OK or DATA_LOSS), never crash or
// read out of bounds, and anything it accepts must lie inside the file.
TEST(ParseSafetensorsHeaderTest, SurvivesRandomCorruption) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("seed=", seed));
  std::mt19937_64 rng(seed);
  const std::vector<uint8_t> valid = MakeFile(kValidHeader, 26);
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::vector<uint8_t> file = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
        case 0:
          file[rng() % file.size()] = static_cast<uint8_t>(rng());
          break;
        case 1:
          file.resize(rng() % (file.size() + 1));
          break;
        case 2:
          file.insert(file.begin() + rng() % (file.size() + 1), static_cast<uint8_t>(rng()));
          break;
      }
      if (file.empty()) break;
    }
    const absl::StatusOr<SafetensorsHeader> header =
        ParseSafetensorsHeader(absl::MakeConstSpan(file.data(), file.size()), "fuzz");
    if (header.ok()) {
      for (const SafetensorsTensor& t : header->tensors) {
        ASSERT_LE(header->data_offset + t.data_end, file.size());
      }
    } else {
      ASSERT_EQ(header.status().code(), absl::StatusCode::kDataLoss) << header.status();
    }
  }
}

TEST(SafetensorsFileTest, MapsAFileAndExposesTensorBytes) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/w.safetensors");
  const std::vector<uint8_t> contents = MakeFile(kValidHeader, 26);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(contents.data()), contents.size());

  ASSERT_OK_AND_ASSIGN(const auto file, SafetensorsFile::Open(path));
  const SafetensorsTensor* b = file->Find("b");
  ASSERT_NE(b, nullptr);
  const absl::Span<const uint8_t> bytes = file->Bytes(*b);
  ASSERT_EQ(bytes.size(), 24u);
  EXPECT_EQ(bytes[0], 2);  // Data byte i holds i % 251; b starts at data byte 2.
  EXPECT_EQ(bytes[23], 25);
  EXPECT_EQ(file->Find("missing"), nullptr);
}

TEST(SafetensorsFileTest, MissingAndCorruptFilesAreReported) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  EXPECT_THAT(SafetensorsFile::Open(dir + "/absent.safetensors"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.safetensors")));
  std::ofstream(dir + "/empty.safetensors");
  EXPECT_THAT(SafetensorsFile::Open(dir + "/empty.safetensors"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("empty.safetensors")));
  EXPECT_THAT(SafetensorsFile::Open(dir), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace videogen::engine
