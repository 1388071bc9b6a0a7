// dflow themes validate FILE | ls | show NAME | add FILE|DIR
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/archive.h"
#include "cli/client.h"
#include "cli/command.h"
#include "cli/output.h"
#include "cli/themes_cmd.h"
#include "common/files.h"
#include "dflow/controller/v1/themes.grpc.pb.h"
#include "themes/theme.h"

namespace dflow::cli {
namespace {

namespace v1 = controller::v1;
namespace fs = std::filesystem;

constexpr int64_t kMaxThemeArchiveBytes = int64_t{15} << 20;  // the controller's limit

struct ThemesOptions {
  std::string path;
  std::string name;
  bool json = false;
};

struct LocalTheme {
  std::string file;  // the manifest
  std::string dir;   // its directory
  std::string text;
  themes::Theme theme;
};

// Reads and validates FILE (or DIR/theme.yaml): a usage error when it cannot
// be read, a failure listing every diagnostic when it does not validate.
absl::StatusOr<LocalTheme> LoadLocal(const std::string& path) {
  LocalTheme out;
  std::error_code ec;
  out.file = fs::is_directory(path, ec) ? (fs::path(path) / "theme.yaml").string() : path;
  auto text = ReadFile(out.file);
  if (!text.ok()) {
    // ReadFile's message names the file already ("cannot read FILE: why").
    return UsageError(std::string(text.status().message()));
  }
  out.text = *std::move(text);
  out.dir = fs::path(AbsolutePath(out.file)).parent_path().string();
  themes::ThemeParse p = themes::ParseTheme(out.text);
  std::vector<themes::Diagnostic> diags = p.diagnostics;
  if (p.theme) diags = themes::CheckThemeFiles(*p.theme, out.dir);
  for (const auto& d : diags) std::cerr << themes::FormatDiagnostic(out.file, d) << "\n";
  if (!diags.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(out.file,
                                                   " is not a valid theme: ", diags.size(),
                                                   diags.size() == 1 ? " error" : " errors"));
  }
  out.theme = *std::move(p.theme);
  return out;
}

// The archive a bundle/release theme ships with ("" for image and git).
absl::StatusOr<std::string> ThemeArchive(const LocalTheme& t) {
  std::string path;
  std::unique_ptr<SourceArchive> packed;
  if (t.theme.source.kind == themes::Source::Kind::kBundle) {
    PosixProcessRunner runner;
    auto a = SourceArchive::Pack((fs::path(t.dir) / t.theme.source.bundle).string(), runner);
    if (!a.ok()) return a.status();
    packed = *std::move(a);
    path = packed->path();
  } else if (t.theme.source.kind == themes::Source::Kind::kRelease) {
    path = (fs::path(t.dir) / t.theme.source.release).string();
  } else {
    return std::string();
  }
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", ec.message()));
  if (static_cast<int64_t>(size) > kMaxThemeArchiveBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the theme's ", themes::SourceKindName(t.theme.source.kind), " archive is ",
                     HumanBytes(static_cast<int64_t>(size)), "; a theme archive may be at most ",
                     HumanBytes(kMaxThemeArchiveBytes)));
  }
  return ReadFile(path);
}

nlohmann::json ThemeJson(const v1::ThemeInfo& t) {
  nlohmann::json inputs = nlohmann::json::array();
  for (const auto& in : t.inputs()) {
    nlohmann::json j = {{"name", in.name()},
                        {"description", in.description()},
                        {"type", in.type()},
                        {"required", in.required()},
                        {"pattern", in.pattern()}};
    j["default"] = in.has_default() ? nlohmann::json(in.default_value()) : nlohmann::json();
    inputs.push_back(j);
  }
  auto list = [](const auto& r) { return std::vector<std::string>(r.begin(), r.end()); };
  nlohmann::json j = {{"name", t.name()},
                      {"version", t.version()},
                      {"description", t.description()},
                      {"source_kind", t.source_kind()},
                      {"source", t.source()},
                      {"origin", t.origin()},
                      {"port", t.port()},
                      {"inputs", inputs},
                      {"secrets", list(t.secrets())},
                      {"services", list(t.services())},
                      {"volumes", list(t.volumes())},
                      {"healthcheck_path", t.healthcheck_path()}};
  if (!t.manifest().empty()) j["manifest"] = t.manifest();
  return j;
}

void PrintTheme(const v1::ThemeInfo& t) {
  std::cout << t.name() << " " << t.version() << " (" << t.origin() << ")\n"
            << "  " << t.description() << "\n"
            << "  source:      " << t.source_kind() << " " << t.source() << "\n";
  if (t.port() != 0) std::cout << "  port:        " << t.port() << "\n";
  for (const auto& in : t.inputs()) {
    std::cout << "  input:       " << in.name() << " (" << in.type()
              << (in.required() ? ", required" : "")
              << (in.has_default() ? ", default \"" + in.default_value() + "\"" : "") << ") "
              << in.description() << "\n";
  }
  if (!t.secrets().empty()) {
    std::cout << "  secrets:     " << absl::StrJoin(t.secrets(), ", ")
              << " (generated at install)\n";
  }
  for (const auto& s : t.services()) std::cout << "  service:     " << s << "\n";
  for (const auto& v : t.volumes()) std::cout << "  volume:      " << v << "\n";
  if (!t.healthcheck_path().empty()) {
    std::cout << "  healthcheck: " << t.healthcheck_path() << "\n";
  }
  if (!t.manifest().empty()) std::cout << "\n" << t.manifest();
}

}  // namespace

void RegisterThemes(CLI::App& app, Globals& g) {
  auto o = std::make_shared<ThemesOptions>();
  auto* themes = app.add_subcommand(
      "themes", "Ready-made apps (n8n, Strapi, Directus, …) from validated YAML manifests");
  themes->require_subcommand(1);

  auto* validate = themes->add_subcommand(
      "validate",
      "Check a theme manifest without a controller; every error as FILE:LINE:COLUMN: message "
      "(exit 1 when there is any)");
  validate->add_option("FILE", o->path, "theme.yaml, or a directory holding one")->required();
  validate->callback([&g, o] {
    g.action = [o]() -> absl::Status {
      auto t = LoadLocal(o->path);
      if (!t.ok()) return t.status();
      std::cout << t->file << ": valid theme " << t->theme.name << " " << t->theme.version
                << " (source " << themes::SourceKindName(t->theme.source.kind) << ")\n";
      return absl::OkStatus();
    };
  });

  auto* ls = themes->add_subcommand("ls", "List the controller's themes (built-in and custom)");
  ls->add_flag("--json", o->json,
               "Print a JSON array of objects with name, version, description, source_kind, "
               "source, origin, port, inputs, secrets, services, volumes, healthcheck_path");
  ls->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Themes::NewStub(client.channel());
      v1::ListThemesResponse resp;
      auto ctx = client.Context();
      if (grpc::Status s = stub->ListThemes(ctx.get(), {}, &resp); !s.ok()) {
        return client.Error(s);
      }
      if (o->json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& t : resp.themes()) out.push_back(ThemeJson(t));
        PrintJson(out);
        return absl::OkStatus();
      }
      Table table({"NAME", "VERSION", "SOURCE", "ORIGIN", "DESCRIPTION"});
      for (const auto& t : resp.themes()) {
        table.Add({t.name(), t.version(), t.source_kind(), t.origin(), t.description()});
      }
      table.Print(std::cout);
      return absl::OkStatus();
    };
  });

  auto* show = themes->add_subcommand(
      "show", "Show one theme: source, inputs, secrets (names), services, volumes, manifest");
  show->add_option("NAME", o->name, "Theme name")->required();
  show->add_flag("--json", o->json,
                 "Print a JSON object (as in `themes ls --json`, plus manifest)");
  show->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Themes::NewStub(client.channel());
      v1::GetThemeRequest req;
      req.set_name(o->name);
      v1::ThemeInfo resp;
      auto ctx = client.Context();
      if (grpc::Status s = stub->GetTheme(ctx.get(), req, &resp); !s.ok()) {
        return client.Error(s);
      }
      if (o->json) {
        PrintJson(ThemeJson(resp));
      } else {
        PrintTheme(resp);
      }
      return absl::OkStatus();
    };
  });

  auto* add = themes->add_subcommand(
      "add",
      "Add a custom theme to the controller's catalog, validated first (a bundle directory "
      "or release archive beside the manifest goes with it, at most 15 MiB)");
  add->add_option("PATH", o->path, "theme.yaml, or the theme's directory holding one")->required();
  add->add_flag("--json", o->json, "Print the added theme as a JSON object");
  add->callback([&g, o] {
    g.action = [&g, o]() -> absl::Status {
      auto t = LoadLocal(o->path);
      if (!t.ok()) return t.status();
      auto archive = ThemeArchive(*t);
      if (!archive.ok()) return archive.status();
      Client client(ResolveTarget(g.controller));
      auto stub = v1::Themes::NewStub(client.channel());
      v1::AddThemeRequest req;
      req.set_manifest(t->text);
      req.set_archive(*archive);
      v1::ThemeInfo resp;
      auto ctx = client.Context(60);
      if (grpc::Status s = stub->AddTheme(ctx.get(), req, &resp); !s.ok()) {
        return client.Error(s);
      }
      if (o->json) {
        PrintJson(ThemeJson(resp));
      } else {
        std::cout << "added theme " << resp.name() << " " << resp.version()
                  << "; install it with `dflow themes install " << resp.name()
                  << " --app APP` (an app installed from an earlier version of it: `dflow themes "
                     "upgrade APP`)\n";
      }
      return absl::OkStatus();
    };
  });

  RegisterThemeInstalls(themes, g);
}

}  // namespace dflow::cli
