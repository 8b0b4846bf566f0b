"""What the generated world is made of: models as gateways log them, and team repositories."""

# idx, provider as logged, model, api, caches, writes cache, 1-hour writes, reasons,
# normalised provider, OTel provider name, LiteLLM provider name.
MODELS = [
    (0, "anthropic", "claude-sonnet-4-6", "messages", True, True, True, True, "anthropic", "anthropic", "anthropic"),
    (1, "anthropic", "claude-haiku-4-5", "messages", True, True, True, False, "anthropic", "anthropic", "anthropic"),
    (2, "openai", "gpt-5.4", "responses", True, False, False, True, "openai", "openai", "openai"),
    (3, "openai", "gpt-5.4-mini", "chat.completions", True, False, False, False, "openai", "openai", "openai"),
    (4, "google", "gemini-2.5-pro", "generate_content", True, False, False, True, "google", "gcp.vertex_ai", "vertex_ai"),
    (5, "google", "gemini-2.5-flash", "generate_content", True, False, False, True, "google", "gcp.gemini", "gemini"),
    (6, "zai", "glm-5.2", "chat.completions", True, True, False, True, "zhipu", "z.ai", "zai"),
    (7, "hosted_vllm", "qwen3.8-27b", "chat.completions", True, False, False, True, "self_hosted", "vllm", "hosted_vllm"),
    (8, "moonshot_ai", "kimi-k2.6", "chat.completions", True, False, False, False, "moonshot", "moonshot_ai", "moonshot"),
    (9, "deepseek", "deepseek-v4-flash", "chat.completions", True, False, False, False, "deepseek", "deepseek", "deepseek"),
    # priced by no book: its calls stay unpriced (NULL cost), as the spec wants
    (10, "self_hosted", "internal-experimental-7b", "chat.completions", False, False, False, False, "self_hosted", "vllm", "hosted_vllm"),
]
REPOS = {"payments": "acme/ledger", "search": "acme/search-api", "platform": "acme/platform-infra",
         "ml-infra": "acme/ml-infra", "mobile": "acme/mobile-app"}
