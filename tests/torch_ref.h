// torch_ref.h — the PyTorch forward reference (tests/ref/forward.py) for the forward tests, and the
// two distances they compare logits with.
#ifndef BERRY_TORCH_REF_H
#define BERRY_TORCH_REF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Runs tests/ref/forward.py on MODEL for N_SEQS sequences (LLAMA3: its --llama3 rope-scaling argument
// or NULL; ACT_QUANT: round activations as berry's kernels do); REF gets (sum of lens, n_vocab) floats.
// Returns 0, 77 (reference unavailable: skip) or another status (failure; the script's output is
// printed).
int berry_test_torch_forward(const char *model, const int32_t *const *seqs, const int *lens, int n_seqs,
                             const char *llama3, bool act_quant, float *ref, size_t n_ref);

double berry_test_max_abs(const float *a, size_t n);
double berry_test_max_diff(const float *a, const float *b, size_t n);

#endif
