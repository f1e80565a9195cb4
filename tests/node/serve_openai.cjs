// serve_openai.cjs: `sys2 serve` through the official OpenAI Node SDK (the `openai` npm package), as a user's client
// would call it. Run by tests/test_http.c (test_http_serve_node_sdk) as
//   node tests/node/serve_openai.cjs BASE_URL MODEL_NAME NODE_MODULES_DIR
// against a server with --max-body 1048576. Prints one line per check and a closing "N passed, M failed"; exits 1
// when any check failed.
'use strict';
const path = require('path');

const [base, model, modules] = process.argv.slice(2);
const sdk = require(path.resolve(modules, 'openai'));
const OpenAI = sdk.OpenAI || sdk.default || sdk;
const client = new OpenAI({ baseURL: base, apiKey: 'sk-none', maxRetries: 0, timeout: 60000 });

let passed = 0, failed = 0;
function check(name, ok, detail) {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : ': ' + detail}`);
}

async function streamedText(stream, chat) {
  let text = '', finish = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    const c = chunk.choices && chunk.choices[0];
    if (!c) continue;
    text += (chat ? c.delta && c.delta.content : c.text) || '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  return { text, finish, chunks };
}

async function main() {
  const models = await client.models.list();
  check('models.list names --model-name', models.data.length === 1 && models.data[0].id === model,
        JSON.stringify(models.data));

  const req = { model, prompt: 'Once upon a time', max_tokens: 20, seed: 7, stop: ['.'] };
  const c1 = await client.completions.create(req);
  check('completions.create', typeof c1.choices[0].text === 'string' && c1.choices[0].text.length > 0 &&
        c1.usage.completion_tokens > 0 && c1.model === model, JSON.stringify(c1));

  const s1 = await streamedText(await client.completions.create({ ...req, stream: true }), false);
  check('completions stream equals the plain text', s1.text === c1.choices[0].text && s1.chunks > 1 &&
        s1.finish === c1.choices[0].finish_reason, JSON.stringify(s1) + ' vs ' + JSON.stringify(c1.choices[0]));

  const chatReq = { model, max_tokens: 12, seed: 3,
                    messages: [{ role: 'user', content: [{ type: 'text', text: 'Once upon' }, { type: 'text', text: ' a time' }] }] };
  const ch = await client.chat.completions.create(chatReq);
  const chs = await client.chat.completions.create({ ...chatReq, messages: [{ role: 'user', content: 'Once upon a time' }] });
  check('chat with content parts equals chat with a string', ch.choices[0].message.content === chs.choices[0].message.content &&
        ch.choices[0].message.role === 'assistant', JSON.stringify(ch.choices[0]) + ' vs ' + JSON.stringify(chs.choices[0]));

  const s2 = await streamedText(await client.chat.completions.create({ ...chatReq, stream: true }), true);
  check('chat stream equals the plain content', s2.text === ch.choices[0].message.content, JSON.stringify(s2));

  try {
    await client.completions.create({ model, prompt: 'x'.repeat(2 << 20), max_tokens: 1 });
    check('a 2 MB body is a 413', false, 'accepted');
  } catch (e) {
    check('a 2 MB body is a 413', e.status === 413, `${e.constructor.name} status ${e.status}: ${e.message}`);
  }
  try {
    await client.completions.create({ model, prompt: 'a', temperature: -1 });
    check('a bad request is a 400', false, 'accepted');
  } catch (e) {
    check('a bad request is a 400', e.status === 400 && /temperature/.test(e.message), `${e.status}: ${e.message}`);
  }

  const many = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 8, seed: i })));
  check('20 concurrent requests', many.length === 20 && many.every(r => r.choices.length === 1 && r.usage.completion_tokens > 0),
        JSON.stringify(many.map(r => r.usage)));
}

main().then(() => {
  console.log(`node openai sdk: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}, e => {
  console.log(`FAIL uncaught: ${e && e.stack || e}`);
  console.log(`node openai sdk: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
