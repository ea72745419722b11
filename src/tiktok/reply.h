// Classification of TikTok's replies (DESIGN.md "Delivery semantics", deliberate difference D3):
// the body's `code` decides, not only the HTTP status. Pure, no I/O.
#pragma once

#include <string>
#include <string_view>

namespace sluice::tiktok {

enum class ReplyClass {
  kDelivered,  // code 0 or 20001 (partial OK)
  kRetry,  // rate limits (40100, 40132, 61000, HTTP 429), server errors (HTTP 5xx, 50000-52999),
           // maintenance (60001), timeouts and connection errors (httpStatus 0)
  kPause,  // token, permission or account errors (40001, 40102, 40104, 40105, 40300, HTTP
           // 401/403 without a code): the destination is parked and alerts; events wait
  kDead,   // any other error: the events are dead-lettered with TikTok's message
};

const char* replyClassName(ReplyClass replyClass);

struct ReplyClassification {
  ReplyClass replyClass = ReplyClass::kRetry;
  int code = -1;        // TikTok's body code; -1 when the body has none
  std::string message;  // TikTok's message, or the HTTP reason when the body has none
};

// Classifies a reply. `httpStatus` 0 means no reply (timeout, connection error). The body is
// TikTok's JSON `{"code": N, "message": "...", ...}`; any other body is tolerated.
ReplyClassification classifyReply(int httpStatus, std::string_view body);

}  // namespace sluice::tiktok
