// Helpers shared by the store tests: a temporary directory and sample rows.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"

namespace banshi::store::testing {

// A fresh directory, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "banshi-store-XXXXXX").string();
    char* made = mkdtemp(pattern.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::unique_ptr<sqlite::SqliteStore> open_store(sqlite::SqliteOptions options) {
  auto store = sqlite::SqliteStore::open(options);
  if (!store.ok()) {
    ADD_FAILURE() << store.error().code << ": " << store.error().message;
    return nullptr;
  }
  auto migrated = (*store)->migrate();
  if (!migrated.ok()) ADD_FAILURE() << migrated.error().message;
  return std::move(store.value());
}

inline std::unique_ptr<sqlite::SqliteStore> open_store(const std::string& path) {
  sqlite::SqliteOptions options;
  options.path = path;
  return open_store(options);
}

inline DefinitionRecord sample_definition(const std::string& process_id, const std::string& checksum) {
  DefinitionRecord d;
  d.process_id = process_id;
  d.name = "Process " + process_id;
  d.resource = process_id + ".bpmn";
  d.xml = "<definitions id=\"" + process_id + "\"/>";
  d.checksum = checksum;
  d.deployed_at = 1000;
  d.deployed_by = "admin";
  return d;
}

// Deploys one process and returns its key.
inline int64_t deploy_one(Store& store, const std::string& process_id = "p") {
  auto deployed = store.deploy({sample_definition(process_id, "c-" + process_id)});
  EXPECT_TRUE(deployed.ok());
  return deployed.ok() ? deployed->front().key : 0;
}

inline InstanceWrite new_instance(InstanceId id, int64_t definition_key, const std::string& process_id = "p") {
  InstanceWrite w;
  w.record.id = id;
  w.record.definition_key = definition_key;
  w.record.process_id = process_id;
  w.record.definition_version = 1;
  w.record.business_key = "bk-" + std::to_string(id);
  w.record.status = 1;
  w.record.version = 1;
  w.record.state = std::string("\x42\x53\x49\x01\x00state", 10);
  w.record.started_at = 5000 + id;
  w.expected_version = 0;
  return w;
}

}  // namespace banshi::store::testing
