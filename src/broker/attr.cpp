// Broker attribute store.
#include "attr.hpp"

#include <cmath>
#include <cstdlib>

namespace flux::broker {

void Attributes::set_initial(const std::string& name, std::string value)
{
    attrs_[name].value = std::move(value);
}

void Attributes::set_internal(const std::string& name, std::string value, unsigned flags)
{
    auto& v = attrs_[name];
    v.value = std::move(value);
    v.flags = flags;
}

Result<void> Attributes::set_runtime(const std::string& name, std::string value)
{
    auto it = attrs_.find(name);
    if (it != attrs_.end() && (it->second.flags & (immutable | readonly)))
        return fail(EPERM, "attribute '" + name + "' cannot be changed at run time");
    attrs_[name].value = std::move(value);
    return {};
}

Result<void> Attributes::remove(const std::string& name)
{
    auto it = attrs_.find(name);
    if (it == attrs_.end())
        return fail(ENOENT, "no such attribute '" + name + "'");
    if (it->second.flags & (immutable | readonly))
        return fail(EPERM, "attribute '" + name + "' cannot be removed");
    attrs_.erase(it);
    return {};
}

std::optional<std::string> Attributes::get(const std::string& name) const
{
    auto it = attrs_.find(name);
    if (it == attrs_.end())
        return std::nullopt;
    return it->second.value;
}

std::string Attributes::get_or(const std::string& name, std::string dflt) const
{
    auto v = get(name);
    return v ? *v : dflt;
}

void Attributes::freeze(const std::string& name)
{
    auto it = attrs_.find(name);
    if (it != attrs_.end())
        it->second.flags |= immutable;
}

std::vector<std::pair<std::string, std::string>> Attributes::list() const
{
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(attrs_.size());
    for (const auto& [k, v] : attrs_)
        out.emplace_back(k, v.value);
    return out;
}

Result<double> Attributes::get_number(const std::string& name, double dflt, double lo, double hi) const
{
    auto v = get(name);
    if (!v)
        return dflt;
    char* end = nullptr;
    double d = std::strtod(v->c_str(), &end);
    if (v->empty() || *end != '\0' || std::isnan(d) || d < lo || d > hi)
        return fail(EINVAL, "attribute " + name + ": invalid value '" + *v + "' (expected a number from " +
                                std::to_string(static_cast<long long>(lo)) + " to " +
                                std::to_string(static_cast<long long>(hi)) + ")");
    return d;
}

unsigned Attributes::flags(const std::string& name) const
{
    auto it = attrs_.find(name);
    return it == attrs_.end() ? 0 : it->second.flags;
}

}  // namespace flux::broker
