// The hook socket's wire format, shared by the controller (hook_server.cc) and
// the pre-receive hook (hook_client.cc). Text lines of tab-separated fields,
// then a chunked archive:
//   hook -> controller  "push\t<app>\t<ref>\t<old>\t<new>\t<pusher>\n"
//   controller -> hook  "skip\t<message>\n" | "send\n" | "fail\t<message>\n"
//   hook -> controller  ("<n>\n" + n bytes)* "0\n"   (a gzip tar: git archive)
//   controller -> hook  ("say\t<line>\n")* then "ok\t<line>\n" | "fail\t<line>\n"
#ifndef DFLOW_CONTROLLER_GIT_WIRE_H_
#define DFLOW_CONTROLLER_GIT_WIRE_H_

#include <string>
#include <string_view>
#include <vector>

namespace dflow::git {

inline constexpr size_t kMaxLine = 8192;

// Writes all of `data`; false when the peer is gone.
bool WriteAll(int fd, std::string_view data);
// Reads one '\n'-terminated line (without it) of at most kMaxLine bytes;
// false at EOF, on error or when the line is too long.
bool ReadLine(int fd, std::string* line);
// Reads exactly n bytes.
bool ReadExact(int fd, size_t n, std::string* out);
// "a\tb\n" from fields; tabs and newlines inside a field become spaces.
std::string Line(const std::vector<std::string>& fields);

}  // namespace dflow::git

#endif  // DFLOW_CONTROLLER_GIT_WIRE_H_
