// One reference fixture folder (fixtures/README.md): case.json, config.json,
// the weights (possibly another case's) and io.safetensors with in.*/out.*.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/checkpoint.h"
#include "verify/compare.h"

namespace sv::verify {

class FixtureCase {
 public:
  // Reads and checks case.json and opens io.safetensors; InputError naming
  // the folder when something is missing.
  static FixtureCase open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const std::string& name() const { return name_; }
  const std::string& kind() const { return kind_; }
  const nlohmann::json& json() const { return json_; }
  std::filesystem::path config_path() const { return dir_ / "config.json"; }
  // model.safetensors of this case or of the case named by weights_from_case.
  std::filesystem::path model_path() const;

  const io::Checkpoint& io() const { return *io_; }
  Tensor input(const std::string& name) const;  // "in.<name>"
  // Every expected tensor whose name starts with prefix ("out." minus traces, or "out.trace.").
  std::vector<std::string> outputs(const std::string& prefix) const;
  Tensor expected(const std::string& name) const;
  Tolerance tolerance_for(const std::string& name) const;

 private:
  std::filesystem::path dir_;
  std::string name_, kind_;
  nlohmann::json json_;
  std::shared_ptr<io::Checkpoint> io_;
};

}  // namespace sv::verify
