#include "server/metrics.h"

#include <cmath>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "engine/common/logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::videogen::testing::StatusIs;

TEST(MetricsRegistryTest, RendersEveryKindInRegistrationOrder) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Counter * jobs,
                       registry.AddCounter("jobs_total", "Jobs by state.", {"state", "model"}));
  ASSERT_OK_AND_ASSIGN(Gauge * memory, registry.AddGauge("memory_bytes", "Memory in use.", {}));
  ASSERT_OK(registry.AddCallbackGauge("queue_depth", "Jobs waiting.", [] { return 3.0; }));
  ASSERT_OK_AND_ASSIGN(Histogram * latency, registry.AddHistogram("latency_seconds", "Latency.",
                                                                  {"stage"}, {0.5, 1, 2.5}));
  jobs->Add(2, {"succeeded", "wan"});
  jobs->Add(1, {"failed", "wan"});
  jobs->Add(0.5, {"failed", "wan"});
  memory->Set(1e9, {});
  memory->Add(-2.5e8, {});
  latency->Observe(0.75, {"vae"});
  latency->Observe(0.5, {"vae"});
  latency->Observe(3, {"vae"});
  latency->Observe(0.125, {"denoise"});
  EXPECT_EQ(registry.Render(),
            "# HELP jobs_total Jobs by state.\n"
            "# TYPE jobs_total counter\n"
            "jobs_total{state=\"failed\",model=\"wan\"} 1.5\n"
            "jobs_total{state=\"succeeded\",model=\"wan\"} 2\n"
            "# HELP memory_bytes Memory in use.\n"
            "# TYPE memory_bytes gauge\n"
            "memory_bytes 750000000\n"
            "# HELP queue_depth Jobs waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 3\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{stage=\"denoise\",le=\"0.5\"} 1\n"
            "latency_seconds_bucket{stage=\"denoise\",le=\"1\"} 1\n"
            "latency_seconds_bucket{stage=\"denoise\",le=\"2.5\"} 1\n"
            "latency_seconds_bucket{stage=\"denoise\",le=\"+Inf\"} 1\n"
            "latency_seconds_sum{stage=\"denoise\"} 0.125\n"
            "latency_seconds_count{stage=\"denoise\"} 1\n"
            "latency_seconds_bucket{stage=\"vae\",le=\"0.5\"} 1\n"
            "latency_seconds_bucket{stage=\"vae\",le=\"1\"} 2\n"
            "latency_seconds_bucket{stage=\"vae\",le=\"2.5\"} 2\n"
            "latency_seconds_bucket{stage=\"vae\",le=\"+Inf\"} 3\n"
            "latency_seconds_sum{stage=\"vae\"} 4.25\n"
            "latency_seconds_count{stage=\"vae\"} 3\n");
}

TEST(MetricsRegistryTest, UnlabelledFamiliesStartAtZeroAndLabelledOnesEmpty) {
  MetricsRegistry registry;
  ASSERT_OK(registry.AddCounter("a_total", "A.", {}));
  ASSERT_OK(registry.AddCounter("b_total", "B.", {"kind"}));
  ASSERT_OK(registry.AddHistogram("c", "C.", {}, {1}));
  EXPECT_EQ(registry.Render(),
            "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n"
            "# HELP b_total B.\n# TYPE b_total counter\n"
            "# HELP c C.\n# TYPE c histogram\n"
            "c_bucket{le=\"1\"} 0\nc_bucket{le=\"+Inf\"} 0\nc_sum 0\nc_count 0\n");
}

TEST(MetricsRegistryTest, EscapesHelpAndLabelValues) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Gauge * gauge,
                       registry.AddGauge("g", "Back\\slash, \"quotes\"\nand a newline.", {"v"}));
  gauge->Set(1, {"a\\b\"c\nd"});
  EXPECT_EQ(registry.Render(),
            "# HELP g Back\\\\slash, \"quotes\"\\nand a newline.\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\\b\\\"c\\nd\"} 1\n");
}

TEST(MetricsRegistryTest, FormatsValuesSoPrometheusParsesThem) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Gauge * gauge, registry.AddGauge("g", "G.", {"case"}));
  const double kInf = std::numeric_limits<double>::infinity();
  gauge->Set(123456789, {"a_integer"});
  gauge->Set(-42, {"b_negative_integer"});
  gauge->Set(0.1, {"c_fraction"});
  gauge->Set(1e21, {"d_large"});
  gauge->Set(-2.5e-7, {"e_small"});
  gauge->Set(kInf, {"f_inf"});
  gauge->Set(-kInf, {"g_minus_inf"});
  gauge->Set(std::nan(""), {"h_nan"});
  gauge->Set(9007199254740991, {"i_largest_exact_integer"});
  EXPECT_EQ(registry.Render(),
            "# HELP g G.\n# TYPE g gauge\n"
            "g{case=\"a_integer\"} 123456789\n"
            "g{case=\"b_negative_integer\"} -42\n"
            "g{case=\"c_fraction\"} 0.1\n"
            "g{case=\"d_large\"} 1e+21\n"
            "g{case=\"e_small\"} -2.5e-07\n"
            "g{case=\"f_inf\"} +Inf\n"
            "g{case=\"g_minus_inf\"} -Inf\n"
            "g{case=\"h_nan\"} NaN\n"
            "g{case=\"i_largest_exact_integer\"} 9007199254740991\n");
}

TEST(MetricsRegistryTest, HistogramBucketsIncludeTheirUpperBound) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Histogram * histogram, registry.AddHistogram("h", "H.", {}, {1, 2}));
  histogram->Observe(1, {});
  histogram->Observe(2, {});
  histogram->Observe(std::nan(""), {});
  EXPECT_EQ(registry.Render(),
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\nh_bucket{le=\"+Inf\"} 3\n"
            "h_sum NaN\nh_count 3\n");
}

TEST(MetricsRegistryTest, RefusesInvalidNamesHelpAndBuckets) {
  MetricsRegistry registry;
  for (const char* name : {"", "1abc", "a-b", "a b", "é"}) {
    EXPECT_THAT(registry.AddCounter(name, "Help.", {}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid metric name")))
        << name;
  }
  for (const char* label : {"", "1abc", "a:b", "__reserved"}) {
    EXPECT_THAT(registry.AddGauge("g", "Help.", {label}),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid label name")))
        << label;
  }
  EXPECT_THAT(registry.AddGauge("g", "Help.", {"a", "a"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("repeated")));
  EXPECT_THAT(registry.AddGauge("g", "", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("help")));
  EXPECT_THAT(registry.AddHistogram("h", "Help.", {"le"}, {1}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'le'")));
  for (const std::vector<double>& bounds : {std::vector<double>{1, 1},
                                            {2, 1},
                                            {1, std::numeric_limits<double>::infinity()},
                                            {std::nan("")}}) {
    EXPECT_THAT(registry.AddHistogram("h", "Help.", {}, bounds),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("strictly increasing")));
  }
  // Nothing half-registered; these names are still free and valid.
  EXPECT_OK(registry.AddGauge("g", "Help.", {"_ok", "b2"}));
  EXPECT_OK(registry.AddHistogram("h", "Help.", {}, {}));
  EXPECT_OK(registry.AddCounter("colon:name_total", "Help.", {}));
}

TEST(MetricsRegistryTest, RefusesNamesAlreadyUsed) {
  MetricsRegistry registry;
  ASSERT_OK(registry.AddCounter("x_total", "X.", {}));
  EXPECT_THAT(registry.AddCounter("x_total", "X.", {}),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("x_total")));
  EXPECT_THAT(registry.AddGauge("x_total", "X.", {"a"}),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(registry.AddCallbackGauge("x_total", "X.", [] { return 0.0; }),
              StatusIs(absl::StatusCode::kAlreadyExists));
  // A histogram's samples use three more names.
  ASSERT_OK(registry.AddHistogram("h", "H.", {}, {1}));
  EXPECT_THAT(registry.AddCounter("h_count", "H.", {}),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("h_count")));
  ASSERT_OK(registry.AddGauge("y_sum", "Y.", {}));
  EXPECT_THAT(registry.AddHistogram("y", "Y.", {}, {1}),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("y_sum")));
}

TEST(MetricsRegistryTest, MisuseChangesNothingAndIsLoggedOncePerFamily) {
  std::ostringstream log;
  auto logger = GetLogger(kServerLogger);
  logger->sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Counter * counter, registry.AddCounter("c_total", "C.", {"a"}));
  ASSERT_OK_AND_ASSIGN(Gauge * gauge, registry.AddGauge("g", "G.", {}));
  ASSERT_OK_AND_ASSIGN(Histogram * histogram, registry.AddHistogram("h", "H.", {"a", "b"}, {1}));
  counter->Add(1, {"x"});
  const std::string before = registry.Render();

  counter->Add(1, {});
  counter->Add(1, {"x", "y"});
  counter->Add(-1, {"x"});
  counter->Add(std::nan(""), {"x"});
  gauge->Set(5, {"unexpected"});
  gauge->Add(5, {"unexpected"});
  histogram->Observe(1, {"only one"});
  EXPECT_EQ(registry.Render(), before);

  logger->flush();
  logger->sinks().pop_back();
  const std::vector<std::string> lines = absl::StrSplit(log.str(), '\n', absl::SkipEmpty());
  ASSERT_THAT(lines, SizeIs(3)) << log.str();
  EXPECT_THAT(lines[0], HasSubstr("metric c_total: update ignored: 0 label values for the 1"));
  EXPECT_THAT(lines[1], HasSubstr("metric g: update ignored: 1 label values for the 0"));
  EXPECT_THAT(lines[2], HasSubstr("metric h: update ignored: 1 label values for the 2 label "
                                  "names (a, b)"));
}

TEST(MetricsRegistryTest, NegativeCounterIncrementIsReported) {
  std::ostringstream log;
  auto logger = GetLogger(kServerLogger);
  logger->sinks().push_back(std::make_shared<spdlog::sinks::ostream_sink_st>(log));
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Counter * counter, registry.AddCounter("c_total", "C.", {}));
  counter->Add(-1, {});
  logger->flush();
  logger->sinks().pop_back();
  EXPECT_THAT(log.str(), HasSubstr("counter increment -1 is not >= 0"));
  EXPECT_THAT(registry.Render(), HasSubstr("\nc_total 0\n"));
}

TEST(MetricsRegistryTest, ConcurrentUpdatesAllCount) {
  constexpr int kThreads = 8, kPerThread = 20000;
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Counter * counter, registry.AddCounter("c_total", "C.", {"t"}));
  ASSERT_OK_AND_ASSIGN(Gauge * gauge, registry.AddGauge("g", "G.", {}));
  ASSERT_OK_AND_ASSIGN(Histogram * histogram, registry.AddHistogram("h", "H.", {}, {0.5}));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter->Add(1, {"shared"});
        counter->Add(1, {t % 2 == 0 ? "even" : "odd"});
        gauge->Add(t % 2 == 0 ? 2 : -1, {});
        histogram->Observe(i % 2, {});
      }
    });
  }
  // Rendering concurrently with the updates must be safe too.
  std::thread renderer([&] {
    for (int i = 0; i < 50; ++i) registry.Render();
  });
  for (std::thread& thread : threads) thread.join();
  renderer.join();
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("c_total{t=\"even\"} 80000\n"));
  EXPECT_THAT(text, HasSubstr("c_total{t=\"odd\"} 80000\n"));
  EXPECT_THAT(text, HasSubstr("c_total{t=\"shared\"} 160000\n"));
  EXPECT_THAT(text, HasSubstr("\ng 80000\n"));
  EXPECT_THAT(text, HasSubstr("h_bucket{le=\"0.5\"} 80000\nh_bucket{le=\"+Inf\"} 160000\n"
                              "h_sum 80000\nh_count 160000\n"));
}

TEST(MetricsRegistryTest, CallbackGaugesAreEvaluatedAtEachRender) {
  MetricsRegistry registry;
  int calls = 0;
  ASSERT_OK(registry.AddCallbackGauge("calls", "Renders so far.", [&] { return ++calls; }));
  EXPECT_THAT(registry.Render(), HasSubstr("\ncalls 1\n"));
  EXPECT_THAT(registry.Render(), HasSubstr("\ncalls 2\n"));
}

}  // namespace
}  // namespace videogen::server
