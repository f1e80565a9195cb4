/* Every sys2 command, one line each: X(name, function, one-line summary). The function lives in cli/cmd_*.c
 * and has the signature int fn(int argc, char **argv), argv[0] being the command's name. */
#define S2_CLI_COMMANDS(X) \
    X("version", cmd_version, "print the version and the libraries linked") \
    X("train", cmd_train, "train a small Llama model on a task's generated examples (GGUF checkpoints)") \
    X("improve", cmd_improve, "expert iteration: search solves training items, its verified finds fine-tune the models") \
    X("info", cmd_info, "what a GGUF file holds: version, metadata, tensors, parameter count") \
    X("quantize", cmd_quantize, "rewrite a GGUF with its weights quantized as llama-quantize does (q4_k_m, q8_0, ...)") \
    X("generate", cmd_generate, "generate text from a prompt (greedy or sampled)") \
    X("score", cmd_score, "log-probability of a continuation after a prefix") \
    X("logits", cmd_logits, "logits at every input position (JSON)") \
    X("perplexity", cmd_perplexity, "perplexity and bits per byte of a text file") \
    X("convert", cmd_convert, "write a llama2.c checkpoint (or any model) as GGUF") \
    X("init-model", cmd_init_model, "write a random-weight model of a given shape (for benchmarks)") \
    X("bench", cmd_bench, "prefill and decode speed, single stream and forked branches") \
    X("tokenize", cmd_tokenize, "print the token ids of a text (GGUF vocab or llama2.c tok.bin)") \
    X("chat-template", cmd_chat_template, "render a conversation with a model's chat template (as transformers does)") \
    X("tasks", cmd_tasks, "list the tasks with a one-line summary each") \
    X("task", cmd_task, "show a task's items: ids, prompts and reference answers") \
    X("check-task", cmd_check_task, "verify every item's reference (accepted) and wrong answers (rejected)") \
    X("verify", cmd_verify, "verify one answer text for one item: verdict, reward, reason") \
    X("serve", cmd_serve, "serve a model over an OpenAI-compatible HTTP API (completions, chat, log-probs, echo)") \
    X("run", cmd_run, "run a search strategy over a task's items: one JSON line per item, resumable") \
    X("sweep", cmd_sweep, "run a grid of strategies x scorers x budgets into a folder, then report") \
    X("report", cmd_report, "table (text, Markdown, JSON) and accuracy-vs-compute plot of result files") \
    X("view", cmd_view, "one item's search tree (a --trace run) as a self-contained HTML page") \
    X("eval-value", cmd_eval_value, "balanced accuracy of a value model on held-out states (exact oracle labels)") \
    X("eval-policy", cmd_eval_policy, "greedy attempts of a policy on held-out items: valid-step rate, solve rate") \
    X("strategies", cmd_strategies, "list the search strategies and scorers with their parameters and defaults")
