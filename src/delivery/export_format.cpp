#include "delivery/export_format.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

#include "core/time.h"
#include "tiktok/json_writer.h"

namespace sluice::delivery {
namespace {

namespace json = boost::json;

std::string csvCell(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

const json::value* find(const json::value& v, std::string_view key) {
  const auto* object = v.if_object();
  if (!object) return nullptr;
  auto it = object->find(key);
  return it == object->end() ? nullptr : &it->value();
}

// A scalar as text: strings as they are, numbers as JSON writes them.
std::string scalar(const json::value* v) {
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_double()) return tiktok::jsNumberToString(v->get_double());
  if (v->is_number() || v->is_bool()) return json::serialize(*v);
  return "";
}

// The first value of a string-or-array field.
std::string first(const json::value* v) {
  if (v && v->is_array()) return v->get_array().empty() ? "" : scalar(&v->get_array()[0]);
  return scalar(v);
}

json::value parseOrNull(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return json::value(text);  // keep it as a string rather than lose it
  return v;
}

}  // namespace

ExportRecord exportRecord(const store::ExpiredEvent& e) {
  return ExportRecord{"expired", e.seq, e.source, e.messageId, e.eventTimeMs, e.receivedAtMs,
                      e.eventJson, e.itemJson, "", 0, ""};
}

ExportRecord exportRecord(const store::DeadLetter& d) {
  return ExportRecord{"dead", d.seq, d.source, d.messageId, d.eventTimeMs, d.receivedAtMs,
                      d.eventJson, d.itemJson, d.reason, d.code, d.message};
}

std::string csvHeader() {
  return "event_type,event_time,event_id,email,phone,value,currency,order_id,content_ids";
}

std::optional<std::string> csvRow(const ExportRecord& record) {
  if (record.itemJson.empty()) return std::nullopt;
  boost::system::error_code ec;
  json::value item = json::parse(record.itemJson, ec);
  if (ec || !item.is_object()) return std::nullopt;
  const json::value* user = find(item, "user");
  const json::value* properties = find(item, "properties");
  EpochMs timeMs = record.eventTimeMs;
  if (const json::value* t = find(item, "event_time"); t && t->is_number()) {
    timeMs = static_cast<EpochMs>(t->to_number<double>() * 1000);
  }
  std::string contentIds;
  auto addId = [&](const json::value* id) {
    std::string text = scalar(id);
    if (text.empty()) return;
    if (!contentIds.empty()) contentIds += ';';
    contentIds += text;
  };
  if (properties) {
    if (const json::value* ids = find(*properties, "content_ids"); ids && ids->is_array()) {
      for (const auto& id : ids->get_array()) addId(&id);
    } else if (const json::value* contents = find(*properties, "contents");
               contents && contents->is_array()) {
      for (const auto& c : contents->get_array()) addId(find(c, "content_id"));
    }
  }
  std::string line;
  auto cell = [&](std::string_view text) {
    line += csvCell(text);
    line += ',';
  };
  cell(scalar(find(item, "event")));
  cell(formatIsoTime(timeMs));
  cell(scalar(find(item, "event_id")));
  cell(user ? first(find(*user, "email")) : "");
  cell(user ? first(find(*user, "phone")) : "");
  cell(properties ? scalar(find(*properties, "value")) : "");
  cell(properties ? scalar(find(*properties, "currency")) : "");
  cell(properties ? scalar(find(*properties, "order_id")) : "");
  cell(contentIds);
  line.pop_back();
  return line;
}

std::string jsonLine(const ExportRecord& record) {
  json::object o;
  o["kind"] = record.kind;
  o["seq"] = record.seq;
  o["source"] = record.source;
  o["message_id"] = record.messageId;
  o["event_time"] = formatIsoTime(record.eventTimeMs);
  o["received_at"] = formatIsoTime(record.receivedAtMs);
  o["item"] = parseOrNull(record.itemJson);
  o["event"] = parseOrNull(record.eventJson);
  if (record.kind == "dead") {
    o["reason"] = record.reason;
    o["code"] = record.code;
    o["message"] = record.message;
  }
  return json::serialize(o);
}

}  // namespace sluice::delivery
