//! Splits `<think>…</think>` blocks out of streamed text.
//!
//! Some models (DeepSeek R1 and Qwen through Ollama or vLLM) put their thinking inline in `content`.
//! On the streaming path, which is the path Codex uses, it becomes reasoning rather than leaking
//! into the answer. Tags may be split across chunks, so a possible tag prefix is held back.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// A piece of streamed content, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Thinking(String),
}

#[derive(Debug, Default)]
pub struct ThinkSplitter {
    inside: bool,
    held: String,
}

impl ThinkSplitter {
    /// Adds content; returns the pieces that are certain.
    pub fn push(&mut self, chunk: &str) -> Vec<Piece> {
        let mut text = std::mem::take(&mut self.held);
        text.push_str(chunk);
        let mut out = Vec::new();
        loop {
            let tag = if self.inside { CLOSE } else { OPEN };
            if let Some(pos) = text.find(tag) {
                self.emit(&text[..pos], &mut out);
                text = text[pos + tag.len()..].to_string();
                self.inside = !self.inside;
                continue;
            }
            // Hold back a suffix that could be the start of the tag.
            let keep = (1..tag.len())
                .rev()
                .find(|&n| {
                    text.len() >= n
                        && text.is_char_boundary(text.len() - n)
                        && tag.starts_with(&text[text.len() - n..])
                })
                .unwrap_or(0);
            let cut = text.len() - keep;
            self.emit(&text[..cut], &mut out);
            self.held = text[cut..].to_string();
            return out;
        }
    }

    /// Ends the stream: whatever was held back is released.
    pub fn finish(&mut self) -> Vec<Piece> {
        let mut out = Vec::new();
        let held = std::mem::take(&mut self.held);
        self.emit(&held, &mut out);
        out
    }

    fn emit(&self, s: &str, out: &mut Vec<Piece>) {
        if s.is_empty() {
            return;
        }
        out.push(if self.inside {
            Piece::Thinking(s.to_string())
        } else {
            Piece::Text(s.to_string())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> (String, String) {
        let mut s = ThinkSplitter::default();
        let mut pieces: Vec<Piece> = chunks.iter().flat_map(|c| s.push(c)).collect();
        pieces.extend(s.finish());
        let mut text = String::new();
        let mut think = String::new();
        for p in pieces {
            match p {
                Piece::Text(t) => text.push_str(&t),
                Piece::Thinking(t) => think.push_str(&t),
            }
        }
        (text, think)
    }

    #[test]
    fn splits_tags_across_any_chunking() {
        let whole = "<think>plan: é step</think>Answer <b>x</b> done";
        for i in 0..whole.len() {
            if !whole.is_char_boundary(i) {
                continue;
            }
            let (a, b) = whole.split_at(i);
            assert_eq!(
                run(&[a, b]),
                ("Answer <b>x</b> done".into(), "plan: é step".into()),
                "split at {i}"
            );
        }
        assert_eq!(
            run(&["a <", "thin", "g"]),
            ("a <thing".into(), String::new())
        );
    }
}
