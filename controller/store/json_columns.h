// JSON text columns: maps stored as JSON objects. Internal to controller/store/.
#ifndef DFLOW_CONTROLLER_STORE_JSON_COLUMNS_H_
#define DFLOW_CONTROLLER_STORE_JSON_COLUMNS_H_

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace dflow::store {

template <typename V>
std::string MapToJson(const std::map<std::string, V>& m) {
  return nlohmann::json(m).dump();
}

template <typename V>
std::map<std::string, V> MapFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return {};
  try {
    return j.get<std::map<std::string, V>>();
  } catch (const nlohmann::json::exception&) {
    return {};
  }
}

}  // namespace dflow::store

#endif  // DFLOW_CONTROLLER_STORE_JSON_COLUMNS_H_
