// Throughput of sluice's transform on one core: parse the Segment event (simdjson DOM), evaluate
// the triggers, map, validate, hash the PII and serialise the request body; over a JSON-lines file
// of realistic events (`node bench.js --write-events ev.jsonl 20000` in the segment oracle folder).
// The destination has Segment's 15 current presets as subscriptions (the catalog bench.js uses), so
// both sides do the same work. Also counts heap allocations per event (global operator new) and,
// with --phases, splits the time between parsing, triggers, mapping + item, and the body (the
// clock reads add about 2% to the total).
//
//   transform_bench --events ev.jsonl [--presets segment-reportWebEvent.json] [--seconds 3]
//                   [--phases 1] [--dump bodies.jsonl]
// --dump writes the request body of every matched subscription of one pass (one per line, failures
// as `error: message`) and exits: diffing two builds' dumps shows that a change kept the output.
#include <simdjson.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "tiktok/destination.h"

namespace {

uint64_t gAllocations = 0;  // single-threaded benchmark: a plain counter

}  // namespace

// The replacement operators pair malloc with free; GCC cannot see that through the replacement.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t size) {
  ++gAllocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(2);
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

sluice::config::DestinationConfig segmentCatalog(const std::string& presetsPath) {
  sluice::config::DestinationConfig config;
  config.name = "bench";
  config.settings.accessToken = "bench-token";
  config.settings.pixelCode = "CBENCHPIXEL123";
  config.presets = {"none"};
  boost::json::value root = boost::json::parse(readFile(presetsPath));
  for (const auto& preset : root.at("presets").as_array()) {
    sluice::config::SubscriptionConfig sub;
    sub.name = std::string(preset.at("name").as_string());
    sub.trigger = std::string(preset.at("subscribe").as_string());
    sub.mappingJson = boost::json::serialize(preset.at("mapping"));
    config.subscriptions.push_back(sub);
  }
  return config;
}

}  // namespace

int main(int argc, char** argv) {
  std::string eventsPath;
  std::string presetsPath = SLUICE_DEFAULT_PRESETS;
  double seconds = 3;
  bool phases = false;
  std::string dumpPath;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--events")
      eventsPath = argv[i + 1];
    else if (flag == "--presets")
      presetsPath = argv[i + 1];
    else if (flag == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (flag == "--phases")
      phases = std::atoi(argv[i + 1]) != 0;
    else if (flag == "--dump")
      dumpPath = argv[i + 1];
  }
  if (eventsPath.empty()) {
    std::fprintf(stderr, "usage: transform_bench --events FILE [--presets FILE] [--seconds N]\n");
    return 2;
  }
  auto destination = sluice::tiktok::Destination::create(segmentCatalog(presetsPath));
  if (!destination) {
    std::fprintf(stderr, "%s\n", destination.error().message.c_str());
    return 2;
  }
  std::vector<simdjson::padded_string> events;
  {
    std::istringstream lines(readFile(eventsPath));
    std::string line;
    while (std::getline(lines, line)) {
      if (!line.empty()) events.emplace_back(line);
    }
  }
  simdjson::dom::parser parser;
  std::vector<size_t> matched;
  matched.reserve(16);
  const sluice::EpochMs now = 1'717'243'200'000;
  uint64_t bodyBytes = 0, bodies = 0, failures = 0;

  // Nanoseconds per phase: parse, triggers, transform (mapping + validation + hashing + item),
  // body. Read only with --phases.
  uint64_t phaseNs[4] = {0, 0, 0, 0};
  auto tick = [&](std::chrono::steady_clock::time_point& last, int phase) {
    if (!phases) return;
    auto t = std::chrono::steady_clock::now();
    phaseNs[phase] += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t - last).count());
    last = t;
  };
  auto onePass = [&] {
    for (const auto& text : events) {
      auto last =
          phases ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
      simdjson::dom::element event;
      if (parser.parse(text).get(event) != simdjson::SUCCESS) {
        ++failures;
        continue;
      }
      tick(last, 0);
      matched.clear();
      destination->match(event, matched);
      tick(last, 1);
      for (size_t sub : matched) {
        auto result = destination->transform(event, sub, now);
        tick(last, 2);
        if (!result) {
          ++failures;
          continue;
        }
        std::string body =
            destination->buildBody(std::span<const sluice::tiktok::TikTokEvent>(&*result, 1));
        bodyBytes += body.size();
        ++bodies;
        tick(last, 3);
      }
    }
  };

  if (!dumpPath.empty()) {
    std::ofstream dump(dumpPath, std::ios::binary);
    for (const auto& text : events) {
      simdjson::dom::element event;
      if (parser.parse(text).get(event) != simdjson::SUCCESS) {
        dump << "error: unparsable event\n";
        continue;
      }
      destination->match(event, matched);
      for (size_t sub : matched) {
        auto result = destination->transform(event, sub, now);
        if (!result) {
          dump << "error: " << result.error().message << '\n';
          continue;
        }
        dump << destination->buildBody(std::span<const sluice::tiktok::TikTokEvent>(&*result, 1))
             << '\n';
      }
    }
    return dump ? 0 : 2;
  }

  onePass();  // warm-up (and the parser's buffers)
  bodyBytes = bodies = failures = 0;
  for (uint64_t& ns : phaseNs) ns = 0;
  uint64_t allocationsBefore = gAllocations;
  uint64_t processed = 0;
  auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    onePass();
    processed += events.size();
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  uint64_t allocations = gAllocations - allocationsBefore;
  std::printf(
      "sluice transform: %llu events in %.3f s => %.0f events/s (%.0f ns/event); "
      "%llu bodies, avg %llu bytes; %.1f allocations/event; %llu failures\n",
      static_cast<unsigned long long>(processed), elapsed, processed / elapsed,
      1e9 * elapsed / processed, static_cast<unsigned long long>(bodies),
      static_cast<unsigned long long>(bodies ? bodyBytes / bodies : 0),
      static_cast<double>(allocations) / processed, static_cast<unsigned long long>(failures));
  if (phases) {
    const char* names[4] = {"parse", "triggers", "transform", "body"};
    std::printf("phases (ns/event):");
    for (int i = 0; i < 4; ++i) {
      std::printf(" %s %.0f", names[i], static_cast<double>(phaseNs[i]) / processed);
    }
    std::printf("\n");
  }
  return 0;
}
