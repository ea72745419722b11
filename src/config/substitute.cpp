#include "config/substitute.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sluice::config {
namespace {

bool isNameStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9'); }

std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const size_t last = s.find_last_not_of(kSpace);
  return s.substr(first, last - first + 1);
}

Result<std::string> readSecretFile(const std::string& path) {
  if (path.empty()) return fail(ErrorCode::kInvalidArgument, "${file:...} needs a path");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::kInvalidArgument,
                "cannot read secret file '" + path + "': " + std::strerror(errno));
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return fail(ErrorCode::kInvalidArgument, "cannot read secret file '" + path + "'");
  }
  return std::string(trim(contents.str()));
}

}  // namespace

EnvLookup processEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<std::string> substituteVariables(std::string_view text, const EnvLookup& env,
                                        bool* substituted) {
  std::string out;
  out.reserve(text.size());
  bool replaced = false;
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '$' && text.substr(pos, 3) == "$${") {
      out += "${";
      pos += 3;
      continue;
    }
    if (c != '$' || pos + 1 >= text.size() || text[pos + 1] != '{') {
      out += c;
      ++pos;
      continue;
    }
    const size_t close = text.find('}', pos + 2);
    if (close == std::string_view::npos) {
      return fail(ErrorCode::kInvalidArgument, "unterminated '${' (write '$${' for a literal '${')");
    }
    const std::string_view inner = text.substr(pos + 2, close - pos - 2);
    pos = close + 1;
    replaced = true;
    if (inner.substr(0, 5) == "file:") {
      auto contents = readSecretFile(std::string(trim(inner.substr(5))));
      if (!contents) return fail(contents.error());
      out += *contents;
      continue;
    }
    size_t nameEnd = 0;
    if (!inner.empty() && isNameStart(inner[0])) {
      nameEnd = 1;
      while (nameEnd < inner.size() && isNameChar(inner[nameEnd])) ++nameEnd;
    }
    const std::string name(inner.substr(0, nameEnd));
    const std::string_view rest = inner.substr(nameEnd);
    if (name.empty() || (!rest.empty() && rest.substr(0, 2) != ":-")) {
      return fail(ErrorCode::kInvalidArgument,
                  "invalid variable reference '${" + std::string(inner) +
                      "}' (expected ${NAME}, ${NAME:-default} or ${file:/path})");
    }
    std::optional<std::string> value = env ? env(name) : processEnv()(name);
    if (!rest.empty()) {  // ${NAME:-default}
      if (!value || value->empty()) value = std::string(rest.substr(2));
    } else if (!value) {
      return fail(ErrorCode::kInvalidArgument, "environment variable " + name + " is not set");
    }
    out += *value;
  }
  if (substituted != nullptr) *substituted = replaced;
  return out;
}

}  // namespace sluice::config
