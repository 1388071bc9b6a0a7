#include "themes/render.h"

#include <re2/re2.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "themes/pattern.h"
#include "themes/template.h"

namespace dflow::themes {
namespace {

std::string PercentDecode(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    int hi = 0, lo = 0;
    auto hex = [](char c, int* v) {
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
      *v = absl::ascii_isdigit(static_cast<unsigned char>(c)) ? c - '0'
                                                              : absl::ascii_tolower(c) - 'a' + 10;
      return true;
    };
    if (s[i] == '%' && i + 2 < s.size() + 0 && hex(s[i + 1], &hi) && hex(s[i + 2], &lo)) {
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ServiceConnection> SplitServiceUrl(const std::string& url) {
  static const RE2 kUrl(R"(([a-z][a-z0-9+.-]*)://(?:([^:@/]*)(?::([^@/]*))?@)?)"
                        R"(([^:/?#]+|\[[0-9a-fA-F:]+\])(?::([0-9]{1,5}))?(?:/([^?#]*))?.*)",
                        RE2::Latin1);
  std::string scheme, user, password, host, port, database;
  if (!RE2::FullMatch(url, kUrl, &scheme, &user, &password, &host, &port, &database)) {
    return absl::InvalidArgumentError(
        "service URL is not scheme://user:password@host:port/database");
  }
  ServiceConnection c;
  c.url = url;
  c.user = PercentDecode(user);
  c.password = PercentDecode(password);
  c.host = host;
  c.port = port;
  c.database = PercentDecode(database);
  return c;
}

absl::Status ValidateInputValue(const Input& in, const std::string& value) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("input \"", in.name, "\" must be ", what, "; got \"", value, "\""));
  };
  if (value.size() > 4096) return bad("at most 4096 characters");
  for (char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return bad("free of control characters");
  }
  if (in.type == "int") {
    int64_t v = 0;
    if (!absl::SimpleAtoi(value, &v) || absl::StrContains(value, "+")) return bad("a whole number");
  } else if (in.type == "bool") {
    if (value != "true" && value != "false") return bad("true or false");
  } else if (in.type == "email") {
    static const RE2 kEmail(R"([^@\s]+@[^@\s]+\.[^@\s]+)", RE2::Latin1);
    if (!RE2::FullMatch(value, kEmail)) return bad("an email address like admin@example.com");
  } else if (in.type == "url") {
    if (!absl::StartsWith(value, "http://") && !absl::StartsWith(value, "https://")) {
      return bad("an http:// or https:// URL");
    }
  }
  if (!in.pattern.empty()) {
    absl::StatusOr<bool> match = MatchesPattern(in.pattern, value);
    if (!match.ok()) {
      return bad(absl::StrCat("a value matching ", in.pattern, " (the pattern ",
                              match.status().message(), ")"));
    }
    if (!*match) return bad(absl::StrCat("a value matching ", in.pattern));
  }
  return absl::OkStatus();
}

std::map<std::string, std::string> TemplateValues(const Theme& theme,
                                                  const std::map<std::string, std::string>& inputs,
                                                  const RenderContext& ctx) {
  std::map<std::string, std::string> v;
  v["app.name"] = ctx.app_name;
  v["app.url"] = ctx.app_url;
  std::string scheme = "http", host = ctx.app_url;
  if (size_t p = ctx.app_url.find("://"); p != std::string::npos) {
    scheme = ctx.app_url.substr(0, p);
    host = ctx.app_url.substr(p + 3);
  }
  host = host.substr(0, host.find('/'));
  v["app.scheme"] = scheme;
  v["app.host"] =
      host.substr(0, host.rfind(':') == std::string::npos ? host.size() : host.rfind(':'));
  for (const auto& [k, val] : inputs) v["inputs." + k] = val;
  for (const auto& [k, val] : ctx.secrets) v["secrets." + k] = val;
  for (const auto& [name, c] : ctx.services) {
    std::string p = "services." + name + ".";
    v[p + "url"] = c.url;
    v[p + "host"] = c.host;
    v[p + "port"] = c.port;
    v[p + "user"] = c.user;
    v[p + "password"] = c.password;
    v[p + "database"] = c.database;
  }
  return v;
}

absl::StatusOr<RenderedTheme> Render(const Theme& theme, const RenderContext& ctx) {
  RenderedTheme out;
  for (const auto& [k, val] : ctx.inputs) {
    const Input* in = theme.FindInput(k);
    if (in == nullptr) {
      std::vector<std::string> names;
      for (const auto& i : theme.inputs) names.push_back(i.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "theme ", theme.name, " has no input \"", k,
          "\"; its inputs are: ", names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
    }
    if (auto s = ValidateInputValue(*in, val); !s.ok()) return s;
  }
  for (const auto& in : theme.inputs) {
    auto it = ctx.inputs.find(in.name);
    if (it != ctx.inputs.end()) {
      out.inputs[in.name] = it->second;
    } else if (in.default_value) {
      out.inputs[in.name] = *in.default_value;
    } else if (in.required) {
      return absl::InvalidArgumentError(absl::StrCat("theme ", theme.name, " needs input \"",
                                                     in.name, "\" (", in.description,
                                                     "): pass --set ", in.name, "=VALUE"));
    } else {
      out.inputs[in.name] = "";
    }
  }
  for (const auto& s : theme.secrets) {
    if (!ctx.secrets.count(s.name)) {
      return absl::InternalError(absl::StrCat("no value for secret \"", s.name, "\""));
    }
  }
  auto values = TemplateValues(theme, out.inputs, ctx);
  for (const auto& e : theme.env) {
    auto r = RenderTemplate(e.value, values);
    if (!r.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("env.", e.key, ": ", r.status().message()));
    }
    out.env.emplace_back(e.key, *std::move(r));
  }
  for (const auto& d : theme.domains) {
    auto r = RenderTemplate(d.host, values);
    if (!r.ok()) return r.status();
    out.domains.push_back(*std::move(r));
  }
  return out;
}

}  // namespace dflow::themes
