#!/usr/bin/env python3
"""Writes tests/data/chat_jinja_cases.json: small templates and what jinja2 renders for them in transformers'
environment (chat_template_utils._compile_jinja_template: ImmutableSandboxedEnvironment, trim_blocks,
lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False, ...), raise_exception). test_chat.c renders
each with sys2's interpreter and compares byte for byte. Run: python3 tests/chat_jinja_cases.py (jinja2 3.1)."""
import json, sys
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.ext import loopcontrols

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

M = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi ×\n there"},
     {"role": "assistant", "content": "Hello"}]
CASES = [
    # text, whitespace control, trim_blocks / lstrip_blocks
    ("plain text\n", {}),
    ("a\n  {% if true %}\n  b\n  {% endif %}\nc", {}),
    ("a  {%- if true -%}  b  {%- endif -%}  c", {}),
    ("a\n  {%+ if true %}b{% endif +%}\nc", {}),
    ("x {{- ' y ' -}} z", {}),
    ("a {# note #}\n  {#- gone -#}  b", {}),
    ("{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}\n", {}),
    ("  {{ 'keep' }}  \n", {}),
    # literals and printing
    ("{{ 1 }} {{ 1.5 }} {{ 2.0 }} {{ 1e-5 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ -3 }}", {}),
    ("{{ none }} {{ None }} {{ true }} {{ False }} {{ undefined_name }}|", {}),
    ("{{ [1, 'a', none, true, 2.5] }} {{ {'k': 'v', 'n': 1} }} {{ ('t',) }}", {}),
    ("{{ \"it's\" }} {{ ['it\\'s', \"q\\\"\"] }} {{ 'tab\\there' }} {{ 'a\\u00e9\\x41' }}", {}),
    ("{{ 'ab' 'cd' }}", {}),
    # arithmetic and operators
    ("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }}", {}),
    ("{{ 'a' + 'b' }} {{ 'a' ~ 1 ~ none }} {{ [1] + [2] }} {{ 'ab' * 3 }}", {}),
    ("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ [1,2] == [1,2] }}", {}),
    ("{{ 'b' in 'abc' }} {{ 2 in [1,2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ not 0 }}", {}),
    ("{{ 0 or 'x' }} {{ 1 and 'y' }} {{ '' or [] }} {{ none and 1 }}", {}),
    ("{{ 'yes' if x else 'no' }} {{ 'yes' if not x else 'no' }} [{{ 'a' if false }}]", {"x": 1}),
    ("{{ -x|abs }} {{ x|abs + 1 }} {{ messages|length - 1 }}", {"x": -4, "messages": M}),
    # subscripts, slices, attributes
    ("{{ s[0] }} {{ s[-1] }} {{ s[1:3] }} {{ s[::-1] }} {{ s[::2] }} {{ s[10] }}|", {"s": "h×llo"}),
    ("{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[-2:] }} {{ l[5:9] }}", {"l": [1, 2, 3, 4]}),
    ("{{ m.role }} {{ m['content'] }} {{ m.missing is defined }} {{ m.get('role') }} {{ m.get('x', 'd') }}",
     {"m": {"role": "user", "content": "hi"}}),
    ("{{ messages[0].role }}/{{ messages[1]['content'] }}/{{ messages[-1].content }}", {"messages": M}),
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %} {% for k in d %}{{ k }}{% endfor %} {{ d.keys() }} {{ d.values() }}",
     {"d": {"b": 1, "a": [2]}}),
    # loops
    ("{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
     "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", {"messages": M}),
    ("{% for x in xs %}{{ loop.previtem }}-{{ loop.nextitem }}|{% endfor %}", {"xs": ["a", "b", "c"]}),
    ("{% for x in xs if x > 1 %}{{ x }}{{ loop.last }}{% endfor %}", {"xs": [1, 2, 3]}),
    ("{% for x in [] %}never{% else %}empty{% endfor %}", {}),
    ("{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}", {}),
    ("{% for i in range(2) %}{% for j in range(2) %}{{ i }}{{ j }}{{ loop.cycle('a', 'b') }} {% endfor %}{% endfor %}", {}),
    ("{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(3, 0, -1)|list }}", {}),
    ("{% for c in 'a×b' %}[{{ c }}]{% endfor %}", {}),
    ("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", {}),
    # scoping: set inside a loop does not leak; namespace does
    ("{% set x = 1 %}{% for i in [1,2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}", {}),
    ("{% set ns = namespace(n=0, s='') %}{% for i in [1,2,3] %}{% set ns.n = ns.n + i %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.n }} {{ ns.s }}", {}),
    ("{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}", {}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = [3, 4] %}{% set d, e = c %}{{ d }}{{ e }}", {}),
    ("{% set block %}inner {{ 1 + 1 }}{% endset %}[{{ block }}]", {}),
    ("{% set messages = messages[1:] %}{{ messages|length }}", {"messages": M}),
    # macros
    ("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }}", {}),
    ("{% macro f(x) %}{% if x > 0 %}{{ x }}{{ f(x - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", {}),
    # tests
    ("{{ x is defined }} {{ y is undefined }} {{ n is none }} {{ n is not none }} {{ s is string }} {{ l is iterable }}",
     {"x": 1, "n": None, "s": "s", "l": []}),
    ("{{ 1 is number }} {{ 1 is integer }} {{ 1.0 is float }} {{ true is boolean }} {{ d is mapping }} {{ l is sequence }} {{ s is mapping }}",
     {"d": {}, "l": [1], "s": "x"}),
    ("{{ f is false }} {{ t is true }} {{ 0 is false }} {{ 4 is even }} {{ 3 is odd }} {{ 9 is divisibleby(3) }} {{ 2 is eq 2 }} {{ 'a' is in 'cat' }}",
     {"f": False, "t": True}),
    ("{{ range is callable }} {{ 'x' is callable }} {{ 'ab' is lower }} {{ 'AB' is upper }} {{ 2 is gt(1) }} {{ 2 is le 1 }}", {}),
    # filters
    ("[{{ '  x y \n'|trim }}] [{{ 'xxhixx'|trim('x') }}] {{ 'abc'|length }} {{ [1,2]|count }} {{ {'a':1}|length }} {{ undefined_thing|length }}", {}),
    ("{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ d|tojson(sort_keys=true) }}|{{ d|tojson(separators=(',', ':')) }}",
     {"d": {"z": [1, 2.5, None, True], "a": "é\"\\\n\t\u0001", "e": {}, "l": []}}),
    ("{{ [{'a': 1}, [2, []]]|tojson(indent=4) }} {{ 'x'|tojson }} {{ 3|tojson }} {{ none|tojson }}", {}),
    ("{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %} {{ d|list }} {{ 'ab'|list }} {{ [3,1]|first }} {{ [3,1]|last }} {{ 'xyz'|first }}",
     {"d": {"b": 1, "a": 2}}),
    ("{{ ['a','b']|join }} {{ ['a','b']|join(', ') }} {{ [1,2]|join('-') }} {{ messages|join('|', attribute='role') }}", {"messages": M}),
    ("{{ u|default('dflt') }} {{ ''|default('e') }} {{ ''|default('e', true) }} {{ none|d('n') }} {{ 0|default(5, boolean=true) }}", {}),
    ("{{ 'hELLo woRLD'|upper }} {{ 'hELLo woRLD'|lower }} {{ 'hELLo woRLD'|capitalize }} {{ 'hELLo woRLD'|title }}", {}),
    ("{{ 'a-b-c'|replace('-', '+') }} {{ 'a-b-c'|replace('-', '', 1) }} {{ 12|string ~ 'x' }} {{ '42'|int + 1 }} {{ '2.5'|float }} {{ 'x'|int }} {{ 3.9|int }}", {}),
    ("{{ [1,2,3]|reverse|list }} {{ 'abc'|reverse }} {{ [1,2,2,1]|unique|list }} {{ [1,2,3]|sum }} {{ 2.567|round(2) }} {{ 2.5|round }}", {}),
    ("{{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'eq', 'user')|map(attribute='role')|list }}",
     {"messages": M}),
    ("{{ [0, 1, '', 'a']|select|list }} {{ [1, 2, 3, 4]|reject('odd')|list }} {{ ['a', 'b']|map('upper')|list }}", {}),
    ("{{ messages|selectattr('tool_calls', 'defined')|list }} {{ messages|map(attribute='name', default='?')|list }}", {"messages": M}),
    ("{{ 'a\nb\n\nc'|indent(2) }}|{{ 'a\nb'|indent(2, true) }}|{{ {'b': 1, 'A': 2}|dictsort }} {{ 'one two  three'|wordcount }}", {}),
    # string methods
    ("{{ s.startswith('He') }} {{ s.endswith(('x', 'd')) }} {{ s.split() }} {{ s.split('l') }} {{ s.split('l', 1) }} {{ s.rsplit('l', 1) }}",
     {"s": "Hello world"}),
    ("[{{ s.strip() }}] [{{ s.lstrip() }}] [{{ s.rstrip() }}] [{{ s.strip(' \n<') }}] [{{ '\n\nx\n'.lstrip('\n') }}]", {"s": "\n <a> \t"}),
    ("{{ s.replace('o', '0') }} {{ s.upper() }} {{ s.lower() }} {{ s.title() }} {{ s.find('o') }} {{ s.rfind('o') }} {{ s.count('o') }} {{ s.find('z') }}",
     {"s": "foo bar"}),
    ("{{ '-'.join(['a', 'b']) }} {{ 'a\nb\r\nc\n'.splitlines() }} {{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ 'Ab'.capitalize() }}", {}),
    ("{{ c.split('</think>')[-1].lstrip('\n') }}|{{ c.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') }}",
     {"c": "<think>\nplan\n</think>\n\nanswer"}),
    ("{{ ' a  b '.split(none, 1) }} {{ ' a  b '.rsplit(none, 1) }} {{ 'a,b,,c'.split(',') }}", {}),
    # dict and list literals
    ("{% set d = {'a': [1, {'b': 2}], 'c': none} %}{{ d.a[1].b }} {{ d['c'] }} {{ d|tojson }}", {}),
    ("{{ dict(a=1, b='x') }} {{ namespace(a=1).a }}", {}),
    # undefined behaviour
    ("[{{ u }}] [{{ u ~ 'x' }}] {{ u is defined }} {{ u|default('d') }} {% for x in u %}never{% endfor %}{{ not u }}", {}),
    ("{{ none.attr is defined }} {{ 5.attr is defined }} {{ [1][5] is defined }} {{ {'a': 1}.b }}|", {}),
]

# the templates the shared vocabulary files carry (Phi-3's and the short Llama 3 one are in no reference file)
import os, struct
def gguf_str(path, key):
    b = open(path, "rb").read()
    k = key.encode()
    i = b.find(struct.pack("<Q", len(k)) + k)
    j = i + 8 + len(k)
    n = struct.unpack("<Q", b[j + 4:j + 12])[0]
    return b[j + 12:j + 12 + n].decode()
shared = os.environ.get("SYS2_SHARED", "../shared")
for name in ["phi-3", "llama-bpe"]:
    t = gguf_str("%s/vocab/ggml-vocab-%s.gguf" % (shared, name), "tokenizer.chat_template")
    for msgs in (M, M[1:], M[1:2]):
        for agp in (True, False):
            CASES.append((t, {"messages": msgs, "add_generation_prompt": agp, "bos_token": "<s>", "eos_token": "</s>"}))

out = []
for src, vars_ in CASES:
    out.append({"template": src, "vars": vars_, "expected": env.from_string(src).render(**vars_)})
json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
sys.stdout.write("\n")
