// Helpers shared by the librlist implementation files (not installed).
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

#include "flux/idset.hpp"

namespace flux::rlist_detail {

// An immutable, possibly shared id set; null means empty.
using SetPtr = std::shared_ptr<const IdSet>;

inline SetPtr share(IdSet ids)
{
    if (ids.empty())
        return nullptr;
    return std::make_shared<const IdSet>(std::move(ids));
}

const IdSet& deref(const SetPtr& p);

// Value equality (pointer equality is the fast path).
bool same_set(const SetPtr& a, const SetPtr& b);

std::size_t hash_set(const IdSet& s);

enum class SetOp { unite, subtract, intersect };

// Applies one set operation to pairs of shared sets. A repeated pair reuses
// the previous result, and a result equal to an operand reuses the operand,
// so ranks that shared sets before still share them after.
class SetOpCache {
public:
    explicit SetOpCache(SetOp op) : op_(op) {}
    SetPtr apply(const SetPtr& a, const SetPtr& b);

private:
    SetOp op_;
    SetPtr last_a_;  // held, so their addresses cannot be reused meanwhile
    SetPtr last_b_;
    SetPtr last_result_;
    bool valid_ = false;
};

// The first character RFC 20 forbids in a property name, or '\0'.
char invalid_property_char(std::string_view name);

}  // namespace flux::rlist_detail
