// The test model's answer to one request body (no HTTP here: model_server.h serves it;
// tests compute expected results with it).
#pragma once

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::testing_scoring {

// {"id": <the body's id, if any>, "model_version": <version>, "score": min(1, amount / 2000)
// rounded to 3 decimals} (amount: the body's numeric "amount", else 0).
inline nlohmann::json score_request(const nlohmann::json& in, const std::string& version) {
  nlohmann::json out = nlohmann::json::object();
  if (in.is_object() && in.contains("id")) out["id"] = in["id"];
  double amount = 0;
  if (in.is_object() && in.contains("amount") && in["amount"].is_number()) amount = in["amount"].get<double>();
  out["score"] = std::round(std::min(1.0, std::max(0.0, amount / 2000.0)) * 1000.0) / 1000.0;
  out["model_version"] = version;
  return out;
}

}  // namespace sluice::testing_scoring
