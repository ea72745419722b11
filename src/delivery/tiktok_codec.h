// The TikTok Conversions destination as a DestinationCodec: sources filter, presets and
// subscriptions (tiktok::Destination), v1.3 request bodies, and reply classification (D3).
#pragma once

#include <memory>

#include "config/config.h"
#include "core/result.h"
#include "delivery/codec.h"

namespace sluice::delivery {

// Compiles `config` (kInvalidArgument when its subscriptions do not compile). The codec keeps a
// copy of the settings (access token included); the token goes only into the Access-Token header.
Result<std::unique_ptr<DestinationCodec>> makeTikTokCodec(const config::DestinationConfig& config);

}  // namespace sluice::delivery
