cd /work/main
./build/sys2 sweep --task game24 --split tot -m ../shared/models/stories260K.gguf --value ../shared/models/stories260K.gguf --ctx 512 \
  --limit 20 --threads 2 --seed 1 --param max_step_tokens=24 --param max_depth=4 \
  --searches io,cot,sc:n=8,bon:n=8,beam,tot-bfs:b=1,tot-bfs:b=5,mcts,best-first \
  --scorers value --budgets none,tokens=1500 --dir results/pipeline_stories260k --md --plot results/pipeline_stories260k/accuracy_vs_tokens -q
