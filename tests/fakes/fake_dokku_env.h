// The app ENV file as Dokku keeps it: written and read with the Go library
// github.com/joho/godotenv v1.5.1 (plugins/config/environment.go), whose
// quirks are part of the contract: a value ending in `"` reads back changed
// and the next write leaves the file unreadable; integer-looking values are
// written as integers ("007" reads back "7"). Reimplemented here from the
// library's documented behaviour, not copied.
#ifndef DFLOW_TESTS_FAKES_FAKE_DOKKU_ENV_H_
#define DFLOW_TESTS_FAKES_FAKE_DOKKU_ENV_H_

#include <map>
#include <string>
#include <vector>

namespace fake_dokku {

using EnvMap = std::map<std::string, std::string>;

// godotenv.Marshal: sorted `K=V` lines joined by "\n" (no final newline);
// integers bare, everything else double-quoted with \ \n \r " ! $ ` escaped.
std::string MarshalEnv(const EnvMap& env);
// godotenv.Unmarshal. Throws EnvParseError.
EnvMap ParseEnv(const std::string& text);
struct EnvParseError {
  std::string message;
};

// Go's strconv.Atoi success test (optional sign, decimal digits, int64 range).
bool GoAtoi(const std::string& s, long long* out);

// config's singleQuoteEscape: ' becomes '\''.
std::string SingleQuoteEscape(const std::string& v);
// github.com/ryanuber/columnize with "\x00" as the delimiter: every column
// but the last padded to its widest cell plus two spaces.
std::string Columnize(const std::vector<std::vector<std::string>>& rows, const std::string& prefix);

}  // namespace fake_dokku

#endif  // DFLOW_TESTS_FAKES_FAKE_DOKKU_ENV_H_
