// libFuzzer target: FQL parsing and evaluation. The input's first line is the trigger, the rest
// an event; parsing must never crash, errors must carry a column, and evaluation of any parsed
// trigger must terminate on any JSON event.
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mapping/fql.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string_view text = input.substr(0, newline);
  auto trigger = sluice::mapping::Trigger::parse(text);
  if (!trigger) {
    if (trigger.error().message.rfind("column ", 0) != 0) __builtin_trap();
    return 0;
  }
  static simdjson::dom::parser parser;
  static const simdjson::padded_string kDefault(std::string_view(
      R"({"type":"track","event":"Order Completed","name":"n","userId":"u","properties":)"
      R"({"a":1,"b":"x","c":{"d":[1,"2",null,false]},"e":null,"f":true,"g":0,"h":""},)"
      R"("traits":{"vip":true},"context":{"page":{"url":"https://x"}}})"));
  simdjson::dom::element event;
  if (!parser.parse(kDefault).get(event)) (void)trigger->matches(event);
  if (newline != std::string_view::npos) {
    simdjson::padded_string json(input.substr(newline + 1));
    if (!parser.parse(json).get(event)) (void)trigger->matches(event);
  }
  return 0;
}
