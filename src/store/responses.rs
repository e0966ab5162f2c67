//! Stored responses, for Responses clients that keep state on the server (`store`, the API's
//! default): each stored response keeps its own input items (item references already resolved),
//! its output items and the final Response object, by response id and by item id. A response's
//! conversation is its chain: the previous response's conversation, then its own input and output.
//!
//! Conversation text is user data: it is kept here and nowhere else (never logged). Rows older
//! than the retention period, and the oldest beyond a size cap, are pruned.

use rusqlite::{params, OptionalExtension};
use serde_json::Value;

use super::{Store, StoreError};

/// One response to store.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub id: String,
    pub created_at: u64,
    pub model: String,
    pub previous_response_id: Option<String>,
    /// The final Response object, as the client got it.
    pub response: Value,
    /// Its own input items (each with an `id`), not the chain's.
    pub input: Vec<Value>,
    pub output: Vec<Value>,
}

/// How deep a chain of `previous_response_id`s may go.
pub const MAX_CHAIN: usize = 10_000;

impl Store {
    /// Stores `r` (replacing a response of the same id) in one transaction.
    pub fn save_response(&mut self, r: &StoredResponse) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = |err| super::sqlite(&path, err);
        let response = r.response.to_string();
        let items: Vec<(&str, usize, &Value, String)> = r
            .input
            .iter()
            .enumerate()
            .map(|(i, v)| ("input", i, v, v.to_string()))
            .chain(
                r.output
                    .iter()
                    .enumerate()
                    .map(|(i, v)| ("output", i, v, v.to_string())),
            )
            .collect();
        let size = response.len() + items.iter().map(|i| i.3.len()).sum::<usize>();
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute(
            "DELETE FROM response_items WHERE response_id = ?1",
            params![r.id],
        )
        .map_err(e)?;
        tx.execute(
            "INSERT OR REPLACE INTO responses (id, created_at, model, previous_response_id, response, size) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![r.id, r.created_at as i64, r.model, r.previous_response_id, response, size as i64],
        )
        .map_err(e)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO response_items (response_id, kind, seq, item_id, item) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(e)?;
            for (kind, seq, v, text) in &items {
                stmt.execute(params![r.id, kind, *seq as i64, v["id"].as_str(), text])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// The stored Response object of `id`.
    pub fn response(&self, id: &str) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT response FROM responses WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    fn items(&self, id: &str, kind: &str) -> Result<Vec<Value>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT item FROM response_items WHERE response_id = ?1 AND kind = ?2 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id, kind], |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for t in rows {
            let t = t.map_err(|e| self.err(e))?;
            if let Ok(v) = serde_json::from_str(&t) {
                out.push(v);
            }
        }
        Ok(out)
    }

    /// The conversation up to and including response `id`: its chain's input and output items
    /// in order; `Err(missing)` names the first response of the chain that is not stored (`id`
    /// itself, or one deleted or pruned before it).
    pub fn conversation(&self, id: &str) -> Result<Result<Vec<Value>, String>, StoreError> {
        let mut chain = Vec::new();
        let mut next = Some(id.to_string());
        while let Some(cur) = next {
            if chain.len() >= MAX_CHAIN {
                break;
            }
            let prev: Option<Option<String>> = self
                .conn
                .query_row(
                    "SELECT previous_response_id FROM responses WHERE id = ?1",
                    params![cur],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            let Some(prev) = prev else {
                return Ok(Err(cur));
            };
            chain.push(cur);
            next = prev;
        }
        let mut items = Vec::new();
        for id in chain.iter().rev() {
            items.extend(self.items(id, "input")?);
            items.extend(self.items(id, "output")?);
        }
        Ok(Ok(items))
    }

    /// A stored item (input or output of any stored response) by its id.
    pub fn item(&self, item_id: &str) -> Result<Option<Value>, StoreError> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT item FROM response_items WHERE item_id = ?1 ORDER BY rowid DESC LIMIT 1",
                params![item_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// A response's own input items; `None` when it is not stored.
    pub fn input_items(&self, id: &str) -> Result<Option<Vec<Value>>, StoreError> {
        if self.response(id)?.is_none() {
            return Ok(None);
        }
        self.items(id, "input").map(Some)
    }

    /// Deletes response `id` and its items; false when it was not stored.
    pub fn delete_response(&mut self, id: &str) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let e = |err| super::sqlite(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute(
            "DELETE FROM response_items WHERE response_id = ?1",
            params![id],
        )
        .map_err(e)?;
        let n = tx
            .execute("DELETE FROM responses WHERE id = ?1", params![id])
            .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(n > 0)
    }

    /// Deletes responses created before `retention_days` before `now_secs`, then the oldest
    /// until the rest fit in `max_bytes`. Returns how many went.
    pub fn prune_responses(
        &mut self,
        retention_days: u32,
        max_bytes: u64,
        now_secs: u64,
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let e = |err| super::sqlite(&path, err);
        let cutoff = now_secs.saturating_sub(u64::from(retention_days) * 86_400) as i64;
        let tx = self.conn.transaction().map_err(e)?;
        let mut gone = tx
            .execute(
                "DELETE FROM responses WHERE created_at < ?1",
                params![cutoff],
            )
            .map_err(e)?;
        let total: i64 = tx
            .query_row("SELECT COALESCE(SUM(size), 0) FROM responses", [], |r| {
                r.get(0)
            })
            .map_err(e)?;
        if total as u64 > max_bytes {
            // The newest ones that fit stay.
            gone += tx
                .execute(
                    "DELETE FROM responses WHERE id NOT IN (SELECT id FROM (SELECT id, \
                     SUM(size) OVER (ORDER BY created_at DESC, rowid DESC) AS running FROM responses) \
                     WHERE running <= ?1)",
                    params![max_bytes as i64],
                )
                .map_err(e)?;
        }
        tx.execute(
            "DELETE FROM response_items WHERE response_id NOT IN (SELECT id FROM responses)",
            [],
        )
        .map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(gone)
    }

    /// Deletes every stored response; returns how many.
    pub fn clear_responses(&mut self) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let e = |err| super::sqlite(&path, err);
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute("DELETE FROM response_items", []).map_err(e)?;
        let n = tx.execute("DELETE FROM responses", []).map_err(e)?;
        tx.commit().map_err(e)?;
        Ok(n)
    }

    /// How many responses are stored, and their size in bytes.
    pub fn responses_size(&self) -> Result<(u64, u64), StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM responses",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(id: &str, prev: Option<&str>, created_at: u64, text: &str) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            created_at,
            model: "m".into(),
            previous_response_id: prev.map(str::to_string),
            response: json!({"id": id, "object": "response", "status": "completed"}),
            input: vec![
                json!({"type": "message", "id": format!("msg_in_{id}"), "role": "user", "content": [{"type": "input_text", "text": text}]}),
            ],
            output: vec![
                json!({"type": "message", "id": format!("msg_out_{id}"), "role": "assistant", "content": [{"type": "output_text", "text": format!("re: {text}")}]}),
            ],
        }
    }

    #[test]
    fn chains_items_deletes_and_prunes() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("r.db")).unwrap();
        s.save_response(&stored("resp_1", None, 100, "one"))
            .unwrap();
        s.save_response(&stored("resp_2", Some("resp_1"), 200, "two"))
            .unwrap();
        let conv = s.conversation("resp_2").unwrap().unwrap();
        assert_eq!(s.conversation("resp_9").unwrap(), Err("resp_9".to_string()));
        let ids: Vec<&str> = conv.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(
            ids,
            [
                "msg_in_resp_1",
                "msg_out_resp_1",
                "msg_in_resp_2",
                "msg_out_resp_2"
            ]
        );
        assert_eq!(
            s.item("msg_out_resp_1").unwrap().unwrap()["content"][0]["text"],
            "re: one"
        );
        assert_eq!(
            s.input_items("resp_2").unwrap().unwrap().len(),
            1,
            "own input only"
        );
        assert!(s.delete_response("resp_1").unwrap());
        assert!(!s.delete_response("resp_1").unwrap());
        assert_eq!(
            s.conversation("resp_2").unwrap(),
            Err("resp_1".to_string()),
            "a broken chain names its missing link"
        );
        assert_eq!(s.item("msg_in_resp_1").unwrap(), None);
        // Retention, then the size cap keeps the newest.
        s.save_response(&stored("resp_3", None, 300, "three"))
            .unwrap();
        s.save_response(&stored("resp_4", None, 400, "four"))
            .unwrap();
        let (n, bytes) = s.responses_size().unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            s.prune_responses(30, u64::MAX, 250 + 30 * 86_400).unwrap(),
            1
        );
        assert!(s.response("resp_2").unwrap().is_none());
        assert_eq!(s.prune_responses(30, bytes / 3, 400).unwrap(), 1);
        assert!(s.response("resp_4").unwrap().is_some() && s.response("resp_3").unwrap().is_none());
        assert_eq!(s.clear_responses().unwrap(), 1);
        assert_eq!(s.responses_size().unwrap(), (0, 0));
    }
}
