// Broker attributes (flux-broker-attributes(7)): named string values with
// rules for who may change them and when.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <flux/error.hpp>

namespace flux::broker {

class Attributes {
public:
    enum Flags : unsigned {
        none = 0,
        immutable = 1,  // fixed once the broker is running (set on the command line only)
        readonly = 2,   // never set by users, maintained by the broker
    };

    /// Set from the command line (-S NAME=VALUE) before start-up completes.
    void set_initial(const std::string& name, std::string value);
    /// Set by the broker itself (any attribute).
    void set_internal(const std::string& name, std::string value, unsigned flags = readonly);
    /// Set at run time by a user: refused for immutable/readonly ones.
    Result<void> set_runtime(const std::string& name, std::string value);
    Result<void> remove(const std::string& name);
    std::optional<std::string> get(const std::string& name) const;
    std::string get_or(const std::string& name, std::string dflt) const;
    /// Mark an attribute immutable (after start-up consumed it).
    void freeze(const std::string& name);
    std::vector<std::pair<std::string, std::string>> list() const;
    /// A numeric attribute in [lo, hi], or `dflt` when unset; EINVAL naming
    /// the attribute and the value when it is not a number in range.
    Result<double> get_number(const std::string& name, double dflt, double lo, double hi) const;
    unsigned flags(const std::string& name) const;

private:
    struct Value {
        std::string value;
        unsigned flags = 0;
    };
    std::map<std::string, Value> attrs_;
};

}  // namespace flux::broker
