#include "mapping/mapping.h"

#include <gtest/gtest.h>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "mapping/keys.h"
#include "reference_dir.h"

namespace sluice::mapping {
namespace {

namespace json = boost::json;

std::filesystem::path casesDir() {
  if (const char* d = std::getenv("SLUICE_SOURCE_DIR")) {
    return std::filesystem::path(d) / "tests/mapping/cases";
  }
  return std::filesystem::path(__FILE__).parent_path() / "cases";
}

// Structural equality with JavaScript's view of numbers (1 == 1.0) and key order checked.
bool sameJson(const json::value& a, const json::value& b, std::string& why, std::string at = "$") {
  if (a.is_number() && b.is_number()) {
    if (a.to_number<double>() == b.to_number<double>()) return true;
    why = at + ": " + json::serialize(a) + " vs " + json::serialize(b);
    return false;
  }
  if (a.kind() != b.kind()) {
    why = at + ": " + json::serialize(a) + " vs " + json::serialize(b);
    return false;
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) {
      why = at + ": " + json::serialize(a) + " vs " + json::serialize(b);
      return false;
    }
    auto i = x.begin();
    auto j = y.begin();
    for (; i != x.end(); ++i, ++j) {
      if (i->key() != j->key()) {
        why = at + ": key order " + json::serialize(a) + " vs " + json::serialize(b);
        return false;
      }
      if (!sameJson(i->value(), j->value(), why, at + "." + std::string(i->key()))) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) {
      why = at + ": " + json::serialize(a) + " vs " + json::serialize(b);
      return false;
    }
    for (size_t k = 0; k < x.size(); ++k) {
      if (!sameJson(x[k], y[k], why, at + "[" + std::to_string(k) + "]")) return false;
    }
    return true;
  }
  if (a != b) {
    why = at + ": " + json::serialize(a) + " vs " + json::serialize(b);
    return false;
  }
  return true;
}

// applyFields() as one object (event values copied with copyEventValue()), and which fields
// arrived as views of the event.
struct FieldsResult {
  json::object object;
  std::set<std::string> views;
  std::set<std::string> viewObjects;
};
FieldsResult applyFieldsObject(const Mapping& m, simdjson::dom::element event,
                               const json::storage_ptr& storage = {}) {
  struct Sink final : Mapping::FieldSink {
    const Mapping* m = nullptr;
    FieldsResult out;
    void field(size_t i, simdjson::dom::element value) override {
      out.object.insert_or_assign(m->fieldKey(i), copyEventValue(value));
      out.views.insert(std::string(m->fieldKey(i)));
    }
    void field(size_t i, json::value& value) override {
      out.object.insert_or_assign(m->fieldKey(i), std::move(value));
    }
    void field(size_t i, const ViewObjects& objects) override {
      out.object.insert_or_assign(m->fieldKey(i), copyEventObjects(objects));
      out.viewObjects.insert(std::string(m->fieldKey(i)));
    }
  } sink;
  sink.m = &m;
  m.applyFields(event, storage, sink);
  return std::move(sink.out);
}

class MappingTest : public ::testing::Test {
 protected:
  json::object run(std::string_view spec, std::string_view event) {
    auto m = Mapping::compile(json::parse(spec));
    EXPECT_TRUE(m.has_value()) << spec << ": " << (m ? "" : m.error().message);
    if (!m) return {};
    simdjson::dom::element doc;
    padded_ = simdjson::padded_string(event);
    EXPECT_FALSE(parser_.parse(padded_).get(doc)) << event;
    return m->apply(doc);
  }
  std::string runText(std::string_view spec, std::string_view event) {
    return json::serialize(run(spec, event));
  }
  std::string compileError(std::string_view spec) {
    auto m = Mapping::compile(json::parse(spec));
    EXPECT_FALSE(m.has_value()) << spec << " compiled but should not";
    return m ? std::string() : m.error().message;
  }
  simdjson::dom::parser parser_;
  simdjson::padded_string padded_;
};

// --- cases whose expected output comes from Segment's mapping-kit (cases/make_expected.js) ------

// Where sluice deliberately differs: a computed @path is rejected when the mapping loads.
const std::set<std::string> kRejectedBySluice = {"path_computed"};

json::value readJson(const std::filesystem::path& file) {
  std::ifstream in(file);
  EXPECT_TRUE(in) << file;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

// cases/directive_cases.input.json holds {name, mapping | mapping_ref, event};
// cases/directive_cases.expected.json what mapping-kit produced (or the error it raised).
TEST(MappingGoldenTest, DirectiveCasesAgreeWithMappingKit) {
  json::value inputs = readJson(casesDir() / "directive_cases.input.json");
  json::value outputs = readJson(casesDir() / "directive_cases.expected.json");
  ASSERT_EQ(inputs.as_array().size(), outputs.as_array().size());
  json::value reference;
  auto ref_file = sluice::testing::referenceDir() / "segment-reportWebEvent.json";
  ASSERT_TRUE(std::filesystem::exists(ref_file)) << ref_file;
  reference = readJson(ref_file);
  simdjson::dom::parser parser;
  int compared = 0;
  for (size_t i = 0; i < inputs.as_array().size(); ++i) {
    const json::object& c = inputs.as_array()[i].as_object();
    const json::object& want = outputs.as_array()[i].as_object();
    std::string name(c.at("name").as_string());
    ASSERT_EQ(name, want.at("name").as_string());
    SCOPED_TRACE(name);
    json::value mapping;
    if (const json::value* ref = c.if_contains("mapping_ref")) {
      std::string r(ref->as_string());
      if (r == "field_defaults") {
        mapping = reference.at("field_defaults");
      } else {
        for (const json::value& p : reference.at("presets").as_array()) {
          if ("preset:" + std::string(p.at("name").as_string()) == r) mapping = p.at("mapping");
        }
      }
      ASSERT_TRUE(mapping.is_object()) << r;
    } else {
      mapping = c.at("mapping");
    }
    auto m = Mapping::compile(mapping);
    if (want.contains("error") || kRejectedBySluice.count(name)) {
      EXPECT_FALSE(m.has_value()) << name << " should be rejected when compiled";
      if (!m) {
        EXPECT_FALSE(m.error().message.empty());
      }
      ++compared;
      continue;
    }
    ASSERT_TRUE(m.has_value()) << name << ": " << m.error().message;
    simdjson::padded_string event(json::serialize(c.at("event")));
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(event).get(doc));
    json::object got = m->apply(doc);
    if (m->fieldCount() > 0) {  // the fields one by one, views included, make the same object
      EXPECT_EQ(json::serialize(applyFieldsObject(*m, doc).object), json::serialize(got));
      json::monotonic_resource resource;  // objects of event values as ViewObjects too
      EXPECT_EQ(json::serialize(applyFieldsObject(*m, doc, &resource).object),
                json::serialize(got));
    }
    std::string why;
    EXPECT_TRUE(sameJson(json::value(got), want.at("expected"), why))
        << name << ": " << why << "\n got " << json::serialize(got);
    ++compared;
  }
  EXPECT_GE(compared, 60);
}

// --- unit tests
// -----------------------------------------------------------------------------------

constexpr const char* kEvent =
    R"({"userId":"u1","anonymousId":"a1","properties":{"email":"Ann@X.com","zero":0,"nil":null,
        "items":[{"sku":"s1","cost":5},{"sku":"s2"}],"n":{"a":{"b":1}},"s":"x-y-z"},
        "context":{"traits":{"email":"t@x.com"}}})";

TEST_F(MappingTest, PathReadsNestedValuesAndDropsMissingOnes) {
  EXPECT_EQ(runText(R"({"a":{"@path":"$.properties.email"},"b":{"@path":"$.nope"},"c":1})", kEvent),
            R"({"a":"Ann@X.com","c":1})");
  EXPECT_EQ(runText(R"({"a":{"@path":"$.properties.items[1].sku"}})", kEvent), R"({"a":"s2"})");
  EXPECT_EQ(runText(R"({"a":{"@path":"$.properties.n"}})", kEvent), R"({"a":{"a":{"b":1}}})");
  EXPECT_EQ(runText(R"({"a":{"@path":"$.properties.nil"}})", kEvent), R"({"a":null})");
  EXPECT_EQ(runText(R"({"a":{"@path":"$.properties.zero.deeper"}})", kEvent), R"({"a":0})");
}

TEST_F(MappingTest, IfChoosesABranch) {
  const char* spec =
      R"({"e":{"@if":{"exists":{"@path":"$.properties.email"},"then":{"@path":"$.properties.email"},
          "else":{"@path":"$.context.traits.email"}}}})";
  EXPECT_EQ(runText(spec, kEvent), R"({"e":"Ann@X.com"})");
  EXPECT_EQ(runText(spec, R"({"context":{"traits":{"email":"t@x.com"}}})"), R"({"e":"t@x.com"})");
  EXPECT_EQ(runText(spec, R"({"properties":{"email":null},"context":{"traits":{"email":"t"}}})"),
            R"({"e":"t"})");
  EXPECT_EQ(runText(spec, R"({})"), R"({})");
  // blank: "" and 0 are blank, "x" is not.
  const char* blank = R"({"b":{"@if":{"blank":{"@path":"$.v"},"then":"filled","else":"blank"}}})";
  EXPECT_EQ(runText(blank, R"({"v":""})"), R"({"b":"blank"})");
  EXPECT_EQ(runText(blank, R"({"v":0})"), R"({"b":"blank"})");
  EXPECT_EQ(runText(blank, R"({"v":"x"})"), R"({"b":"filled"})");
  // A falsy else (0) is never used, as in mapping-kit.
  EXPECT_EQ(runText(R"({"v":{"@if":{"exists":{"@path":"$.x"},"then":1,"else":0}}})", "{}"), "{}");
}

TEST_F(MappingTest, TemplateRendersValues) {
  EXPECT_EQ(
      runText(R"({"t":{"@template":"{{userId}}/{{properties.items[0].cost}}/{{nope}}"}})", kEvent),
      R"({"t":"u1/5/"})");
  EXPECT_EQ(runText(R"({"t":{"@template":"{{{userId}}}!"}})", kEvent), R"({"t":"u1!"})");
}

TEST_F(MappingTest, ArrayPathMapsEachItem) {
  EXPECT_EQ(runText(R"({"c":{"@arrayPath":["$.properties.items",{"id":{"@path":"$.sku"},
                       "price":{"@path":"$.cost"}}]}})",
                    kEvent),
            R"({"c":[{"id":"s1","price":5},{"id":"s2"}]})");
  // A single object is mapped as a one-item array; a missing path stays missing.
  EXPECT_EQ(runText(R"({"c":{"@arrayPath":["$.properties.n",{"x":{"@path":"$.a.b"}}]}})", kEvent),
            R"({"c":[{"x":1}]})");
  EXPECT_EQ(runText(R"({"c":{"@arrayPath":["$.nope",{"x":1}]}})", kEvent), "{}");
}

// Items made only of relative @paths are matched in one pass over each element's members; the
// result must equal a lookup per field: first occurrence of a duplicate key, paths continuing
// below the first key (and stopping at a falsy value), keys shared by two fields, and elements
// that are not objects (which take the per-field route).
// sameKey() agrees with == for every length up to 24 and a difference at every position.
TEST(KeysTest, SameKeyIsStringEquality) {
  for (size_t n = 0; n <= 24; ++n) {
    std::string a(n, 'k');
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>('a' + i);
    EXPECT_TRUE(sameKey(a, std::string(a)));
    EXPECT_FALSE(sameKey(a, a + "x"));
    for (size_t i = 0; i < n; ++i) {
      std::string b = a;
      b[i] = '_';
      EXPECT_FALSE(sameKey(a, b)) << n << " " << i;
    }
  }
}

// An object from which 4 or more keys are wanted is matched in one pass through a hash of its
// members' keys; keys of every length up to 12 are found, and keys differing from a wanted one in
// a single byte (at its first, middle or last position) are not.
TEST_F(MappingTest, OnePassMatchFindsKeysOfEveryLength) {
  const std::string letters = "abcdefghijkl";
  std::string spec, event, expected;
  auto add = [](std::string& to, const std::string& key, const std::string& value) {
    to += (to.empty() ? "" : ",") + ("\"" + key + "\":" + value);
  };
  for (size_t n = 1; n <= letters.size(); ++n) {
    const std::string key = letters.substr(0, n), field = "f" + std::to_string(n);
    add(spec, field, R"({"@path":"$.p.)" + key + "\"}");
    if (n % 2 == 0) {
      add(event, key, std::to_string(n));
      add(expected, field, std::to_string(n));
      continue;
    }
    for (size_t at : {size_t{0}, n / 2, n - 1}) {
      std::string near = key;
      near[at] = '_';
      add(event, near, "-1");
    }
  }
  EXPECT_EQ(runText("{" + spec + "}", R"({"p":{)" + event + "}}"), "{" + expected + "}");
}

TEST_F(MappingTest, ArrayPathItemOfPathsEqualsOneLookupPerField) {
  const char* event = R"({"list":[{"a":1,"a":2,"n":{"m":"x"},"z":0},
                          {"n":0,"a":null},"text",null,7,[{"a":3}],{}]})";
  EXPECT_EQ(runText(R"({"c":{"@arrayPath":["$.list",{"first":{"@path":"$.a"},
                       "deep":{"@path":"$.n.m"},"again":{"@path":"$.a"},
                       "zero":{"@path":"$.z.q"},"len":{"@path":"$.length"}}]}})",
                    event),
            R"({"c":[{"first":1,"deep":"x","again":1,"zero":0},)"
            R"({"first":null,"deep":0,"again":null},)"
            R"({"len":4},{"first":null,"deep":null,"again":null,"zero":null,"len":null},)"
            R"({},{"len":1},{}]})");
}

TEST_F(MappingTest, CaseReplaceJsonFlattenMergeExclude) {
  EXPECT_EQ(
      runText(R"({"a":{"@case":{"operator":"lower","value":{"@path":"$.properties.email"}}}})",
              kEvent),
      R"({"a":"ann@x.com"})");
  EXPECT_EQ(runText(R"({"a":{"@case":{"operator":"upper","value":"straße"}}})", "{}"),
            R"({"a":"STRASSE"})");
  EXPECT_EQ(runText(R"({"a":{"@replace":{"pattern":"-","replacement":"+",
                       "value":{"@path":"$.properties.s"}}}})",
                    kEvent),
            R"({"a":"x+y+z"})");
  EXPECT_EQ(
      runText(R"({"a":{"@json":{"mode":"encode","value":{"@path":"$.properties.n"}}}})", kEvent),
      R"({"a":"{\"a\":{\"b\":1}}"})");
  EXPECT_EQ(runText(R"({"a":{"@json":{"mode":"decode","value":"[1,2.0]"}}})", "{}"),
            R"({"a":[1,2]})");
  EXPECT_EQ(
      runText(R"({"a":{"@flatten":{"separator":"/","value":{"@path":"$.properties.n"}}}})", kEvent),
      R"({"a":{"a/b":1}})");
  EXPECT_EQ(runText(R"({"a":{"@merge":{"direction":"right","objects":[{"x":1},
                       {"x":{"@path":"$.userId"}}]}}})",
                    kEvent),
            R"({"a":{"x":"u1"}})");
  EXPECT_EQ(runText(R"({"a":{"@excludeWhenNull":{"k":null,"j":{"@path":"$.userId"}}}})", kEvent),
            R"({"a":{"j":"u1"}})");
  EXPECT_EQ(runText(R"({"a":{"@excludeWhenNull":{"@path":"$.properties.nil"}}})", kEvent), "{}");
  EXPECT_EQ(runText(R"({"a":{"@literal":{"@path":"$.userId"}}})", kEvent), R"({"a":"u1"})");
}

TEST_F(MappingTest, CompileErrorsNameThePath) {
  EXPECT_EQ(compileError(R"({"email":{"@path":5}})"),
            "email.@path: @path must be a string, not a number");
  EXPECT_EQ(compileError(R"({"a":{"b":[{"@nope":1}]}})"), "a.b[0]: unknown directive @nope");
  EXPECT_EQ(compileError(R"({"a":{"@if":{"then":1}}})"),
            "a.@if: @if needs an \"exists\" or a \"blank\" condition");
  EXPECT_EQ(compileError(R"({"a":{"@if":{"exists":{"@path":"$.x"},"then":{"@case":{}}}}})"),
            "a.@if.then.@case.operator: @case needs \"operator\": \"lower\" or \"upper\"");
  EXPECT_EQ(compileError(R"({"a":{"@replace":{"pattern":"abcdefghijk","value":"x"}}})"),
            "a.@replace.pattern: must be at most 10 characters");
  EXPECT_EQ(compileError(R"({"a":{"@replace":{"pattern":"a","value":"x","global":1}}})"),
            "a.@replace.global: must be a boolean, not a number");
  EXPECT_EQ(compileError(R"({"a":{"@path":"$.x","y":1}})"),
            "a: an object with a directive (@path) may have no other keys, but has \"y\"");
  EXPECT_EQ(compileError(R"({"a":{"@path":"$.x","@template":"y"}})"),
            "a: an object may hold only one directive");
  EXPECT_EQ(compileError(R"({"a":{"@liquid":"{{x}}"}})"), "a: @liquid is not supported by sluice");
  EXPECT_EQ(compileError(R"({"a":{"@json":{"mode":"x","value":1}}})"),
            "a.@json.mode: @json needs \"mode\": \"encode\" or \"decode\"");
  EXPECT_EQ(compileError(R"({"a":{"@flatten":{"value":1}}})"),
            "a.@flatten.separator: @flatten needs a non-empty string \"separator\"");
  EXPECT_EQ(compileError(R"({"a":{"@merge":{"direction":"left","objects":[1]}}})"),
            "a.@merge.objects[0]: must be an object or a directive, not a number");
  EXPECT_EQ(compileError(R"({"a":{"@case":{"operator":"upper","value":1}}})"),
            "a.@case.value: @case value must be a string or a directive, not a number");
  EXPECT_EQ(compileError(R"({"a":{"@if":{"exists":1,"than":2}}})"),
            "a.@if.than: unknown option of @if");
  EXPECT_EQ(compileError(R"({"a":{"@arrayPath":"$.x"}})"),
            "a.@arrayPath: @arrayPath needs an array [path, item mapping]");
  EXPECT_EQ(compileError("[1]"), "mapping: must be an object");
  json::value deep = 1;
  for (int i = 0; i < 100; ++i) deep = json::object{{"@literal", deep}};
  auto m = Mapping::compile(json::object{{"a", deep}});
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().message.substr(0, 14), "a.@literal.@li");
  EXPECT_NE(m.error().message.find("nested too deeply"), std::string::npos);
}

// Mappings compiled into one PathTable give what each gives with a table of its own, applied
// in any order: also the first one, whose parent object (`properties`) only becomes matched in
// one pass (4 or more wanted keys) when the second adds its paths, and after a failed compile.
TEST_F(MappingTest, MappingsSharingAPathTableEqualMappingsAlone) {
  const char* specs[] = {
      R"({"e":{"@path":"$.properties.email"},"z":{"@path":"$.properties.zero.x"},
          "t":{"@path":"$.context.traits.email"}})",
      R"({"a":{"@path":"$.properties.a"},"b":{"@path":"$.properties.b"},
          "e":{"@if":{"exists":{"@path":"$.properties.email"},"then":{"@path":"$.properties.c"},
          "else":{"@path":"$.userId"}}},"n":{"@path":"$.properties.n.a.b"}})",
      R"({"u":{"@path":"$.userId"},"s":{"@path":"$.properties.s"}})",
  };
  const char* events[] = {
      kEvent,
      R"({"userId":"u","properties":{"email":"1","email":"2","a":[1],"b":false,"c":"c","s":0}})",
      R"({"properties":0,"context":{"traits":null}})",
      "{}",
  };
  PathTable table;
  std::vector<Mapping> shared, alone;
  for (const char* spec : specs) {
    auto m = Mapping::compile(json::parse(spec), table);
    ASSERT_TRUE(m) << m.error().message;
    shared.push_back(std::move(*m));
    alone.push_back(std::move(*Mapping::compile(json::parse(spec))));
    EXPECT_FALSE(Mapping::compile(json::parse(R"({"x":{"@path":"$.properties.q.r"},
                                                  "y":{"@if":{"then":1}}})"),
                                  table));
  }
  std::vector<simdjson::padded_string> texts;
  std::vector<simdjson::dom::parser> parsers(std::size(events));
  std::vector<simdjson::dom::element> docs;
  for (size_t e = 0; e < std::size(events); ++e) {
    texts.emplace_back(std::string(events[e]));
    docs.push_back(parsers[e].parse(texts.back()).value());
  }
  for (size_t round = 0; round < 2; ++round) {
    for (size_t e = 0; e < docs.size(); ++e) {
      for (size_t k = 0; k < shared.size(); ++k) {
        size_t i = round == 0 ? k : shared.size() - 1 - k;
        EXPECT_EQ(json::serialize(shared[i].apply(docs[e])),
                  json::serialize(alone[i].apply(docs[e])))
            << "mapping " << i << ", event " << e;
      }
    }
  }
  EXPECT_EQ(json::serialize(shared[1].apply(docs[1])), R"({"a":[1],"b":false,"e":"c"})");
}

TEST_F(MappingTest, ResultUsesTheGivenStorage) {
  auto m = Mapping::compile(json::parse(
      R"({"a":{"@path":"$.properties.email"},"c":{"@arrayPath":["$.properties.items",
          {"id":{"@path":"$.sku"}}]}})"));
  ASSERT_TRUE(m);
  simdjson::padded_string s{std::string(kEvent)};
  simdjson::dom::element doc = parser_.parse(s).value();
  unsigned char buffer[4096];
  json::monotonic_resource mr(buffer, sizeof buffer);
  json::storage_ptr sp(&mr);
  json::object out = m->apply(doc, sp);
  EXPECT_EQ(out.storage().get(), sp.get());
  EXPECT_EQ(json::serialize(out), R"({"a":"Ann@X.com","c":[{"id":"s1"},{"id":"s2"}]})");
  // The same compiled mapping applies to many events.
  simdjson::padded_string s2{std::string(R"({"properties":{"email":"b@y"}})")};
  simdjson::dom::parser p2;
  EXPECT_EQ(json::serialize(m->apply(p2.parse(s2).value())), R"({"a":"b@y"})");
}

// applyFields() hands the event's own values as views and everything else as values; together
// they make what apply() makes.
TEST_F(MappingTest, ApplyFieldsHandsEventValuesAsViews) {
  auto m = Mapping::compile(json::parse(
      R"({"path":{"@path":"$.properties.email"},"num":{"@path":"$.properties.zero"},
          "obj":{"@path":"$.properties.n"},"missing":{"@path":"$.nope"},
          "if":{"@if":{"exists":{"@path":"$.properties.nil"},"then":1,
                       "else":{"@path":"$.context.traits.email"}}},
          "const":"web","tpl":{"@template":"{{userId}}"},"built":{"x":{"@path":"$.userId"}},
          "items":{"@arrayPath":["$.properties.items",{"id":{"@path":"$.sku"}}]},
          "len":{"@path":"$.properties.s.length"}})"));
  ASSERT_TRUE(m) << m.error().message;
  simdjson::padded_string s{std::string(kEvent)};
  simdjson::dom::element doc = parser_.parse(s).value();
  FieldsResult r = applyFieldsObject(*m, doc);
  EXPECT_EQ(json::serialize(r.object), json::serialize(m->apply(doc)));
  EXPECT_EQ(r.views, (std::set<std::string>{"path", "num", "obj", "if"}));
  EXPECT_TRUE(r.viewObjects.empty());  // the default storage frees: objects come as values
  EXPECT_FALSE(r.object.contains("missing"));
  EXPECT_EQ(r.object.at("len"), json::value(5));  // computed from the event, not part of it
  // Numbers of the event as JavaScript holds them.
  simdjson::dom::parser p;
  EXPECT_EQ(copyEventValue(p.parse(std::string_view("2.0")).value()), json::value(2));
  EXPECT_TRUE(copyEventValue(p.parse(std::string_view("9007199254740993")).value()).is_double());
  EXPECT_TRUE(
      copyEventValue(p.parse(std::string_view("18446744073709551615")).value()).is_double());
}

// With a storage that never frees, objects made only of event values arrive as ViewObjects;
// one computed value (anywhere in them) makes the whole field a value.
TEST_F(MappingTest, ApplyFieldsHandsObjectsOfEventValuesAsViews) {
  auto m = Mapping::compile(json::parse(
      R"({"obj":{"e":{"@path":"$.properties.email"},"no":{"@path":"$.nope"},
                 "t":{"@if":{"exists":{"@path":"$.userId"},"then":{"@path":"$.userId"}}}},
          "empty":{"a":{"@path":"$.nope"}},
          "computedObj":{"e":{"@path":"$.properties.email"},"c":"const"},
          "items":{"@arrayPath":["$.properties.items",{"id":{"@path":"$.sku"},
                                                      "cost":{"@path":"$.cost"}}]},
          "one":{"@arrayPath":["$.properties.n",{"b":{"@path":"$.a.b"}}]},
          "computedItem":{"@arrayPath":["$.properties.items",{"n":{"@path":"$.sku.length"}}]},
          "notObjects":{"@arrayPath":["$.properties.s",{"x":{"@path":"$.a"}}]},
          "noneThere":{"@arrayPath":["$.nope",{"x":{"@path":"$.a"}}]}})"));
  ASSERT_TRUE(m) << m.error().message;
  simdjson::padded_string s{std::string(kEvent)};
  simdjson::dom::element doc = parser_.parse(s).value();
  json::monotonic_resource resource;
  FieldsResult r = applyFieldsObject(*m, doc, &resource);
  EXPECT_EQ(json::serialize(r.object), json::serialize(m->apply(doc)));
  EXPECT_EQ(r.viewObjects, (std::set<std::string>{"obj", "empty", "items", "one"}));
  EXPECT_EQ(json::serialize(r.object.at("obj")), R"({"e":"Ann@X.com","t":"u1"})");
  EXPECT_EQ(json::serialize(r.object.at("items")), R"([{"id":"s1","cost":5},{"id":"s2"}])");
  EXPECT_EQ(json::serialize(r.object.at("one")), R"([{"b":1}])");
  EXPECT_EQ(r.object.at("notObjects"), json::value("x-y-z"));
  EXPECT_FALSE(r.object.contains("noneThere"));
}

// An @if made only of event paths is read from the memo (top-level and inside objects): the same
// as apply() for exists and blank conditions that hold, fail, are missing or null, with a branch
// absent, falsy ("else": 0 is never used) or missing from the event, with a computed condition
// or branch (a length), and under a parent that is absent, null, or not an object.
TEST_F(MappingTest, ApplyFieldsReadsIfsOfPathsFromTheMemo) {
  const std::vector<std::string> ifs = {
      R"({"@if":{"exists":{"@path":"$.p.a"},"then":{"@path":"$.p.a"},"else":{"@path":"$.q.b"}}})",
      R"({"@if":{"blank":{"@path":"$.p.a"},"then":{"@path":"$.p.c"},"else":{"@path":"$.q.b"}}})",
      R"({"@if":{"exists":{"@path":"$.p.a"},"then":{"@path":"$.p.c"}}})",
      R"({"@if":{"blank":{"@path":"$.p.a"},"else":{"@path":"$.q.b"}}})",
      R"({"@if":{"exists":{"@path":"$.p.a"},"else":0}})",
      R"({"@if":{"exists":{"@path":"$.p.a.length"},"then":{"@path":"$.p.a"}}})",
      R"({"@if":{"exists":{"@path":"$.p.a"},"then":{"@path":"$.p.a.length"},
                "else":{"@path":"$.q.b"}}})",
      R"({"@if":{"exists":{"@path":"$.p.x.y"},"then":{"@path":"$.p.a"},
                "else":{"@path":"$.q.b.z"}}})",
  };
  std::string spec = "{", inner;
  for (size_t i = 0; i < ifs.size(); ++i) {
    spec += "\"top" + std::to_string(i) + "\":" + ifs[i] + ",";
    inner += (i ? "," : "") + ("\"in" + std::to_string(i) + "\":" + ifs[i]);
  }
  spec += "\"obj\":{" + inner + "},\"one\":{\"x\":" + ifs[0] + "}}";
  auto m = Mapping::compile(json::parse(spec));
  ASSERT_TRUE(m) << m.error().message;
  const char* events[] = {
      R"({"p":{"a":"A","c":"C","x":{"y":1}},"q":{"b":"B"}})",
      R"({"p":{"a":"","c":"C","x":{}},"q":{"b":["B"]}})",
      R"({"p":{"a":null,"c":0,"x":0},"q":{"b":false}})",
      R"({"p":{"a":[""],"c":null},"q":{}})",
      R"({"p":{"c":"C"},"q":7})",
      R"({"p":null,"q":null})",
      R"({"p":"text","q":"text"})",
      R"({"p":[1,2],"q":[{"b":1}]})",
      "{}",
  };
  for (const char* event : events) {
    simdjson::padded_string s{std::string(event)};
    simdjson::dom::element doc = parser_.parse(s).value();
    const std::string want = json::serialize(m->apply(doc));
    EXPECT_EQ(json::serialize(applyFieldsObject(*m, doc).object), want) << event;
    json::monotonic_resource resource;
    FieldsResult r = applyFieldsObject(*m, doc, &resource);
    EXPECT_EQ(json::serialize(r.object), want) << event;
    EXPECT_EQ(r.views.count("top0"), r.object.contains("top0") ? 1u : 0u) << event;
    EXPECT_EQ(r.viewObjects.count("one"), 1u) << event;  // an object of event values
  }
  simdjson::padded_string s{std::string(events[0])};
  simdjson::dom::element doc = parser_.parse(s).value();
  EXPECT_EQ(json::serialize(applyFieldsObject(*m, doc).object.at("one")), R"({"x":"A"})");
  EXPECT_EQ(json::serialize(applyFieldsObject(*m, doc).object.at("top6")), "1");
}

}  // namespace
}  // namespace sluice::mapping
