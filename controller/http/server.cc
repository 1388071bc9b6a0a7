#include "controller/http/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/names.h"

namespace dflow::http {

struct Server::Impl {
  httplib::Server server;
  std::atomic<bool> returned{false};  // listen_after_bind is over
};

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

namespace {

httplib::Server::Handler Wrap(Handler h) {
  return [h = std::move(h)](const httplib::Request& in, httplib::Response& out) {
    Request r;
    r.method = in.method;
    r.path = in.path;
    for (const auto& [k, v] : in.params) r.query[k] = v;
    for (const auto& [k, v] : in.headers) r.headers[absl::AsciiStrToLower(k)] = v;
    r.body = in.body;
    Response resp = h(r);
    out.status = resp.status;
    out.set_content(resp.body, resp.content_type.c_str());
  };
}

}  // namespace

Server::Server(ServerOptions options)
    : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
  auto& s = impl_->server;
  int workers = std::max(2, options_.workers);
  s.new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
  // httplib's default is SO_REUSEPORT alone, with which a second controller
  // (of the same user) on the same port binds too and the kernel splits the
  // webhooks between them. SO_REUSEADDR alone: a restart rebinds at once, a
  // port in use is refused.
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  s.set_keep_alive_timeout(options_.keep_alive.count());
  s.set_keep_alive_max_count(static_cast<size_t>(std::max(1, options_.keep_alive_requests)));
  s.set_read_timeout(options_.read_timeout.count(), 0);
  s.set_write_timeout(options_.read_timeout.count(), 0);
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 413) {
      res.set_content("request body too large\n", "text/plain");
    } else if (res.status == 404) {
      res.set_content("no such route\n", "text/plain");
    }
  });
}

Server::~Server() { Stop(); }

void Server::Post(const std::string& path, Handler handler) {
  impl_->server.Post(path, Wrap(std::move(handler)));
}

void Server::Get(const std::string& path, Handler handler) {
  impl_->server.Get(path, Wrap(std::move(handler)));
}

absl::Status Server::Start() {
  std::string host;
  int port = 0;
  // Port 0 asks the kernel for a free port; SplitHostPort accepts 1-65535 only.
  const bool any_port = absl::EndsWith(options_.listen, ":0");
  const std::string spec =
      any_port ? absl::StrCat(options_.listen.substr(0, options_.listen.size() - 2), ":1")
               : options_.listen;
  if (!SplitHostPort(spec, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen \"", options_.listen,
                                                   "\" is not HOST:PORT, e.g. 127.0.0.1:7480"));
  }
  if (any_port) {
    port_ = impl_->server.bind_to_any_port(host);
  } else if (impl_->server.bind_to_port(host, port)) {
    port_ = port;
  }
  if (port_ <= 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen,
                                               " for HTTP (is the port in use?); choose another "
                                               "--http-listen"));
  }
  thread_ = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->returned = true;
  });
  return absl::OkStatus();
}

void Server::Stop() {
  if (!thread_.joinable()) return;
  // httplib's stop() does nothing until the listen loop has begun, which would
  // then never end: wait for it first.
  while (!impl_->server.is_running() && !impl_->returned) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->server.stop();
  thread_.join();
}

}  // namespace dflow::http
