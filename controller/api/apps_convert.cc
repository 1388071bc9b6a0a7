#include "controller/api/apps_convert.h"

#include "absl/strings/str_cat.h"
#include "common/names.h"
#include "controller/ops/procfile.h"

namespace dflow::api {

namespace v1 = controller::v1;

void ToProto(const store::App& in, const std::vector<store::Instance>& instances,
             const std::string& status, v1::App* out) {
  out->set_name(in.name);
  out->mutable_constraints()->insert(in.constraints.begin(), in.constraints.end());
  out->set_memory_bytes(in.memory_bytes);
  out->set_cpus(in.cpus);
  out->set_health_path(in.health_path);
  out->set_strategy(in.strategy);
  for (const auto& [type, n] : in.scale) (*out->mutable_scale())[type] = n;
  out->set_current_release(in.current_release);
  out->set_created_at_ms(in.created_at_ms);
  out->set_pinned_server(in.pinned_server);
  for (const auto& i : instances) (*out->mutable_instance_states())[i.state]++;
  out->set_status(status);
}

void ToProto(const store::Release& in, v1::Release* out) {
  out->set_version(in.version);
  out->set_kind(in.kind);
  out->set_description(in.description);
  out->set_source_digest(in.source_digest);
  out->set_created_at_ms(in.created_at_ms);
  out->set_created_by(in.created_by);
  out->set_status(in.status);
  out->set_commit_sha(in.commit_sha);
  out->set_pushed_by(in.pushed_by);
  if (auto types = ops::ParseProcfileTypes(in.procfile); types.ok()) {
    out->mutable_processes()->insert(types->begin(), types->end());
  }
}

void ToProto(const store::Instance& in, const std::string& server_address, v1::Instance* out) {
  out->set_id(in.id);
  out->set_app(in.app);
  out->set_process(in.process);
  out->set_server(in.server);
  out->set_state(in.state);
  out->set_port(in.port);
  out->set_release(in.release);
  out->set_started_at_ms(in.started_at_ms);
  std::string host;
  int port = 0;
  if (in.port > 0 && SplitHostPort(server_address, &host, &port)) {
    bool v6 = host.find(':') != std::string::npos;
    out->set_address(v6 ? absl::StrCat("[", host, "]:", in.port)
                        : absl::StrCat(host, ":", in.port));
  }
}

void ToProto(const store::Op& in, bool with_steps, v1::Op* out) {
  out->set_id(in.id);
  out->set_app(in.app);
  out->set_kind(in.kind);
  out->set_state(in.state);
  out->set_created_at_ms(in.created_at_ms);
  out->set_started_at_ms(in.started_at_ms);
  out->set_ended_at_ms(in.ended_at_ms);
  out->set_error(in.error);
  out->set_release(in.release);
  out->set_description(in.description);
  if (!with_steps) return;
  for (const auto& s : in.steps) {
    v1::OpStep* p = out->add_steps();
    p->set_index(s.index);
    p->set_kind(s.kind);
    p->set_description(s.description);
    p->set_state(s.state);
    p->set_started_at_ms(s.started_at_ms);
    p->set_ended_at_ms(s.ended_at_ms);
    p->set_output(s.output);
    p->set_error(s.error);
  }
}

void ToProto(const ops::OpRef& in, v1::OpRef* out) {
  out->set_id(in.id);
  out->set_queued_behind(in.queued_behind);
  out->set_release(in.release);
}

}  // namespace dflow::api
