#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "themes/render.h"
#include "themes/secrets.h"
#include "themes/template.h"

namespace dflow::themes {
namespace {

TEST(TemplateTest, RendersReferencesOnly) {
  auto r = RenderTemplate("a {{ inputs.x }}-{{secrets.y}} }} {",
                          {{"inputs.x", "1"}, {"secrets.y", "2"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "a 1-2 }} {");
  // A value that looks like a template is not expanded again.
  r = RenderTemplate("{{ inputs.x }}", {{"inputs.x", "{{ secrets.y }}"}, {"secrets.y", "no"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "{{ secrets.y }}");
  EXPECT_EQ(RenderTemplate("{{ nope }}", {}).status().message(), "no value for {{ nope }}");
}

TEST(RenderTest, SplitsServiceUrls) {
  auto c = SplitServiceUrl("postgres://postgres:p%40ss@dokku-postgres-db:5432/n8n_db");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->user, "postgres");
  EXPECT_EQ(c->password, "p@ss");
  EXPECT_EQ(c->host, "dokku-postgres-db");
  EXPECT_EQ(c->port, "5432");
  EXPECT_EQ(c->database, "n8n_db");
  EXPECT_FALSE(SplitServiceUrl("not a url").ok());
}

TEST(RenderTest, InputsAreCheckedAndDefaulted) {
  ThemeParse p = ParseTheme(
      "apiVersion: dflow/v1\nkind: Theme\nname: demo\nversion: 1.0.0\ndescription: d\n"
      "source:\n  bundle: app\ninputs:\n  - name: email\n    type: email\n    required: true\n"
      "  - name: tz\n    default: UTC\n    pattern: '[A-Za-z/_]+'\n"
      "env:\n  E: '{{ inputs.email }}'\n  T: '{{ inputs.tz }}'\n  U: '{{ app.host }} {{ app.scheme "
      "}}'\n");
  ASSERT_TRUE(p.theme) << p.diagnostics[0].message;
  RenderContext ctx{"demo", "https://demo.example.com:8443", {}, {}, {}};
  EXPECT_EQ(Render(*p.theme, ctx).status().message(),
            "theme demo needs input \"email\" (): pass --set email=VALUE");
  ctx.inputs = {{"email", "nope"}};
  EXPECT_EQ(Render(*p.theme, ctx).status().message(),
            "input \"email\" must be an email address like admin@example.com; got \"nope\"");
  ctx.inputs = {{"emial", "a@b.co"}};
  EXPECT_EQ(Render(*p.theme, ctx).status().message(),
            "theme demo has no input \"emial\"; its inputs are: email, tz");
  ctx.inputs = {{"email", "a@b.co"}, {"tz", "Europe/Berlin; rm"}};
  EXPECT_FALSE(Render(*p.theme, ctx).ok());
  ctx.inputs = {{"email", "a@b.co"}};
  auto r = Render(*p.theme, ctx);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<std::pair<std::string, std::string>> want = {
      {"E", "a@b.co"}, {"T", "UTC"}, {"U", "demo.example.com https"}};
  EXPECT_EQ(r->env, want);
}

TEST(RenderTest, CatastrophicPatternsMatchInLinearTime) {
  // (a+)+$ and (a|aa)*b backtrack exponentially in an ECMAScript engine on a
  // run of a's that does not match; RE2 answers at once. Values are at most
  // 4096 characters, so both the longest value and a just-too-long one are tried.
  for (const char* pattern : {"(a+)+$", "(a|aa)*b", "(a*)*c", "(.*a){20}"}) {
    Input in;
    in.name = "x";
    in.pattern = pattern;
    std::string value(4095, 'a');
    value += '!';
    absl::Status s = ValidateInputValue(in, value);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << pattern;
    EXPECT_NE(s.message().find(absl::StrCat("a value matching ", pattern)), std::string::npos)
        << s.message();
    EXPECT_NE(ValidateInputValue(in, value + "a").message().find("at most 4096 characters"),
              std::string::npos);
  }
  Input in;
  in.name = "x";
  in.pattern = "(a+)+";
  EXPECT_TRUE(ValidateInputValue(in, std::string(4096, 'a')).ok());
  in.pattern = "[A-Za-z0-9_+/-]{1,64}";
  EXPECT_TRUE(ValidateInputValue(in, "Europe/Berlin").ok());
  EXPECT_FALSE(ValidateInputValue(in, "Europe/Berlin; rm").ok());
  // A pattern refused by validation never reaches a matcher; if one did, it
  // fails closed with the reason.
  in.pattern = "(a)\\1";
  EXPECT_NE(ValidateInputValue(in, "aa").message().find("not a valid regular expression"),
            std::string::npos);
}

TEST(SecretsTest, GeneratedFromTheAlphabetAndDistinct) {
  std::set<std::string> seen;
  for (const char* alphabet : {"alnum", "hex", "base64url", "lower"}) {
    Secret s{"k", 40, alphabet, {}};
    for (int i = 0; i < 50; ++i) {
      auto v = GenerateSecret(s);
      ASSERT_TRUE(v.ok());
      ASSERT_EQ(v->size(), 40u);
      EXPECT_EQ(v->find_first_not_of(AlphabetChars(alphabet)), std::string::npos) << *v;
      EXPECT_TRUE(seen.insert(*v).second);
    }
  }
  EXPECT_EQ(MaskSecret("abcdef"), "******** (6 characters)");
}

}  // namespace
}  // namespace dflow::themes
