// Mapping directives with the semantics of Segment's mapping-kit: `@path`, `@if`, `@template`,
// `@arrayPath`, `@case`, `@replace`, `@literal`, `@json`, `@flatten`, `@merge`, `@excludeWhenNull`;
// plain values pass through. A mapping is compiled once (validated, paths pre-split) and applied to
// many events. Pure: no I/O.
#pragma once

#include <memory>
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
  };

  // The top-level keys of the mapping, in the mapping's order. None when the mapping's root is a
  // directive (`{"@path": ...}`) rather than a plain object.
  size_t fieldCount() const;
  std::string_view fieldKey(size_t index) const;

  // What apply() computes, without building the result object: each top-level field whose value
  // is defined goes to `sink`, in order, `index` being its position in fieldKey(); values of the
  // event are not copied (see FieldSink). Does nothing when fieldCount() is 0.
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

}  // namespace sluice::mapping
