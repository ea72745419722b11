// Events shared by the benchmarks that fill an event log (store_append_bench, delivery_bench).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/time.h"
#include "store/event_log.h"

namespace sluice::bench {

// A messageId like the random UUIDs Segment's libraries assign (spread over the key space), or
// one that sorts in insertion order.
inline std::string messageIdFor(long id, bool random) {
  if (!random) return "bench-" + std::to_string(1'000'000'000'000L + id);
  uint64_t x = static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%08x-%04x-4%03x-a%03x-%012llx",
                static_cast<unsigned>(x >> 32), static_cast<unsigned>((x >> 16) & 0xffff),
                static_cast<unsigned>(x & 0xfff), static_cast<unsigned>((x >> 12) & 0xfff),
                static_cast<unsigned long long>(id));
  return buffer;
}

// The stored fields of an "Order Completed" track call from source "web", received at `now`;
// `json` is left to the caller.
inline store::NewEvent orderCompletedCall(long id, EpochMs now, bool randomIds) {
  store::NewEvent e;
  e.source = "web";
  e.messageId = messageIdFor(id, randomIds);
  e.type = "track";
  e.name = "Order Completed";
  e.receivedAtMs = now;
  e.timestampMs = now - 20;
  return e;
}

// An enriched Segment "Order Completed" call as ingest stores it, unique per id: an email, phone,
// IP, user agent, page and two products (~900 B), which the TikTok "Place an Order" preset maps
// and hashes.
inline store::NewEvent makeOrderEvent(long id, EpochMs now, bool randomIds) {
  store::NewEvent e = orderCompletedCall(id, now, randomIds);
  const std::string n = std::to_string(id);
  const std::string time = formatIsoTime(now);
  e.json =
      R"({"type":"track","event":"Order Completed","messageId":")" + e.messageId +
      R"(","userId":"user-)" + n + R"(","anonymousId":"anon-)" + n + R"(","timestamp":")" + time +
      R"(","receivedAt":")" + time + R"(","context":{"ip":"203.0.113.)" + std::to_string(id % 250) +
      R"(","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36",)"
      R"("page":{"url":"https://shop.example.com/checkout?step=3","referrer":"https://shop.example.com/cart"},)"
      R"("traits":{"email":"Buyer.)" +
      n + R"(@Example.com","phone":"+1 (415) 555-)" + std::to_string(1000 + id % 9000) +
      R"("}},"properties":{"order_id":"o-)" + n +
      R"(","total":59.97,"revenue":54.97,"currency":"USD","products":[)"
      R"({"product_id":"sku-1","sku":"sku-1","name":"Socks","price":9.99,"quantity":3,"category":"apparel"},)"
      R"({"product_id":"sku-2","sku":"sku-2","name":"Scarf","price":29.99,"quantity":1,"category":"apparel"}]}})";
  return e;
}

}  // namespace sluice::bench
