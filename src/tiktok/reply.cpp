#include "tiktok/reply.h"

#include <simdjson.h>

namespace sluice::tiktok {
namespace {

std::string httpReason(int status) {
  switch (status) {
    case 0:
      return "no reply (timeout or connection error)";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "HTTP " + std::to_string(status);
  }
}

// The class of a reply from its HTTP status alone (the body carried no code).
ReplyClass classifyStatus(int status) {
  if (status == 0 || status == 408 || status == 429 || status >= 500) return ReplyClass::kRetry;
  if (status >= 200 && status < 300) return ReplyClass::kDelivered;
  if (status == 401 || status == 403) return ReplyClass::kPause;
  return ReplyClass::kDead;
}

}  // namespace

const char* replyClassName(ReplyClass replyClass) {
  switch (replyClass) {
    case ReplyClass::kDelivered:
      return "delivered";
    case ReplyClass::kRetry:
      return "retry";
    case ReplyClass::kPause:
      return "pause";
    case ReplyClass::kDead:
      return "dead";
  }
  return "unknown";
}

ReplyClassification classifyReply(int httpStatus, std::string_view body) {
  ReplyClassification result;
  bool hasCode = false;
  if (!body.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS && root.is_object()) {
      int64_t code = 0;
      if (root["code"].get_int64().get(code) == simdjson::SUCCESS) {
        hasCode = true;
        result.code = static_cast<int>(code);
      }
      std::string_view message;
      if (root["message"].get_string().get(message) == simdjson::SUCCESS) {
        result.message = std::string(message);
      }
    }
  }
  if (result.message.empty()) result.message = httpReason(httpStatus);
  if (!hasCode || httpStatus == 0) {
    result.replyClass = classifyStatus(httpStatus);
    return result;
  }
  const int code = result.code;
  if (code == 0 || code == 20001) {
    // A success code with a failing HTTP status is not trusted: the status decides.
    result.replyClass = (httpStatus >= 200 && httpStatus < 300) ? ReplyClass::kDelivered
                                                                : classifyStatus(httpStatus);
  } else if (code == 40100 || code == 40132 || code == 61000 || code == 60001 ||
             (code >= 50000 && code <= 52999)) {
    result.replyClass = ReplyClass::kRetry;
  } else if (code == 40001 || code == 40102 || code == 40104 || code == 40105 || code == 40300) {
    result.replyClass = ReplyClass::kPause;
  } else if (httpStatus == 429 || httpStatus >= 500) {
    result.replyClass = ReplyClass::kRetry;  // an unknown code on a server error: retry
  } else {
    result.replyClass = ReplyClass::kDead;
  }
  return result;
}

}  // namespace sluice::tiktok
