#!/bin/sh
# Runs the test binary of both builds (sanitized, then optimized) and prints one total line.
# The sanitized build catches memory and undefined-behaviour errors; the optimized one runs the
# SIMD kernels as users get them. A third pass runs the kernel, forward and lm tests of the optimized
# build on the scalar kernels (BERRY_SIMD=scalar), what a CPU without AVX2 gets.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 ; export ASAN_OPTIONS
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ; export UBSAN_OPTIONS
tp=0; tf=0; ts=0
for v in asan opt scalar; do
    if [ $v = scalar ]; then
        [ $# -eq 0 ] || continue
        echo "== opt build, scalar kernels"
        BERRY_SIMD=scalar ./build/opt/berry-tests tensor_ forward_ lm_ > build/opt/test-scalar.log 2>&1
        log=build/opt/test-scalar.log
    else
        echo "== $v build"
        ./build/$v/berry-tests "$@" > build/$v/test.log 2>&1
        log=build/$v/test.log
    fi
    cat $log
    last=$(tail -n 1 $log)
    p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1/p')
    f=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\2/p')
    s=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\3/p')
    if [ -z "$p" ]; then echo "the $v test binary did not finish"; p=0; f=$((f + 1)); s=0; fi
    tp=$((tp + p)); tf=$((tf + ${f:-1})); ts=$((ts + s))
done
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" -eq 0 ]
