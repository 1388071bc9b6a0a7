#include "agent/runtime/runtime_test_support.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto.h"
#include "common/files.h"
#include "common/process.h"

namespace dflow::agent::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "dflow-runtime-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  EXPECT_NE(made, nullptr);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ReleaseSpec MakeRelease(const std::string& dir, const std::string& app, int64_t version,
                        const std::map<std::string, std::string>& files) {
  const std::string src = absl::StrCat(dir, "/src-", app, "-v", version);
  fs::create_directories(src);
  for (const auto& [name, content] : files) {
    const std::string path = absl::StrCat(src, "/", name);
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << content;
    if (absl::EndsWith(name, ".sh")) chmod(path.c_str(), 0755);
  }
  const std::string archive = absl::StrCat(dir, "/", app, "-v", version, ".tar.gz");
  auto result = PosixProcessRunner().Run({.argv = {"tar", "-czf", archive, "-C", src, "."}});
  EXPECT_TRUE(result.ok() && result->exit_code == 0) << "tar failed";
  ReleaseSpec spec;
  spec.app = app;
  spec.version = version;
  spec.archive_path = archive;
  spec.source_digest = Sha256Hex(ReadFile(archive).value_or(""));
  return spec;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

const char kWebApp[] = R"PY(
import http.server, os, sys

port = int(os.environ["PORT"])

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/crash":
            os._exit(3)
        if self.path.startswith("/spam"):
            n = int(self.path.split("?")[1])
            for i in range(n):
                print("spam %05d %s" % (i, "x" * 20))
            sys.stdout.flush()
        code = 500 if (self.path == "/health" and os.environ.get("HEALTH_FAIL")) else 200
        body = ("%s %s %d\n" % (os.environ["DFLOW_INSTANCE_ID"], os.environ["DFLOW_RELEASE"],
                                os.getpid())).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request", self.path, flush=True)

print("listening on", port, flush=True)
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
)PY";

int CountProcessesWithEnv(const std::string& assignment) {
  int n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    auto environ = ReadFile(entry.path().string() + "/environ");
    if (!environ.ok()) continue;
    for (absl::string_view var : absl::StrSplit(*environ, '\0')) {
      if (var == assignment) {
        ++n;
        break;
      }
    }
  }
  return n;
}

std::string ProcLimit(int pid, const std::string& name) {
  auto text = ReadFile(absl::StrCat("/proc/", pid, "/limits"));
  if (!text.ok()) return "";
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::StartsWith(line, name)) return std::string(line);
  }
  return "";
}

}  // namespace dflow::agent::testing
