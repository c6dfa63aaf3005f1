/* Everything instrumented code needs: the trace API, contexts, baggage and propagation. */
#ifndef OTEL_OTEL_H
#define OTEL_OTEL_H

#include "otel/baggage.h"
#include "otel/common.h"
#include "otel/context.h"
#include "otel/propagation.h"
#include "otel/trace.h"
#include "otel/version.h"

#endif
