"""The demo company: a simulated B2B SaaS that calls OpenAI and Anthropic for its customers.

`llmeter demo` (`command.py`) generates the company's files with `simulator.generate_demo`,
serves the provider view through the fake Admin APIs of `fake_apis/` on 127.0.0.1 and runs the
nightly job against them. The generated folder is a contract between the simulator, the fake
APIs and the tests of the marts:

- `call_logs/YYYY-MM-DD.ndjson`: the tagged calls that completed on that UTC day, one call log
  record (schema version 1, docs/input-formats.md) per line, sorted by completion time. A
  handful of records that completed in the last minute of a day open the next day's file
  (late-arriving records). Untagged background jobs never appear here.
- `customers/customers.csv`, `customers/subscriptions.csv`: docs/input-formats.md.
- `invoices/invoices.csv`: one invoice per provider and complete calendar month of the period;
  the usage subtotal is the month's billed cost rounded to cents.
- `provider/openai_usage.ndjson`: daily rows per project, API key, model and batch flag
  (`endpoint` `completions`), and web search rows (`endpoint` `web_search_calls`). Long-context
  tokens are not separated.
- `provider/openai_costs.ndjson`: daily rows per project, API key and line item with
  `amount_usd` as an exact decimal string. Line items are `<model>, input`,
  `<model>, cached input`, `<model>, cache writes`, `<model>, output`, with the suffix
  `, long context` for requests above the model's long-context threshold and the prefix
  `batch | ` for batch usage, and `web search tool calls`.
- `provider/anthropic_usage.ndjson`: daily rows per API key, workspace (null for the default
  workspace), model, service tier (`standard`, `batch`) and context window (`0-200k`,
  `200k-1M`) in the usage report's shape.
- `provider/anthropic_costs.ndjson`: daily rows per workspace and description with
  `amount_cents`, a decimal string in cents rounded to 6 decimals (the billed amount). The
  descriptions are unique per model, token type, service tier and context window
  ("Claude Sonnet 4.5 Usage - Input Tokens", "Claude Haiku 4.5 Batch Usage - Output Tokens",
  "... - Input Tokens, Cache Read, Long Context", "Web Search Usage").
- `provider/openai_projects.json`, `provider/openai_api_keys.json` (each key object carries
  an extra `project_id`), `provider/anthropic_workspaces.json`,
  `provider/anthropic_api_keys.json`: the list APIs' objects.
- `ground_truth/customer_daily_costs.csv`: per customer, UTC day, provider and model, the
  tagged calls' token sums and `list_cost_usd`, each call priced with genai-prices.
  `ground_truth/untagged_daily_costs.csv`: the same for untagged calls, without customer.
- `ground_truth/provider_usage_daily.csv`, `ground_truth/provider_costs_daily.csv`: the
  provider view at the grain of `int_provider_usage_daily` and `int_provider_costs_daily`
  (docs/architecture.md); rows of quantity 0 are left out.
- `ground_truth/events.json`: the injected events (a runaway loop, a customer whose usage
  stops, the price changes in the period, a customer that turns unprofitable).
- `manifest.json`: the options, the period and the counts.
- `.llmeter-demo`: an empty marker. A new generation clears the folders above only in a
  folder that has it.

This package imports nothing at import time, so that importing `llmeter.demo.fake_apis` stays
light.
"""
