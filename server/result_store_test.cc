#include "server/result_store.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;
using ::videogen::v1::OUTPUT_FORMAT_MP4_H264;
using ::videogen::v1::OUTPUT_FORMAT_RAW_FRAMES;

constexpr char kId[] = "0123456789abcdef0123456789abcdef";

class ResultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("TEST_TMPDIR")) + "/results-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_OK_AND_ASSIGN(store_, ResultStore::Open(dir_));
  }
  std::string dir_;
  std::unique_ptr<ResultStore> store_;
};

TEST_F(ResultStoreTest, WritesDescribesAndReadsInChunks) {
  ASSERT_OK(store_->WriteAtomically(kId, OUTPUT_FORMAT_MP4_H264, "abc"));
  ASSERT_OK_AND_ASSIGN(const auto output, store_->Describe(kId, OUTPUT_FORMAT_MP4_H264));
  EXPECT_EQ(output.size_bytes(), 3);
  EXPECT_EQ(output.content_type(), "video/mp4");
  // SHA-256("abc") from FIPS 180-2.
  EXPECT_EQ(output.sha256(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THAT(store_->Read(kId, OUTPUT_FORMAT_MP4_H264, 1, 10), IsOkAndHolds("bc"));
  EXPECT_THAT(store_->Read(kId, OUTPUT_FORMAT_MP4_H264, 3, 10), IsOkAndHolds(""));
  EXPECT_THAT(store_->Read(kId, OUTPUT_FORMAT_MP4_H264, 4, 10),
              StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_FALSE(std::ifstream(dir_ + "/" + kId + ".mp4.tmp").good());
}

TEST_F(ResultStoreTest, ReplacesAndRemoves) {
  ASSERT_OK(store_->WriteAtomically(kId, OUTPUT_FORMAT_RAW_FRAMES, std::string(100000, 'x')));
  ASSERT_OK(store_->WriteAtomically(kId, OUTPUT_FORMAT_RAW_FRAMES, "short"));
  ASSERT_OK_AND_ASSIGN(const auto output, store_->Describe(kId, OUTPUT_FORMAT_RAW_FRAMES));
  EXPECT_EQ(output.size_bytes(), 5);
  EXPECT_EQ(output.content_type(), "application/octet-stream");
  ASSERT_OK(store_->Remove(kId, OUTPUT_FORMAT_RAW_FRAMES));
  EXPECT_OK(store_->Remove(kId, OUTPUT_FORMAT_RAW_FRAMES));
  EXPECT_THAT(store_->Describe(kId, OUTPUT_FORMAT_RAW_FRAMES),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ResultStoreTest, PathsComeOnlyFromJobIds) {
  EXPECT_THAT(store_->PathOf(kId, OUTPUT_FORMAT_MP4_H264), IsOkAndHolds(EndsWith(".mp4")));
  for (const char* bad : {"../../etc/passwd", "0123456789ABCDEF0123456789ABCDEF", "", "abc"}) {
    EXPECT_THAT(store_->PathOf(bad, OUTPUT_FORMAT_MP4_H264),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a job id")));
  }
  EXPECT_THAT(store_->PathOf(kId, videogen::v1::OUTPUT_FORMAT_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ResultStoreOpenTest, RefusesAFileAsTheDirectory) {
  const std::string file = std::string(std::getenv("TEST_TMPDIR")) + "/plain-file";
  std::ofstream(file) << "x";
  EXPECT_THAT(ResultStore::Open(file), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ResultStore::Open("/nonexistent/a/b"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace videogen::server
