//! What tokens cost: per-model prices in USD per million tokens, from the settings (`inputPrice`,
//! `cachedInputPrice`, `outputPrice`) or, field by field where the settings say nothing, from a
//! bundled table of well-known models. A cost is computed only when every price it needs is known:
//! it is never guessed.

/// Prices in USD per million tokens. `None`: not known.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    pub input: Option<f64>,
    pub cached_input: Option<f64>,
    pub output: Option<f64>,
}

impl Prices {
    /// `self`, with each unknown field taken from `fallback`.
    pub fn or(self, fallback: Prices) -> Prices {
        Prices {
            input: self.input.or(fallback.input),
            cached_input: self.cached_input.or(fallback.cached_input),
            output: self.output.or(fallback.output),
        }
    }

    /// `((input − cached) × input + cached × cached_input + output × output) / 10⁶`, when every
    /// price needed is known (the cached price only matters when something was cached).
    /// `input` counts all input tokens, cached ones included; reasoning is part of `output`.
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> Option<f64> {
        let fresh = input.saturating_sub(cached) as f64 * self.input?;
        let cached_cost = match cached {
            0 => 0.0,
            n => n as f64 * self.cached_input?,
        };
        Some((fresh + cached_cost + output as f64 * self.output?) / 1_000_000.0)
    }
}

/// When the bundled table was read off the vendors' price pages.
pub const TABLE_DATE: &str = "2025-11-15";

/// The vendors' pages the bundled table comes from.
pub const TABLE_SOURCES: &[&str] = &[
    "https://www.anthropic.com/pricing#api",
    "https://openai.com/api/pricing/",
    "https://api-docs.deepseek.com/quick_start/pricing",
    "https://ai.google.dev/gemini-api/docs/pricing",
    "https://platform.moonshot.ai/docs/pricing/chat",
    "https://docs.z.ai/guides/overview/pricing",
    "https://docs.x.ai/docs/models",
];

/// (model id, input, cached input, output), USD per million tokens, standard tier, the shortest
/// context tier where prices depend on the prompt's length. Names are matched after
/// [`normalise`]; a dated or `-preview` variant of a listed id has its price.
const TABLE: &[(&str, f64, f64, f64)] = &[
    // Anthropic (cached = cache reads).
    ("claude-opus-4-5", 5.0, 0.50, 25.0),
    ("claude-opus-4-1", 15.0, 1.50, 75.0),
    ("claude-opus-4", 15.0, 1.50, 75.0),
    ("claude-sonnet-4-5", 3.0, 0.30, 15.0),
    ("claude-sonnet-4", 3.0, 0.30, 15.0),
    ("claude-3-7-sonnet", 3.0, 0.30, 15.0),
    ("claude-haiku-4-5", 1.0, 0.10, 5.0),
    ("claude-3-5-haiku", 0.80, 0.08, 4.0),
    // OpenAI.
    ("gpt-5", 1.25, 0.125, 10.0),
    ("gpt-5-codex", 1.25, 0.125, 10.0),
    ("gpt-5-1", 1.25, 0.125, 10.0),
    ("gpt-5-1-codex", 1.25, 0.125, 10.0),
    ("gpt-5-mini", 0.25, 0.025, 2.0),
    ("gpt-5-nano", 0.05, 0.005, 0.40),
    ("gpt-4-1", 2.0, 0.50, 8.0),
    ("gpt-4-1-mini", 0.40, 0.10, 1.60),
    ("gpt-4o", 2.50, 1.25, 10.0),
    ("o3", 2.0, 0.50, 8.0),
    ("o4-mini", 1.10, 0.275, 4.40),
    // DeepSeek (V3.2: cache hit / miss).
    ("deepseek-chat", 0.28, 0.028, 0.42),
    ("deepseek-reasoner", 0.28, 0.028, 0.42),
    // Google (prompts up to 200k tokens).
    ("gemini-2-5-pro", 1.25, 0.31, 10.0),
    ("gemini-2-5-flash", 0.30, 0.075, 2.50),
    // Moonshot, Z.ai, xAI.
    ("kimi-k2", 0.60, 0.15, 2.50),
    ("glm-4-6", 0.60, 0.11, 2.20),
    ("glm-4-5", 0.60, 0.11, 2.20),
    ("glm-4-5-air", 0.20, 0.03, 1.10),
    ("grok-4", 3.0, 0.75, 15.0),
    ("grok-code-fast-1", 0.20, 0.02, 1.50),
];

/// A model id in the table's spelling: lower case, the part after a router's `vendor/` prefix,
/// dots as dashes (`anthropic/claude-sonnet-4.5` → `claude-sonnet-4-5`).
pub fn normalise(model: &str) -> String {
    let last = model.rsplit('/').next().unwrap_or(model);
    last.trim().to_ascii_lowercase().replace(['.', '_'], "-")
}

/// The bundled prices of `model`, if it is in the table: the exact id, or a listed id followed by
/// a date or version number (`claude-sonnet-4-5-20250929`, `kimi-k2-0905-preview`). Anything
/// else (`gpt-5-pro`, `o3-mini`) has no bundled price: a near name is not the same model.
pub fn bundled(model: &str) -> Option<Prices> {
    let name = normalise(model);
    TABLE
        .iter()
        .filter(|(id, ..)| {
            name.strip_prefix(id)
                .is_some_and(|rest| rest.is_empty() || is_version_suffix(rest))
        })
        .max_by_key(|(id, ..)| id.len())
        .map(|&(_, input, cached, output)| Prices {
            input: Some(input),
            cached_input: Some(cached),
            output: Some(output),
        })
}

/// `-20250929`, `-2025-08-07`, `-0905-preview`, `-latest`; not `-6` or `-mini`.
fn is_version_suffix(rest: &str) -> bool {
    let rest = rest
        .strip_suffix("-preview")
        .or_else(|| rest.strip_suffix("-latest"))
        .unwrap_or(rest);
    if rest.is_empty() {
        return true;
    }
    let Some(digits) = rest.strip_prefix('-') else {
        return false;
    };
    // A date or a build number has at least four digits first: `-6` would be another model.
    let first = digits.split('-').next().unwrap_or_default();
    first.len() >= 4 && digits.chars().all(|c| c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly_or_with_a_date_never_by_resemblance() {
        let sonnet = bundled("claude-sonnet-4-5").unwrap();
        assert_eq!(bundled("claude-sonnet-4-5-20250929"), Some(sonnet));
        assert_eq!(bundled("anthropic/claude-sonnet-4.5"), Some(sonnet));
        assert_eq!(bundled("gpt-5-mini-2025-08-07").unwrap().input, Some(0.25));
        assert_eq!(bundled("gpt-5.1").unwrap().output, Some(10.0));
        assert_eq!(bundled("kimi-k2-0905-preview").unwrap().input, Some(0.60));
        assert_eq!(bundled("GLM-4.6").unwrap().output, Some(2.20));
        for unknown in [
            "gpt-5-pro",
            "o3-mini",
            "gpt-5.2",
            "claude-opus-4-6",
            "claude-sonnet-4-5-thinking",
            "llama3.2",
            "",
        ] {
            assert_eq!(bundled(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn cost_needs_every_price_it_uses() {
        let p = Prices {
            input: Some(3.0),
            cached_input: Some(0.3),
            output: Some(15.0),
        };
        // 1M input of which 400k cached, 100k output: 0.6 × 3 + 0.4 × 0.3 + 0.1 × 15.
        let c = p.cost(1_000_000, 400_000, 100_000).unwrap();
        assert!((c - (1.8 + 0.12 + 1.5)).abs() < 1e-9, "{c}");
        let no_cached = Prices {
            cached_input: None,
            ..p
        };
        assert_eq!(no_cached.cost(1000, 0, 10), p.cost(1000, 0, 10));
        assert_eq!(
            no_cached.cost(1000, 1, 10),
            None,
            "cached tokens need a price"
        );
        assert_eq!(Prices::default().cost(0, 0, 0), None);
        let settings = Prices {
            output: Some(20.0),
            ..Prices::default()
        };
        assert_eq!(
            settings.or(p),
            Prices {
                output: Some(20.0),
                ..p
            },
            "settings override field by field"
        );
    }
}
