// A minimal HTTP/1.1 endpoint for Prometheus scrapes of a MetricsRegistry, on POSIX sockets:
//
//   GET /metrics   200, the registry's text (Content-Type: text/plain; version=0.0.4; ...)
//   GET other      404
//   other method   405
//   a request head that is malformed or larger than 8 KiB: 400
//
// It serves one connection at a time on its own thread and closes each after its response
// (Connection: close). A client gets 5 s to send its request head and each send to it may block
// for 5 s at most; past that it is dropped.
//
// Thread-safe: Stop() may be called from any thread, more than once; the destructor calls it.
#ifndef VIDEOGEN_SERVER_METRICS_HTTP_H_
#define VIDEOGEN_SERVER_METRICS_HTTP_H_

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/metrics.h"

namespace videogen::server {

class MetricsHttpServer {
 public:
  // Listens on `host`:`port` and starts serving. `host` is a name or address ("" or "0.0.0.0":
  // every IPv4 interface; an IPv6 address may be in brackets); port 0 picks a free port.
  // `registry` must outlive the server. INVALID_ARGUMENT for a port outside [0, 65535] or a null
  // registry; UNAVAILABLE naming host:port if it cannot listen there.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host, int port,
                                                                  const MetricsRegistry* registry);
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The port listened on.
  int port() const { return port_; }

  // Stops listening, drops the connection being served, and joins the thread.
  void Stop();

 private:
  MetricsHttpServer(int listen_fd, int port, const MetricsRegistry* registry);

  void Serve();
  void Handle(int fd) const;

  const int listen_fd_;
  const int port_;
  const MetricsRegistry* const registry_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int connection_fd_ ABSL_GUARDED_BY(mu_) = -1;  // The connection being served, or -1.
  std::once_flag stop_once_;
  std::thread thread_;
};

}  // namespace videogen::server

#endif  // VIDEOGEN_SERVER_METRICS_HTTP_H_
