// The controller's HTTP listener (`dflow-controller run --http-listen`), for
// webhooks now and the dashboard and event feed later. Plain HTTP on a
// loopback address by default; put a TLS proxy in front to expose it.
//
// Request bodies over `max_body_bytes` are refused with 413 before they are
// read whole. Connections are served by a fixed pool of `workers` threads; a
// kept-alive connection holds a worker only while it is busy or for at most
// `keep_alive` idle, and at most `keep_alive_requests` requests, so idle
// clients cannot starve webhook deliveries of workers.
#ifndef DFLOW_CONTROLLER_HTTP_SERVER_H_
#define DFLOW_CONTROLLER_HTTP_SERVER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"

namespace dflow::http {

struct Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  // Header names lower-cased.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:7480";
  int64_t max_body_bytes = int64_t{1} << 20;
  int workers = 16;
  std::chrono::seconds keep_alive{2};
  int keep_alive_requests = 20;
  std::chrono::seconds read_timeout{10};
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void Post(const std::string& path, Handler handler);
  void Get(const std::string& path, Handler handler);
  // Binds (Unavailable when the address is taken) and serves on a thread.
  absl::Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ServerOptions options_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace dflow::http

#endif  // DFLOW_CONTROLLER_HTTP_SERVER_H_
