// Prints a MetricsRegistry that holds every kind of metric, with awkward label values, in the
// Prometheus text format; metrics_promtool_test checks the output with promtool.
#include <cmath>
#include <iostream>
#include <limits>

#include "absl/status/status.h"
#include "engine/common/status_macros.h"
#include "server/metrics.h"

namespace videogen::server {
namespace {

absl::Status PrintSample() {
  MetricsRegistry registry;
  VG_ASSIGN_OR_RETURN(
      Counter * requests,
      registry.AddCounter("videogen_sample_requests_total",
                          "Requests by code and path.\nHelp with a \\ backslash and \"quotes\".",
                          {"code", "path"}));
  requests->Add(3, {"ok", "/metrics"});
  requests->Add(1, {"not_found", "C:\\temp\\\"quoted\"\nsecond line"});
  requests->Add(2, {"empty_path", ""});
  requests->Add(0.5, {"unicode", "vidéo ✓ {}=,"});
  VG_RETURN_IF_ERROR(registry
                         .AddCounter("videogen_sample_unused_total",
                                     "A labelled counter that was never updated.", {"reason"})
                         .status());

  VG_ASSIGN_OR_RETURN(Gauge * temperature,
                      registry.AddGauge("videogen_sample_temperature_celsius",
                                        "Temperatures by sensor.", {"sensor"}));
  const double kInf = std::numeric_limits<double>::infinity();
  temperature->Set(-12.5, {"outside"});
  temperature->Set(kInf, {"overheated"});
  temperature->Set(-kInf, {"frozen"});
  temperature->Set(std::nan(""), {"broken"});
  temperature->Set(1.5e7, {"sun_core"});
  temperature->Set(2.5e-7, {"tiny"});
  temperature->Set(1e21, {"huge"});
  VG_ASSIGN_OR_RETURN(Gauge * memory, registry.AddGauge("videogen_sample_device_memory_bytes",
                                                        "Device memory in use.", {}));
  memory->Set(80e9, {});
  memory->Add(-1.5e9, {});
  VG_RETURN_IF_ERROR(registry.AddCallbackGauge("videogen_sample_queued_jobs",
                                               "Jobs waiting to run.", [] { return 7.0; }));

  VG_ASSIGN_OR_RETURN(Histogram * latency,
                      registry.AddHistogram("videogen_sample_stage_seconds", "Wall time per stage.",
                                            {"stage"}, {0.001, 0.01, 0.1, 1, 10, 100}));
  for (double seconds : {0.0005, 0.02, 0.3, 0.3, 4.0, 250.0}) latency->Observe(seconds, {"vae"});
  latency->Observe(0.1, {"text \"encoding\"\n"});
  VG_ASSIGN_OR_RETURN(
      Histogram * ratio,
      registry.AddHistogram("videogen_sample_tokens_computed_ratio",
                            "Tokens computed over dense tokens.", {}, {0.25, 0.5, 0.75, 1}));
  ratio->Observe(0.4, {});

  std::cout << registry.Render();
  return absl::OkStatus();
}

}  // namespace
}  // namespace videogen::server

int main() {
  if (const absl::Status status = videogen::server::PrintSample(); !status.ok()) {
    std::cerr << "metrics_sample: " << status << "\n";
    return 1;
  }
  return 0;
}
