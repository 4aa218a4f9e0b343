#include "server/job_queue.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;
using ::videogen::testing::IsOkAndHolds;
using ::videogen::testing::StatusIs;

std::unique_ptr<JobQueue> MakeQueue(int capacity) {
  absl::StatusOr<std::unique_ptr<JobQueue>> queue = JobQueue::Create({capacity});
  EXPECT_TRUE(queue.ok()) << queue.status();
  return *std::move(queue);
}

TEST(JobQueueTest, RejectsZeroCapacity) {
  EXPECT_THAT(JobQueue::Create({0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_queued_jobs")));
}

TEST(JobQueueTest, RunsHigherPriorityFirstThenArrivalOrder) {
  auto queue = MakeQueue(8);
  ASSERT_OK(queue->Push("a", 0));
  ASSERT_OK(queue->Push("b", 5));
  ASSERT_OK(queue->Push("c", 0));
  ASSERT_OK(queue->Push("d", 5));
  ASSERT_OK(queue->Push("e", -3));
  EXPECT_THAT(queue->Position("b"), IsOkAndHolds(1));
  EXPECT_THAT(queue->Position("d"), IsOkAndHolds(2));
  EXPECT_THAT(queue->Position("a"), IsOkAndHolds(3));
  EXPECT_THAT(queue->Position("e"), IsOkAndHolds(5));
  for (const char* id : {"b", "d", "a", "c", "e"})
    EXPECT_THAT(queue->Pop(), Optional(std::string(id)));
  EXPECT_EQ(queue->size(), 0);
}

TEST(JobQueueTest, PushBeyondCapacityReturnsResourceExhausted) {
  auto queue = MakeQueue(2);
  ASSERT_OK(queue->Push("a", 0));
  EXPECT_THAT(queue->Push("a", 1), StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(queue->Push("b", 0));
  EXPECT_THAT(queue->Push("c", 9),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("2 jobs")));
  ASSERT_OK(queue->Remove("a"));
  EXPECT_OK(queue->Push("c", 9));
}

TEST(JobQueueTest, RemovedJobsAreNotRunAndPositionsClose) {
  auto queue = MakeQueue(4);
  ASSERT_OK(queue->Push("a", 0));
  ASSERT_OK(queue->Push("b", 0));
  ASSERT_OK(queue->Push("c", 0));
  ASSERT_OK(queue->Remove("b"));
  EXPECT_THAT(queue->Remove("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(queue->Position("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(queue->Position("c"), IsOkAndHolds(2));
  EXPECT_THAT(queue->Pop(), Optional(std::string("a")));
  EXPECT_THAT(queue->Pop(), Optional(std::string("c")));
}

TEST(JobQueueTest, PopTimesOutOnAnEmptyQueue) {
  auto queue = MakeQueue(1);
  EXPECT_EQ(queue->Pop(absl::Milliseconds(5)), std::nullopt);
}

TEST(JobQueueTest, BlockedPopWakesOnPushAndOnClose) {
  auto queue = MakeQueue(1);
  std::optional<std::string> popped;
  absl::Notification done;
  std::thread consumer([&] {
    popped = queue->Pop();
    done.Notify();
  });
  ASSERT_OK(queue->Push("a", 0));
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  consumer.join();
  EXPECT_THAT(popped, Optional(std::string("a")));

  absl::Notification closed;
  std::thread waiter([&] {
    popped = queue->Pop();
    closed.Notify();
  });
  queue->Close();
  ASSERT_TRUE(closed.WaitForNotificationWithTimeout(absl::Seconds(30)));
  waiter.join();
  EXPECT_EQ(popped, std::nullopt);
  EXPECT_THAT(queue->Push("b", 0), StatusIs(absl::StatusCode::kUnavailable));
}

TEST(JobQueueTest, ConcurrentProducersAndConsumersLoseNothing) {
  constexpr int kProducers = 8, kPerProducer = 100, kConsumers = 4;
  auto queue = MakeQueue(kProducers * kPerProducer);
  absl::Mutex mu;
  std::vector<std::string> popped;
  std::vector<std::thread> threads;
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      while (std::optional<std::string> id = queue->Pop()) {
        absl::MutexLock lock(&mu);
        popped.push_back(*id);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        EXPECT_OK(queue->Push(absl::StrCat(p, "-", i), i % 3));
      }
    });
  }
  for (std::thread& t : producers) t.join();
  // Close once everything pushed has been taken.
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](std::vector<std::string>* v) { return v->size() == kProducers * kPerProducer; },
        &popped));
  }
  queue->Close();
  for (std::thread& t : threads) t.join();
  const absl::flat_hash_set<std::string> unique(popped.begin(), popped.end());
  EXPECT_EQ(unique.size(), static_cast<size_t>(kProducers * kPerProducer));
}

}  // namespace
}  // namespace videogen::server
