// FQL triggers ("Filter Query Language"), as Segment evaluates subscription triggers, with the
// deliberate difference D9: `and` binds tighter than `or`, parentheses group, and a trigger that
// cannot be parsed is rejected with the position of the problem. Pure: no I/O.
#pragma once

#include <simdjson.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sluice::mapping {

struct FqlNode;  // the parsed expression tree (fql.cpp)

// The top-level fields of a Segment event that triggers read (`type`, `event`, `name`, `userId`,
// `properties`, `traits`, `context`), found in one pass over the event so that many triggers can
// be evaluated against the same event without looking them up again. Views into the event: valid
// while the event's document is.
class TriggerEvent {
 public:
  explicit TriggerEvent(simdjson::dom::element event);

 private:
  friend class Trigger;
  static constexpr size_t kFields = 7;
  simdjson::dom::element fields_[kFields];
  bool present_[kFields] = {};
};

class Trigger {
 public:
  // Parses `text`. On error the message reads `column N: <problem>` (1-based column in `text`).
  static Result<Trigger> parse(std::string_view text);

  // Whether `event` (a Segment event object) satisfies the trigger. Never fails: fields that do not
  // exist compare as FQL specifies.
  bool matches(simdjson::dom::element event) const;
  bool matches(const TriggerEvent& event) const;

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
