/* Version of the otelc headers. Compare OTEL_VERSION_NUMBER (the headers you compiled against)
 * with otel_version_number() (the library loaded at run time) to detect a mismatch. */
#ifndef OTEL_VERSION_H
#define OTEL_VERSION_H

#define OTEL_VERSION_MAJOR 0
#define OTEL_VERSION_MINOR 1
#define OTEL_VERSION_PATCH 0
#define OTEL_VERSION_STRING "0.1.0"
/* 0xMMmmpp */
#define OTEL_VERSION_NUMBER ((OTEL_VERSION_MAJOR << 16) | (OTEL_VERSION_MINOR << 8) | OTEL_VERSION_PATCH)

#endif
