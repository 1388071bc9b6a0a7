#include "controller/api/source_archive.h"

#include <zlib.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace dflow::api {
namespace {

constexpr size_t kBlock = 512;
constexpr int64_t kMaxProcfile = 64 << 10;
constexpr int64_t kMaxPaxHeader = 1 << 20;

absl::Status NotATar() {
  return absl::InvalidArgumentError(
      "the upload is not a gzip-compressed tar archive of the app's directory; `dflow deploy "
      "NAME --path DIR` packs one");
}

class GzFile {
 public:
  explicit GzFile(const std::string& path) : f_(gzopen(path.c_str(), "rb")) {}
  ~GzFile() {
    if (f_ != nullptr) gzclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  // Reads exactly n bytes; false on a short read or a gzip error.
  bool Read(char* buf, size_t n) {
    while (n > 0) {
      int got = gzread(f_, buf, static_cast<unsigned>(std::min<size_t>(n, 1 << 20)));
      if (got <= 0) return false;
      buf += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }
  bool Skip(int64_t n) {
    char buf[kBlock * 8];
    while (n > 0) {
      size_t step = static_cast<size_t>(std::min<int64_t>(n, sizeof(buf)));
      if (!Read(buf, step)) return false;
      n -= static_cast<int64_t>(step);
    }
    return true;
  }

 private:
  gzFile f_;
};

// Size fields are octal text, or base-256 when the high bit is set.
bool ParseSize(const char* field, int64_t* out) {
  if (static_cast<unsigned char>(field[0]) & 0x80) {
    int64_t v = 0;
    for (int i = 1; i < 12; ++i) v = (v << 8) | static_cast<unsigned char>(field[i]);
    *out = v;
    return v >= 0;
  }
  std::string text(field, strnlen(field, 12));
  text = std::string(absl::StripAsciiWhitespace(text));
  if (text.empty()) {
    *out = 0;
    return true;
  }
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return false;
    v = v * 8 + (c - '0');
  }
  *out = v;
  return true;
}

std::string Field(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

// "path=…" from pax records "<len> key=value\n".
std::string PaxPath(const std::string& data) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t space = data.find(' ', pos);
    if (space == std::string::npos) break;
    size_t len = 0;
    if (!absl::SimpleAtoi(data.substr(pos, space - pos), &len) || len == 0) break;
    std::string record = data.substr(space + 1, len - (space - pos) - 1);
    if (!record.empty() && record.back() == '\n') record.pop_back();
    if (absl::StartsWith(record, "path=")) return record.substr(5);
    pos += len;
  }
  return "";
}

bool IsTopLevelProcfile(absl::string_view name) {
  while (absl::ConsumePrefix(&name, "./")) {
  }
  return name == "Procfile";
}

}  // namespace

absl::StatusOr<std::string> ReadProcfile(const std::string& tar_gz_path) {
  GzFile f(tar_gz_path);
  if (!f.ok()) return absl::NotFoundError(absl::StrCat("cannot open ", tar_gz_path));
  std::string next_name;  // from a GNU long-name or pax header
  char h[kBlock];
  bool any = false;
  while (f.Read(h, kBlock)) {
    if (h[0] == '\0') break;  // end-of-archive block
    any = true;
    int64_t size = 0;
    if (!ParseSize(h + 124, &size)) return NotATar();
    int64_t padded = (size + kBlock - 1) / kBlock * kBlock;
    char type = h[156];
    if (type == 'L' || type == 'x') {
      if (size > kMaxPaxHeader) return NotATar();
      std::string data(static_cast<size_t>(padded), '\0');
      if (!f.Read(data.data(), data.size())) return NotATar();
      data.resize(static_cast<size_t>(size));
      next_name = type == 'L' ? Field(data.data(), data.size()) : PaxPath(data);
      continue;
    }
    std::string name = next_name;
    next_name.clear();
    if (name.empty()) {
      name = Field(h, 100);
      // POSIX ustar ("ustar\0") has a name prefix at 345; GNU tar's own
      // format ("ustar  \0") keeps other fields there.
      if (std::memcmp(h + 257, "ustar", 6) == 0 && h[345] != '\0') {
        name = absl::StrCat(Field(h + 345, 155), "/", name);
      }
    }
    bool regular = type == '0' || type == '\0' || type == '7';
    if (regular && IsTopLevelProcfile(name)) {
      if (size > kMaxProcfile) {
        return absl::InvalidArgumentError("the app's Procfile is over 64 KiB");
      }
      std::string data(static_cast<size_t>(padded), '\0');
      if (!f.Read(data.data(), data.size())) return NotATar();
      data.resize(static_cast<size_t>(size));
      return data;
    }
    if (!f.Skip(padded)) return NotATar();
  }
  if (!any) return NotATar();
  return absl::InvalidArgumentError(
      "the source has no Procfile at its top level; add one (e.g. `web: python3 app.py`) to "
      "the directory you deploy");
}

}  // namespace dflow::api
