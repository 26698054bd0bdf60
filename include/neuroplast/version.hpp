#pragma once
/// \file
/// The library's version, for code that must compile against more than one release:
/// `#if NEUROPLAST_VERSION >= NEUROPLAST_MAKE_VERSION(0, 2, 0)`. CMake refuses to configure when
/// these numbers and the project's VERSION differ, so the two cannot drift apart.

/// Major version: incompatible API changes.
#define NEUROPLAST_VERSION_MAJOR 0
/// Minor version: additions that keep the API.
#define NEUROPLAST_VERSION_MINOR 1
/// Patch version: fixes only.
#define NEUROPLAST_VERSION_PATCH 0
/// One comparable number from a version: major × 10 000 + minor × 100 + patch.
#define NEUROPLAST_MAKE_VERSION(major, minor, patch) ((major)*10000 + (minor)*100 + (patch))
/// This version as one comparable number.
#define NEUROPLAST_VERSION                                                    \
  NEUROPLAST_MAKE_VERSION(NEUROPLAST_VERSION_MAJOR, NEUROPLAST_VERSION_MINOR, \
                          NEUROPLAST_VERSION_PATCH)
/// This version as text, "major.minor.patch".
#define NEUROPLAST_VERSION_STRING "0.1.0"
