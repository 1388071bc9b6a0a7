// The version every dflow program reports.
#ifndef DFLOW_COMMON_VERSION_H_
#define DFLOW_COMMON_VERSION_H_

namespace dflow {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace dflow

#endif  // DFLOW_COMMON_VERSION_H_
