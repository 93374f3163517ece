// flux::Error helpers.
#include <flux/error.hpp>

#include <cstring>

namespace flux {

std::string Error::message() const
{
    if (!text.empty())
        return text;
    return std::strerror(errnum);
}

}  // namespace flux
