#include "ops/dashboard/status_report.h"

#include <boost/json.hpp>
#include <cstdio>
#include <vector>

#include "core/time.h"

namespace sluice::ops::dashboard {
namespace {

namespace json = boost::json;

std::string text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return "";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_bool()) return v->as_bool() ? "yes" : "no";
  return json::serialize(*v);
}

int64_t number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return 0;
}

// Left-aligned columns, two spaces apart.
std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

Result<json::object> parseObject(std::string_view text, const char* what) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return fail(ErrorCode::kInvalidArgument,
                std::string("the server's ") + what + " is not a JSON object");
  }
  return std::move(value.as_object());
}

}  // namespace

std::string formatAge(int64_t ms) {
  if (ms < 0) ms = 0;
  char buffer[32];
  if (ms < 1'000) {
    std::snprintf(buffer, sizeof buffer, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60'000) {
    std::snprintf(buffer, sizeof buffer, "%llds", static_cast<long long>(ms / 1'000));
  } else if (ms < 3'600'000) {
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1'000 % 60));
  } else if (ms < 86'400'000) {
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lldd%lldh", static_cast<long long>(ms / 86'400'000),
                  static_cast<long long>(ms / 3'600'000 % 24));
  }
  return buffer;
}

Result<std::string> formatStatus(std::string_view summaryJson, std::string_view alertsJson) {
  auto summary = parseObject(summaryJson, "summary");
  if (!summary) return fail(summary.error());
  const int64_t now = number(*summary, "now_ms");
  std::string out = "sluice on " + text(*summary, "listen") + " at " + formatIsoTime(now) + "\n\n";

  std::vector<std::vector<std::string>> rows = {{"DESTINATION", "STATUS", "DELIVERED", "DEAD",
                                                 "EXPIRED", "DLQ", "BACKLOG", "OLDEST", "BREAKER",
                                                 "CONCURRENCY", "LAST DELIVERY", "ERRORS"}};
  std::vector<std::string> notes;
  const json::value* destinations = summary->if_contains("destinations");
  if (destinations == nullptr || !destinations->is_array()) {
    return fail(ErrorCode::kInvalidArgument, "the server's summary has no destinations");
  }
  for (const auto& value : destinations->as_array()) {
    if (!value.is_object()) continue;
    const json::object& d = value.as_object();
    const std::string status = text(d, "status");
    if (!d.contains("delivered")) {
      rows.push_back({text(d, "name"), status});
      continue;
    }
    std::string backlog = "0", oldest = "-";
    if (const auto* b = d.if_contains("backlog"); b && b->is_object()) {
      backlog = std::to_string(number(b->as_object(), "events"));
      if (number(b->as_object(), "events") > 0)
        oldest = formatAge(number(b->as_object(), "oldest_age_ms"));
    }
    std::string last = "never";
    if (const int64_t at = number(d, "last_delivered_at_ms"); at > 0) {
      last = formatAge(now - at) + " ago";
    }
    std::string errors;
    if (const auto* e = d.if_contains("errors"); e && e->is_object()) {
      for (const auto& [code, count] : e->as_object()) {
        if (!errors.empty()) errors += " ";
        errors += std::string(code) + ":" + json::serialize(count);
      }
    }
    rows.push_back({text(d, "name"), status, text(d, "delivered"), text(d, "dead"),
                    text(d, "expired"), text(d, "dead_letters"), backlog, oldest,
                    text(d, "breaker"), text(d, "concurrency"), last,
                    errors.empty() ? "-" : errors});
    if (status == "paused")
      notes.push_back(text(d, "name") + " paused: " + text(d, "pause_reason"));
    if (const auto* reasons = d.if_contains("status_reasons"); reasons && reasons->is_array()) {
      for (const auto& reason : reasons->as_array()) {
        if (reason.is_string()) {
          notes.push_back(text(d, "name") + " degraded: " + std::string(reason.as_string()));
        }
      }
    }
  }
  if (rows.size() == 1) {
    out += "no destinations configured\n";
  } else {
    out += table(rows);
  }
  for (const auto& note : notes) out += "  " + note + "\n";

  std::vector<std::vector<std::string>> sources = {{"SOURCE", "RECEIVED"}};
  if (const auto* s = summary->if_contains("sources"); s && s->is_array()) {
    for (const auto& value : s->as_array()) {
      if (value.is_object()) {
        sources.push_back({text(value.as_object(), "name"), text(value.as_object(), "received")});
      }
    }
  }
  out += "\n" + table(sources);
  out += "(received since " + formatIsoTime(number(*summary, "received_since_ms")) + ")\n";

  if (!alertsJson.empty()) {
    auto alerts = parseObject(alertsJson, "alert list");
    if (!alerts) return fail(alerts.error());
    const json::value* active = alerts->if_contains("active");
    if (active != nullptr && active->is_array() && !active->as_array().empty()) {
      out += "\nactive alerts:\n";
      for (const auto& alert : active->as_array()) {
        if (!alert.is_object()) {
          out += "  " + json::serialize(alert) + "\n";
          continue;
        }
        const json::object& a = alert.as_object();
        std::string line = text(a, "summary");
        if (line.empty()) line = text(a, "message");
        if (line.empty()) line = json::serialize(alert);
        std::string kind = text(a, "kind");
        if (kind.empty()) kind = text(a, "type");
        out += "  " + (kind.empty() ? std::string() : kind + ": ") + line + "\n";
      }
    } else {
      out += "\nno active alerts\n";
    }
  }
  return out;
}

Result<bool> allHealthy(std::string_view summaryJson) {
  auto summary = parseObject(summaryJson, "summary");
  if (!summary) return fail(summary.error());
  const json::value* destinations = summary->if_contains("destinations");
  if (destinations == nullptr || !destinations->is_array()) {
    return fail(ErrorCode::kInvalidArgument, "the server's summary has no destinations");
  }
  for (const auto& value : destinations->as_array()) {
    if (!value.is_object()) continue;
    const std::string status = text(value.as_object(), "status");
    if (status != "healthy" && status != "disabled") return false;
  }
  return true;
}

}  // namespace sluice::ops::dashboard
