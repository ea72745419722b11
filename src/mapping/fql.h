// FQL triggers ("Filter Query Language"), as Segment evaluates subscription triggers, with the
// deliberate difference D9: `and` binds tighter than `or`, parentheses group, and a trigger that
// cannot be parsed is rejected with the position of the problem. Pure: no I/O.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "core/result.h"

namespace sluice::mapping {

struct FqlNode;  // the parsed expression tree (fql.cpp)

class Trigger {
 public:
  // Parses `text`. On error the message reads `column N: <problem>` (1-based column in `text`).
  static Result<Trigger> parse(std::string_view text);

  // Whether `event` (a Segment event object) satisfies the trigger. Never fails: fields that do not
  // exist compare as FQL specifies.
  bool matches(simdjson::dom::element event) const;

  const std::string& text() const { return text_; }

  Trigger(Trigger&&) noexcept;
  Trigger& operator=(Trigger&&) noexcept;
  ~Trigger();

 private:
  Trigger() = default;
  std::string text_;
  std::unique_ptr<FqlNode> root_;
};

}  // namespace sluice::mapping
