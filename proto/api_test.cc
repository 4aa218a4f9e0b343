// Tests of the public API's schema: the config file format, event round trips, the shape of the
// services (RPC names, message types, streaming) and the package-wide naming conventions.
#include <cctype>
#include <string>
#include <type_traits>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/impl/service_type.h"
#include "gtest/gtest.h"
#include "proto/schedule.pb.h"
#include "proto/search_job.pb.h"
#include "proto/server_config.pb.h"
#include "proto/video_job.pb.h"
#include "proto/videogen_service.grpc.pb.h"
#include "proto/videogen_service.pb.h"

namespace videogen::v1 {
namespace {

using ::google::protobuf::Descriptor;
using ::google::protobuf::EnumDescriptor;
using ::google::protobuf::FileDescriptor;
using ::google::protobuf::MethodDescriptor;
using ::google::protobuf::ServiceDescriptor;
using ::google::protobuf::TextFormat;
using ::testing::HasSubstr;

// Collects TextFormat parse errors so a test can check what they say.
class ErrorCollector : public ::google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, ::google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    errors_ += message + "\n";
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

// The .proto files of the API, through one generated message of each.
std::vector<const FileDescriptor*> ApiFiles() {
  return {Schedule::descriptor()->file(), VideoJob::descriptor()->file(),
          SearchJob::descriptor()->file(), ServerConfig::descriptor()->file(),
          GenerateRequest::descriptor()->file()};
}

// "JobState" -> "JOB_STATE".
std::string UpperSnake(const std::string& camel) {
  std::string out;
  for (char c : camel) {
    if (std::isupper(static_cast<unsigned char>(c)) && !out.empty()) out += '_';
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

TEST(ServerConfigProtoTest, ParsesTextFormat) {
  constexpr char kConfig[] = R"pb(
    listen_address: "127.0.0.1:6000"
    tls { cert_file: "/etc/videogen/tls.crt" key_file: "/etc/videogen/tls.key" }
    admin_token_file: "/etc/videogen/admin-token"
    metrics_port: 0
    data_dir: "/data/videogen"
    max_queued_jobs: 8
    result_retention { seconds: 3600 }
    limits { max_prompt_bytes: 512 max_height: 480 max_width: 832 max_frames: 33 max_steps: 20 }
    models { name: "wan2.1-t2v-1.3b" path: "/models/Wan2.1-T2V-1.3B" }
    models { name: "tiny" path: "/models/tiny" }
    default_model: "tiny"
    log_level: LOG_LEVEL_DEBUG
    engine_layout { devices_per_group: 8 cfg_parallel_degree: 2 ulysses_degree: 4 }
    shutdown_grace_period { seconds: 5 }
    fetch_chunk_bytes: 65536
  )pb";
  ServerConfig config;
  ASSERT_TRUE(TextFormat::ParseFromString(kConfig, &config));

  EXPECT_EQ(config.listen_address(), "127.0.0.1:6000");
  ASSERT_TRUE(config.has_tls());
  EXPECT_EQ(config.tls().cert_file(), "/etc/videogen/tls.crt");
  EXPECT_EQ(config.tls().key_file(), "/etc/videogen/tls.key");
  EXPECT_EQ(config.admin_token_file(), "/etc/videogen/admin-token");
  // 0 disables the metrics endpoint, which only explicit presence can tell from "unset".
  EXPECT_TRUE(config.has_metrics_port());
  EXPECT_EQ(config.metrics_port(), 0);
  EXPECT_EQ(config.data_dir(), "/data/videogen");
  EXPECT_EQ(config.max_queued_jobs(), 8);
  EXPECT_EQ(config.result_retention().seconds(), 3600);
  EXPECT_EQ(config.limits().max_prompt_bytes(), 512);
  EXPECT_EQ(config.limits().max_height(), 480);
  EXPECT_EQ(config.limits().max_width(), 832);
  EXPECT_EQ(config.limits().max_frames(), 33);
  EXPECT_EQ(config.limits().max_steps(), 20);
  ASSERT_EQ(config.models_size(), 2);
  EXPECT_EQ(config.models(0).name(), "wan2.1-t2v-1.3b");
  EXPECT_EQ(config.models(0).path(), "/models/Wan2.1-T2V-1.3B");
  EXPECT_EQ(config.models(1).name(), "tiny");
  EXPECT_EQ(config.default_model(), "tiny");
  EXPECT_EQ(config.log_level(), LOG_LEVEL_DEBUG);
  EXPECT_EQ(config.engine_layout().devices_per_group(), 8);
  EXPECT_EQ(config.engine_layout().cfg_parallel_degree(), 2);
  EXPECT_EQ(config.engine_layout().ulysses_degree(), 4);
  EXPECT_EQ(config.engine_layout().ring_degree(), 0);
  EXPECT_EQ(config.shutdown_grace_period().seconds(), 5);
  EXPECT_EQ(config.fetch_chunk_bytes(), 65536);
}

TEST(ServerConfigProtoTest, EmptyFileLeavesEveryFieldAtItsDefaultMarker) {
  // The schema documents "zero/empty/unset means the server default"; an empty file must parse
  // and read back as exactly those markers.
  ServerConfig config;
  ASSERT_TRUE(TextFormat::ParseFromString("", &config));
  EXPECT_EQ(config.listen_address(), "");
  EXPECT_FALSE(config.has_tls());
  EXPECT_EQ(config.admin_token_file(), "");
  EXPECT_FALSE(config.has_metrics_port());
  EXPECT_EQ(config.data_dir(), "");
  EXPECT_EQ(config.schedule_registry_path(), "");
  EXPECT_EQ(config.max_queued_jobs(), 0);
  EXPECT_FALSE(config.has_result_retention());
  EXPECT_FALSE(config.has_limits());
  EXPECT_EQ(config.limits().max_prompt_bytes(), 0);
  EXPECT_EQ(config.models_size(), 0);
  EXPECT_EQ(config.log_level(), LOG_LEVEL_UNSPECIFIED);
  EXPECT_FALSE(config.has_engine_layout());
  EXPECT_FALSE(config.has_shutdown_grace_period());
  EXPECT_EQ(config.fetch_chunk_bytes(), 0);
}

TEST(ServerConfigProtoTest, UnknownFieldFailsToParseAndIsNamed) {
  ServerConfig config;
  TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  EXPECT_FALSE(parser.ParseFromString(R"pb(listen_adress: "0.0.0.0:1")pb", &config));
  EXPECT_THAT(errors.errors(), HasSubstr("listen_adress"));
}

TEST(ServerConfigProtoTest, UnknownEnumValueFailsToParse) {
  ServerConfig config;
  TextFormat::Parser parser;
  ErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  EXPECT_FALSE(parser.ParseFromString("log_level: LOG_LEVEL_VERBOSE", &config));
  EXPECT_THAT(errors.errors(), HasSubstr("LOG_LEVEL_VERBOSE"));
}

TEST(VideoJobSpecProtoTest, SeedZeroIsDistinctFromUnset) {
  VideoJobSpec with_zero;
  with_zero.set_prompt("a red fox in the snow");
  with_zero.set_seed(0);
  VideoJobSpec parsed;
  ASSERT_TRUE(parsed.ParseFromString(with_zero.SerializeAsString()));
  EXPECT_TRUE(parsed.has_seed());
  EXPECT_EQ(parsed.seed(), 0u);

  VideoJobSpec unset;
  unset.set_prompt("a red fox in the snow");
  ASSERT_TRUE(parsed.ParseFromString(unset.SerializeAsString()));
  EXPECT_FALSE(parsed.has_seed());
}

TEST(JobEventProtoTest, ProgressRoundTripsThroughSerialization) {
  JobEvent event;
  event.set_job_id("0123456789abcdef0123456789abcdef");
  event.mutable_event_time()->set_seconds(1700000000);
  JobProgress* progress = event.mutable_progress();
  progress->set_step(7);
  progress->set_total_steps(50);
  progress->set_tokens_computed(2'000'000'000'000LL);  // Does not fit in 32 bits.
  progress->set_dense_tokens(5'000'000'000'000LL);
  progress->mutable_eta()->set_seconds(42);
  progress->mutable_eta()->set_nanos(500'000'000);

  JobEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(event.SerializeAsString()));
  ASSERT_EQ(parsed.event_case(), JobEvent::kProgress);
  EXPECT_EQ(parsed.job_id(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(parsed.event_time().seconds(), 1700000000);
  EXPECT_EQ(parsed.progress().step(), 7);
  EXPECT_EQ(parsed.progress().total_steps(), 50);
  EXPECT_EQ(parsed.progress().tokens_computed(), 2'000'000'000'000LL);
  EXPECT_EQ(parsed.progress().dense_tokens(), 5'000'000'000'000LL);
  EXPECT_EQ(parsed.progress().eta().seconds(), 42);
  EXPECT_EQ(parsed.progress().eta().nanos(), 500'000'000);
}

TEST(JobEventProtoTest, ResultCarriesTheFinalRecordThroughSerialization) {
  JobEvent event;
  event.set_job_id("job");
  VideoJob* job = event.mutable_result();
  job->set_id("job");
  job->mutable_spec()->set_prompt("waves at dusk");
  job->mutable_spec()->set_budget(0.4f);
  job->mutable_spec()->set_output_format(OUTPUT_FORMAT_RAW_FRAMES);
  job->set_state(JOB_STATE_SUCCEEDED);
  job->set_steps_done(50);
  job->set_steps_total(50);
  ScheduleRef* schedule = job->mutable_schedule();
  schedule->set_schedule_id("sched-1");
  schedule->set_version(3);
  schedule->set_searched(true);
  schedule->set_match(SCHEDULE_MATCH_EXACT_KEY);
  schedule->set_predicted_speedup(2.31f);
  schedule->set_psnr_db(31.5);
  job->mutable_stage_timings()->mutable_denoising()->set_seconds(12);
  job->set_peak_device_memory_bytes(9'040'000'000LL);
  job->mutable_output()->set_size_bytes(123456);
  job->mutable_output()->set_sha256(std::string(64, 'a'));

  JobEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(event.SerializeAsString()));
  ASSERT_EQ(parsed.event_case(), JobEvent::kResult);
  EXPECT_EQ(parsed.result().state(), JOB_STATE_SUCCEEDED);
  EXPECT_EQ(parsed.result().spec().prompt(), "waves at dusk");
  EXPECT_FLOAT_EQ(parsed.result().spec().budget(), 0.4f);
  EXPECT_EQ(parsed.result().spec().output_format(), OUTPUT_FORMAT_RAW_FRAMES);
  EXPECT_EQ(parsed.result().schedule().schedule_id(), "sched-1");
  EXPECT_EQ(parsed.result().schedule().version(), 3);
  EXPECT_TRUE(parsed.result().schedule().searched());
  EXPECT_EQ(parsed.result().schedule().match(), SCHEDULE_MATCH_EXACT_KEY);
  EXPECT_EQ(parsed.result().stage_timings().denoising().seconds(), 12);
  EXPECT_EQ(parsed.result().peak_device_memory_bytes(), 9'040'000'000LL);
  EXPECT_EQ(parsed.result().output().sha256(), std::string(64, 'a'));
  EXPECT_EQ(parsed.SerializeAsString(), event.SerializeAsString());
}

TEST(JobEventProtoTest, SettingAnotherEventReplacesTheFirst) {
  JobEvent event;
  event.mutable_queued()->set_position(3);
  ASSERT_EQ(event.event_case(), JobEvent::kQueued);
  event.mutable_stage_changed()->set_stage(JOB_STAGE_DENOISING);
  EXPECT_EQ(event.event_case(), JobEvent::kStageChanged);
  EXPECT_FALSE(event.has_queued());

  JobEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(event.SerializeAsString()));
  EXPECT_EQ(parsed.event_case(), JobEvent::kStageChanged);
  EXPECT_EQ(parsed.stage_changed().stage(), JOB_STAGE_DENOISING);
}

TEST(SearchEventProtoTest, ProgressRoundTripsThroughSerialization) {
  SearchEvent event;
  event.set_search_id("search");
  SearchProgress* progress = event.mutable_progress();
  progress->set_budget(0.5f);
  progress->set_generation(12);
  progress->set_total_generations(30);
  progress->set_best_fitness_mse(1.25e-3);
  progress->set_evaluations_done(600);
  progress->set_evaluations_total(1500);

  SearchEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(event.SerializeAsString()));
  ASSERT_EQ(parsed.event_case(), SearchEvent::kProgress);
  EXPECT_EQ(parsed.progress().generation(), 12);
  EXPECT_DOUBLE_EQ(parsed.progress().best_fitness_mse(), 1.25e-3);
  EXPECT_EQ(parsed.progress().evaluations_total(), 1500);
}

TEST(ScheduleProtoTest, ParsesTextFormatExport) {
  // Schedules are reviewed and shipped as text protos; the format must carry every part.
  constexpr char kSchedule[] = R"pb(
    id: "s1"
    version: 2
    key { model_id: "wan2.1-t2v-1.3b" height: 480 width: 832 frames: 81 steps: 4 }
    budget: 0.5
    thetas: [ 1, 0.2, 0.3, 1 ]
    searched: true
    provenance {
      search_id: "search"
      generation: 29
      fitness_mse: 0.002
      psnr_db: 30.5
      calibration_prompts: [ "a", "b" ]
      calibration_seeds: [ 0, 1 ]
      engine_version: "0.1.0"
      create_time { seconds: 1700000000 }
    }
    predicted_speedup: 1.8
    checksum: "00"
  )pb";
  Schedule schedule;
  ASSERT_TRUE(TextFormat::ParseFromString(kSchedule, &schedule));
  EXPECT_EQ(schedule.key().steps(), 4);
  ASSERT_EQ(schedule.thetas_size(), 4);
  EXPECT_FLOAT_EQ(schedule.thetas(1), 0.2f);
  EXPECT_EQ(schedule.provenance().calibration_seeds_size(), 2);
  EXPECT_EQ(schedule.provenance().create_time().seconds(), 1700000000);
}

TEST(SearchJobSpecProtoTest, UnsetMutationProbabilitiesAreDistinctFromZero) {
  // P_final = 0 (no mutation at the end) is a legitimate setting, so the defaults (0.1 / 0.01)
  // hang on presence, not on zero.
  SearchJobSpec spec;
  ASSERT_TRUE(TextFormat::ParseFromString("evolution { mutation_p_final: 0 }", &spec));
  EXPECT_FALSE(spec.evolution().has_mutation_p0());
  EXPECT_TRUE(spec.evolution().has_mutation_p_final());
  EXPECT_FALSE(spec.evolution().has_seed());
  EXPECT_FALSE(spec.evolution().has_repair_tolerance());
}

// One RPC as the service must declare it.
struct Rpc {
  const char* name;
  const char* input;
  const char* output;
  bool server_streaming;
};

void ExpectServiceHasExactly(const ServiceDescriptor* service, const std::vector<Rpc>& rpcs) {
  ASSERT_NE(service, nullptr);
  EXPECT_EQ(service->method_count(), static_cast<int>(rpcs.size()));
  for (const Rpc& rpc : rpcs) {
    SCOPED_TRACE(rpc.name);
    const MethodDescriptor* method = service->FindMethodByName(rpc.name);
    ASSERT_NE(method, nullptr);
    EXPECT_EQ(method->input_type()->full_name(), std::string("videogen.v1.") + rpc.input);
    EXPECT_EQ(method->output_type()->full_name(), std::string("videogen.v1.") + rpc.output);
    EXPECT_FALSE(method->client_streaming());
    EXPECT_EQ(method->server_streaming(), rpc.server_streaming);
    // Every RPC has its own request message, so each can evolve on its own.
    EXPECT_EQ(method->input_type()->name(), std::string(rpc.name) + "Request");
  }
}

const ServiceDescriptor* FindService(const std::string& full_name) {
  return ::google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(full_name);
}

TEST(VideoGenerationServiceTest, DeclaresTheJobRpcs) {
  static_assert(std::is_base_of<::grpc::Service, VideoGeneration::Service>::value,
                "gRPC service stubs were not generated");
  EXPECT_STREQ(VideoGeneration::service_full_name(), "videogen.v1.VideoGeneration");
  ExpectServiceHasExactly(
      FindService(VideoGeneration::service_full_name()),
      {
          {"Generate", "GenerateRequest", "JobEvent", true},
          {"SubmitJob", "SubmitJobRequest", "SubmitJobResponse", false},
          {"GetJob", "GetJobRequest", "GetJobResponse", false},
          {"WatchJob", "WatchJobRequest", "JobEvent", true},
          {"CancelJob", "CancelJobRequest", "CancelJobResponse", false},
          {"ListJobs", "ListJobsRequest", "ListJobsResponse", false},
          {"FetchVideo", "FetchVideoRequest", "VideoChunk", true},
          {"GetServerInfo", "GetServerInfoRequest", "GetServerInfoResponse", false},
      });
}

TEST(ScheduleRegistryServiceTest, DeclaresTheRegistryRpcs) {
  static_assert(std::is_base_of<::grpc::Service, ScheduleRegistry::Service>::value,
                "gRPC service stubs were not generated");
  ExpectServiceHasExactly(
      FindService(ScheduleRegistry::service_full_name()),
      {
          {"ListSchedules", "ListSchedulesRequest", "ListSchedulesResponse", false},
          {"GetSchedule", "GetScheduleRequest", "GetScheduleResponse", false},
          {"LookupSchedule", "LookupScheduleRequest", "LookupScheduleResponse", false},
          {"PutSchedule", "PutScheduleRequest", "PutScheduleResponse", false},
          {"DeleteSchedule", "DeleteScheduleRequest", "DeleteScheduleResponse", false},
      });
}

TEST(ScheduleSearchServiceTest, DeclaresTheSearchRpcs) {
  static_assert(std::is_base_of<::grpc::Service, ScheduleSearch::Service>::value,
                "gRPC service stubs were not generated");
  ExpectServiceHasExactly(
      FindService(ScheduleSearch::service_full_name()),
      {
          {"SubmitSearch", "SubmitSearchRequest", "SubmitSearchResponse", false},
          {"GetSearch", "GetSearchRequest", "GetSearchResponse", false},
          {"WatchSearch", "WatchSearchRequest", "SearchEvent", true},
          {"CancelSearch", "CancelSearchRequest", "CancelSearchResponse", false},
          {"ListSearches", "ListSearchesRequest", "ListSearchesResponse", false},
      });
}

TEST(ApiConventionsTest, EveryFileIsProto3InTheVersionedPackage) {
  for (const FileDescriptor* file : ApiFiles()) {
    SCOPED_TRACE(file->name());
    EXPECT_EQ(file->package(), "videogen.v1");
    EXPECT_EQ(file->syntax(), FileDescriptor::SYNTAX_PROTO3);
  }
}

TEST(ApiConventionsTest, EveryEnumIsPrefixedAndStartsWithUnspecifiedZero) {
  std::vector<const EnumDescriptor*> enums;
  for (const FileDescriptor* file : ApiFiles()) {
    for (int i = 0; i < file->enum_type_count(); ++i) enums.push_back(file->enum_type(i));
    for (int i = 0; i < file->message_type_count(); ++i) {
      const Descriptor* message = file->message_type(i);
      for (int j = 0; j < message->enum_type_count(); ++j) {
        enums.push_back(message->enum_type(j));
      }
    }
  }
  ASSERT_GE(enums.size(), 6u);
  for (const EnumDescriptor* type : enums) {
    SCOPED_TRACE(type->full_name());
    const std::string prefix = UpperSnake(type->name()) + "_";
    ASSERT_GE(type->value_count(), 2);
    EXPECT_EQ(type->value(0)->number(), 0);
    EXPECT_EQ(type->value(0)->name(), prefix + "UNSPECIFIED");
    for (int i = 0; i < type->value_count(); ++i) {
      EXPECT_EQ(type->value(i)->name().rfind(prefix, 0), 0u) << type->value(i)->name();
    }
  }
}

}  // namespace
}  // namespace videogen::v1
