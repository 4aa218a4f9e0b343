#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/metrics.h"
#include "tests/testing/status_matchers.h"

namespace videogen::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::videogen::testing::StatusIs;

// A connected client socket to 127.0.0.1:`port` that gives up reading after 20 s; -1 on failure.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const timeval timeout = {20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, const std::string& data) {
  size_t offset = 0;
  while (offset < data.size()) {
    const ssize_t sent = send(fd, data.data() + offset, data.size() - offset, MSG_NOSIGNAL);
    ASSERT_GT(sent, 0) << "send failed";
    offset += sent;
  }
}

// Everything received on `fd` until the server closes the connection.
std::string ReceiveAll(int fd) {
  std::string received;
  char buffer[4096];
  ssize_t n;
  while ((n = recv(fd, buffer, sizeof(buffer), 0)) > 0) received.append(buffer, n);
  EXPECT_EQ(n, 0) << "the server did not close the connection";
  return received;
}

// Sends `request` on a new connection and returns the whole response.
std::string Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  EXPECT_GE(fd, 0) << "cannot connect to port " << port;
  if (fd < 0) return "";
  SendAll(fd, request);
  std::string response = ReceiveAll(fd);
  close(fd);
  return response;
}

class MetricsHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(Counter * counter,
                         registry_.AddCounter("requests_total", "Requests.", {"code"}));
    counter->Add(3, {"ok"});
    ASSERT_OK_AND_ASSIGN(server_, MetricsHttpServer::Start("127.0.0.1", 0, &registry_));
    ASSERT_GT(server_->port(), 0);
  }

  MetricsRegistry registry_;
  std::unique_ptr<MetricsHttpServer> server_;
};

TEST_F(MetricsHttpServerTest, ServesTheRegistryAtMetrics) {
  const std::string body = registry_.Render();
  ASSERT_THAT(body, HasSubstr("requests_total{code=\"ok\"} 3\n"));
  const std::string expected = absl::StrCat(
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
      "Content-Length: ",
      body.size(),
      "\r\n"
      "Connection: close\r\n"
      "\r\n",
      body);
  EXPECT_EQ(Exchange(server_->port(),
                     "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                     "User-Agent: test\r\nAccept: */*\r\n\r\n"),
            expected);
  // Requests in a row, HTTP/1.0 and a query string are served the same way.
  EXPECT_EQ(Exchange(server_->port(), "GET /metrics?x=1 HTTP/1.0\r\n\r\n"), expected);
}

TEST_F(MetricsHttpServerTest, OtherPathsAreNotFound) {
  for (const char* path : {"/", "/metrics/", "/metricsx", "/favicon.ico"}) {
    EXPECT_THAT(Exchange(server_->port(), absl::StrCat("GET ", path, " HTTP/1.1\r\n\r\n")),
                StartsWith("HTTP/1.1 404 Not Found\r\n"))
        << path;
  }
}

TEST_F(MetricsHttpServerTest, OtherMethodsAreNotAllowed) {
  const std::string response =
      Exchange(server_->port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_THAT(response, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(response, HasSubstr("\r\nAllow: GET\r\n"));
  EXPECT_THAT(Exchange(server_->port(), "DELETE /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 405 "));
}

TEST_F(MetricsHttpServerTest, MalformedRequestsAreBadRequests) {
  for (const std::string request :
       {"garbage\r\n\r\n", "GET /metrics\r\n\r\n", "GET /metrics HTTP/1.1 extra\r\n\r\n",
        "GET metrics HTTP/1.1\r\n\r\n", "GET /metrics SPDY/3\r\n\r\n",
        "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", "\r\n\r\n"}) {
    EXPECT_THAT(Exchange(server_->port(), request), StartsWith("HTTP/1.1 400 Bad Request\r\n"))
        << request;
  }
}

TEST_F(MetricsHttpServerTest, RequestHeadsOver8KiBAreBadRequests) {
  const std::string request_line = "GET /metrics HTTP/1.1\r\n";
  const std::string header = "X-Padding: ";
  // Exactly 8 KiB including the final empty line is still accepted.
  const std::string fits =
      request_line + header + std::string(8192 - request_line.size() - header.size() - 4, 'a');
  EXPECT_THAT(Exchange(server_->port(), fits + "\r\n\r\n"), StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(Exchange(server_->port(), fits + "a\r\n\r\n"),
              StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  // A head that never ends is refused without waiting for its end.
  EXPECT_THAT(Exchange(server_->port(), request_line + header + std::string(100000, 'a')),
              StartsWith("HTTP/1.1 400 Bad Request\r\n"));
}

TEST_F(MetricsHttpServerTest, StalledClientIsDroppedAndDoesNotBlockOthersForever) {
  const int stalled = Connect(server_->port());
  ASSERT_GE(stalled, 0);
  SendAll(stalled, "GET /metr");
  const absl::Time start = absl::Now();
  // Served once the stalled client has been dropped (after about 5 s).
  EXPECT_THAT(Exchange(server_->port(), "GET /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  EXPECT_EQ(ReceiveAll(stalled), "");
  close(stalled);
}

TEST_F(MetricsHttpServerTest, StopIsPromptEvenWithAStalledClient) {
  const int stalled = Connect(server_->port());
  ASSERT_GE(stalled, 0);
  SendAll(stalled, "GET /metr");
  absl::SleepFor(absl::Milliseconds(100));  // Let the server start reading it.
  const absl::Time start = absl::Now();
  server_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_EQ(ReceiveAll(stalled), "");
  close(stalled);
  EXPECT_EQ(Connect(server_->port()), -1) << "still listening after Stop()";
  server_->Stop();  // A second Stop() (and the destructor's) does nothing.
}

TEST(MetricsHttpServerStartTest, StopIsPromptWhenIdle) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(auto server, MetricsHttpServer::Start("127.0.0.1", 0, &registry));
  absl::SleepFor(absl::Milliseconds(50));  // Let the thread block in accept().
  const absl::Time start = absl::Now();
  server.reset();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(MetricsHttpServerStartTest, PortInUseIsUnavailableNamingTheAddress) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(auto first, MetricsHttpServer::Start("127.0.0.1", 0, &registry));
  const std::string address = absl::StrCat("127.0.0.1:", first->port());
  EXPECT_THAT(MetricsHttpServer::Start("127.0.0.1", first->port(), &registry),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(address)));
}

TEST(MetricsHttpServerStartTest, RefusesBadArguments) {
  MetricsRegistry registry;
  EXPECT_THAT(MetricsHttpServer::Start("127.0.0.1", 65536, &registry),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MetricsHttpServer::Start("127.0.0.1", -1, &registry),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(MetricsHttpServer::Start("127.0.0.1", 0, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // An address of TEST-NET-1 (RFC 5737), not one of this machine's.
  EXPECT_THAT(MetricsHttpServer::Start("192.0.2.1", 0, &registry),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("192.0.2.1:0")));
}

TEST(MetricsHttpServerStartTest, AcceptsBracketedIPv6Addresses) {
  MetricsRegistry registry;
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start("[::1]", 0, &registry);
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  EXPECT_GT((*server)->port(), 0);
}

}  // namespace
}  // namespace videogen::server
