// Formats of `sluice export`: CSV rows for a manual upload to TikTok (see README.md, "Export") and
// JSON lines with everything kept. Pure, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.h"
#include "store/delivery_state.h"

namespace sluice::delivery {

// An expired event or a dead letter, in one shape.
struct ExportRecord {
  std::string kind;  // "expired" or "dead"
  store::Seq seq = 0;
  std::string source;
  std::string messageId;
  EpochMs eventTimeMs = 0;
  EpochMs receivedAtMs = 0;
  std::string eventJson;
  std::string itemJson;  // the mapped TikTok item; empty when mapping failed
  std::string reason;    // dead letters only
  int code = 0;
  std::string message;
};
ExportRecord exportRecord(const store::ExpiredEvent& expired);
ExportRecord exportRecord(const store::DeadLetter& dead);

// The header line (without a newline):
// event_type,event_time,event_id,email,phone,value,currency,order_id,content_ids
std::string csvHeader();

// One CSV line (without a newline) from the record's mapped item: the TikTok event name, the event
// time as ISO-8601 UTC, event_id, the first hashed email and phone (SHA-256 hex, as sent to the
// API), value, currency, order_id, content ids joined with `;`. Cells are quoted when needed
// (RFC 4180). nullopt when the record has no mapped item (mapping failed): those are in JSON lines.
std::optional<std::string> csvRow(const ExportRecord& record);

// One JSON object (without a newline): kind, seq, source, message_id, event_time, received_at,
// item (the mapped item, or null), event (the raw event), and for dead letters reason, code and
// message.
std::string jsonLine(const ExportRecord& record);

}  // namespace sluice::delivery
