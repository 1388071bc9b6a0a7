// The validator on a table of broken manifests: every error, with its exact
// line:column, all reported at once.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "themes/theme.h"

namespace dflow::themes {
namespace {

std::vector<std::string> Errors(const std::string& text) {
  ThemeParse p = ParseTheme(text);
  std::vector<std::string> out;
  for (const auto& d : p.diagnostics) out.push_back(FormatDiagnostic("t.yaml", d));
  EXPECT_EQ(p.theme.has_value(), out.empty());
  return out;
}

const char kHead[] =
    "apiVersion: dflow/v1\n"
    "kind: Theme\n"
    "name: demo\n"
    "version: 1.0.0\n"
    "description: A demo\n";

TEST(ValidateTest, MinimalManifestIsValid) {
  EXPECT_EQ(Errors(std::string(kHead) + "source:\n  bundle: app\n"), std::vector<std::string>{});
}

struct Case {
  const char* name;
  std::string body;  // appended to kHead (lines 6 on)
  std::vector<std::string> errors;
};

// gtest prints the case's name instead of its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class BrokenManifest : public testing::TestWithParam<Case> {};

TEST_P(BrokenManifest, ReportsExactly) { EXPECT_EQ(Errors(GetParam().body), GetParam().errors); }

std::string H(const std::string& rest) { return std::string(kHead) + rest; }

INSTANTIATE_TEST_SUITE_P(
    Table, BrokenManifest,
    testing::Values(
        Case{"syntax",
             H("source: [bundle\n"),
             {"t.yaml:7:1: YAML syntax error: end of sequence flow not found"}},
        Case{"not_a_map",
             "- a\n- b\n",
             {"t.yaml:1:1: a theme manifest must be a map of keys (apiVersion, kind, name, …), "
              "got a list"}},
        Case{"unknown_key_suggested",
             H("source:\n  bundle: app\nhelthcheck:\n  path: /\n"),
             {"t.yaml:8:1: unknown key \"helthcheck\" in the theme; did you mean "
              "\"healthcheck\"?"}},
        Case{"volume_chown_suggested",
             H("source:\n  bundle: app\nvolumes:\n  - path: /data\n    chown: herku\n"),
             {"t.yaml:10:12: volumes[0].chown must be one of herokuish, heroku, paketo, root, "
              "false; got \"herku\"; did you mean \"heroku\"?"}},
        Case{"unknown_key_listed",
             H("source:\n  bundle: app\n  zzz: 1\n"),
             {"t.yaml:8:3: unknown key \"zzz\" in source; valid keys: image, git, ref, bundle, "
              "release"}},
        Case{"duplicate_key",
             H("source:\n  bundle: app\nport: 80\nport: 81\n"),
             {"t.yaml:9:1: duplicate key \"port\" (first defined at 8:1)"}},
        Case{"missing_required",
             "apiVersion: dflow/v1\nkind: Theme\nsource:\n  bundle: app\n",
             {"t.yaml:1:1: missing required key \"name\" in the theme",
              "t.yaml:1:1: missing required key \"version\" in the theme",
              "t.yaml:1:1: missing required key \"description\" in the theme"}},
        Case{"wrong_types",
             H("source:\n  bundle: app\nport: http\ninputs: {a: 1}\nvolumes:\n  - path: [x]\n"),
             {"t.yaml:8:7: port must be a whole number from 1 to 65535, got \"http\"",
              "t.yaml:9:9: inputs must be a list, got a map",
              "t.yaml:11:11: volumes[0].path must be a string, got a list"}},
        Case{"bad_names",
             "apiVersion: dflow/v2\nkind: Theme\nname: My_App\nversion: one\ndescription: x\n"
             "source:\n  bundle: app\nenv:\n  1BAD: x\ninputs:\n  - name: Domain\n",
             {"t.yaml:1:13: apiVersion must be \"dflow/v1\", got \"dflow/v2\"",
              "t.yaml:3:7: name \"My_App\" is not a valid theme name: use 1 to 48 characters of "
              "lowercase letters, digits and hyphens, starting and ending with a letter or digit "
              "(for example \"shop-api\")",
              "t.yaml:4:10: version \"one\" must look like 1.2.3 (optionally -suffix)",
              "t.yaml:9:3: env key \"1BAD\" is not valid: use letters, digits and underscores, "
              "not starting with a digit (for example DATABASE_URL)",
              "t.yaml:11:11: inputs[0].name \"Domain\" is not a valid name: use 1 to 63 "
              "lowercase letters, digits and _, starting with a letter"}},
        Case{"image_latest",
             H("source:\n  image: n8nio/n8n:latest\n"),
             {"t.yaml:7:10: source.image \"n8nio/n8n:latest\" uses the tag \"latest\", which "
              "moves; pin a version, e.g. n8nio/n8n:1.2.3"}},
        Case{"image_untagged",
             H("source:\n  image: registry:5000/team/app\n"),
             {"t.yaml:7:10: source.image \"registry:5000/team/app\" has no tag; pin a version, "
              "e.g. registry:5000/team/app:1.2.3"}},
        Case{"two_sources_and_git_without_ref",
             H("source:\n  image: a/b:1\n  git: https://example.com/r.git\n"),
             {"t.yaml:7:3: source has image and git; give exactly one of image, git, bundle or "
              "release",
              "t.yaml:7:3: source.git needs a ref (a tag or commit) so every install builds the "
              "same"}},
        Case{"undefined_references",
             H("source:\n  bundle: app\ninputs:\n  - name: domain\nsecrets:\n  - name: key\n"
               "services:\n  - name: db\n    type: postgres\n"
               "env:\n  A: \"x {{ inputs.domian }}\"\n  B: '{{ secrets.key }}/{{ secret.key }}'\n"
               "  C: \"{{ services.db.host }}\"\n  D: \"{{ app.name\"\n  E: \"{{ 1 + 2 }}\"\n"),
             {"t.yaml:16:9: env.A: undefined reference \"inputs.domian\"; did you mean "
              "\"inputs.domain\"?",
              "t.yaml:17:25: env.B: undefined reference \"secret.key\"; did you mean "
              "\"secrets.key\"?",
              "t.yaml:18:7: env.C: {{ services.db.host }} needs \"host\" in the wants of service "
              "\"db\" (it has: url)",
              "t.yaml:19:7: env.D: \"{{\" without a closing \"}}\"",
              "t.yaml:20:7: env.E: invalid reference \"1 + 2\": a reference is a dotted path of "
              "names (letters, digits, _ and -), e.g. {{ secrets.key }}; there are no "
              "expressions"}},
        Case{"sections",
             H("source:\n  bundle: ../up\ninputs:\n  - name: n\n    type: text\n"
               "    default: abc\n  - name: n\n    type: int\n    default: x1\n"
               "secrets:\n  - name: s\n    length: 8\n    alphabet: emoji\n"
               "services:\n  - name: db\n    type: oracle\n    wants: [host, socket]\n"
               "healthcheck:\n  path: health\n  timeout: 2h\n"
               "resources:\n  memory: lots\n  cpus: 0\n"
               "volumes:\n  - path: /data\n  - path: /data\ndomains:\n  - "
               "\"bad_host.example.com\"\n"),
             {"t.yaml:7:11: source.bundle \"../up\" must be a relative path inside the theme's "
              "directory",
              "t.yaml:10:11: inputs[0].type must be one of string, int, bool, email, url; got "
              "\"text\"",
              "t.yaml:12:11: input \"n\" is defined twice",
              "t.yaml:14:14: inputs[1].default: input \"n\" must be a whole number; got \"x1\"",
              "t.yaml:17:13: secrets[0].length must be a whole number from 16 to 256, got \"8\"",
              "t.yaml:18:15: secrets[0].alphabet must be one of alnum, hex, base64url, lower; got "
              "\"emoji\"",
              "t.yaml:21:11: services[0].type must be one of postgres, mysql, mariadb, redis, "
              "mongo, rabbitmq; got \"oracle\"",
              "t.yaml:22:19: services[0].wants[1] must be one of url, host, port, user, password, "
              "database; got \"socket\"",
              "t.yaml:24:9: healthcheck.path \"health\" must be an HTTP path starting with / "
              "without spaces",
              "t.yaml:25:12: healthcheck.timeout must be a duration from 1s to 600s such as "
              "\"30s\" or \"2m\", got \"2h\"",
              "t.yaml:27:11: resources.memory \"lots\" must be a size such as \"512M\" or \"2G\"",
              "t.yaml:28:9: resources.cpus must be a number from 0.01 to 1024, got \"0\"",
              "t.yaml:31:5: volume name \"data\" is used twice; give each volume its own name",
              "t.yaml:31:11: volume path \"/data\" is listed twice",
              "t.yaml:33:5: domains[0] \"bad_host.example.com\" is not a valid DNS name "
              "(character '_' is not allowed): use dot-separated labels of lowercase letters, "
              "digits and hyphens, each 1 to 63 characters and not starting or ending with a "
              "hyphen, for example \"shop.example.com\""}}),
    [](const testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// A theme is one YAML document: a second one is reported where it starts,
// never dropped. Input patterns are RE2 and bounded.
INSTANTIATE_TEST_SUITE_P(
    Documents, BrokenManifest,
    testing::Values(
        Case{"explicit_start_is_one_document", "---\n" + H("source:\n  bundle: app\n"), {}},
        Case{"document_end_marker_is_one_document", H("source:\n  bundle: app\n...\n"), {}},
        Case{"second_document",
             H("source:\n  bundle: app\n---\nname: other\n"),
             {"t.yaml:8:1: the manifest holds 2 YAML documents; a theme is exactly one (remove "
              "this \"---\" and what follows, or put each theme in its own theme.yaml)"}},
        Case{"second_document_and_errors_in_the_first",
             H("source:\n  bundle: app\nport: http\n---\nname: other\n"),
             {"t.yaml:8:7: port must be a whole number from 1 to 65535, got \"http\"",
              "t.yaml:9:1: the manifest holds 2 YAML documents; a theme is exactly one (remove "
              "this \"---\" and what follows, or put each theme in its own theme.yaml)"}},
        Case{"empty_second_document",
             H("source:\n  bundle: app\n--- \n"),
             {"t.yaml:8:1: the manifest holds 2 YAML documents; a theme is exactly one (remove "
              "this \"---\" and what follows, or put each theme in its own theme.yaml)"}},
        Case{"third_document_after_a_started_first",
             "# a theme\n---\n" + H("source:\n  bundle: app\n---\na: 1\n---\nb: 2\n"),
             {"t.yaml:10:1: the manifest holds 3 YAML documents; a theme is exactly one (remove "
              "this \"---\" and what follows, or put each theme in its own theme.yaml)"}},
        // yaml-cpp never advances past a top-level "," (YAML::LoadAll looped
        // on it until memory ran out; found by the fuzz test).
        Case{"stray_comma_at_top_level",
             "# a theme\n,x\n" + H("source:\n  bundle: app\n"),
             {"t.yaml:2:1: YAML syntax error: unexpected \",\" where a value should start"}},
        Case{"pattern_not_re2",
             H("source:\n  bundle: app\ninputs:\n  - name: a\n    pattern: '(a)\\1'\n"
               "  - name: b\n    pattern: '(x'\n"),
             {"t.yaml:10:14: inputs[0].pattern \"(a)\\1\" is not a valid regular expression (RE2 "
              "syntax: no backreferences or lookaround): invalid escape sequence: \\1",
              "t.yaml:12:14: inputs[1].pattern \"(x\" is not a valid regular expression (RE2 "
              "syntax: no backreferences or lookaround): missing ): (x"}},
        Case{"pattern_too_long",
             H("source:\n  bundle: app\ninputs:\n  - name: a\n    pattern: '" +
               std::string(600, 'a') + "'\n"),
             {"t.yaml:10:14: inputs[0].pattern \"" + std::string(80, 'a') +
              "…\" is 600 characters; at most 512 are allowed"}},
        Case{"pattern_too_large_compiled",
             H("source:\n  bundle: app\ninputs:\n  - name: a\n    pattern: "
               "'((a{100}){100}){100}'\n"),
             {"t.yaml:10:14: inputs[0].pattern \"((a{100}){100}){100}\" is not a valid regular "
              "expression (RE2 syntax: no backreferences or lookaround): invalid repetition "
              "size: {100}"}}),
    [](const testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(ValidateTest, LongValuesDoNotExhaustTheStack) {
  // Fixed checks run on RE2 too: a 500 KB version or volume path is refused
  // with its message, not a crash from a backtracking matcher's recursion.
  std::string head(kHead);
  head.replace(head.find("1.0.0"), 5, std::string(500000, '1') + "x");
  ThemeParse p = ParseTheme(head + "source:\n  bundle: app\n");
  ASSERT_EQ(p.diagnostics.size(), 1u);
  EXPECT_NE(p.diagnostics[0].message.find("must look like 1.2.3"), std::string::npos);
  p = ParseTheme(
      H("source:\n  bundle: app\nvolumes:\n  - path: /" + std::string(500000, 'a') + "!\n"));
  ASSERT_EQ(p.diagnostics.size(), 1u);
  EXPECT_NE(p.diagnostics[0].message.find("must be an absolute path"), std::string::npos);
}

TEST(ValidateTest, AliasBombIsBounded) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c, ++prev) {
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  ThemeParse p = ParseTheme(bomb);
  ASSERT_FALSE(p.diagnostics.empty());
  EXPECT_NE(p.diagnostics[0].message.find("more than 20000 YAML nodes"), std::string::npos)
      << p.diagnostics[0].message;
}

TEST(ValidateTest, NearestWordSuggestsOnlyCloseWords) {
  EXPECT_EQ(NearestWord("prot", {"port", "name"}), "port");
  EXPECT_EQ(NearestWord("healtcheck", {"healthcheck", "env"}), "healthcheck");
  EXPECT_EQ(NearestWord("zzz", {"env", "port"}), "");
}

}  // namespace
}  // namespace dflow::themes
