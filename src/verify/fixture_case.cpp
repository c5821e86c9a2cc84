#include "verify/fixture_case.h"

#include <fnmatch.h>

#include "core/error.h"
#include "io/json_file.h"

namespace sv::verify {

FixtureCase FixtureCase::open(const std::filesystem::path& dir) {
  FixtureCase c;
  c.dir_ = dir;
  SV_CHECK_AS(InputError, std::filesystem::is_directory(dir), "{}: not a fixture folder (no such directory)",
              dir.string());
  const auto case_json = dir / "case.json";
  SV_CHECK_AS(InputError, std::filesystem::exists(case_json),
              "{}: not a fixture case (no case.json)", dir.string());
  c.json_ = io::read_json_file(case_json);
  SV_CHECK_AS(InputError, c.json_.contains("kind") && c.json_["kind"].is_string(),
              "{}: no 'kind' string", case_json.string());
  c.kind_ = c.json_["kind"].get<std::string>();
  c.name_ = c.json_.value("case", dir.filename().string());
  const auto io_path = dir / "io.safetensors";
  SV_CHECK_AS(InputError, std::filesystem::exists(io_path), "{}: missing io.safetensors",
              dir.string());
  c.io_ = std::make_shared<io::Checkpoint>(io::Checkpoint::open(io_path));
  return c;
}

std::filesystem::path FixtureCase::model_path() const {
  if (json_.contains("weights_from_case") && json_["weights_from_case"].is_string()) {
    return dir_.parent_path() / json_["weights_from_case"].get<std::string>() / "model.safetensors";
  }
  return dir_ / "model.safetensors";
}

Tensor FixtureCase::input(const std::string& name) const {
  const std::string key = "in." + name;
  SV_CHECK_AS(InputError, io_->find(key) != nullptr, "{}: io.safetensors has no '{}'",
              dir_.string(), key);
  return io_->tensor(key);
}

std::vector<std::string> FixtureCase::outputs(const std::string& prefix) const {
  std::vector<std::string> names;
  const bool want_traces = prefix.rfind("out.trace.", 0) == 0;
  for (const std::string& n : io_->names()) {
    if (n.rfind(prefix, 0) != 0) continue;
    if (!want_traces && n.rfind("out.trace.", 0) == 0) continue;
    names.push_back(n);
  }
  return names;
}

Tensor FixtureCase::expected(const std::string& name) const { return io_->tensor(name); }

Tolerance FixtureCase::tolerance_for(const std::string& name) const {
  SV_CHECK_AS(InputError, json_.contains("tolerances"), "{}: case.json has no tolerances",
              dir_.string());
  const nlohmann::json& tols = json_["tolerances"];
  auto read = [&](const nlohmann::json& t) {
    Tolerance tol;
    if (t.contains("exact")) {
      tol.exact = true;
      return tol;
    }
    tol.max_abs_over_max_ref = t.at("max_abs_over_max_ref").get<double>();
    tol.rel_l2 = t.at("rel_l2").get<double>();
    return tol;
  };
  if (tols.contains("per_output")) {
    for (const auto& [pattern, t] : tols["per_output"].items()) {
      if (fnmatch(pattern.c_str(), name.c_str(), 0) == 0) return read(t);
    }
  }
  if (tols.contains("exact")) return read(tols);
  SV_CHECK_AS(InputError, tols.contains("f32"), "{}: case.json has no f32 tolerance",
              dir_.string());
  return read(tols["f32"]);
}

}  // namespace sv::verify
