#!/usr/bin/env python3
"""A differential fuzzer for sys2's Jinja interpreter (a developer's tool, not part of make test: it needs jinja2).
Builds random templates from the supported constructs, renders each with jinja2 in transformers' environment and
with `build/sys2 chat-template`, and reports every template where sys2 prints a different string, or prints one
where jinja2 fails. sys2 refusing where jinja2 renders is counted too (a refusal, not a wrong string).
Run from the repository root: python3 tests/chat_jinja_fuzz.py SEED COUNT"""
import json, os, random, subprocess, sys, tempfile
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols
def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)
def raise_exception(m): raise jinja2.exceptions.TemplateError(m)
env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson; env.globals["raise_exception"] = raise_exception
R = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
VARS = {"s": "Hé llo\n wörld ", "t": "a,b,,c", "n": 7, "f": 2.5, "z": 0, "l": [3, 1, "x", None, [1, 2]],
        "d": {"k": "v", "n": 1, "l": [1]}, "e": "", "m": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
def lit():
    return R.choice(["1", "0", "-3", "2.5", "1e3", "'a'", "'héllo'", '"x\\ny"', "none", "true", "false", "[1, 'b']", "{'a': 1}", "()", "(1,)", "''"])
def atom(d):
    if d > 3 or R.random() < 0.3: return R.choice([lit(), R.choice(list(VARS)), "undefined_v"])
    c = R.randrange(12)
    if c == 0: return "(%s %s %s)" % (atom(d+1), R.choice(["+", "-", "*", "/", "//", "%", "~", "**"]), atom(d+1))
    if c == 1: return "(%s %s %s)" % (atom(d+1), R.choice(["==", "!=", "<", ">", "<=", ">=", "in", "not in"]), atom(d+1))
    if c == 2: return "(%s %s %s)" % (atom(d+1), R.choice(["and", "or"]), atom(d+1))
    if c == 3: return "(not %s)" % atom(d+1)
    if c == 4: return "%s|%s" % (atom(d+1), R.choice(["trim", "length", "tojson", "list", "first", "last", "join(',')", "default('D')", "upper", "lower", "string", "int", "float", "abs", "reverse|list", "unique|list", "sum", "wordcount", "items|list", "capitalize", "title", "replace('l','L')", "indent(2)", "tojson(indent=2)", "select|list", "map('string')|list", "round(1)", "count", "dictsort"]))
    if c == 5: return "(%s is %s)" % (atom(d+1), R.choice(["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence", "boolean", "true", "false", "even", "odd", "not none", "callable"]))
    if c == 6: return "%s[%s]" % (atom(d+1), R.choice(["0", "-1", "1", "'k'", "'role'", "5"]))
    if c == 7: return "%s[%s]" % (atom(d+1), R.choice(["1:", ":-1", "::-1", "::2", "1:3", "-2:"]))
    if c == 8: return "%s.%s" % (atom(d+1), R.choice(["strip()", "split()", "split(',')", "upper()", "startswith('H')", "endswith(' ')", "lstrip('H')", "replace('o', '0')", "find('l')", "count('l')", "items()", "keys()", "values()", "get('k')", "role", "content", "k", "title()", "rsplit(',', 1)", "splitlines()"]))
    if c == 9: return "(%s if %s else %s)" % (atom(d+1), atom(d+1), atom(d+1))
    if c == 10: return "[%s, %s]" % (atom(d+1), atom(d+1))
    return "range(%d)|list" % R.randrange(4)
def stmt(d):
    c = R.randrange(7 if d < 3 else 3)
    if c == 0: return "{{ %s }}" % atom(0)
    if c == 1: return R.choice(["x", " ", "\n", "  \n", "text"])
    if c == 2: return "{%% set v%d = %s %%}{{ v%d }}" % (d, atom(1), d)
    if c == 3: return "{%% if %s %%}%s{%% else %%}%s{%% endif %%}" % (atom(1), body(d+1), body(d+1))
    if c == 4: return "{%% for it in %s %%}{{ loop.index }}{{ it }}%s{%% endfor %%}" % (R.choice(["l", "m", "s", "d", "range(3)", "t.split(',')"]), body(d+1))
    if c == 5: return "{%- if true -%}\n  " + body(d+1) + "\n{%- endif %}"
    return "{%% set ns = namespace(a=0) %%}{%% for i in range(3) %%}{%% set ns.a = ns.a + i %%}{%% endfor %%}{{ ns.a }}"
def body(d):
    return "".join(stmt(d) for _ in range(R.randrange(1, 4)))
cases = []
for i in range(int(sys.argv[2]) if len(sys.argv) > 2 else 200):
    src = body(0)
    try: exp = env.from_string(src).render(**VARS); ok = True
    except Exception as e: exp = "ERR %s: %s" % (type(e).__name__, e); ok = False
    cases.append({"template": src, "vars": VARS, "expected": exp, "ok": ok})
bad = 0
TMP = tempfile.mkdtemp(prefix='sys2-jinja-fuzz-')
open(os.path.join(TMP, 'empty.json'), 'w').write('[]')
for i, c in enumerate(cases):
    open(os.path.join(TMP, 't.jinja'), 'w').write(c['template'])
    cmd = [os.environ.get('SYS2_BIN', 'build/sys2'), 'chat-template', '--template-file', os.path.join(TMP, 't.jinja'), '--messages', os.path.join(TMP, 'empty.json')]
    for k, v in c['vars'].items(): cmd += ['--var', k + '=' + json.dumps(v, ensure_ascii=False)]
    r = subprocess.run(cmd, capture_output=True)
    out = r.stdout.decode('utf-8', 'replace')
    if c['ok'] and (r.returncode != 0 or out != c['expected']):
        bad += 1; print('MISMATCH', repr(c['template'])); print('  got', repr(out)[:300], r.stderr.decode().strip()[:200]); print('  exp', repr(c['expected'])[:300])
    elif not c['ok'] and r.returncode == 0:
        bad += 1; print('SHOULD FAIL', repr(c['template'])); print('  got', repr(out)); print('  jinja2:', c['expected'][:200])
print(len(cases), 'cases', bad, 'bad')
subprocess.run(['rm', '-rf', TMP])
sys.exit(1 if bad else 0)
