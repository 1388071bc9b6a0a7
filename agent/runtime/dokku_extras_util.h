// Small helpers shared by DokkuRuntime's extras (dokku_extras.cc) and
// services (dokku_services.cc): word lists from Dokku's plain output, the
// lines the agent adds to an operation's output, and the read-back error.
#ifndef DFLOW_AGENT_RUNTIME_DOKKU_EXTRAS_UTIL_H_
#define DFLOW_AGENT_RUNTIME_DOKKU_EXTRAS_UTIL_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/runtime/runtime.h"

namespace dflow::agent::dokku_extras {

inline std::vector<std::string> Words(const std::string& text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
}

inline bool Has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// One line for the operation's output where Dokku says nothing: a change it
// makes silently (storage:mount and storage:unmount print nothing; transcript
// 0.38.27) or one that was not needed, so the op never reads "nothing to
// change" after a change, nor a bare "done" after none.
inline void Say(const OutputFn& out, const std::string& line) {
  if (out) out(absl::StrCat("-----> ", line, "\n"));
}

// What Dokku reports after a change differs from what was asked: an error,
// never silence.
inline absl::Status Differs(const std::string& server, const std::string& what) {
  return absl::DataLossError(absl::StrCat("after the change Dokku on server ", server, " reports ",
                                          what, "; see `dokku` on that server"));
}
}  // namespace dflow::agent::dokku_extras

#endif  // DFLOW_AGENT_RUNTIME_DOKKU_EXTRAS_UTIL_H_
