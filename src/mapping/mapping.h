// Mapping directives with the semantics of Segment's mapping-kit: `@path`, `@if`, `@template`,
// `@arrayPath`, `@case`, `@replace`, `@literal`, `@json`, `@flatten`, `@merge`, `@excludeWhenNull`;
// plain values pass through. A mapping is compiled once (validated, paths pre-split) and applied to
// many events. Pure: no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>
#include <simdjson.h>

#include "core/result.h"

namespace sluice::mapping {

struct CompiledNode;  // mapping.cpp
struct PathTrie;      // mapping.cpp

// The event paths of mappings compiled together (a destination's subscriptions), kept in one
// table: the paths they share are stored and matched once, and the table stays in cache while
// events rotate between the mappings. Compiling into a table changes it, so every mapping of a
// table is compiled before any of them is applied (apply() itself only reads the table). A
// mapping keeps its table alive; a failed compile may leave unused paths in it.
class PathTable {
 public:
  PathTable();
  PathTable(PathTable&&) noexcept;
  PathTable& operator=(PathTable&&) noexcept;
  ~PathTable();

 private:
  friend class Mapping;
  std::shared_ptr<PathTrie> trie_;
};

// A member of an object that a mapping built from the event's own values (see ViewObjects).
struct ViewMember {
  std::string_view key;          // the mapping's key; lives as long as the Mapping
  simdjson::dom::element value;  // a value of the event, unchanged
};

// Objects that a mapping built (a plain object of the mapping, or the items of an `@arrayPath`)
// whose defined values are all the event's own values, unchanged: object k's members, in the
// mapping's order and without the undefined ones, are object(k). copyEventObjects() gives what
// apply() would have built from them.
struct ViewObjects {
  const ViewMember* members = nullptr;
  const uint32_t* ends = nullptr;  // ends[k]: one past object k's last member in `members`
  size_t count = 0;                // the number of objects (1 when !array)
  bool array = false;              // the items of an @arrayPath, else one object

  std::span<const ViewMember> object(size_t k) const {
    uint32_t begin = k == 0 ? 0 : ends[k - 1];
    return {members + begin, ends[k] - begin};
  }
};

class Mapping {
 public:
  // Compiles a mapping: a JSON object whose values are plain values or directives. On error the
  // message names the JSON path of the offending directive, e.g. `email: @path must be a string`.
  // The mapping has a table of its own.
  static Result<Mapping> compile(const boost::json::value& spec);
  // The same, with its event paths added to `paths` (see PathTable).
  static Result<Mapping> compile(const boost::json::value& spec, PathTable& paths);

  // Resolves the mapping against `event`. Keys whose value resolves to "undefined" (a missing path,
  // an @if without a matching branch) are left out of the result, as mapping-kit does. The result
  // is allocated from `storage`.
  boost::json::object apply(simdjson::dom::element event,
                            boost::json::storage_ptr storage = {}) const;

  // Receives the top-level fields of a mapping one by one (see applyFields()). A field whose
  // value is a value of the event itself, unchanged (an `@path`, or an `@if` branch that is one),
  // arrives as a view of the event; any other value (computed by a directive, built by the
  // mapping, or a constant of the mapping) arrives as a Boost.JSON value.
  class FieldSink {
   public:
    virtual ~FieldSink() = default;
    // `value` views the event given to applyFields() and is valid as long as its parser's
    // document. Numbers in it are as the event wrote them: copyEventValue() gives what apply()
    // would have put in the result.
    virtual void field(size_t index, simdjson::dom::element value) = 0;
    // `value` is allocated from the storage given to applyFields() and may be moved from.
    virtual void field(size_t index, boost::json::value& value) = 0;
    // An object field, or an `@arrayPath` of object items, made only of the event's own values
    // (see applyFields() for when objects arrive so); its arrays are allocated from the storage.
    virtual void field(size_t index, const ViewObjects& objects) = 0;
  };

  // The top-level keys of the mapping, in the mapping's order. None when the mapping's root is a
  // directive (`{"@path": ...}`) rather than a plain object.
  size_t fieldCount() const;
  std::string_view fieldKey(size_t index) const;

  // What apply() computes, without building the result object: each top-level field whose value
  // is defined goes to `sink`, in order, `index` being its position in fieldKey(); values of the
  // event are not copied (see FieldSink). When `storage` never frees (is_deallocate_trivial(), a
  // monotonic_resource), a top-level plain object whose defined values are all values of the
  // event, and an `@arrayPath` whose items all are such objects of event elements, arrive as
  // ViewObjects allocated from it; with any other storage, or when one value is computed, they
  // arrive as Boost.JSON values (re-evaluated then: directives have no side effects). Does
  // nothing when fieldCount() is 0.
  void applyFields(simdjson::dom::element event, const boost::json::storage_ptr& storage,
                   FieldSink& sink) const;

  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;
  ~Mapping();

 private:
  Mapping() = default;
  std::unique_ptr<CompiledNode> root_;
};

// A value of the event as apply() copies it into a result: numbers as JavaScript holds them
// (integral values within 2^53 as int64, everything else double), strings, arrays and objects
// copied into `storage` (scalars allocate nothing).
boost::json::value copyEventValue(simdjson::dom::element value,
                                  const boost::json::storage_ptr& storage = {});

// The objects as apply() would have built them: an array of objects when `objects.array`, else
// the one object; values copied as copyEventValue() does.
boost::json::value copyEventObjects(const ViewObjects& objects,
                                    const boost::json::storage_ptr& storage = {});

}  // namespace sluice::mapping
