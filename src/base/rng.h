// rng.h — deterministic random streams. A stream is (seed, stream id); the same pair always gives the
// same numbers on every machine, so that runs, sampling and tests are reproducible. xoshiro256**
// seeded through splitmix64.
#ifndef BERRY_RNG_H
#define BERRY_RNG_H
#include <stdint.h>

typedef struct { uint64_t s[4]; } berry_rng;

void     berry_rng_seed(berry_rng *r, uint64_t seed, uint64_t stream);
uint64_t berry_rng_u64(berry_rng *r);
double   berry_rng_uniform(berry_rng *r);            // [0, 1), 53 bits
float    berry_rng_normal(berry_rng *r);             // standard normal (Box–Muller)
uint64_t berry_rng_below(berry_rng *r, uint64_t n);  // uniform in [0, n), unbiased; n > 0

#endif
