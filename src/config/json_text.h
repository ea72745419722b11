// A small writer of JSON text, used for the masked summary and for re-serialising mappings.
// Internal to the config module.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/json_text.h"

namespace sluice::config {

// Writes JSON text with two-space indentation (or compactly), commas and keys handled.
// Usage: beginObject(); key("a"); value(1); endObject(). The caller keeps the nesting valid.
class JsonWriter {
 public:
  explicit JsonWriter(bool pretty) : pretty_(pretty) {}

  void beginObject() { open('{'); }
  void endObject() { close('}'); }
  void beginArray() { open('['); }
  void endArray() { close(']'); }
  void key(std::string_view name);
  void value(std::string_view text);
  void value(const char* text) { value(std::string_view(text)); }
  void value(const std::string& text) { value(std::string_view(text)); }
  void value(bool flag);
  void value(int64_t number);
  void value(int number) { value(static_cast<int64_t>(number)); }
  void value(uint64_t number);
  void value(double number);
  void null();
  // key(name) then value(v).
  template <typename T>
  void field(std::string_view name, const T& v) {
    key(name);
    value(v);
  }
  // Inserts already valid JSON text as one value.
  void raw(std::string_view json);

  const std::string& text() const { return out_; }

 private:
  void open(char bracket);
  void close(char bracket);
  void beforeValue();
  void newline();

  bool pretty_;
  std::string out_;
  std::vector<bool> hasItems_;  // per open container: whether it holds an item already
  bool afterKey_ = false;
};

}  // namespace sluice::config
