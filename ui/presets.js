// Where well-known providers live: each preset fills the form's provider, base URL, API and key
// name; the user types the model id (suggested from the provider's own model list) and the key.
export const PRESETS = [
  { id: "anthropic", label: "Anthropic (Claude)", provider: "anthropic", base_url: "https://api.anthropic.com", key_name: "ANTHROPIC_API_KEY", example: "claude-sonnet-4-5" },
  { id: "openai", label: "OpenAI", provider: "openai", base_url: "https://api.openai.com/v1", wire_api: "responses", key_name: "OPENAI_API_KEY", example: "gpt-5.1" },
  { id: "deepseek", label: "DeepSeek (chat completions)", provider: "openai", base_url: "https://api.deepseek.com", key_name: "DEEPSEEK_API_KEY", example: "deepseek-chat" },
  { id: "deepseek-anthropic", label: "DeepSeek (Anthropic-compatible)", provider: "anthropic", base_url: "https://api.deepseek.com/anthropic", key_name: "DEEPSEEK_API_KEY", example: "deepseek-chat" },
  { id: "gemini", label: "Google Gemini", provider: "generic-chat-completion-api", base_url: "https://generativelanguage.googleapis.com/v1beta/openai", key_name: "GEMINI_API_KEY", example: "gemini-2.5-pro" },
  { id: "openrouter", label: "OpenRouter", provider: "generic-chat-completion-api", base_url: "https://openrouter.ai/api/v1", key_name: "OPENROUTER_API_KEY", example: "moonshotai/kimi-k2" },
  { id: "zai", label: "Z.ai (GLM)", provider: "generic-chat-completion-api", base_url: "https://api.z.ai/api/paas/v4", key_name: "ZAI_API_KEY", example: "glm-4.6" },
  { id: "moonshot", label: "Moonshot (Kimi)", provider: "generic-chat-completion-api", base_url: "https://api.moonshot.ai/v1", key_name: "MOONSHOT_API_KEY", example: "kimi-k2-0905-preview" },
  { id: "xai", label: "xAI (Grok)", provider: "generic-chat-completion-api", base_url: "https://api.x.ai/v1", key_name: "XAI_API_KEY", example: "grok-code-fast-1" },
  { id: "groq", label: "Groq", provider: "generic-chat-completion-api", base_url: "https://api.groq.com/openai/v1", key_name: "GROQ_API_KEY", example: "moonshotai/kimi-k2-instruct" },
  { id: "mistral", label: "Mistral", provider: "generic-chat-completion-api", base_url: "https://api.mistral.ai/v1", key_name: "MISTRAL_API_KEY", example: "devstral-medium-latest" },
  { id: "ollama", label: "Ollama (this machine)", provider: "ollama", base_url: "http://127.0.0.1:11434/v1", key_name: "", example: "qwen2.5-coder:14b" },
  { id: "lmstudio", label: "LM Studio (this machine)", provider: "generic-chat-completion-api", base_url: "http://127.0.0.1:1234/v1", key_name: "", example: "qwen/qwen3-coder-30b" },
  { id: "custom", label: "Custom", provider: "generic-chat-completion-api", base_url: "", key_name: "", example: "model-id" },
];
