#include "tiktok/json_writer.h"

#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <charconv>
#include <cmath>

#include "mapping/js_number.h"

namespace sluice::tiktok {

void appendJsNumber(std::string& out, double value) {
  if (std::isnan(value) || std::isinf(value)) {
    out += "null";  // as JSON.stringify writes them
    return;
  }
  mapping::appendJsNumber(out, value);
}

std::string jsNumberToString(double value) {
  std::string out;
  appendJsNumber(out, value);
  return out;
}

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t runStart = 0;
  // The bytes that need an escape: control characters, '"' and '\\'.
  static constexpr auto kEscaped = [] {
    std::array<bool, 256> escaped{};
    for (size_t c = 0; c < 0x20; ++c) escaped[c] = true;
    escaped['"'] = escaped['\\'] = true;
    return escaped;
  }();
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (!kEscaped[c]) continue;
    out.append(text.data() + runStart, i - runStart);
    runStart = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(text.data() + runStart, text.size() - runStart);
  out += '"';
}

double jsonNumberAsDouble(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::int64:
      return static_cast<double>(value.get_int64());
    case boost::json::kind::uint64:
      return static_cast<double>(value.get_uint64());
    case boost::json::kind::double_:
      return value.get_double();
    default:
      return 0;
  }
}

void appendJsonValue(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null:
      out += "null";
      break;
    case boost::json::kind::bool_:
      out += value.get_bool() ? "true" : "false";
      break;
    case boost::json::kind::int64: {
      int64_t v = value.get_int64();
      if (v > -(int64_t{1} << 53) && v < (int64_t{1} << 53)) {
        char buf[24];
        auto r = std::to_chars(buf, buf + sizeof buf, v);
        out.append(buf, r.ptr);
      } else {
        appendJsNumber(out, static_cast<double>(v));
      }
      break;
    }
    case boost::json::kind::uint64:
    case boost::json::kind::double_:
      appendJsNumber(out, jsonNumberAsDouble(value));
      break;
    case boost::json::kind::string:
      appendJsonString(out, value.get_string());
      break;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value.get_array()) {
        if (!first) out += ',';
        first = false;
        appendJsonValue(out, item);
      }
      out += ']';
      break;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : value.get_object()) {
        if (!first) out += ',';
        first = false;
        appendJsonString(out, kv.key());
        out += ':';
        appendJsonValue(out, kv.value());
      }
      out += '}';
      break;
    }
  }
}

}  // namespace sluice::tiktok
