#!/usr/bin/python3
"""The SymPy side of bench/bench_grade.c: decides the same (answer, reference) pairs with SymPy and
prints "sympy: N pairs, E equal, T seconds". Input: a file of lines "answer\treference".

LaTeX is turned into SymPy syntax by a small converter (SymPy's own parse_latex needs antlr4, which
Debian's python3-sympy does not ship), then parsed with implicit multiplication and compared with
simplify(a - b) == 0, elementwise for tuples; strings that do not parse are compared as text. This is
the usual shape of a SymPy-based grader (as in the Qwen2.5-Math and PRM800K graders).
"""
import re
import sys
import time
import sympy as sp
from sympy.parsing.sympy_parser import parse_expr, standard_transformations, implicit_multiplication_application, convert_xor

T = standard_transformations + (implicit_multiplication_application, convert_xor)


def group(s, i):
    """Contents and end of the braced group starting at s[i] == '{'."""
    d = 0
    for j in range(i, len(s)):
        if s[j] == '{':
            d += 1
        elif s[j] == '}':
            d -= 1
            if d == 0:
                return s[i + 1:j], j + 1
    raise ValueError('unbalanced')


def arg(s, i):
    while i < len(s) and s[i] == ' ':
        i += 1
    if i < len(s) and s[i] == '{':
        return group(s, i)
    return s[i], i + 1


def to_sympy(s):
    s = s.strip().strip('$')
    for a, b in [('\\left', ''), ('\\right', ''), ('\\!', ''), ('\\,', ''), ('\\;', ''), ('\\dfrac', '\\frac'),
                 ('\\tfrac', '\\frac'), ('^\\circ', ''), ('^{\\circ}', ''), ('\\%', ''), ('\\$', ''), ('\\cdot', '*'),
                 ('\\times', '*'), ('\\pi', ' pi '), ('\\infty', ' oo '), ('\\le', '<='), ('\\ge', '>=')]:
        s = s.replace(a, b)
    s = re.sub(r'\\(text|mbox|textbf|mathrm)\{[^{}]*\}', '', s)
    out, i = '', 0
    while i < len(s):
        if s.startswith('\\frac', i):
            a, i = arg(s, i + 5)
            b, i = arg(s, i)
            out += f'(({to_sympy(a)})/({to_sympy(b)}))'
        elif s.startswith('\\sqrt', i):
            i += 5
            n = '2'
            if i < len(s) and s[i] == '[':
                j = s.index(']', i)
                n, i = s[i + 1:j], j + 1
            a, i = arg(s, i)
            out += f'(({to_sympy(a)})**(1/({to_sympy(n)})))'
        elif s[i] == '\\':
            m = re.match(r'\\([a-zA-Z]+)', s[i:])
            name = m.group(1) if m else s[i + 1:i + 2]
            out += ' ' + name + ' '
            i += 1 + len(name)
        elif s[i] == '{':
            out += '('
            i += 1
        elif s[i] == '}':
            out += ')'
            i += 1
        else:
            out += s[i]
            i += 1
    return out


def parse(s):
    return parse_expr(to_sympy(s), transformations=T, evaluate=True)


def equal(a, b):
    try:
        x, y = parse(a), parse(b)
        if isinstance(x, tuple) or isinstance(y, tuple):
            return isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y) and \
                all(sp.simplify(p - q) == 0 for p, q in zip(x, y))
        return sp.simplify(x - y) == 0
    except Exception:
        return a.replace(' ', '') == b.replace(' ', '')


pairs = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
t0 = time.time()
eq = sum(1 for a, b in pairs if equal(a, b))
dt = time.time() - t0
print(f'sympy: {len(pairs)} pairs, {eq} equal, {dt:.3f} seconds')
