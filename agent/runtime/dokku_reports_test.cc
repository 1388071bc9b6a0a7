// Parsing Dokku's output, with real-format fixtures: 0.38.27 from the real
// transcript (../shared/dokku, record numbers cited), 0.35.20 in the format
// its source prints (plugins/common/common.go ReportSingleApp with
// trimPrefix=false, the bash reports' printf "%-30s %-25s", storage-list's jq).
#include "agent/runtime/dokku_reports.h"

#include <gtest/gtest.h>

namespace dflow::agent {
namespace {

// Transcript #98 (no containers yet).
constexpr char kPsJson038[] =
    R"js({"can-scale":"true","computed-dockerfile-start-cmd":"","computed-procfile-path":"Procfile","computed-restart-policy":"on-failure:10","computed-skip-deploy":"false","computed-start-cmd":"","computed-stop-timeout-seconds":"30","deployed":"false","dockerfile-start-cmd":"","global-procfile-path":"","global-restart-policy":"","global-skip-deploy":"","global-stop-timeout-seconds":"","processes":"0","procfile-path":"","ps-can-scale":"true","ps-computed-dockerfile-start-cmd":"","ps-computed-procfile-path":"Procfile","ps-computed-restart-policy":"on-failure:10","ps-computed-skip-deploy":"false","ps-computed-start-cmd":"","ps-computed-stop-timeout-seconds":"30","ps-dockerfile-start-cmd":"","ps-global-procfile-path":"","ps-global-restart-policy":"","ps-global-skip-deploy":"","ps-global-stop-timeout-seconds":"","ps-procfile-path":"","ps-restart-policy":"","ps-skip-deploy":"","ps-start-cmd":"","ps-stop-timeout-seconds":"","restart-policy":"","restore":"true","running":"false","skip-deploy":"","start-cmd":"","stop-timeout-seconds":""})js";

// Transcript #97 plus the status lines a deployed app adds (ps/report.go addStatusFlags).
constexpr char kPsText038[] = R"js(=====> shop ps information
       Deployed:                         true
       Processes:                        2
       Ps can scale:                     true
       Ps computed dockerfile start cmd: 
       Ps computed procfile path:        Procfile
       Ps computed restart policy:       on-failure:10
       Ps restart policy:                
       Restore:                          true
       Running:                          mixed
       Status web 1:                     running (CID: 2a94fcba9e2)
       Status web 2:                     exited (CID: f1c3dd7d1aa)
)js";

constexpr char kPsJson035[] =
    R"js({"deployed":"true","processes":"3","ps-can-scale":"true","ps-computed-procfile-path":"Procfile","ps-global-procfile-path":"Procfile","ps-procfile-path":"","ps-restart-policy":"on-failure:10","restore":"true","running":"true","status-web.1":"running (CID: 2a94fcba9e2)","status-web.2":"running (CID: f1c3dd7d1aa)","status-worker.1":"running (CID: 148240ee260)"})js";

constexpr char kPsText035[] = R"js(=====> shop ps information
       Deployed:                      true
       Processes:                     1
       Ps can scale:                  true
       Ps computed procfile path:     Procfile
       Ps global procfile path:       Procfile
       Ps procfile path:              
       Ps restart policy:             on-failure:10
       Restore:                       true
       Running:                       true
       Status my-worker 1:            running (CID: 148240ee260)
)js";

TEST(DokkuReports, PsJson038HasBothKeyFormsAndNoContainersBeforeADeploy) {
  auto r = ParseJsonReport(kPsJson038);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(ReportValue(*r, "ps", "can-scale"), "true");
  EXPECT_EQ(ReportValue(*r, "ps", "computed-restart-policy"), "on-failure:10");
  auto ps = ParsePsReport(*r);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_FALSE(ps->deployed);
  EXPECT_EQ(ps->processes, 0);
  EXPECT_EQ(ps->running, "false");
  EXPECT_TRUE(ps->containers.empty());
}

TEST(DokkuReports, PsJson035HasPrefixedKeysOnly) {
  auto r = ParseJsonReport(kPsJson035);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->count("can-scale"), 0u);
  EXPECT_EQ(ReportValue(*r, "ps", "can-scale"), "true");  // falls back to ps-can-scale
  auto ps = ParsePsReport(*r);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_TRUE(ps->deployed);
  EXPECT_EQ(ps->processes, 3);
  ASSERT_EQ(ps->containers.size(), 3u);
  EXPECT_EQ(ps->containers[0].process, "web");
  EXPECT_EQ(ps->containers[0].index, 1);
  EXPECT_EQ(ps->containers[0].status, "running");
  EXPECT_EQ(ps->containers[0].cid, "2a94fcba9e2");
  EXPECT_EQ(ps->containers[2].process, "worker");
}

TEST(DokkuReports, PsTextInBothVersions) {
  auto ps38 = ParsePsReport(ParseTextReport(kPsText038));
  ASSERT_TRUE(ps38.ok()) << ps38.status();
  EXPECT_TRUE(ps38->deployed);
  EXPECT_EQ(ps38->running, "mixed");
  ASSERT_EQ(ps38->containers.size(), 2u);
  EXPECT_EQ(ps38->containers[1].status, "exited");
  EXPECT_EQ(ps38->containers[1].cid, "f1c3dd7d1aa");
  DokkuReport text38 = ParseTextReport(kPsText038);
  EXPECT_EQ(ReportValue(text38, "ps", "restart-policy"), "");
  EXPECT_EQ(ReportValue(text38, "ps", "computed-procfile-path"), "Procfile");

  auto ps35 = ParsePsReport(ParseTextReport(kPsText035));
  ASSERT_TRUE(ps35.ok()) << ps35.status();
  ASSERT_EQ(ps35->containers.size(), 1u);
  EXPECT_EQ(ps35->containers[0].process, "my-worker");  // a dash in the type survives
  EXPECT_EQ(ps35->containers[0].index, 1);
}

TEST(DokkuReports, DomainsJson038AndBashText035) {
  // Transcript #71.
  auto j = ParseJsonReport(
      R"js({"app-enabled":"true","app-vhosts":"demo-app.dokku.me example.com www.example.com","global-enabled":"true","global-vhosts":"dokku.me"})js");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(ReportValue(*j, "domains", "app-vhosts"),
            "demo-app.dokku.me example.com www.example.com");
  // 0.35.20 plugins/domains: printf "%-30s %-25s", so values carry trailing spaces.
  DokkuReport t = ParseTextReport(
      "=====> shop domains information\n"
      "       Domains app enabled:           true                     \n"
      "       Domains app vhosts:            shop.dokku.me            \n"
      "       Domains global enabled:        true                     \n"
      "       Domains global vhosts:         dokku.me                 \n");
  EXPECT_EQ(ReportValue(t, "domains", "app-vhosts"), "shop.dokku.me");
  EXPECT_EQ(ReportValue(t, "domains", "global-enabled"), "true");
}

TEST(DokkuReports, StorageListEveryForm) {
  const DokkuMount want{"/var/lib/dokku/data/storage/demo-app-data", "/app/storage"};
  // Transcript #113 and #112 (0.38.27).
  EXPECT_EQ(
      ParseStorageList(
          R"js([{"entry_name":"legacy-1aa85508f0","host_path":"/var/lib/dokku/data/storage/demo-app-data","container_path":"/app/storage"}])js"),
      std::vector<DokkuMount>{want});
  EXPECT_EQ(ParseStorageList("-----> demo-app volume bind-mounts:\n"
                             "       /var/lib/dokku/data/storage/demo-app-data:/app/storage\n"),
            std::vector<DokkuMount>{want});
  // 0.35.20: jq -M output, and the bare text without a header.
  EXPECT_EQ(ParseStorageList("[\n  {\n    \"host_path\": "
                             "\"/var/lib/dokku/data/storage/demo-app-data\",\n    "
                             "\"container_path\": \"/app/storage\",\n    \"volume_options\": "
                             "\"\"\n  }\n]\n"),
            std::vector<DokkuMount>{want});
  EXPECT_EQ(ParseStorageList("/var/lib/dokku/data/storage/demo-app-data:/app/storage\n"),
            std::vector<DokkuMount>{want});
  EXPECT_TRUE(ParseStorageList("[]\n").empty());
}

TEST(DokkuReports, ScaleConfigPortsAndLogs) {
  // Transcript #90.
  EXPECT_EQ(ParseScaleReport("-----> Scaling for demo-app\nproctype: qty\n--------: ---\nweb:  2\n"
                             "worker: 1\n"),
            (std::map<std::string, int>{{"web", 2}, {"worker", 1}}));
  // Transcript #46.
  auto env = ParseConfigJson(
      R"js({"EMPTY":"","ENCODED":"s3cr3t value with spaces","QUOTE":"it's \"quoted\" ok"})js");
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->at("QUOTE"), "it's \"quoted\" ok");
  EXPECT_EQ(env->at("EMPTY"), "");
  // Transcript #84 (a set map) and #152 (no vhost: only the detected random port).
  auto ports = ParseJsonReport(
      R"js({"map":"http:80:5000","map-detected":"http:80:5000","ports-map":"http:80:5000"})js");
  ASSERT_TRUE(ports.ok());
  EXPECT_EQ(HttpHostPort(*ports), 80);
  auto random = ParseJsonReport(
      R"js({"map":"","map-detected":"http:43229:5000","map-json":"null","ports-map":"","ports-map-detected":"http:43229:5000"})js");
  ASSERT_TRUE(random.ok());
  EXPECT_EQ(HttpHostPort(*random), 43229);
  // scheduler-docker-local/scheduler-logs: colour, RFC 3339 stamp, app[DYNO]:.
  auto lines = ParseDokkuLogs(
      "\x1b[33m2026-11-23T14:35:57.000000002Z app[web.2]:\x1b[0m second\n"
      "\x1b[36m2026-11-23T14:35:56.250000001Z app[web.1]:\x1b[0m first: with a colon\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text, "first: with a colon");
  EXPECT_EQ(lines[0].instance, "web.1");
  EXPECT_EQ(lines[0].process, "web");
  EXPECT_EQ(lines[0].time_ms, 1795444556250);
  EXPECT_EQ(lines[1].text, "second");
}

TEST(DokkuReports, NotJsonIsAnErrorThatQuotesIt) {
  auto r = ParseJsonReport(" !     App shop does not exist\n");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace dflow::agent
