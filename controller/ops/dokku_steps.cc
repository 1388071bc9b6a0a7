// The `dokku` step: one change of what Dokku adds on one server, or "apply":
// everything the store holds for the app (port maps, storage mounts, check
// settings, links to services on that server, custom domains, the TLS
// certificate), or "cert": the app's stored certificate, or its removal when
// none is stored (certs add/rm send the same step). The agent asks
// Dokku before each change, so a step run again changes nothing twice.
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "controller/ops/plan.h"
#include "controller/ops/steps.h"

namespace dflow::ops {
namespace {

using json = nlohmann::json;
using agents::DokkuChange;
using K = DokkuChange::Kind;

// Runs the changes in order; stops at the first failure.
absl::Status Send(StepEnv& env, const std::string& server, const std::string& key,
                  const std::vector<DokkuChange>& changes, std::string* output) {
  for (const auto& c : changes) {
    auto r = env.agents->ChangeDokku(server, key, c);
    if (!r.ok()) return r.status();
    *output += *r;
  }
  return absl::OkStatus();
}

// The app's stored certificate (read when the step runs, so its key never sits
// in the op's parameters), or its removal when it has none.
absl::StatusOr<DokkuChange> CertChange(StepEnv& env, const std::string& app) {
  auto certs = env.store->ListAppCerts();
  if (!certs.ok()) return certs.status();
  for (const auto& c : *certs) {
    if (c.app == app) {
      return DokkuChange{
          .kind = K::kAddCert, .app = app, .cert_pem = c.cert_pem, .key_pem = c.key_pem};
    }
  }
  return DokkuChange{.kind = K::kRemoveCert, .app = app};
}

absl::StatusOr<std::vector<DokkuChange>> ApplyAll(StepEnv& env, const std::string& app,
                                                  const std::string& server) {
  auto extras = env.store->GetAppExtras(app);
  if (!extras.ok()) return extras.status();
  auto domains = env.store->ListDomains();
  if (!domains.ok()) return domains.status();
  std::vector<DokkuChange> out;
  if (!extras->ports.empty()) {
    out.push_back({.kind = K::kSetPorts, .app = app, .ports = extras->ports});
  }
  for (const auto& m : extras->storage) {
    out.push_back({.kind = K::kMountStorage,
                   .app = app,
                   .source = m.source,
                   .container_dir = m.container_dir,
                   .chown = m.chown});
  }
  for (const auto& [k, v] : extras->checks) {
    out.push_back({.kind = K::kSetCheck, .app = app, .key = k, .value = v});
  }
  for (const auto& s : extras->services) {
    // An exposed service reaches the app through its config (a config release
    // with the host's address), wherever the app runs: never a Dokku link.
    if (s.exposed || s.server != server) continue;
    out.push_back({.kind = K::kLinkService,
                   .app = app,
                   .service_kind = s.kind,
                   .service = s.name,
                   .split_prefix = s.links.empty() ? "" : s.links.front().split_prefix});
  }
  for (const auto& [host, owner] : *domains) {
    if (owner == app) out.push_back({.kind = K::kAddDomain, .app = app, .host = host});
  }
  auto cert = CertChange(env, app);
  if (!cert.ok()) return cert.status();
  if (cert->kind == K::kAddCert) out.push_back(std::move(*cert));
  return out;
}

}  // namespace

void RunDokkuStep(StepEnv& env, const store::Op& op, const json& p, const std::string& key,
                  StepOutcome& out) {
  const std::string server = p.value("server", "");
  const std::string action = p.value("action", "");
  std::vector<DokkuChange> changes;
  if (action == "apply") {
    auto all = ApplyAll(env, op.app, server);
    if (!all.ok()) {
      out.status = all.status();
      return;
    }
    changes = std::move(*all);
  } else if (action == "unmount") {
    changes.push_back({.kind = K::kUnmountStorage,
                       .app = op.app,
                       .source = p.value("source", ""),
                       .container_dir = p.value("container_dir", "")});
  } else if (action == "unset_check") {
    changes.push_back({.kind = K::kUnsetCheck, .app = op.app, .key = p.value("key", "")});
  } else if (action == "link" || action == "unlink") {
    changes.push_back({.kind = action == "link" ? K::kLinkService : K::kUnlinkService,
                       .app = op.app,
                       .service_kind = p.value("service_kind", ""),
                       .service = p.value("service", ""),
                       .split_prefix = p.value("split_prefix", "")});
  } else if (action == "add_domain" || action == "remove_domain") {
    changes.push_back({.kind = action == "add_domain" ? K::kAddDomain : K::kRemoveDomain,
                       .app = op.app,
                       .host = p.value("host", "")});
  } else if (action == "cert") {
    auto cert = CertChange(env, op.app);
    if (!cert.ok()) {
      out.status = cert.status();
      return;
    }
    changes.push_back(std::move(*cert));
  } else {
    out.status = absl::InternalError(absl::StrCat("unknown dokku action \"", action, "\""));
    return;
  }
  absl::Status s = Send(env, server, key, changes, &out.output);
  const bool removal = action == "remove_domain" || action == "unmount" || action == "unlink" ||
                       action == "unset_check" ||
                       (action == "cert" && changes.front().kind == K::kRemoveCert);
  const int64_t pending = p.value("pending_removal", int64_t{0});
  if (removal && absl::IsUnavailable(s) && pending == 0) {
    // The server went away after the plan: recorded with this step, finished on return.
    json missed = p;
    missed.erase("server");
    store::PendingRemoval r;
    r.server = server;
    r.app = op.app;
    r.kind = "dokku";
    r.params = missed.dump();
    r.what = p.value("what", absl::StrCat(action, " of ", op.app));
    r.reason = absl::StrCat("removed while ", server, " was unreachable");
    out.effects.add_removals.push_back(r);
    out.output = absl::StrCat("skipped: ", s.message(), "; it is removed from ", server,
                              " when it is reachable again (`dflow status` lists it)");
    return;
  }
  if (s.ok() && pending > 0) {
    out.effects.finish_removals[pending] = absl::StrCat(
        server,
        " is reachable again: done there: ", p.value("what", absl::StrCat(action, " of ", op.app)));
  }
  if (!s.ok()) {
    out.status = absl::Status(
        s.code(), absl::StrCat(action, " of ", op.app, " on ", server, " failed: ", s.message(),
                               "; the setting stays saved and the next deploy or `dflow restart ",
                               op.app, "` applies it again"));
    return;
  }
  if (out.output.empty()) out.output = absl::StrCat(server, ": nothing to change");
}

}  // namespace dflow::ops
