// extract.c — final-answer extraction from solution text.
#include "math/extract.h"
#include "base/alloc.h"
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

// The trimmed copy of S[b..e): spaces, '$' and a final '.' removed.
static char *trimmed(const char *s, size_t b, size_t e) {
    while (b < e && (isspace((unsigned char)s[b]) || s[b] == '$' || s[b] == ':')) b++;
    while (e > b && (isspace((unsigned char)s[e - 1]) || s[e - 1] == '$' || s[e - 1] == '.')) e--;
    if (e == b) return NULL;
    return berry_strndup(s + b, e - b);
}

// Occurrence of W (ASCII, case-insensitive when FOLD) starting at I.
static bool at(const char *s, size_t n, size_t i, const char *w, bool fold) {
    size_t m = strlen(w);
    if (n - i < m) return false;
    for (size_t k = 0; k < m; k++) {
        char c = s[i + k];
        if (fold) c = (char)tolower((unsigned char)c);
        if (c != w[k]) return false;
    }
    return true;
}

// Contents of the braced group opening at S[I] == '{', matched iteratively (\{ and \} do not count).
static bool group(const char *s, size_t n, size_t i, size_t *b, size_t *e) {
    size_t depth = 0;
    for (size_t j = i; j < n; j++) {
        if (s[j] == '\\' && j + 1 < n) { j++; continue; }
        if (s[j] == '{') depth++;
        else if (s[j] == '}' && --depth == 0) {
            *b = i + 1;
            *e = j;
            return true;
        }
    }
    return false;
}

char *berry_math_extract_boxed(const char *s, size_t n) {
    // Scan backwards for the last \boxed or \fbox whose group is balanced.
    for (size_t i = n; i-- > 0;) {
        if (s[i] != '\\') continue;
        size_t k;
        if (at(s, n, i, "\\boxed", false)) k = i + 6;
        else if (at(s, n, i, "\\fbox", false)) k = i + 5;
        else continue;
        while (k < n && s[k] == ' ') k++;
        if (k < n && s[k] == '{') {
            size_t b, e;
            if (group(s, n, k, &b, &e)) {
                char *r = trimmed(s, b, e);
                if (r) return r;
            }
            // The last box is unclosed (a truncated output): no answer. Trying earlier boxes would
            // rescan to the end from each, quadratic on hostile text.
            return NULL;
        } else if (k < n && k > (s[i + 1] == 'b' ? i + 6 : i + 5)) {
            // "\boxed 5": the next token.
            size_t e = k;
            while (e < n && !isspace((unsigned char)s[e]) && s[e] != '$') e++;
            char *r = trimmed(s, k, e);
            if (r) return r;
        }
    }
    return NULL;
}

// The text after the last "answer is" (or "answer:"), up to the end of its line or sentence.
static char *after_phrase(const char *s, size_t n) {
    static const char *const phrases[] = {"answer is", "answer:", NULL};
    size_t best = (size_t)-1;
    for (size_t i = 0; i < n; i++)
        for (int p = 0; phrases[p]; p++)
            if ((s[i] == 'a' || s[i] == 'A') && at(s, n, i, phrases[p], true)) best = i + strlen(phrases[p]);
    if (best == (size_t)-1) return NULL;
    size_t e = best;
    while (e < n && s[e] != '\n') {
        // A sentence ends at ". " (a decimal point is followed by a digit).
        if (s[e] == '.' && (e + 1 == n || isspace((unsigned char)s[e + 1]))) break;
        e++;
    }
    return trimmed(s, best, e);
}

static char *after_hashes(const char *s, size_t n) {
    size_t best = (size_t)-1;
    for (size_t i = 0; i + 4 <= n; i++)
        if (at(s, n, i, "####", false)) { best = i + 4; i += 3; }
    if (best == (size_t)-1) return NULL;
    size_t e = best;
    while (e < n && s[e] != '\n') e++;
    char *r = trimmed(s, best, e);
    if (!r) return NULL;
    // GSM8K writes "#### 1,000" rarely and "#### $18" never, but models do: strip '$' and commas.
    size_t k = 0;
    for (size_t i = 0; r[i]; i++)
        if (r[i] != ',' && r[i] != '$') r[k++] = r[i];
    r[k] = 0;
    return r;
}

// The last number: -?digits with thousands commas, optional decimals (INTEGER: no decimals).
static char *last_number(const char *s, size_t n, bool integer) {
    size_t i = n;
    while (i > 0 && !isdigit((unsigned char)s[i - 1])) i--;
    if (i == 0) return NULL;
    size_t e = i, b = i;
    for (;;) {
        while (b > 0 && isdigit((unsigned char)s[b - 1])) b--;
        // Thousands separator: ',' with digits on both sides; decimal point likewise.
        if (b >= 2 && (s[b - 1] == ',' || (s[b - 1] == '.' && !integer)) && isdigit((unsigned char)s[b - 2])) { b--; continue; }
        break;
    }
    if (integer) {
        // "3.5" ends in the integer 5 otherwise; take no part of a decimal.
        if (b >= 2 && s[b - 1] == '.' && isdigit((unsigned char)s[b - 2])) return NULL;
    }
    if (b > 0 && s[b - 1] == '-') b--;
    char *r = berry_strndup(s + b, e - b);
    if (!r) return NULL;
    size_t k = 0;
    for (size_t j = 0; r[j]; j++)
        if (r[j] != ',') r[k++] = r[j];
    r[k] = 0;
    return r;
}

char *berry_math_extract(const char *s, size_t n, berry_extract_mode mode) {
    if (!s) return NULL;
    char *r = berry_math_extract_boxed(s, n);
    if (!r) r = after_phrase(s, n);
    if (!r) r = after_hashes(s, n);
    if (!r && mode != BERRY_EXTRACT_MARKED) r = last_number(s, n, mode == BERRY_EXTRACT_INTEGER);
    return r;
}
