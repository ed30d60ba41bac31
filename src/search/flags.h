// flags.h — the search constants as command-line flags, parsed in one place for `berry solve` and
// `berry eval`, so that an evaluation runs exactly the search a solve would (same flags, same defaults).
//
//   berry_search_flags o;
//   berry_search_flags_init(&o, BERRY_SEARCH_SR_MCTS);
//   for (int i = 1; i < argc; i++) {
//       int r = berry_search_flag(&o, argc, argv, &i, err, sizeof err);
//       if (r < 0) fail(err);      // a missing or bad value
//       if (r > 0) continue;       // consumed (with its value)
//       ... the command's own flags ...
//   }
//   berry_search_flags_finish(&o); // per-role temperatures last, over any global one
#ifndef BERRY_SEARCH_FLAGS_H
#define BERRY_SEARCH_FLAGS_H
#include "search/search.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct {
    berry_search_params sp;        // berry_search_defaults(method), then the flags
    const char *prm_path;          // --prm MODEL: a separate pairwise reward model, or NULL
    bool rollouts_set;             // --rollouts was given
    bool no_prefix_cache;          // --no-prefix-cache
    int kv_page;                   // --kv-page N: positions per KV page (0: the lm's default)
    bool batch_flag;               // also read `--batch B` as --expand-batch (solve; eval's --batch is its own)
    double role_temp[4];           // --solve-temp, --critique-temp, --rewrite-temp, --eval-temp; < 0 unset
} berry_search_flags;

void berry_search_flags_init(berry_search_flags *o, berry_search_method method);

// Looks at ARGV[*I]: a search flag is consumed with its value (*I moves past the value) and 1 returned;
// 0 when it is not one of them; -1 with ERR set ("--alpha expects a number in [0, 1], got 'x'") for a
// missing or bad value.
int berry_search_flag(berry_search_flags *o, int argc, char **argv, int *i, char *err, size_t err_size);

// Sets every role's temperature to T (a command's --temp), before berry_search_flags_finish.
void berry_search_flags_temperature(berry_search_flags *o, double t);

// Applies the per-role temperatures.
void berry_search_flags_finish(berry_search_flags *o);

// The help lines of these flags, for a command's usage text.
extern const char berry_search_flags_help[];

#endif
