// critique.h — whether a critique in the embedded model's format holds up against the solution and the
// question it is about, checked with exact arithmetic. Nothing but those three texts is read: no
// reference answer, so the search may use it.
//
// A critique names the first wrong step K and says why, in one of the forms that `berry synth` writes
// (src/data/synth.c). Each form makes claims that can be checked:
//
//   slip       "Step K is wrong: A op B is C, not D."        step K reads "A op B = D", and A op B = C
//   misread    "... it uses X, but the question says Y. The correct step is E."
//                                                            X is an operand of step K, Y is in the
//                                                            question and an operand of E, E is true
//   wrong op   "... it should V1, not V2, because .... The correct step is E."
//                                                            step K's operation is V2's, E's is V1's,
//                                                            E is true
//   dropped    "... a step is missing before it, because .... The missing step is E."   E is true
//   repeated   "... it repeats step J, which must be done only once."
//                                                            J < K, and step K applies step J's
//                                                            operation and second operand again
//
// and steps 1 .. K of the solution must be there, as "Step I: A op B = C ..." lines. The tiny model's
// critiques of its own solutions mostly fail these checks (a stated step "3 - 14 = 11", a slip quoted
// from no step): the search then does not follow them literally (berry_role_rewrite_start).
#ifndef BERRY_CRITIQUE_H
#define BERRY_CRITIQUE_H
#include <stdbool.h>
#include <stddef.h>

// True when CRITIQUE names a step of SOLUTION and every claim its form makes holds (above). Then FIX
// (FIX_SIZE bytes, or NULL) receives the step the critique states, "A op B = C" (a slip's right
// equation, or E), or "" for a repeated step, which states none; a fix that does not fit is false.
bool berry_critique_holds(const char *question, const char *solution, const char *critique, char *fix, size_t fix_size);

#endif
