// A user's program, built by both consumer projects: against an installed neuroplast
// (find_package) and against the source tree (add_subdirectory).
#include <zlib.h>

#include <iostream>
#include <neuroplast/neuroplast.hpp>
#include <neuroplast/version.hpp>

static_assert(NEUROPLAST_VERSION >= NEUROPLAST_MAKE_VERSION(0, 1, 0));

int main() {
  neuroplast::Matrix<double> m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  const neuroplast::Vector<double> y = m * neuroplast::Vector<double>::Ones(3);  // row sums
  std::cout << "neuroplast " << NEUROPLAST_VERSION_STRING << " consumer: row sums " << y.transpose()
            << ", zlib " << zlibVersion() << '\n';
  return y(0) == 6.0 && y(1) == 15.0 ? 0 : 1;
}
