// A small registry of Prometheus metrics, rendered in the text exposition format (version 0.0.4)
// for a /metrics endpoint (see metrics_http.h).
//
//   MetricsRegistry registry;
//   VG_ASSIGN_OR_RETURN(Counter* jobs,
//                       registry.AddCounter("videogen_jobs_total", "Jobs by state.", {"state"}));
//   jobs->Add(1, {"succeeded"});
//   std::string text = registry.Render();
//
// A family (Counter, Gauge, Histogram) is a metric name with a fixed list of label names; each
// update names one value per label name, in that order, and so selects a series. A family without
// labels has its one series (at zero) from registration; a labelled series appears on its first
// update. Updates that break the contract (the wrong number of label values, a negative or NaN
// counter increment) change nothing and are logged at error level on the server logger, once per
// family.
//
// Families are owned by the registry: their pointers stay valid for the registry's life.
//
// Thread-safe: every method of the registry and the families may be called concurrently. Callback
// gauges' callbacks run on the thread that calls Render(), without any lock of the registry held.
#ifndef VIDEOGEN_SERVER_METRICS_H_
#define VIDEOGEN_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace videogen::server {

// What every kind of family shares; use the derived classes.
class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

 protected:
  MetricFamily(std::string name, std::string help, const char* type,
               std::vector<std::string> label_names);

  // True if `label_values` has one value per label name; otherwise logs (once) and returns false.
  bool LabelsMatch(const std::vector<std::string>& label_values) const;
  // Logs `problem` at error level, the first time only.
  void ReportMisuse(const std::string& problem) const;

  const std::string name_;
  const std::vector<std::string> label_names_;

 private:
  friend class MetricsRegistry;

  // Appends the family's HELP and TYPE lines and then its samples.
  void Render(std::string* out) const;
  virtual void RenderSamples(std::string* out) const = 0;

  const std::string help_;
  const char* const type_;
  mutable std::atomic<bool> misuse_reported_{false};
};

// Counter and Gauge: one value per series.
class ValueFamily : public MetricFamily {
 protected:
  ValueFamily(std::string name, std::string help, const char* type,
              std::vector<std::string> label_names);

  // Sets the series to `value`, or adds `value` to it if `add`.
  void Update(double value, bool add, const std::vector<std::string>& label_values);

 private:
  void RenderSamples(std::string* out) const override;

  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, double> values_ ABSL_GUARDED_BY(mu_);
};

// A value that only goes up (name it `..._total`).
class Counter final : public ValueFamily {
 public:
  // `delta` must be >= 0.
  void Add(double delta, const std::vector<std::string>& label_values);

 private:
  friend class MetricsRegistry;
  Counter(std::string name, std::string help, std::vector<std::string> label_names)
      : ValueFamily(std::move(name), std::move(help), "counter", std::move(label_names)) {}
};

// A value that goes up and down.
class Gauge final : public ValueFamily {
 public:
  void Set(double value, const std::vector<std::string>& label_values);
  void Add(double delta, const std::vector<std::string>& label_values);

 private:
  friend class MetricsRegistry;
  Gauge(std::string name, std::string help, std::vector<std::string> label_names)
      : ValueFamily(std::move(name), std::move(help), "gauge", std::move(label_names)) {}
};

// Counts observations into buckets by upper bound, plus their sum and count.
class Histogram final : public MetricFamily {
 public:
  // A NaN observation counts only in the +Inf bucket (and makes the sum NaN).
  void Observe(double value, const std::vector<std::string>& label_values);

 private:
  friend class MetricsRegistry;
  struct Series {
    std::vector<uint64_t> counts;  // Per bucket, not cumulative; the last is +Inf.
    double sum = 0;
  };

  Histogram(std::string name, std::string help, std::vector<std::string> label_names,
            std::vector<double> bounds);
  void RenderSamples(std::string* out) const override;
  Series& SeriesFor(const std::vector<std::string>& label_values)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, Series> series_ ABSL_GUARDED_BY(mu_);
};

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each Add*() returns INVALID_ARGUMENT for a metric name not matching [a-zA-Z_:][a-zA-Z0-9_:]*,
  // a label name not matching [a-zA-Z_][a-zA-Z0-9_]* (or starting with "__", reserved), a label
  // name given twice, or an empty `help`; ALREADY_EXISTS if a sample name of the new family
  // (e.g. "x_count" for histogram "x") is already used by a registered family.
  absl::StatusOr<Counter*> AddCounter(const std::string& name, const std::string& help,
                                      const std::vector<std::string>& label_names);
  absl::StatusOr<Gauge*> AddGauge(const std::string& name, const std::string& help,
                                  const std::vector<std::string>& label_names);
  // `bucket_upper_bounds` must be finite and strictly increasing (+Inf is implied), and "le" is
  // not a valid label name: INVALID_ARGUMENT otherwise.
  absl::StatusOr<Histogram*> AddHistogram(const std::string& name, const std::string& help,
                                          const std::vector<std::string>& label_names,
                                          std::vector<double> bucket_upper_bounds);
  // A gauge without labels whose value is `value()` at render time. `value` must be thread-safe.
  absl::Status AddCallbackGauge(const std::string& name, const std::string& help,
                                std::function<double()> value);

  // Every family in registration order; within one, series sorted by label values.
  std::string Render() const;

 private:
  // Checks `name`, `help` and `label_names`, and that `name` + each of `suffixes` is unused.
  absl::Status Validate(const std::string& name, const std::string& help,
                        const std::vector<std::string>& label_names,
                        const std::vector<absl::string_view>& suffixes) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Takes ownership of `family`, called `name`, and reserves its sample names.
  template <typename Family>
  Family* Insert(const std::string& name, Family* family,
                 const std::vector<absl::string_view>& suffixes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<MetricFamily>> families_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> sample_names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_METRICS_H_
