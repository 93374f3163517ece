// libfmt's out-of-line functions, compiled into flux-shell: loading
// libfmt.so would also load the shared libstdc++, which the shell links
// statically (see CMakeLists.txt). Including format-inl.h without
// FMT_HEADER_ONLY emits those functions here, as libfmt's own build does.
#include <fmt/format-inl.h>

// Templates the headers declare but leave to the library to instantiate.
FMT_BEGIN_NAMESPACE
namespace detail {
template auto thousands_sep_impl<char>(locale_ref) -> thousands_sep_result<char>;
template auto decimal_point_impl<char>(locale_ref) -> char;
}  // namespace detail
FMT_END_NAMESPACE
