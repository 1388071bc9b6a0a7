// The store's records of what Dokku adds to an app: port maps, storage
// mounts, health check settings, and services (postgres, redis) with the apps
// linked to them. Desired state: the ops engine applies it to every Dokku
// server the app is placed on, and again whenever the app lands on a new one.
#ifndef DFLOW_CONTROLLER_STORE_EXTRAS_H_
#define DFLOW_CONTROLLER_STORE_EXTRAS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace dflow::store {

struct StorageMount {
  std::string source{};  // a storage name, or an absolute host path
  std::string container_dir{};
  // A named storage's owner (herokuish | heroku | paketo | root | false; read
  // back as herokuish when a row predates it); "" for a host path.
  std::string chown{};
};

struct ServiceLink {
  std::string service{};
  std::string app{};
  std::string split_prefix{};  // "" or e.g. DB_
};

struct Service {
  std::string name{};
  std::string kind{};    // postgres | redis
  std::string server{};  // the one server that holds its data
  bool exposed = false;
  int exposed_port = 0;
  // The URL a linked app gets on the service's host, WITHOUT its password
  // (scheme://user@host:port/db): the store never keeps a service password;
  // AgentApi::GetService reads the full URL from the host when it is needed.
  std::string dsn{};
  int64_t created_at_ms = 0;
  std::vector<ServiceLink> links{};
};

struct AppExtras {
  std::vector<std::string> ports{};  // "http:80:5000", in the order given
  std::vector<StorageMount> storage{};
  std::map<std::string, std::string> checks{};  // wait | timeout | attempts | wait-to-retire
  std::vector<Service> services{};              // linked ones; links hold this app's prefix only
  // True when the app uses something only Dokku servers have.
  bool NeedsDokku() const {
    return !ports.empty() || !storage.empty() || !checks.empty() || !services.empty();
  }
};

}  // namespace dflow::store

#endif  // DFLOW_CONTROLLER_STORE_EXTRAS_H_
