// Mapping-kit directives. Each directive is compiled once into a node (paths pre-split, options
// checked, defaults applied); evaluation reads the event through simdjson without copying and
// copies into Boost.JSON only what ends up in the result.
#include "mapping/mapping.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/string.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json_text.h"
#include "mapping/js_number.h"
#include "mapping/keys.h"

namespace sluice::mapping {

namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------
// A read-only view of a JSON value that lives either in the simdjson event or in a Boost.JSON
// value (mapping literals, intermediate results).

enum class JType : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

struct View {
  const json::value* j = nullptr;  // when set, the value is this Boost.JSON value
  simdjson::dom::element e;        // otherwise this simdjson element

  static View of(const json::value& v) { return View{&v, {}}; }
  static View of(simdjson::dom::element el) { return View{nullptr, el}; }

  [[gnu::always_inline]] JType type() const {
    if (j) {
      switch (j->kind()) {
        case json::kind::null:
          return JType::kNull;
        case json::kind::bool_:
          return JType::kBool;
        case json::kind::int64:
        case json::kind::uint64:
        case json::kind::double_:
          return JType::kNumber;
        case json::kind::string:
          return JType::kString;
        case json::kind::array:
          return JType::kArray;
        case json::kind::object:
          return JType::kObject;
      }
      return JType::kNull;
    }
    switch (e.type()) {
      case simdjson::dom::element_type::ARRAY:
        return JType::kArray;
      case simdjson::dom::element_type::OBJECT:
        return JType::kObject;
      case simdjson::dom::element_type::INT64:
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
        return JType::kNumber;
      case simdjson::dom::element_type::STRING:
        return JType::kString;
      case simdjson::dom::element_type::BOOL:
        return JType::kBool;
      case simdjson::dom::element_type::NULL_VALUE:
        return JType::kNull;
    }
    return JType::kNull;
  }
  bool boolean() const { return j ? j->get_bool() : e.get_bool().value_unsafe(); }
  double number() const {
    if (j) {
      if (j->is_int64()) return static_cast<double>(j->get_int64());
      if (j->is_uint64()) return static_cast<double>(j->get_uint64());
      return j->get_double();
    }
    switch (e.type()) {
      case simdjson::dom::element_type::INT64:
        return static_cast<double>(e.get_int64().value_unsafe());
      case simdjson::dom::element_type::UINT64:
        return static_cast<double>(e.get_uint64().value_unsafe());
      default:
        return e.get_double().value_unsafe();
    }
  }
  std::string_view str() const {
    if (j) return std::string_view(j->get_string());
    return e.get_string().value_unsafe();
  }
  bool member(std::string_view key, View& out) const {
    if (j) {
      const json::value* v = j->get_object().if_contains(key);
      if (!v) return false;
      out = of(*v);
      return true;
    }
    simdjson::dom::object o;
    if (e.get_object().get(o)) return false;
    simdjson::dom::element m;
    if (o.at_key(key).get(m)) return false;
    out = of(m);
    return true;
  }
  simdjson::dom::array elemArray() const {
    simdjson::dom::array a;
    if (e.get_array().get(a)) return a;
    return a;
  }
  simdjson::dom::object elemObject() const {
    simdjson::dom::object o;
    if (e.get_object().get(o)) return o;
    return o;
  }
  size_t arraySize() const { return j ? j->get_array().size() : elemArray().size(); }
  bool item(size_t index, View& out) const {
    if (j) {
      const json::array& a = j->get_array();
      if (index >= a.size()) return false;
      out = of(a[index]);
      return true;
    }
    simdjson::dom::element m;
    if (elemArray().at(index).get(m)) return false;
    out = of(m);
    return true;
  }
  template <typename F>
  void forEachItem(F&& f) const {
    if (j) {
      for (const json::value& v : j->get_array()) f(of(v));
    } else {
      simdjson::dom::array a = elemArray();
      for (simdjson::dom::element v : a) f(of(v));
    }
  }
  template <typename F>
  void forEachMember(F&& f) const {
    if (j) {
      for (const auto& kv : j->get_object()) f(std::string_view(kv.key()), of(kv.value()));
    } else {
      simdjson::dom::object o = elemObject();
      for (auto kv : o) f(kv.key, of(kv.value));
    }
  }
};

// The result of evaluating a node: JavaScript's undefined, a view, or an owned value.
struct Val {
  enum class Kind : uint8_t { kUndefined, kView, kOwned };
  Kind kind = Kind::kUndefined;
  View view;
  std::optional<json::value> owned;  // engaged for kOwned (no out-of-line destructor otherwise)

  static Val undefined() { return Val{}; }
  static Val of(View v) {
    Val r;
    r.kind = Kind::kView;
    r.view = v;
    return r;
  }
  // Move-constructs (Boost.JSON's move assignment would copy into the target's storage).
  static Val own(json::value&& v) { return Val(std::move(v)); }
  Val() = default;
  Val(Val&&) = default;
  Val& operator=(Val&&) = delete;
  bool isUndefined() const { return kind == Kind::kUndefined; }
  View get() const { return kind == Kind::kOwned ? View::of(*owned) : view; }

 private:
  explicit Val(json::value&& v) : kind(Kind::kOwned), owned(std::in_place, std::move(v)) {}
};

}  // namespace

// Paths read from the event itself form a trie, so that a prefix shared by many paths
// (`properties`, `context.traits`) and a path read twice (`@if` exists/then) are looked up once
// per event. An object from which many keys are wanted (kIndexFrom or more) has its members
// matched against all of them in one pass instead of one scan per key. Mappings compiled with
// the same PathTable share one trie.
struct PathTrie {
  // Built by intern(); finalize() lays them out flat for evaluation (again after more interns).
  struct Node {
    int parent = -1;
    std::string key;
    std::vector<std::pair<std::string, int>> children;
  };
  std::vector<Node> nodes{Node{}};  // node 0: the event

  // What evaluation reads, in a few contiguous arrays (a destination's trie is a few kB and must
  // stay in cache).
  struct Hot {
    int32_t parent = -1;
    uint32_t key_begin = 0;  // into key_pool
    uint32_t key_size = 0;
    uint32_t slot_begin = 0;  // into slots: the open-addressing table of an indexed node
    uint32_t slot_count = 0;  // a power of two; 0 when the node is not indexed
    uint32_t ids_begin = 0;   // into child_ids: the children of an indexed node
    uint32_t ids_count = 0;
  };
  // A table slot: the child's node id (-1 empty) and the high half of its key's hash, compared
  // before the key itself.
  struct Slot {
    int32_t child = -1;
    uint32_t tag = 0;
  };
  std::vector<Hot> hot;
  std::vector<Slot> slots;
  std::vector<int32_t> child_ids;
  std::string key_pool;

  std::string_view key(const Hot& n) const {
    return std::string_view(key_pool).substr(n.key_begin, n.key_size);
  }

  // Mixes the length and the first and last 8 bytes, or 4 for keys of 4-7 bytes (the whole key when
  // shorter): event keys are short, and a hash per byte was the largest cost of matching an
  // object's members.
  static uint64_t hash(std::string_view key) {
    uint64_t a = 0, b = 0;
    size_t n = key.size();
    if (n >= 8) {
      std::memcpy(&a, key.data(), 8);
      std::memcpy(&b, key.data() + n - 8, 8);
    } else if (n >= 4) {  // the first and last 4 bytes, overlapping if need be
      uint32_t first, last;
      std::memcpy(&first, key.data(), 4);
      std::memcpy(&last, key.data() + n - 4, 4);
      a = (uint64_t{first} << 32) | last;
    } else {
      for (size_t i = 0; i < n; ++i) a = (a << 8) | static_cast<unsigned char>(key[i]);
    }
    uint64_t h = a ^ (b * 0x9E3779B97F4A7C15ULL) ^ n;
    h = (h ^ (h >> 33)) * 0xFF51AFD7ED558CCDULL;
    h = (h ^ (h >> 33)) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
  }
  int intern(const std::vector<std::string>& keys) {
    int cur = 0;
    for (const std::string& key : keys) {
      int found = -1;
      for (const auto& [k, id] : nodes[static_cast<size_t>(cur)].children) {
        if (k == key) found = id;
      }
      if (found < 0) {
        found = static_cast<int>(nodes.size());
        Node n;
        n.parent = cur;
        n.key = key;
        nodes.push_back(std::move(n));
        nodes[static_cast<size_t>(cur)].children.emplace_back(key, found);
      }
      cur = found;
    }
    return cur;
  }
  static constexpr size_t kIndexFrom = 4;
  void finalize() {
    hot.assign(nodes.size(), Hot{});
    key_pool.clear();
    slots.clear();
    child_ids.clear();
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      Hot& h = hot[i];
      h.parent = n.parent;
      h.key_begin = static_cast<uint32_t>(key_pool.size());
      h.key_size = static_cast<uint32_t>(n.key.size());
      key_pool += n.key;
      if (n.children.size() < kIndexFrom) continue;
      h.ids_begin = static_cast<uint32_t>(child_ids.size());
      h.ids_count = static_cast<uint32_t>(n.children.size());
      for (const auto& child : n.children) child_ids.push_back(child.second);
      size_t size = 4;
      while (size < n.children.size() * 2) size *= 2;
      h.slot_begin = static_cast<uint32_t>(slots.size());
      h.slot_count = static_cast<uint32_t>(size);
      slots.resize(slots.size() + size);
      Slot* table = slots.data() + h.slot_begin;
      for (const auto& child : n.children) {
        uint64_t k = hash(child.first);
        size_t slot = k & (size - 1);
        while (table[slot].child >= 0) slot = (slot + 1) & (size - 1);
        table[slot] = Slot{child.second, static_cast<uint32_t>(k >> 32)};
      }
    }
  }
  // The child of indexed node `n` named `key`, or -1.
  int findChild(const Hot& n, std::string_view key) const {
    size_t mask = n.slot_count - 1;
    const Slot* table = slots.data() + n.slot_begin;
    uint64_t h = hash(key);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t slot = h & mask;; slot = (slot + 1) & mask) {
      const Slot& entry = table[slot];
      if (entry.child < 0) return -1;
      if (entry.tag == tag && sameKey(this->key(hot[static_cast<size_t>(entry.child)]), key)) {
        return entry.child;
      }
    }
  }
};

namespace {

// Per-thread memo of trie lookups, one mark and one view per trie node. A mark is the apply's
// generation shifted left by 3 and a state in the low bits (bits 0-1: 1 undefined, 2 view,
// 3 computed, not cached; bit 2: the node's members were matched); it is valid when its high bits
// equal `cur`. The marks are apart from the views so that settling many keys and reading the
// undefined ones (the vehicle and travel defaults) touch 4 bytes per node, not a whole entry.
struct TrieScratch {
  static constexpr uint32_t kStateBits = 7;
  static constexpr uint32_t kGenerations = 1u << 29;
  std::vector<uint32_t> marks;
  std::vector<View> views;
  uint32_t gen = 0;
  uint32_t cur = 0;  // gen << 3
  bool valid(uint32_t mark) const { return (mark & ~kStateBits) == cur; }
};

struct Ctx {
  json::storage_ptr sp;
  const PathTrie* trie = nullptr;
  TrieScratch* scratch = nullptr;
  View root;
};

constexpr double kMaxSafe = 9007199254740992.0;  // 2^53

// A number as JavaScript holds it: integers (within 2^53) as int64, everything else double.
json::value jsNumberValue(double d, const json::storage_ptr& sp) {
  if (d == std::trunc(d) && std::fabs(d) <= kMaxSafe) {
    return json::value(static_cast<int64_t>(d), sp);
  }
  return json::value(d, sp);
}

json::value toJson(View v, const json::storage_ptr& sp);

json::value elementToJson(simdjson::dom::element e, const json::storage_ptr& sp) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object o;
      if (e.get_object().get(o)) return json::value(nullptr, sp);
      json::object out(sp);
      out.reserve(o.size());
      for (auto kv : o) out.insert_or_assign(kv.key, elementToJson(kv.value, sp));
      return json::value(std::move(out));
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array a;
      if (e.get_array().get(a)) return json::value(nullptr, sp);
      json::array out(sp);
      out.reserve(a.size());
      for (simdjson::dom::element x : a) out.push_back(elementToJson(x, sp));
      return json::value(std::move(out));
    }
    case simdjson::dom::element_type::STRING:
      return json::value(json::string(e.get_string().value_unsafe(), sp));
    case simdjson::dom::element_type::INT64: {
      int64_t i = e.get_int64().value_unsafe();
      if (i > -9007199254740992LL && i < 9007199254740992LL) return json::value(i, sp);
      return json::value(static_cast<double>(i), sp);
    }
    case simdjson::dom::element_type::UINT64: {
      uint64_t u = e.get_uint64().value_unsafe();
      if (u < 9007199254740992ULL) return json::value(static_cast<int64_t>(u), sp);
      return json::value(static_cast<double>(u), sp);
    }
    case simdjson::dom::element_type::DOUBLE:
      return jsNumberValue(e.get_double().value_unsafe(), sp);
    case simdjson::dom::element_type::BOOL:
      return json::value(e.get_bool().value_unsafe(), sp);
    case simdjson::dom::element_type::NULL_VALUE:
      return json::value(nullptr, sp);
  }
  return json::value(nullptr, sp);
}

json::value toJson(View v, const json::storage_ptr& sp) {
  if (v.j) return json::value(*v.j, sp);
  return elementToJson(v.e, sp);
}

// Adds a (defined) result under `key`, constructing scalars read from the event in place.
void emplaceInto(json::object& out, std::string_view key, Val&& v, const json::storage_ptr& sp);

// Moves or copies a (defined) result into a Boost.JSON value allocated from `sp`.
json::value materialize(Val&& v, const json::storage_ptr& sp) {
  if (v.kind == Val::Kind::kOwned) return json::value(std::move(*v.owned), sp);
  return toJson(v.view, sp);
}

void emplaceInto(json::object& out, std::string_view key, Val&& v, const json::storage_ptr& sp) {
  if (v.kind == Val::Kind::kView && !v.view.j) {
    simdjson::dom::element e = v.view.e;
    switch (e.type()) {
      case simdjson::dom::element_type::STRING:
        out.emplace(key, e.get_string().value_unsafe());
        return;
      case simdjson::dom::element_type::BOOL:
        out.emplace(key, e.get_bool().value_unsafe());
        return;
      case simdjson::dom::element_type::NULL_VALUE:
        out.emplace(key, nullptr);
        return;
      default:
        break;
    }
  }
  out.emplace(key, materialize(std::move(v), sp));
}

// JavaScript truthiness.
bool isFalsy(View v) {
  switch (v.type()) {
    case JType::kNull:
      return true;
    case JType::kBool:
      return !v.boolean();
    case JType::kNumber: {
      double d = v.number();
      return d == 0 || std::isnan(d);
    }
    case JType::kString:
      return v.str().empty();
    default:
      return false;
  }
}

// Static truthiness of a mapping value (what `if (opts.x)` sees before resolving).
bool specTruthy(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return false;
    case json::kind::bool_:
      return v.get_bool();
    case json::kind::int64:
      return v.get_int64() != 0;
    case json::kind::uint64:
      return v.get_uint64() != 0;
    case json::kind::double_:
      return v.get_double() != 0 && !std::isnan(v.get_double());
    case json::kind::string:
      return !v.get_string().empty();
    default:
      return true;
  }
}

// UTF-16 length of a UTF-8 string (JavaScript's .length).
size_t utf16Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n += (c >= 0xF0) ? 2 : 1;
  }
  return n;
}

// Decodes one code point; advances i. Input is valid UTF-8 (simdjson and Boost.JSON validate).
uint32_t decodeUtf8(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  uint32_t cp;
  int extra;
  if (c < 0x80) {
    ++i;
    return c;
  } else if (c < 0xE0) {
    cp = c & 0x1F;
    extra = 1;
  } else if (c < 0xF0) {
    cp = c & 0x0F;
    extra = 2;
  } else {
    cp = c & 0x07;
    extra = 3;
  }
  ++i;
  for (int k = 0; k < extra && i < s.size(); ++k, ++i) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  }
  return cp;
}

// The UTF-16 code unit at `index` of `s` as a one-character string (JavaScript's s[index]); a
// half of a surrogate pair, which UTF-8 cannot hold, becomes U+FFFD.
std::optional<std::string> utf16CharAt(std::string_view s, size_t index) {
  size_t unit = 0;
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    uint32_t cp = decodeUtf8(s, i);
    size_t units = cp >= 0x10000 ? 2 : 1;
    if (index < unit + units) {
      if (units == 2) return std::string("\xEF\xBF\xBD");
      return std::string(s.substr(start, i - start));
    }
    unit += units;
  }
  return std::nullopt;
}

bool parseArrayIndex(std::string_view key, size_t& index) {
  if (key.empty() || key.size() > 15) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  size_t v = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  index = v;
  return true;
}

// A pre-split path for actions-core's get(): `whole` means the path was '' or '.'.
struct Path {
  bool whole = false;
  std::vector<std::string> keys;
};

// Splits like actions-core's get(): on '.', on '[' before a quote or digit, on runs of ']' after
// a quote or digit; empty parts dropped, then quotes removed.
Path splitPath(std::string_view path) {
  Path p;
  if (path.empty() || path == ".") {
    p.whole = true;
    return p;
  }
  auto isQD = [](char c) { return c == '"' || c == '\'' || (c >= '0' && c <= '9'); };
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '.') {
      parts.push_back(std::move(cur));
      cur.clear();
    } else if (c == '[' && i + 1 < path.size() && isQD(path[i + 1])) {
      parts.push_back(std::move(cur));
      cur.clear();
    } else if (c == ']' && i > 0 && isQD(path[i - 1])) {
      while (i + 1 < path.size() && path[i + 1] == ']') ++i;
      parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(std::move(cur));
  for (std::string& part : parts) {
    if (part.empty()) continue;
    std::string key;
    for (char c : part) {
      if (c != '"' && c != '\'') key += c;
    }
    p.keys.push_back(std::move(key));
  }
  return p;
}

// One step of actions-core's get(): `o && o[key]`.
enum class Step : uint8_t { kUndefined, kView, kComputed };

// kView: `out` is part of `v` (or `v` itself when falsy). kComputed: the result is not part of the
// JSON (an array's or string's length, a string's character); computeStep() makes it.
Step stepInto(View v, std::string_view key, View& out) {
  if (isFalsy(v)) {
    out = v;  // a falsy value is the result
    return Step::kView;
  }
  size_t index;
  switch (v.type()) {
    case JType::kObject:
      return v.member(key, out) ? Step::kView : Step::kUndefined;
    case JType::kArray:
      if (key == "length") return Step::kComputed;
      return parseArrayIndex(key, index) && v.item(index, out) ? Step::kView : Step::kUndefined;
    case JType::kString:
      if (key == "length") return Step::kComputed;
      if (parseArrayIndex(key, index) && utf16CharAt(v.str(), index)) return Step::kComputed;
      return Step::kUndefined;
    default:
      return Step::kUndefined;  // members of numbers and true
  }
}

json::value computeStep(View v, std::string_view key, const Ctx& ctx) {
  if (v.type() == JType::kArray) return json::value(static_cast<int64_t>(v.arraySize()), ctx.sp);
  std::string_view s = v.str();
  if (key == "length") return json::value(static_cast<int64_t>(utf16Length(s)), ctx.sp);
  size_t index = 0;
  parseArrayIndex(key, index);
  return json::value(json::string(*utf16CharAt(s, index), ctx.sp));
}

// actions-core's get(): `keys.reduce((o, k) => o && o[k], payload)`.
Val getPath(View payload, const Path& path, const Ctx& ctx) {
  if (path.whole) return Val::of(payload);
  View cur = payload;
  size_t k = 0;
  for (; k < path.keys.size(); ++k) {
    Step st = stepInto(cur, path.keys[k], cur);
    if (st == Step::kUndefined) return Val::undefined();
    if (st == Step::kComputed) break;
  }
  if (k == path.keys.size()) return Val::of(cur);
  // Rare: continue on computed values (numbers and one-character strings).
  json::value owned = computeStep(cur, path.keys[k], ctx);
  for (++k; k < path.keys.size(); ++k) {
    View next;
    Step st = stepInto(View::of(owned), path.keys[k], next);
    if (st == Step::kUndefined) return Val::undefined();
    if (st == Step::kComputed) {
      json::value made = computeStep(View::of(owned), path.keys[k], ctx);
      owned = std::move(made);
    }
    // kView on a number or string is only possible when it is falsy: it stays the result.
  }
  return Val::own(std::move(owned));
}

enum TrieResult : uint8_t { kTrieUndefined = 1, kTrieView = 2, kTrieComputed = 3 };

// The value of trie node `id` for the current event, memoised in the scratch (see resolveTrie()).
uint8_t resolveTrieSlow(const Ctx& ctx, int id, View& out);

[[gnu::always_inline]] inline uint8_t resolveTrie(const Ctx& ctx, int id, View& out) {
  const TrieScratch& s = *ctx.scratch;
  const uint32_t mark = s.marks[static_cast<size_t>(id)];
  if (s.valid(mark) && (mark & 3)) {
    if ((mark & 3) == kTrieView) out = s.views[static_cast<size_t>(id)];
    return static_cast<uint8_t>(mark & 3);
  }
  return resolveTrieSlow(ctx, id, out);
}

uint8_t resolveTrieSlow(const Ctx& ctx, int id, View& out) {
  TrieScratch& s = *ctx.scratch;
  const uint32_t cur = s.cur;
  size_t i = static_cast<size_t>(id);
  uint8_t r;
  if (id == 0) {
    out = ctx.root;
    r = kTrieView;
  } else {
    const PathTrie& trie = *ctx.trie;
    const PathTrie::Hot& node = trie.hot[i];
    size_t p = static_cast<size_t>(node.parent);
    View pv;
    r = resolveTrie(ctx, node.parent, pv);
    if (r == kTrieView) {
      if (isFalsy(pv)) {
        out = pv;
      } else if (pv.type() == JType::kObject && trie.hot[p].slot_count == 0) {
        r = pv.member(trie.key(node), out) ? kTrieView : kTrieUndefined;
      } else if (pv.type() == JType::kObject) {
        if (!(s.marks[p] & 4)) {
          // Match every member against the wanted keys once. Every wanted key is settled by this
          // pass (found or undefined), so later lookups of siblings are memo hits.
          const PathTrie::Hot& parent = trie.hot[p];
          const int32_t* ids = trie.child_ids.data() + parent.ids_begin;
          for (uint32_t k = 0; k < parent.ids_count; ++k) {
            s.marks[static_cast<size_t>(ids[k])] = cur | kTrieUndefined;
          }
          pv.forEachMember([&](std::string_view key, View value) {
            int c = trie.findChild(parent, key);
            if (c < 0) return;
            uint32_t& mark = s.marks[static_cast<size_t>(c)];
            if (mark == (cur | kTrieView)) return;  // first occurrence wins
            mark = cur | kTrieView;
            s.views[static_cast<size_t>(c)] = value;
          });
          s.marks[p] |= 4;
        }
        const uint32_t mark = s.marks[i];
        if (s.valid(mark) && (mark & 3)) {
          if ((mark & 3) == kTrieView) out = s.views[i];
          return static_cast<uint8_t>(mark & 3);
        }
        r = kTrieUndefined;
      } else {
        View next;
        Step st = stepInto(pv, trie.key(node), next);
        if (st == Step::kUndefined) {
          r = kTrieUndefined;
        } else if (st == Step::kComputed) {
          r = kTrieComputed;
        } else {
          out = next;
        }
      }
    }
  }
  uint32_t& mark = s.marks[i];
  mark = cur | (s.valid(mark) ? (mark & 4) : 0) | r;
  if (r == kTrieView) s.views[i] = out;
  return r;
}

// String(value) as JavaScript converts (arrays joined with ',', objects "[object Object]").
void appendJsString(std::string& out, View v) {
  switch (v.type()) {
    case JType::kNull:
      out += "null";
      break;
    case JType::kBool:
      out += v.boolean() ? "true" : "false";
      break;
    case JType::kNumber:
      appendJsNumber(out, v.number());
      break;
    case JType::kString:
      out += v.str();
      break;
    case JType::kObject:
      out += "[object Object]";
      break;
    case JType::kArray: {
      bool first = true;
      v.forEachItem([&](View item) {
        if (!first) out += ',';
        first = false;
        if (item.type() != JType::kNull) appendJsString(out, item);
      });
      break;
    }
  }
}

// JSON.stringify of a value (no undefined inside: objects never hold it here).
void appendJsJson(std::string& out, View v) {
  switch (v.type()) {
    case JType::kNull:
      out += "null";
      break;
    case JType::kBool:
      out += v.boolean() ? "true" : "false";
      break;
    case JType::kNumber: {
      double d = v.number();
      if (std::isfinite(d)) {
        appendJsNumber(out, d);
      } else {
        out += "null";
      }
      break;
    }
    case JType::kString:
      appendJsonString(out, v.str());
      break;
    case JType::kArray: {
      out += '[';
      bool first = true;
      v.forEachItem([&](View item) {
        if (!first) out += ',';
        first = false;
        appendJsJson(out, item);
      });
      out += ']';
      break;
    }
    case JType::kObject: {
      out += '{';
      bool first = true;
      v.forEachMember([&](std::string_view key, View value) {
        if (!first) out += ',';
        first = false;
        json::value k(key);
        appendJsJson(out, View::of(k));
        out += ':';
        appendJsJson(out, value);
      });
      out += '}';
      break;
    }
  }
}

// `value != ''` with JavaScript's loose equality (0, false, [] and [""] equal '').
bool looseEqualsEmptyString(View v) {
  switch (v.type()) {
    case JType::kString:
      return v.str().empty();
    case JType::kNumber:
      return v.number() == 0;
    case JType::kBool:
      return !v.boolean();
    case JType::kArray: {
      std::string s;
      appendJsString(s, v);
      return s.empty();
    }
    default:
      return false;
  }
}

// Normalises numbers parsed by Boost.JSON to what JSON.parse yields (doubles; integers kept as
// int64 when exact).
void normalizeNumbers(json::value& v) {
  switch (v.kind()) {
    case json::kind::int64:
      if (std::fabs(static_cast<double>(v.get_int64())) > kMaxSafe) {
        v = static_cast<double>(v.get_int64());
      }
      break;
    case json::kind::uint64:
      if (v.get_uint64() <= 9007199254740992ULL) {
        v = static_cast<int64_t>(v.get_uint64());
      } else {
        v = static_cast<double>(v.get_uint64());
      }
      break;
    case json::kind::double_: {
      double d = v.get_double();
      if (d == std::trunc(d) && std::fabs(d) <= kMaxSafe) v = static_cast<int64_t>(d);
      break;
    }
    case json::kind::array:
      for (auto& x : v.get_array()) normalizeNumbers(x);
      break;
    case json::kind::object:
      for (auto& kv : v.get_object()) normalizeNumbers(kv.value());
      break;
    default:
      break;
  }
}

bool isAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// String.prototype.toLowerCase / toUpperCase (full Unicode mappings, locale independent).
std::string jsCase(std::string_view s, bool upper) {
  std::string out;
  if (isAscii(s)) {
    out.reserve(s.size());
    for (char c : s) {
      if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
      if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      out += c;
    }
    return out;
  }
  icu::UnicodeString u =
      icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  if (upper) {
    u.toUpper(icu::Locale::getRoot());
  } else {
    u.toLower(icu::Locale::getRoot());
  }
  u.toUTF8String(out);
  return out;
}

// A JavaScript regular-expression `i` canonicalisation of one code point (no `u` flag):
// upper-cased, unless that maps a non-ASCII character into ASCII. Astral characters unchanged.
uint32_t foldCase(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (cp > 0xFFFF) return cp;
  uint32_t up = static_cast<uint32_t>(u_toupper(static_cast<UChar32>(cp)));
  if (up < 0x80 || up > 0xFFFF) return cp;
  return up;
}

// ---------------------------------------------------------------------------------------------
// Compiled nodes

}  // namespace

struct CompiledNode {
  virtual ~CompiledNode() = default;
  virtual Val eval(const Ctx& ctx, View payload) const = 0;
  // What eval() gives, as ViewObjects allocated from ctx.sp, when the node builds objects whose
  // defined values are all values of the event (a plain object; an @arrayPath of such items);
  // false, with `out` unspecified, otherwise (eval() then gives the value). Only with a storage
  // that never frees (see Mapping::applyFields()).
  virtual bool evalViewObjects(const Ctx&, View, ViewObjects&) const { return false; }
};

namespace {

using NodePtr = std::unique_ptr<CompiledNode>;

// A plain scalar, or a plain array/object without directives: returned by reference.
struct ConstNode final : CompiledNode {
  explicit ConstNode(json::value v) : value(std::move(v)) {}
  Val eval(const Ctx&, View) const override { return Val::of(View::of(value)); }
  json::value value;
};

// `node->eval(ctx, payload)`, read straight from the trie memo when `trie_id` (trieIdOf(node))
// is set: no virtual call for the common `@path` children, and `node` itself (the pointer, in an
// object's field array) is not even loaded then, which keeps those arrays out of the cache.
[[gnu::always_inline]] inline Val evalNode(const Ctx& ctx, const NodePtr& node, int trie_id,
                                           View payload) {
  if (trie_id >= 0) {
    View v;
    uint8_t r = resolveTrie(ctx, trie_id, v);
    if (r == kTrieView) return Val::of(v);
    if (r == kTrieUndefined) return Val::undefined();
  }
  return node->eval(ctx, payload);
}

// `n` uninitialised elements of a trivial type from `sp` (n >= 1).
template <typename T>
T* allocateArray(const json::storage_ptr& sp, size_t n) {
  return static_cast<T*>(sp->allocate(n * sizeof(T), alignof(T)));
}

// Whether `v` is a value of the event itself (not computed, not part of the mapping).
bool isEventView(const Val& v) { return v.kind == Val::Kind::kView && !v.view.j; }

struct IfNode;

// `node` when it is an `@if` whose condition and branches are all `@path`s read from the event
// (IfNode::resolve() then evaluates it from the memo), else null.
const IfNode* pathIfOf(const CompiledNode* node);

struct ObjectNode final : CompiledNode {
  std::vector<std::pair<std::string, NodePtr>> fields;
  std::vector<int> trie_ids;            // trieIdOf() each field (see evalNode())
  std::vector<const IfNode*> path_ifs;  // pathIfOf() each field

  bool evalViewObjects(const Ctx& ctx, View payload, ViewObjects& out) const override;

  Val eval(const Ctx& ctx, View payload) const override {
    return Val::own(json::value(build(ctx, payload)));
  }
  // Field `i` evaluated: its value, or undefined.
  Val field(const Ctx& ctx, size_t i, View payload) const {
    return evalNode(ctx, fields[i].second, trie_ids[i], payload);
  }
  // Field `i` read from the memo, without a Val or a virtual call, when it is an event path or an
  // @if of event paths: kTrieUndefined, kTrieView (`out` set) or kTrieComputed (field() must then
  // give the value). 0 for any other field: field() evaluates it.
  uint8_t resolveField(const Ctx& ctx, size_t i, View& out) const;
  json::object build(const Ctx& ctx, View payload) const {
    json::object out(ctx.sp);
    // Reserved at the first defined value: objects whose fields are all undefined (the vehicle
    // and travel defaults of most events) allocate nothing.
    for (size_t i = 0; i < fields.size(); ++i) {
      Val v = field(ctx, i, payload);
      if (v.isUndefined()) continue;
      if (out.capacity() == 0) out.reserve(fields.size() - i);
      emplaceInto(out, fields[i].first, std::move(v), ctx.sp);
    }
    return out;
  }
};

struct ArrayNode final : CompiledNode {
  std::vector<NodePtr> items;
  Val eval(const Ctx& ctx, View payload) const override {
    json::array out(ctx.sp);
    out.reserve(items.size());
    for (const auto& node : items) {
      Val v = node->eval(ctx, payload);
      // JSON has no undefined: an undefined element serialises as null.
      out.push_back(v.isUndefined() ? json::value(nullptr, ctx.sp)
                                    : materialize(std::move(v), ctx.sp));
    }
    return Val::own(json::value(std::move(out)));
  }
};

struct PathNode final : CompiledNode {
  Path path;
  int trie_id = -1;  // set for paths read from the event itself
  Val eval(const Ctx& ctx, View payload) const override {
    if (trie_id >= 0 && ctx.scratch) {
      View v;
      uint8_t r = resolveTrie(ctx, trie_id, v);
      if (r == kTrieView) return Val::of(v);
      if (r == kTrieUndefined) return Val::undefined();
    }
    return getPath(payload, path, ctx);
  }
};

// The trie node of `node` when it is an `@path` read from the event, else -1.
int trieIdOf(const CompiledNode* node) {
  const auto* path = dynamic_cast<const PathNode*>(node);
  return path ? path->trie_id : -1;
}

// The compiled mapping and the trie of its event paths.
struct RootNode final : CompiledNode {
  NodePtr inner;
  std::shared_ptr<const PathTrie> trie;  // shared with the mappings of the same PathTable
  std::vector<std::string> keys;         // top-level keys when `inner` is a plain object
  const ObjectNode* object = nullptr;    // `inner` when it is an ObjectNode
  Val eval(const Ctx& ctx, View payload) const override { return inner->eval(ctx, payload); }
};

struct IfNode final : CompiledNode {
  bool blank_mode = false;
  NodePtr condition;
  NodePtr then_node;                                  // null when absent
  NodePtr else_node;                                  // null when absent or falsy
  int condition_id = -1, then_id = -1, else_id = -1;  // trieIdOf() each
  // Whether the condition's value `v` holds.
  bool holds(View v) const {
    return v.type() != JType::kNull && (!blank_mode || !looseEqualsEmptyString(v));
  }
  Val eval(const Ctx& ctx, View payload) const override {
    Val c = evalNode(ctx, condition, condition_id, payload);
    const bool cond = !c.isUndefined() && holds(c.get());
    if (cond && then_node) return evalNode(ctx, then_node, then_id, payload);
    if (!cond && else_node) return evalNode(ctx, else_node, else_id, payload);
    return Val::undefined();
  }
  // For an @if of event paths only (pathIfOf()): eval() read from the memo, without a Val or a
  // virtual call. kTrieView (`out` set) or kTrieUndefined as eval() gives; kTrieComputed when a
  // path's value is computed (a length, a character), which eval() must then give.
  uint8_t resolve(const Ctx& ctx, View& out) const {
    View c;
    const uint8_t r = resolveTrie(ctx, condition_id, c);
    if (r == kTrieComputed) return r;
    if (r == kTrieView && holds(c)) {
      return then_node ? resolveTrie(ctx, then_id, out) : uint8_t{kTrieUndefined};
    }
    return else_node ? resolveTrie(ctx, else_id, out) : uint8_t{kTrieUndefined};
  }
};

const IfNode* pathIfOf(const CompiledNode* node) {
  const auto* node_if = dynamic_cast<const IfNode*>(node);
  if (!node_if || node_if->condition_id < 0) return nullptr;
  if (node_if->then_node && node_if->then_id < 0) return nullptr;
  if (node_if->else_node && node_if->else_id < 0) return nullptr;
  return node_if;
}

uint8_t ObjectNode::resolveField(const Ctx& ctx, size_t i, View& out) const {
  if (trie_ids[i] >= 0) return resolveTrie(ctx, trie_ids[i], out);
  if (path_ifs[i]) return path_ifs[i]->resolve(ctx, out);
  return 0;
}

bool ObjectNode::evalViewObjects(const Ctx& ctx, View payload, ViewObjects& out) const {
  ViewMember* members = nullptr;  // allocated at the first defined value, as build() reserves
  uint32_t n = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    View view;
    if (const uint8_t r = resolveField(ctx, i, view)) {  // most are memo reads of undefined
      if (r == kTrieUndefined) continue;
      if (r == kTrieComputed) return false;
    } else {
      Val v = fields[i].second->eval(ctx, payload);
      if (v.isUndefined()) continue;
      if (v.kind != Val::Kind::kView) return false;
      view = v.view;
    }
    if (view.j) return false;
    if (!members) members = allocateArray<ViewMember>(ctx.sp, fields.size() - i);
    members[n++] = ViewMember{fields[i].first, view.e};
  }
  uint32_t* ends = allocateArray<uint32_t>(ctx.sp, 1);
  ends[0] = n;
  out = ViewObjects{members, ends, 1, false};
  return true;
}

struct TemplateNode final : CompiledNode {
  // Two-brace templates are compiled into literal and path parts. A template with three braces
  // is rendered as mapping-kit does: the {{{ }}} pass first, then {{ }} over its output.
  struct Part {
    std::string literal;
    bool is_path = false;
    Path path;
  };
  std::vector<Part> parts;
  bool dynamic = false;
  std::string source;

  static std::string_view trimJs(std::string_view s) {
    auto ws = [](std::string_view t, size_t i, bool front) -> size_t {
      // ASCII white space, NBSP (C2 A0) and BOM (EF BB BF).
      if (front) {
        char c = t[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 1;
        if (t.substr(i, 2) == "\xC2\xA0") return 2;
        if (t.substr(i, 3) == "\xEF\xBB\xBF") return 3;
        return 0;
      }
      char c = t[t.size() - 1];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') return 1;
      if (t.size() >= 2 && t.substr(t.size() - 2) == "\xC2\xA0") return 2;
      if (t.size() >= 3 && t.substr(t.size() - 3) == "\xEF\xBB\xBF") return 3;
      return 0;
    };
    while (!s.empty()) {
      size_t n = ws(s, 0, true);
      if (!n) break;
      s.remove_prefix(n);
    }
    while (!s.empty()) {
      size_t n = ws(s, 0, false);
      if (!n) break;
      s.remove_suffix(n);
    }
    return s;
  }

  // Finds the next `{{...}}` (braces = 2) or `{{{...}}}` (3) match at or after `from`, as the
  // regular expressions /\{\{([^}]+)\}\}/g and /\{\{\{([^}]+)\}\}\}/g would.
  static bool findPlaceholder(std::string_view t, size_t from, int braces, size_t& start,
                              size_t& inner_start, size_t& inner_end, size_t& end) {
    for (size_t i = from; i + static_cast<size_t>(2 * braces) < t.size() + 0; ++i) {
      bool open = true;
      for (int b = 0; b < braces; ++b) {
        if (t[i + static_cast<size_t>(b)] != '{') {
          open = false;
          break;
        }
      }
      if (!open) continue;
      size_t j = i + static_cast<size_t>(braces);
      size_t k = j;
      while (k < t.size() && t[k] != '}') ++k;
      if (k == j) continue;
      bool close = k + static_cast<size_t>(braces) <= t.size();
      for (int b = 0; close && b < braces; ++b) {
        if (t[k + static_cast<size_t>(b)] != '}') close = false;
      }
      if (!close) continue;
      start = i;
      inner_start = j;
      inner_end = k;
      end = k + static_cast<size_t>(braces);
      return true;
    }
    return false;
  }

  static void appendValue(std::string& out, const Val& v) {
    if (v.isUndefined()) return;
    View view = v.get();
    if (view.type() == JType::kNull) return;  // value ?? ''
    appendJsString(out, view);
  }

  static std::string renderPass(std::string_view t, int braces, const Ctx& ctx, View payload) {
    std::string out;
    size_t pos = 0, start, is, ie, end;
    while (findPlaceholder(t, pos, braces, start, is, ie, end)) {
      out.append(t.substr(pos, start - pos));
      Path p = splitPath(trimJs(t.substr(is, ie - is)));
      appendValue(out, getPath(payload, p, ctx));
      pos = end;
    }
    out.append(t.substr(pos));
    return out;
  }

  void compile(std::string_view t) {
    source = std::string(t);
    size_t s3, a, b, c;
    if (findPlaceholder(t, 0, 3, s3, a, b, c)) {
      dynamic = true;
      return;
    }
    size_t pos = 0, start, is, ie, end;
    while (findPlaceholder(t, pos, 2, start, is, ie, end)) {
      if (start > pos) parts.push_back(Part{std::string(t.substr(pos, start - pos)), false, {}});
      parts.push_back(Part{{}, true, splitPath(trimJs(t.substr(is, ie - is)))});
      pos = end;
    }
    if (pos < t.size()) parts.push_back(Part{std::string(t.substr(pos)), false, {}});
  }

  Val eval(const Ctx& ctx, View payload) const override {
    std::string out;
    if (dynamic) {
      std::string first = renderPass(source, 3, ctx, payload);
      out = renderPass(first, 2, ctx, payload);
    } else {
      for (const Part& part : parts) {
        if (part.is_path) {
          appendValue(out, getPath(payload, part.path, ctx));
        } else {
          out += part.literal;
        }
      }
    }
    return Val::own(json::value(json::string(out, ctx.sp)));
  }
};

struct ArrayPathNode final : CompiledNode {
  bool static_path = true;
  Path path;
  NodePtr root_node;  // when the path is a directive or read through the trie
  NodePtr item;       // null unless the item shape is a non-empty object

  // When the item is a plain object of `@path`s relative to the element (Segment's `contents`
  // items), each element's members are matched against the paths' first keys in one pass
  // instead of one member scan per field.
  struct ItemField {
    std::string_view key;  // the result key (owned by the item ObjectNode)
    size_t first = 0;      // index into first_keys
    Path rest;             // the path after its first key
  };
  static constexpr size_t kMaxFirstKeys = 16;
  std::vector<std::string> first_keys;  // distinct; empty when the item has another shape
  std::vector<ItemField> item_fields;

  void planItem() {
    const auto* object = dynamic_cast<const ObjectNode*>(item.get());
    if (!object || object->fields.empty()) return;
    std::vector<std::string> keys;
    std::vector<ItemField> fields;
    for (const auto& [key, node] : object->fields) {
      const auto* p = dynamic_cast<const PathNode*>(node.get());
      if (!p || p->trie_id >= 0 || p->path.whole || p->path.keys.empty()) return;
      const std::string& k0 = p->path.keys[0];
      size_t first = std::find(keys.begin(), keys.end(), k0) - keys.begin();
      if (first == keys.size()) keys.push_back(k0);
      ItemField f;
      f.key = key;
      f.first = first;
      f.rest.keys.assign(p->path.keys.begin() + 1, p->path.keys.end());
      fields.push_back(std::move(f));
    }
    if (keys.size() > kMaxFirstKeys) return;
    first_keys = std::move(keys);
    item_fields = std::move(fields);
  }

  // Finds the members of `element` (an object of the event) named by first_keys: found[k] when
  // has[k]; the first occurrence of a key wins, as in a lookup.
  void matchFirstKeys(View element, View* found, bool* has) const {
    const size_t n = first_keys.size();
    element.forEachMember([&](std::string_view key, View value) {
      for (size_t k = 0; k < n; ++k) {
        if (sameKey(first_keys[k], key)) {
          if (!has[k]) {
            has[k] = true;
            found[k] = value;
          }
          return;
        }
      }
    });
  }

  // The value of item field `f` for an element matched by matchFirstKeys().
  Val plannedField(const Ctx& ctx, size_t f, const View* found, const bool* has) const {
    const ItemField& field = item_fields[f];
    if (!has[field.first]) return Val::undefined();
    return field.rest.keys.empty() ? Val::of(found[field.first])
                                   : getPath(found[field.first], field.rest, ctx);
  }

  // The item for one element that is an object of the event (see planItem()).
  json::value mapPlanned(const Ctx& ctx, View element) const {
    View found[kMaxFirstKeys];
    bool has[kMaxFirstKeys] = {};
    matchFirstKeys(element, found, has);
    json::object out(ctx.sp);
    for (size_t f = 0; f < item_fields.size(); ++f) {
      Val v = plannedField(ctx, f, found, has);
      if (v.isUndefined()) continue;
      if (out.capacity() == 0) out.reserve(item_fields.size() - f);
      emplaceInto(out, item_fields[f].key, std::move(v), ctx.sp);
    }
    return json::value(std::move(out));
  }

  // The items as ViewObjects when the value is an array of objects of the event (or one such
  // object) and every defined item value is a value of the event.
  bool evalViewObjects(const Ctx& ctx, View payload, ViewObjects& out) const override {
    if (first_keys.empty()) return false;
    Val root = static_path ? getPath(payload, path, ctx) : root_node->eval(ctx, payload);
    if (!isEventView(root)) return false;
    simdjson::dom::element r = root.view.e;
    simdjson::dom::array array;
    const bool isArray = r.get_array().get(array) == simdjson::SUCCESS;
    if (!isArray && r.type() != simdjson::dom::element_type::OBJECT) return false;
    const size_t count = isArray ? array.size() : 1;
    if (count == 0) return false;  // an empty array: the (rare) copy costs nothing
    ViewMember* members = allocateArray<ViewMember>(ctx.sp, count * item_fields.size());
    uint32_t* ends = allocateArray<uint32_t>(ctx.sp, count);
    uint32_t n = 0;
    size_t item = 0;
    auto mapOne = [&](simdjson::dom::element element) {
      if (element.type() != simdjson::dom::element_type::OBJECT) return false;
      View found[kMaxFirstKeys];
      bool has[kMaxFirstKeys] = {};
      matchFirstKeys(View::of(element), found, has);
      for (size_t f = 0; f < item_fields.size(); ++f) {
        Val v = plannedField(ctx, f, found, has);
        if (v.isUndefined()) continue;
        if (!isEventView(v)) return false;
        members[n++] = ViewMember{item_fields[f].key, v.view.e};
      }
      ends[item++] = n;
      return true;
    };
    if (isArray) {
      for (simdjson::dom::element element : array) {
        if (!mapOne(element)) return false;
      }
    } else if (!mapOne(r)) {
      return false;
    }
    out = ViewObjects{members, ends, count, true};
    return true;
  }

  Val eval(const Ctx& ctx, View payload) const override {
    Val root = static_path ? getPath(payload, path, ctx) : root_node->eval(ctx, payload);
    if (root.isUndefined() || !item) return root;
    View r = root.get();
    JType t = r.type();
    if (t != JType::kArray && t != JType::kObject) return root;
    json::array out(ctx.sp);
    auto mapOne = [&](View element) {
      if (!first_keys.empty() && !element.j && element.type() == JType::kObject) {
        out.push_back(mapPlanned(ctx, element));
        return;
      }
      Val v = item->eval(ctx, element);
      out.push_back(v.isUndefined() ? json::value(nullptr, ctx.sp)
                                    : materialize(std::move(v), ctx.sp));
    };
    if (t == JType::kArray) {
      out.reserve(r.arraySize());
      r.forEachItem(mapOne);
    } else {
      mapOne(r);
    }
    return Val::own(json::value(std::move(out)));
  }
};

struct CaseNode final : CompiledNode {
  bool upper = false;
  NodePtr value;  // null when absent or falsy: the result is undefined
  Val eval(const Ctx& ctx, View payload) const override {
    if (!value) return Val::undefined();
    Val v = value->eval(ctx, payload);
    if (v.isUndefined() || v.get().type() != JType::kString) return v;
    return Val::own(json::value(json::string(jsCase(v.get().str(), upper), ctx.sp)));
  }
};

struct ReplaceNode final : CompiledNode {
  struct Rule {
    std::string pattern;
    std::vector<uint32_t> folded_pattern;  // for ignorecase
    std::string replacement;
    bool has_specials = false;  // $$, $&, $`, $' in the replacement
  };
  std::vector<Rule> rules;  // pattern, then pattern2
  bool global = true;
  bool ignorecase = false;
  NodePtr value;  // null when falsy: the result is undefined

  static void appendReplacement(std::string& out, const Rule& rule, std::string_view subject,
                                size_t match_start, size_t match_end) {
    if (!rule.has_specials) {
      out += rule.replacement;
      return;
    }
    const std::string& r = rule.replacement;
    for (size_t i = 0; i < r.size(); ++i) {
      if (r[i] == '$' && i + 1 < r.size()) {
        char n = r[i + 1];
        if (n == '$') {
          out += '$';
          ++i;
          continue;
        }
        if (n == '&') {
          out.append(subject.substr(match_start, match_end - match_start));
          ++i;
          continue;
        }
        if (n == '`') {
          out.append(subject.substr(0, match_start));
          ++i;
          continue;
        }
        if (n == '\'') {
          out.append(subject.substr(match_end));
          ++i;
          continue;
        }
      }
      out += r[i];
    }
  }

  // Finds the pattern at or after byte `from`; sets the match's byte range.
  bool find(const Rule& rule, std::string_view s, size_t from, size_t& ms, size_t& me) const {
    if (!ignorecase) {
      size_t p = s.find(rule.pattern, from);
      if (p == std::string_view::npos) return false;
      ms = p;
      me = p + rule.pattern.size();
      return true;
    }
    for (size_t i = from; i < s.size();) {
      size_t j = i;
      bool ok = true;
      for (uint32_t want : rule.folded_pattern) {
        if (j >= s.size()) {
          ok = false;
          break;
        }
        if (foldCase(decodeUtf8(s, j)) != want) {
          ok = false;
          break;
        }
      }
      if (ok) {
        ms = i;
        me = j;
        return true;
      }
      decodeUtf8(s, i);  // next character
    }
    return false;
  }

  std::string replaceAll(const Rule& rule, std::string_view s) const {
    std::string out;
    size_t pos = 0, ms, me;
    while (find(rule, s, pos, ms, me)) {
      out.append(s.substr(pos, ms - pos));
      appendReplacement(out, rule, s, ms, me);
      pos = me;
      if (!global) break;
    }
    out.append(s.substr(pos));
    return out;
  }

  Val eval(const Ctx& ctx, View payload) const override {
    if (!value) return Val::undefined();
    Val v = value->eval(ctx, payload);
    std::string subject;
    if (!v.isUndefined()) {
      View view = v.get();
      JType t = view.type();
      if (t == JType::kString || t == JType::kNumber || t == JType::kBool) {
        appendJsString(subject, view);
        for (const Rule& rule : rules) subject = replaceAll(rule, subject);
        return Val::own(json::value(json::string(subject, ctx.sp)));
      }
    }
    // Anything else (missing, null, objects, arrays) becomes an empty string, as in mapping-kit.
    return Val::own(json::value(json::string(ctx.sp)));
  }
};

struct LiteralNode final : CompiledNode {
  NodePtr inner;  // @literal resolves directives inside its value, as mapping-kit does
  Val eval(const Ctx& ctx, View payload) const override { return inner->eval(ctx, payload); }
};

struct JsonNode final : CompiledNode {
  enum class Mode : uint8_t { kEncode, kDecode, kNone } mode = Mode::kNone;
  NodePtr value;
  Val eval(const Ctx& ctx, View payload) const override {
    if (mode == Mode::kNone) return Val::undefined();
    Val v = value->eval(ctx, payload);
    if (v.isUndefined()) return v;
    View view = v.get();
    if (mode == Mode::kEncode) {
      std::string s;
      appendJsJson(s, view);
      return Val::own(json::value(json::string(s, ctx.sp)));
    }
    if (view.type() != JType::kString) return v;
    boost::system::error_code ec;
    json::value parsed = json::parse(view.str(), ec, ctx.sp);
    if (ec) return v;
    normalizeNumbers(parsed);
    return Val::own(std::move(parsed));
  }
};

struct FlattenNode final : CompiledNode {
  std::string separator;
  bool omit_arrays = false;
  NodePtr value;

  void flatten(json::object& out, View v, const std::string& prefix, const Ctx& ctx) const {
    JType t = v.type();
    if (t == JType::kObject) {
      v.forEachMember([&](std::string_view key, View child) {
        std::string k = prefix.empty() ? std::string(key) : prefix + separator + std::string(key);
        flatten(out, child, k, ctx);
      });
    } else if (t == JType::kArray && !omit_arrays) {
      size_t i = 0;
      v.forEachItem([&](View child) {
        std::string key = std::to_string(i++);
        std::string k = prefix.empty() ? key : prefix + separator + key;
        flatten(out, child, k, ctx);
      });
    } else {
      out.insert_or_assign(prefix, toJson(v, ctx.sp));
    }
  }

  Val eval(const Ctx& ctx, View payload) const override {
    Val v = value->eval(ctx, payload);
    json::object out(ctx.sp);
    // flattenObject(undefined) is {"": undefined}, which becomes {}.
    if (!v.isUndefined()) flatten(out, v.get(), std::string(), ctx);
    return Val::own(json::value(std::move(out)));
  }
};

struct MergeNode final : CompiledNode {
  bool left = false;
  std::vector<NodePtr> objects;

  // Object.assign(out, source) for one resolved source.
  static void assign(json::object& out, View source, const Ctx& ctx) {
    switch (source.type()) {
      case JType::kObject:
        source.forEachMember([&](std::string_view key, View value) {
          out.insert_or_assign(key, toJson(value, ctx.sp));
        });
        break;
      case JType::kArray: {
        size_t i = 0;
        source.forEachItem(
            [&](View value) { out.insert_or_assign(std::to_string(i++), toJson(value, ctx.sp)); });
        break;
      }
      case JType::kString: {
        std::string_view s = source.str();
        size_t i = 0, index = 0;
        while (i < s.size()) {
          size_t start = i;
          decodeUtf8(s, i);
          out.insert_or_assign(std::to_string(index++),
                               json::value(json::string(s.substr(start, i - start), ctx.sp)));
        }
        break;
      }
      default:
        break;  // null, numbers, booleans add nothing
    }
  }

  void mergeOne(json::object& out, const CompiledNode& node, const Ctx& ctx, View payload) const {
    if (auto* plain = dynamic_cast<const ObjectNode*>(&node)) {
      // A plain object: a key that resolves to undefined overwrites (and so removes) the key.
      for (const auto& [key, child] : plain->fields) {
        Val v = child->eval(ctx, payload);
        if (v.isUndefined()) {
          out.erase(key);
        } else {
          out.insert_or_assign(key, materialize(std::move(v), ctx.sp));
        }
      }
      return;
    }
    Val v = node.eval(ctx, payload);
    if (!v.isUndefined()) assign(out, v.get(), ctx);
  }

  Val eval(const Ctx& ctx, View payload) const override {
    json::object out(ctx.sp);
    if (left) {
      for (auto it = objects.rbegin(); it != objects.rend(); ++it)
        mergeOne(out, **it, ctx, payload);
    } else {
      for (const auto& node : objects) mergeOne(out, *node, ctx, payload);
    }
    return Val::own(json::value(std::move(out)));
  }
};

struct ExcludeWhenNullNode final : CompiledNode {
  NodePtr inner;

  static json::object clean(View v, const Ctx& ctx) {
    json::object out(ctx.sp);
    v.forEachMember([&](std::string_view key, View value) {
      JType t = value.type();
      if (t == JType::kNull) return;
      if (t == JType::kObject) {
        out.insert_or_assign(key, clean(value, ctx));
      } else {
        out.insert_or_assign(key, toJson(value, ctx.sp));
      }
    });
    return out;
  }

  Val eval(const Ctx& ctx, View payload) const override {
    Val v = inner->eval(ctx, payload);
    if (v.isUndefined()) return v;
    View view = v.get();
    JType t = view.type();
    if (t == JType::kNull) return Val::undefined();
    if (t != JType::kObject) return v;
    return Val::own(json::value(clean(view, ctx)));
  }
};

// ---------------------------------------------------------------------------------------------
// Compiler

class Compiler {
 public:
  explicit Compiler(PathTrie& trie) : trie_(trie) {}
  Result<NodePtr> compileRoot(const json::value& spec) {
    NodePtr node = compile(spec, "");
    if (!node) return fail(ErrorCode::kInvalidArgument, std::move(error_));
    return node;
  }

 private:
  static std::string join(const std::string& at, std::string_view key) {
    if (at.empty()) return std::string(key);
    return at + "." + std::string(key);
  }

  std::nullptr_t error(const std::string& at, const std::string& problem) {
    if (error_.empty()) error_ = (at.empty() ? std::string("mapping") : at) + ": " + problem;
    return nullptr;
  }

  static const char* kindName(const json::value& v) {
    switch (v.kind()) {
      case json::kind::null:
        return "null";
      case json::kind::bool_:
        return "a boolean";
      case json::kind::int64:
      case json::kind::uint64:
      case json::kind::double_:
        return "a number";
      case json::kind::string:
        return "a string";
      case json::kind::array:
        return "an array";
      case json::kind::object:
        return "an object";
    }
    return "a value";
  }

  // A mapping value: plain values and objects pass through, directives are compiled.
  NodePtr compile(const json::value& v, const std::string& at) {
    if (++depth_ > kMaxDepth) return error(at, "nested too deeply");
    struct Guard {
      int& d;
      ~Guard() { --d; }
    } guard{depth_};
    if (v.is_object()) {
      const json::object& o = v.get_object();
      size_t directives = 0;
      for (const auto& kv : o) {
        if (!kv.key().empty() && kv.key()[0] == '@') ++directives;
      }
      if (directives > 0) return compileDirective(o, at, directives);
      auto node = std::make_unique<ObjectNode>();
      bool all_const = true;
      for (const auto& kv : o) {
        NodePtr child = compile(kv.value(), join(at, kv.key()));
        if (!child) return nullptr;
        if (!dynamic_cast<ConstNode*>(child.get())) all_const = false;
        node->trie_ids.push_back(trieIdOf(child.get()));
        node->path_ifs.push_back(pathIfOf(child.get()));
        node->fields.emplace_back(std::string(kv.key()), std::move(child));
      }
      if (all_const) return constant(v);
      return node;
    }
    if (v.is_array()) {
      const json::array& a = v.get_array();
      auto node = std::make_unique<ArrayNode>();
      bool all_const = true;
      for (size_t i = 0; i < a.size(); ++i) {
        NodePtr child = compile(a[i], at + "[" + std::to_string(i) + "]");
        if (!child) return nullptr;
        if (!dynamic_cast<ConstNode*>(child.get())) all_const = false;
        node->items.push_back(std::move(child));
      }
      if (all_const) return constant(v);
      return node;
    }
    return constant(v);
  }

  static NodePtr constant(const json::value& v) {
    json::value copy(v);
    normalizeNumbers(copy);
    return std::make_unique<ConstNode>(std::move(copy));
  }

  // A value that must be a string or a directive (mapping-kit's validateDirectiveOrString).
  NodePtr compileStringOrDirective(const json::value& v, const std::string& at, const char* what) {
    if (v.is_string()) return constant(v);
    if (v.is_object() && isDirective(v.get_object())) return compile(v, at);
    return error(at, std::string(what) + " must be a string or a directive, not " + kindName(v));
  }

  static bool isDirective(const json::object& o) {
    bool has = false;
    for (const auto& kv : o) {
      if (!kv.key().empty() && kv.key()[0] == '@') {
        has = true;
      } else if (kv.key() != "_metadata") {
        return false;
      }
    }
    return has;
  }

  NodePtr compileDirective(const json::object& o, const std::string& at, size_t directives) {
    std::string name;
    const json::value* arg = nullptr;
    for (const auto& kv : o) {
      if (!kv.key().empty() && kv.key()[0] == '@') {
        name = kv.key();
        arg = &kv.value();
      } else if (kv.key() != "_metadata") {
        return error(at, "an object with a directive (" + std::string(name.empty() ? "@" : name) +
                             ") may have no other keys, but has \"" + std::string(kv.key()) + "\"");
      }
    }
    if (directives > 1) return error(at, "an object may hold only one directive");
    std::string here = join(at, name);
    if (name == "@path") return compilePath(*arg, here);
    if (name == "@if") return compileIf(*arg, here);
    if (name == "@template") return compileTemplate(*arg, here);
    if (name == "@arrayPath") return compileArrayPath(*arg, here);
    if (name == "@case") return compileCase(*arg, here);
    if (name == "@replace") return compileReplace(*arg, here);
    if (name == "@literal") {
      auto node = std::make_unique<LiteralNode>();
      node->inner = compile(*arg, here);
      if (!node->inner) return nullptr;
      return node;
    }
    if (name == "@json") return compileJson(*arg, here);
    if (name == "@flatten") return compileFlatten(*arg, here);
    if (name == "@merge") return compileMerge(*arg, here);
    if (name == "@excludeWhenNull") {
      auto node = std::make_unique<ExcludeWhenNullNode>();
      node->inner = compile(*arg, here);
      if (!node->inner) return nullptr;
      return node;
    }
    if (name == "@transform" || name == "@liquid") {
      return error(at, name + " is not supported by sluice");
    }
    return error(at, "unknown directive " + name);
  }

  // Options object of a directive; checks each option name is known.
  const json::object* options(const json::value& v, const std::string& at, const char* directive,
                              std::initializer_list<std::string_view> known) {
    if (!v.is_object()) {
      error(at, std::string(directive) + " needs an object of options, not " + kindName(v));
      return nullptr;
    }
    const json::object& o = v.get_object();
    for (const auto& kv : o) {
      if (std::find(known.begin(), known.end(), std::string_view(kv.key())) == known.end()) {
        error(join(at, kv.key()), std::string("unknown option of ") + directive);
        return nullptr;
      }
    }
    return &o;
  }

  NodePtr compilePath(const json::value& v, const std::string& at) {
    if (!v.is_string()) {
      return error(at, std::string("@path must be a string") +
                           (v.is_object() ? " (a computed path is not supported)" : "") + ", not " +
                           kindName(v));
    }
    auto node = std::make_unique<PathNode>();
    node->path = splitPath(dropDollar(v.get_string()));
    if (item_scope_ == 0) node->trie_id = node->path.whole ? 0 : trie_.intern(node->path.keys);
    return node;
  }

  // mapping-kit removes the first "$." of a path.
  static std::string dropDollar(std::string_view path) {
    std::string p(path);
    size_t pos = p.find("$.");
    if (pos != std::string::npos) p.erase(pos, 2);
    return p;
  }

  NodePtr compileIf(const json::value& v, const std::string& at) {
    const json::object* o = options(v, at, "@if", {"exists", "blank", "then", "else"});
    if (!o) return nullptr;
    auto node = std::make_unique<IfNode>();
    const json::value* exists = o->if_contains("exists");
    const json::value* blank = o->if_contains("blank");
    if ((!exists || !specTruthy(*exists)) && (!blank || !specTruthy(*blank))) {
      return error(at, "@if needs an \"exists\" or a \"blank\" condition");
    }
    node->blank_mode = exists == nullptr;
    node->condition = compile(exists ? *exists : *blank, join(at, exists ? "exists" : "blank"));
    if (!node->condition) return nullptr;
    if (const json::value* t = o->if_contains("then")) {
      node->then_node = compile(*t, join(at, "then"));
      if (!node->then_node) return nullptr;
    }
    if (const json::value* e = o->if_contains("else")) {
      NodePtr else_node = compile(*e, join(at, "else"));
      if (!else_node) return nullptr;
      if (specTruthy(*e)) node->else_node = std::move(else_node);  // mapping-kit: `if (opts.else)`
    }
    node->condition_id = trieIdOf(node->condition.get());
    node->then_id = trieIdOf(node->then_node.get());
    node->else_id = trieIdOf(node->else_node.get());
    return node;
  }

  NodePtr compileTemplate(const json::value& v, const std::string& at) {
    if (!v.is_string()) {
      return error(at, std::string("@template must be a string, not ") + kindName(v));
    }
    auto node = std::make_unique<TemplateNode>();
    node->compile(v.get_string());
    return node;
  }

  NodePtr compileArrayPath(const json::value& v, const std::string& at) {
    if (!v.is_array() || v.get_array().empty()) {
      return error(at, "@arrayPath needs an array [path, item mapping]");
    }
    const json::array& a = v.get_array();
    if (a.size() > 2) return error(at, "@arrayPath takes [path, item mapping] only");
    auto node = std::make_unique<ArrayPathNode>();
    if (a[0].is_string() && item_scope_ == 0) {
      node->static_path = false;  // read from the event through the trie, like any @path
      node->root_node = compilePath(a[0], at + "[0]");
    } else if (a[0].is_string()) {
      node->path = splitPath(dropDollar(a[0].get_string()));
    } else if (a[0].is_object() && isDirective(a[0].get_object())) {
      node->static_path = false;
      node->root_node = compile(a[0], at + "[0]");
      if (!node->root_node) return nullptr;
    } else {
      return error(at + "[0]", "the @arrayPath path must be a string or a directive");
    }
    if (a.size() == 2) {
      ++item_scope_;  // item paths are relative to each element, not the event
      NodePtr item = compile(a[1], at + "[1]");
      --item_scope_;
      if (!item) return nullptr;
      if (a[1].is_object() && !a[1].get_object().empty()) {
        node->item = std::move(item);
        node->planItem();
      }
    }
    return node;
  }

  NodePtr compileCase(const json::value& v, const std::string& at) {
    const json::object* o = options(v, at, "@case", {"operator", "value"});
    if (!o) return nullptr;
    auto node = std::make_unique<CaseNode>();
    const json::value* op = o->if_contains("operator");
    if (!op || !op->is_string() || (op->get_string() != "lower" && op->get_string() != "upper")) {
      return error(join(at, "operator"), "@case needs \"operator\": \"lower\" or \"upper\"");
    }
    node->upper = op->get_string() == "upper";
    if (const json::value* value = o->if_contains("value")) {
      NodePtr inner = compileStringOrDirective(*value, join(at, "value"), "@case value");
      if (!inner) return nullptr;
      if (specTruthy(*value)) node->value = std::move(inner);
    }
    return node;
  }

  NodePtr compileReplace(const json::value& v, const std::string& at) {
    const json::object* o = options(
        v, at, "@replace",
        {"pattern", "replacement", "pattern2", "replacement2", "value", "global", "ignorecase"});
    if (!o) return nullptr;
    auto node = std::make_unique<ReplaceNode>();
    auto rule = [&](const char* pkey, const char* rkey, bool required) -> int {
      const json::value* p = o->if_contains(pkey);
      const json::value* r = o->if_contains(rkey);
      if (!p || !specTruthy(*p)) {
        if (required) {
          error(join(at, pkey), std::string("@replace needs a non-empty \"") + pkey + "\"");
          return -1;
        }
        return 0;
      }
      if (!p->is_string()) {
        error(join(at, pkey), std::string("must be a string, not ") + kindName(*p));
        return -1;
      }
      if (utf16Length(p->get_string()) > 10) {
        error(join(at, pkey), "must be at most 10 characters");
        return -1;
      }
      ReplaceNode::Rule out;
      out.pattern = std::string(p->get_string());
      if (r && !r->is_null()) {
        if (!r->is_string()) {
          // mapping-kit skips a second rule whose replacement is not a string, and rejects such
          // a first rule.
          if (required) {
            error(join(at, rkey), std::string("must be a string, not ") + kindName(*r));
            return -1;
          }
          return 0;
        }
        if (utf16Length(r->get_string()) > 10) {
          error(join(at, rkey), "must be at most 10 characters");
          return -1;
        }
        out.replacement = std::string(r->get_string());
      }
      out.has_specials = out.replacement.find('$') != std::string::npos;
      for (size_t i = 0; i < out.pattern.size();) {
        out.folded_pattern.push_back(foldCase(decodeUtf8(out.pattern, i)));
      }
      node->rules.push_back(std::move(out));
      return 1;
    };
    if (rule("pattern", "replacement", true) < 0) return nullptr;
    if (rule("pattern2", "replacement2", false) < 0) return nullptr;
    for (const char* key : {"global", "ignorecase"}) {
      const json::value* b = o->if_contains(key);
      if (b && !b->is_null() && !b->is_bool()) {
        return error(join(at, key), std::string("must be a boolean, not ") + kindName(*b));
      }
    }
    if (const json::value* g = o->if_contains("global"); g && g->is_bool()) {
      node->global = g->get_bool();
    }
    if (const json::value* i = o->if_contains("ignorecase"); i && i->is_bool()) {
      node->ignorecase = i->get_bool();
    }
    const json::value* value = o->if_contains("value");
    if (!value) return error(at, "@replace needs a \"value\"");
    NodePtr inner = compileStringOrDirective(*value, join(at, "value"), "@replace value");
    if (!inner) return nullptr;
    if (specTruthy(*value)) node->value = std::move(inner);
    return node;
  }

  NodePtr compileJson(const json::value& v, const std::string& at) {
    const json::object* o = options(v, at, "@json", {"mode", "value"});
    if (!o) return nullptr;
    auto node = std::make_unique<JsonNode>();
    const json::value* mode = o->if_contains("mode");
    if (!mode || !mode->is_string()) {
      return error(join(at, "mode"), "@json needs \"mode\": \"encode\" or \"decode\"");
    }
    std::string lower = jsCase(mode->get_string(), false);
    if (lower != "encode" && lower != "decode") {
      return error(join(at, "mode"), "@json needs \"mode\": \"encode\" or \"decode\"");
    }
    // mapping-kit accepts any letter case here but then acts only on the exact words.
    if (mode->get_string() == "encode") node->mode = JsonNode::Mode::kEncode;
    if (mode->get_string() == "decode") node->mode = JsonNode::Mode::kDecode;
    const json::value* value = o->if_contains("value");
    if (!value || !specTruthy(*value)) return error(at, "@json needs a non-empty \"value\"");
    node->value = compile(*value, join(at, "value"));
    if (!node->value) return nullptr;
    return node;
  }

  NodePtr compileFlatten(const json::value& v, const std::string& at) {
    const json::object* o = options(v, at, "@flatten", {"separator", "value", "omitArrays"});
    if (!o) return nullptr;
    auto node = std::make_unique<FlattenNode>();
    const json::value* sep = o->if_contains("separator");
    if (!sep || !sep->is_string() || sep->get_string().empty()) {
      return error(join(at, "separator"), "@flatten needs a non-empty string \"separator\"");
    }
    node->separator = std::string(sep->get_string());
    if (const json::value* omit = o->if_contains("omitArrays")) {
      node->omit_arrays = specTruthy(*omit);
    }
    const json::value* value = o->if_contains("value");
    if (!value) return error(at, "@flatten needs a \"value\"");
    node->value = compile(*value, join(at, "value"));
    if (!node->value) return nullptr;
    return node;
  }

  NodePtr compileMerge(const json::value& v, const std::string& at) {
    const json::object* o = options(v, at, "@merge", {"objects", "direction"});
    if (!o) return nullptr;
    auto node = std::make_unique<MergeNode>();
    const json::value* dir = o->if_contains("direction");
    if (!dir || !dir->is_string()) {
      return error(join(at, "direction"), "@merge needs \"direction\": \"left\" or \"right\"");
    }
    std::string lower = jsCase(dir->get_string(), false);
    if (lower != "left" && lower != "right") {
      return error(join(at, "direction"), "@merge needs \"direction\": \"left\" or \"right\"");
    }
    node->left = dir->get_string() == "left";  // as mapping-kit compares
    const json::value* objects = o->if_contains("objects");
    if (!objects || !objects->is_array()) {
      return error(join(at, "objects"), "@merge needs an array \"objects\"");
    }
    const json::array& a = objects->get_array();
    for (size_t i = 0; i < a.size(); ++i) {
      std::string here = join(at, "objects") + "[" + std::to_string(i) + "]";
      if (!a[i].is_object()) {
        return error(here, std::string("must be an object or a directive, not ") + kindName(a[i]));
      }
      NodePtr child = compile(a[i], here);
      if (!child) return nullptr;
      node->objects.push_back(std::move(child));
    }
    return node;
  }

  static constexpr int kMaxDepth = 64;
  std::string error_;
  int depth_ = 0;
  int item_scope_ = 0;
  PathTrie& trie_;
};

}  // namespace

PathTable::PathTable() : trie_(std::make_shared<PathTrie>()) {}
PathTable::PathTable(PathTable&&) noexcept = default;
PathTable& PathTable::operator=(PathTable&&) noexcept = default;
PathTable::~PathTable() = default;

Result<Mapping> Mapping::compile(const boost::json::value& spec) {
  PathTable own;
  return compile(spec, own);
}

Result<Mapping> Mapping::compile(const boost::json::value& spec, PathTable& paths) {
  if (!spec.is_object()) {
    return fail(ErrorCode::kInvalidArgument, "mapping: must be an object");
  }
  Compiler compiler(*paths.trie_);
  auto inner = compiler.compileRoot(spec);
  if (!inner) return fail(std::move(inner.error()));
  paths.trie_->finalize();
  auto root = std::make_unique<RootNode>();
  root->inner = std::move(*inner);
  root->trie = paths.trie_;
  root->object = dynamic_cast<const ObjectNode*>(root->inner.get());
  if (const ObjectNode* obj = root->object) {
    for (const auto& field : obj->fields) root->keys.push_back(field.first);
  } else if (auto* constant = dynamic_cast<const ConstNode*>(root->inner.get());
             constant && constant->value.is_object()) {
    for (const auto& kv : constant->value.get_object()) root->keys.emplace_back(kv.key());
  }
  Mapping m;
  m.root_ = std::move(root);
  return m;
}

namespace {

// Points `ctx` at the root's trie and this thread's memo, invalidating the memo's entries.
void beginApply(Ctx& ctx, const RootNode& root, simdjson::dom::element event) {
  thread_local TrieScratch scratch;
  size_t n = root.trie->hot.size();
  if (scratch.marks.size() < n) {
    scratch.marks.resize(n, 0);
    scratch.views.resize(n);
  }
  if (++scratch.gen == TrieScratch::kGenerations) {
    std::fill(scratch.marks.begin(), scratch.marks.end(), 0);
    scratch.gen = 1;
  }
  scratch.cur = scratch.gen << 3;
  ctx.trie = root.trie.get();
  ctx.scratch = &scratch;
  ctx.root = View::of(event);
}

}  // namespace

size_t Mapping::fieldCount() const {
  return root_ ? static_cast<const RootNode&>(*root_).keys.size() : 0;
}

std::string_view Mapping::fieldKey(size_t index) const {
  return static_cast<const RootNode&>(*root_).keys[index];
}

void Mapping::applyFields(simdjson::dom::element event, const boost::json::storage_ptr& storage,
                          FieldSink& sink) const {
  if (!root_) return;
  const auto& root = static_cast<const RootNode&>(*root_);
  if (root.keys.empty()) return;
  Ctx ctx{storage};
  beginApply(ctx, root, event);
  if (const ObjectNode* obj = root.object) {
    const bool viewObjects = ctx.sp.is_deallocate_trivial();  // see the header
    for (size_t i = 0; i < obj->fields.size(); ++i) {
      View view;
      if (const uint8_t r = obj->resolveField(ctx, i, view)) {
        if (r == kTrieUndefined) continue;
        if (r == kTrieView && !view.j) {
          sink.field(i, view.e);  // the event's own value: not copied
          continue;
        }
        // a computed value: as any other field below
      } else if (viewObjects) {
        ViewObjects objects;
        if (obj->fields[i].second->evalViewObjects(ctx, View::of(event), objects)) {
          sink.field(i, objects);
          continue;
        }
      }
      Val v = obj->field(ctx, i, View::of(event));
      if (v.isUndefined()) continue;
      if (v.kind == Val::Kind::kView && !v.view.j) {
        sink.field(i, v.view.e);  // the event's own value: not copied
        continue;
      }
      json::value out = materialize(std::move(v), ctx.sp);
      sink.field(i, out);
    }
    return;
  }
  const auto& constant = static_cast<const ConstNode&>(*root.inner);
  size_t i = 0;
  for (const auto& kv : constant.value.get_object()) {
    json::value out(kv.value(), ctx.sp);
    sink.field(i++, out);
  }
}

boost::json::object Mapping::apply(simdjson::dom::element event,
                                   boost::json::storage_ptr storage) const {
  Ctx ctx{std::move(storage)};
  if (!root_) return json::object(ctx.sp);
  const auto& root = static_cast<const RootNode&>(*root_);
  beginApply(ctx, root, event);
  if (const ObjectNode* obj = root.object) {
    return obj->build(ctx, View::of(event));
  }
  Val v = root.inner->eval(ctx, View::of(event));
  if (v.isUndefined()) return json::object(ctx.sp);
  json::value out = materialize(std::move(v), ctx.sp);
  if (!out.is_object()) return json::object(ctx.sp);
  return std::move(out.get_object());
}

boost::json::value copyEventValue(simdjson::dom::element value,
                                  const boost::json::storage_ptr& storage) {
  return elementToJson(value, storage);
}

boost::json::value copyEventObjects(const ViewObjects& objects,
                                    const boost::json::storage_ptr& storage) {
  auto copyObject = [&](std::span<const ViewMember> members) {
    json::object out(storage);
    if (!members.empty()) out.reserve(members.size());
    for (const ViewMember& member : members) {
      emplaceInto(out, member.key, Val::of(View::of(member.value)), storage);
    }
    return json::value(std::move(out));
  };
  if (!objects.array) return copyObject(objects.object(0));
  json::array out(storage);
  out.reserve(objects.count);
  for (size_t k = 0; k < objects.count; ++k) out.push_back(copyObject(objects.object(k)));
  return json::value(std::move(out));
}

Mapping::Mapping(Mapping&&) noexcept = default;
Mapping& Mapping::operator=(Mapping&&) noexcept = default;
Mapping::~Mapping() = default;

}  // namespace sluice::mapping
