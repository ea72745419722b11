// Mapping directives with the semantics of Segment's mapping-kit: `@path`, `@if`, `@template`,
// `@arrayPath`, `@case`, `@replace`, `@literal`, `@json`, `@flatten`, `@merge`, `@excludeWhenNull`;
// plain values pass through. A mapping is compiled once (validated, paths pre-split) and applied to
// many events. Pure: no I/O.
#pragma once

#include <memory>
#include <string>

#include <boost/json/value.hpp>
#include <simdjson.h>

#include "core/result.h"

namespace sluice::mapping {

struct CompiledNode;  // mapping.cpp

class Mapping {
 public:
  // Compiles a mapping: a JSON object whose values are plain values or directives. On error the
  // message names the JSON path of the offending directive, e.g. `email: @path must be a string`.
  static Result<Mapping> compile(const boost::json::value& spec);

  // Resolves the mapping against `event`. Keys whose value resolves to "undefined" (a missing path,
  // an @if without a matching branch) are left out of the result, as mapping-kit does. The result
  // is allocated from `storage`.
  boost::json::object apply(simdjson::dom::element event,
                            boost::json::storage_ptr storage = {}) const;

  Mapping(Mapping&&) noexcept;
  Mapping& operator=(Mapping&&) noexcept;
  ~Mapping();

 private:
  Mapping() = default;
  std::unique_ptr<CompiledNode> root_;
};

}  // namespace sluice::mapping
