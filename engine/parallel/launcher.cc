#include "engine/parallel/launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/common/status_macros.h"

extern char** environ;

namespace videogen::engine::parallel {
namespace {

constexpr char kRank[] = "VIDEOGEN_RANK";
constexpr char kWorldSize[] = "VIDEOGEN_WORLD_SIZE";
constexpr char kStorePort[] = "VIDEOGEN_STORE_PORT";

// This process's environment without the rank variables, plus the given rank's.
std::vector<std::string> EnvironmentFor(int rank, int world_size, int port) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string variable = *entry;
    bool ours = false;
    for (const char* name : {kRank, kWorldSize, kStorePort}) {
      ours = ours || variable.rfind(absl::StrCat(name, "="), 0) == 0;
    }
    if (!ours) env.push_back(variable);
  }
  env.push_back(absl::StrCat(kRank, "=", rank));
  env.push_back(absl::StrCat(kWorldSize, "=", world_size));
  env.push_back(absl::StrCat(kStorePort, "=", port));
  return env;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> pointers;
  for (std::string& s : strings) pointers.push_back(s.data());
  pointers.push_back(nullptr);
  return pointers;
}

absl::StatusOr<int> EnvInt(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return absl::NotFoundError(absl::StrCat(name, " is not set"));
  int parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed)) {
    return absl::InvalidArgumentError(absl::StrCat(name, "=\"", value, "\" is not an integer"));
  }
  return parsed;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RankProcesses>> RankProcesses::Start(const LaunchOptions& options,
                                                                    int first_rank) {
  if (options.world_size < 1 || first_rank < 0 || first_rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("cannot start ranks ", first_rank, " to ",
                                                   options.world_size - 1, " of a world of ",
                                                   options.world_size));
  }
  int port = options.store_port;
  if (port == 0) {
    if (first_rank > 0) {
      return absl::InvalidArgumentError("the caller's rank 0 serves the store: name its port");
    }
    VG_ASSIGN_OR_RETURN(port, PickFreePort());
  }
  std::unique_ptr<RankProcesses> processes(new RankProcesses(options, first_rank));
  for (int rank = first_rank; rank < options.world_size; ++rank) {
    std::vector<std::string> argv = {options.program};
    argv.insert(argv.end(), options.args.begin(), options.args.end());
    std::vector<std::string> env = EnvironmentFor(rank, options.world_size, port);
    env.insert(env.end(), options.environment.begin(), options.environment.end());
    std::vector<char*> argv_pointers = Pointers(argv), env_pointers = Pointers(env);
    pid_t pid = -1;
    const int error = posix_spawn(&pid, options.program.c_str(), nullptr, nullptr,
                                  argv_pointers.data(), env_pointers.data());
    if (error != 0) {
      return absl::InternalError(absl::StrCat("cannot start rank ", rank, " (", options.program,
                                              "): ", std::strerror(error)));
    }
    processes->pids_[rank - first_rank] = pid;
  }
  return processes;
}

RankProcesses::RankProcesses(const LaunchOptions& options, int first_rank)
    : options_(options),
      pids_(options.world_size - first_rank, -1),
      exits_(options.world_size - first_rank) {}

RankProcesses::~RankProcesses() { KillRunning(); }

void RankProcesses::KillRunning() {
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0) continue;
    kill(pids_[i], SIGKILL);
    waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
    exits_[i].killed = true;
    exits_[i].signal = SIGKILL;
  }
}

// Records the exit of rank slot `i` if it has ended; true if it has.
bool RankProcesses::Reap(size_t i) {
  int status = 0;
  if (pids_[i] <= 0 || waitpid(pids_[i], &status, WNOHANG) != pids_[i]) return false;
  pids_[i] = -1;
  if (WIFEXITED(status)) exits_[i].exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) exits_[i].signal = WTERMSIG(status);
  return true;
}

bool RankProcesses::AllRunning() {
  bool all = true;
  for (size_t i = 0; i < pids_.size(); ++i) {
    Reap(i);
    all = all && pids_[i] > 0;
  }
  return all;
}

std::vector<RankExit> RankProcesses::Wait(absl::Duration limit) {
  absl::Time kill_at = absl::Now() + std::min(options_.timeout, limit);
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (pids_[i] <= 0 && !exits_[i].ok()) {  // Already reaped by AllRunning().
      kill_at = std::min(kill_at, absl::Now() + options_.grace);
    }
  }
  auto running = [&] {
    for (pid_t pid : pids_) {
      if (pid > 0) return true;
    }
    return false;
  };
  while (running()) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (Reap(i) && !exits_[i].ok()) kill_at = std::min(kill_at, absl::Now() + options_.grace);
    }
    if (running() && absl::Now() >= kill_at) KillRunning();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return exits_;
}

absl::StatusOr<std::vector<RankExit>> LaunchRanks(const LaunchOptions& options) {
  VG_ASSIGN_OR_RETURN(std::unique_ptr<RankProcesses> processes, RankProcesses::Start(options));
  return processes->Wait();
}

absl::StatusOr<RankEnvironment> RankEnvironmentFromEnv() {
  RankEnvironment env;
  VG_ASSIGN_OR_RETURN(env.rank, EnvInt(kRank));
  VG_ASSIGN_OR_RETURN(env.world_size, EnvInt(kWorldSize));
  VG_ASSIGN_OR_RETURN(env.store_port, EnvInt(kStorePort));
  if (env.world_size < 1 || env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", env.rank, " of a world of ", env.world_size, " is impossible"));
  }
  return env;
}

std::string CurrentExecutable() {
  char path[PATH_MAX];
  const ssize_t length = readlink("/proc/self/exe", path, sizeof(path) - 1);
  return length > 0 ? std::string(path, length) : std::string("/proc/self/exe");
}

absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int saved_errno = errno;
  close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("no free port: ", std::strerror(saved_errno)));
  return ntohs(address.sin_port);
}

}  // namespace videogen::engine::parallel
