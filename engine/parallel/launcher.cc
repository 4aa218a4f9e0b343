#include "engine/parallel/launcher.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

absl::StatusOr<std::vector<RankExit>> LaunchRanks(const LaunchOptions& options) {
  if (options.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("world size ", options.world_size, " is not positive"));
  }
  int port = options.store_port;
  if (port == 0) {
    VG_ASSIGN_OR_RETURN(port, PickFreePort());
  }
  std::vector<pid_t> pids(options.world_size, -1);
  std::vector<RankExit> exits(options.world_size);
  auto kill_started = [&] {
    for (pid_t pid : pids) {
      if (pid > 0) kill(pid, SIGKILL);
    }
    for (pid_t pid : pids) {
      if (pid > 0) waitpid(pid, nullptr, 0);
    }
  };
  for (int rank = 0; rank < options.world_size; ++rank) {
    std::vector<std::string> argv = {options.program};
    argv.insert(argv.end(), options.args.begin(), options.args.end());
    std::vector<std::string> env = EnvironmentFor(rank, options.world_size, port);
    std::vector<char*> argv_pointers = Pointers(argv), env_pointers = Pointers(env);
    const int error = posix_spawn(&pids[rank], options.program.c_str(), nullptr, nullptr,
                                  argv_pointers.data(), env_pointers.data());
    if (error != 0) {
      pids[rank] = -1;
      kill_started();
      return absl::InternalError(absl::StrCat("cannot start rank ", rank, " (", options.program,
                                              "): ", std::strerror(error)));
    }
  }
  const absl::Time deadline = absl::Now() + options.timeout;
  absl::Time kill_at = deadline;
  int running = options.world_size;
  while (running > 0) {
    for (int rank = 0; rank < options.world_size; ++rank) {
      if (pids[rank] <= 0) continue;
      int status = 0;
      if (waitpid(pids[rank], &status, WNOHANG) != pids[rank]) continue;
      pids[rank] = -1;
      --running;
      RankExit& exit = exits[rank];
      if (WIFEXITED(status)) exit.exit_code = WEXITSTATUS(status);
      if (WIFSIGNALED(status)) exit.signal = WTERMSIG(status);
      if (!exit.ok()) kill_at = std::min(kill_at, absl::Now() + options.grace);
    }
    if (running > 0 && absl::Now() >= kill_at) {
      for (int rank = 0; rank < options.world_size; ++rank) {
        if (pids[rank] > 0) exits[rank].killed = true;
      }
      kill_started();
      for (int rank = 0; rank < options.world_size; ++rank) {
        if (exits[rank].killed) exits[rank].signal = SIGKILL;
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return exits;
}

absl::StatusOr<RankEnvironment> RankEnvironmentFromEnv() {
  RankEnvironment env;
  VG_ASSIGN_OR_RETURN(env.rank, EnvInt(kRank));
  VG_ASSIGN_OR_RETURN(env.world_size, EnvInt(kWorldSize));
  VG_ASSIGN_OR_RETURN(env.store_port, EnvInt(kStorePort));
  if (env.world_size < 1 || env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank ", env.rank, " of a world of ",
                                                   env.world_size, " is impossible"));
  }
  return env;
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
