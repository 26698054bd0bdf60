// The sigmoid networks and trainers of the Python module (one translation unit per activation, so
// they compile in parallel).
#include "network_of.hpp"

namespace neuroplast::python {
template std::unique_ptr<AnyNetwork> make_network<Sigmoid>(std::vector<Index>, std::uint64_t);
template std::unique_ptr<AnyNetwork> load_network<Sigmoid>(std::span<const unsigned char>,
                                                           const std::string&);
}  // namespace neuroplast::python
