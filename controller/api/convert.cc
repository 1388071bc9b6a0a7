#include "controller/api/convert.h"

namespace dflow::api {

void ToProto(const store::Facts& in, controller::v1::Facts* out) {
  out->set_cpus(in.cpus);
  out->set_memory_total_bytes(in.memory_total_bytes);
  out->set_memory_available_bytes(in.memory_available_bytes);
  out->set_disk_total_bytes(in.disk_total_bytes);
  out->set_disk_free_bytes(in.disk_free_bytes);
  out->set_os(in.os);
  out->set_agent_version(in.agent_version);
  out->set_runtime(in.runtime);
  out->set_dokku_version(in.dokku_version);
}

store::Facts FromProto(const controller::v1::Facts& in) {
  store::Facts f;
  f.cpus = in.cpus();
  f.memory_total_bytes = in.memory_total_bytes();
  f.memory_available_bytes = in.memory_available_bytes();
  f.disk_total_bytes = in.disk_total_bytes();
  f.disk_free_bytes = in.disk_free_bytes();
  f.os = in.os();
  f.agent_version = in.agent_version();
  f.runtime = in.runtime();
  f.dokku_version = in.dokku_version();
  return f;
}

void ToProto(const store::Server& in, bool reachable, controller::v1::Server* out) {
  out->set_name(in.name);
  out->set_address(in.address);
  bool up = reachable && in.health == store::Health::kHealthy;
  out->set_status(!up ? "unreachable" : in.draining ? "draining" : "healthy");
  out->set_runtime(in.runtime);
  out->mutable_labels()->insert(in.labels.begin(), in.labels.end());
  ToProto(in.facts, out->mutable_facts());
  out->set_last_heartbeat_ms(in.last_heartbeat_ms);
  out->set_joined_at_ms(in.joined_at_ms);
  out->set_draining(in.draining);
  out->set_reachable(up);
}

void ToProto(const store::Event& in, controller::v1::Event* out) {
  out->set_token(in.Token());
  out->set_seq(in.seq);
  out->set_time_ms(in.time_ms);
  out->set_kind(in.kind);
  out->set_server(in.server);
  out->set_app(in.app);
  out->set_message(in.message);
}

}  // namespace dflow::api
