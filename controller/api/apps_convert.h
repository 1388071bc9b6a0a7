// Conversions between the store's app, release, instance and op records and
// the Apps service's wire messages.
#ifndef DFLOW_CONTROLLER_API_APPS_CONVERT_H_
#define DFLOW_CONTROLLER_API_APPS_CONVERT_H_

#include <string>
#include <vector>

#include "controller/ops/engine.h"
#include "controller/store/store.h"
#include "dflow/controller/v1/apps.pb.h"

namespace dflow::api {

// `status` is AppStatus's text.
void ToProto(const store::App& in, const std::vector<store::Instance>& instances,
             const std::string& status, controller::v1::App* out);
void ToProto(const store::Release& in, controller::v1::Release* out);
// `server_address` is the host:port of the instance's server (its host is used).
void ToProto(const store::Instance& in, const std::string& server_address,
             controller::v1::Instance* out);
void ToProto(const store::Op& in, bool with_steps, controller::v1::Op* out);
void ToProto(const ops::OpRef& in, controller::v1::OpRef* out);

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_APPS_CONVERT_H_
