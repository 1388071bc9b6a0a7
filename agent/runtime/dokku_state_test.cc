// DokkuState: what one agent saved is what the next one (after a restart) loads.
#include "agent/runtime/dokku_state.h"

#include <gtest/gtest.h>

#include "agent/runtime/runtime_test_support.h"

namespace dflow::agent {
namespace {

TEST(DokkuState, WhatIsSavedIsLoadedBackByTheNextAgent) {
  dflow::agent::testing::TempDir tmp;
  const std::string path = tmp.path() + "/state.json";
  auto first = DokkuState::Load(path);  // no file yet: empty
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->apps().empty());
  DokkuApp& shop = first->apps()["shop"];
  shop.deployed_release = 2;
  shop.formation = {{"web", 2}};
  shop.checks = {{"wait", "5"}};
  shop.managed_keys = {"GREETING"};
  shop.instances["shop-web-2-1"] = {.id = "shop-web-2-1", .process = "web", .release = 2};
  first->apps()["blog"].port = 8080;
  ASSERT_TRUE(first->Save().ok());

  auto again = DokkuState::Load(path);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->apps().size(), 2u);
  const DokkuApp& loaded = again->apps().at("shop");
  EXPECT_EQ(loaded.deployed_release, 2);
  EXPECT_EQ(loaded.formation, (std::map<std::string, int>{{"web", 2}}));
  EXPECT_EQ(loaded.checks.at("wait"), "5");
  EXPECT_EQ(loaded.managed_keys.count("GREETING"), 1u);
  ASSERT_EQ(loaded.instances.count("shop-web-2-1"), 1u);
  EXPECT_EQ(loaded.instances.at("shop-web-2-1").release, 2);
  EXPECT_EQ(again->apps().at("blog").port, 8080);
}

}  // namespace
}  // namespace dflow::agent
