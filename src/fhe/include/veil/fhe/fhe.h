// The FHE engine's public API: parameters, keys, encrypted integers and booleans.
// See docs/fhe.md for the scheme, the parameter sets and the noise reasoning.
#pragma once

#include "veil/fhe/keys.h"
#include "veil/fhe/params.h"
#include "veil/fhe/types.h"
#include "veil/fhe/diagnostics.h"
#include "veil/fhe/threshold.h"
