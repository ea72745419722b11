// Helpers shared by the store tests: temporary directories and event factories.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "store/event_log.h"

namespace sluice::store::testing {

// A fresh directory under the system temp directory, removed (with its content) on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-store-XXXXXX").string();
    char* made = ::mkdtemp(pattern.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline NewEvent makeEvent(std::string source, std::string messageId, EpochMs receivedAtMs,
                          std::string type = "track", std::string name = "Order Completed") {
  NewEvent event;
  event.source = std::move(source);
  event.messageId = std::move(messageId);
  event.type = std::move(type);
  event.name = std::move(name);
  event.receivedAtMs = receivedAtMs;
  event.timestampMs = receivedAtMs - 5;
  event.json = R"({"type":")" + event.type + R"(","messageId":")" + event.messageId +
               R"(","event":")" + event.name + R"("})";
  return event;
}

}  // namespace sluice::store::testing
