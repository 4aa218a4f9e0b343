#include "server/metrics_http.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "engine/common/logging.h"

namespace videogen::server {
namespace {

constexpr size_t kMaxRequestHead = 8 * 1024;
constexpr absl::Duration kClientTimeout = absl::Seconds(5);
constexpr int kListenBacklog = 16;

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::string Response(absl::string_view status, absl::string_view content_type,
                     absl::string_view body, absl::string_view extra_headers = "") {
  return absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(), "\r\n", extra_headers,
                      "Connection: close\r\n\r\n", body);
}

std::string TextResponse(absl::string_view status, absl::string_view extra_headers = "") {
  return Response(status, "text/plain; charset=utf-8", absl::StrCat(status, "\n"), extra_headers);
}

// The response to a request whose head (request line and header lines, without the empty line
// that ends it) is `head`.
std::string Respond(absl::string_view head, const MetricsRegistry& registry) {
  const std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  const std::vector<absl::string_view> request_line = absl::StrSplit(lines[0], ' ');
  bool well_formed = request_line.size() == 3 && !request_line[0].empty() &&
                     absl::StartsWith(request_line[1], "/") &&
                     absl::StartsWith(request_line[2], "HTTP/1.");
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    well_formed = well_formed && colon != absl::string_view::npos && colon > 0;
  }
  if (!well_formed) return TextResponse("400 Bad Request");
  if (request_line[0] != "GET") return TextResponse("405 Method Not Allowed", "Allow: GET\r\n");
  const absl::string_view path = request_line[1].substr(0, request_line[1].find('?'));
  if (path != "/metrics") return TextResponse("404 Not Found");
  return Response("200 OK", "text/plain; version=0.0.4; charset=utf-8", registry.Render());
}

// Reads what is available on `fd` once it is readable, or -1 if it is not readable by `deadline`;
// like recv(), 0 at the end of the stream and -1 on errors.
ssize_t ReceiveBefore(int fd, char* buffer, size_t size, absl::Time deadline) {
  while (true) {
    const int64_t timeout_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (timeout_ms <= 0) return -1;
    pollfd readable = {fd, POLLIN, 0};
    const int ready = poll(&readable, 1, static_cast<int>(timeout_ms));
    if (ready == 0 || (ready < 0 && errno != EINTR)) return -1;
    if (ready < 0) continue;
    const ssize_t received = recv(fd, buffer, size, 0);
    if (received >= 0 || errno != EINTR) return received;
  }
}

void SendAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return;  // The client is gone or too slow (SO_SNDTIMEO).
    data.remove_prefix(sent);
  }
}

int BoundPort(int fd) {
  sockaddr_storage address = {};
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.ss_family == AF_INET6
                   ? reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port
                   : reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, const MetricsRegistry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("no metrics registry");
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("metrics port ", port, " is not in [0, 65535]"));
  }
  const std::string address = absl::StrCat(host, ":", port);
  std::string node = host.empty() ? "0.0.0.0" : host;
  if (node.size() >= 2 && node.front() == '[' && node.back() == ']') {
    node = node.substr(1, node.size() - 2);
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* candidates = nullptr;
  if (const int error =
          getaddrinfo(node.c_str(), std::to_string(port).c_str(), &hints, &candidates);
      error != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address, ": ", gai_strerror(error)));
  }
  int fd = -1;
  std::string failure;
  for (const addrinfo* candidate = candidates; candidate != nullptr && fd < 0;
       candidate = candidate->ai_next) {
    fd =
        socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC, candidate->ai_protocol);
    const int one = 1;
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 &&
        listen(fd, kListenBacklog) == 0) {
      break;
    }
    failure = ErrnoText(errno);
    if (fd >= 0) close(fd);
    fd = -1;
  }
  freeaddrinfo(candidates);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", failure));
  }
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer(fd, BoundPort(fd), registry));
  server->thread_ = std::thread(&MetricsHttpServer::Serve, server.get());
  return server;
}

MetricsHttpServer::MetricsHttpServer(int listen_fd, int port, const MetricsRegistry* registry)
    : listen_fd_(listen_fd), port_(port), registry_(registry) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  std::call_once(stop_once_, [this] {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (connection_fd_ >= 0) shutdown(connection_fd_, SHUT_RDWR);
    }
    shutdown(listen_fd_, SHUT_RDWR);  // Wakes the thread's accept().
    thread_.join();
    close(listen_fd_);
  });
}

void MetricsHttpServer::Serve() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    const int accept_errno = errno;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) {
        if (fd >= 0) close(fd);
        return;
      }
      connection_fd_ = fd;
    }
    if (fd < 0) {
      if (accept_errno != EINTR && accept_errno != ECONNABORTED) {
        GetLogger(kServerLogger)
            ->warn("metrics endpoint: accept failed: {}", ErrnoText(accept_errno));
        absl::SleepFor(absl::Milliseconds(100));  // E.g. out of file descriptors: do not spin.
      }
      continue;
    }
    Handle(fd);
    {
      absl::MutexLock lock(&mu_);
      connection_fd_ = -1;
    }
    close(fd);
  }
}

void MetricsHttpServer::Handle(int fd) const {
  const timeval send_timeout = {absl::ToInt64Seconds(kClientTimeout), 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof(send_timeout));
  const absl::Time deadline = absl::Now() + kClientTimeout;
  std::string request;
  char buffer[4096];
  size_t head_end;
  while ((head_end = request.find("\r\n\r\n")) == std::string::npos &&
         request.size() < kMaxRequestHead) {
    const ssize_t received = ReceiveBefore(fd, buffer, sizeof(buffer), deadline);
    if (received <= 0) return;  // Closed, failed or too slow: no one to answer.
    request.append(buffer, received);
  }
  const bool too_large =
      head_end == std::string::npos || head_end + 4 > kMaxRequestHead;  // 4: the final CRLFCRLF.
  SendAll(fd, too_large ? TextResponse("400 Bad Request")
                        : Respond(absl::string_view(request).substr(0, head_end), *registry_));
  // Read what the client still sends until it closes, so that closing with unread data does not
  // reset the connection before the client has read the response.
  shutdown(fd, SHUT_WR);
  const absl::Time linger_deadline = absl::Now() + kClientTimeout;
  while (ReceiveBefore(fd, buffer, sizeof(buffer), linger_deadline) > 0) {
  }
}

}  // namespace videogen::server
