// Conversions between the store's plain structs and the wire messages.
#ifndef DFLOW_CONTROLLER_API_CONVERT_H_
#define DFLOW_CONTROLLER_API_CONVERT_H_

#include "controller/store/store.h"
#include "dflow/controller/v1/types.pb.h"

namespace dflow::api {

void ToProto(const store::Facts& in, controller::v1::Facts* out);
store::Facts FromProto(const controller::v1::Facts& in);
// `reachable` comes from the fleet's in-memory lease.
void ToProto(const store::Server& in, bool reachable, controller::v1::Server* out);
void ToProto(const store::Event& in, controller::v1::Event* out);

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_CONVERT_H_
