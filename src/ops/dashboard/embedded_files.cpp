#include "ops/dashboard/embedded_files.h"

namespace sluice::ops::dashboard {

const EmbeddedFile* findEmbeddedFile(std::string_view name) {
  for (const EmbeddedFile& file : embeddedFiles()) {
    if (name == file.name) return &file;
  }
  return nullptr;
}

std::string_view contentTypeFor(std::string_view name) {
  auto endsWith = [name](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (endsWith(".html")) return "text/html; charset=utf-8";
  if (endsWith(".css")) return "text/css; charset=utf-8";
  if (endsWith(".js")) return "text/javascript; charset=utf-8";
  if (endsWith(".svg")) return "image/svg+xml";
  if (endsWith(".json")) return "application/json";
  return "application/octet-stream";
}

}  // namespace sluice::ops::dashboard
