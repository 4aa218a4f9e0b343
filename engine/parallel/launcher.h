// Starts the processes of one engine group, one per rank, on this host, and supervises them:
// the way the multi-GPU benchmark and tests start their ranks (and the documented way to start a
// group by hand: engine/parallel/README.md).
//
// Each rank runs `program args...` with VIDEOGEN_RANK, VIDEOGEN_WORLD_SIZE and
// VIDEOGEN_STORE_PORT in its environment (RankEnvironment() reads them back). If a rank fails
// (non-zero exit or a signal) the others get `grace` to notice through their collectives and
// exit on their own; whatever still runs after that, or after `timeout` in all, is killed, so a
// group never hangs.
#ifndef VIDEOGEN_ENGINE_PARALLEL_LAUNCHER_H_
#define VIDEOGEN_ENGINE_PARALLEL_LAUNCHER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace videogen::engine::parallel {

struct LaunchOptions {
  std::string program;            // Path of the executable.
  std::vector<std::string> args;  // Its arguments (argv[1...]), the same for every rank.
  // More environment variables for every rank, "NAME=value".
  std::vector<std::string> environment;
  int world_size = 1;
  int store_port = 0;  // The rendezvous port rank 0 serves; 0 picks a free one.
  absl::Duration timeout = absl::Minutes(30);
  absl::Duration grace = absl::Seconds(20);
};

struct RankExit {
  int exit_code = -1;  // -1 if ended by a signal.
  int signal = 0;
  bool killed = false;  // By the launcher (timeout or after another rank failed).
  bool ok() const { return exit_code == 0; }
};

// Rank processes started by Start() and supervised by Wait(); destroying the object kills those
// still running.
class RankProcesses {
 public:
  // Starts ranks [first_rank, world_size) (first_rank 1: the caller is rank 0 itself, as the
  // server is; options.store_port must then be set). INVALID_ARGUMENT for a world size < 1 or a
  // first rank outside it; INTERNAL if a process cannot be started (the ones already started
  // are killed).
  static absl::StatusOr<std::unique_ptr<RankProcesses>> Start(const LaunchOptions& options,
                                                              int first_rank = 0);
  ~RankProcesses();

  // Without waiting: true while every started rank still runs (ended ones are reaped; Wait()
  // reports them).
  bool AllRunning();
  // Waits until every started rank has ended (killing as the class comment says, and whatever
  // still runs after `limit`) and returns their exits, indexed by rank - first_rank.
  std::vector<RankExit> Wait(absl::Duration limit = absl::InfiniteDuration());

 private:
  RankProcesses(const LaunchOptions& options, int first_rank);
  bool Reap(size_t i);
  void KillRunning();

  const LaunchOptions options_;
  std::vector<int> pids_;  // -1 once reaped.
  std::vector<RankExit> exits_;
};

// Start() and Wait() for all ranks: one RankExit per rank.
absl::StatusOr<std::vector<RankExit>> LaunchRanks(const LaunchOptions& options);

// What a rank process was started with.
struct RankEnvironment {
  int rank = 0;
  int world_size = 1;
  int store_port = 0;
};
// From the environment LaunchRanks sets; NOT_FOUND if VIDEOGEN_RANK is unset (not started by a
// launcher), INVALID_ARGUMENT if a variable is malformed.
absl::StatusOr<RankEnvironment> RankEnvironmentFromEnv();

// A TCP port on the loopback interface that was free a moment ago (for tests and launches).
absl::StatusOr<int> PickFreePort();

// The path of this process's executable (for launching more ranks of the same program).
std::string CurrentExecutable();

}  // namespace videogen::engine::parallel

#endif  // VIDEOGEN_ENGINE_PARALLEL_LAUNCHER_H_
