// libFuzzer target: mapping compile + apply. The input is parsed as a JSON mapping; any mapping
// that compiles is applied to a fixed, varied event, and the result must serialise. The fields
// applyFields() gives (views of the event, objects of views, computed values), copied back as
// apply() copies them, must equal apply()'s result, with a monotonic storage (object views) and
// with the default one.
#include <simdjson.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mapping/mapping.h"

namespace {

// Rebuilds apply()'s object from applyFields().
class Rebuild final : public sluice::mapping::Mapping::FieldSink {
 public:
  explicit Rebuild(const sluice::mapping::Mapping& mapping) : mapping_(mapping) {}
  void field(size_t index, simdjson::dom::element value) override {
    out[mapping_.fieldKey(index)] = sluice::mapping::copyEventValue(value);
  }
  void field(size_t index, boost::json::value& value) override {
    out[mapping_.fieldKey(index)] = value;
  }
  void field(size_t index, const sluice::mapping::ViewObjects& objects) override {
    out[mapping_.fieldKey(index)] = sluice::mapping::copyEventObjects(objects);
  }
  boost::json::object out;

 private:
  const sluice::mapping::Mapping& mapping_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  boost::system::error_code ec;
  boost::json::value spec = boost::json::parse(input, ec);
  if (ec) return 0;
  auto mapping = sluice::mapping::Mapping::compile(spec);
  if (!mapping) {
    if (mapping.error().message.empty()) __builtin_trap();
    return 0;
  }
  static simdjson::dom::parser parser;
  static const simdjson::padded_string kEvent(std::string_view(
      R"({"type":"track","event":"Order Completed","messageId":"m-1","userId":"U-1",)"
      R"("properties":{"order_id":"A-1","total":99.5,"zero":0,"empty":"","nil":null,"no":false,)"
      R"("items":[{"sku":"s1","cost":5,"tags":["a","b"]},{"sku":null},3,"x",[1]],)"
      R"("json":"{\"a\":[1,2.5,null]}","name":"Ærø straße","nested":{"a":{"b":{"c":"d"}}},)"
      R"("big":12345678901234567890,"neg":-1e300,"list":["x",null,""]},)"
      R"("context":{"traits":{"email":"T@X.com"},"page":{"url":"https://x.test/?a=1"}},)"
      R"("integrations":{"TikTok Conversions":{"ttclid":"tt"}}})"));
  simdjson::dom::element event;
  if (parser.parse(kEvent).get(event)) return 0;
  unsigned char buffer[8192];
  boost::json::monotonic_resource mr(buffer, sizeof buffer);
  boost::json::object out = mapping->apply(event, &mr);
  (void)boost::json::serialize(out);
  if (mapping->fieldCount() > 0) {
    Rebuild viaViews(*mapping);
    boost::json::monotonic_resource fieldsMr;
    mapping->applyFields(event, boost::json::storage_ptr(&fieldsMr), viaViews);
    if (viaViews.out != out) __builtin_trap();
    Rebuild viaValues(*mapping);
    mapping->applyFields(event, {}, viaValues);
    if (viaValues.out != out) __builtin_trap();
  }
  return 0;
}
