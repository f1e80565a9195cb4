/* cmd_view.c: `sys2 view FILE.jsonl --item ID -o tree.html`: one item's search tree (from a run made with
 * --trace) as one self-contained HTML file: no network, no external script or style. The page shows each node's
 * step, score, prior, visits, value, depth and why it ended (expanded, pruned as duplicate / illegal / low score /
 * extra, cut by the budget, terminal right or wrong, or still open), the chosen path highlighted, the samples'
 * votes grouped by answer, collapsible subtrees and, on click, the path from the root to a node; the item's
 * counters on top. Opened as tree.html#selftest it checks itself (rendered nodes against the trace, a click shows
 * a path, no resource fetched) and writes the verdict into <pre id="selftest"> (tests/test_view.c). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_view(int argc, char **argv);

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data:\">\n<title>sys2 view</title>\n<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#111}\n"
    "h1{font-size:18px;margin:0 0 8px}\n"
    "table.counters{border-collapse:collapse;margin:6px 0 12px}\n"
    "table.counters td,table.counters th{border:1px solid #ccc;padding:2px 8px;text-align:left}\n"
    "#path{position:sticky;top:0;background:#f4f8fc;border:1px solid #0072B2;padding:6px 10px;margin:8px 0;"
    "white-space:pre-wrap;font-family:ui-monospace,monospace;min-height:1.4em}\n"
    "ul.tree{list-style:none;padding-left:18px;margin:0;border-left:1px dotted #bbb}\n"
    "ul.tree.root{border-left:none;padding-left:0}\n"
    "li.node{margin:2px 0}\n"
    ".card{display:inline-block;border:1px solid #ccc;border-radius:4px;padding:1px 6px;cursor:pointer;"
    "background:#fff}\n"
    ".card:hover{border-color:#0072B2}\n"
    "li.chosen>.card{border:2px solid #0072B2;background:#e8f1fa;font-weight:600}\n"
    "li.sel>.card{outline:2px dashed #D55E00}\n"
    ".caret{display:inline-block;width:14px;cursor:pointer;color:#555;user-select:none}\n"
    "li.collapsed>ul{display:none}\n"
    ".step{font-family:ui-monospace,monospace;white-space:pre-wrap}\n"
    ".meta{color:#555;font-size:12px;margin-left:6px}\n"
    ".end{font-size:11px;border-radius:3px;padding:0 4px;margin-left:6px;color:#fff}\n"
    ".e-expanded{background:#555}.e-open{background:#999}.e-right{background:#009E73}.e-wrong{background:#D55E00}\n"
    ".e-duplicate,.e-extra{background:#CC79A7}.e-illegal{background:#000}.e-low_score{background:#E69F00;color:#000}\n"
    ".e-budget{background:#56B4E9;color:#000}.e-rollout{background:#777}\n"
    "</style></head><body>\n<h1 id=\"title\"></h1>\n<table class=\"counters\" id=\"counters\"></table>\n"
    "<div id=\"votes\"></div>\n<div><button id=\"expand\">expand all</button> <button id=\"collapse\">collapse "
    "all</button> <button id=\"chosen\">only the chosen path</button></div>\n"
    "<div id=\"path\">click a node to see its path from the root</div>\n<div id=\"tree\"></div>\n"
    "<pre id=\"selftest\"></pre>\n<script type=\"application/json\" id=\"data\">";

/* The page's code: builds the tree with DOM calls and textContent only (step texts are data, never markup). */
static const char page_tail[] =
    "</script>\n<script>\n"
    "'use strict';\n"
    "const D = JSON.parse(document.getElementById('data').textContent);\n"
    "const T = D.trace || [];\n"
    "const byId = new Map(), kids = new Map();\n"
    "for (const n of T) { byId.set(n.id, n); kids.set(n.id, []); }\n"
    "for (const n of T) if (n.parent >= 0 && kids.has(n.parent)) kids.get(n.parent).push(n);\n"
    "function el(tag, cls, text) { const e = document.createElement(tag); if (cls) e.className = cls;"
    " if (text !== undefined) e.textContent = text; return e; }\n"
    "function ended(n) {\n"
    "  if (kids.get(n.id).length > 0) return 'expanded';\n"
    "  if (n.prune) return n.prune;\n"
    "  if (n.terminal) return n.correct === true ? 'right' : n.correct === false ? 'wrong' : 'terminal';\n"
    "  return 'open';\n}\n"
    "const endText = {expanded: 'expanded', open: 'open', right: 'terminal: right', wrong: 'terminal: wrong',"
    " terminal: 'terminal', duplicate: 'pruned: duplicate', illegal: 'pruned: illegal', low_score: 'pruned: low score',"
    " extra: 'pruned: past k', budget: 'cut by the budget', rollout: 'rollout step'};\n"
    "function fmt(x) { return typeof x === 'number' ? (Math.abs(x) >= 1000 || x === Math.round(x) ? String(x) :"
    " x.toPrecision(3)) : String(x); }\n"
    "function pathOf(n) { const p = []; for (let x = n; x; x = byId.get(x.parent)) p.push(x); return p.reverse(); }\n"
    "function showPath(n) {\n"
    "  const p = pathOf(n);\n"
    "  document.getElementById('path').textContent = 'path to node ' + n.id + ' (ids ' + p.map(x => x.id).join(' > ')"
    " + '):\\n' + p.filter(x => x.parent >= 0).map(x => x.step).join('');\n"
    "  for (const e of document.querySelectorAll('li.sel')) e.classList.remove('sel');\n"
    "  document.getElementById('n' + n.id).classList.add('sel');\n}\n"
    "function render(n) {\n"
    "  const li = el('li', 'node' + (n.chosen ? ' chosen' : '')); li.id = 'n' + n.id; li.dataset.id = n.id;\n"
    "  const ks = kids.get(n.id);\n"
    "  const caret = el('span', 'caret', ks.length ? '\\u25be' : '');\n"
    "  caret.addEventListener('click', ev => { ev.stopPropagation(); li.classList.toggle('collapsed');"
    " caret.textContent = li.classList.contains('collapsed') ? '\\u25b8' : '\\u25be'; });\n"
    "  li.appendChild(caret);\n"
    "  const card = el('span', 'card');\n"
    "  card.appendChild(el('span', 'step', n.parent < 0 ? '(prompt)' : (n.step || '(empty step)')));\n"
    "  const m = ['#' + n.id, 'depth ' + n.depth];\n"
    "  if (n.score !== undefined) m.push('score ' + fmt(n.score));\n"
    "  if (n.prior !== undefined) m.push('prior ' + fmt(n.prior));\n"
    "  if (n.visits !== undefined) m.push('visits ' + n.visits);\n"
    "  if (n.value !== undefined) m.push('value ' + fmt(n.value));\n"
    "  if (n.logprob !== undefined && n.parent >= 0) m.push('logprob ' + fmt(n.logprob));\n"
    "  if (n.spent !== undefined) m.push('at ' + fmt(n.spent) + ' tok');\n"
    "  card.appendChild(el('span', 'meta', m.join(' \\u00b7 ')));\n"
    "  const e = ended(n); card.appendChild(el('span', 'end e-' + e, endText[e] || e));\n"
    "  card.addEventListener('click', () => showPath(n));\n"
    "  li.appendChild(card);\n"
    "  if (ks.length) { const ul = el('ul', 'tree'); for (const k of ks) ul.appendChild(render(k)); li.appendChild(ul); }\n"
    "  return li;\n}\n"
    "document.getElementById('title').textContent = 'item ' + D.id + ': ' + (D.correct ? 'right' : 'wrong') +"
    " ' \\u2014 answer ' + (D.answer === null || D.answer === undefined ? '(none)' : D.answer);\n"
    "const C = document.getElementById('counters');\n"
    "function row(k, v) { const tr = el('tr'); tr.appendChild(el('th', '', k)); tr.appendChild(el('td', '', v));"
    " C.appendChild(tr); }\n"
    "row('run', D.run || ''); row('status', D.status + (D.reason ? ' (' + D.reason + ')' : ''));\n"
    "row('tokens', fmt(D.tokens)); row('FLOPs', Number(D.flops).toExponential(3)); row('calls', fmt(D.calls));\n"
    "if (D.tree) row('tree', Object.entries(D.tree).map(([k, v]) => k + ' ' + v).join(', '));\n"
    "row('wall s', fmt(D.wall_s));\n"
    "if (D.samples && D.samples.answer) {\n"
    "  const g = new Map(); const S = D.samples;\n"
    "  S.answer.forEach((a, i) => { const k = a === null ? '(no answer)' : a;"
    " if (!g.has(k)) g.set(k, {n: 0, ok: S.correct[i]}); g.get(k).n++; });\n"
    "  const V = document.getElementById('votes'); V.appendChild(el('b', '', 'votes by answer (' + S.answer.length +"
    " ' samples)'));\n"
    "  const t = el('table', 'counters'); t.id = 'votetable';\n"
    "  for (const [k, v] of [...g.entries()].sort((a, b) => b[1].n - a[1].n)) { const tr = el('tr');"
    " tr.appendChild(el('td', 'step', k)); tr.appendChild(el('td', '', String(v.n)));"
    " tr.appendChild(el('td', '', v.ok ? 'right' : 'wrong')); t.appendChild(tr); }\n"
    "  V.appendChild(t);\n}\n"
    "const rootUl = el('ul', 'tree root');\n"
    "for (const n of T) if (n.parent < 0 || !byId.has(n.parent)) rootUl.appendChild(render(n));\n"
    "document.getElementById('tree').appendChild(rootUl);\n"
    "document.getElementById('expand').onclick = () => { for (const e of document.querySelectorAll('li.collapsed'))"
    " e.classList.remove('collapsed'); };\n"
    "document.getElementById('collapse').onclick = () => { for (const e of document.querySelectorAll('li.node'))"
    " if (e.querySelector('ul')) e.classList.add('collapsed'); };\n"
    "document.getElementById('chosen').onclick = () => { for (const e of document.querySelectorAll('li.node'))"
    " e.classList.toggle('collapsed', !e.classList.contains('chosen')); };\n"
    "if (location.hash === '#selftest') {\n"
    "  const r = {trace: T.length, rendered: document.querySelectorAll('li.node').length,"
    " chosen_trace: T.filter(n => n.chosen).length, chosen_rendered: document.querySelectorAll('li.chosen').length};\n"
    "  let deep = null; for (const n of T) if (n.chosen && (!deep || n.depth > deep.depth)) deep = n;\n"
    "  if (deep) { document.querySelector('#n' + deep.id + ' > .card').click();"
    " const p = document.getElementById('path').textContent;\n"
    "    r.clicked = deep.id; r.path_shown = p.indexOf('path to node ' + deep.id) === 0 &&"
    " pathOf(deep).every(x => x.parent < 0 || p.indexOf(x.step) >= 0); }\n"
    "  r.resources = performance.getEntriesByType('resource').length;\n"
    "  r.ok = r.rendered === r.trace && r.chosen_rendered === r.chosen_trace && r.chosen_trace > 0 && r.path_shown"
    " === true && r.resources === 0;\n"
    "  document.getElementById('selftest').textContent = 'SELFTEST ' + JSON.stringify(r);\n}\n"
    "</script>\n</body></html>\n";

/* json_dumps with "</" written "<\/" (the same JSON), so that no text in the data can close the script element. */
static int write_data(FILE *f, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s == NULL) return 1;
    for (const char *p = s; *p; p++) {
        if (p[0] == '<' && p[1] == '/') fputs("<\\", f);
        else fputc(*p, f);
    }
    free(s);
    return 0;
}

int cmd_view(int argc, char **argv) {
    const char *in = NULL, *item = NULL, *outp = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        bool bad = false;
        if (cli_is_help(argv[i])) {
            printf("usage: sys2 view FILE.jsonl --item ID -o TREE.html\n"
                   "One item's search tree (a run made with --trace) as a self-contained HTML page: each node's step,\n"
                   "score, prior, visits, value, depth and why it ended; the chosen path highlighted; the samples'\n"
                   "votes by answer; collapsible subtrees; a click shows the path to a node. No network needed.\n\n"
                   "  --item ID         the item's id (as in the file's \"id\")\n"
                   "  -o, --out FILE    the HTML file to write\n");
            return 0;
        }
        if (cli_flag(argc, argv, &i, "--item", NULL, &v, &bad)) item = v;
        else if (cli_flag(argc, argv, &i, "--out", "-o", &v, &bad)) outp = v;
        else if (argv[i][0] == '-') return cli_usage("view", "unknown option '%s'", argv[i]);
        else if (in == NULL) in = argv[i];
        else return cli_usage("view", "one result file at a time ('%s' is a second)", argv[i]);
        if (bad) return 2;
    }
    if (in == NULL || item == NULL || outp == NULL) return cli_usage("view", "FILE, --item and -o are required");
    FILE *f = fopen(in, "r");
    if (f == NULL) {
        fprintf(stderr, "sys2 view: error: %s: ", in);
        perror(NULL);
        return 1;
    }
    char *line = NULL, run[300] = "";
    size_t cap = 0;
    json_t *hit = NULL;
    int lineno = 0;
    while (hit == NULL && getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        lineno++;
        if (o == NULL) continue; /* a torn line: not the one asked for */
        json_t *cfg = json_object_get(o, "sys2_run");
        if (lineno == 1 && cfg)
            snprintf(run, sizeof run, "%s, %s%s%s, scorer %s, budget %s, seed %lld",
                     cli_or(json_string_value(json_object_get(cfg, "task")), "?"),
                     cli_or(json_string_value(json_object_get(cfg, "search")), "?"),
                     json_object_get(cfg, "split") ? " on " : "",
                     cli_or(json_string_value(json_object_get(cfg, "split")), ""),
                     cli_or(json_string_value(json_object_get(cfg, "scorer")), "?"),
                     cli_or(json_string_value(json_object_get(cfg, "budget")), "?"),
                     (long long)json_integer_value(json_object_get(cfg, "seed")));
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id && strcmp(id, item) == 0) hit = o;
        else json_decref(o);
    }
    free(line);
    fclose(f);
    if (hit == NULL) {
        fprintf(stderr, "sys2 view: error: %s: no item with id '%s'\n", in, item);
        return 1;
    }
    if (!json_is_array(json_object_get(hit, "trace"))) {
        fprintf(stderr, "sys2 view: error: %s: item '%s' has no trace (run with --trace)\n", in, item);
        json_decref(hit);
        return 1;
    }
    json_object_set_new(hit, "run", json_string(run));
    json_object_del(hit, "text");
    FILE *w = fopen(outp, "w");
    if (w == NULL) {
        fprintf(stderr, "sys2 view: error: %s: ", outp);
        perror(NULL);
        json_decref(hit);
        return 1;
    }
    fputs(page_head, w);
    int rc = write_data(w, hit);
    fputs(page_tail, w);
    if (fclose(w) != 0 || rc != 0) {
        fprintf(stderr, "sys2 view: error: cannot write %s\n", outp);
        rc = 1;
    } else {
        fprintf(stderr, "wrote %s (%zu nodes)\n", outp, json_array_size(json_object_get(hit, "trace")));
    }
    json_decref(hit);
    return rc;
}
