// Version of the engine and server, recorded in job records and schedule provenance.
#ifndef VIDEOGEN_ENGINE_COMMON_VERSION_H_
#define VIDEOGEN_ENGINE_COMMON_VERSION_H_

namespace videogen {

inline constexpr char kVersion[] = "0.1.0";

}  // namespace videogen

#endif  // VIDEOGEN_ENGINE_COMMON_VERSION_H_
