#include "controller/git/wire.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace dflow::git {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool ReadLine(int fd, std::string* line) {
  line->clear();
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (c == '\n') return true;
    if (line->size() >= kMaxLine) return false;
    line->push_back(c);
  }
}

bool ReadExact(int fd, size_t n, std::string* out) {
  out->resize(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, out->data() + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

std::string Line(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back('\t');
    for (char c : fields[i]) out.push_back(c == '\t' || c == '\n' || c == '\r' ? ' ' : c);
  }
  out.push_back('\n');
  return out;
}

}  // namespace dflow::git
