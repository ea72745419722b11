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
