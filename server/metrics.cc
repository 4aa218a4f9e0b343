#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/common/logging.h"

namespace videogen::server {
namespace {

bool IsValidName(absl::string_view name, bool allow_colon) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [allow_colon](char c) {
    return absl::ascii_isalnum(c) || c == '_' || (allow_colon && c == ':');
  });
}

// Prometheus' text form of a sample value: exact integers without exponent, "+Inf", "-Inf",
// "NaN", and otherwise the shortest decimal that reads back as the same double.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::trunc(value) == value && std::abs(value) < 0x1p53) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// `text` with backslash and newline escaped, and double quotes too if `quote`.
std::string Escape(absl::string_view text, bool quote) {
  std::string escaped;
  for (char c : text) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else if (c == '"' && quote) {
      escaped += "\\\"";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

// Appends the line `name{label="value",...,le="<le>"} value`; no le label if `le` is empty.
void AppendSample(std::string* out, absl::string_view name,
                  const std::vector<std::string>& label_names,
                  const std::vector<std::string>& label_values, absl::string_view le,
                  double value) {
  std::vector<std::string> pairs;
  for (size_t i = 0; i < label_names.size(); ++i) {
    pairs.push_back(absl::StrCat(label_names[i], "=\"", Escape(label_values[i], true), "\""));
  }
  if (!le.empty()) pairs.push_back(absl::StrCat("le=\"", le, "\""));
  absl::StrAppend(out, name, pairs.empty() ? "" : absl::StrCat("{", absl::StrJoin(pairs, ","), "}"),
                  " ", FormatValue(value), "\n");
}

class CallbackGauge final : public MetricFamily {
 public:
  CallbackGauge(std::string name, std::string help, std::function<double()> value)
      : MetricFamily(std::move(name), std::move(help), "gauge", {}), value_(std::move(value)) {}

 private:
  void RenderSamples(std::string* out) const override {
    AppendSample(out, name_, {}, {}, "", value_());
  }

  const std::function<double()> value_;
};

}  // namespace

MetricFamily::MetricFamily(std::string name, std::string help, const char* type,
                           std::vector<std::string> label_names)
    : name_(std::move(name)),
      label_names_(std::move(label_names)),
      help_(std::move(help)),
      type_(type) {}

bool MetricFamily::LabelsMatch(const std::vector<std::string>& label_values) const {
  if (label_values.size() == label_names_.size()) return true;
  ReportMisuse(absl::StrCat(label_values.size(), " label values for the ", label_names_.size(),
                            " label names (", absl::StrJoin(label_names_, ", "), ")"));
  return false;
}

void MetricFamily::ReportMisuse(const std::string& problem) const {
  if (misuse_reported_.exchange(true)) return;
  GetLogger(kServerLogger)
      ->error("metric {}: update ignored: {} (further misuse is not logged)", name_, problem);
}

void MetricFamily::Render(std::string* out) const {
  absl::StrAppend(out, "# HELP ", name_, " ", Escape(help_, false), "\n# TYPE ", name_, " ", type_,
                  "\n");
  RenderSamples(out);
}

ValueFamily::ValueFamily(std::string name, std::string help, const char* type,
                         std::vector<std::string> label_names)
    : MetricFamily(std::move(name), std::move(help), type, std::move(label_names)) {
  if (label_names_.empty()) values_[{}] = 0;
}

void ValueFamily::Update(double value, bool add, const std::vector<std::string>& label_values) {
  if (!LabelsMatch(label_values)) return;
  absl::MutexLock lock(&mu_);
  double& current = values_[label_values];
  current = add ? current + value : value;
}

void ValueFamily::RenderSamples(std::string* out) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [label_values, value] : values_) {
    AppendSample(out, name_, label_names_, label_values, "", value);
  }
}

void Counter::Add(double delta, const std::vector<std::string>& label_values) {
  if (!(delta >= 0)) {
    ReportMisuse(absl::StrCat("counter increment ", FormatValue(delta), " is not >= 0"));
    return;
  }
  Update(delta, /*add=*/true, label_values);
}

void Gauge::Set(double value, const std::vector<std::string>& label_values) {
  Update(value, /*add=*/false, label_values);
}

void Gauge::Add(double delta, const std::vector<std::string>& label_values) {
  Update(delta, /*add=*/true, label_values);
}

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds)
    : MetricFamily(std::move(name), std::move(help), "histogram", std::move(label_names)),
      bounds_(std::move(bounds)) {
  absl::MutexLock lock(&mu_);
  if (label_names_.empty()) SeriesFor({});
}

Histogram::Series& Histogram::SeriesFor(const std::vector<std::string>& label_values) {
  Series& series = series_[label_values];
  if (series.counts.empty()) series.counts.resize(bounds_.size() + 1);
  return series;
}

void Histogram::Observe(double value, const std::vector<std::string>& label_values) {
  if (!LabelsMatch(label_values)) return;
  // The first bucket whose bound is >= value; none (the +Inf bucket) for NaN.
  const size_t bucket = std::partition_point(bounds_.begin(), bounds_.end(),
                                             [value](double bound) { return !(bound >= value); }) -
                        bounds_.begin();
  absl::MutexLock lock(&mu_);
  Series& series = SeriesFor(label_values);
  ++series.counts[bucket];
  series.sum += value;
}

void Histogram::RenderSamples(std::string* out) const {
  const std::string bucket_name = name_ + "_bucket";
  absl::MutexLock lock(&mu_);
  for (const auto& [label_values, series] : series_) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < series.counts.size(); ++i) {
      cumulative += series.counts[i];
      const std::string le = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
      AppendSample(out, bucket_name, label_names_, label_values, le, cumulative);
    }
    AppendSample(out, name_ + "_sum", label_names_, label_values, "", series.sum);
    AppendSample(out, name_ + "_count", label_names_, label_values, "", cumulative);
  }
}

absl::Status MetricsRegistry::Validate(const std::string& name, const std::string& help,
                                       const std::vector<std::string>& label_names,
                                       const std::vector<absl::string_view>& suffixes) const {
  if (!IsValidName(name, /*allow_colon=*/true)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric name '", name, "'"));
  }
  if (help.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("metric ", name, " has no help text"));
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!IsValidName(label, /*allow_colon=*/false) || absl::StartsWith(label, "__")) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label name '", label, "' for metric ", name));
    }
    if (std::find(label_names.begin(), label_names.begin() + i, label) != label_names.begin() + i) {
      return absl::InvalidArgumentError(
          absl::StrCat("label name '", label, "' repeated for metric ", name));
    }
  }
  for (absl::string_view suffix : suffixes) {
    if (sample_names_.contains(absl::StrCat(name, suffix))) {
      return absl::AlreadyExistsError(
          absl::StrCat("metric ", name, suffix, " is already registered"));
    }
  }
  return absl::OkStatus();
}

template <typename Family>
Family* MetricsRegistry::Insert(const std::string& name, Family* family,
                                const std::vector<absl::string_view>& suffixes) {
  families_.emplace_back(family);
  for (absl::string_view suffix : suffixes) sample_names_.insert(absl::StrCat(name, suffix));
  return family;
}

absl::StatusOr<Counter*> MetricsRegistry::AddCounter(const std::string& name,
                                                     const std::string& help,
                                                     const std::vector<std::string>& label_names) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Validate(name, help, label_names, {""}); !status.ok()) return status;
  return Insert(name, new Counter(name, help, label_names), {""});
}

absl::StatusOr<Gauge*> MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                                 const std::vector<std::string>& label_names) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Validate(name, help, label_names, {""}); !status.ok()) return status;
  return Insert(name, new Gauge(name, help, label_names), {""});
}

absl::StatusOr<Histogram*> MetricsRegistry::AddHistogram(
    const std::string& name, const std::string& help, const std::vector<std::string>& label_names,
    std::vector<double> bucket_upper_bounds) {
  const std::vector<absl::string_view> suffixes = {"", "_bucket", "_sum", "_count"};
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Validate(name, help, label_names, suffixes); !status.ok()) {
    return status;
  }
  if (std::find(label_names.begin(), label_names.end(), "le") != label_names.end()) {
    return absl::InvalidArgumentError(absl::StrCat("histogram ", name, " may not use label 'le'"));
  }
  for (size_t i = 0; i < bucket_upper_bounds.size(); ++i) {
    if (!std::isfinite(bucket_upper_bounds[i]) ||
        (i > 0 && !(bucket_upper_bounds[i - 1] < bucket_upper_bounds[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram ", name, ": bucket bounds must be finite and strictly increasing"));
    }
  }
  return Insert(name, new Histogram(name, help, label_names, std::move(bucket_upper_bounds)),
                suffixes);
}

absl::Status MetricsRegistry::AddCallbackGauge(const std::string& name, const std::string& help,
                                               std::function<double()> value) {
  absl::MutexLock lock(&mu_);
  if (absl::Status status = Validate(name, help, {}, {""}); !status.ok()) return status;
  Insert(name, new CallbackGauge(name, help, std::move(value)), {""});
  return absl::OkStatus();
}

std::string MetricsRegistry::Render() const {
  // Families are never removed, so they can be rendered (and callbacks run) without mu_ held.
  std::vector<const MetricFamily*> families;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& family : families_) families.push_back(family.get());
  }
  std::string out;
  for (const MetricFamily* family : families) family->Render(&out);
  return out;
}

}  // namespace videogen::server
