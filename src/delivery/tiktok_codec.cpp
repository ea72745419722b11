#include "delivery/tiktok_codec.h"

#include <simdjson.h>

#include <algorithm>
#include <utility>

#include "tiktok/destination.h"
#include "tiktok/reply.h"

namespace sluice::delivery {
namespace {

// Batch keys hold only what varies per item (event_source, test_event_code): pixel and token are
// the destination's, so a reloaded token applies to bodies already packed.
std::string makeKey(const tiktok::BatchKey& key) {
  return key.eventSource + '\n' + key.testEventCode;
}

class TikTokCodec final : public DestinationCodec {
 public:
  TikTokCodec(std::shared_ptr<const tiktok::Destination> destination,
              std::vector<std::string> sources)
      : destination_(std::move(destination)), sources_(std::move(sources)) {}

  // tiktok::Destination is immutable and its match()/transform() are thread-safe: a fork shares
  // it and has its own parser and match list.
  std::unique_ptr<DestinationCodec> forkMapper() const override {
    return std::make_unique<TikTokCodec>(destination_, sources_);
  }

  bool feeds(std::string_view source) const override {
    return sources_.empty() ||
           std::find(sources_.begin(), sources_.end(), source) != sources_.end();
  }

  MapOutcome map(const store::StoredEvent& event, EpochMs nowMs) override {
    MapOutcome out;
    simdjson::dom::element root;
    if (parser_.parse(event.json).get(root) != simdjson::SUCCESS) {
      out.error = "the stored event is not valid JSON";
      return out;
    }
    destination_->match(root, matched_);
    for (size_t index : matched_) {
      auto built = destination_->transform(root, index, nowMs);
      if (!built) {
        if (!out.error.empty()) out.error += "; ";
        out.error += destination_->subscriptionName(index) + ": " + built.error().message;
        continue;
      }
      out.items.push_back(
          MappedItem{std::move(built->item), makeKey(built->key), std::move(built->eventName)});
    }
    return out;
  }

  HttpPost request(std::string_view batchKey, const std::vector<std::string_view>& items) override {
    const auto& settings = destination_->settings();
    tiktok::BatchKey key;
    key.pixelCode = settings.pixelCode;
    key.accessToken = settings.accessToken;
    const size_t newline = batchKey.find('\n');
    key.eventSource = std::string(batchKey.substr(0, newline));
    if (newline != std::string_view::npos) key.testEventCode = batchKey.substr(newline + 1);
    HttpPost post;
    post.url = settings.apiUrl;
    post.headers = {{"Content-Type", "application/json"}, {"Access-Token", settings.accessToken}};
    post.body = tiktok::buildRequestBody(key, settings.partnerName, items);
    return post;
  }

  ReplyClass classify(int httpStatus, std::string_view body) override {
    const tiktok::ReplyClassification c = tiktok::classifyReply(httpStatus, body);
    ReplyClass out;
    out.code = c.code < 0 ? 0 : c.code;
    out.message = c.message;
    switch (c.replyClass) {
      case tiktok::ReplyClass::kDelivered:
        out.verdict = Verdict::kDelivered;
        break;
      case tiktok::ReplyClass::kRetry:
        out.verdict = Verdict::kRetry;
        break;
      case tiktok::ReplyClass::kPause:
        out.verdict = Verdict::kPause;
        break;
      case tiktok::ReplyClass::kDead:
        out.verdict = Verdict::kDead;
        break;
    }
    out.throttled = out.verdict == Verdict::kRetry &&
                    (httpStatus == 429 || c.code == 40100 || c.code == 40132 || c.code == 61000);
    return out;
  }

 private:
  std::shared_ptr<const tiktok::Destination> destination_;
  std::vector<std::string> sources_;
  simdjson::dom::parser parser_;
  std::vector<size_t> matched_;
};

}  // namespace

Result<std::unique_ptr<DestinationCodec>> makeTikTokCodec(const config::DestinationConfig& config) {
  auto destination = tiktok::Destination::create(config);
  if (!destination) return fail(destination.error());
  return std::unique_ptr<DestinationCodec>(
      new TikTokCodec(std::make_shared<const tiktok::Destination>(std::move(*destination)),
                      config.sources));
}

}  // namespace sluice::delivery
